extension GTP {
    /// How GTP lays out a gradient trajectory: a_z = [sqrt(w_1) u(z,1); ...; sqrt(w_C) u(z,C)], with u the
    /// unit-normalised gradient of checkpoint c and w_c the LESS learning-rate weights.
    ///
    /// Checkpoint c occupies columns `offsets[c] ..< offsets[c] + d_c` of a trajectory. A checkpoint part
    /// is zero where the gradient is zero, not finite or marked unusable (there is no direction to take).
    /// Trajectories are built in Double from the Float gradients, so the least-squares problems downstream
    /// see exact duplicates as exactly dependent columns.
    struct TrajectoryLayout {
        let checkpoints: [CheckpointGradients]
        /// sqrt(w_c) per checkpoint.
        let rootWeights: [Double]
        /// First column of each checkpoint's part.
        let offsets: [Int]
        /// Length of a trajectory vector (sum of the checkpoint dimensions).
        let dimension: Int

        init(_ checkpoints: [CheckpointGradients]) throws {
            try checkpoints.validateShapes()
            self.checkpoints = checkpoints
            rootWeights = try checkpoints.learningRateWeights().map { $0.squareRoot() }
            var offsets: [Int] = []
            var total = 0
            for c in checkpoints {
                offsets.append(total)
                total += c.pool.dimension
            }
            self.offsets = offsets
            dimension = total
        }

        var poolRows: Int { checkpoints[0].pool.rowCount }
        var targetRows: Int { checkpoints[0].target.rows }

        /// Trajectories of the given pool rows, rows.count x dimension, row-major.
        func poolTrajectories(rows: [Int]) throws -> [Double] {
            var out = [Double](repeating: 0, count: rows.count * dimension)
            guard !rows.isEmpty else { return out }
            for (c, checkpoint) in checkpoints.enumerated() {
                let d = checkpoint.pool.dimension
                let gathered = try checkpoint.pool.gather(rows: rows)
                gathered.values.withUnsafeBufferPointer { source in
                    out.withUnsafeMutableBufferPointer { target in
                        for (i, row) in rows.enumerated() where checkpoint.pool.isUsable(row) {
                            Self.writeDirection(
                                source.baseAddress! + i * d, count: d, scale: rootWeights[c],
                                into: target.baseAddress! + i * dimension + offsets[c])
                        }
                    }
                }
            }
            return out
        }

        /// Trajectories of all target (validation) rows, targetRows x dimension, row-major.
        func targetTrajectories() throws -> [Double] {
            let m = targetRows
            var out = [Double](repeating: 0, count: m * dimension)
            for (c, checkpoint) in checkpoints.enumerated() {
                let d = checkpoint.target.columns
                if let bad = checkpoint.target.values.firstIndex(where: { !$0.isFinite }) {
                    throw SelectorError("target row \(bad / max(d, 1)) at checkpoint \(checkpoint.checkpoint) has a non-finite value")
                }
                checkpoint.target.values.withUnsafeBufferPointer { source in
                    out.withUnsafeMutableBufferPointer { target in
                        for r in 0..<m {
                            Self.writeDirection(
                                source.baseAddress! + r * d, count: d, scale: rootWeights[c],
                                into: target.baseAddress! + r * dimension + offsets[c])
                        }
                    }
                }
            }
            return out
        }

        /// out[i] = scale * v[i] / ||v||, or zeros when ||v|| is zero or not finite.
        private static func writeDirection(_ v: UnsafePointer<Float>, count d: Int, scale: Double, into out: UnsafeMutablePointer<Double>) {
            var sum = 0.0
            for i in 0..<d { let x = Double(v[i]); sum += x * x }
            let norm = sum.squareRoot()
            guard norm > 0, norm.isFinite else {
                out.update(repeating: 0, count: d)
                return
            }
            let factor = scale / norm
            for i in 0..<d { out[i] = Double(v[i]) * factor }
        }
    }
}
