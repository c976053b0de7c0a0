import CKernels
import Foundation

/// The nearest centroid of many rows at the speed of a single-precision GEMM (issue 23).
///
/// A block of rows is multiplied by the centroids with one SGEMM whose output starts as -||c||^2 / 2
/// (the norms folded in: the product then holds x.c - ||c||^2 / 2, largest for the nearest centroid),
/// and `qc_nearest_refine` picks the best. A GEMM rounds differently with the block's size and the
/// row's place in it, so the pick is made exact: only the centroids whose score lies within the
/// rounding bound of the best are checked again with the reference one-row dot product
/// (`qc_dot_rows_vectors`), usually one. A row's cluster is therefore the one a scan of every centroid
/// gives, whatever block it came in: a shard assigns its rows as the whole pool would.
public struct NearestCentroids: Sendable {
    public let centroids: Matrix
    let squaredNorms: [Float]
    let maxNorm: Float
    /// -||c||^2 / 2, one block row's worth, copied into the GEMM's output before each product.
    let halfNegatedNorms: [Float]

    public init(_ centroids: Matrix) {
        precondition(centroids.rows > 0, "no centroids")
        self.centroids = centroids
        var norms = [Float](repeating: 0, count: centroids.rows)
        centroids.values.withUnsafeBufferPointer { qc_row_norms_f32($0.baseAddress!, centroids.rows, centroids.columns, &norms) }
        maxNorm = norms.max() ?? 0
        squaredNorms = norms.map { $0 * $0 }
        halfNegatedNorms = squaredNorms.map { -0.5 * $0 }
    }

    /// Rows per GEMM: the score block (rows x k floats) stays near 8 MB, within the last-level cache.
    var blockRows: Int { max(64, min(2048, (2 << 20) / max(1, centroids.rows))) }

    /// Labels and squared distances of `count` rows at `rows` (row-major, the centroids' dimension).
    /// The GEMM runs on OpenBLAS's threads; the refinement splits the block over the cores.
    public func assign(
        _ rows: UnsafePointer<Float>, count: Int,
        labels: UnsafeMutablePointer<Int>, distances: UnsafeMutablePointer<Float>
    ) {
        let k = centroids.rows, d = centroids.columns
        let block = blockRows
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: block * k)
        let wide = UnsafeMutablePointer<Int64>.allocate(capacity: block)
        defer { scores.deallocate(); wide.deallocate() }
        let workers = ProcessInfo.processInfo.activeProcessorCount > 1 ? 2 : 1
        centroids.values.withUnsafeBufferPointer { c in
            squaredNorms.withUnsafeBufferPointer { norms in
                nonisolated(unsafe) let (c, norms, scores, wide, distances) = (c, norms, scores, wide, distances)
                var first = 0
                while first < count {
                    let n = min(block, count - first)
                    halfNegatedNorms.withUnsafeBufferPointer { h in
                        for i in 0..<n { (scores + i * k).update(from: h.baseAddress!, count: k) }
                    }
                    BLAS.gemm(
                        transposeB: true, m: n, n: k, k: d, a: rows + first * d, lda: d,
                        b: c.baseAddress!, ldb: d, beta: 1, c: scores, ldc: k)
                    let part = (n + workers - 1) / workers
                    nonisolated(unsafe) let x = rows + first * d
                    let base = first
                    DispatchQueue.concurrentPerform(iterations: workers) { w in
                        let lo = w * part, hi = min(n, lo + part)
                        guard lo < hi else { return }
                        qc_nearest_refine(
                            x + lo * d, hi - lo, d, c.baseAddress!, norms.baseAddress!, k, maxNorm,
                            scores + lo * k, wide + lo, distances + base + lo)
                    }
                    for i in 0..<n { labels[first + i] = Int(wide[i]) }
                    first += n
                }
            }
        }
    }

    /// Labels and squared distances of every row of `data`.
    public func assign(_ data: Matrix) -> (labels: [Int], distances: [Float]) {
        var labels = [Int](repeating: 0, count: data.rows)
        var distances = [Float](repeating: 0, count: data.rows)
        guard data.rows > 0 else { return (labels, distances) }
        data.values.withUnsafeBufferPointer { x in
            labels.withUnsafeMutableBufferPointer { l in
                distances.withUnsafeMutableBufferPointer { dist in
                    assign(x.baseAddress!, count: data.rows, labels: l.baseAddress!, distances: dist.baseAddress!)
                }
            }
        }
        return (labels, distances)
    }
}
