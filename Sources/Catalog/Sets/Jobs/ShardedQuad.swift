import Foundation
import Selectors

/// Quad over shards, exact (docs/ARCHITECTURE.md, "Shard sets"):
/// - round 1: each shard proposes its rows with the smallest keys for the k-means sample; the merge
///   picks the single catalog's sample, fetches its embeddings (a size that does not grow with the
///   corpus) and starts the fit (``KMeansFit``);
/// - then one round per assignment pass of the fit (k-means|| rounds, Lloyd iterations): each shard
///   assigns the sample rows it owns to the broadcast centers and returns a label and a distance per
///   row; the merge updates the fit, which costs O(sample x dim), not O(sample x k x dim);
/// - the assignment round: each shard assigns and scores every row and returns counts per cluster;
///   then read rounds fetch the slices the bandit pulls (``ShardedQuadBandit``), so the driver holds
///   O(k) counts and the rows the bandit read, never a value per row of the corpus.
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
        if round == sampleRound {
            var file = ArchiveWriter(magic: sampleMagic)
            file.matrix(try shardSample(job, shard: shard, embeddings: inputs.embeddings!))
            return file.data
        }
        if FileManager.default.fileExists(atPath: centersURL(job, round: round).path) {
            return try fitStep(job, round: round, shard: shard, embeddings: inputs.embeddings!)
        }
        if FileManager.default.fileExists(atPath: ShardedQuadBandit.readsURL(job, round: round).path) {
            return try ShardedQuadBandit.readStep(job, round: round, shard: shard, inputs: inputs, parameters: parameters)
        }
        return try ShardedQuadBandit.assignStep(job, shard: shard, inputs: inputs, parameters: parameters)
    }

    static func merge(_ job: ShardJob, round: Int) throws -> ShardedPlans.Outcome {
        let parameters = try parameters(job)
        if round == 1 {
            try chooseSample(job, parameters: parameters)
            return .next
        }
        if round == sampleRound {
            try startFit(job, parameters: parameters)
            return .next
        }
        if FileManager.default.fileExists(atPath: centersURL(job, round: round).path) {
            try continueFit(job, round: round, parameters: parameters)
            return .next
        }
        let (centroids, iterations) = try readCentroids(job)
        if FileManager.default.fileExists(atPath: ShardedQuadBandit.readsURL(job, round: round).path) {
            return try ShardedQuadBandit.mergeRead(job, round: round, centroids: centroids, iterations: iterations, parameters: parameters)
        }
        return try ShardedQuadBandit.mergeAssign(job, round: round, centroids: centroids, iterations: iterations, parameters: parameters)
    }

    // MARK: The fit as rounds

    /// The round whose steps read the sample's embeddings (each shard the rows it owns, kept for the fit
    /// rounds) and send them to the driver: the driver reads no shard itself.
    static let sampleRound = 2

    /// Merge of round 1: the sample of the whole set (the single catalog's rows), broadcast for the
    /// sample round, and the count of usable rows that sets k.
    private static func chooseSample(_ job: ShardJob, parameters: Quad.Parameters) throws {
        let samples = try job.results(round: 1).map { try ShardedPlans.decode(Sample.self, $0, job: job, what: "a sample step's result") }
        let rows = Quad.sampleRows(candidates: samples.flatMap(\.rows), sample: parameters.kmeansSample, seed: parameters.seed)
        guard !rows.isEmpty else { throw SelectorError("no row has a usable embedding: Quad cannot cluster the pool") }
        var rowsFile = ArchiveWriter(magic: sampleRowsMagic)
        rowsFile.ints(rows)
        try ShardJob.writeAtomically(rowsFile.data, to: job.stateFile("sample-rows.bin"))
        job.addBroadcast(rowsFile.data.count)
        var usableFile = ArchiveWriter(magic: usableMagic)
        usableFile.int(samples.reduce(0) { $0 + $1.usable })
        try ShardJob.writeAtomically(usableFile.data, to: job.stateFile("usable-rows.bin"))
    }

    /// Merge of the sample round: the shards' sample rows in shard order (the sample's row order), kept
    /// by the driver; the fit's state and the centers of its first pass.
    private static func startFit(_ job: ShardJob, parameters: Quad.Parameters) throws {
        let rows = try sampleRows(job)
        var parts: [Matrix] = []
        for (shard, result) in try job.results(round: sampleRound).enumerated() {
            let expected = shardSampleRows(rows, job: job, shard: shard).count
            var file = try ArchiveReader(result, magic: sampleMagic, what: "shard \(shard)'s sample rows (round \(sampleRound))")
            let part = try file.matrix()
            guard part.rows == expected, expected == 0 || part.columns > 0 else {
                throw CatalogError(.damaged, "shard \(shard)'s sample rows (round \(sampleRound)) hold \(part.rows) rows, the shard owns \(expected)", remedy: "run its step again")
            }
            parts.append(part)
        }
        let columns = parts.first { $0.rows > 0 }?.columns ?? 0
        guard parts.allSatisfy({ $0.rows == 0 || $0.columns == columns }) else {
            throw CatalogError(.damaged, "the shards' sample rows (round \(sampleRound)) have different dimensions", remedy: "run the round's steps again")
        }
        let data = Matrix(rows: rows.count, columns: columns, values: parts.flatMap(\.values))
        try Quad.checkSample(data)
        var sampleFile = ArchiveWriter(magic: sampleMagic)
        sampleFile.matrix(data)
        try ShardJob.writeAtomically(sampleFile.data, to: job.stateFile("sample.bin"))
        try saveFit(KMeansFit(try kmeans(job, parameters: parameters), data: data), sample: data, job, nextRound: sampleRound + 1)
    }

    /// Merge of a fit round: the shards' labels and distances, in shard order (the sample's row order),
    /// go to the fit; then the next pass's centers, or the centroids once the fit is done.
    private static func continueFit(_ job: ShardJob, round: Int, parameters: Quad.Parameters) throws {
        let data = try readSample(job)
        let rows = try sampleRows(job)
        var fit = try KMeansFit(
            archive: try RowDigests.read(job.stateFile("fit.bin")), configuration: try kmeans(job, parameters: parameters),
            what: job.stateFile("fit.bin").path)
        var labels: [Int] = []
        var distances: [Float] = []
        labels.reserveCapacity(data.rows)
        distances.reserveCapacity(data.rows)
        for (shard, result) in try job.results(round: round).enumerated() {
            let expected = shardSampleRows(rows, job: job, shard: shard).count
            guard result.count == expected * 8 else {
                throw CatalogError(.damaged, "shard \(shard)'s k-means result holds \(result.count / 8) sample rows, the shard owns \(expected)", remedy: "run its step again")
            }
            result.withUnsafeBytes { raw in
                for i in 0..<expected {
                    labels.append(Int(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: Int32.self))))
                    distances.append(Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8 + 4, as: UInt32.self))))
                }
            }
        }
        fit.receive(labels: labels, distances: distances, data: data)
        try saveFit(fit, sample: data, job, nextRound: round + 1)
    }

    /// The fit's state, and what the next round's steps read: the centers of its next pass, or the
    /// final centroids (then the next round assigns every row).
    private static func saveFit(_ fit: KMeansFit, sample: Matrix, _ job: ShardJob, nextRound: Int) throws {
        try ShardJob.writeAtomically(fit.archived(), to: job.stateFile("fit.bin"))
        if let centers = fit.pendingCenters(sample) {
            var file = ArchiveWriter(magic: centersMagic)
            file.matrix(centers)
            try ShardJob.writeAtomically(file.data, to: centersURL(job, round: nextRound))
            job.addBroadcast(file.data.count)
        } else {
            try writeCentroids(fit.centroids, iterations: fit.iterations, job)
        }
    }

    /// A fit round's step: this shard's sample rows against the broadcast centers, a label (Int32) and a
    /// squared distance (Float32) per row, in row order.
    private static func fitStep(_ job: ShardJob, round: Int, shard: Int, embeddings: any VectorSource) throws -> Data {
        let sample = try shardSample(job, shard: shard, embeddings: embeddings)
        let url = centersURL(job, round: round)
        var file = try ArchiveReader(try RowDigests.read(url), magic: centersMagic, what: url.path)
        let centers = try file.matrix()
        guard centers.columns == sample.columns, centers.rows > 0 else {
            throw CatalogError(.damaged, "\(url.path) does not hold centers of dimension \(sample.columns)", remedy: "merge round \(round - 1) again")
        }
        let (labels, distances) = NearestCentroids(centers).assign(sample)
        var data = Data(capacity: labels.count * 8)
        for (label, distance) in zip(labels, distances) {
            withUnsafeBytes(of: Int32(label).littleEndian) { data.append(contentsOf: $0) }
            withUnsafeBytes(of: distance.bitPattern.littleEndian) { data.append(contentsOf: $0) }
        }
        return data
    }

    /// The embeddings of the sample rows `shard` owns, read from the shard once and kept beside the
    /// job for the later fit rounds (a cache: rebuilt when absent).
    private static func shardSample(_ job: ShardJob, shard: Int, embeddings: any VectorSource) throws -> Matrix {
        let cache = job.stateFile("sample-cache").appendingPathComponent("shard-\(shard).bin")
        let local = shardSampleRows(try sampleRows(job), job: job, shard: shard).map { $0 - job.offset(shard) }
        if let data = FileManager.default.contents(atPath: cache.path), var file = try? ArchiveReader(data, magic: sampleMagic, what: cache.path),
            let sample = try? file.matrix(), sample.columns == embeddings.dimension, sample.rows == local.count
        {
            return sample
        }
        let sample = try embeddings.gather(rows: local)
        var file = ArchiveWriter(magic: sampleMagic)
        file.matrix(sample)
        try ShardJob.writeAtomically(file.data, to: cache)
        return sample
    }

    /// The sample's global rows that fall in `shard` (the sample is sorted, the shards in row order).
    private static func shardSampleRows(_ rows: [Int], job: ShardJob, shard: Int) -> ArraySlice<Int> {
        let start = job.offset(shard), end = start + job.shardSet.manifest.shards[shard].rows
        return rows[firstIndex(in: rows, atLeast: start)..<firstIndex(in: rows, atLeast: end)]
    }

    /// The first index of sorted `rows` whose value is at least `value` (binary search).
    private static func firstIndex(in rows: [Int], atLeast value: Int) -> Int {
        var (low, high) = (0, rows.count)
        while low < high {
            let mid = (low + high) / 2
            if rows[mid] < value { low = mid + 1 } else { high = mid }
        }
        return low
    }

    private static func sampleRows(_ job: ShardJob) throws -> [Int] {
        let url = job.stateFile("sample-rows.bin")
        var file = try ArchiveReader(try RowDigests.read(url), magic: sampleRowsMagic, what: url.path)
        return try file.ints()
    }

    private static func readSample(_ job: ShardJob) throws -> Matrix {
        let url = job.stateFile("sample.bin")
        var file = try ArchiveReader(try RowDigests.read(url), magic: sampleMagic, what: url.path)
        return try file.matrix()
    }

    /// The fit's configuration, as round 1 chose it (the cluster count comes from every shard's usable rows).
    private static func kmeans(_ job: ShardJob, parameters: Quad.Parameters) throws -> KMeans {
        let url = job.stateFile("usable-rows.bin")
        var file = try ArchiveReader(try RowDigests.read(url), magic: usableMagic, what: url.path)
        return Quad.kmeans(usableRows: try file.int(), clusters: parameters.clusters, seed: parameters.seed)
    }

    private static func centersURL(_ job: ShardJob, round: Int) -> URL { job.stateFile("centers-round-\(round).bin") }
    private static let sampleRowsMagic = "quadcat-quad-sample-rows-v1"
    private static let sampleMagic = "quadcat-quad-sample-v1"
    private static let centersMagic = "quadcat-quad-centers-v1"
    private static let usableMagic = "quadcat-quad-usable-rows-v1"
    private static let centroidsMagic = "quadcat-quad-centroids-v1"

    /// The centroids the last fit merge broadcasts, with the Lloyd iterations the fit ran.
    static func writeCentroids(_ centroids: Matrix, iterations: Int, _ job: ShardJob) throws {
        var file = ArchiveWriter(magic: centroidsMagic)
        file.int(iterations)
        file.matrix(centroids)
        try ShardJob.writeAtomically(file.data, to: job.stateFile("centroids.bin"))
        job.addBroadcast(file.data.count)
    }

    static func readCentroids(_ job: ShardJob) throws -> (centroids: Matrix, iterations: Int) {
        let url = job.stateFile("centroids.bin")
        var file = try ArchiveReader(try RowDigests.read(url), magic: centroidsMagic, what: url.path)
        let iterations = try file.int()
        return (try file.matrix(), iterations)
    }
}
