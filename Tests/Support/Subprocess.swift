import Foundation

/// The built `quadcat` executable, next to the test bundle in the build directory.
public enum QuadcatBinary {
    public static var url: URL {
        let buildDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [buildDirectory, buildDirectory.deletingLastPathComponent()] {
            let binary = candidate.appendingPathComponent("quadcat")
            if FileManager.default.isExecutableFile(atPath: binary.path) { return binary }
        }
        return buildDirectory.appendingPathComponent("quadcat")
    }

    /// The result of one run.
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
        /// True when the process was killed by a signal.
        public var signaled: Bool
    }

    /// Runs `quadcat` with `arguments` and waits for it; `input`, when given, is piped to its standard input.
    @discardableResult
    public static func run(_ arguments: [String], environment: [String: String] = [:], input: Data? = nil) throws -> Result {
        let process = try start(arguments, environment: environment, input: input)
        return finish(process)
    }

    /// Starts `quadcat` without waiting (for the crash tests).
    public static func start(_ arguments: [String], environment: [String: String] = [:], input: Data? = nil) throws -> RunningProcess {
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let stdin = input.map { _ in Pipe() }
        if let stdin { process.standardInput = stdin }
        try process.run()
        if let stdin, let input {
            // A child that stops reading early (an error) must not kill the test process.
            signal(SIGPIPE, SIG_IGN)
            // Written from another thread: the pipe holds 64 KiB, and the child reads while we wait.
            Thread.detachNewThread {
                try? stdin.fileHandleForWriting.write(contentsOf: input)
                try? stdin.fileHandleForWriting.close()
            }
        }
        return RunningProcess(process: process, stdout: out, stderr: err)
    }

    public static func finish(_ running: RunningProcess) -> Result {
        // Drain the pipes before waiting, so a chatty child cannot block on a full pipe.
        let stdout = running.stdout.fileHandleForReading.readDataToEndOfFile()
        let stderr = running.stderr.fileHandleForReading.readDataToEndOfFile()
        running.process.waitUntilExit()
        return Result(
            status: running.process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self),
            signaled: running.process.terminationReason == .uncaughtSignal)
    }
}

/// A started `quadcat` process.
public struct RunningProcess: @unchecked Sendable {
    public let process: Process
    let stdout: Pipe
    let stderr: Pipe

    public func kill() { Foundation.kill(process.processIdentifier, SIGKILL) }
}

/// Runs a program to completion and collects its output (Python scripts, the browser).
public enum Subprocess {
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// Runs `executable` with `arguments`; nil when it cannot start. Both pipes are drained while the
    /// program runs, so a chatty child cannot block on a full pipe.
    public static func run(_ executable: URL, _ arguments: [String]) -> Result? {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        guard (try? process.run()) != nil else { return nil }
        nonisolated(unsafe) var errors = Data()
        let drain = Thread { errors = err.fileHandleForReading.readDataToEndOfFile() }
        drain.start()
        let output = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        while !drain.isFinished { Thread.sleep(forTimeInterval: 0.001) }
        return Result(status: process.terminationStatus, stdout: String(decoding: output, as: UTF8.self), stderr: String(decoding: errors, as: UTF8.self))
    }
}
