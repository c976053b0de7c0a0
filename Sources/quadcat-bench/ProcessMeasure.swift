import Foundation

/// Runs a command as a subprocess and samples its memory while it runs: peak anonymous memory
/// (RssAnon: heap and arrays, the program's own) apart from file-backed memory (RssFile: mapped
/// chunk files, which belong to the page cache), as /proc/PID/status reports them.
struct MeasuredRun {
    var seconds: Double
    var peakAnonymousBytes: Int
    var peakFileBytes: Int
    var status: Int32
    var standardOutput: Data
    var standardError: Data
    /// The run was stopped (SIGTERM) at its time limit.
    var timedOut = false

    static func run(_ executable: URL, _ arguments: [String], interval: Double = 0.05, timeLimit: Double? = nil) throws -> MeasuredRun {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        // Drain both pipes while the process runs, so that a chatty child never blocks on a full pipe.
        let collected = Collected()
        out.fileHandleForReading.readabilityHandler = { collected.append(out: $0.availableData) }
        err.fileHandleForReading.readabilityHandler = { collected.append(err: $0.availableData) }
        let start = DispatchTime.now().uptimeNanoseconds
        try process.run()
        var peakAnon = 0, peakFile = 0
        var timedOut = false
        while process.isRunning {
            let (anon, file) = Self.sample(process.processIdentifier)
            peakAnon = max(peakAnon, anon)
            peakFile = max(peakFile, file)
            if let timeLimit, !timedOut, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 > timeLimit {
                timedOut = true
                process.terminate()
            }
            Thread.sleep(forTimeInterval: interval)
        }
        process.waitUntilExit()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        out.fileHandleForReading.readabilityHandler = nil
        err.fileHandleForReading.readabilityHandler = nil
        collected.append(out: out.fileHandleForReading.readDataToEndOfFile())
        collected.append(err: err.fileHandleForReading.readDataToEndOfFile())
        return MeasuredRun(
            seconds: seconds, peakAnonymousBytes: peakAnon, peakFileBytes: peakFile, status: process.terminationStatus,
            standardOutput: collected.out, standardError: collected.err, timedOut: timedOut)
    }

    /// (RssAnon, RssFile) in bytes, or zeros once the process is gone.
    static func sample(_ pid: Int32) -> (Int, Int) {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return (0, 0) }
        var anon = 0, file = 0
        for line in text.split(separator: "\n") {
            if line.hasPrefix("RssAnon:") { anon = kilobytes(line) * 1024 }
            if line.hasPrefix("RssFile:") { file = kilobytes(line) * 1024 }
        }
        return (anon, file)
    }

    private static func kilobytes(_ line: Substring) -> Int {
        Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "0") ?? 0
    }

    private final class Collected: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var out = Data()
        private(set) var err = Data()
        func append(out data: Data) { lock.lock(); out.append(data); lock.unlock() }
        func append(err data: Data) { lock.lock(); err.append(data); lock.unlock() }
    }
}
