import Foundation
import Selectors

/// GTP over shards, exact (docs/ARCHITECTURE.md, "Shard sets"): each iteration, every shard returns its best 2k rows for the
/// broadcast residual (the global best 2k lie in their union); the driver runs the pursuit step
/// (``GTP/Pursuit``) on those candidates, reading only their stored rows from the shards, and
/// broadcasts the new residual until the pursuit stops.
enum ShardedGTP {
    struct Correlations: Codable {
        var candidates: [GTP.Pursuit.Candidate]
        var eligibleRows: Int
    }

    static func parameters(_ job: ShardJob) throws -> GTP.Parameters {
        let request = try job.request
        var bag = ParameterBag(request.parameters)
        return try GTP.Parameters(&bag, seed: request.seed)
    }

    static func step(_ job: ShardJob, round: Int, shard: Int) throws -> Data {
        let layout = try GTP.TrajectoryLayout(try job.shardInputs(shard).checkpoints)
        // Round 1 starts from R = Y, which every shard computes alike from the shared target.
        let pursuit = round == 1 ? try GTP.Pursuit(layout: layout, budget: job.state.budgetRows, parameters: try parameters(job)) : try read(job)
        guard let request = pursuit.nextCorrelation else { return try ShardedPlans.encode(Correlations(candidates: [], eligibleRows: 0)) }
        let (candidates, eligible) = try GTP.correlationStep(
            layout: layout, residual: pursuit.residual, groups: pursuit.groups, count: request.count, offset: job.offset(shard))
        return try ShardedPlans.encode(Correlations(candidates: candidates, eligibleRows: eligible))
    }

    static func merge(_ job: ShardJob, round: Int) throws -> ShardedPlans.Outcome {
        let layout = try GTP.TrajectoryLayout(try job.setInputs().checkpoints)
        var pursuit = round == 1 ? try GTP.Pursuit(layout: layout, budget: job.state.budgetRows, parameters: try parameters(job)) : try read(job)
        let parts = try job.results(round: round).map { try ShardedPlans.decode(Correlations.self, $0, job: job, what: "a correlation step's result") }
        guard let request = pursuit.nextCorrelation else { return .finished(pursuit.finish(), extraRecipe: []) }
        let omega = parts.flatMap(\.candidates)
            .sorted { $0.score > $1.score || ($0.score == $1.score && $0.row < $1.row) }
            .prefix(request.count)
        var cache = GTP.Pursuit.Cache()
        try pursuit.advance(Array(omega), eligibleRows: parts.reduce(0) { $0 + $1.eligibleRows }, layout: layout, cache: &cache)
        job.addFetched(pursuit.candidateRowsRead * layout.checkpoints.reduce(0) { $0 + $1.pool.dimension } * 2)
        guard pursuit.nextCorrelation != nil else { return .finished(pursuit.finish(), extraRecipe: []) }
        let data = try ShardedPlans.encode(pursuit)
        try ShardJob.writeAtomically(data, to: job.stateFile("pursuit.json"))
        job.addBroadcast(data.count)
        return .next
    }

    static func read(_ job: ShardJob) throws -> GTP.Pursuit {
        try ShardedPlans.decode(GTP.Pursuit.self, try RowDigests.read(job.stateFile("pursuit.json")), job: job, what: "the pursuit's state")
    }
}
