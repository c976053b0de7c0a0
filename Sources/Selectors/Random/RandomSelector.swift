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
        let eligibleCount = eligible?.setCount ?? rowCount
        let k = min(budget, eligibleCount)
        let rows = eligible.map { RowKeys.smallest(k, of: $0.setRows, seed: parameters.seed) }
            ?? RowKeys.smallest(k, of: 0..<rowCount, seed: parameters.seed)
        var diagnostics = Diagnostics()
        diagnostics.counters["eligibleRows"] = Double(eligibleCount)
        if k < budget { diagnostics.notes.append("only \(eligibleCount) eligible rows for a budget of \(budget)") }
        let members = rows.enumerated().map { rank, row in Member(row: row, score: Double(k - rank)) }
        return Selection(members: members, diagnostics: diagnostics)
    }
}
