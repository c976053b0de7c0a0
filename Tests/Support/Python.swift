import Foundation

/// Running python3 from tests (numpy cross-checks, the converter tool, mosaicml-streaming).
public enum Python {
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// Runs `script` with `arguments` (as `sys.argv[1:]`); status 127 when python cannot start.
    public static func run(_ script: String, _ arguments: [String] = [], executable: String = "python3") -> Result {
        guard let result = Subprocess.run(URL(fileURLWithPath: "/usr/bin/env"), [executable, "-c", script] + arguments) else {
            return Result(status: 127, stdout: "", stderr: "cannot run \(executable)")
        }
        return Result(status: result.status, stdout: result.stdout, stderr: result.stderr)
    }

    /// True when `import module` works.
    public static func has(_ module: String, executable: String = "python3") -> Bool {
        run("import \(module)", executable: executable).status == 0
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// The standard output of a script that must succeed.
    public static func output(_ script: String, _ arguments: [String] = []) throws -> String {
        let result = run(script, arguments)
        guard result.status == 0 else { throw Failure(description: "python3 failed (\(result.status)): \(result.stderr.suffix(2000))") }
        return result.stdout
    }
}

extension TemporaryDirectory {
    /// Writes `bytes` to a file in the directory and returns its URL.
    public func file(_ name: String, _ bytes: [UInt8]) throws -> URL {
        let target = file(name)
        try Data(bytes).write(to: target)
        return target
    }
}
