import Foundation

/// SPICE (Chang et al., ICLR 2026, arXiv 2601.23155; code Chang-pw/SPICE): greedy maximisation of the
/// information a subset's gradients carry, with a penalty for gradients that conflict with it.
///
/// F(S) = log det(I + alpha * sum_{i in S} g_i g_i^T) on one gradient column (not unit-normalised),
/// alpha = 1/lambda. Each step picks the row maximising
/// gain(i|S) - rho * max(0, -cos(g_i, sum_{j in S} g_j)), gain(i|S) = log(1 + alpha g_i^T M_S^{-1} g_i),
/// M_S = I + alpha sum_S g g^T (no penalty at the first pick; ties go to the lower row). The gains are
/// exact, kept up to date through M_S^{-1} = I - B B^T with one rank-one direction per pick, and
/// evaluated lazily (stale gains bound the current totals from above); see ``Greedy`` for the
/// derivation. `lazy = false` runs the plain greedy and picks the same sequence.
///
/// `pool` mode reproduces the released code's windowed selection (train.py): the usable rows in a
/// seeded random order (quadcat's own generator, so not the same order as torch.randperm), cut into
/// windows of `pool` rows (default 128, the released `pool_size`), and the same greedy run afresh in
/// each window (M = I, empty sum) for that window's share of the budget (see
/// ``poolShares(windowSizes:budget:perPool:)``; `perPool` = 64 gives the released `select_k`).
///
/// Differences from the released code, on purpose: it scores with a diagonal-Fisher surrogate
/// (den += alpha * g^4 elementwise after each pick, gain log(1 + alpha * sum g^2 / den)) and, by
/// default, ranks rows by gradient norm once (`selection_method: top_k`) rather than greedily;
/// quadcat implements the design's exact log det and the greedy with the conflict penalty
/// (`conflict_penalty`), and does not implement the surrogate. Its cosine is taken against the mean
/// of the picked gradients, which has the direction of their sum, so the penalty is the same.
///
/// Member score: the total (gain - penalty) when the row was picked; weight 1; rank = pick order.
/// Diagnostics: the objective trace F(S) after each pick (in pool mode: the running sum of the
/// windows' objectives), so the gain of step t is trace[t] - trace[t-1] and its penalty is that gain
/// minus the member's score; refresh and dot-product counts, the stop reason, timings.
public enum SPICE {
    public static let name = "spice"
    public static let version = "1"

    public struct Parameters: Codable, Sendable, Equatable {
        /// 1/lambda, the weight of the gradients against the identity prior (> 0; default 1).
        public var alpha: Double
        /// Weight of the conflict penalty (>= 0; default 0.1, the released default).
        public var rho: Double
        /// Early stop: stop when the best gain is at most `halfLife` times the first pick's gain
        /// (the released code's `halflife_threshold`; in pool mode per window). nil: no early stop.
        public var halfLife: Double?
        /// Lazy greedy (default) or the plain greedy; both pick the same sequence.
        public var lazy: Bool
        /// "global" (one exact greedy over all rows), "stochastic" (Mirzasoleiman et al.'s stochastic
        /// greedy, approximate) or "pool" (the released code's windows).
        public var mode: String
        /// Stochastic mode: each step takes the best of ceil((m / k) ln(1 / epsilon)) random remaining
        /// candidates, which gives (1 - 1/e - epsilon) of the optimum in expectation for monotone
        /// submodular objectives (default 0.01).
        public var epsilon: Double
        /// Window size in pool mode (default 128).
        public var pool: Int
        /// Rows per window in pool mode; nil spreads the budget evenly over the windows.
        public var perPool: Int?
        /// Seeds the window permutation in pool mode.
        public var seed: UInt64

        public static let modes = ["global", "stochastic", "pool"]

        public init(
            alpha: Double = 1, rho: Double = 0.1, halfLife: Double? = nil, lazy: Bool = true,
            mode: String = "global", epsilon: Double = 0.01, pool: Int = 128, perPool: Int? = nil, seed: UInt64 = 0
        ) {
            self.alpha = alpha
            self.rho = rho
            self.halfLife = halfLife
            self.lazy = lazy
            self.mode = mode
            self.epsilon = epsilon
            self.pool = pool
            self.perPool = perPool
            self.seed = seed
        }

        /// Reads `alpha`, `rho`, `halflife`, `lazy`, `mode=global|stochastic|pool`, `epsilon`, `pool`, `per_pool`.
        public init(_ bag: inout ParameterBag, seed: UInt64) throws {
            let alpha = try bag.double("alpha", default: 1, range: Double.leastNormalMagnitude...Double.greatestFiniteMagnitude)
            let rho = try bag.double("rho", default: 0.1, range: 0...Double.greatestFiniteMagnitude)
            let halfLife = try bag.optionalDouble("halflife", range: 0...1)
            let lazy = try bag.bool("lazy", default: true)
            let mode = try bag.choice("mode", default: "global", allowed: Self.modes)
            let epsilon = try bag.double("epsilon", default: 0.01, range: 1e-12...0.999_999)
            let pool = try bag.int("pool", default: 128, range: 1...Int.max)
            let perPool = try bag.optionalInt("per_pool", range: 1...Int.max)
            self.init(alpha: alpha, rho: rho, halfLife: halfLife, lazy: lazy, mode: mode, epsilon: epsilon, pool: pool, perPool: perPool, seed: seed)
        }

        func validate() throws {
            guard alpha > 0, alpha.isFinite else { throw SelectorError("spice: alpha must be a positive finite number, got \(alpha)") }
            guard rho >= 0, rho.isFinite else { throw SelectorError("spice: rho must be a non-negative finite number, got \(rho)") }
            if let halfLife, !(0...1).contains(halfLife) {
                throw SelectorError("spice: halflife must be between 0 and 1, got \(halfLife)")
            }
            guard Self.modes.contains(mode) else { throw SelectorError("spice: mode must be global, stochastic or pool, got \(mode)") }
            guard epsilon > 0, epsilon < 1 else { throw SelectorError("spice: epsilon must lie in (0, 1), got \(epsilon)") }
            guard pool > 0 else { throw SelectorError("spice: pool must be positive, got \(pool)") }
            if let perPool, perPool <= 0 { throw SelectorError("spice: per_pool must be positive, got \(perPool)") }
        }
    }

    /// Selects up to `budget` rows of `gradients` (fewer when fewer rows are usable, or when the
    /// half-life stop fires). Rows outside `gradients.usableRows` or holding NaN/inf are never picked.
    ///
    /// With a guard, a pick it refuses leaves the candidates and the step chooses again (in pool mode the
    /// guard spans the windows: no member is near another from any window).
    public static func select(
        gradients: any VectorSource, budget: Int, parameters: Parameters, guard selectionGuard: (any SelectionGuard)? = nil,
        progress: SelectionProgressHandler? = nil
    ) throws -> Selection {
        try parameters.validate()
        guard budget >= 0 else { throw SelectorError("spice: the budget must be non-negative, got \(budget)") }
        let start = Date()
        let rows = try Candidates(gradients, progress: progress)
        let loaded = Date()
        let strategy: Strategy =
            parameters.mode == "stochastic" ? .stochastic(epsilon: parameters.epsilon, seed: parameters.seed) : parameters.lazy ? .lazy : .plain
        var greedy = Greedy(alpha: parameters.alpha, rho: parameters.rho, halfLife: parameters.halfLife, strategy: strategy)
        if parameters.mode != "pool" { greedy.progress = progress }
        greedy.selectionGuard = selectionGuard
        var diagnostics = Diagnostics()
        diagnostics.objectiveLabel = "F(S) = log det(I + alpha sum g g^T)"
        diagnostics.stepLabel = "pick"
        var members: [Member] = []
        var gains: [Double] = []
        var penalties: [Double] = []
        var evaluations = 0, products = 0, abandoned = 0, refused = 0
        var stopReasons: [StopReason: Int] = [:]

        func record(_ result: GreedyResult, positions: [Int], objectiveBase: Double) {
            for pick in result.picks {
                members.append(Member(row: rows.rowIds[positions[pick.position]], score: pick.total))
                gains.append(pick.gain)
                penalties.append(pick.penalty)
            }
            diagnostics.objectiveTrace += result.objective.map { objectiveBase + $0 }
            evaluations += result.evaluations
            products += result.products
            abandoned += result.abandoned
            refused += result.refused
            stopReasons[result.stopReason, default: 0] += 1
        }

        if parameters.mode == "pool" {
            let windows = poolWindows(rows: Array(0..<rows.count), pool: parameters.pool, seed: parameters.seed)
            let shares = poolShares(windowSizes: windows.map(\.count), budget: budget, perPool: parameters.perPool)
            for (w, (window, share)) in zip(windows, shares).enumerated() where share > 0 {
                let result = try greedy.run(candidates: rows, positions: window, budget: share)
                record(result, positions: window, objectiveBase: diagnostics.objectiveTrace.last ?? 0)
                progress?(SelectionProgress(phase: "picking in windows", completed: w + 1, total: windows.count, unit: "windows"))
            }
            diagnostics.counters["windows"] = Double(windows.count)
            diagnostics.counters["windowsStoppedEarly"] = Double(stopReasons[.halfLife] ?? 0)
            diagnostics.notes.append(
                "pool mode: \(windows.count) windows of up to \(parameters.pool) rows; the objective trace sums the windows' log dets, each window restarting at M = I")
        } else {
            let positions = Array(0..<rows.count)
            let result = try greedy.run(candidates: rows, positions: positions, budget: budget)
            record(result, positions: positions, objectiveBase: 0)
            diagnostics.counters["stoppedByHalfLife"] = result.stopReason == .halfLife ? 1 : 0
            diagnostics.notes.append("stop: \(result.stopReason.rawValue)")
            if parameters.mode == "stochastic" {
                diagnostics.notes.append(
                    "stochastic greedy (approximate): each pick is the best of a random sample of the remaining rows, "
                        + "ceil((m / k) ln(1 / epsilon)) with epsilon = \(parameters.epsilon); not the exact greedy's picks")
            }
        }
        let finished = Date()

        diagnostics.counters["usableRows"] = Double(rows.count)
        diagnostics.counters["nonFiniteRows"] = Double(rows.nonFiniteRows.count)
        let outside = gradients.candidateRows.map { gradients.rowCount - $0.setCount } ?? 0
        diagnostics.counters["unusableRows"] = Double(gradients.rowCount - outside - rows.count - rows.nonFiniteRows.count)
        diagnostics.counters["evaluations"] = Double(evaluations)
        diagnostics.counters["dotProducts"] = Double(products)
        diagnostics.counters["abandonedRefreshes"] = Double(abandoned)
        diagnostics.counters["objective"] = diagnostics.objectiveTrace.last ?? 0
        if let first = gains.first { diagnostics.counters["firstGain"] = first }
        if let last = gains.last { diagnostics.counters["lastGain"] = last }
        diagnostics.counters["penalisedPicks"] = Double(penalties.filter { $0 > 0 }.count)
        diagnostics.counters["penaltyTotal"] = penalties.reduce(0, +)
        if !rows.nonFiniteRows.isEmpty {
            let sample = rows.nonFiniteRows.prefix(5).map(String.init).joined(separator: ", ")
            diagnostics.notes.append(
                "\(rows.nonFiniteRows.count) rows hold NaN or infinity, or a norm too large for Float32, and were never considered (rows \(sample)\(rows.nonFiniteRows.count > 5 ? ", ..." : ""))")
        }
        if members.count < budget {
            var why: [String] = []
            if (stopReasons[.halfLife] ?? 0) > 0 { why.append("the half-life stop fired") }
            if rows.count < budget { why.append("only \(rows.count) rows are usable") }
            if refused > 0 { why.append("the near-duplicate guard refused \(refused) picks") }
            if parameters.mode == "pool", let perPool = parameters.perPool {
                why.append("per_pool=\(perPool) caps each window")
            }
            diagnostics.notes.append("\(members.count) rows picked for a budget of \(budget): \(why.joined(separator: "; "))")
        }
        diagnostics.timings["norms"] = loaded.timeIntervalSince(start)
        diagnostics.timings["greedy"] = finished.timeIntervalSince(loaded)
        return Selection(members: members, diagnostics: diagnostics)
    }
}
