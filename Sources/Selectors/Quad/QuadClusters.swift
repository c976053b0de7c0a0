import CKernels
import Foundation

extension Quad {
    /// The k-means clusters (Quad's arms) of an embedding column, as `select` computes them.
    ///
    /// k-means|| seeded Lloyd iterations (``KMeans``, ``kmeansSeeding``) run on a seeded sample of at most `sample` rows
    /// (all rows when there are fewer); every row is then assigned to its nearest centroid.
    ///
    /// - Parameters:
    ///   - clusters: the number of clusters; nil for round(sqrt(n)), n the rows with an embedding.
    ///   - seed: the selector's seed (the same value `Parameters.seed` holds).
    ///   - sample: the most rows the fit sees (`Parameters.kmeansSample`).
    /// - Returns: the cluster of each row, or -1 for a row outside `embeddings.usableRows`.
    public static func clusterAssignments(
        embeddings: any VectorSource, clusters: Int?, seed: UInt64, sample: Int
    ) throws -> [Int] {
        try fitClusters(embeddings: embeddings, clusters: clusters, seed: seed, sample: sample).assignments
    }

    /// Centroids and assignments of one clustering.
    struct Clustering {
        /// clusters x embedding dimension.
        var centroids: Matrix
        /// Cluster of each row; -1 for rows without a usable embedding.
        var assignments: [Int]
        var iterations: Int
    }

    static func fitClusters(embeddings: any VectorSource, clusters: Int?, seed: UInt64, sample: Int) throws -> Clustering {
        guard sample >= 1 else { throw SelectorError("quad: the k-means sample must hold at least one row") }
        guard embeddings.dimension > 0 else { throw SelectorError("the embedding column has dimension 0") }
        let usable = embeddings.usableRows.map { $0.setRows } ?? Array(0..<embeddings.rowCount)
        let fitRows = sampleRows(RowKeys.smallest(sample, of: usable, seed: streamSeed(seed, .kmeansSample)))
        let (centroids, iterations) = try fit(sample: try embeddings.gather(rows: fitRows), usableRows: usable.count, clusters: clusters, seed: seed)
        let assignments = try assign(embeddings, centroids: centroids)
        return Clustering(centroids: centroids, assignments: assignments, iterations: iterations)
    }

    /// A shard's candidates for the k-means sample: its usable rows (as global rows, shifted by
    /// `offset`) with the `sample` smallest keys, and how many rows it has with an embedding. The
    /// sample of the whole corpus is the `sample` smallest of every shard's candidates.
    public static func sampleCandidates(embeddings: any VectorSource, sample: Int, seed: UInt64, offset: Int) -> (rows: [Int], usable: Int) {
        let usable = (embeddings.usableRows.map { $0.setRows } ?? Array(0..<embeddings.rowCount)).map { $0 + offset }
        return (RowKeys.smallest(sample, of: usable, seed: streamSeed(seed, .kmeansSample)), usable.count)
    }

    /// The sample of the whole corpus from every shard's ``sampleCandidates(embeddings:sample:seed:offset:)``.
    public static func sampleRows(candidates: [Int], sample: Int, seed: UInt64) -> [Int] {
        sampleRows(RowKeys.smallest(sample, of: candidates, seed: streamSeed(seed, .kmeansSample)))
    }

    /// The rows k-means fits on: a candidate list (the usable rows with the smallest keys h(seed, row),
    /// in a shard set the smallest over every shard's smallest) in row order.
    public static func sampleRows(_ smallest: [Int]) -> [Int] { smallest.sorted() }

    /// Quad's seeding: k-means|| with 5 rounds of about k/2 draws each, whose passes are GEMMs (greedy
    /// k-means++ makes k sequential passes over the sample: minutes at 3,162 clusters; BENCHMARKS.md, issue 23).
    public static let kmeansSeeding = KMeans.Seeding.parallel(rounds: 5, oversampling: 0.5)
    /// At most this many Lloyd iterations (faiss's `Kmeans` runs 25 by default); the fit also stops when
    /// no row changes cluster or the objective improves by less than 1e-4 of itself.
    public static let kmeansIterations = 20

    /// The k-means fit on the sampled rows' embeddings: centroids and Lloyd iterations. `usableRows` (the
    /// rows with an embedding in the whole pool) sets the default number of clusters, round(sqrt(n)).
    public static func fit(sample data: Matrix, usableRows: Int, clusters: Int?, seed: UInt64) throws -> (centroids: Matrix, iterations: Int) {
        try checkSample(data)
        let result = kmeans(usableRows: usableRows, clusters: clusters, seed: seed).fit(data)
        return (result.centroids, result.iterations)
    }

    /// Refuses a sample k-means cannot fit: no rows, or non-finite values.
    public static func checkSample(_ data: Matrix) throws {
        guard data.rows > 0 else { throw SelectorError("no row has a usable embedding: Quad cannot cluster the pool") }
        if data.values.withUnsafeBufferPointer({ qc_first_nonfinite_f32($0.baseAddress!, $0.count) }) >= 0 {
            throw SelectorError("the embedding column holds NaN or infinite values in rows marked usable")
        }
    }

    /// Quad's k-means: round(sqrt(usableRows)) clusters unless `clusters` says, k-means|| seeding, at most
    /// ``kmeansIterations`` Lloyd iterations (a shard set runs the same fit as ``KMeansFit`` passes).
    public static func kmeans(usableRows: Int, clusters: Int?, seed: UInt64) -> KMeans {
        let k = clusters ?? max(1, Int(Double(usableRows).squareRoot().rounded()))
        return KMeans(clusters: k, seed: streamSeed(seed, .kmeansSeeding), maxIterations: kmeansIterations, seeding: kmeansSeeding)
    }

    /// The nearest centroid of every row (-1 for rows without a usable embedding), a block of the stored
    /// column at a time as one SGEMM per block (``NearestCentroids``). The cluster of a row is exact, the one
    /// a scan of every centroid with the reference dot product gives, so it does not depend on the rows
    /// around it: a shard assigns its rows exactly as the whole pool would (docs/ARCHITECTURE.md, "Shard sets").
    public static func assign(_ embeddings: any VectorSource, centroids: Matrix) throws -> [Int] {
        guard embeddings.dimension == centroids.columns else {
            throw SelectorError("the embeddings have dimension \(embeddings.dimension), the centroids \(centroids.columns)")
        }
        var assignments = try KMeans.assign(embeddings, centroids: centroids).assignments
        if let usable = embeddings.usableRows {
            for row in assignments.indices where !usable.contains(row) { assignments[row] = -1 }
        }
        return assignments
    }

    /// A cluster that shares a pulled cluster's reward, and the share it gets.
    public struct Neighbour: Sendable, Equatable {
        public var cluster: Int
        /// 1 - d / radius (1 for the cluster itself).
        public var weight: Double

        public init(cluster: Int, weight: Double) {
            self.cluster = cluster
            self.weight = weight
        }
    }

    /// The arms' reward sharing: the radius and, for each cluster, the clusters within it. It depends only
    /// on the centroids, so a shard set's driver computes it once per job and keeps it between merges.
    public struct Neighbourhood: Sendable, Equatable {
        /// The radius: the `radius` parameter, or ``medianNearestCentroidDistance(_:)``.
        public var radius: Double
        /// ``neighbours(centroids:radius:)`` at that radius.
        public var lists: [[Neighbour]]

        public init(radius: Double, lists: [[Neighbour]]) {
            self.radius = radius
            self.lists = lists
        }

        /// The neighbourhood of `centroids` at `radius` (nil: the median nearest-centroid distance).
        public init(centroids: Matrix, radius: Double?) {
            self.radius = radius ?? medianNearestCentroidDistance(centroids)
            lists = neighbours(centroids: centroids, radius: self.radius)
        }
    }

    /// For each centroid, the clusters within `radius` (Euclidean distance strictly below it), with
    /// weight 1 - d / radius, itself first with weight 1, then by cluster number.
    public static func neighbours(centroids: Matrix, radius: Double) -> [[Neighbour]] {
        var lists = (0..<centroids.rows).map { [Neighbour(cluster: $0, weight: 1)] }
        guard radius > 0 else { return lists }
        // d = sqrt(max(0, x)) rises with the squared distance x, so a squared distance past a bound a
        // little above radius^2 cannot pass; only the few below it take the square root.
        let screen = Float((radius * (1 + 1e-5)) * (radius * (1 + 1e-5))).nextUp
        forEachSquaredDistanceRow(centroids) { i, squared in
            for j in 0..<centroids.rows where j != i && squared[j] <= screen {
                let d = Double(max(0, squared[j]).squareRoot())
                if d < radius { lists[i].append(Neighbour(cluster: j, weight: 1 - d / radius)) }
            }
        }
        return lists
    }

    /// The median over centroids of the distance to the nearest other centroid (0 with one centroid);
    /// the mean of the two middle values when the count is even.
    public static func medianNearestCentroidDistance(_ centroids: Matrix) -> Double {
        guard centroids.rows > 1 else { return 0 }
        var nearest = [Double](repeating: .infinity, count: centroids.rows)
        // The square root rises with its argument, so the nearest distance is the root of the least
        // squared distance.
        forEachSquaredDistanceRow(centroids) { i, squared in
            var least = Float.infinity
            for j in 0..<centroids.rows where j != i { least = min(least, squared[j]) }
            nearest[i] = Double(max(0, least).squareRoot())
        }
        nearest.sort()
        let middle = nearest.count / 2
        return nearest.count % 2 == 1 ? nearest[middle] : (nearest[middle - 1] + nearest[middle]) / 2
    }

    /// Calls `body(i, squared)` with the squared Euclidean distances from centroid i to every centroid,
    /// ||a||^2 + ||b||^2 - 2 a.b (before clamping at 0), computed a block of rows at a time with one GEMM
    /// per block.
    private static func forEachSquaredDistanceRow(_ centroids: Matrix, _ body: (Int, UnsafeBufferPointer<Float>) -> Void) {
        let k = centroids.rows, d = centroids.columns
        guard k > 0, d > 0 else { return }
        var squaredNorms = [Float](repeating: 0, count: k)
        centroids.values.withUnsafeBufferPointer { qc_row_norms_f32($0.baseAddress!, k, d, &squaredNorms) }
        squaredNorms = squaredNorms.map { $0 * $0 }
        let blockRows = max(1, min(k, (1 << 20) / k))
        var products = [Float](repeating: 0, count: blockRows * k)
        centroids.values.withUnsafeBufferPointer { c in
            products.withUnsafeMutableBufferPointer { p in
                var first = 0
                while first < k {
                    let rows = min(blockRows, k - first)
                    BLAS.gemm(
                        transposeB: true, m: rows, n: k, k: d, a: c.baseAddress! + first * d, lda: d,
                        b: c.baseAddress!, ldb: d, c: p.baseAddress!, ldc: k)
                    for r in 0..<rows {
                        let row = p.baseAddress! + r * k
                        let ni = squaredNorms[first + r]
                        for j in 0..<k { row[j] = ni + squaredNorms[j] - 2 * row[j] }
                        body(first + r, UnsafeBufferPointer(start: row, count: k))
                    }
                    first += rows
                }
            }
        }
    }
}
