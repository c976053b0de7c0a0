import Dispatch

/// Non-negative least squares from the Gram matrix: min ||A x - b||^2 subject to x >= 0, given only
/// G = A^T A and A^T b.
///
/// The method is Lawson-Hanson's active set with an incrementally updated Cholesky factor of the
/// passive set (see `ActiveSetNNLS` for the details and the two safe departures from the textbook:
/// several variables may enter per step, and numerically dependent columns never enter). Working on
/// the p x p Gram matrix makes each step independent of the length of the columns of A, and a problem
/// with many right-hand sides shares one Gram matrix.
///
/// Rank-deficient problems (duplicate columns, more columns than rows) are handled: the value
/// ||A x - b|| is optimal, and x is a basic solution (its positive entries belong to linearly
/// independent columns), so of two identical columns at most one is positive. "Linearly dependent"
/// means: the squared sine of the column's angle to the span of the positive columns is at most
/// `pivotTolerance` (default ``defaultPivotTolerance``; a caller whose data carry fewer significant
/// digits than Double, such as float16 gradients, may treat nearly parallel columns as one by raising it).
public enum NNLS {
    /// sin^2 of the smallest angle at which a column still counts as independent: 1e-10 (about 1e-5 rad),
    /// safely above Double rounding in the Gram matrix.
    public static let defaultPivotTolerance = 1e-10

    /// Solves one problem.
    ///
    /// - Parameters:
    ///   - gram: G = A^T A, p x p, row-major, symmetric positive semi-definite.
    ///   - atb: A^T b, length p.
    ///   - warmStart: an optional starting point (negative entries count as zero); a good one, such as
    ///     the solution of a nearby problem, saves most of the work.
    ///   - maxIterations: a cap on the gradient evaluations (default 3p + 30, which exact arithmetic
    ///     never needs); when it is hit, the last feasible iterate is returned.
    ///   - pivotTolerance: see the type's documentation.
    /// - Returns: x, length p, all entries >= 0.
    public static func solve(
        gram: [Double], p: Int, atb: [Double], warmStart: [Double]? = nil, maxIterations: Int? = nil,
        pivotTolerance: Double = defaultPivotTolerance
    ) -> [Double] {
        precondition(p >= 0 && gram.count == p * p, "the Gram matrix must hold p * p = \(p * p) values, not \(gram.count)")
        precondition(atb.count == p, "A^T b must have p = \(p) entries, not \(atb.count)")
        precondition(warmStart.map { $0.count == p } ?? true, "the warm start must have p = \(p) entries")
        guard p > 0 else { return [] }
        let dense = DenseGram(gram, p: p)
        return atb.withUnsafeBufferPointer { b in
            if let warmStart {
                return warmStart.withUnsafeBufferPointer { w in
                    solve(gram: dense, atb: b.baseAddress!, warmStart: w.baseAddress!, maxIterations: maxIterations, pivotTolerance: pivotTolerance)
                }
            }
            return solve(gram: dense, atb: b.baseAddress!, warmStart: nil, maxIterations: maxIterations, pivotTolerance: pivotTolerance)
        }
    }

    /// Solves one problem per right-hand side, all sharing the Gram matrix (for GTP: one per target
    /// group), in parallel on the available cores. Each answer equals what ``solve(gram:p:atb:warmStart:maxIterations:)``
    /// returns for that right-hand side alone.
    ///
    /// - Parameters:
    ///   - atbs: A^T b_j for each right-hand side j, each of length p.
    ///   - warmStarts: nil, or one optional starting point per right-hand side.
    public static func solve(
        gram: [Double], p: Int, atbs: [[Double]], warmStarts: [[Double]?]? = nil, maxIterations: Int? = nil,
        pivotTolerance: Double = defaultPivotTolerance
    ) -> [[Double]] {
        precondition(p >= 0 && gram.count == p * p, "the Gram matrix must hold p * p = \(p * p) values, not \(gram.count)")
        precondition(atbs.allSatisfy { $0.count == p }, "every A^T b must have p = \(p) entries")
        precondition(warmStarts.map { $0.count == atbs.count } ?? true, "one warm start (or nil) per right-hand side")
        precondition(warmStarts.map { $0.allSatisfy { $0.map { $0.count == p } ?? true } } ?? true, "warm starts must have p = \(p) entries")
        guard p > 0 else { return atbs.map { _ in [] } }
        let dense = DenseGram(gram, p: p)
        var results = [[Double]](repeating: [], count: atbs.count)
        results.withUnsafeMutableBufferPointer { out in
            let shared = SharedResults(results: out.baseAddress!)
            DispatchQueue.concurrentPerform(iterations: atbs.count) { j in
                let x = atbs[j].withUnsafeBufferPointer { b in
                    if let start = warmStarts?[j] {
                        return start.withUnsafeBufferPointer { w in
                            solve(gram: dense, atb: b.baseAddress!, warmStart: w.baseAddress!, maxIterations: maxIterations, pivotTolerance: pivotTolerance)
                        }
                    }
                    return solve(gram: dense, atb: b.baseAddress!, warmStart: nil, maxIterations: maxIterations, pivotTolerance: pivotTolerance)
                }
                shared.results[j] = x
            }
        }
        return results
    }

    /// One problem on a Gram matrix whose rows are all available (no errors possible).
    static func solve(
        gram: DenseGram, atb: UnsafePointer<Double>, warmStart: UnsafePointer<Double>?, maxIterations: Int?, pivotTolerance: Double
    ) -> [Double] {
        precondition(pivotTolerance >= 0 && pivotTolerance < 1, "the pivot tolerance must lie in [0, 1)")
        let solver = ActiveSetNNLS(gram: gram, atb: atb, pivotTolerance: pivotTolerance)
        // A dense Gram matrix never fails to provide a row.
        try! solver.run(warmStart: warmStart, maxIterations: maxIterations ?? (3 * gram.count + 30))
        return Array(UnsafeBufferPointer(start: solver.x, count: gram.count))
    }

    /// Solves one problem per right-hand side on a Gram matrix that computes its rows on demand
    /// (GTP's candidate systems): the problems advance in lockstep, each outer step proposing its
    /// entering variables in parallel, then one ``GramAccess/ensure(_:)`` call for all of them (one
    /// batched product instead of one per problem), then the passive-set updates in parallel. Each
    /// answer equals what a lone solve of that right-hand side returns.
    public static func solveInLockstep(
        gram: any GramAccess, atbs: [[Double]], warmStarts: [[Double]?]?, maxIterations: Int? = nil,
        pivotTolerance: Double = defaultPivotTolerance
    ) throws -> [[Double]] {
        let p = gram.count
        guard p > 0 else { return atbs.map { _ in [] } }
        precondition(atbs.allSatisfy { $0.count == p }, "every A^T b must have p = \(p) entries")
        // The solvers keep pointers to their right-hand sides and warm starts for their whole life.
        let b = atbs.map { values -> UnsafeMutablePointer<Double> in
            let copy = UnsafeMutablePointer<Double>.allocate(capacity: p)
            copy.update(from: values, count: p)
            return copy
        }
        defer { for pointer in b { pointer.deallocate() } }
        let solvers = b.map { ActiveSetNNLS(gram: gram, atb: $0, pivotTolerance: pivotTolerance) }
        for solver in solvers { solver.maxIterations = maxIterations ?? (3 * p + 30) }
        let box = SolverBox(solvers)
        let starts: [[Double]?] = warmStarts ?? atbs.map { _ in nil }
        try gram.ensure(Array(Set(zip(solvers, starts).flatMap { solver, start in
            start.map { w in w.withUnsafeBufferPointer { solver.warmSupport($0.baseAddress!) } } ?? []
        })))
        DispatchQueue.concurrentPerform(iterations: solvers.count) { j in
            if let start = starts[j] {
                start.withUnsafeBufferPointer { box.solvers[j].start(warmStart: $0.baseAddress!) }
            }
        }
        var running = Array(solvers.indices)
        while !running.isEmpty {
            let proposals = ProposalBox(count: solvers.count)
            let asked = running
            DispatchQueue.concurrentPerform(iterations: asked.count) { k in
                let j = asked[k]
                proposals.set(j, box.solvers[j].propose())
            }
            running = running.filter { proposals.value($0) != nil }
            try gram.ensure(Array(Set(running.flatMap { proposals.value($0)! })))
            let active = running
            DispatchQueue.concurrentPerform(iterations: active.count) { k in
                let j = active[k]
                box.solvers[j].enter(proposals.value(j)!)
            }
        }
        return solvers.map { Array(UnsafeBufferPointer(start: $0.x, count: p)) }
    }
}

/// The solvers of a lockstep run, each touched by one worker at a time.
private final class SolverBox: @unchecked Sendable {
    let solvers: [NNLS.ActiveSetNNLS]
    init(_ solvers: [NNLS.ActiveSetNNLS]) { self.solvers = solvers }
}

/// One proposal slot per problem, each written by one worker.
private final class ProposalBox: @unchecked Sendable {
    private let values: UnsafeMutablePointer<[Int]?>
    private let count: Int
    init(count: Int) {
        self.count = count
        values = .allocate(capacity: count)
        values.initialize(repeating: nil, count: count)
    }
    deinit {
        values.deinitialize(count: count)
        values.deallocate()
    }
    func set(_ j: Int, _ value: [Int]?) { values[j] = value }
    func value(_ j: Int) -> [Int]? { values[j] }
}

/// The result slots, one per task, shared by the concurrent solves.
private struct SharedResults: @unchecked Sendable {
    let results: UnsafeMutablePointer<[Double]>
}
