import Foundation
import Selectors

/// Quad over shards, exact (docs/ARCHITECTURE.md, "Shard sets"): round 1, each shard proposes its rows with the smallest keys for
/// the k-means sample and the driver fits the clusters on that sample (the single catalog's sample);
/// round 2, each shard returns every row's cluster and influence (each a function of the row alone),
/// and the bandit runs on the driver.
enum ShardedQuad {
    struct Sample: Codable {
        var rows: [Int]
        var usable: Int
    }

    static func parameters(_ job: ShardJob) throws -> Quad.Parameters {
        let request = try job.request
        var bag = ParameterBag(request.parameters)
        return try Quad.Parameters(&bag, seed: request.seed)
    }

    static func step(_ job: ShardJob, round: Int, shard: Int) throws -> Data {
        let parameters = try parameters(job)
        let inputs = try job.shardInputs(shard)
        if round == 1 {
            let (rows, usable) = Quad.sampleCandidates(
                embeddings: inputs.embeddings!, sample: parameters.kmeansSample, seed: parameters.seed, offset: job.offset(shard))
            return try ShardedPlans.encode(Sample(rows: rows, usable: usable))
        }
        let centroids = try readCentroids(job)
        let checkpoint = inputs.checkpoints[0]
        let influence = try Quad.influences(gradients: checkpoint.pool, target: checkpoint.target)
        let assignments = try Quad.assign(inputs.embeddings!, centroids: centroids)
        // Per row: the cluster (Int32, -1 for none) and the influence (Float32, NaN when unscored).
        var data = Data(capacity: influence.count * 8)
        for (cluster, value) in zip(assignments, influence) {
            withUnsafeBytes(of: Int32(cluster).littleEndian) { data.append(contentsOf: $0) }
            withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) }
        }
        return data
    }

    static func merge(_ job: ShardJob, round: Int) throws -> ShardedPlans.Outcome {
        let parameters = try parameters(job)
        if round == 1 {
            let samples = try job.results(round: 1).map { try ShardedPlans.decode(Sample.self, $0, job: job, what: "a sample step's result") }
            let rows = Quad.sampleRows(candidates: samples.flatMap(\.rows), sample: parameters.kmeansSample, seed: parameters.seed)
            let embeddings = try job.setInputs().embeddings!
            let data = try embeddings.gather(rows: rows)
            job.addFetched(data.values.count * 4)
            let fit = try Quad.fit(sample: data, usableRows: samples.reduce(0) { $0 + $1.usable }, clusters: parameters.clusters, seed: parameters.seed)
            try writeCentroids(fit.centroids, iterations: fit.iterations, job)
            return .next
        }
        var influence: [Float] = []
        var assignments: [Int] = []
        for (shard, data) in try job.results(round: 2).enumerated() {
            guard data.count == job.shardSet.manifest.shards[shard].rows * 8 else {
                throw CatalogError(.damaged, "shard \(shard)'s cluster result holds \(data.count / 8) rows, the shard \(job.shardSet.manifest.shards[shard].rows)", remedy: "run its step again")
            }
            data.withUnsafeBytes { raw in
                for i in 0..<data.count / 8 {
                    assignments.append(Int(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: Int32.self))))
                    influence.append(Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8 + 4, as: UInt32.self))))
                }
            }
        }
        let (centroids, iterations) = try readCentroids(job, withIterations: true)
        var outcome = try Quad.select(influence: influence, assignments: assignments, centroids: centroids, budget: job.state.budgetRows, parameters: parameters)
        outcome.selection.diagnostics.counters["kmeansIterations"] = Double(iterations)
        return .finished(outcome.selection, extraRecipe: [])
    }

    // The centroids the round-1 merge broadcasts: rows, columns, iterations, then Float32 values.
    static func writeCentroids(_ centroids: Matrix, iterations: Int, _ job: ShardJob) throws {
        var data = Data()
        for value in [centroids.rows, centroids.columns, iterations] { withUnsafeBytes(of: Int64(value).littleEndian) { data.append(contentsOf: $0) } }
        centroids.values.withUnsafeBytes { data.append(contentsOf: $0) }
        try ShardJob.writeAtomically(data, to: job.stateFile("centroids.bin"))
        job.addBroadcast(data.count)
    }

    static func readCentroids(_ job: ShardJob) throws -> Matrix { try readCentroids(job, withIterations: true).0 }

    static func readCentroids(_ job: ShardJob, withIterations: Bool) throws -> (Matrix, Int) {
        let url = job.stateFile("centroids.bin")
        let data = try RowDigests.read(url)
        guard data.count >= 24 else { throw CatalogError(.damaged, "\(url.path) is truncated", remedy: "merge round 1 again") }
        let header = (0..<3).map { i in Int(data.withUnsafeBytes { Int64(littleEndian: $0.loadUnaligned(fromByteOffset: i * 8, as: Int64.self)) }) }
        let (rows, columns) = (header[0], header[1])
        guard data.count == 24 + rows * columns * 4 else { throw CatalogError(.damaged, "\(url.path) is truncated", remedy: "merge round 1 again") }
        let values = data.withUnsafeBytes { raw in (0..<rows * columns).map { raw.loadUnaligned(fromByteOffset: 24 + $0 * 4, as: Float.self) } }
        return (Matrix(rows: rows, columns: columns, values: values), header[2])
    }
}
