import Foundation
import Selectors

/// SPICE and the DPP over shards: two rounds of greedy, as GreeDi (Mirzasoleiman et al. 2013; Barbosa
/// et al. 2015: (1 - 1/e) / 2 of the optimum in expectation with random partitions). Each shard runs the
/// greedy for the whole budget on its rows; the driver runs it again over the union of their picks,
/// reading only those rows from the shards. The result depends on the split (it is not the single
/// catalog's), so the recipe records the shards' sizes; on realbench it keeps at least 98% of the
/// single catalog's objective (the equivalence tests check it).
///
/// More shards than the job's merge fan-in F merge as a tree, so that no merge grows with the number of
/// shards: each round after the shards' greedy has one step per group of F results of the round
/// before, running the greedy over the union of the group's picks, until F or fewer remain for the
/// driver's merge. Each level keeps the budget, so every merge reads at most F x budget rows.
///
/// The DPP needs the whole corpus's LESS score moments for q = exp(beta z): its first round collects
/// them (and each shard's LESS top k, which fills the budget if the greedy stops in the span).
enum ShardedGreeDi {
    struct Picks: Codable {
        var rows: [Int]
        /// Stored bytes a tree merge step read from the shards (nil for a shard's own greedy).
        var fetched: Int?
    }

    /// A shard's LESS score moments (count, mean, sum of squared deviations) and its LESS top k.
    struct Moments: Codable {
        var count: Int
        var mean: Double
        var squares: Double
        var top: [Int]
        var topScores: [Float]
    }

    /// What the DPP's first merge broadcasts.
    struct Standardization: Codable {
        var mean: Double
        var deviation: Double
        /// The global LESS top k (the fill).
        var lessRanking: [Int]
    }

    /// The round of the shards' own greedy (the DPP's first round collects the score moments).
    static func leafRound(_ job: ShardJob) throws -> Int { try job.request.selector == .spice ? 1 : 2 }

    /// One step per shard up to the leaf round, then one per group of `mergeFanIn` results of the round before.
    static func stepCount(_ job: ShardJob, round: Int) throws -> Int {
        let leaf = try leafRound(job)
        var count = job.shardCount
        if round <= leaf { return count }
        for _ in leaf..<round { count = (count + job.mergeFanIn - 1) / job.mergeFanIn }
        return count
    }

    /// Tree levels above the shards' greedy, the driver's merge included (1: a flat merge).
    static func levels(_ job: ShardJob) -> Int {
        var count = job.shardCount, levels = 1
        while count > job.mergeFanIn { count = (count + job.mergeFanIn - 1) / job.mergeFanIn; levels += 1 }
        return levels
    }

    static func step(_ job: ShardJob, round: Int, shard: Int) throws -> Data {
        if round > (try leafRound(job)) { return try groupStep(job, round: round, group: shard) }
        let request = try job.request
        let inputs = try job.shardInputs(shard)
        var bag = ParameterBag(request.parameters)
        let offset = job.offset(shard), budget = job.state.budgetRows
        if request.selector == .spice {
            let parameters = try SPICE.Parameters(&bag, seed: request.seed)
            let selection = try SPICE.select(gradients: inputs.checkpoints[0].pool, budget: budget, parameters: parameters)
            return try ShardedPlans.encode(Picks(rows: selection.rows.map { $0 + offset }))
        }
        if round == 1 {
            let scores = try LESS.scores(checkpoints: inputs.checkpoints, targetSubtasks: inputs.targetSubtasks).values
            let finite = scores.filter { !$0.isNaN }.map(Double.init)
            let (mean, deviation) = DPP.moments(finite)
            let top = topK(scores, k: budget)
            return try ShardedPlans.encode(Moments(
                count: finite.count, mean: mean, squares: deviation * deviation * Double(finite.count),
                top: top.map { $0 + offset }, topScores: top.map { scores[$0] }))
        }
        var parameters = try DPP.Parameters(&bag, seed: request.seed)
        parameters.fill = false
        let standardization = try readStandardization(job)
        let selection = try DPP.select(
            checkpoints: inputs.checkpoints, targetSubtasks: inputs.targetSubtasks, budget: budget, parameters: parameters,
            standardization: (standardization.mean, standardization.deviation))
        return try ShardedPlans.encode(Picks(rows: selection.rows.map { $0 + offset }))
    }

    static func merge(_ job: ShardJob, round: Int) throws -> ShardedPlans.Outcome {
        let request = try job.request
        var bag = ParameterBag(request.parameters)
        let budget = job.state.budgetRows
        if request.selector == .dpp && round == 1 {
            let parts = try job.results(round: 1).map { try ShardedPlans.decode(Moments.self, $0, job: job, what: "a moments step's result") }
            // Chan et al.'s pairwise combination of counts, means and squared deviations.
            var count = 0, mean = 0.0, squares = 0.0
            for part in parts where part.count > 0 {
                let total = count + part.count
                let delta = part.mean - mean
                mean += delta * Double(part.count) / Double(total)
                squares += part.squares + delta * delta * Double(count) * Double(part.count) / Double(total)
                count = total
            }
            var ranked: [(row: Int, score: Float)] = []
            for part in parts { ranked += zip(part.top, part.topScores).map { ($0, $1) } }
            ranked.sort { $0.score > $1.score || ($0.score == $1.score && $0.row < $1.row) }
            let state = Standardization(
                mean: mean, deviation: count > 0 ? (squares / Double(count)).squareRoot() : 0, lessRanking: ranked.prefix(budget).map(\.row))
            let data = try ShardedPlans.encode(state)
            try ShardJob.writeAtomically(data, to: job.stateFile("standardization.json"))
            job.addBroadcast(data.count)
            return .next
        }
        let parts = try job.results(round: round).map { try ShardedPlans.decode(Picks.self, $0, job: job, what: "a greedy step's result") }
        for part in parts { job.addFetched(part.fetched ?? 0) }
        if parts.count > job.mergeFanIn { return .next }  // the next round's steps merge groups of these
        let union = Array(Set(parts.flatMap(\.rows))).sorted()
        var (selection, fetched) = try greedy(job, over: union)
        job.addFetched(fetched)
        let tree = levels(job) > 1 ? ", a tree of \(levels(job)) merge levels of fan-in \(job.mergeFanIn)" : ""
        if request.selector == .dpp {
            let fill = try DPP.Parameters(&bag, seed: request.seed).fill
            if fill && selection.members.count < budget {
                let standardization = try readStandardization(job)
                let chosen = Set(selection.members.map(\.row))
                let filled = standardization.lessRanking.filter { !chosen.contains($0) }.prefix(budget - selection.members.count)
                selection.members += filled.map { Member(row: $0, score: 0) }
                selection.diagnostics.counters["filledFromLESS"] = Double(filled.count)
                selection.diagnostics.notes.append("the other \(filled.count) rows come from the LESS ranking (fill=false stops instead)")
            }
            selection.diagnostics.notes.append("GreeDi: each shard's DPP greedy, then the greedy over the union of their \(union.count) picks\(tree)")
        } else {
            selection.diagnostics.notes.append("GreeDi: each shard's greedy, then the greedy over the union of their \(union.count) picks\(tree)")
        }
        if levels(job) > 1 { selection.diagnostics.counters["mergeLevels"] = Double(levels(job)) }
        return .finished(selection, extraRecipe: extraRecipe(job))
    }

    /// A step of the tree: the greedy over the union of the picks of the previous round's results
    /// `group * fanIn ..< (group + 1) * fanIn`, their rows read from the shards that hold them.
    static func groupStep(_ job: ShardJob, round: Int, group: Int) throws -> Data {
        let children = group * job.mergeFanIn..<min((group + 1) * job.mergeFanIn, try stepCount(job, round: round - 1))
        var union = Set<Int>()
        for child in children {
            union.formUnion(try ShardedPlans.decode(Picks.self, try job.result(round: round - 1, step: child).data, job: job, what: "a greedy step's result").rows)
        }
        let (selection, fetched) = try greedy(job, over: union.sorted())
        return try ShardedPlans.encode(Picks(rows: selection.members.map(\.row), fetched: fetched))
    }

    /// The selector's greedy (no fill) over the global rows `union`: members in global rows, and the
    /// stored bytes read for them.
    static func greedy(_ job: ShardJob, over union: [Int]) throws -> (Selection, fetched: Int) {
        let request = try job.request
        var bag = ParameterBag(request.parameters)
        let budget = job.state.budgetRows
        let (inputs, local) = try inputs(job, holding: union)
        var selection: Selection
        var fetched = 0
        if request.selector == .spice {
            let parameters = try SPICE.Parameters(&bag, seed: request.seed)
            let pool = RowSubsetVectors(inputs.checkpoints[0].pool, rows: local)
            fetched = union.count * pool.dimension * 2
            selection = try SPICE.select(gradients: pool, budget: budget, parameters: parameters)
        } else {
            var parameters = try DPP.Parameters(&bag, seed: request.seed)
            parameters.fill = false
            let standardization = try readStandardization(job)
            let checkpoints = inputs.checkpoints.map { checkpoint in
                var subset = checkpoint
                subset.pool = RowSubsetVectors(checkpoint.pool, rows: local)
                return subset
            }
            fetched = union.count * checkpoints.reduce(0) { $0 + $1.pool.dimension } * 2
            selection = try DPP.select(
                checkpoints: checkpoints, targetSubtasks: inputs.targetSubtasks, budget: budget, parameters: parameters,
                standardization: (standardization.mean, standardization.deviation))
        }
        selection.members = selection.members.map { Member(row: union[$0.row], score: $0.score, weight: $0.weight) }
        return (selection, fetched)
    }

    /// The selector's inputs over only the shards that hold `rows` (global, sorted) and each row's
    /// position in their concatenation: a merge opens the shards its candidates come from, not the set.
    static func inputs(_ job: ShardJob, holding rows: [Int]) throws -> (SelectorInputs, local: [Int]) {
        let shards = job.shardSet.manifest.shards
        var owners: [Int] = [], local: [Int] = [], base = 0, shard = 0
        for row in rows {
            while row >= shards[shard].offset + shards[shard].rows { shard += 1 }
            if owners.last != shard {
                if let last = owners.last { base += shards[last].rows }
                owners.append(shard)
            }
            local.append(base + row - shards[shard].offset)
        }
        guard !owners.isEmpty else { return (try job.setInputs(), []) }
        let parts = try owners.map { try job.shardInputs($0) }
        var inputs = parts[0]
        inputs.rowCount = owners.reduce(0) { $0 + shards[$1].rows }
        inputs.checkpoints = try inputs.checkpoints.indices.map { c in
            var checkpoint = inputs.checkpoints[c]
            checkpoint.pool = try ConcatenatedVectors(parts.map { $0.checkpoints[c].pool as! StoredVectors })
            return checkpoint
        }
        return (inputs, local)
    }

    /// GreeDi's picks depend on the split: the recipe names the shards' sizes.
    static func extraRecipe(_ job: ShardJob) -> [String] {
        ["greedi shards " + job.shardSet.manifest.shards.map { "\($0.rows)" }.joined(separator: ",")]
            + (levels(job) > 1 ? ["greedi merge fan-in \(job.mergeFanIn)"] : [])
    }

    static func readStandardization(_ job: ShardJob) throws -> Standardization {
        try ShardedPlans.decode(Standardization.self, try RowDigests.read(job.stateFile("standardization.json")), job: job, what: "the LESS score moments")
    }
}
