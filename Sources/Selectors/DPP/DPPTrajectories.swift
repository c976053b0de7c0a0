import CKernels
import Foundation

extension DPP {
    /// The unit gradient trajectories as stacked rows read in place: part c is checkpoint c's stored
    /// gradients with the factor sqrt(w_c) / ||g(z, c)|| (0 where the row has no usable, finite,
    /// non-zero gradient), so a_z = [sqrt(w_1) u(z,1); ...] is never materialised.
    struct UnitTrajectories {
        let rows: StackedRows
        /// ||a_z||^2 for every row (sum of w_c over the checkpoints where the row has a direction).
        let squaredNorms: [Double]

        init(_ checkpoints: [CheckpointGradients], progress: SelectionProgressHandler?) throws {
            try checkpoints.validateShapes()
            let weights = try checkpoints.learningRateWeights()
            let n = checkpoints[0].pool.rowCount
            var factors: [[Double]] = []
            var squaredNorms = [Double](repeating: 0, count: n)
            for (c, checkpoint) in checkpoints.enumerated() {
                var factor = [Double](repeating: 0, count: n)
                let root = weights[c].squareRoot()
                let usable = checkpoint.pool.usableRows
                try checkpoint.pool.forEachBlock(thenPrefetching: checkpoints.pool(after: c)) { block in
                    let d = block.dimension
                    for i in 0..<block.rowCount {
                        let z = block.firstRow + i
                        guard usable?.contains(z) ?? true else { continue }
                        let row = block.values.baseAddress! + i * d
                        var sum = 0.0
                        for j in 0..<d { sum = fma(Double(row[j]), Double(row[j]), sum) }
                        let norm = sum.squareRoot()
                        guard norm > 0, norm.isFinite else { continue }
                        factor[z] = root / norm
                        squaredNorms[z] = fma(root, root, squaredNorms[z])
                    }
                    progress?(SelectionProgress(phase: "trajectory norms", completed: c * n + block.firstRow + block.rowCount, total: checkpoints.count * n, unit: "rows"))
                }
                factors.append(factor)
            }
            rows = StackedRows(parts: checkpoints.map(\.pool), factors: factors)
            self.squaredNorms = squaredNorms
        }
    }
}
