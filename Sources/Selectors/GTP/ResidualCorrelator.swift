import Dispatch
import CKernels

extension GTP {
    /// The pursuit's identification step: c_z = sum_j max(0, (A^T R)_zj) for every pool row z, in one
    /// streaming pass over each checkpoint's gradients (A is never built).
    ///
    /// (A^T R)_zj = sum_c sqrt(w_c) / ||g(z,c)|| * <g(z,c), R_cj>, where R_cj is the checkpoint-c part of the
    /// residual of group j. So each block of rows costs one GEMM (block rows x d_c) x (d_c x G) per
    /// checkpoint, and the per-row factors sqrt(w_c) / ||g(z,c)|| are measured during the first pass and
    /// kept (n x C floats).
    final class ResidualCorrelator {
        private let layout: TrajectoryLayout
        private let rowCount: Int
        /// sqrt(w_c) / ||g(z,c)|| per checkpoint, zero where the row has no direction; nil before the first pass.
        private var factors: [[Float]]?
        /// Rows that can be chosen: usable at every checkpoint, with a finite non-zero gradient at each.
        private(set) var eligible: RowMask

        init(layout: TrajectoryLayout) {
            self.layout = layout
            rowCount = layout.poolRows
            eligible = layout.checkpoints.commonUsableRows() ?? RowMask(count: layout.poolRows, allSet: true)
        }

        /// c_z for every row (0 for rows that are not eligible), given the residual (groups x dimension).
        ///
        /// Each row is scored on its own (a per-row kernel, not a GEMM over a block), so its score does
        /// not depend on the rows around it: a shard scores its rows exactly as the whole pool would.
        func correlations(residual: [Double], groups: Int, progress: (Int, Int) -> Void = { _, _ in }) throws -> [Float] {
            let dimension = layout.dimension
            precondition(residual.count == groups * dimension, "residual shape mismatch")
            var accumulated = [Float](repeating: 0, count: rowCount * groups)
            let measuring = factors == nil
            var measured: [[Float]] = []
            for (c, checkpoint) in layout.checkpoints.enumerated() {
                let d = checkpoint.pool.dimension
                let offset = layout.offsets[c]
                let rootWeight = Float(layout.rootWeights[c])
                // This checkpoint's part of every group's residual, contiguous.
                var part = [Float](repeating: 0, count: groups * d)
                for j in 0..<groups { for t in 0..<d { part[j * d + t] = Float(residual[j * dimension + offset + t]) } }
                var rowFactors = measuring ? [Float](repeating: 0, count: rowCount) : factors![c]
                var products: [Float] = []
                var norms: [Float] = []
                try part.withUnsafeBufferPointer { r in
                    try accumulated.withUnsafeMutableBufferPointer { acc in
                        // The next pass starts again at the first checkpoint.
                        let next = layout.checkpoints[(c + 1) % layout.checkpoints.count].pool
                        try checkpoint.pool.forEachBlock(thenPrefetching: next) { block in
                            let rows = block.rowCount
                            progress(c * rowCount + block.firstRow + rows, layout.checkpoints.count * rowCount)
                            if products.count < rows * groups { products = [Float](repeating: 0, count: rows * groups) }
                            if measuring {
                                if norms.count < rows { norms = [Float](repeating: 0, count: rows) }
                                qc_row_norms_f32(block.values.baseAddress!, rows, d, &norms)
                                for i in 0..<rows {
                                    let norm = norms[i]
                                    rowFactors[block.firstRow + i] = norm > 0 && norm.isFinite ? rootWeight / norm : 0
                                }
                            }
                            products.withUnsafeMutableBufferPointer { p in
                                Self.dots(block.values.baseAddress!, rows: rows, dimension: d, residual: r.baseAddress!, groups: groups, into: p.baseAddress!)
                                for i in 0..<rows {
                                    let factor = rowFactors[block.firstRow + i]
                                    guard factor != 0 else { continue }
                                    let target = acc.baseAddress! + (block.firstRow + i) * groups
                                    for j in 0..<groups { target[j] += factor * p[i * groups + j] }
                                }
                            }
                        }
                    }
                }
                if measuring { measured.append(rowFactors) }
            }
            if measuring {
                factors = measured
                for z in eligible.setRows where measured.contains(where: { $0[z] == 0 }) { eligible.remove(z) }
            }
            var scores = [Float](repeating: 0, count: rowCount)
            for z in 0..<rowCount where eligible.contains(z) {
                var s: Float = 0
                for j in 0..<groups { s += max(0, accumulated[z * groups + j]) }
                scores[z] = s
            }
            return scores
        }

        /// rows x groups products of a block with the residual parts, the rows split over both cores:
        /// with 32 groups this is compute-bound (the block's decoding runs ahead on another thread), and
        /// a row's products have the same bits however the rows are split (`qc_dot_rows_vectors`).
        private static func dots(
            _ values: UnsafePointer<Float>, rows: Int, dimension d: Int, residual: UnsafePointer<Float>, groups: Int,
            into out: UnsafeMutablePointer<Float>
        ) {
            let parts = rows >= 64 ? 2 : 1
            let shared = SendableCorrelationBuffers(values: values, residual: residual, out: out)
            DispatchQueue.concurrentPerform(iterations: parts) { part in
                let lower = part * rows / parts, upper = (part + 1) * rows / parts
                qc_dot_rows_vectors(shared.values + lower * d, upper - lower, d, shared.residual, groups, shared.out + lower * groups)
            }
        }

        /// The `count` eligible rows with the largest positive c_z, best first (ties: lower row), their
        /// row numbers shifted by `offset` (a shard's first global row).
        func top(
            _ count: Int, residual: [Double], groups: Int, offset: Int = 0, progress: (Int, Int) -> Void = { _, _ in }
        ) throws -> [Pursuit.Candidate] {
            let scores = try correlations(residual: residual, groups: groups, progress: progress)
            let eligible = self.eligible
            return topK(scores, k: count) { eligible.contains($0) && scores[$0] > 0 }.map { Pursuit.Candidate(row: offset + $0, score: scores[$0]) }
        }
    }
}

/// A block's rows, the residual parts and the output, shared with the workers (disjoint output rows).
private struct SendableCorrelationBuffers: @unchecked Sendable {
    let values: UnsafePointer<Float>
    let residual: UnsafePointer<Float>
    let out: UnsafeMutablePointer<Float>
}
