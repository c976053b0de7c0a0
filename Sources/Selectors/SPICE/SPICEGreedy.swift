import CKernels
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
        /// Candidate refreshes (exact re-evaluations of gain and penalty, complete or given up).
        var evaluations = 0
        /// Products of a candidate with a direction b or with the running sum.
        var products = 0
        /// Lazy refreshes given up part-way because the candidate could no longer win the step.
        var abandoned = 0
        /// Picks the guard refused (they left the candidates).
        var refused = 0
        var stopReason = StopReason.budget
    }

    /// How a step chooses among the candidates.
    enum Strategy {
        /// Every remaining candidate refreshed every step (the definition; for tests).
        case plain
        /// Lazy greedy: stale gains bound the current ones from above; the same picks as `plain`.
        case lazy
        /// Stochastic greedy (Mirzasoleiman et al. 2015): each step chooses the best of a seeded
        /// random sample of ceil((m / k) ln(1 / epsilon)) remaining candidates, lazily.
        case stochastic(epsilon: Double, seed: UInt64)
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
    ///   F(S) = log det M_S is exactly the sum of log(1 + alpha q_j) over the picks in pick order: the
    ///   objective trace is that running sum.
    ///
    /// Lazy evaluation: q_i only decreases as directions are added, so log(1 + alpha q_i) from an
    /// earlier refresh bounds the current gain from above, and the penalty is >= 0, so it bounds the
    /// current total too. Candidates sit in a max-heap keyed by that stale gain; a step pops and
    /// refreshes candidates until the next key cannot beat the best exact total seen (ties to the lower
    /// row), picks that best, and pushes the others back with their refreshed gains.
    ///
    /// Refreshes are blocked: a batch of candidates, read in place from the store, meets a run of
    /// directions in one tiled kernel (``Refresher``). Every product follows one canonical chain of
    /// fused multiply-adds and q takes the squares in ascending direction order, so a candidate's q
    /// has the same bits however its refreshes were batched or split over threads: the lazy and plain
    /// greedy pick identical sequences, on any machine.
    struct Greedy {
        let alpha: Double
        let rho: Double
        let halfLife: Double?
        let strategy: Strategy
        var progress: SelectionProgressHandler? = nil
        /// Consulted before each pick is committed; a refused pick leaves the candidates.
        var selectionGuard: (any SelectionGuard)? = nil

        /// Runs the greedy over `positions` (indices into `candidates`), picking at most `budget`.
        func run(candidates: Candidates, positions: [Int], budget: Int) throws -> GreedyResult {
            let state = try State(candidates: candidates, positions: positions, capacity: max(0, min(budget, positions.count)), alpha: alpha, rho: rho)
            return try state.run(budget: budget, halfLife: halfLife, strategy: strategy, guard: selectionGuard, progress: progress)
        }
    }

    /// The mutable state of one greedy run. Candidates are numbered by their place in `positions`.
    final class State {
        let alpha: Double
        let rho: Double
        let d: Int
        let basis: ProjectionBasis
        /// The sum of the picked rows, and its norm.
        var sum: [Double]
        /// Source row number of each candidate (ties go to the lower one).
        let rowId: [Int]
        let norm: [Double]
        /// q = g^T M^{-1} g as of the first `applied` directions.
        var q: [Double]
        var applied: [Int]
        var sumNorm = 0.0
        var pickedCount = 0

        init(candidates: Candidates, positions: [Int], capacity: Int, alpha: Double, rho: Double) throws {
            self.alpha = alpha
            self.rho = rho
            d = candidates.dimension
            rowId = positions.map { candidates.rowIds[$0] }
            q = positions.map { candidates.squaredNorms[$0] }
            norm = q.map { $0.squareRoot() }
            applied = [Int](repeating: 0, count: positions.count)
            basis = ProjectionBasis(rows: StackedRows(parts: [candidates.source]), capacity: capacity)
            sum = [Double](repeating: 0, count: d)
        }

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

        func run(
            budget: Int, halfLife: Double?, strategy: Strategy, guard selectionGuard: (any SelectionGuard)?,
            progress: SelectionProgressHandler?
        ) throws -> GreedyResult {
            var result = GreedyResult()
            let all = Array(0..<rowId.count)
            var chooser: Chooser
            switch strategy {
            case .plain: chooser = .plain(remaining: all)
            case .lazy: chooser = .lazy(heap: LazyHeap(entries: all.map { .init(key: gain($0), rowId: rowId[$0], candidate: $0) }))
            case .stochastic(let epsilon, let seed):
                let size = Int((Double(all.count) / Double(max(1, budget)) * log(1 / epsilon)).rounded(.up))
                chooser = .stochastic(remaining: all, sampleSize: max(1, size), random: SeededRandom(seed: seed))
            }
            var objective = 0.0
            var firstGain = 0.0
            while result.picks.count < budget {
                guard let pick = try choose(&chooser) else {
                    result.stopReason = .exhausted
                    break
                }
                if let halfLife, !result.picks.isEmpty, pick.gain <= halfLife * firstGain {
                    result.stopReason = .halfLife
                    break
                }
                // A refused pick has left the candidates already (every chooser removes its pick).
                if let selectionGuard, !(try selectionGuard.admit(rowId[pick.position], anticipating: likelyNext(chooser))) {
                    result.refused += 1
                    continue
                }
                if result.picks.isEmpty { firstGain = pick.gain }
                try commit(pick.position)
                objective += pick.gain
                result.picks.append(pick)
                result.objective.append(objective)
                progress?(SelectionProgress(phase: "picking", completed: result.picks.count, total: budget, unit: "picks", costGrows: true))
            }
            if result.picks.count == budget { result.stopReason = .budget }
            result.evaluations = basis.evaluations
            result.products = basis.products
            result.abandoned = basis.abandoned
            return result
        }

        /// Source rows of the candidates the next steps will most likely pick, for the guard: the lazy
        /// heap's best stale bounds (the other choosers give none).
        private func likelyNext(_ chooser: Chooser) -> [Int] {
            guard case .lazy(let heap) = chooser else { return [] }
            return heap.best(512).map { rowId[$0] }
        }

        /// The candidates a step can choose from, and how.
        enum Chooser {
            case plain(remaining: [Int])
            case lazy(heap: LazyHeap)
            case stochastic(remaining: [Int], sampleSize: Int, random: SeededRandom)
        }

        private func choose(_ chooser: inout Chooser) throws -> Pick? {
            switch chooser {
            case .plain(var remaining):
                let pick = try chooseExhaustively(&remaining)
                chooser = .plain(remaining: remaining)
                return pick
            case .lazy(var heap):
                let pick = try chooseLazily(&heap)
                chooser = .lazy(heap: heap)
                return pick
            case .stochastic(var remaining, let sampleSize, var random):
                guard !remaining.isEmpty else { return nil }
                // A partial Fisher-Yates draw moves the sample to the front of `remaining`.
                let size = min(sampleSize, remaining.count)
                for i in 0..<size { remaining.swapAt(i, i + random.nextInt(below: remaining.count - i)) }
                var heap = LazyHeap(entries: remaining[0..<size].map { .init(key: gain($0), rowId: rowId[$0], candidate: $0) })
                let pick = try chooseLazily(&heap, keepOthers: false)
                if let pick, let at = remaining[0..<size].firstIndex(of: pick.position) {
                    remaining.swapAt(at, remaining.count - 1)
                    remaining.removeLast()
                }
                chooser = .stochastic(remaining: remaining, sampleSize: sampleSize, random: random)
                return pick
            }
        }

        // MARK: Plain greedy

        /// The plain greedy step: refresh every remaining candidate (against the one new direction,
        /// after the first step) and take the best.
        private func chooseExhaustively(_ remaining: inout [Int]) throws -> Pick? {
            guard !remaining.isEmpty else { return nil }
            let refreshed = try refresh(remaining, rival: nil)
            var best: Pick? = nil
            var bestIndex = 0
            for (i, c) in remaining.enumerated() {
                let r = refreshed[i]
                let pick = Pick(position: c, total: r.gain - r.penalty, gain: r.gain, penalty: r.penalty)
                if best == nil || before(pick.total, c, best!.total, best!.position) {
                    best = pick
                    bestIndex = i
                }
            }
            remaining.remove(at: bestIndex)
            return best
        }

        // MARK: Lazy greedy

        /// The lazy step (see ``Greedy``). Candidates are popped and refreshed in batches that grow
        /// (1, 4, 20, 100, ... up to ``maxBatch``) while the step keeps needing more of them, so
        /// that a step decided by one refresh costs one, and a step that needs hundreds shares its
        /// reads of the directions in the blocked kernel. With `keepOthers` false (stochastic
        /// greedy's sample heap) the popped candidates are not pushed back.
        private func chooseLazily(_ heap: inout LazyHeap, keepOthers: Bool = true) throws -> Pick? {
            var best: Pick? = nil
            var popped: [(gain: Double, candidate: Int)] = []
            var batch: [Int] = []
            while true {
                batch.removeAll(keepingCapacity: true)
                let size = min(Self.maxBatch, max(1, 4 * popped.count))
                while batch.count < size, let top = heap.top {
                    if let best, !before(top.key, top.candidate, best.total, best.position) { break }
                    heap.pop()
                    batch.append(top.candidate)
                }
                if batch.isEmpty { break }
                let results = try refresh(batch, rival: best)
                for (c, r) in zip(batch, results) {
                    popped.append((r.gain, c))
                    guard r.complete else { continue }
                    let total = r.gain - r.penalty
                    if best == nil || before(total, c, best!.total, best!.position) {
                        best = Pick(position: c, total: total, gain: r.gain, penalty: r.penalty)
                    }
                }
            }
            if keepOthers {
                for entry in popped where entry.candidate != best?.position {
                    heap.push(.init(key: entry.gain, rowId: rowId[entry.candidate], candidate: entry.candidate))
                }
            }
            return best
        }

        // MARK: Refreshing and picking

        /// The most candidates refreshed together.
        static let maxBatch = 512

        /// The outcome of refreshing one candidate.
        struct Refreshed {
            var gain: Double
            var penalty: Double
            /// False when the refresh was given up part-way.
            var complete: Bool
        }

        /// Brings q up to date for each candidate of `batch` (see ``ProjectionBasis/refresh(_:values:applied:canStillWin:)``);
        /// with a `rival` (the best exact pick of the step so far), a candidate whose gain from the
        /// directions applied so far cannot beat it is given up (that partial gain still bounds its
        /// final total from above: q only decreases and the penalty is >= 0).
        private func refresh(_ batch: [Int], rival: Pick?) throws -> [Refreshed] {
            var values = batch.map { q[$0] }
            var reached = batch.map { applied[$0] }
            let canStillWin: ((Int, Double) -> Bool)? = rival.map { rival in
                { i, value in self.before(log1p(self.alpha * value), batch[i], rival.total, rival.position) }
            }
            let complete = try basis.refresh(batch.map { rowId[$0] }, values: &values, applied: &reached, canStillWin: canStillWin)
            for (i, c) in batch.enumerated() {
                q[c] = values[i]
                applied[c] = reached[i]
            }
            var h = [Double](repeating: 0, count: batch.count)
            if penalised {
                let done = batch.indices.filter { complete[$0] }
                if !done.isEmpty {
                    let products = try sum.withUnsafeBufferPointer { try basis.products(done.map { rowId[batch[$0]] }, with: $0.baseAddress!) }
                    for (k, i) in done.enumerated() { h[i] = products[k] }
                }
            }
            return batch.indices.map { i in
                let c = batch[i]
                return Refreshed(gain: gain(c), penalty: complete[i] && penalised ? penalty(c, h: h[i]) : 0, complete: complete[i])
            }
        }

        /// Adds candidate c to S: appends its direction b = sqrt(alpha / (1 + alpha q)) (g - B (B^T g))
        /// when q > 0, and adds g to the running sum.
        private func commit(_ c: Int) throws {
            let qc = q[c]
            if qc > 0 { try basis.commit(rowId[c], scale: (alpha / (1 + alpha * qc)).squareRoot()) }
            let g = UnsafeMutablePointer<Double>.allocate(capacity: max(1, d))
            defer { g.deallocate() }
            try basis.rows.widened(rowId[c], into: g)
            var squares = 0.0
            for j in 0..<d {
                sum[j] += g[j]
                squares += sum[j] * sum[j]
            }
            sumNorm = squares.squareRoot()
            pickedCount += 1
        }
    }
}
