import Foundation

/// Read access to a Gram matrix G = A^T A for the active-set NNLS: its diagonal, and the rows of the
/// variables it has asked for (``NNLS/GramAccess/ensure(_:)``) before using them.
public protocol GramAccess: AnyObject {
    /// Number of variables (columns of A).
    var count: Int { get }
    /// G[j, j].
    func diagonal(_ j: Int) -> Double
    /// Makes the rows of `variables` available; called from one thread, before the rows are read.
    func ensure(_ variables: [Int]) throws
    /// Row i of G (length `count`); only for variables passed to ``ensure(_:)`` before.
    func row(_ i: Int) -> UnsafePointer<Double>
}

/// A Gram matrix held whole (small problems, tests): every row is always available.
public final class DenseGram: GramAccess, @unchecked Sendable {
    private let values: UnsafeMutablePointer<Double>
    public let count: Int

    /// `gram` is p x p, row-major, symmetric.
    public init(_ gram: [Double], p: Int) {
        precondition(gram.count == p * p, "the Gram matrix must hold p * p = \(p * p) values, not \(gram.count)")
        count = p
        values = .allocate(capacity: max(1, p * p))
        values.update(from: gram, count: p * p)
    }

    deinit { values.deallocate() }

    public func diagonal(_ j: Int) -> Double { values[j * count + j] }
    public func ensure(_ variables: [Int]) throws {}
    public func row(_ i: Int) -> UnsafePointer<Double> { UnsafePointer(values + i * count) }
}

extension GTP {
    /// The Gram matrix of a candidate set, computed a row at a time as the NNLS needs rows: only the
    /// variables that enter some group's passive set ever get a row, so the memory and work grow with
    /// the support (|U| x |T|), not with the square of the candidate set (|T| x |T|). Rows are computed
    /// in Double from Double trajectories streamed from the store, a batch of missing rows per call
    /// (one GEMM pass over the candidates), and carried over to the next iteration's candidate set.
    final class GramRows: GramAccess, @unchecked Sendable {
        let candidates: [Int]
        private let layout: TrajectoryLayout
        private let diagonals: [Double]
        /// The computed rows, by position; nil where not computed yet.
        private var rows: [UnsafeMutablePointer<Double>?]
        private(set) var computedRows = 0
        /// Seconds spent and rows computed (diagnostics).
        private(set) var seconds = 0.0
        /// Told (rows done, rows asked for) after each block of rows a call computes (progress lines).
        var progress: ((Int, Int) -> Void)?

        var count: Int { candidates.count }

        init(candidates: [Int], layout: TrajectoryLayout, diagonals: [Double]) {
            self.candidates = candidates
            self.layout = layout
            self.diagonals = diagonals
            rows = [UnsafeMutablePointer<Double>?](repeating: nil, count: candidates.count)
        }

        deinit { for row in rows { row?.deallocate() } }

        func diagonal(_ j: Int) -> Double { diagonals[j] }

        func row(_ i: Int) -> UnsafePointer<Double> {
            guard let row = rows[i] else { preconditionFailure("Gram row \(i) read before it was computed") }
            return UnsafePointer(row)
        }

        func hasRow(_ i: Int) -> Bool { rows[i] != nil }

        /// Candidate sets whose whole Gram matrix fits ``Limits/wholeGramBytes`` get every row at the
        /// first request: one large, efficient product instead of many thin ones (realbench's 1,800
        /// candidates, or 4,050 at the LESS paper's pool and a 0.5% budget: 131 MB). Larger sets (40,500
        /// candidates at 5%: 13 GB whole) compute rows as variables enter.

        func ensure(_ variables: [Int]) throws {
            var missing = Array(Set(variables.filter { rows[$0] == nil })).sorted()
            guard !missing.isEmpty else { return }
            if count * count * 8 <= layout.limits.wholeGramBytes { missing = (0..<count).filter { rows[$0] == nil } }
            let started = ContinuousClock.now
            let p = count
            // Every computed row holds all p entries, so a new row takes its entries in the columns of
            // computed rows from their transposes (the matrix is symmetric) and computes only the rest:
            // block by block, each block against the columns no earlier block covered (half the work of
            // a full product, as a symmetric rank-k update would do).
            var uncovered = (0..<p).filter { rows[$0] == nil }
            let blockSize = max(1, layout.blockRows * 2)
            var first = 0
            while first < missing.count {
                let block = Array(missing[first..<min(missing.count, first + blockSize)])
                let covered = (0..<p).filter { rows[$0] != nil }
                for i in block { rows[i] = .allocate(capacity: p) }
                let columns = uncovered
                try layout.products(of: block.map { candidates[$0] }, with: columns.map { candidates[$0] }) { start, size, values in
                    for k in 0..<size {
                        let target = rows[block[start + k]]!
                        for (j, column) in columns.enumerated() { target[column] = values[k * columns.count + j] }
                    }
                }
                for i in block {
                    let target = rows[i]!
                    for c in covered { target[c] = rows[c]![i] }
                }
                let inBlock = Set(block)
                uncovered.removeAll { inBlock.contains($0) }
                first += block.count
                progress?(first, missing.count)
            }
            computedRows += missing.count
            seconds += GTPTiming.seconds(since: started)
        }

        /// The Gram rows over a new candidate set: rows of variables present in both sets keep their
        /// entries for the shared columns and get the new columns computed (one GEMM for all of them);
        /// `progress` hears (rows done, rows carried) as they are.
        func carried(to newCandidates: [Int], diagonals newDiagonals: [Double], progress: ((Int, Int) -> Void)? = nil) throws -> GramRows {
            let next = GramRows(candidates: newCandidates, layout: layout, diagonals: newDiagonals)
            var oldPosition: [Int: Int] = [:]
            for (i, r) in candidates.enumerated() { oldPosition[r] = i }
            let columnSource = newCandidates.map { oldPosition[$0] }
            let freshColumns = newCandidates.indices.filter { columnSource[$0] == nil }
            var carriedRows: [Int] = []
            for (i, r) in newCandidates.enumerated() {
                guard let old = oldPosition[r], let source = rows[old] else { continue }
                let target = UnsafeMutablePointer<Double>.allocate(capacity: newCandidates.count)
                for (j, from) in columnSource.enumerated() { target[j] = from.map { source[$0] } ?? 0 }
                next.rows[i] = target
                carriedRows.append(i)
            }
            if !carriedRows.isEmpty && !freshColumns.isEmpty {
                let started = ContinuousClock.now
                let freshRows = freshColumns.map { newCandidates[$0] }
                try layout.products(of: carriedRows.map { newCandidates[$0] }, with: freshRows) { first, block, values in
                    for k in 0..<block {
                        let target = next.rows[carriedRows[first + k]]!
                        for (j, column) in freshColumns.enumerated() { target[column] = values[k * freshColumns.count + j] }
                    }
                    progress?(first + block, carriedRows.count)
                }
                next.seconds += GTPTiming.seconds(since: started)
            }
            next.computedRows = carriedRows.count
            return next
        }

        /// The Gram rows over a subset of the candidates (positions ascending), without recomputation.
        func restricted(to positions: [Int]) -> GramRows {
            let next = GramRows(candidates: positions.map { candidates[$0] }, layout: layout, diagonals: positions.map { diagonals[$0] })
            for (a, i) in positions.enumerated() {
                guard let source = rows[i] else { continue }
                let target = UnsafeMutablePointer<Double>.allocate(capacity: positions.count)
                for (b, j) in positions.enumerated() { target[b] = source[j] }
                next.rows[a] = target
            }
            next.computedRows = positions.count { rows[$0] != nil }
            return next
        }
    }
}
