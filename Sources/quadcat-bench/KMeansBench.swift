import CKernels
import Foundation
import Selectors
import TestSupport

/// `quadcat-bench kmeans`: Quad's k-means beside faiss (issue 23). Writes (once) a float16 embedding
/// column of `rows` x `dim` (ScalePool's topic-clustered embeddings, as in `quad-scale`) and the hash-keyed
/// sample Quad fits on, then times on this machine: the SGEMM rate, each seeding (greedy k-means++,
/// k-means||) with `iterations` Lloyd iterations on the sample, and one assignment pass over every row
/// read a block at a time from the float16 file. `bench/kmeans_faiss.py` then runs `faiss.Kmeans` with
/// the same k, dims, iterations and sample on the same files and prints both side by side.
///
///     quadcat-bench kmeans [--rows 1000000] [--emb-dim 384] [--clusters K] [--sample 100000] [--iterations 20] [--work DIR]
struct KMeansBench {
    let work: URL
    let rows: Int
    let dimension: Int
    let clusters: Int
    let sample: Int
    let iterations: Int
    let seedings: [(String, KMeans.Seeding)]

    struct Variant: Codable {
        var seeding: String
        var seedSeconds: Double
        var lloydSeconds: Double
        var lloydIterations: Int
        /// Sum over the sample of squared distances to the nearest final centroid.
        var sampleObjective: Double
    }

    struct Results: Codable {
        var rows: Int
        var dimension: Int
        var clusters: Int
        var sample: Int
        var iterations: Int
        var embeddings: String
        var sampleRows: String
        var sgemmGflops: Double
        var sgemmShape: String
        var variants: [Variant]
        /// The assignment pass over every row with the first variant's centroids.
        var assignSeconds: Double
        var assignGflops: Double
        var assignObjective: Double
        var load: String
    }

    func run() throws -> URL {
        let directory = work.appendingPathComponent("kmeans-\(rows)x\(dimension)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let files = ScalePool.Files(directory: directory)
        if !FileManager.default.fileExists(atPath: files.embeddings.path) {
            var configuration = ScalePool.Configuration()
            configuration.rows = rows
            configuration.embeddingDimension = dimension
            let seconds = try Measure.once { try ScalePool(configuration).writeEmbeddings(to: files) }
            report(String(format: "wrote %d x %d float16 embeddings in %.1f s: %@", rows, dimension, seconds, files.embeddings.path))
        }
        let source = try Float16NpySource(url: files.embeddings)
        precondition(source.rowCount == rows && source.dimension == dimension, "\(files.embeddings.path) has another shape: delete it")

        let sgemm = Self.sgemmRate(m: 4096, n: clusters, k: dimension)
        report(String(format: "SGEMM 4096 x %d x %d (OpenBLAS, %d threads): %.1f GFLOP/s   [load %@]", clusters, dimension, BLAS.threadCount, sgemm, Self.load()))

        // Quad's sample: the rows with the smallest keys h(seed, row), in row order.
        let sampleRows = RowKeys.smallest(sample, of: 0..<rows, seed: 0x5eed).sorted()
        let sampleURL = directory.appendingPathComponent("sample-\(sample).txt")
        try Data(sampleRows.map(String.init).joined(separator: "\n").utf8).write(to: sampleURL)
        let data = try source.gather(rows: sampleRows)

        var variants: [Variant] = []
        var firstCentroids: Matrix? = nil
        for (name, seeding) in seedings {
            let kmeans = KMeans(clusters: clusters, seed: 7, maxIterations: iterations, tolerance: 0, seeding: seeding)
            var initial = Matrix(rows: 0, columns: 0)
            let seedSeconds = Measure.once { initial = kmeans.seed(data) }
            var result: KMeans.Result? = nil
            let lloydSeconds = Measure.once { result = kmeans.fit(data, from: initial) }
            let variant = Variant(
                seeding: name, seedSeconds: seedSeconds, lloydSeconds: lloydSeconds, lloydIterations: result!.iterations,
                sampleObjective: result!.inertia)
            report(String(format: "%@: seeding %.1f s, %d Lloyd iterations %.1f s (%.2f s each), sample objective %.6g   [load %@]",
                          name, seedSeconds, variant.lloydIterations, lloydSeconds, lloydSeconds / Double(max(1, variant.lloydIterations)),
                          variant.sampleObjective, Self.load()))
            variants.append(variant)
            if firstCentroids == nil { firstCentroids = result!.centroids }
        }

        var objective = 0.0
        let assignSeconds = try Measure.once {
            let (_, distances) = try KMeans.assign(source, centroids: firstCentroids!)
            objective = distances.reduce(0.0) { $0 + Double($1) }
        }
        let flops = 2.0 * Double(rows) * Double(clusters) * Double(dimension)
        let assignGflops = flops / assignSeconds / 1e9
        report(String(format: "assignment of %d rows to %d centroids (float16 file, a block at a time): %.1f s, %.1f GFLOP/s = %.2f of SGEMM, objective %.6g   [load %@]",
                      rows, clusters, assignSeconds, assignGflops, assignGflops / sgemm, objective, Self.load()))
        let results = Results(
            rows: rows, dimension: dimension, clusters: clusters, sample: sample, iterations: iterations,
            embeddings: files.embeddings.path, sampleRows: sampleURL.path, sgemmGflops: sgemm,
            sgemmShape: "4096x\(clusters)x\(dimension)", variants: variants, assignSeconds: assignSeconds,
            assignGflops: assignGflops, assignObjective: objective, load: Self.load())
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let out = directory.appendingPathComponent("kmeans-results.json")
        try encoder.encode(results).write(to: out)
        return out
    }

    /// GFLOP/s of OpenBLAS's SGEMM on the assignment's shape (best of five).
    static func sgemmRate(m: Int, n: Int, k: Int) -> Double {
        var a = [Float](repeating: 0, count: m * k), b = [Float](repeating: 0, count: n * k)
        var random = SeededRandom(seed: 1)
        for i in a.indices { a[i] = Float(random.nextUnitDouble()) }
        for i in b.indices { b[i] = Float(random.nextUnitDouble()) }
        var c = [Float](repeating: 0, count: m * n)
        let seconds = Measure.best(5) {
            BLAS.gemm(transposeB: true, m: m, n: n, k: k, a: a, lda: k, b: b, ldb: k, c: &c, ldc: n)
        }
        return 2.0 * Double(m) * Double(n) * Double(k) / seconds / 1e9
    }

    static func load() -> String {
        ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?").split(separator: " ").prefix(3).joined(separator: " ")
    }
}

/// A float16 .npy embedding file read a block at a time into Float32, as a stored column is.
struct Float16NpySource: VectorSource {
    let data: Data
    let offset: Int
    let rowCount: Int
    let dimension: Int
    var usableRows: RowMask? { nil }

    init(url: URL) throws {
        data = try Data(contentsOf: url, options: .alwaysMapped)
        let major = data[6]
        let headerLength = major == 1
            ? Int(data[8]) | Int(data[9]) << 8
            : Int(data[8]) | Int(data[9]) << 8 | Int(data[10]) << 16 | Int(data[11]) << 24
        offset = (major == 1 ? 10 : 12) + headerLength
        let header = String(decoding: data[(major == 1 ? 10 : 12)..<offset], as: UTF8.self)
        precondition(header.contains("<f2"), "\(url.path) is not float16")
        let shape = header.split(separator: "(")[1].split(separator: ")")[0].split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        (rowCount, dimension) = (shape[0], shape[1])
    }

    func forEachBlock(_ body: (RowBlock) throws -> Void) throws {
        let blockRows = 16_384
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: blockRows * dimension)
        defer { buffer.deallocate() }
        var first = 0
        while first < rowCount {
            let count = min(blockRows, rowCount - first)
            data.withUnsafeBytes { raw in
                qc_f16_to_f32((raw.baseAddress! + offset + first * dimension * 2).assumingMemoryBound(to: UInt16.self), buffer.baseAddress!, count * dimension)
            }
            try body(RowBlock(firstRow: first, rowCount: count, dimension: dimension, values: UnsafeBufferPointer(rebasing: buffer[0..<count * dimension])))
            first += count
        }
    }

    func gather(rows: [Int]) throws -> Matrix {
        var out = Matrix(rows: rows.count, columns: dimension)
        data.withUnsafeBytes { raw in
            out.values.withUnsafeMutableBufferPointer { dst in
                for (i, row) in rows.enumerated() {
                    qc_f16_to_f32((raw.baseAddress! + offset + row * dimension * 2).assumingMemoryBound(to: UInt16.self), dst.baseAddress! + i * dimension, dimension)
                }
            }
        }
        return out
    }

    func withRowPointers<R>(_ rows: UnsafeBufferPointer<Int>, _ body: (UnsafeBufferPointer<UnsafeRawPointer>, RowFormat) throws -> R) throws -> R {
        fatalError("not used by the k-means bench")
    }
}
