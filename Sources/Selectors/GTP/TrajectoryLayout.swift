import CKernels
import Foundation

extension GTP {
    /// How GTP lays out a gradient trajectory: a_z = [sqrt(w_1) u(z,1); ...; sqrt(w_C) u(z,C)], with u the
    /// unit-normalised gradient of checkpoint c and w_c the LESS learning-rate weights.
    ///
    /// Checkpoint c occupies columns `offsets[c] ..< offsets[c] + d_c` of a trajectory. A checkpoint part
    /// is zero where the gradient is zero, not finite or marked unusable (there is no direction to take).
    /// Trajectories are built in Double from the Float gradients, so the least-squares problems downstream
    /// see exact duplicates as exactly dependent columns.
    public struct TrajectoryLayout {
        public let checkpoints: [CheckpointGradients]
        /// sqrt(w_c) per checkpoint.
        let rootWeights: [Double]
        /// First column of each checkpoint's part.
        let offsets: [Int]
        /// Length of a trajectory vector (sum of the checkpoint dimensions).
        public let dimension: Int

        /// Memory the streaming passes may hold at once.
        let limits: Limits

        public init(_ checkpoints: [CheckpointGradients], limits: Limits = .standard) throws {
            try checkpoints.validateShapes()
            self.checkpoints = checkpoints
            self.limits = limits
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

        public var poolRows: Int { checkpoints[0].pool.rowCount }
        var targetRows: Int { checkpoints[0].target.rows }

        /// Rows of trajectories held at once by the streaming passes below.
        var blockRows: Int { max(1, min(4096, limits.trajectoryBlockBytes / max(1, dimension * 8))) }

        /// Calls `body` with consecutive blocks of the trajectories of `rows` (in the given order):
        /// (index of the block's first row in `rows`, rows in the block, block values row-major). The
        /// stored gradients are read in place; only one block of trajectories exists at a time.
        func forEachTrajectoryBlock(
            of rows: [Int], blockRows: Int? = nil, _ body: (Int, Int, UnsafePointer<Double>) throws -> Void
        ) throws {
            guard !rows.isEmpty else { return }
            let size = min(rows.count, blockRows ?? self.blockRows)
            let buffer = UnsafeMutablePointer<Double>.allocate(capacity: size * dimension)
            defer { buffer.deallocate() }
            var first = 0
            while first < rows.count {
                let count = min(size, rows.count - first)
                try fill(buffer, rows: Array(rows[first..<first + count]))
                try body(first, count, buffer)
                first += count
            }
        }

        /// Writes the trajectories of `rows` into `out` (rows.count x dimension), on all cores.
        private func fill(_ out: UnsafeMutablePointer<Double>, rows: [Int]) throws {
            let target = SendableDoubles(out)
            let dimension = self.dimension
            for (c, checkpoint) in checkpoints.enumerated() {
                let d = checkpoint.pool.dimension
                let offset = offsets[c], scale = rootWeights[c]
                let usable = rows.map { checkpoint.pool.isUsable($0) }
                try rows.withUnsafeBufferPointer { list in
                    try checkpoint.pool.withRowPointers(list) { pointers, format in
                        let shared = SendableRowPointers(pointers.baseAddress!)
                        let parts = rows.count >= 64 ? 2 : 1
                        DispatchQueue.concurrentPerform(iterations: parts) { part in
                            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: d)
                            defer { scratch.deallocate() }
                            let lower = part * rows.count / parts, upper = (part + 1) * rows.count / parts
                            for i in lower..<upper {
                                let into = target.pointer + i * dimension + offset
                                guard usable[i] else {
                                    into.update(repeating: 0, count: d)
                                    continue
                                }
                                let values: UnsafePointer<Float>
                                switch format {
                                case .float32: values = shared.pointers[i].assumingMemoryBound(to: Float.self)
                                case .float16:
                                    qc_f16_to_f32(shared.pointers[i].assumingMemoryBound(to: UInt16.self), scratch, d)
                                    values = UnsafePointer(scratch)
                                }
                                Self.writeDirection(values, count: d, scale: scale, into: into)
                            }
                        }
                    }
                }
            }
        }

        /// A_a^T A_b for pool rows `a` and `b` (Double), in blocks of `a`: `body` gets (index of the
        /// block's first row in `a`, rows in the block, block x b.count row-major products). Each block
        /// of `a` meets every row of `b` streamed in blocks; memory stays at a few blocks of trajectories.
        ///
        /// With ``Limits/ProductKernel/blas`` (the default) each block pair is one DGEMM, which sums
        /// every entry over the dimension in the same order whatever rows share the call (the BLAS
        /// splits rows and columns between threads, never the dimension), so Gram rows computed now or
        /// in a later iteration, in one process or after a sharded pass resumes, agree; the canonical
        /// chain of `qc_dot_block_f64` (``Limits/ProductKernel/canonical``) guarantees it by
        /// construction at a third of the speed, and the tests check that both pick the same rows.
        func products(of a: [Int], with b: [Int], _ body: (Int, Int, UnsafePointer<Double>) throws -> Void) throws {
            guard !a.isEmpty, !b.isEmpty else { return }
            let aBlock = min(a.count, max(1, limits.productBlockBytes / max(1, dimension * 8)))
            let out = UnsafeMutablePointer<Double>.allocate(capacity: aBlock * b.count)
            defer { out.deallocate() }
            try forEachTrajectoryBlock(of: a, blockRows: aBlock) { firstA, countA, left in
                try forEachTrajectoryBlock(of: b) { firstB, countB, right in
                    switch limits.productKernel {
                    case .blas:
                        BLAS.dgemm(
                            transposeB: true, m: countA, n: countB, k: dimension, a: left, lda: dimension, b: right, ldb: dimension,
                            c: out + firstB, ldc: b.count)
                    case .canonical:
                        Self.dots(left, count: countA, with: right, count: countB, dimension: dimension, into: out + firstB, ldo: b.count)
                    }
                }
                try body(firstA, countA, out)
            }
        }

        /// out[i * ldo + j] = left_i . right_j for Double trajectories, the left rows split over the cores.
        static func dots(
            _ left: UnsafePointer<Double>, count rows: Int, with right: UnsafePointer<Double>, count columns: Int, dimension: Int,
            into out: UnsafeMutablePointer<Double>, ldo: Int
        ) {
            let pointers = (0..<rows).map { UnsafeRawPointer(left + $0 * dimension) as UnsafeRawPointer? }
            let parts = rows * columns * dimension >= 1 << 20 && rows >= 2 ? 2 : 1
            pointers.withUnsafeBufferPointer { p in
                let shared = SendableDotBuffers(rows: p.baseAddress!, right: right, out: out)
                DispatchQueue.concurrentPerform(iterations: parts) { part in
                    let lower = part * rows / parts, upper = (part + 1) * rows / parts
                    qc_dot_block_f64(
                        shared.rows + lower, Int32(QC_ROW_F64), upper - lower, shared.right, dimension, columns, dimension,
                        shared.out + lower * ldo, ldo)
                }
            }
        }

        /// Per row of `rows`: ||a||^2 and <a, Y_j> for each target group (rows.count x groups), streamed.
        func normsAndTargetProducts(of rows: [Int], targets: TargetGroups) throws -> (norms: [Double], products: [Double]) {
            var norms = [Double](repeating: 0, count: rows.count)
            var products = [Double](repeating: 0, count: rows.count * targets.count)
            let groups = targets.count, dimension = self.dimension
            try targets.means.withUnsafeBufferPointer { y in
                try forEachTrajectoryBlock(of: rows) { first, count, values in
                    for i in 0..<count {
                        var sum = 0.0
                        let row = values + i * dimension
                        for j in 0..<dimension { sum += row[j] * row[j] }
                        norms[first + i] = sum
                    }
                    products.withUnsafeMutableBufferPointer { out in
                        Self.dots(values, count: count, with: y.baseAddress!, count: groups, dimension: dimension, into: out.baseAddress! + first * groups, ldo: groups)
                    }
                }
            }
            return (norms, products)
        }

        /// R = Y - W^T A_rows (groups x dimension) for weights W (rows.count x groups), streamed.
        func residual(of rows: [Int], weights: [Double], targets: TargetGroups) throws -> [Double] {
            var r = targets.means
            let groups = targets.count, dimension = self.dimension
            try weights.withUnsafeBufferPointer { w in
                try forEachTrajectoryBlock(of: rows) { first, count, values in
                    r.withUnsafeMutableBufferPointer { out in
                        BLAS.dgemm(
                            transposeA: true, m: groups, n: dimension, k: count, alpha: -1,
                            a: w.baseAddress! + first * groups, lda: groups, b: values, ldb: dimension,
                            beta: 1, c: out.baseAddress!, ldc: dimension)
                    }
                }
            }
            return r
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
        static func writeDirection(_ v: UnsafePointer<Float>, count d: Int, scale: Double, into out: UnsafeMutablePointer<Double>) {
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

extension GTP {
    /// How much memory GTP's streaming passes and its Gram matrix may take. The defaults keep GTP at
    /// the LESS paper's pool within a few GB; smaller limits only cost time (tests shrink them to
    /// exercise the bounded paths on small inputs).
    public struct Limits: Sendable {
        /// One block of trajectories streamed from the store (128 MiB: 512 trajectories of the LESS
        /// paper's 4 x 8,192 dimensions).
        public var trajectoryBlockBytes = 128 << 20
        /// The left side of a product of trajectories (256 MiB).
        public var productBlockBytes = 256 << 20
        /// A candidate set whose whole Gram matrix fits this gets every row at once (1 GiB); larger
        /// sets compute a row only when its variable enters an NNLS passive set.
        public var wholeGramBytes = 1 << 30
        /// How products of trajectories (Gram rows) are computed.
        public var productKernel = ProductKernel.blas

        /// ``blas``: DGEMM per block pair (about 3x the speed); ``canonical``: the fixed chain of
        /// `qc_dot_block_f64`, the reference the tests compare against.
        public enum ProductKernel: Sendable { case blas, canonical }

        public init() {}

        public static let standard = Limits()
    }
}

/// Output memory shared by workers writing disjoint rows.
struct SendableDoubles: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Double>
    init(_ pointer: UnsafeMutablePointer<Double>) { self.pointer = pointer }
}

/// The pointers of a dot-product block shared with workers (rows read-only, out written by disjoint rows).
struct SendableDotBuffers: @unchecked Sendable {
    let rows: UnsafePointer<UnsafeRawPointer?>
    let right: UnsafePointer<Double>
    let out: UnsafeMutablePointer<Double>
}

/// Row pointers shared read-only with workers.
struct SendableRowPointers: @unchecked Sendable {
    let pointers: UnsafePointer<UnsafeRawPointer>
    init(_ pointers: UnsafePointer<UnsafeRawPointer>) { self.pointers = pointers }
}
