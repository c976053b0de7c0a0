import CKernels
import Foundation

/// Lloyd's k-means with greedy k-means++ or k-means|| seeding, deterministic for a seed (on one
/// machine: the means and seeding sums add floats in a fixed order, but CPU types may round differently).
///
/// Distances use the expansion ||x - c||^2 = ||x||^2 - 2 x.c + ||c||^2, so each Lloyd step is one
/// GEMM of the data against the centroids (``NearestCentroids``), its pick made exact. Ties in
/// assignment go to the lower cluster index.
public struct KMeans: Sendable {
    /// Number of clusters asked for (the fit may return fewer when there are fewer distinct rows).
    public var clusters: Int
    public var seed: UInt64
    public var maxIterations: Int
    /// Stop when no assignment changes, or when the relative drop in inertia falls below this
    /// (scikit-learn's default tolerance is of the same order).
    public var tolerance: Double

    /// How the first centroids are chosen.
    public var seeding: Seeding

    /// The seeding of the Lloyd iterations.
    public enum Seeding: Sendable, Equatable {
        /// Greedy k-means++ over every row: k passes over the data, each with `2 + ln k` trial centroids.
        case greedyPlusPlus
        /// k-means|| (Bahmani et al. 2012): `rounds` passes that each draw about `oversampling x k` rows
        /// with probability proportional to their squared distance (each pass a GEMM against the new
        /// draws), then greedy k-means++ over the draws weighted by the rows nearest to each.
        case parallel(rounds: Int, oversampling: Double)
    }

    public init(
        clusters: Int, seed: UInt64, maxIterations: Int = 100, tolerance: Double = 1e-4, seeding: Seeding = .greedyPlusPlus
    ) {
        precondition(clusters > 0, "k-means needs at least one cluster")
        self.clusters = clusters
        self.seed = seed
        self.maxIterations = maxIterations
        self.tolerance = tolerance
        self.seeding = seeding
    }

    /// The fitted model.
    public struct Result: Sendable {
        /// clusters x dimension.
        public var centroids: Matrix
        /// Cluster of each input row.
        public var assignments: [Int]
        /// Sum of squared distances of rows to their centroid.
        public var inertia: Double
        /// Lloyd iterations run.
        public var iterations: Int
    }

    /// Clusters the rows of `data`.
    public func fit(_ data: Matrix) -> Result { Self.finish(KMeansFit(self, data: data), data) }

    /// The first centroids, by ``seeding``.
    public func seed(_ data: Matrix) -> Matrix {
        var fit = KMeansFit(self, data: data)
        fit.run(on: data) { $0.isSeeded }
        return fit.centroids
    }

    /// Lloyd iterations from the given centroids.
    public func fit(_ data: Matrix, from initial: Matrix) -> Result { Self.finish(KMeansFit(self, data: data, from: initial), data) }

    /// Runs a fit to the end on this machine, then assigns every row to the final centroids, so
    /// assignments and centroids agree.
    private static func finish(_ fit: KMeansFit, _ data: Matrix) -> Result {
        var fit = fit
        fit.run(on: data)
        let (assignments, distances) = NearestCentroids(fit.centroids).assign(data)
        return Result(
            centroids: fit.centroids, assignments: assignments,
            inertia: distances.reduce(0) { $0 + Double($1) }, iterations: fit.iterations)
    }

    /// Greedy k-means++ (as scikit-learn does it): the first centroid uniformly; then, at each step,
    /// `2 + ln k` candidates drawn with probability proportional to the squared distance to the
    /// nearest chosen centroid, keeping the candidate that lowers the total the most. Plain k-means++
    /// too often puts two seeds in one cluster; the greedy trials make that rare.
    ///
    /// Each step is one pass over the data (``SeedingTrials``: principal coordinates and a float16 copy
    /// screen, float32 settles what they leave),
    /// split into fixed-size parts (run on all cores) whose partial sums are added in a fixed order, so
    /// the result does not depend on thread timing.
    func seedPlusPlus(_ data: Matrix, rowNorms: [Float], k: Int, weights: [Float]? = nil, random: inout SeededRandom) -> Matrix {
        let n = data.rows
        let trials = 2 + Int(log(Double(k)))
        var chosen = [weights.map { Self.weightedDraw($0, random: &random) } ?? random.nextInt(below: n)]
        let rows = SeedingTrials(data, rowNorms: rowNorms)
        var nearest = [Float](repeating: 0, count: n)
        rows.nearest([Float](repeating: .infinity, count: n), candidates: [chosen[0]], into: &nearest)
        var cumulative = [Double](repeating: 0, count: n)
        let parts = Self.parts(n)
        var values = [Float](repeating: 0, count: n * trials)
        while chosen.count < k {
            var total = 0.0
            for i in 0..<n {
                total += Double(nearest[i]) * Double(weights?[i] ?? 1)
                cumulative[i] = total
            }
            guard total > 0 else { break }  // every row coincides with a chosen centroid
            let candidates = (0..<trials).map { _ -> Int in
                // The first row whose cumulative weight passes the draw (rows at distance 0 have no
                // weight, so they are never drawn).
                let target = random.nextUnitDouble() * total
                var low = 0, high = n - 1
                while low < high {
                    let mid = (low + high) / 2
                    if cumulative[mid] > target { high = mid } else { low = mid + 1 }
                }
                return low
            }
            rows.nearest(nearest, candidates: candidates, into: &values)
            // Potential of each candidate: sum over rows of min(nearest, distance), per part.
            var partial = [Double](repeating: 0, count: parts.count * trials)
            let v = values
            partial.withUnsafeMutableBufferPointer { sums in
                nonisolated(unsafe) let out = sums
                DispatchQueue.concurrentPerform(iterations: parts.count) { p in
                    var sum = [Double](repeating: 0, count: trials)
                    for i in parts[p] {
                        let w = Double(weights?[i] ?? 1)
                        for t in 0..<trials { sum[t] += w * Double(v[i * trials + t]) }
                    }
                    for t in 0..<trials { out[p * trials + t] = sum[t] }
                }
            }
            var best = 0
            var bestTotal = Double.infinity
            for t in 0..<trials {
                let potential = (0..<parts.count).reduce(0.0) { $0 + partial[$1 * trials + t] }
                if potential < bestTotal { bestTotal = potential; best = t }
            }
            chosen.append(candidates[best])
            for i in 0..<n { nearest[i] = values[i * trials + best] }
        }
        return data.rows(chosen)
    }

    /// Row ranges of a fixed size (not one per core), so that sums over parts round the same way on
    /// any machine and the clustering stays a function of its seed.
    static func parts(_ n: Int) -> [Range<Int>] {
        let size = 8192
        return stride(from: 0, to: max(n, 1), by: size).map { $0..<min(n, $0 + size) }
    }

    static func squaredNorms(_ data: Matrix) -> [Float] {
        var norms = [Float](repeating: 0, count: data.rows)
        data.values.withUnsafeBufferPointer { qc_row_norms_f32($0.baseAddress!, data.rows, data.columns, &norms) }
        return norms.map { $0 * $0 }
    }

    /// New centroids as cluster means; an empty cluster takes the farthest row not yet used.
    static func means(_ data: Matrix, assignments: [Int], previous: Matrix, distances: [Float]) -> Matrix {
        let k = previous.rows, d = data.columns
        var sums = [Float](repeating: 0, count: k * d)
        var counts = [Int](repeating: 0, count: k)
        data.values.withUnsafeBufferPointer { x in
            sums.withUnsafeMutableBufferPointer { s in
                for (i, cluster) in assignments.enumerated() {
                    counts[cluster] += 1
                    BLAS.axpy(d, alpha: 1, x.baseAddress! + i * d, s.baseAddress! + cluster * d)
                }
            }
        }
        var out = previous
        var farthest: [Int]? = nil
        var used = 0
        for cluster in 0..<k {
            if counts[cluster] > 0 {
                let scale = 1 / Float(counts[cluster])
                for j in 0..<d { out.values[cluster * d + j] = sums[cluster * d + j] * scale }
            } else {
                if farthest == nil {
                    farthest = distances.indices.sorted { distances[$0] > distances[$1] || (distances[$0] == distances[$1] && $0 < $1) }
                }
                guard used < farthest!.count else { continue }
                let far = farthest![used]
                used += 1
                for j in 0..<d { out.values[cluster * d + j] = data.values[far * d + j] }
            }
        }
        return out
    }

    /// Assigns every row of a (possibly streamed) source to the nearest of `centroids`, a block at a time.
    public static func assign(_ source: any VectorSource, centroids: Matrix) throws -> (assignments: [Int], distances: [Float]) {
        precondition(source.dimension == centroids.columns, "dimension mismatch")
        var assignments = [Int](repeating: 0, count: source.rowCount)
        var distances = [Float](repeating: 0, count: source.rowCount)
        let nearest = NearestCentroids(centroids)
        try assignments.withUnsafeMutableBufferPointer { labels in
            try distances.withUnsafeMutableBufferPointer { dist in
                try source.forEachBlock { block in
                    nearest.assign(
                        block.values.baseAddress!, count: block.rowCount,
                        labels: labels.baseAddress! + block.firstRow, distances: dist.baseAddress! + block.firstRow)
                }
            }
        }
        return (assignments, distances)
    }
}
