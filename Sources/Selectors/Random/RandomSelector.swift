/// The baseline every comparison needs: a seeded uniform sample without replacement.
public enum RandomSelector {
    public static let name = "random"
    public static let version = "1"

    public struct Parameters: Codable, Sendable, Equatable {
        public var seed: UInt64
        public init(seed: UInt64) { self.seed = seed }
        public init(_ bag: inout ParameterBag, seed: UInt64) throws { self.init(seed: seed) }
    }

    /// `budget` rows drawn uniformly from the eligible rows (all rows when `eligible` is nil), in
    /// draw order. Scores are the draw order's reverse rank (first draw highest), so that ranked views
    /// keep the draw order.
    public static func select(rowCount: Int, eligible: RowMask? = nil, budget: Int, parameters: Parameters) -> Selection {
        let pool = eligible?.setRows ?? Array(0..<rowCount)
        let k = min(budget, pool.count)
        var random = SeededRandom(seed: parameters.seed)
        let draws = random.sample(k, from: pool.count)
        var diagnostics = Diagnostics()
        diagnostics.counters["eligibleRows"] = Double(pool.count)
        if k < budget { diagnostics.notes.append("only \(pool.count) eligible rows for a budget of \(budget)") }
        let members = draws.enumerated().map { rank, index in Member(row: pool[index], score: Double(k - rank)) }
        return Selection(members: members, diagnostics: diagnostics)
    }
}
