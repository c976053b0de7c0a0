import Foundation
import Selectors

/// The one-round selectors: LESS and RDS (each shard's top k by score, then the global top k) and random
/// (each shard's k smallest keys h(seed, row), then the k smallest). Both are exact: a row's score or
/// key does not depend on which shard holds it, and the global top k lies in the union of the shards'.
enum ShardedRanking {
    struct Scored: Codable {
        var rows: [Int]
        var scores: [Float]
        /// Rows the shard could not score (no usable or a zero gradient, or no embedding).
        var unscored: Int
    }

    static func scoreStep(_ job: ShardJob, shard: Int) throws -> Data {
        let request = try job.request
        let inputs = try job.shardInputs(shard)
        var bag = ParameterBag(request.parameters)
        let values: [Float]
        let unscored: Int
        switch request.selector {
        case .less:
            let parameters = try LESS.Parameters(&bag, seed: request.seed)
            let scores = try LESS.scores(checkpoints: inputs.checkpoints, targetSubtasks: inputs.targetSubtasks, parameters: parameters)
            values = scores.values
            unscored = scores.excluded.count
        default:
            values = try RDS.scores(embeddings: inputs.embeddings!, target: inputs.targetEmbeddings!)
            unscored = values.count { $0.isNaN }
        }
        let top = topK(values, k: job.state.budgetRows)
        return try ShardedPlans.encode(Scored(rows: top.map { $0 + job.offset(shard) }, scores: top.map { values[$0] }, unscored: unscored))
    }

    static func mergeScores(_ job: ShardJob) throws -> ShardedPlans.Outcome {
        let parts = try job.results(round: 1).map { try ShardedPlans.decode(Scored.self, $0, job: job, what: "a score step's result") }
        var all: [(row: Int, score: Float)] = []
        for part in parts { all += zip(part.rows, part.scores).map { ($0, $1) } }
        all.sort { $0.score > $1.score || ($0.score == $1.score && $0.row < $1.row) }
        let budget = job.state.budgetRows
        let members = all.prefix(budget).map { Member(row: $0.row, score: Double($0.score)) }
        var diagnostics = Diagnostics()
        let unscored = parts.reduce(0) { $0 + $1.unscored }
        let request = try job.request
        if request.selector == .less {
            let inputs = try job.shardInputs(0)
            diagnostics.counters["excludedRows"] = Double(unscored)
            diagnostics.counters["checkpoints"] = Double(inputs.checkpoints.count)
            diagnostics.counters["subtasks"] = Double(Set(inputs.targetSubtasks ?? [0]).count)
            if unscored > 0 { diagnostics.notes.append("\(unscored) rows have no usable or a zero gradient and were never considered") }
        } else {
            diagnostics.counters["unscoredRows"] = Double(unscored)
            if unscored > 0 { diagnostics.notes.append("\(unscored) rows have no usable, non-zero embedding and were never considered") }
        }
        if members.count < budget {
            diagnostics.notes.append("only \(members.count) rows could be scored; the subset is smaller than the budget of \(budget)")
        }
        return .finished(Selection(members: Array(members), diagnostics: diagnostics), extraRecipe: [])
    }

    struct Keys: Codable { var rows: [Int] }

    static func keyStep(_ job: ShardJob, shard: Int) throws -> Data {
        let offset = job.offset(shard), rows = job.shardSet.manifest.shards[shard].rows
        let request = try job.request
        return try ShardedPlans.encode(Keys(rows: RowKeys.smallest(job.state.budgetRows, of: offset..<offset + rows, seed: request.seed)))
    }

    static func mergeKeys(_ job: ShardJob) throws -> ShardedPlans.Outcome {
        let request = try job.request
        let candidates = try job.results(round: 1).flatMap { try ShardedPlans.decode(Keys.self, $0, job: job, what: "a key step's result").rows }
        let k = min(job.state.budgetRows, job.shardSet.manifest.rowCount)
        let rows = RowKeys.smallest(k, of: candidates, seed: request.seed)
        var diagnostics = Diagnostics()
        diagnostics.counters["eligibleRows"] = Double(job.shardSet.manifest.rowCount)
        let members = rows.enumerated().map { rank, row in Member(row: row, score: Double(k - rank)) }
        return .finished(Selection(members: members, diagnostics: diagnostics), extraRecipe: [])
    }
}
