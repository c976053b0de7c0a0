import CKernels
import Foundation

/// Lloyd's k-means with k-means++ seeding, deterministic for a seed.
///
/// Distances use the expansion ||x - c||^2 = ||x||^2 - 2 x.c + ||c||^2, so each Lloyd step is one
/// GEMM of the data against the centroids. Ties in assignment go to the lower cluster index.
public struct KMeans: Sendable {
    /// Number of clusters asked for (the fit may return fewer when there are fewer distinct rows).
    public var clusters: Int
    public var seed: UInt64
    public var maxIterations: Int
    /// Stop when no assignment changes, or when the relative drop in inertia falls below this.
    public var tolerance: Double

    public init(clusters: Int, seed: UInt64, maxIterations: Int = 50, tolerance: Double = 1e-6) {
        precondition(clusters > 0, "k-means needs at least one cluster")
        self.clusters = clusters
        self.seed = seed
        self.maxIterations = maxIterations
        self.tolerance = tolerance
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
    public func fit(_ data: Matrix) -> Result {
        precondition(data.rows > 0, "k-means needs at least one row")
        var random = SeededRandom(seed: seed)
        let k = min(clusters, data.rows)
        var centroids = seedPlusPlus(data, k: k, random: &random)
        var assignments = [Int](repeating: -1, count: data.rows)
        var inertia = Double.infinity
        var iterations = 0
        let rowNorms = Self.squaredNorms(data)
        while iterations < maxIterations {
            iterations += 1
            let (newAssignments, distances) = Self.nearest(data, rowNorms: rowNorms, centroids: centroids)
            let newInertia = distances.reduce(0) { $0 + Double($1) }
            let changed = zip(newAssignments, assignments).contains { $0 != $1 }
            assignments = newAssignments
            let converged = !changed || (inertia.isFinite && (inertia - newInertia) <= tolerance * max(inertia, 1e-30))
            inertia = newInertia
            centroids = Self.means(data, assignments: assignments, previous: centroids, distances: distances)
            if converged { break }
        }
        // Final assignment against the final centroids, so assignments and centroids agree.
        let (finalAssignments, distances) = Self.nearest(data, rowNorms: rowNorms, centroids: centroids)
        return Result(
            centroids: centroids, assignments: finalAssignments,
            inertia: distances.reduce(0) { $0 + Double($1) }, iterations: iterations)
    }

    /// Greedy k-means++ (as scikit-learn does it): the first centroid uniformly; then, at each step,
    /// `2 + ln k` candidates drawn with probability proportional to the squared distance to the
    /// nearest chosen centroid, keeping the candidate that lowers the total the most. Plain k-means++
    /// too often puts two seeds in one cluster; the greedy trials make that rare.
    private func seedPlusPlus(_ data: Matrix, k: Int, random: inout SeededRandom) -> Matrix {
        let n = data.rows
        let trials = 2 + Int(log(Double(k)))
        let rowNorms = Self.squaredNorms(data)
        var chosen = [random.nextInt(below: n)]
        var nearest = Self.squaredDistances(data, rowNorms: rowNorms, to: data.rows(chosen)).values
        while chosen.count < k {
            let total = nearest.reduce(0.0) { $0 + Double($1) }
            guard total > 0 else { break }  // every row coincides with a chosen centroid
            var candidates: [Int] = []
            for _ in 0..<trials {
                var target = random.nextUnitDouble() * total
                var pick = n - 1
                for i in 0..<n {
                    target -= Double(nearest[i])
                    if target < 0 && nearest[i] > 0 { pick = i; break }
                }
                candidates.append(pick)
            }
            let distances = Self.squaredDistances(data, rowNorms: rowNorms, to: data.rows(candidates))
            var best = 0
            var bestTotal = Double.infinity
            for t in 0..<candidates.count {
                let potential = (0..<n).reduce(0.0) { $0 + Double(min(nearest[$1], distances[$1, t])) }
                if potential < bestTotal { bestTotal = potential; best = t }
            }
            chosen.append(candidates[best])
            for i in 0..<n { nearest[i] = min(nearest[i], distances[i, best]) }
        }
        return data.rows(chosen)
    }

    /// Squared distances from every row of `data` (rows) to every row of `points` (columns).
    static func squaredDistances(_ data: Matrix, rowNorms: [Float], to points: Matrix) -> Matrix {
        var distances = data.multiplied(by: points, transposeOther: true)
        let pointNorms = squaredNorms(points)
        for i in 0..<data.rows {
            for t in 0..<points.rows {
                distances[i, t] = max(0, rowNorms[i] - 2 * distances[i, t] + pointNorms[t])
            }
        }
        return distances
    }

    static func squaredNorms(_ data: Matrix) -> [Float] {
        var norms = [Float](repeating: 0, count: data.rows)
        data.values.withUnsafeBufferPointer { qc_row_norms_f32($0.baseAddress!, data.rows, data.columns, &norms) }
        return norms.map { $0 * $0 }
    }

    /// Nearest centroid of each row and the squared distance to it.
    static func nearest(_ data: Matrix, rowNorms: [Float], centroids: Matrix) -> ([Int], [Float]) {
        let k = centroids.rows
        let centroidNorms = squaredNorms(centroids)
        var assignments = [Int](repeating: 0, count: data.rows)
        var distances = [Float](repeating: 0, count: data.rows)
        let blockRows = 2048
        var products = [Float](repeating: 0, count: blockRows * k)
        data.values.withUnsafeBufferPointer { x in
            centroids.values.withUnsafeBufferPointer { c in
                var first = 0
                while first < data.rows {
                    let count = min(blockRows, data.rows - first)
                    products.withUnsafeMutableBufferPointer { p in
                        BLAS.gemm(
                            transposeB: true, m: count, n: k, k: data.columns,
                            a: x.baseAddress! + first * data.columns, lda: data.columns,
                            b: c.baseAddress!, ldb: data.columns, c: p.baseAddress!, ldc: k)
                    }
                    for i in 0..<count {
                        var best = 0
                        var bestDistance = Float.infinity
                        for j in 0..<k {
                            let distance = centroidNorms[j] - 2 * products[i * k + j]
                            if distance < bestDistance { bestDistance = distance; best = j }
                        }
                        assignments[first + i] = best
                        distances[first + i] = max(0, bestDistance + rowNorms[first + i])
                    }
                    first += count
                }
            }
        }
        return (assignments, distances)
    }

    /// New centroids as cluster means; an empty cluster takes the row farthest from its centroid.
    static func means(_ data: Matrix, assignments: [Int], previous: Matrix, distances: [Float]) -> Matrix {
        let k = previous.rows, d = data.columns
        var sums = [Double](repeating: 0, count: k * d)
        var counts = [Int](repeating: 0, count: k)
        for (i, cluster) in assignments.enumerated() {
            counts[cluster] += 1
            for j in 0..<d { sums[cluster * d + j] += Double(data.values[i * d + j]) }
        }
        var out = previous
        var taken = Set<Int>()
        for cluster in 0..<k {
            if counts[cluster] > 0 {
                for j in 0..<d { out.values[cluster * d + j] = Float(sums[cluster * d + j] / Double(counts[cluster])) }
            } else {
                let order = distances.indices.sorted { distances[$0] > distances[$1] || (distances[$0] == distances[$1] && $0 < $1) }
                if let far = order.first(where: { !taken.contains($0) }) {
                    taken.insert(far)
                    for j in 0..<d { out.values[cluster * d + j] = data.values[far * d + j] }
                }
            }
        }
        return out
    }

    /// Assigns every row of a (possibly streamed) source to the nearest of `centroids`.
    public static func assign(_ source: any VectorSource, centroids: Matrix) throws -> (assignments: [Int], distances: [Float]) {
        precondition(source.dimension == centroids.columns, "dimension mismatch")
        var assignments = [Int](repeating: 0, count: source.rowCount)
        var distances = [Float](repeating: 0, count: source.rowCount)
        try source.forEachBlock { block in
            let chunk = Matrix(rows: block.rowCount, columns: block.dimension, values: Array(block.values))
            let (a, dist) = nearest(chunk, rowNorms: squaredNorms(chunk), centroids: centroids)
            for i in 0..<block.rowCount {
                assignments[block.firstRow + i] = a[i]
                distances[block.firstRow + i] = dist[i]
            }
        }
        return (assignments, distances)
    }
}
