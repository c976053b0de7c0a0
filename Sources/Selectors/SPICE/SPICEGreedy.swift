import Foundation

extension SPICE {
    /// Why a greedy run ended.
    enum StopReason: String {
        /// The budget was reached.
        case budget
        /// The best gain fell to `halfLife` times the first gain.
        case halfLife = "halflife"
        /// No candidate was left.
        case exhausted
    }

    /// One pick: the candidate (a position in the run's candidate list) and its value when picked.
    struct Pick {
        var position: Int
        /// gain - penalty, the criterion the pick maximised.
        var total: Double
        /// log(1 + alpha q), the exact increase of F.
        var gain: Double
        /// rho * max(0, -cos(g, sum of the picked rows)).
        var penalty: Double
    }

    /// What a greedy run produced.
    struct GreedyResult {
        var picks: [Pick] = []
        /// F(S) after each pick.
        var objective: [Double] = []
        /// Candidate refreshes (exact re-evaluations of gain and penalty).
        var evaluations = 0
        /// Dot products of a candidate with a direction b or with the running sum.
        var products = 0
        /// Lazy refreshes given up part-way because the candidate could no longer win the step.
        var abandoned = 0
        var stopReason = StopReason.budget
    }

    /// The greedy maximisation of gain(i|S) - rho * max(0, -cos(g_i, sum_S g)) over a list of rows.
    ///
    /// M_S^{-1} = I - B B^T is kept through its directions b (rows of `directions`), and every
    /// candidate carries q_i = g_i^T M_S^{-1} g_i as of the first `applied[i]` directions:
    ///
    /// - Sherman-Morrison: (M + alpha g g^T)^{-1} = M^{-1} - alpha M^{-1} g g^T M^{-1} / (1 + alpha g^T M^{-1} g).
    ///   With u = M^{-1} g = g - B (B^T g) and q = g^T u, the subtracted term is b b^T with
    ///   b = sqrt(alpha) u / sqrt(1 + alpha q). So picking j appends b_j to B, and every other
    ///   q_i drops by (g_i . b_j)^2.
    /// - Matrix determinant lemma: det(M + alpha g g^T) = det(M) (1 + alpha g^T M^{-1} g), so
    ///   log det M_{S+j} = log det M_S + log(1 + alpha q_j) with q_j = g_j^T M_S^{-1} g_j, the very
    ///   value the gain of j was computed from. By induction from log det M_{} = log det I = 0,
    ///   F(S) = log det M_S is exactly the sum of log(1 + alpha q_j) over the picks in pick order:
    ///   the objective trace is that running sum (equal up to rounding: the tests check it against a
    ///   Cholesky of I_k + alpha G_S G_S^T to 1e-5 relative; on realbench, 600 picks, it agrees to 6e-9).
    ///
    /// Lazy evaluation: q_i only decreases as directions are added (each step subtracts a square),
    /// so log(1 + alpha q_i) from an earlier refresh bounds the current gain from above, and the
    /// penalty is >= 0, so it bounds the current total too. Candidates sit in a max-heap keyed by
    /// that stale gain; a step pops and refreshes candidates until the next key cannot beat the
    /// best exact total seen (ties to the lower row), picks that best, and pushes the others back
    /// with their refreshed gains. Refreshes use ``Dots`` so that a refresh over several new
    /// directions gives the same bits as refreshing once per step: lazy and plain greedy then pick
    /// identical sequences.
    struct Greedy {
        let alpha: Double
        let rho: Double
        let halfLife: Double?
        let lazy: Bool

        /// Runs the greedy over `positions` (indices into `rows`), picking at most `budget`.
        func run(rows: Rows, positions: [Int], budget: Int) -> GreedyResult {
            let d = rows.dimension
            let capacity = max(0, min(budget, positions.count))
            let directions = UnsafeMutablePointer<Double>.allocate(capacity: max(1, capacity * d))
            let sum = UnsafeMutablePointer<Double>.allocate(capacity: max(1, d))
            sum.initialize(repeating: 0, count: max(1, d))
            defer {
                directions.deallocate()
                sum.deallocate()
            }
            return rows.values.withUnsafeBufferPointer { x in
                var state = State(
                    x: x.baseAddress!, d: d, positions: positions, rows: rows, directions: directions,
                    sum: sum, alpha: alpha, rho: rho)
                return state.run(budget: budget, halfLife: halfLife, lazy: lazy)
            }
        }
    }

    /// The mutable state of one greedy run. Candidates are numbered by their place in `positions`.
    private struct State {
        let x: UnsafePointer<Float>
        let d: Int
        let alpha: Double
        let rho: Double
        /// Compact row index of each candidate.
        let rowIndex: [Int]
        /// Source row number of each candidate (ties go to the lower one).
        let rowId: [Int]
        let norm: [Double]
        /// q = g^T M^{-1} g as of the first `applied` directions.
        var q: [Double]
        var applied: [Int]
        /// The directions b, one per row, `directionCount` of them.
        let directions: UnsafeMutablePointer<Double>
        var directionCount = 0
        /// The sum of the picked rows.
        let sum: UnsafeMutablePointer<Double>
        var sumNorm = 0.0
        var pickedCount = 0
        var evaluations = 0
        var products = 0
        var abandoned = 0
        /// Scratch for one refresh batch.
        var batchValue = [Double](repeating: 0, count: State.maxBatch)
        var batchNext = [Int](repeating: 0, count: State.maxBatch)
        var batchActive = [Bool](repeating: false, count: State.maxBatch)
        var pending: [(slot: Int, a: UnsafePointer<Float>, b: UnsafePointer<Double>)] = []

        /// The most candidates refreshed together (their rows, 4 KiB each at d = 1024, stay in L1/L2).
        static let maxBatch = 8
        /// Directions per block when computing a new direction (64 x 4 KiB at d = 1024, in L2).
        static let commitBlock = 64
        /// A lazy refresh checks whether it can give up at every 64th direction (mask 63): often
        /// enough to skip most of a hopeless candidate's backlog, rarely enough that a candidate
        /// given up makes real progress before it is popped again (measured: checking every 16
        /// directions re-popped 2.2x as many candidates and cost 1.5x the time).
        static let checkMask = 63

        init(
            x: UnsafePointer<Float>, d: Int, positions: [Int], rows: Rows, directions: UnsafeMutablePointer<Double>,
            sum: UnsafeMutablePointer<Double>, alpha: Double, rho: Double
        ) {
            self.x = x
            self.d = d
            self.alpha = alpha
            self.rho = rho
            rowIndex = positions
            rowId = positions.map { rows.rowIds[$0] }
            q = positions.map { rows.squaredNorms[$0] }
            norm = q.map { $0.squareRoot() }
            applied = [Int](repeating: 0, count: positions.count)
            self.directions = directions
            self.sum = sum
        }

        @inline(__always)
        func row(_ c: Int) -> UnsafePointer<Float> { x + rowIndex[c] * d }

        @inline(__always)
        func direction(_ t: Int) -> UnsafePointer<Double> { UnsafePointer(directions + t * d) }

        @inline(__always)
        func gain(_ c: Int) -> Double { log1p(alpha * q[c]) }

        /// rho * max(0, -cos(g_c, sum)) from h = g_c . sum; zero before the first pick.
        @inline(__always)
        func penalty(_ c: Int, h: Double) -> Double {
            guard norm[c] > 0, sumNorm > 0 else { return 0 }
            return rho * max(0, -h / (norm[c] * sumNorm))
        }

        var penalised: Bool { rho > 0 && pickedCount > 0 }

        /// Whether (total, candidate a) ranks before (other, candidate b).
        @inline(__always)
        func before(_ total: Double, _ a: Int, _ other: Double, _ b: Int) -> Bool {
            total > other || (total == other && rowId[a] < rowId[b])
        }

        mutating func run(budget: Int, halfLife: Double?, lazy: Bool) -> GreedyResult {
            var result = GreedyResult()
            var remaining = lazy ? [] : Array(0..<rowIndex.count)
            var heap = LazyHeap(entries: lazy ? rowIndex.indices.map { .init(key: gain($0), rowId: rowId[$0], candidate: $0) } : [])
            var objective = 0.0
            var firstGain = 0.0
            while result.picks.count < budget {
                let choice = lazy ? chooseLazily(&heap) : chooseExhaustively(&remaining)
                guard let pick = choice else {
                    result.stopReason = .exhausted
                    break
                }
                if let halfLife, !result.picks.isEmpty, pick.gain <= halfLife * firstGain {
                    result.stopReason = .halfLife
                    break
                }
                if result.picks.isEmpty { firstGain = pick.gain }
                commit(pick.position)
                objective += pick.gain
                result.picks.append(pick)
                result.objective.append(objective)
            }
            if result.picks.count == budget { result.stopReason = .budget }
            result.evaluations = evaluations
            result.products = products
            result.abandoned = abandoned
            return result
        }

        // MARK: Plain greedy

        /// The plain greedy step: refresh every remaining candidate.
        mutating func chooseExhaustively(_ remaining: inout [Int]) -> Pick? {
            guard !remaining.isEmpty else { return nil }
            var best: Pick? = nil
            var bestIndex = 0
            func consider(_ pick: Pick, at index: Int) {
                if best == nil || before(pick.total, pick.position, best!.total, best!.position) {
                    best = pick
                    bestIndex = index
                }
            }
            var i = 0
            while i < remaining.count {
                // Four candidates each exactly one direction behind (always, after the first step)
                // share the loads of that direction; anything else goes through `refresh`.
                let n = directionCount
                if i + 4 <= remaining.count, n > 0, remaining[i..<i + 4].allSatisfy({ applied[$0] == n - 1 }) {
                    let c0 = remaining[i], c1 = remaining[i + 1], c2 = remaining[i + 2], c3 = remaining[i + 3]
                    let r = Dots.dot4(row(c0), row(c1), row(c2), row(c3), direction(n - 1), d)
                    var h = SIMD4<Double>()
                    if penalised {
                        h = Dots.dot4(row(c0), row(c1), row(c2), row(c3), UnsafePointer(sum), d)
                        products += 4
                    }
                    products += 4
                    evaluations += 4
                    for lane in 0..<4 {
                        let c = remaining[i + lane]
                        let p = r[lane]
                        q[c] = max(0, q[c] - p * p)
                        applied[c] = n
                        let g = gain(c)
                        let pen = penalised ? penalty(c, h: h[lane]) : 0
                        consider(Pick(position: c, total: g - pen, gain: g, penalty: pen), at: i + lane)
                    }
                    i += 4
                } else {
                    let c = remaining[i]
                    let r = refresh([c], rival: nil)[0]
                    consider(Pick(position: c, total: r.gain - r.penalty, gain: r.gain, penalty: r.penalty), at: i)
                    i += 1
                }
            }
            remaining.remove(at: bestIndex)
            return best
        }

        // MARK: Lazy greedy

        /// The lazy step (see ``Greedy``). Candidates are popped and refreshed in batches that grow
        /// (1, 1, 2, 4, 8, 8, ...) while the step keeps needing more of them, so that a step decided
        /// by one refresh costs one, and a step that needs hundreds shares its reads of B.
        mutating func chooseLazily(_ heap: inout LazyHeap) -> Pick? {
            var best: Pick? = nil
            var popped: [(gain: Double, candidate: Int)] = []
            var batch: [Int] = []
            while true {
                batch.removeAll(keepingCapacity: true)
                let size = min(State.maxBatch, max(1, popped.count))
                while batch.count < size, let top = heap.top {
                    if let best, !before(top.key, top.candidate, best.total, best.position) { break }
                    heap.pop()
                    batch.append(top.candidate)
                }
                if batch.isEmpty { break }
                let results = refresh(batch, rival: best)
                for (c, r) in zip(batch, results) {
                    popped.append((r.gain, c))
                    guard r.complete else { continue }
                    let total = r.gain - r.penalty
                    if best == nil || before(total, c, best!.total, best!.position) {
                        best = Pick(position: c, total: total, gain: r.gain, penalty: r.penalty)
                    }
                }
            }
            for entry in popped where entry.candidate != best?.position {
                heap.push(.init(key: entry.gain, rowId: rowId[entry.candidate], candidate: entry.candidate))
            }
            return best
        }

        /// The outcome of refreshing one candidate.
        struct Refreshed {
            var gain: Double
            var penalty: Double
            /// False when the refresh was given up part-way (see ``refresh(_:rival:)``).
            var complete: Bool
        }

        /// Brings q up to date with every direction for each candidate of `batch` (at most
        /// `maxBatch`) and returns their gains and penalties.
        ///
        /// Directions are applied to each candidate in ascending order, one at a time into q, so the
        /// final bits do not depend on the batch or on pauses. The batch shares the reads of B:
        /// directions go by aligned blocks of four, and each block, once in cache, serves every
        /// candidate that needs it; the odd directions before the first and after the last block
        /// boundary go four (candidate, direction) pairs at a time. With a `rival` (the best exact
        /// pick of the step so far), a candidate is given up at a 64-direction boundary as soon as
        /// its gain from the directions applied so far cannot beat the rival: q only decreases, so
        /// that partial gain still bounds its final total, and it goes back to the heap with q and
        /// `applied` where they got to.
        mutating func refresh(_ batch: [Int], rival: Pick?) -> [Refreshed] {
            let n = directionCount
            for (i, c) in batch.enumerated() {
                batchValue[i] = q[c]
                batchNext[i] = applied[c]
                batchActive[i] = true
            }
            // Heads: single directions up to each candidate's first block boundary.
            for (i, c) in batch.enumerated() {
                let end = min(n, (batchNext[i] + 3) & ~3)
                for t in batchNext[i]..<end { pending.append((i, row(c), direction(t))) }
                batchNext[i] = end
            }
            flushPending()
            var t = (batch.indices.map { batchNext[$0] }.min() ?? n) & ~3
            while t + 4 <= n, batch.indices.contains(where: { batchActive[$0] && batchNext[$0] < n }) {
                let b0 = direction(t), b1 = b0 + d, b2 = b1 + d, b3 = b2 + d
                for (i, c) in batch.enumerated() where batchActive[i] && batchNext[i] == t {
                    let r = Dots.dot4(row(c), b0, b1, b2, b3, d)
                    var value = batchValue[i]
                    for lane in 0..<4 {
                        let p = r[lane]
                        value = max(0, value - p * p)
                    }
                    batchValue[i] = value
                    batchNext[i] = t + 4
                    if let rival, (t + 4) & State.checkMask == 0, !before(log1p(alpha * value), c, rival.total, rival.position) {
                        batchActive[i] = false
                    }
                }
                t += 4
            }
            // Tails: the directions after the last block boundary.
            for (i, c) in batch.enumerated() where batchActive[i] {
                for t in batchNext[i]..<n { pending.append((i, row(c), direction(t))) }
                batchNext[i] = n
            }
            flushPending()

            var out: [Refreshed] = []
            out.reserveCapacity(batch.count)
            for (i, c) in batch.enumerated() {
                products += batchNext[i] - applied[c]
                q[c] = batchValue[i]
                applied[c] = batchNext[i]
                evaluations += 1
                if !batchActive[i] {
                    abandoned += 1
                    out.append(Refreshed(gain: gain(c), penalty: 0, complete: false))
                } else if penalised {
                    products += 1
                    let h = Dots.dot(row(c), UnsafePointer(sum), d)
                    out.append(Refreshed(gain: gain(c), penalty: penalty(c, h: h), complete: true))
                } else {
                    out.append(Refreshed(gain: gain(c), penalty: 0, complete: true))
                }
            }
            return out
        }

        /// Applies the queued (batch slot, row, direction) products, four at a time, in queue order.
        private mutating func flushPending() {
            var k = 0
            while k < pending.count {
                let m = min(4, pending.count - k)
                var r = SIMD4<Double>()
                if m == 4 {
                    let (p0, p1, p2, p3) = (pending[k], pending[k + 1], pending[k + 2], pending[k + 3])
                    r = Dots.dotPairs4(p0.a, p0.b, p1.a, p1.b, p2.a, p2.b, p3.a, p3.b, d)
                } else {
                    for j in 0..<m { r[j] = Dots.dot(pending[k + j].a, pending[k + j].b, d) }
                }
                for j in 0..<m {
                    let slot = pending[k + j].slot
                    let p = r[j]
                    batchValue[slot] = max(0, batchValue[slot] - p * p)
                }
                k += m
            }
            pending.removeAll(keepingCapacity: true)
        }

        // MARK: Picking

        /// Adds candidate c to S: appends its direction b and adds g_c to the running sum.
        mutating func commit(_ c: Int) {
            let g = row(c)
            let qc = q[c]
            let n = directionCount
            if qc > 0 {
                // u = g - B (B^T g) over the n directions so far, a block of directions at a time so
                // that each block is read from memory once for both products; then
                // b = sqrt(alpha / (1 + alpha q)) u. Own kernels rather than BLAS, whose rounding
                // varies with its thread count, so that a recipe gives the same subset on any machine.
                let u = directions + n * d
                for j in 0..<d { u[j] = Double(g[j]) }
                var block = 0
                while block < n {
                    let end = min(n, block + State.commitBlock)
                    var t = block
                    while t + 4 <= end {
                        let b0 = direction(t), b1 = b0 + d, b2 = b1 + d, b3 = b2 + d
                        Dots.subtract4(u, Dots.dot4(g, b0, b1, b2, b3, d), b0, b1, b2, b3, d)
                        t += 4
                    }
                    while t < end {
                        Dots.subtract(u, Dots.dot(g, direction(t), d), direction(t), d)
                        t += 1
                    }
                    block = end
                }
                let scale = (alpha / (1 + alpha * qc)).squareRoot()
                for j in 0..<d { u[j] *= scale }
                directionCount += 1
            }
            var squares = 0.0
            for j in 0..<d {
                sum[j] += Double(g[j])
                squares += sum[j] * sum[j]
            }
            sumNorm = squares.squareRoot()
            pickedCount += 1
        }
    }
}
