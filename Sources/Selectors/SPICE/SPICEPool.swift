extension SPICE {
    /// The windows of `pool` mode: the given rows in a seeded random order, cut into consecutive
    /// windows of `pool` rows (the last one shorter when the count is not a multiple).
    ///
    /// ``select(gradients:budget:parameters:)`` calls it with the usable rows that hold no NaN or
    /// infinity, in ascending order. Public so that a user (or a test) can see exactly which rows
    /// competed with which.
    public static func poolWindows(rows: [Int], pool: Int, seed: UInt64) -> [[Int]] {
        precondition(pool > 0, "pool must be positive")
        var order = rows
        var random = SeededRandom(seed: seed)
        random.shuffle(&order)
        return stride(from: 0, to: order.count, by: pool).map { Array(order[$0..<min($0 + pool, order.count)]) }
    }

    /// How many rows each window contributes.
    ///
    /// With `perPool` set, each window gives min(perPool, its size), in window order, until the
    /// budget is met (the total may fall short of the budget). Without it, the budget is spread as
    /// evenly as the window sizes allow: every window gets the same share (a window smaller than
    /// that gives all its rows) and the remainder goes one row each to the earliest windows with room,
    /// so shares differ by at most one row and earlier windows get the larger ones. The total is
    /// min(budget, total rows).
    public static func poolShares(windowSizes: [Int], budget: Int, perPool: Int?) -> [Int] {
        var shares = [Int](repeating: 0, count: windowSizes.count)
        var left = max(0, min(budget, windowSizes.reduce(0, +)))
        if let perPool {
            for (w, size) in windowSizes.enumerated() {
                shares[w] = min(perPool, size, left)
                left -= shares[w]
            }
            return shares
        }
        // Water-filling: the highest level L with sum min(size, L) <= budget, then one more row to
        // each of the earliest windows that can take it until the budget is met.
        func filled(_ level: Int) -> Int { windowSizes.reduce(0) { $0 + min($1, level) } }
        var low = 0, high = windowSizes.max() ?? 0
        while low < high {
            let mid = (low + high + 1) / 2
            if filled(mid) <= left { low = mid } else { high = mid - 1 }
        }
        for (w, size) in windowSizes.enumerated() { shares[w] = min(size, low) }
        left -= filled(low)
        for (w, size) in windowSizes.enumerated() where left > 0 && size > low {
            shares[w] += 1
            left -= 1
        }
        return shares
    }
}
