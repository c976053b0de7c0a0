/// The gradients of one model checkpoint: the pool's and the target's, in one projection.
public struct CheckpointGradients: Sendable {
    /// Checkpoint number (as the user numbered it at attach time).
    public var checkpoint: Int
    /// The learning rate associated with the checkpoint (LESS weights checkpoints by it).
    public var learningRate: Double
    /// n x d pool gradients (for LESS: Adam-preconditioned).
    public var pool: any VectorSource
    /// m x d target (validation) gradients at the same checkpoint, same projection.
    public var target: Matrix

    public init(checkpoint: Int, learningRate: Double, pool: any VectorSource, target: Matrix) {
        self.checkpoint = checkpoint
        self.learningRate = learningRate
        self.pool = pool
        self.target = target
    }
}

extension Array where Element == CheckpointGradients {
    /// The pool of the checkpoint after checkpoint `index`, nil after the last: what a scan of the
    /// checkpoints in turn reads next (for ``VectorSource/forEachBlock(thenPrefetching:_:)``).
    public func pool(after index: Int) -> (any VectorSource)? {
        index + 1 < count ? self[index + 1].pool : nil
    }

    /// Learning-rate weights w_c = eta_c / sum(eta) (docs/SELECTORS.md, "less").
    public func learningRateWeights() throws -> [Double] {
        let total = reduce(0) { $0 + $1.learningRate }
        guard total > 0, allSatisfy({ $0.learningRate >= 0 && $0.learningRate.isFinite }) else {
            throw SelectorError("checkpoint learning rates must be non-negative and not all zero")
        }
        return map { $0.learningRate / total }
    }

    /// Checks that every checkpoint has the same pool size and that pool and target dimensions agree.
    public func validateShapes() throws {
        guard let first = first else { throw SelectorError("no gradient checkpoints given") }
        for c in self {
            guard c.pool.rowCount == first.pool.rowCount else {
                throw SelectorError("checkpoint \(c.checkpoint) has \(c.pool.rowCount) pool rows, checkpoint \(first.checkpoint) has \(first.pool.rowCount)")
            }
            guard c.pool.dimension == c.target.columns else {
                throw SelectorError("checkpoint \(c.checkpoint): pool dimension \(c.pool.dimension) differs from target dimension \(c.target.columns)")
            }
            guard c.target.rows == first.target.rows else {
                throw SelectorError("checkpoint \(c.checkpoint) has \(c.target.rows) target rows, checkpoint \(first.checkpoint) has \(first.target.rows)")
            }
        }
    }

    /// Rows usable at every checkpoint (nil when all rows are usable everywhere).
    public func commonUsableRows() -> RowMask? {
        var mask: RowMask? = nil
        for c in self {
            guard let m = c.pool.usableRows else { continue }
            if var current = mask {
                for r in current.setRows where !m.contains(r) { current.remove(r) }
                mask = current
            } else {
                mask = m
            }
        }
        return mask
    }
}
