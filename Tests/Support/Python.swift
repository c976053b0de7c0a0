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
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [executable, "-c", script] + arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        guard (try? process.run()) != nil else { return Result(status: 127, stdout: "", stderr: "cannot run \(executable)") }
        // Drain both pipes before waiting, so a chatty child cannot block on a full pipe.
        nonisolated(unsafe) var errors = Data()
        let drain = Thread { errors = err.fileHandleForReading.readDataToEndOfFile() }
        drain.start()
        let output = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        while !drain.isFinished { Thread.sleep(forTimeInterval: 0.001) }
        return Result(status: process.terminationStatus, stdout: String(decoding: output, as: UTF8.self), stderr: String(decoding: errors, as: UTF8.self))
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
