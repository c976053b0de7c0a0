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
///   Cholesky pivot is below `pivotTolerance` times its diagonal is linearly dependent on the passive
///   set, so its gradient there is zero at the passive optimum; it is not admitted (admitting it would
///   make G_PP singular) and is not offered again until a removal shrinks the passive set.
final class ActiveSetNNLS {
    /// A column enters only if its squared distance to the span of the passive columns exceeds this
    /// fraction of its squared norm (an angle of about 1e-5 rad).
    static let pivotTolerance = 1e-10
    /// Gradients below this multiple of the largest |(A^T b)_j| / ||a_j|| count as zero.
    static let gradientTolerance = 1e-10

    private let gram: UnsafePointer<Double>
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
    /// Packed lower triangle of L: row r starts at r(r+1)/2 and holds r + 1 values.
    private var factor: UnsafeMutablePointer<Double>
    private var factorCapacity: Int
    private var candidateHeap: [(score: Double, index: Int)] = []
    private let threshold: Double

    /// Outer iterations run (gradient evaluations).
    private(set) var iterations = 0

    init(gram: UnsafePointer<Double>, p: Int, atb: UnsafePointer<Double>) {
        self.gram = gram
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
        factorCapacity = 64 * 65 / 2
        factor = .allocate(capacity: factorCapacity)
        var scale = 0.0
        for j in 0..<p {
            let g = gram[j * p + j]
            let root = g > 0 && g.isFinite ? g.squareRoot() : 0
            rootDiagonal[j] = root
            if root > 0 { scale = max(scale, abs(atb[j]) / root) }
        }
        threshold = Self.gradientTolerance * scale
    }

    deinit {
        for buffer in [x, gradient, rootDiagonal, forward, solution, scratch, ratios] { buffer.deallocate() }
        position.deallocate()
        rejected.deallocate()
        passive.deallocate()
        factor.deallocate()
    }

    /// Runs the method to optimality (or `maxIterations` gradient evaluations), optionally from a
    /// non-negative starting point; the answer is left in `x`.
    func run(warmStart: UnsafePointer<Double>?, maxIterations: Int) {
        if let warmStart {
            for j in 0..<p {
                let v = warmStart[j]
                guard v > 0, v.isFinite, rootDiagonal[j] > 0 else { continue }
                if append(j) { x[j] = v }
            }
            descend()
        }
        while iterations < maxIterations {
            iterations += 1
            computeGradient()
            let batch = 1 + passiveCount / 8
            let candidates = largestGradients(batch)
            if candidates.isEmpty { break }
            var added = 0
            for j in candidates {
                if append(j) { added += 1 } else { rejected[j] = true }
            }
            if added > 0 { descend() }
        }
    }

    /// gradient = A^T b - G x, computed from the rows of G for the passive variables (x is zero elsewhere).
    private func computeGradient() {
        gradient.update(from: atb, count: p)
        var k = 0
        while k + 4 <= passiveCount {
            let i0 = passive[k], i1 = passive[k + 1], i2 = passive[k + 2], i3 = passive[k + 3]
            DenseKernels.subtractCombination4(
                p, x[i0], gram + i0 * p, x[i1], gram + i1 * p, x[i2], gram + i2 * p, x[i3], gram + i3 * p, gradient)
            k += 4
        }
        while k < passiveCount {
            let i = passive[k]
            DenseKernels.axpy(p, -x[i], gram + i * p, gradient)
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
        let diagonal = gram[j * p + j]
        guard diagonal > 0, diagonal.isFinite else { return false }
        // v = L^{-1} G[P, j]
        let row = gram + j * p
        for i in 0..<n { scratch[i] = row[passive[i]] }
        for i in 0..<n {
            let offset = i * (i + 1) / 2
            scratch[i] = (scratch[i] - DenseKernels.dot(i, factor + offset, scratch)) / factor[offset + i]
        }
        let pivotSquared = diagonal - DenseKernels.dot(n, scratch, scratch)
        guard pivotSquared > Self.pivotTolerance * diagonal else { return false }
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
    /// Givens rotations on column pairs (q, q+1), (q+1, q+2), ..., applied row by row; the same
    /// rotations carry y = L^{-1} (A^T b)_P over.
    private func remove(at q: Int) {
        let n = passiveCount
        var cosines = [Double](), sines = [Double]()
        cosines.reserveCapacity(n - q)
        sines.reserveCapacity(n - q)
        for r in q..<(n - 1) {
            // Old row r + 1 (r + 2 entries) becomes new row r.
            let source = factor + (r + 1) * (r + 2) / 2
            scratch.update(from: source, count: r + 2)
            for k in q..<r {
                let c = cosines[k - q], s = sines[k - q]
                let a = scratch[k], b = scratch[k + 1]
                scratch[k] = c * a + s * b
                scratch[k + 1] = c * b - s * a
            }
            let a = scratch[r], b = scratch[r + 1]
            let h = (a * a + b * b).squareRoot()
            let c = h > 0 ? a / h : 1, s = h > 0 ? b / h : 0
            scratch[r] = h
            cosines.append(c)
            sines.append(s)
            (factor + r * (r + 1) / 2).update(from: scratch, count: r + 1)
        }
        for k in q..<(n - 1) {
            let c = cosines[k - q], s = sines[k - q]
            let a = forward[k], b = forward[k + 1]
            forward[k] = c * a + s * b
            forward[k + 1] = c * b - s * a
        }
        position[passive[q]] = -1
        for k in q..<(n - 1) {
            passive[k] = passive[k + 1]
            position[passive[k]] = k
        }
        passiveCount = n - 1
    }

    /// The inner loop: from the current feasible x, move toward the least-squares solution on P,
    /// dropping the variables that block the step, until that solution is strictly positive.
    private func descend() {
        while passiveCount > 0 {
            let n = passiveCount
            // solution = L^{-T} y by column-oriented back substitution.
            scratch.update(from: forward, count: n)
            for k in stride(from: n - 1, through: 0, by: -1) {
                let offset = k * (k + 1) / 2
                let value = scratch[k] / factor[offset + k]
                solution[k] = value
                if k > 0 { DenseKernels.axpy(k, -value, factor + offset, scratch) }
            }
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
            // The passive span shrank: columns refused as dependent may be independent now.
            rejected.update(repeating: false, count: p)
        }
    }
}
