import Foundation
import Selectors
import Testing

@Suite("SPICE matches a naive log-det greedy")
struct SPICETests {
    // MARK: - Data and oracles (all in Double, no shared code with the selector)

    /// Gaussian rows with log-normal scales, so that gains spread out; `zeroRows` are set to zero.
    private static func gradients(_ n: Int, _ d: Int, seed: UInt64, zeroRows: [Int] = []) -> Matrix {
        var random = SeededRandom(seed: seed)
        var m = Matrix(rows: n, columns: d)
        for r in 0..<n {
            let scale = exp(0.6 * random.nextGaussian())
            for c in 0..<d { m[r, c] = Float(scale * random.nextGaussian()) }
        }
        for r in zeroRows { for c in 0..<d { m[r, c] = 0 } }
        return m
    }

    private static func vector(_ m: Matrix, _ r: Int) -> [Double] { m.row(r).map(Double.init) }

    /// log |det A| by Gaussian elimination with partial pivoting (A is positive definite here).
    private static func logDeterminant(_ a: [[Double]]) -> Double {
        var a = a
        let n = a.count
        var total = 0.0
        for col in 0..<n {
            let pivot = (col..<n).max { abs(a[$0][col]) < abs(a[$1][col]) }!
            a.swapAt(col, pivot)
            total += log(abs(a[col][col]))
            for r in col + 1..<n {
                let f = a[r][col] / a[col][col]
                for c in col..<n { a[r][c] -= f * a[col][c] }
            }
        }
        return total
    }

    /// log det(I_d + alpha sum_{r in rows} g_r g_r^T), formed as a d x d matrix.
    private static func naiveF(_ m: Matrix, _ rows: [Int], alpha: Double) -> Double {
        let d = m.columns
        var a = (0..<d).map { i in (0..<d).map { j in i == j ? 1.0 : 0.0 } }
        for r in rows {
            let g = vector(m, r)
            for i in 0..<d { for j in 0..<d { a[i][j] += alpha * g[i] * g[j] } }
        }
        return logDeterminant(a)
    }

    /// The greedy evaluated literally: every candidate's gain as a difference of determinants, its
    /// penalty from the explicit sum of the picked rows; ties to the lower row.
    private static func naiveGreedy(_ m: Matrix, budget: Int, alpha: Double, rho: Double, usable: Set<Int>? = nil)
        -> (rows: [Int], totals: [Double])
    {
        let d = m.columns
        var picked: [Int] = []
        var totals: [Double] = []
        var sum = [Double](repeating: 0, count: d)
        var current = 0.0
        while picked.count < budget {
            var best: (row: Int, total: Double, value: Double)? = nil
            for r in 0..<m.rows where !picked.contains(r) && (usable?.contains(r) ?? true) {
                let value = naiveF(m, picked + [r], alpha: alpha)
                var penalty = 0.0
                if !picked.isEmpty {
                    let g = vector(m, r)
                    let dot = zip(g, sum).reduce(0) { $0 + $1.0 * $1.1 }
                    let norms = g.reduce(0) { $0 + $1 * $1 }.squareRoot() * sum.reduce(0) { $0 + $1 * $1 }.squareRoot()
                    if norms > 0 { penalty = rho * max(0, -dot / norms) }
                }
                let total = value - current - penalty
                if best == nil || total > best!.total { best = (r, total, value) }
            }
            guard let best else { break }
            picked.append(best.row)
            totals.append(best.total)
            current = best.value
            for (i, x) in vector(m, best.row).enumerated() { sum[i] += x }
        }
        return (picked, totals)
    }

    private static func run(
        _ source: any VectorSource, budget: Int, alpha: Double = 1, rho: Double = 0.1, halfLife: Double? = nil,
        lazy: Bool = true
    ) throws -> Selection {
        try SPICE.select(
            gradients: source, budget: budget,
            parameters: .init(alpha: alpha, rho: rho, halfLife: halfLife, lazy: lazy))
    }

    /// Per-step gains recovered from the objective trace.
    private static func gains(_ s: Selection) -> [Double] {
        let t = s.diagnostics.objectiveTrace
        return t.indices.map { $0 == 0 ? t[0] : t[$0] - t[$0 - 1] }
    }

    // MARK: - Exactness against the naive greedy

    @Test(arguments: [
        (UInt64(1), 6, 1.0, 0.0), (2, 8, 0.5, 0.0), (3, 12, 2.0, 0.0), (4, 10, 1.0, 0.1),
        (5, 7, 0.3, 1.0), (6, 9, 1.0, 3.0), (7, 12, 4.0, 0.5),
    ])
    func greedyEqualsNaiveDeterminantGreedy(seed: UInt64, d: Int, alpha: Double, rho: Double) throws {
        let m = Self.gradients(40, d, seed: seed, zeroRows: [17])
        let budget = 2 * d  // past d, so later gains come from directions already covered
        let expected = Self.naiveGreedy(m, budget: budget, alpha: alpha, rho: rho)
        for lazy in [true, false] {
            let s = try Self.run(m, budget: budget, alpha: alpha, rho: rho, lazy: lazy)
            #expect(s.rows == expected.rows, "lazy=\(lazy)")
            for (member, total) in zip(s.members, expected.totals) {
                #expect(abs(member.score - total) <= 1e-4 * max(1, abs(total)))
                #expect(member.weight == 1)
            }
            let exact = Self.naiveF(m, s.rows, alpha: alpha)
            #expect(abs(s.diagnostics.objectiveTrace.last! - exact) <= 1e-4 * max(1, exact))
        }
    }

    /// Unnormalised Adam gradients have ||g||^2 of 1e6 and more while q falls to about 1 once the picks
    /// span the space: q = ||g||^2 - sum (g . b)^2 must not lose that to rounding (in Float32 it did,
    /// and every gain past d read 0).
    @Test(arguments: [(UInt64(61), 1.0, 0.0), (62, 1.0, 0.1), (63, 1e-3, 0.0)])
    func largeGradientsPastTheDimensionStillMatchTheNaiveGreedy(seed: UInt64, alpha: Double, rho: Double) throws {
        var m = Self.gradients(60, 16, seed: seed)
        for i in m.values.indices { m.values[i] *= 1000 }
        let budget = 48
        let expected = Self.naiveGreedy(m, budget: budget, alpha: alpha, rho: rho)
        for lazy in [true, false] {
            let s = try Self.run(m, budget: budget, alpha: alpha, rho: rho, lazy: lazy)
            #expect(s.rows == expected.rows, "lazy=\(lazy)")
            let late = Self.gains(s).suffix(budget - 16)
            #expect(late.allSatisfy { $0 > 1e-3 }, "gains past d must stay informative")
            for prefix in [16, 17, 32, budget] {
                let exact = Self.naiveF(m, Array(s.rows.prefix(prefix)), alpha: alpha)
                #expect(abs(s.diagnostics.objectiveTrace[prefix - 1] - exact) <= 1e-6 * max(1, exact), "prefix \(prefix)")
            }
        }
    }

    @Test func penaltyChangesThePicksAndTheNaiveGreedyAgrees() throws {
        let m = Self.gradients(40, 8, seed: 11)
        let plain = try Self.run(m, budget: 16, rho: 0)
        let penalised = try Self.run(m, budget: 16, rho: 2)
        #expect(plain.rows != penalised.rows)
        #expect(penalised.rows == Self.naiveGreedy(m, budget: 16, alpha: 1, rho: 2).rows)
        #expect(penalised.diagnostics.counters["penalisedPicks"]! > 0)
        // Score = gain - penalty, gain = the trace's step.
        let stepGains = Self.gains(penalised)
        #expect(zip(penalised.members, stepGains).allSatisfy { $0.score <= $1 + 1e-12 })
        #expect(zip(plain.members, Self.gains(plain)).allSatisfy { abs($0.score - $1) <= 1e-9 * max(1, $1) })
    }

    /// Budgets past 64 directions exercise the refreshes that give up part-way (checked every 64).
    @Test(arguments: [(UInt64(21), 0.0, 60), (22, 0.1, 60), (23, 1.0, 150), (24, 0.1, 200), (25, 0.0, 300)])
    func lazyEqualsPlainGreedyOnLargerInputs(seed: UInt64, rho: Double, budget: Int) throws {
        let m = Self.gradients(500, 32, seed: seed, zeroRows: [3, 250])
        let alpha = seed == 24 ? 0.05 : 1
        let lazy = try Self.run(m, budget: budget, alpha: alpha, rho: rho, lazy: true)
        let plain = try Self.run(m, budget: budget, alpha: alpha, rho: rho, lazy: false)
        #expect(lazy.rows.count == budget)
        #expect(lazy.rows == plain.rows)
        #expect(lazy.members == plain.members)  // scores bit-identical too
        #expect(lazy.diagnostics.objectiveTrace == plain.diagnostics.objectiveTrace)
        #expect(lazy.diagnostics.counters["evaluations"]! < plain.diagnostics.counters["evaluations"]!)
        if budget > 128 { #expect(lazy.diagnostics.counters["abandonedRefreshes"]! > 0) }
        // The reported objective is the exact log det of the chosen set, at every prefix.
        for prefix in [1, 10, 32, 33, budget] {
            let exact = try SPICE.logDet(of: Array(lazy.rows.prefix(prefix)), gradients: m, alpha: alpha)
            let reported = lazy.diagnostics.objectiveTrace[prefix - 1]
            #expect(abs(reported - exact) <= 1e-5 * max(1, exact), "prefix \(prefix)")
        }
    }

    // MARK: - logDet(of:)

    @Test(arguments: [(UInt64(31), 0.5), (32, 1.0), (33, 3.0)])
    func logDetEqualsNaiveDeterminant(seed: UInt64, alpha: Double) throws {
        let m = Self.gradients(30, 9, seed: seed)
        var random = SeededRandom(seed: seed)
        for size in [0, 1, 4, 9, 15] {
            let rows = random.sample(size, from: 30)
            let value = try SPICE.logDet(of: rows, gradients: m, alpha: alpha)
            let naive = Self.naiveF(m, rows, alpha: alpha)
            #expect(abs(value - naive) <= 1e-9 * max(1, abs(naive)), "size \(size)")
        }
    }

    @Test func logDetIgnoresUnusableRowsAndRejectsBadSubsets() throws {
        let m = Self.gradients(20, 6, seed: 41)
        var usable = RowMask(count: 20, allSet: true)
        usable.remove(5)
        let masked = MaskedMatrix(m, usableRows: usable)
        let withUnusable = try SPICE.logDet(of: [1, 5, 9], gradients: masked, alpha: 1)
        #expect(abs(withUnusable - Self.naiveF(m, [1, 9], alpha: 1)) <= 1e-9 * withUnusable)
        #expect(throws: SelectorError.self) { try SPICE.logDet(of: [1, 1], gradients: m, alpha: 1) }
        #expect(throws: SelectorError.self) { try SPICE.logDet(of: [20], gradients: m, alpha: 1) }
        #expect(throws: SelectorError.self) { try SPICE.logDet(of: [1], gradients: m, alpha: 0) }
    }

    // MARK: - Tiny inputs: exhaustive search

    private static func subsets(of n: Int, size k: Int) -> [[Int]] {
        guard k > 0 else { return [[]] }
        guard n >= k else { return [] }
        return subsets(of: n - 1, size: k - 1).map { $0 + [n - 1] } + subsets(of: n - 1, size: k)
    }

    @Test(arguments: [(UInt64(51), 6, 2), (52, 8, 3), (53, 10, 3), (54, 10, 2), (55, 9, 3)])
    func tinyInputsAgreeWithExhaustiveSearch(seed: UInt64, n: Int, k: Int) throws {
        // Low dimension and a few near-parallel rows, so that the best set is not just the largest norms.
        var m = Self.gradients(n, 3, seed: seed)
        for c in 0..<3 { m[1, c] = 1.05 * m[0, c] }
        for alpha in [0.2, 1.0, 5.0] {
            let s = try Self.run(m, budget: k, alpha: alpha, rho: 0)
            let singles = (0..<n).map { Self.naiveF(m, [$0], alpha: alpha) }
            let bestSingle = singles.indices.max { singles[$0] < singles[$1] || (singles[$0] == singles[$1] && $0 > $1) }!
            #expect(s.rows.first == bestSingle)
            let optimum = Self.subsets(of: n, size: k).map { Self.naiveF(m, $0, alpha: alpha) }.max()!
            let greedy = Self.naiveF(m, s.rows, alpha: alpha)
            #expect(greedy >= (1 - exp(-1.0)) * optimum - 1e-9)
            #expect(greedy <= optimum + 1e-9)
        }
    }

    // MARK: - Early stop

    @Test func halfLifeStopsAtTheFirstStepWhoseGainFallsBelowTheThreshold() throws {
        let m = Self.gradients(200, 16, seed: 61)
        let full = try Self.run(m, budget: 40, rho: 0)
        let g = Self.gains(full)
        // Without the penalty, greedy gains never increase (submodularity).
        #expect(zip(g, g.dropFirst()).allSatisfy { $0 >= $1 - 1e-9 })
        for stopAt in [1, 5, 17, 30] {  // 0-based index of the first step that must not be taken
            let h = (g[stopAt - 1] + g[stopAt]) / 2 / g[0]
            for lazy in [true, false] {
                let s = try Self.run(m, budget: 40, rho: 0, halfLife: h, lazy: lazy)
                #expect(s.rows == Array(full.rows.prefix(stopAt)), "stopAt \(stopAt) lazy \(lazy)")
                #expect(s.diagnostics.counters["stoppedByHalfLife"] == 1)
                #expect(s.diagnostics.notes.contains { $0.contains("half-life") })
            }
        }
        let unstopped = try Self.run(m, budget: 40, rho: 0, halfLife: g[39] / g[0] / 2)
        #expect(unstopped.rows == full.rows)
        #expect(unstopped.diagnostics.counters["stoppedByHalfLife"] == 0)
    }

    @Test func halfLifeComparesGainsNotTotalsUnderThePenalty() throws {
        let m = Self.gradients(200, 16, seed: 62)
        let full = try Self.run(m, budget: 40, rho: 1)
        let g = Self.gains(full)
        let h = 0.5
        let s = try Self.run(m, budget: 40, rho: 1, halfLife: h)
        let stop = (1..<g.count).first { g[$0] <= h * g[0] } ?? g.count
        #expect(s.rows == Array(full.rows.prefix(stop)))
    }

    // MARK: - Pool mode

    private static func poolRun(_ source: any VectorSource, budget: Int, pool: Int, perPool: Int? = nil, seed: UInt64, lazy: Bool = true)
        throws -> Selection
    {
        try SPICE.select(
            gradients: source, budget: budget,
            parameters: .init(rho: 0.2, lazy: lazy, mode: "pool", pool: pool, perPool: perPool, seed: seed))
    }

    @Test func poolSharesSpreadTheBudgetExactly() {
        #expect(SPICE.poolShares(windowSizes: [128, 128, 44], budget: 200, perPool: nil) == [78, 78, 44])
        #expect(SPICE.poolShares(windowSizes: [128, 128, 128], budget: 100, perPool: nil) == [34, 33, 33])
        #expect(SPICE.poolShares(windowSizes: [5, 5, 2], budget: 50, perPool: nil) == [5, 5, 2])
        #expect(SPICE.poolShares(windowSizes: [10, 10, 3], budget: 12, perPool: 4) == [4, 4, 3])
        #expect(SPICE.poolShares(windowSizes: [10, 10, 3], budget: 6, perPool: 4) == [4, 2, 0])
        var random = SeededRandom(seed: 71)
        for _ in 0..<200 {
            let pool = 1 + random.nextInt(below: 50)
            let n = random.nextInt(below: 400)
            let sizes = stride(from: 0, to: n, by: pool).map { min(pool, n - $0) }
            let budget = random.nextInt(below: n + 20)
            let shares = SPICE.poolShares(windowSizes: sizes, budget: budget, perPool: nil)
            #expect(shares.reduce(0, +) == min(budget, n))
            #expect(zip(shares, sizes).allSatisfy { $0 <= $1 })
            // Full windows differ by at most one row, earlier ones never smaller.
            let full = zip(shares, sizes).filter { $1 == pool }.map(\.0)
            #expect(zip(full, full.dropFirst()).allSatisfy { $0 >= $1 && $0 - $1 <= 1 })
        }
    }

    @Test func poolModeMeetsTheBudgetDeterministicallyAndEachWindowIsAGlobalGreedy() throws {
        let n = 700
        let m = Self.gradients(n, 16, seed: 81)
        var usable = RowMask(count: n, allSet: true)
        for r in stride(from: 3, to: n, by: 37) { usable.remove(r) }
        let source = MaskedMatrix(m, usableRows: usable)
        let budget = 90
        let s = try Self.poolRun(source, budget: budget, pool: 128, seed: 7)
        #expect(s.rows.count == budget)
        #expect(Set(s.rows).count == budget)
        #expect(s.rows.allSatisfy { usable.contains($0) })
        #expect(try Self.poolRun(source, budget: budget, pool: 128, seed: 7).members == s.members)
        #expect(try Self.poolRun(source, budget: budget, pool: 128, seed: 7, lazy: false).members == s.members)
        #expect(try Self.poolRun(source, budget: budget, pool: 128, seed: 8).rows != s.rows)

        let windows = SPICE.poolWindows(rows: usable.setRows, pool: 128, seed: 7)
        #expect(windows.map(\.count) == [128, 128, 128, 128, 128, 41])
        let shares = SPICE.poolShares(windowSizes: windows.map(\.count), budget: budget, perPool: nil)
        var offset = 0
        for (window, share) in zip(windows, shares) {
            let sorted = window.sorted()
            let alone = try SPICE.select(gradients: m.rows(sorted), budget: share, parameters: .init(rho: 0.2))
            let picked = Array(s.rows[offset..<offset + share])
            #expect(picked == alone.rows.map { sorted[$0] })
            #expect(Set(picked).isSubset(of: Set(window)))
            offset += share
        }
    }

    @Test func poolModeWithPerPoolTakesThatManyPerWindow() throws {
        let m = Self.gradients(300, 8, seed: 82)
        let s = try Self.poolRun(m, budget: 1000, pool: 64, perPool: 5, seed: 3)
        #expect(s.rows.count == 25)  // five windows of 64, 64, 64, 64, 44
        #expect(s.diagnostics.counters["windows"] == 5)
        #expect(s.diagnostics.notes.contains { $0.contains("per_pool") })
        let capped = try Self.poolRun(m, budget: 12, pool: 64, perPool: 5, seed: 3)
        #expect(capped.rows == Array(s.rows.prefix(12)))
    }

    // MARK: - Unusable rows and budgets

    @Test func unusableAndNonFiniteRowsAreNeverPicked() throws {
        var m = Self.gradients(60, 10, seed: 91)
        // Make the excluded rows the most attractive ones.
        for c in 0..<10 { m[4, c] *= 100; m[8, c] *= 100 }
        m[8, 3] = .nan
        m[9, 0] = 3e19  // finite, but its squared norm overflows Float32
        var usable = RowMask(count: 60, allSet: true)
        usable.remove(4)
        let source = MaskedMatrix(m, usableRows: usable)
        for lazy in [true, false] {
            let s = try Self.run(source, budget: 100, lazy: lazy)
            #expect(s.rows.count == 57)
            #expect(Set(s.rows) == Set(0..<60).subtracting([4, 8, 9]))
            #expect(s.diagnostics.counters["nonFiniteRows"] == 2)
            #expect(s.diagnostics.counters["unusableRows"] == 1)
            #expect(s.diagnostics.notes.contains { $0.contains("NaN") })
            #expect(s.diagnostics.notes.contains { $0.contains("57 rows picked for a budget of 100") })
        }
        let masked = try Self.run(source, budget: 20)
        let usableSet = Set(0..<60).subtracting([4, 8, 9])
        #expect(masked.rows == Self.naiveGreedy(m, budget: 20, alpha: 1, rho: 0.1, usable: usableSet).rows)
    }

    @Test func zeroRowsComeLastAndBudgetsAtTheEdges() throws {
        let m = Self.gradients(12, 4, seed: 92, zeroRows: [2, 7])
        let s = try Self.run(m, budget: 12, rho: 0)
        #expect(s.rows.count == 12)
        #expect(Array(s.rows.suffix(2)) == [2, 7])  // zero gain, ties to the lower row
        #expect(try Self.run(m, budget: 0).rows.isEmpty)
        #expect(throws: SelectorError.self) { try Self.run(m, budget: -1) }
        #expect(try Self.run(Matrix(rows: 0, columns: 4), budget: 5).rows.isEmpty)
    }

    // MARK: - Parameters

    @Test func parametersParseValidateAndRoundTrip() throws {
        var empty = ParameterBag()
        let defaults = try SPICE.Parameters(&empty, seed: 9)
        try empty.finish(selector: SPICE.name)
        #expect(defaults == SPICE.Parameters(seed: 9))
        #expect(defaults.alpha == 1 && defaults.rho == 0.1 && defaults.halfLife == nil && defaults.lazy)
        #expect(defaults.mode == "global" && defaults.pool == 128 && defaults.perPool == nil)

        var bag = try ParameterBag(parsing: ["alpha=0.5", "rho=0", "halflife=0.25", "lazy=false", "mode=pool", "pool=64", "per_pool=4"])
        let p = try SPICE.Parameters(&bag, seed: 3)
        try bag.finish(selector: SPICE.name)
        #expect(p == SPICE.Parameters(alpha: 0.5, rho: 0, halfLife: 0.25, lazy: false, mode: "pool", pool: 64, perPool: 4, seed: 3))
        let json = try JSONEncoder().encode(p)
        #expect(try JSONDecoder().decode(SPICE.Parameters.self, from: json) == p)

        for bad in ["alpha=0", "rho=-1", "halflife=2", "mode=windows", "pool=0", "per_pool=0"] {
            var b = try ParameterBag(parsing: [bad])
            #expect(throws: SelectorError.self) { try SPICE.Parameters(&b, seed: 0) }
        }
        var typo = try ParameterBag(parsing: ["lambda=2"])
        _ = try SPICE.Parameters(&typo, seed: 0)
        #expect(throws: SelectorError.self) { try typo.finish(selector: SPICE.name) }
        let m = Self.gradients(10, 4, seed: 1)
        #expect(throws: SelectorError.self) { try SPICE.select(gradients: m, budget: 3, parameters: .init(alpha: -1)) }
        #expect(throws: SelectorError.self) { try SPICE.select(gradients: m, budget: 3, parameters: .init(mode: "x")) }
    }
}
