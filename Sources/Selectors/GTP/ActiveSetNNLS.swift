import COpenBLAS

extension NNLS {
    /// One non-negative least-squares problem min ||A x - b||^2, x >= 0, solved from the Gram matrix
    /// G = A^T A and A^T b alone by the Lawson-Hanson active-set method (Lawson & Hanson 1974, ch. 23;
    /// on the Gram matrix as in Bro & De Jong's FNNLS, 1997).
    ///
    /// The passive set P (the variables free to be positive) carries a Cholesky factor L of G_PP that is
    /// updated, never recomputed: appending a variable costs one forward substitution, dropping one a
    /// sweep of Givens rotations; y = L^{-1} (A^T b)_P is updated alongside, so each least-squares solve
    /// on P is a single back substitution.
    ///
    /// Two departures from the textbook loop, neither changing the answer:
    /// - Several variables may enter at once (the `batch` largest scaled gradients, growing with |P|).
    ///   The inner loop still ends at the least-squares optimum of a passive set with all values positive
    ///   and a strictly smaller objective, so the method stays finite and exact; it just needs far fewer
    ///   gradient evaluations (each costs |P| x p) when the optimum has hundreds of positive entries.
    /// - Rank deficiency (duplicate or dependent columns, p larger than the rank): a variable whose new
    ///   Cholesky pivot squared is below `pivotTolerance` times its diagonal (the squared sine of its
    ///   angle to the span of the passive columns) counts as linearly dependent on the passive
    ///   set, so its gradient there is zero at the passive optimum; it is not admitted (admitting it would
    ///   make G_PP singular), the rest of that batch waits for the next gradient, and refused variables
    ///   are offered once more before the method stops if a removal has shrunk the passive set since.
    final class ActiveSetNNLS {
        /// Scaled gradients w_j / ||a_j|| below this multiple of max(max_j |(A^T b)_j| / ||a_j||, sum_P ||a_i|| x_i)
        /// count as zero (the second term bounds the rounding error of w = A^T b - G x).
        static let gradientTolerance = 1e-10

        private let gram: any GramAccess
        private let p: Int
        private let atb: UnsafePointer<Double>

        /// The current iterate (length p).
        let x: UnsafeMutablePointer<Double>
        private let gradient: UnsafeMutablePointer<Double>
        private let rootDiagonal: UnsafeMutablePointer<Double>
        /// Position of each variable in `passive`, or -1.
        private let position: UnsafeMutablePointer<Int>
        private let rejected: UnsafeMutablePointer<Bool>
        /// Passive variables in factor order.
        private let passive: UnsafeMutablePointer<Int>
        private var passiveCount = 0
        /// L^{-1} (A^T b)_P.
        private let forward: UnsafeMutablePointer<Double>
        private let solution: UnsafeMutablePointer<Double>
        private let scratch: UnsafeMutablePointer<Double>
        private let ratios: UnsafeMutablePointer<Double>
        /// Workspace of `remove(at:)`: rotations, and eight rows interleaved.
        private let cosines: UnsafeMutablePointer<Double>
        private let sines: UnsafeMutablePointer<Double>
        private let block: UnsafeMutablePointer<Double>
        private static let removalLanes = 8
        /// Packed lower triangle of L: row r starts at r(r+1)/2 and holds r + 1 values.
        private var factor: UnsafeMutablePointer<Double>
        private var factorCapacity: Int
        private var candidateHeap: [(score: Double, index: Int)] = []
        /// max_j |(A^T b)_j| / ||a_j||: the size of the target as the columns see it.
        private let targetScale: Double
        /// Gradients at or below this (scaled by 1 / ||a_j||) count as zero; set with each gradient.
        private var threshold = 0.0
        /// True when variables were refused as dependent and the passive set has shrunk since.
        private var staleRejections = false
        private var rejectedCount = 0

        /// Outer iterations run (gradient evaluations).
        private(set) var iterations = 0

        /// A column enters only if its squared distance to the span of the passive columns exceeds this
        /// fraction of its squared norm.
        private let pivotTolerance: Double

        init(gram: any GramAccess, atb: UnsafePointer<Double>, pivotTolerance: Double) {
            self.pivotTolerance = pivotTolerance
            self.gram = gram
            let p = gram.count
            self.p = p
            self.atb = atb
            x = .allocate(capacity: p); x.initialize(repeating: 0, count: p)
            gradient = .allocate(capacity: p); gradient.initialize(repeating: 0, count: p)
            rootDiagonal = .allocate(capacity: p)
            position = .allocate(capacity: p); position.initialize(repeating: -1, count: p)
            rejected = .allocate(capacity: p); rejected.initialize(repeating: false, count: p)
            passive = .allocate(capacity: p)
            forward = .allocate(capacity: p)
            solution = .allocate(capacity: p)
            scratch = .allocate(capacity: p)
            ratios = .allocate(capacity: p)
            cosines = .allocate(capacity: p)
            sines = .allocate(capacity: p)
            block = .allocate(capacity: Self.removalLanes * (p + 2))
            factorCapacity = 64 * 65 / 2
            factor = .allocate(capacity: factorCapacity)
            var scale = 0.0
            for j in 0..<p {
                let g = gram.diagonal(j)
                let root = g > 0 && g.isFinite ? g.squareRoot() : 0
                rootDiagonal[j] = root
                if root > 0 { scale = max(scale, abs(atb[j]) / root) }
            }
            targetScale = scale
        }

        deinit {
            for buffer in [x, gradient, rootDiagonal, forward, solution, scratch, ratios, cosines, sines, block] { buffer.deallocate() }
            position.deallocate()
            rejected.deallocate()
            passive.deallocate()
            factor.deallocate()
        }

        /// Runs the method to optimality (or `maxIterations` gradient evaluations), optionally from a
        /// non-negative starting point; the answer is left in `x`. Gram rows are requested from `gram`
        /// just before they are needed.
        func run(warmStart: UnsafePointer<Double>?, maxIterations: Int) throws {
            try gram.ensure(warmSupport(warmStart))
            start(warmStart: warmStart)
            self.maxIterations = maxIterations
            while let entering = propose() {
                try gram.ensure(entering)
                enter(entering)
            }
        }

        /// The variables a warm start would make passive (their Gram rows are needed by ``start(warmStart:)``).
        func warmSupport(_ warmStart: UnsafePointer<Double>?) -> [Int] {
            guard let warmStart else { return [] }
            return (0..<p).filter { warmStart[$0] > 0 && warmStart[$0].isFinite && rootDiagonal[$0] > 0 }
        }

        /// Takes the warm start's positive entries as the first passive set (their rows must be available).
        func start(warmStart: UnsafePointer<Double>?) {
            guard let warmStart else { return }
            for j in 0..<p {
                let v = warmStart[j]
                guard v > 0, v.isFinite, rootDiagonal[j] > 0 else { continue }
                if append(j) { x[j] = v }
            }
            descend()
        }

        var maxIterations = Int.max

        /// One outer step, first half: the gradient at x and the variables that should enter next
        /// (their Gram rows must be made available before ``enter(_:)``); nil at the optimum or at the
        /// iteration cap.
        func propose() -> [Int]? {
            guard iterations < maxIterations else { return nil }
            iterations += 1
            computeGradient()
            let batch = 1 + passiveCount / 8
            var candidates = largestGradients(batch)
            if candidates.isEmpty && staleRejections {
                rejected.update(repeating: false, count: p)
                rejectedCount = 0
                staleRejections = false
                candidates = largestGradients(batch)
            }
            return candidates.isEmpty ? nil : candidates
        }

        /// One outer step, second half: appends the proposed variables (stopping at the first one that
        /// is numerically dependent on the passive set) and descends to the new passive optimum.
        func enter(_ candidates: [Int]) {
            var added = 0
            for j in candidates {
                if append(j) {
                    added += 1
                } else {
                    // The passive columns plus this batch may already span everything the rest of the
                    // batch would add: stop here and let the next gradient decide.
                    rejected[j] = true
                    rejectedCount += 1
                    break
                }
            }
            if added > 0 { descend() }
        }

        /// gradient = A^T b - G x, computed from the rows of G for the passive variables (x is zero elsewhere).
        private func computeGradient() {
            gradient.update(from: atb, count: p)
            // Rounding in A^T b - G x grows with sum_i ||a_i|| x_i, an upper bound of ||A x||.
            var fitScale = 0.0
            for k in 0..<passiveCount { fitScale += rootDiagonal[passive[k]] * x[passive[k]] }
            threshold = Self.gradientTolerance * max(targetScale, fitScale)
            var k = 0
            while k + 4 <= passiveCount {
                let i0 = passive[k], i1 = passive[k + 1], i2 = passive[k + 2], i3 = passive[k + 3]
                DenseKernels.subtractCombination4(
                    p, x[i0], gram.row(i0), x[i1], gram.row(i1), x[i2], gram.row(i2), x[i3], gram.row(i3), gradient)
                k += 4
            }
            while k < passiveCount {
                let i = passive[k]
                DenseKernels.axpy(p, -x[i], gram.row(i), gradient)
                k += 1
            }
        }

        /// Up to `count` non-passive, admissible variables with the largest positive scaled gradient
        /// w_j / ||a_j|| above the tolerance, best first (ties: lower index).
        private func largestGradients(_ count: Int) -> [Int] {
            candidateHeap.removeAll(keepingCapacity: true)
            // Min-heap on (score, -index): the root is the weakest kept candidate.
            func weaker(_ a: (score: Double, index: Int), _ b: (score: Double, index: Int)) -> Bool {
                a.score < b.score || (a.score == b.score && a.index > b.index)
            }
            for j in 0..<p where position[j] < 0 && !rejected[j] && rootDiagonal[j] > 0 {
                let score = gradient[j] / rootDiagonal[j]
                guard score > threshold else { continue }
                let item = (score: score, index: j)
                if candidateHeap.count < count {
                    candidateHeap.append(item)
                    var i = candidateHeap.count - 1
                    while i > 0 {
                        let parent = (i - 1) / 2
                        guard weaker(candidateHeap[i], candidateHeap[parent]) else { break }
                        candidateHeap.swapAt(i, parent)
                        i = parent
                    }
                } else if weaker(candidateHeap[0], item) {
                    candidateHeap[0] = item
                    var i = 0
                    while true {
                        let l = 2 * i + 1, r = l + 1
                        var m = i
                        if l < candidateHeap.count && weaker(candidateHeap[l], candidateHeap[m]) { m = l }
                        if r < candidateHeap.count && weaker(candidateHeap[r], candidateHeap[m]) { m = r }
                        if m == i { break }
                        candidateHeap.swapAt(i, m)
                        i = m
                    }
                }
            }
            return candidateHeap.sorted { weaker($1, $0) }.map(\.index)
        }

        /// Adds variable j to the passive set, extending the Cholesky factor; false (and no change) when
        /// its column is numerically dependent on the passive columns.
        private func append(_ j: Int) -> Bool {
            let n = passiveCount
            let diagonal = gram.diagonal(j)
            guard diagonal > 0, diagonal.isFinite else { return false }
            // v = L^{-1} G[P, j]
            let row = gram.row(j)
            for i in 0..<n { scratch[i] = row[passive[i]] }
            if n > 0 { cblas_dtpsv(CblasRowMajor, CblasLower, CblasNoTrans, CblasNonUnit, Int32(n), factor, scratch, 1) }
            let pivotSquared = diagonal - DenseKernels.dot(n, scratch, scratch)
            guard pivotSquared > pivotTolerance * diagonal else { return false }
            let pivot = pivotSquared.squareRoot()
            reserveFactor(rows: n + 1)
            let offset = n * (n + 1) / 2
            (factor + offset).update(from: scratch, count: n)
            factor[offset + n] = pivot
            forward[n] = (atb[j] - DenseKernels.dot(n, scratch, forward)) / pivot
            passive[n] = j
            position[j] = n
            passiveCount = n + 1
            return true
        }

        private func reserveFactor(rows: Int) {
            let needed = rows * (rows + 1) / 2
            guard needed > factorCapacity else { return }
            var capacity = factorCapacity
            while capacity < needed { capacity *= 2 }
            let grown = UnsafeMutablePointer<Double>.allocate(capacity: capacity)
            grown.update(from: factor, count: passiveCount * (passiveCount + 1) / 2)
            factor.deallocate()
            factor = grown
            factorCapacity = capacity
        }

        /// Removes the variable at factor position q: drops row q of L and restores the triangle with
        /// Givens rotations on column pairs (q, q+1), (q+1, q+2), ...; the same rotations carry
        /// y = L^{-1} (A^T b)_P over.
        ///
        /// Row r needs every rotation before its own, a dependent chain along the row; so rows are taken
        /// eight at a time, interleaved, and each rotation is applied to all eight as two SIMD4 operations.
        private func remove(at q: Int) {
            let n = passiveCount
            let last = n - 1
            let lanes = Self.removalLanes
            var r0 = q
            while r0 < last {
                let rows = min(lanes, last - r0)
                let width = r0 + rows + 1 - q  // columns q ..< r0 + rows + 1 take part
                block.update(repeating: 0, count: width * lanes)
                for t in 0..<rows {
                    // New row r is old row r + 1 (entries 0 ... r + 1).
                    let r = r0 + t
                    let source = factor + (r + 1) * (r + 2) / 2
                    for k in q...(r + 1) { block[(k - q) * lanes + t] = source[k] }
                }
                let raw = UnsafeMutableRawPointer(block)
                let stride = lanes * 8
                for k in q..<r0 {
                    let c = SIMD4<Double>(repeating: cosines[k]), s = SIMD4<Double>(repeating: sines[k])
                    let at = (k - q) * stride, bt = at + stride
                    let a0 = raw.load(fromByteOffset: at, as: SIMD4<Double>.self)
                    let a1 = raw.load(fromByteOffset: at + 32, as: SIMD4<Double>.self)
                    let b0 = raw.load(fromByteOffset: bt, as: SIMD4<Double>.self)
                    let b1 = raw.load(fromByteOffset: bt + 32, as: SIMD4<Double>.self)
                    raw.storeBytes(of: c * a0 + s * b0, toByteOffset: at, as: SIMD4<Double>.self)
                    raw.storeBytes(of: c * a1 + s * b1, toByteOffset: at + 32, as: SIMD4<Double>.self)
                    raw.storeBytes(of: c * b0 - s * a0, toByteOffset: bt, as: SIMD4<Double>.self)
                    raw.storeBytes(of: c * b1 - s * a1, toByteOffset: bt + 32, as: SIMD4<Double>.self)
                }
                for t in 0..<rows {
                    let r = r0 + t
                    for k in r0..<r {
                        let a = block[(k - q) * lanes + t], b = block[(k + 1 - q) * lanes + t]
                        block[(k - q) * lanes + t] = cosines[k] * a + sines[k] * b
                        block[(k + 1 - q) * lanes + t] = cosines[k] * b - sines[k] * a
                    }
                    let a = block[(r - q) * lanes + t], b = block[(r + 1 - q) * lanes + t]
                    let h = (a * a + b * b).squareRoot()
                    cosines[r] = h > 0 ? a / h : 1
                    sines[r] = h > 0 ? b / h : 0
                    block[(r - q) * lanes + t] = h
                }
                for t in 0..<rows {
                    let r = r0 + t
                    let target = factor + r * (r + 1) / 2
                    // Columns before q are untouched: move them (the source, old row r + 1, lies after the
                    // target and has not been overwritten yet).
                    target.update(from: factor + (r + 1) * (r + 2) / 2, count: q)
                    for k in q...r { target[k] = block[(k - q) * lanes + t] }
                }
                r0 += rows
            }
            for k in q..<last {
                let a = forward[k], b = forward[k + 1]
                forward[k] = cosines[k] * a + sines[k] * b
                forward[k + 1] = cosines[k] * b - sines[k] * a
            }
            position[passive[q]] = -1
            for k in q..<last {
                passive[k] = passive[k + 1]
                position[passive[k]] = k
            }
            passiveCount = last
        }

        /// The inner loop: from the current feasible x, move toward the least-squares solution on P,
        /// dropping the variables that block the step, until that solution is strictly positive.
        private func descend() {
            while passiveCount > 0 {
                let n = passiveCount
                // solution = L^{-T} y.
                solution.update(from: forward, count: n)
                cblas_dtpsv(CblasRowMajor, CblasLower, CblasTrans, CblasNonUnit, Int32(n), factor, solution, 1)
                var alpha = Double.infinity
                for k in 0..<n {
                    let z = solution[k]
                    if z > 0 { ratios[k] = .infinity; continue }
                    let current = x[passive[k]]
                    let ratio = current <= 0 || !z.isFinite ? 0 : current / (current - z)
                    ratios[k] = ratio
                    alpha = min(alpha, ratio)
                }
                if alpha == .infinity {
                    for k in 0..<n { x[passive[k]] = solution[k] }
                    return
                }
                var blocking: [Int] = []
                for k in 0..<n {
                    let i = passive[k]
                    let stepped = x[i] + alpha * (solution[k] - x[i])
                    // A variable with a positive target value stays even at zero (after a step of length
                    // zero it moves on the next round); one with a non-positive target leaves when it
                    // blocks the step or rounding brought it to zero.
                    if !(solution[k] > 0) && (ratios[k] <= alpha || !(stepped > 0)) {
                        x[i] = 0
                        blocking.append(k)
                    } else {
                        x[i] = max(0, stepped)
                    }
                }
                for k in blocking.reversed() { remove(at: k) }
                // The passive span shrank: columns refused as dependent may be independent now (they are
                // offered again before the method declares optimality).
                staleRejections = staleRejections || rejectedCount > 0
            }
        }
    }
}
