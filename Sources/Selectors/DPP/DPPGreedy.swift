import Foundation

extension DPP {
    /// One pick of the greedy.
    struct Pick {
        var row: Int
        /// log d^2: what the pick added to log det(L_S).
        var logGain: Double
    }

    struct Run {
        var picks: [Pick] = []
        /// log det(L_S) after each pick.
        var objective: [Double] = []
        var evaluations = 0
        var products = 0
        var abandoned = 0
        /// Picks the guard refused (they left the candidates).
        var refused = 0
        /// True when the greedy stopped because every remaining d^2 fell below ``DPP/minimumGain``.
        var stoppedInSpan = false
    }

    /// The greedy MAP of log det(L_S) over candidates with qualities q and residuals r = ||(I - P_S) a||^2
    /// (d^2 = q^2 r). Lazy: r only decreases, so q^2 r from an earlier refresh bounds the current d^2 from
    /// above; a step pops and refreshes candidates (in growing batches, blocked) until the next stale
    /// bound cannot beat the best exact d^2 (ties to the lower row).
    final class Greedy {
        /// The most candidates refreshed together.
        static let maxBatch = 512

        let basis: ProjectionBasis
        /// Source row of each candidate (ascending).
        let rowIds: [Int]
        /// q^2 of each candidate.
        let weight: [Double]
        var residual: [Double]
        var applied: [Int]

        init(rows: StackedRows, rowIds: [Int], quality: [Double], squaredNorms: [Double], capacity: Int) {
            basis = ProjectionBasis(rows: rows, capacity: capacity)
            self.rowIds = rowIds
            weight = quality.map { $0 * $0 }
            residual = squaredNorms
            applied = [Int](repeating: 0, count: rowIds.count)
        }

        @inline(__always)
        func gain(_ c: Int) -> Double { weight[c] * residual[c] }

        @inline(__always)
        func before(_ value: Double, _ a: Int, _ other: Double, _ b: Int) -> Bool {
            value > other || (value == other && rowIds[a] < rowIds[b])
        }

        /// With a guard, a pick it refuses leaves the candidates (neither chooser puts its pick back) and
        /// the step chooses again.
        func run(budget: Int, lazy: Bool, guard selectionGuard: (any SelectionGuard)? = nil, progress: SelectionProgressHandler?) throws -> Run {
            var result = Run()
            var heap = LazyHeap(entries: lazy ? rowIds.indices.map { .init(key: gain($0), rowId: rowIds[$0], candidate: $0) } : [])
            var remaining = lazy ? [] : Array(rowIds.indices)
            var logDet = 0.0
            while result.picks.count < budget {
                guard let (c, value) = lazy ? try chooseLazily(&heap) : try chooseExhaustively(&remaining) else { break }
                guard value >= DPP.minimumGain else {
                    result.stoppedInSpan = true
                    break
                }
                // The lazy heap's best stale bounds are the likely next picks (the guard may prepare them).
                if let selectionGuard, !(try selectionGuard.admit(rowIds[c], anticipating: lazy ? heap.best(512).map { rowIds[$0] } : [])) {
                    result.refused += 1
                    continue
                }
                try basis.commit(rowIds[c], scale: nil)
                let logGain = log(value)
                logDet += logGain
                result.picks.append(Pick(row: rowIds[c], logGain: logGain))
                result.objective.append(logDet)
                progress?(SelectionProgress(phase: "picking", completed: result.picks.count, total: budget, unit: "picks", costGrows: true))
            }
            result.evaluations = basis.evaluations
            result.products = basis.products
            result.abandoned = basis.abandoned
            return result
        }

        /// Refreshes candidates; with a rival, gives up on those that cannot beat it.
        private func refresh(_ batch: [Int], rival: (value: Double, candidate: Int)?) throws -> [Bool] {
            var values = batch.map { residual[$0] }
            var reached = batch.map { applied[$0] }
            let canStillWin: ((Int, Double) -> Bool)? = rival.map { rival in
                { i, value in self.before(self.weight[batch[i]] * value, batch[i], rival.value, rival.candidate) }
            }
            let complete = try basis.refresh(batch.map { rowIds[$0] }, values: &values, applied: &reached, canStillWin: canStillWin)
            for (i, c) in batch.enumerated() {
                residual[c] = values[i]
                applied[c] = reached[i]
            }
            return complete
        }

        private func chooseExhaustively(_ remaining: inout [Int]) throws -> (Int, Double)? {
            guard !remaining.isEmpty else { return nil }
            _ = try refresh(remaining, rival: nil)
            var best = 0
            for i in remaining.indices where before(gain(remaining[i]), remaining[i], gain(remaining[best]), remaining[best]) { best = i }
            let c = remaining.remove(at: best)
            return (c, gain(c))
        }

        private func chooseLazily(_ heap: inout LazyHeap) throws -> (Int, Double)? {
            var best: (value: Double, candidate: Int)? = nil
            var popped: [Int] = []
            var batch: [Int] = []
            while true {
                batch.removeAll(keepingCapacity: true)
                let size = min(Self.maxBatch, max(1, 4 * popped.count))
                while batch.count < size, let top = heap.top {
                    if let best, !before(top.key, top.candidate, best.value, best.candidate) { break }
                    heap.pop()
                    batch.append(top.candidate)
                }
                if batch.isEmpty { break }
                let complete = try refresh(batch, rival: best)
                for (i, c) in batch.enumerated() {
                    popped.append(c)
                    guard complete[i] else { continue }
                    if best == nil || before(gain(c), c, best!.value, best!.candidate) { best = (gain(c), c) }
                }
            }
            for c in popped where c != best?.candidate {
                heap.push(.init(key: gain(c), rowId: rowIds[c], candidate: c))
            }
            return best.map { ($0.candidate, $0.value) }
        }
    }
}
