import Foundation

/// Runs a job's rounds without a cluster: each round's steps as processes of the given binary (as
/// many at once as there are cores), or in this process when no binary is given, then the merge, until
/// the subset is stored. The same plan an engine like Ray runs, step for step.
public struct LocalEngine: Sendable {
    /// The quadcat binary steps run as; nil runs them in this process.
    public var binary: URL?
    /// Steps running at once.
    public var parallel: Int

    public init(binary: URL?, parallel: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.binary = binary
        self.parallel = max(1, parallel)
    }

    /// Runs the job to its end and returns the stored subset.
    public func run(_ job: ShardJob, progress: ProgressHandler? = nil) throws -> SubsetInfo {
        while true {
            progress?(ProgressEvent(phase: "round \(job.state.round): steps", completed: 0, total: job.stepCount(round: job.state.round), unit: "steps"))
            try runSteps(job, progress: progress)
            switch try job.merge() {
            case .nextRound: continue
            case .done(let info): return info
            }
        }
    }

    func runSteps(_ job: ShardJob, progress: ProgressHandler?) throws {
        let shards = Array(0..<job.stepCount(round: job.state.round))
        let failures = Failures()
        let next = Counter()
        let workers = min(parallel, shards.count)
        let binary = self.binary
        let jobDirectory = job.directory
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while let shard = next.take(below: shards.count) {
                do {
                    if let binary {
                        try Self.runProcess(binary, ["step", jobDirectory.path, "--shard", "\(shard)"])
                    } else {
                        try ShardJob.open(jobDirectory).runStep(shard: shard)
                    }
                } catch {
                    failures.add(shard, error)
                }
                progress?(ProgressEvent(phase: "round \(job.state.round): steps", completed: next.done(), total: shards.count, unit: "steps"))
            }
        }
        if let (shard, error) = failures.first {
            if let error = error as? CatalogError { throw error }
            throw CatalogError(.io, "the step of shard \(shard) failed: \(error)", remedy: "run `quadcat step \(job.directory.path) --shard \(shard)` to see why")
        }
    }

    static func runProcess(_ binary: URL, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let text = String(decoding: message, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw CatalogError(.io, "`quadcat \(arguments.joined(separator: " "))` failed (status \(process.terminationStatus)): \(text)")
        }
    }

    private final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var next = 0
        private var finished = 0
        func take(below limit: Int) -> Int? {
            lock.lock()
            defer { lock.unlock() }
            guard next < limit else { return nil }
            next += 1
            return next - 1
        }
        func done() -> Int {
            lock.lock()
            defer { lock.unlock() }
            finished += 1
            return finished
        }
    }

    private final class Failures: @unchecked Sendable {
        private let lock = NSLock()
        private var failures: [(Int, Error)] = []
        func add(_ shard: Int, _ error: Error) { lock.lock(); failures.append((shard, error)); lock.unlock() }
        var first: (Int, Error)? { lock.lock(); defer { lock.unlock() }; return failures.min { $0.0 < $1.0 } }
    }
}
