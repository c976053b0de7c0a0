/// The baseline every comparison needs: a seeded uniform sample without replacement.
public enum RandomSelector {
    public static let name = "random"
    /// Version 2: the sample is the rows with the smallest keys h(seed, row) (``RowKeys``), so a
    /// corpus split into shards samples the same rows (version 1 drew from a random stream).
    public static let version = "2"

    public struct Parameters: Codable, Sendable, Equatable {
        public var seed: UInt64
        public init(seed: UInt64) { self.seed = seed }
        public init(_ bag: inout ParameterBag, seed: UInt64) throws { self.init(seed: seed) }
    }

    /// `budget` rows drawn uniformly from the eligible rows (all rows when `eligible` is nil): the
    /// rows with the smallest keys h(seed, row), smallest first. Every subset of k rows is equally
    /// likely because the keys are (pseudo-)independent and identically distributed. Scores are the
    /// reverse rank (first row highest), so that ranked views keep the order.
    public static func select(rowCount: Int, eligible: RowMask? = nil, budget: Int, parameters: Parameters) -> Selection {
        // Without a guard nothing can fail.
        try! select(rowCount: rowCount, eligible: eligible, budget: budget, parameters: parameters, guard: nil)
    }

    /// ``select(rowCount:eligible:budget:parameters:)`` with a guard: the rows are walked in key order
    /// past the ones it refuses.
    public static func select(
        rowCount: Int, eligible: RowMask? = nil, budget: Int, parameters: Parameters, guard selectionGuard: (any SelectionGuard)?
    ) throws -> Selection {
        let eligibleCount = eligible?.setCount ?? rowCount
        let k = min(budget, eligibleCount)
        let candidates = eligible?.setRows
        let rows = try admitted(k, guard: selectionGuard) { length in
            candidates.map { RowKeys.smallest(length, of: $0, seed: parameters.seed) }
                ?? RowKeys.smallest(length, of: 0..<rowCount, seed: parameters.seed)
        }
        var diagnostics = Diagnostics()
        diagnostics.counters["eligibleRows"] = Double(eligibleCount)
        if k < budget { diagnostics.notes.append("only \(eligibleCount) eligible rows for a budget of \(budget)") }
        if rows.count < k { diagnostics.notes.append("only \(rows.count) eligible rows passed the near-duplicate guard, for a budget of \(budget)") }
        let members = rows.enumerated().map { rank, row in Member(row: row, score: Double(rows.count - rank)) }
        return Selection(members: members, diagnostics: diagnostics)
    }
}
