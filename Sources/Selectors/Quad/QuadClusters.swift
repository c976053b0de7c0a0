import CKernels

extension Quad {
    /// The k-means clusters (Quad's arms) of an embedding column, as `select` computes them.
    ///
    /// k-means++ seeded Lloyd iterations (``KMeans``) run on a seeded sample of at most `sample` rows
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
        let n = embeddings.rowCount
        let usable = embeddings.usableRows?.setRows
        let usableCount = usable?.count ?? n
        guard usableCount > 0 else { throw SelectorError("no row has a usable embedding: Quad cannot cluster the pool") }
        let k = clusters ?? max(1, Int(Double(usableCount).squareRoot().rounded()))
        let kmeans = KMeans(clusters: k, seed: streamSeed(seed, .kmeansSeeding))

        let fitRows: [Int]?
        if usableCount <= sample {
            fitRows = usable
        } else {
            // The usable rows with the smallest keys h(seed, row), in row order.
            let sampleSeed = streamSeed(seed, .kmeansSample)
            fitRows = (usable.map { RowKeys.smallest(sample, of: $0, seed: sampleSeed) }
                ?? RowKeys.smallest(sample, of: 0..<n, seed: sampleSeed)).sorted()
        }
        let data = try fitRows.map { try embeddings.gather(rows: $0) } ?? embeddings.materialize()
        if data.values.withUnsafeBufferPointer({ qc_first_nonfinite_f32($0.baseAddress!, $0.count) }) >= 0 {
            throw SelectorError("the embedding column holds NaN or infinite values in rows marked usable")
        }
        let result = kmeans.fit(data)

        var assignments: [Int]
        if usableCount <= sample {
            if let usable {
                assignments = [Int](repeating: -1, count: n)
                for (i, row) in usable.enumerated() { assignments[row] = result.assignments[i] }
            } else {
                assignments = result.assignments
            }
        } else {
            assignments = try KMeans.assign(embeddings, centroids: result.centroids).assignments
            if let mask = embeddings.usableRows {
                for r in 0..<n where !mask.contains(r) { assignments[r] = -1 }
            }
        }
        return Clustering(centroids: result.centroids, assignments: assignments, iterations: result.iterations)
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

    /// For each centroid, the clusters within `radius` (Euclidean distance strictly below it), with
    /// weight 1 - d / radius, itself first with weight 1, then by cluster number.
    public static func neighbours(centroids: Matrix, radius: Double) -> [[Neighbour]] {
        var lists = (0..<centroids.rows).map { [Neighbour(cluster: $0, weight: 1)] }
        guard radius > 0 else { return lists }
        forEachDistanceRow(centroids) { i, distances in
            for j in 0..<centroids.rows where j != i {
                let d = Double(distances[j])
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
        forEachDistanceRow(centroids) { i, distances in
            for j in 0..<centroids.rows where j != i { nearest[i] = min(nearest[i], Double(distances[j])) }
        }
        nearest.sort()
        let middle = nearest.count / 2
        return nearest.count % 2 == 1 ? nearest[middle] : (nearest[middle - 1] + nearest[middle]) / 2
    }

    /// Calls `body(i, distances)` with the Euclidean distances from centroid i to every centroid,
    /// computed a block of rows at a time as ||a||^2 + ||b||^2 - 2 a.b with one GEMM per block.
    private static func forEachDistanceRow(_ centroids: Matrix, _ body: (Int, UnsafeBufferPointer<Float>) -> Void) {
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
                        for j in 0..<k { row[j] = max(0, ni + squaredNorms[j] - 2 * row[j]).squareRoot() }
                        body(first + r, UnsafeBufferPointer(start: row, count: k))
                    }
                    first += rows
                }
            }
        }
    }
}
