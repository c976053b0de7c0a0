import Foundation
import Selectors

/// The request of a sharded selection, as stored in its job (a `SelectRequest` in Codable form).
public struct ShardJobRequest: Codable, Sendable, Equatable {
    public var target: String?
    public var selector: SelectorKind
    public var budget: String
    public var name: String
    public var parameters: [String: String]
    public var seed: UInt64
    public var gradientColumn: String
    public var embeddingColumn: String
    public var checkpoints: [Int]?

    public init(_ request: SelectRequest) {
        target = request.target
        selector = request.selector
        budget = request.budget.description
        name = request.name
        parameters = request.parameters
        seed = request.seed
        gradientColumn = request.gradientColumn
        embeddingColumn = request.embeddingColumn
        checkpoints = request.checkpoints
    }

    func selectRequest(corpus: String) throws -> SelectRequest {
        var request = SelectRequest(corpus: corpus, target: target, selector: selector, budget: try Budget(parsing: budget), name: name)
        request.parameters = parameters
        request.seed = seed
        request.gradientColumn = gradientColumn
        request.embeddingColumn = embeddingColumn
        request.checkpoints = checkpoints
        return request
    }
}

/// What a job has done so far: its round, the time and bytes each step and merge took.
public struct ShardJobState: Codable, Sendable {
    public var request: ShardJobRequest
    /// The budget in rows (of the whole set).
    public var budgetRows: Int
    /// The round whose steps run next (1-based); the last merge sets `subset`.
    public var round = 1
    /// The stored subset ("name@version") once the job is done.
    public var subset: String?
    /// The engine that ran the steps, for the lineage ("ray", "local", "job array").
    public var engine: String
    /// The most step results one merge reads (GreeDi's tree of merges; nil: ``ShardJob/defaultMergeFanIn``).
    public var mergeFanIn: Int?
    public var createdAt: String
    /// When the job was planned (seconds since 1970): a subset's time counts from here.
    public var startedAt = Date().timeIntervalSince1970
    /// Seconds of each step, per round then per shard (0 until the step has run).
    public var stepSeconds: [[Double]] = []
    public var mergeSeconds: [Double] = []
    /// Bytes of step results read by the merges, state files written for the next round, and stored
    /// rows the merges fetched from the shards.
    public var resultBytes = 0
    public var broadcastBytes = 0
    public var fetchedBytes = 0
}

/// A sharded selection in progress: `SET/jobs/ID/` with `job.json` (``ShardJobState``), the steps'
/// result files (`round-R/shard-I.result`, written beside and renamed, so a result file is complete or
/// absent) and the state the merges broadcast to the next round's steps.
///
/// Every step is a pure function of one shard, the job's request and the broadcast state: running it
/// twice (a retried task, a killed worker) writes the same file again. Merges run on the driver.
public final class ShardJob: @unchecked Sendable {
    public let shardSet: ShardSet
    public let directory: URL
    public private(set) var state: ShardJobState

    var stateURL: URL { directory.appendingPathComponent("job.json") }

    private init(set: ShardSet, directory: URL, state: ShardJobState) {
        self.shardSet = set
        self.directory = directory
        self.state = state
    }

    /// The fan-in of GreeDi's merges when a job names none: up to 8 shards merge flat, as one merge.
    public static let defaultMergeFanIn = 8

    /// A new job for `request` over `set` (its budget resolved against the whole set). `mergeFanIn`: the
    /// most step results one merge of SPICE or the DPP reads; more shards than that merge as a tree.
    public static func create(set: ShardSet, request: SelectRequest, engine: String, mergeFanIn: Int? = nil) throws -> ShardJob {
        if let mergeFanIn, mergeFanIn < 2 {
            throw CatalogError(.invalidRequest, "a merge fan-in of \(mergeFanIn) merges nothing", remedy: "give 2 or more")
        }
        guard Catalog.isValidSubsetName(request.name) else {
            throw CatalogError(.invalidRequest, "subset name '\(request.name)' must be letters, digits, '.', '_' or '-' (no '@')")
        }
        guard !set.manifest.shards.isEmpty else {
            throw CatalogError(.invalidRequest, "the shard set \(set.root.path) has no shards", remedy: "add them with `quadcat set add \(set.root.path) SHARD.quadcat...`")
        }
        // Parameters are checked up front, so a typo fails here and not in a hundred steps.
        _ = try PreparedSelector.prepare(request.selector, parameters: request.parameters, seed: request.seed)
        if request.selector == .spice, request.parameters["mode"] == "pool" {
            throw CatalogError(.invalidRequest, "spice's pool mode windows a single catalog's rows", remedy: "select over a shard set with mode=global (GreeDi) or stochastic")
        }
        if !request.query.isEmpty || request.dedup != nil || request.budget.isShareOfCandidates {
            throw CatalogError(
                .invalidRequest, "a shard set selects over all of its rows: --where, --within, --exclude, --exclude-ids, --dedup and -of-candidates budgets work on a single catalog only",
                remedy: "select over the whole set, then narrow the result on the head (combine, mix), or run the query on one catalog")
        }
        let id = "\(request.name)-\(String(UInt64.random(in: 0..<(1 << 40)), radix: 16))"
        let directory = set.jobsDirectory.appendingPathComponent(id)
        do { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw CatalogError(.io, "cannot create \(directory.path): \(error.localizedDescription)")
        }
        let budget = request.budget.rows(of: set.manifest.rowCount)
        var state = ShardJobState(request: ShardJobRequest(request), budgetRows: budget, engine: engine, createdAt: Catalog.timestamp())
        state.mergeFanIn = mergeFanIn
        state.stepSeconds = [[Double](repeating: 0, count: set.manifest.shards.count)]
        let job = ShardJob(set: set, directory: directory, state: state)
        try job.save()
        return job
    }

    /// Opens a job directory (`SET/jobs/ID`).
    public static func open(_ directory: URL) throws -> ShardJob {
        let url = directory.appendingPathComponent("job.json")
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw CatalogError(.notFound, "\(directory.path) is not a quadcat job (no job.json)", remedy: "make one with `quadcat set plan SET ...`")
        }
        let state: ShardJobState
        do { state = try JSONDecoder().decode(ShardJobState.self, from: data) } catch {
            throw CatalogError(.damaged, "\(url.path) is not a readable job state: \(error.localizedDescription)")
        }
        let set = try ShardSet.open(at: directory.deletingLastPathComponent().deletingLastPathComponent())
        return ShardJob(set: set, directory: directory, state: state)
    }

    var request: SelectRequest {
        get throws { try state.request.selectRequest(corpus: shardSet.manifest.corpus) }
    }
    public var shardCount: Int { shardSet.manifest.shards.count }
    public var mergeFanIn: Int { state.mergeFanIn ?? Self.defaultMergeFanIn }

    /// The steps of `round`: one per shard, but in a round of GreeDi's tree of merges one per group of
    /// the previous round's results.
    public func stepCount(round: Int) -> Int { (try? ShardedPlans.stepCount(self, round: round)) ?? shardCount }

    func save() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try Self.writeAtomically(try encoder.encode(state), to: stateURL)
    }

    /// The result file of `shard`'s step in `round`.
    func resultURL(round: Int, shard: Int) -> URL {
        directory.appendingPathComponent("round-\(round)").appendingPathComponent("shard-\(shard).result")
    }

    /// A state file the merge of round `round - 1` wrote for the steps of `round`.
    func stateFile(_ name: String) -> URL { directory.appendingPathComponent(name) }

    /// Writes `data` beside `url`, flushes it and renames it into place: readers see all of it or nothing.
    static func writeAtomically(_ data: Data, to url: URL) throws {
        let fm = FileManager.default
        do {
            try fm.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(getpid()).partial")
            try data.write(to: temporary)
            let handle = try FileHandle(forWritingTo: temporary)
            try handle.synchronize()
            try handle.close()
            if rename(temporary.path, url.path) != 0 { throw CocoaError(.fileWriteUnknown) }
        } catch let error as CatalogError {
            throw error
        } catch {
            throw CatalogError(.io, "cannot write \(url.path): \(error.localizedDescription)")
        }
    }

    /// The command lines (arguments after the binary) of the current round's steps, one per shard (in a
    /// merge round of a tree, `--shard I` names the group I).
    public func stepArguments() -> [[String]] {
        (0..<stepCount(round: state.round)).map { ["step", directory.path, "--shard", "\($0)"] }
    }

    public var mergeArguments: [String] { ["merge", directory.path] }

    // MARK: Running

    /// Runs this round's step for `shard` and writes its result. Idempotent: a rerun writes the same file.
    public func runStep(shard: Int) throws {
        guard state.subset == nil else { return }
        let round = state.round
        guard shard >= 0, shard < stepCount(round: round) else {
            throw CatalogError(.invalidRequest, "shard \(shard) is outside the \(stepCount(round: round)) steps of round \(round) (the set has \(shardCount) shards)")
        }
        let started = Date()
        let result = try ShardedPlans.step(self, round: round, shard: shard)
        var data = Data("quadcat-step-v1 \(Date().timeIntervalSince(started))\n".utf8)
        data.append(result)
        try Self.writeAtomically(data, to: resultURL(round: round, shard: shard))
    }

    /// The results of every step of `round`, in step order, with the seconds each took. Refuses a
    /// missing result (naming the shard): a merge never reads a partial round.
    func results(round: Int) throws -> [Data] {
        let count = stepCount(round: round)
        var out: [Data] = []
        for step in 0..<count {
            let (seconds, data, bytes) = try result(round: round, step: step)
            if state.stepSeconds.count < round { state.stepSeconds.append([Double](repeating: 0, count: count)) }
            if state.stepSeconds[round - 1].count != count { state.stepSeconds[round - 1] = [Double](repeating: 0, count: count) }
            state.stepSeconds[round - 1][step] = seconds
            state.resultBytes += bytes
            out.append(data)
        }
        return out
    }

    /// One step's result (without its header), the seconds it took and its size on disk.
    func result(round: Int, step: Int) throws -> (seconds: Double, data: Data, bytes: Int) {
        let url = resultURL(round: round, shard: step)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            let what = stepCount(round: round) == shardCount && step < shardCount ? "shard \(step) (\(shardSet.manifest.shards[step].path))" : "merge group \(step)"
            throw CatalogError(.invalidRequest, "round \(round) has no result from \(what)", remedy: "run `quadcat step \(directory.path) --shard \(step)` and merge again")
        }
        guard let newline = data.firstIndex(of: 0x0A), let header = String(data: data[..<newline], encoding: .utf8),
            header.hasPrefix("quadcat-step-v1 "), let seconds = Double(header.dropFirst("quadcat-step-v1 ".count))
        else {
            throw CatalogError(.damaged, "\(url.path) is not a step result", remedy: "delete it and run the step again")
        }
        return (seconds, Data(data[data.index(after: newline)...]), data.count)
    }

    /// What a merge did: the job moves to the next round, or it is done.
    public enum MergeOutcome: Sendable {
        case nextRound(Int)
        case done(SubsetInfo)
    }

    /// Merges the current round: advances to the next round (the state for its steps written first) or
    /// stores the subset in the head catalog. Merging a finished job returns its subset.
    public func merge() throws -> MergeOutcome {
        if let subset = state.subset { return .done(try shardSet.head.subset(subset)) }
        let started = Date()
        let outcome = try ShardedPlans.merge(self, round: state.round)
        state.mergeSeconds.append(Date().timeIntervalSince(started))
        switch outcome {
        case .next:
            state.round += 1
            state.stepSeconds.append([Double](repeating: 0, count: stepCount(round: state.round)))
            try save()
            return .nextRound(state.round)
        case .finished(let selection, let extraRecipe):
            let info = try store(selection, extraRecipe: extraRecipe)
            state.subset = info.reference
            try save()
            return .done(info)
        }
    }

    func addBroadcast(_ bytes: Int) { state.broadcastBytes += bytes }
    func addFetched(_ bytes: Int) { state.fetchedBytes += bytes }
}
