import Foundation
import GRDB
import Selectors

/// Each selector as per-shard steps and merges (docs/ARCHITECTURE.md, "Shard sets"). Steps are pure functions of one shard,
/// the request and the state the previous merge broadcast; merges run on the driver.
///
/// | selector | rounds | steps | merge |
/// | --- | --- | --- | --- |
/// | less, rds | 1 | each shard's top k with scores | global top k (exact) |
/// | random | 1 | each shard's k smallest keys h(seed, row) | the k smallest (exact) |
/// | quad | 1 + 1 per k-means pass + 1 + 1 per fetch | the sample's candidates; its rows' nearest centers; each row's cluster and influence, kept, with counts per cluster; the rows of the slices the bandit pulls | the fit's update; the bandit over the rows fetched so far (exact) |
/// | gtp | 1 per iteration | each shard's top 2k correlations with the broadcast residual | the pursuit step on the candidates' rows (exact) |
/// | spice, dpp | 1 (dpp 2), then 1 per tree level | each shard's greedy picks; then each group's greedy over its children's picks | the greedy over their union (GreeDi) |
///
/// A merge reads at most the job's merge fan-in results: GreeDi over more shards merges as a tree, each
/// inner merge a step (``ShardedGreeDi``).
enum ShardedPlans {
    enum Outcome {
        /// The state of the next round is written; its steps can run.
        case next
        /// The subset, with recipe lines beyond the selector's parameters and inputs.
        case finished(Selection, extraRecipe: [String])
    }

    static func step(_ job: ShardJob, round: Int, shard: Int) throws -> Data {
        switch try job.request.selector {
        case .less, .rds: return try ShardedRanking.scoreStep(job, shard: shard)
        case .random: return try ShardedRanking.keyStep(job, shard: shard)
        case .quad: return try ShardedQuad.step(job, round: round, shard: shard)
        case .gtp: return try ShardedGTP.step(job, round: round, shard: shard)
        case .spice, .dpp: return try ShardedGreeDi.step(job, round: round, shard: shard)
        }
    }

    /// The steps of `round`: one per shard, or per group in a round of GreeDi's tree.
    static func stepCount(_ job: ShardJob, round: Int) throws -> Int {
        switch try job.request.selector {
        case .spice, .dpp: return try ShardedGreeDi.stepCount(job, round: round)
        default: return job.shardCount
        }
    }

    static func merge(_ job: ShardJob, round: Int) throws -> Outcome {
        switch try job.request.selector {
        case .less, .rds: return try ShardedRanking.mergeScores(job)
        case .random: return try ShardedRanking.mergeKeys(job)
        case .quad: return try ShardedQuad.merge(job, round: round)
        case .gtp: return try ShardedGTP.merge(job, round: round)
        case .spice, .dpp: return try ShardedGreeDi.merge(job, round: round)
        }
    }

    /// Sorted keys: Foundation's key order varies between runs, and a rerun step must write the same bytes.
    static func encode<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return try encoder.encode(value)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ data: Data, job: ShardJob, what: String) throws -> T {
        do { return try JSONDecoder().decode(type, from: data) } catch {
            throw CatalogError(.damaged, "job \(job.directory.lastPathComponent): \(what) is unreadable: \(error.localizedDescription)", remedy: "delete the file and run its step again")
        }
    }
}

extension ShardJob {
    /// The selector's inputs as one shard's catalog resolves them (its own rows, the shared target).
    func shardInputs(_ shard: Int) throws -> SelectorInputs {
        let catalog = try shardSet.shard(shard)
        let request = try self.request
        return try catalog.database.read { try SelectorInputs.resolve(request, catalog: catalog, $0) }
    }

    /// The selector's inputs over the whole set (``ShardSet/selectorInputs(_:)``).
    func setInputs() throws -> SelectorInputs { try shardSet.selectorInputs(try request) }

    func offset(_ shard: Int) -> Int { shardSet.manifest.shards[shard].offset }

    /// The prepared selector (name, version, canonical parameters) of the request.
    func prepared() throws -> PreparedSelector {
        let request = try self.request
        return try PreparedSelector.prepare(request.selector, parameters: request.parameters, seed: request.seed)
    }

    /// Stores a finished selection in the head: set-level lineage and recipe, the steps' timings.
    func store(_ selection: Selection, extraRecipe: [String]) throws -> SubsetInfo {
        let request = try self.request
        let prepared = try self.prepared()
        try Catalog.checkSelection(selection, rowCount: shardSet.manifest.rowCount, budget: state.budgetRows, selector: prepared.name)
        let lineage = try shardSet.setLineage(try shardInputs(0).lineage)
        let recipeHash = Catalog.recipeHash(
            selector: prepared.name, version: prepared.version, parametersJSON: prepared.parametersJSON, seed: request.seed,
            budget: state.budgetRows, recordsHash: try shardSet.recordsHash(), lineage: lineage, extra: extraRecipe)
        var selection = selection
        var diagnostics = selection.diagnostics
        diagnostics.counters["shards"] = Double(shardCount)
        diagnostics.counters["rounds"] = Double(state.round)
        diagnostics.counters["resultBytes"] = Double(state.resultBytes)
        diagnostics.counters["broadcastBytes"] = Double(state.broadcastBytes)
        diagnostics.counters["fetchedBytes"] = Double(state.fetchedBytes)
        for (round, seconds) in state.stepSeconds.enumerated() where seconds.contains(where: { $0 > 0 }) {
            diagnostics.series["stepSeconds.round\(round + 1)"] = seconds
        }
        diagnostics.series["mergeSeconds"] = state.mergeSeconds
        let slowest = state.stepSeconds.map { $0.max() ?? 0 }.reduce(0, +)
        diagnostics.notes.append(
            "sharded over \(shardCount) shards on \(state.engine): \(state.round) round\(state.round == 1 ? "" : "s"), steps \(String(format: "%.2f", slowest)) s "
                + "(the slowest shard of each round), merges \(String(format: "%.2f", state.mergeSeconds.reduce(0, +))) s")
        selection.diagnostics = diagnostics
        let targetID = try request.target.flatMap { name in try shardSet.head.database.read { try TargetRow.filter(Column("name") == name).fetchOne($0)?.id } }
        let started = Date(timeIntervalSince1970: state.startedAt)
        return try shardSet.head.storeSubset(
            request, budget: state.budgetRows, selector: (prepared.name, prepared.version, prepared.parametersJSON), selection: selection,
            lineage: lineage, recipeHash: recipeHash, targetID: targetID, started: started)
    }
}
