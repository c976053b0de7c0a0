import Foundation
import Selectors

/// Quad's bandit over shards with a driver that does not grow with the corpus (issue 23,
/// docs/ARCHITECTURE.md "Shard sets"):
/// - the assignment round: each shard assigns its rows to the centroids and scores them, keeps the
///   result beside the job (a cache of 8 bytes a row, rebuilt when absent) and returns only counts:
///   rows and scored rows per cluster, the rows no cluster or gradient covers, and its candidates
///   for the tau sample (a size that does not grow with the corpus);
/// - the driver runs the bandit (``Quad/select(rows:summary:centroids:budget:parameters:guard:)``) over
///   the rows it knows. When a pull reaches rows it does not know, the run stops and the next round
///   fetches, for each cluster of that bandit round, the rows whose read-order key lies below a
///   threshold (about the next two slices) and, where a slice will borrow, the cluster's scored rows;
/// - the run starts again with more rows known and goes further; it is a function of the rows it
///   reads, so it ends with the single catalog's members, in order.
/// The driver holds k counts and the slices the bandit read; the shards send about twice the rows read.
enum ShardedQuadBandit {
    /// Counts over the whole set, the sums of every shard's.
    struct Summary {
        var rowCounts: [Int]
        var scoredCounts: [Int]
        var pool: Quad.PoolSummary
    }

    /// What the driver knows of each cluster's rows: every row whose key is below `below` (all rows once
    /// `complete`), every scored row once `scoredComplete`, and the fetched rows with their influences.
    struct Known {
        var below: [UInt64]
        var complete: [Bool]
        var scoredComplete: [Bool]
        var fetched: [Int: (cluster: Int, influence: Float)] = [:]
    }

    // MARK: Steps

    /// The assignment round's step: every row's cluster and influence into the shard's cache, and the
    /// shard's counts as the result.
    static func assignStep(_ job: ShardJob, shard: Int, inputs: SelectorInputs, parameters: Quad.Parameters) throws -> Data {
        let centroids = try ShardedQuad.readCentroids(job).centroids
        let (clusters, influence) = try rowsOfShard(job, shard: shard, inputs: inputs) { centroids }
        let offset = job.offset(shard)
        var rowCounts = [Int](repeating: 0, count: centroids.rows)
        var scoredCounts = rowCounts
        var unscored = 0, withoutCluster = 0
        var maximum = -Double.infinity
        var scoredRows: [Int] = []
        for (row, cluster) in clusters.enumerated() {
            let value = influence[row]
            if value.isNaN { unscored += 1 } else {
                scoredRows.append(offset + row)
                maximum = max(maximum, Double(value))
            }
            guard cluster >= 0 else {
                withoutCluster += 1
                continue
            }
            rowCounts[Int(cluster)] += 1
            if !value.isNaN { scoredCounts[Int(cluster)] += 1 }
        }
        let tauRows = Quad.tauSampleRows(scoredRows, size: parameters.tauSample, seed: parameters.seed)
        var out = ArchiveWriter(magic: summaryMagic)
        out.ints(rowCounts)
        out.ints(scoredCounts)
        out.int(unscored)
        out.int(withoutCluster)
        out.double(maximum)
        out.int(scoredRows.count)
        out.ints(tauRows)
        out.floats(tauRows.map { influence[$0 - offset] })
        return out.data
    }

    /// A read round's step: the shard's rows that the broadcast requests name, as (global row, cluster,
    /// influence).
    static func readStep(_ job: ShardJob, round: Int, shard: Int, inputs: SelectorInputs, parameters: Quad.Parameters) throws -> Data {
        let requests = try readRequests(job, round: round)
        var byCluster: [Int: [Request]] = [:]
        for request in requests { byCluster[request.cluster, default: []].append(request) }
        let (clusters, influence) = try rowsOfShard(job, shard: shard, inputs: inputs) { try ShardedQuad.readCentroids(job).centroids }
        let offset = job.offset(shard)
        var out = Data()
        for (row, cluster) in clusters.enumerated() where cluster >= 0 {
            guard let wanted = byCluster[Int(cluster)] else { continue }
            let key = Quad.readOrderKey(seed: parameters.seed, row: offset + row)
            let scored = !influence[row].isNaN
            guard wanted.contains(where: { $0.contains(key: key, scored: scored) }) else { continue }
            withUnsafeBytes(of: Int64(offset + row).littleEndian) { out.append(contentsOf: $0) }
            withUnsafeBytes(of: cluster.littleEndian) { out.append(contentsOf: $0) }
            withUnsafeBytes(of: influence[row].bitPattern.littleEndian) { out.append(contentsOf: $0) }
        }
        return out
    }

    /// The shard's clusters and influences, from its cache (written by the assignment round), computed
    /// again when the cache is missing or unreadable (only then are the centroids read).
    private static func rowsOfShard(
        _ job: ShardJob, shard: Int, inputs: SelectorInputs, centroids: () throws -> Matrix
    ) throws -> (clusters: [Int32], influence: [Float]) {
        let cache = job.stateFile("quad-rows").appendingPathComponent("shard-\(shard).bin")
        let rows = job.shardSet.manifest.shards[shard].rows
        if let data = FileManager.default.contents(atPath: cache.path), var file = try? ArchiveReader(data, magic: rowsMagic, what: cache.path),
            let clusters = try? file.int32s(), let influence = try? file.floats(), clusters.count == rows, influence.count == rows
        {
            return (clusters, influence)
        }
        let checkpoint = inputs.checkpoints[0]
        let influence = try Quad.influences(gradients: checkpoint.pool, target: checkpoint.target)
        let clusters = try Quad.assign(inputs.embeddings!, centroids: try centroids()).map { Int32($0) }
        var file = ArchiveWriter(magic: rowsMagic)
        file.int32s(clusters)
        file.floats(influence)
        try ShardJob.writeAtomically(file.data, to: cache)
        return (clusters, influence)
    }

    // MARK: Merges

    /// The assignment round's merge: the shards' counts added up, nothing known yet; then the bandit.
    static func mergeAssign(_ job: ShardJob, round: Int, centroids: Matrix, iterations: Int, parameters: Quad.Parameters) throws -> ShardedPlans.Outcome {
        var rowCounts = [Int](repeating: 0, count: centroids.rows)
        var scoredCounts = rowCounts
        var unscored = 0, withoutCluster = 0, scoredTotal = 0
        var maximum = -Double.infinity
        var tauRows: [Int] = []
        var tauValues: [Int: Float] = [:]
        for (shard, data) in try job.results(round: round).enumerated() {
            let what = "shard \(shard)'s Quad counts (round \(round))"
            var file = try ArchiveReader(data, magic: summaryMagic, what: what)
            let rows = try file.ints(), scored = try file.ints()
            guard rows.count == centroids.rows, scored.count == centroids.rows else {
                throw CatalogError(.damaged, "\(what) has \(rows.count) clusters, the centroids \(centroids.rows)", remedy: "run its step again")
            }
            for c in 0..<centroids.rows {
                rowCounts[c] += rows[c]
                scoredCounts[c] += scored[c]
            }
            unscored += try file.int()
            withoutCluster += try file.int()
            maximum = max(maximum, try file.double())
            scoredTotal += try file.int()
            let candidates = try file.ints(), values = try file.floats()
            guard candidates.count == values.count else { throw CatalogError(.damaged, "\(what) is damaged", remedy: "run its step again") }
            tauRows += candidates
            for (row, value) in zip(candidates, values) { tauValues[row] = value }
        }
        let sample = Quad.tauSampleRows(tauRows, size: parameters.tauSample, seed: parameters.seed)
        let summary = Summary(
            rowCounts: rowCounts, scoredCounts: scoredCounts,
            pool: Quad.PoolSummary(
                unscoredRows: unscored, rowsWithoutCluster: withoutCluster, maximumInfluence: maximum.isFinite ? maximum : 0,
                tauSampleValues: sample.map { Double(tauValues[$0]!) }, scoredRows: scoredTotal))
        let known = Known(below: [UInt64](repeating: 0, count: centroids.rows), complete: rowCounts.map { $0 == 0 }, scoredComplete: scoredCounts.map { $0 == 0 })
        try save(summary, known, job)
        var file = ArchiveWriter(magic: assignRoundMagic)
        file.int(round)
        try ShardJob.writeAtomically(file.data, to: job.stateFile("quad-assign-round.bin"))
        return try runBandit(job, round: round, summary: summary, known: known, centroids: centroids, iterations: iterations, parameters: parameters)
    }

    /// The round in which every row was assigned (the rounds before it, after the sample's two, ran the fit).
    static func assignmentRound(_ job: ShardJob) throws -> Int {
        let url = job.stateFile("quad-assign-round.bin")
        var file = try ArchiveReader(try RowDigests.read(url), magic: assignRoundMagic, what: url.path)
        return try file.int()
    }

    /// A read round's merge: the fetched rows join what the driver knows; then the bandit again.
    static func mergeRead(_ job: ShardJob, round: Int, centroids: Matrix, iterations: Int, parameters: Quad.Parameters) throws -> ShardedPlans.Outcome {
        let (summary, loaded) = try load(job, clusters: centroids.rows)
        var known = loaded
        for (shard, data) in try job.results(round: round).enumerated() {
            guard data.count % 16 == 0 else {
                throw CatalogError(.damaged, "shard \(shard)'s rows for Quad (round \(round)) are truncated", remedy: "run its step again")
            }
            data.withUnsafeBytes { raw in
                for i in 0..<data.count / 16 {
                    let row = Int(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: i * 16, as: Int64.self)))
                    let cluster = Int(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 16 + 8, as: Int32.self)))
                    let value = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 16 + 12, as: UInt32.self)))
                    known.fetched[row] = (cluster, value)
                }
            }
        }
        for request in try readRequests(job, round: round) {
            if request.scoredOnly {
                known.scoredComplete[request.cluster] = true
            } else if request.toEnd {
                known.complete[request.cluster] = true
            } else {
                known.below[request.cluster] = max(known.below[request.cluster], request.to)
            }
        }
        try save(summary, known, job)
        return try runBandit(job, round: round, summary: summary, known: known, centroids: centroids, iterations: iterations, parameters: parameters)
    }

    /// Runs the bandit over the known rows: the subset, or the requests of the next read round.
    private static func runBandit(
        _ job: ShardJob, round: Int, summary: Summary, known: Known, centroids: Matrix, iterations: Int, parameters: Quad.Parameters
    ) throws -> ShardedPlans.Outcome {
        let rows = KnownRows(summary: summary, known: known, seed: parameters.seed)
        do {
            let neighbourhood = try neighbourhood(job, centroids: centroids, radius: parameters.radius)
            var outcome = try Quad.select(
                rows: rows, summary: summary.pool, centroids: centroids, budget: job.state.budgetRows, parameters: parameters,
                neighbourhood: neighbourhood)
            outcome.selection.diagnostics.counters["kmeansIterations"] = Double(iterations)
            outcome.selection.diagnostics.counters["rowsFetched"] = Double(known.fetched.count)
            let assignRound = try assignmentRound(job)
            outcome.selection.diagnostics.counters["kmeansRounds"] = Double(assignRound - ShardedQuad.sampleRound - 1)
            outcome.selection.diagnostics.counters["readRounds"] = Double(round - assignRound)
            // No step runs after this: the shards' caches (8 bytes a row, and the sample's rows) can go. A
            // merge run again reads only the driver's state.
            for cache in ["quad-rows", "sample-cache"] { try? FileManager.default.removeItem(at: job.stateFile(cache)) }
            return .finished(outcome.selection, extraRecipe: [])
        } catch let missing as Quad.RowsMissing {
            let requests = nextRequests(missing, summary: summary, known: known)
            var file = ArchiveWriter(magic: requestsMagic)
            file.ints(requests.map(\.cluster))
            file.words(requests.map(\.from))
            file.words(requests.map(\.to))
            file.ints(requests.map { ($0.toEnd ? 1 : 0) | ($0.scoredOnly ? 2 : 0) })
            try ShardJob.writeAtomically(file.data, to: readsURL(job, round: round + 1))
            job.addBroadcast(file.data.count)
            return .next
        }
    }

    /// The fetches that cover what the run is missing. A cluster's rank request asks for every row whose
    /// key is below a threshold that should hold the wanted ranks with a margin (keys are uniform);
    /// when the rows known so far fell short of an earlier threshold, the new one is at least twice as
    /// far, so every request makes progress and the last one is the whole cluster.
    static func nextRequests(_ missing: Quad.RowsMissing, summary: Summary, known: Known) -> [Request] {
        var requests: [Request] = []
        for (cluster, rank) in missing.ranks.sorted(by: { $0.key < $1.key }) where !known.complete[cluster] {
            let size = Double(summary.rowCounts[cluster])
            let wanted = Double(rank)
            var share = (wanted + 4 * wanted.squareRoot() + 16) / size
            let previous = Double(known.below[cluster]) / 0x1p64
            if previous > 0 { share = max(share, 2 * previous) }
            if share >= 1 {
                requests.append(Request(cluster: cluster, from: known.below[cluster], to: 0, toEnd: true, scoredOnly: false))
            } else {
                let to = UInt64(share * 0x1p64)
                requests.append(Request(cluster: cluster, from: known.below[cluster], to: max(to, known.below[cluster] + 1), toEnd: false, scoredOnly: false))
            }
        }
        for cluster in missing.allScored.sorted() where !known.complete[cluster] && !known.scoredComplete[cluster] {
            requests.append(Request(cluster: cluster, from: 0, to: 0, toEnd: true, scoredOnly: true))
        }
        return requests
    }
}
