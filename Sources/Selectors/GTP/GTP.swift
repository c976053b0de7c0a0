/// GTP, Gradient Trajectory Pursuit (Deng, Li & Li 2024): choose at most k pool rows whose
/// non-negative combination best reproduces the target's gradient trajectories.
///
/// The paper has no public code: this is a reconstruction from its abstract and from CoSaMP (Needell &
/// Tropp 2009), made simultaneous over the target groups and non-negative.
///
/// A row's trajectory is a_z = [sqrt(w_1) u(z,1); ...; sqrt(w_C) u(z,C)], u the unit gradient at
/// checkpoint c and w_c = eta_c / sum(eta). The validation rows' trajectories are grouped by k-means
/// into G groups (seeded; G = 1 is the single mean), and Y holds the group means. The pursuit solves
/// min sum_j ||Y_j - A W_j||^2 subject to W >= 0 and at most k non-zero rows of W:
/// ```
/// S = {}, R = Y; repeat up to I times:
///     c_z = sum_j max(0, (A^T R)_zj)          one streaming pass over the pool
///     T = (the 2k rows of largest positive c) ∪ S
///     W = NNLS(A_T, Y)                          on the Gram matrix A_T^T A_T, per group, in parallel
///     S = the k rows of W with the largest non-zero norms;  W_S = NNLS(A_S, Y);  R = Y - A_S W_S
///     stop when ||R|| / ||Y|| < tolerance or S did not change
/// ```
/// Deliberate safeguard: CoSaMP's pruning to k rows can make the refit residual larger than the
/// previous iteration's. GTP keeps the best subset seen and stops at the first iteration that does
/// not lower the residual, so the residual never grows (the notes say when this happened).
///
/// A non-negative least-squares optimum is sparse, so the pursuit may stop short of the budget; the
/// subset is then smaller and the notes say so. Member weight and score are the row norms of W_S (over
/// the groups); members are ranked by weight, ties to the lower row. An exact duplicate of a chosen
/// row adds nothing to the fit, so it is never chosen as well; neither is a row within about 1e-3 rad
/// of the span of the rows already in the fit (copies whose gradients differ only by rounding). Rows
/// that are unusable or have a zero gradient at any checkpoint are never chosen.
public enum GTP {
    public static let name = "gtp"
    public static let version = "2"

    /// A row whose trajectory lies within about 1e-3 rad of the span of the rows already in a fit
    /// (sin^2 of the angle below 1e-6) counts as a copy of them and never enters.
    ///
    /// Gradients are stored with three to seven significant digits (float16 to float32), so such a row
    /// adds no information, only ill-conditioning. On realbench this separates cleanly: the planted
    /// exact text duplicates whose gradients differ by GPU rounding lie at sin^2 <= 2e-9 from their
    /// originals, the closest genuine near-duplicate at 2.5e-2.
    static let dependenceTolerance = 1e-6

    /// Runs the pursuit.
    ///
    /// - Parameter budget: k, the largest subset size.
    /// - Parameter guard: walks the pursuit's members by weight and drops the rows it refuses; the rows
    ///   left are refitted (their weights and the residual are those of the smaller subset). The pursuit
    ///   itself is not changed: its support is chosen jointly, so a row cannot be refused mid-way the
    ///   way a ranked or greedy selector refuses one.
    public static func select(
        checkpoints: [CheckpointGradients], budget: Int, parameters: Parameters, guard selectionGuard: (any SelectionGuard)? = nil,
        progress: SelectionProgressHandler? = nil
    ) throws -> Selection {
        try select(checkpoints: checkpoints, budget: budget, parameters: parameters, guard: selectionGuard, progress: progress, limits: .standard)
    }

    /// ``select(checkpoints:budget:parameters:guard:progress:)`` within the given memory limits.
    public static func select(
        checkpoints: [CheckpointGradients], budget: Int, parameters: Parameters, guard selectionGuard: (any SelectionGuard)? = nil,
        progress: SelectionProgressHandler?, limits: Limits
    ) throws -> Selection {
        guard budget >= 0 else { throw SelectorError("the budget must not be negative (got \(budget))") }
        let layout = try TrajectoryLayout(checkpoints, limits: limits)
        var pursuit = try Pursuit(layout: layout, budget: budget, parameters: parameters)
        pursuit.rowsOutsideCandidates = checkpoints[0].pool.candidateRows.map { layout.poolRows - $0.setCount } ?? 0
        let correlator = ResidualCorrelator(layout: layout)
        var cache = Pursuit.Cache()
        var estimate = RunEstimate(parameters: parameters)
        while let request = pursuit.nextCorrelation {
            estimate.beginIteration()
            let clock = ContinuousClock.now
            let (snapshot, trace) = (estimate, pursuit.diagnostics.objectiveTrace)
            // "iteration 3 of at most 20: correlating [###...] 40% 432000 rows, ETA 5 s, run ETA 1 min 10 s"
            let report = { (stage: String, done: Int, total: Int?, unit: String) -> Void in
                progress?(SelectionProgress(
                    phase: "iteration \(request.iteration) of at most \(parameters.iterations): \(stage)", completed: done, total: total, unit: unit,
                    runSecondsLeft: snapshot.secondsLeft(current: request.iteration, trace: trace)))
            }
            let candidates = try correlator.top(request.count, residual: pursuit.residual, groups: pursuit.groups) { scanned, total in
                report("correlating", scanned, total, "rows")
            }
            pursuit.timings.correlation += GTPTiming.seconds(since: clock)
            try pursuit.advance(candidates, eligibleRows: correlator.eligible.setCount, layout: layout, cache: &cache, stage: progress == nil ? nil : report)
            estimate.endIteration()
        }
        if let selectionGuard, let system = cache.system {
            try pursuit.admitMembers(by: selectionGuard, system: system, layout: layout)
        }
        return pursuit.finish()
    }

    /// The relative residual ||Y - A_S W||_F / ||Y||_F of the best non-negative fit W on the given rows,
    /// with the targets Y built exactly as ``select(checkpoints:budget:parameters:)`` builds them
    /// (used by `compare` to score any subset with GTP's objective). Duplicate rows count once; rows that
    /// are unusable or have a zero gradient contribute nothing.
    public static func relativeResidual(of rows: [Int], checkpoints: [CheckpointGradients], parameters: Parameters) throws -> Double {
        let layout = try TrajectoryLayout(checkpoints)
        let targets = try makeTargets(layout: layout, parameters: parameters)
        let distinct = Set(rows).sorted()
        if let bad = distinct.first(where: { $0 < 0 || $0 >= layout.poolRows }) {
            throw SelectorError("row \(bad) is outside the pool (0..<\(layout.poolRows))")
        }
        var cost = CandidateSystem.Cost()
        let system = try CandidateSystem.build(rows: distinct, layout: layout, targets: targets, reusing: nil, cost: &cost)
        let weights = system.count > 0 ? try system.fit(warmStart: nil) : []
        return frobeniusNorm(try system.residual(targets: targets, weights: weights)) / targets.norm
    }

    static func makeTargets(layout: TrajectoryLayout, parameters: Parameters) throws -> TargetGroups {
        try TargetGroups(
            trajectories: try layout.targetTrajectories(), rows: layout.targetRows, dimension: layout.dimension,
            groups: parameters.groups, seed: parameters.seed)
    }

    /// The fit without the rows the guard refuses, walking the members by weight (heaviest first), and
    /// the kept rows refitted. `system` holds every row of the fit.
    static func guarded(
        _ fit: Fit, by selectionGuard: any SelectionGuard, system: CandidateSystem, targets: TargetGroups, diagnostics: inout Diagnostics
    ) throws -> Fit {
        let ranked = fit.members(groups: targets.count).map(\.row)
        let admitted = Set(try selectionGuard.admit(inOrder: ranked, limit: ranked.count))
        guard admitted.count < ranked.count else { return fit }
        var position: [Int: Int] = [:]
        for (i, r) in system.rows.enumerated() { position[r] = i }
        let kept = system.restricted(to: fit.rows.filter(admitted.contains).map { position[$0]! })
        let weights = try kept.fit(warmStart: fit.spread(over: kept.rows, groups: targets.count))
        let norms = rowNorms(weights, groups: targets.count)
        let support = norms.indices.filter { norms[$0] > 0 }
        let chosen = kept.restricted(to: support)
        let chosenWeights = support.flatMap { i in (0..<targets.count).map { weights[i * targets.count + $0] } }
        let relative = frobeniusNorm(try chosen.residual(targets: targets, weights: chosenWeights)) / targets.norm
        diagnostics.counters["guardRefusedRows"] = Double(ranked.count - admitted.count)
        diagnostics.notes.append(
            "the near-duplicate guard refused \(ranked.count - admitted.count) of the pursuit's \(ranked.count) rows (walked by weight); "
                + "the other \(admitted.count) were refitted: relative residual \(format(fit.relativeResidual)) -> \(format(relative))"
                + (chosen.count < admitted.count ? ", \(admitted.count - chosen.count) rows left with zero weight" : ""))
        return Fit(rows: chosen.rows, weights: chosenWeights, relativeResidual: relative)
    }

    /// Each group's fit admits one copy of a row, but two groups may pick different copies (rows
    /// whose trajectories differ by rounding only). Before pruning, the weights of every row within the
    /// dependence tolerance of a lower row in the support move to that lower row, so the subset keeps
    /// one copy and ranks it by the weight of all its copies. Returns the number of rows merged away.
    static func mergeCopies(_ weights: inout [Double], system: CandidateSystem) -> Int {
        let n = system.count, groups = system.groups
        var representatives: [Int] = []
        var merged = 0
        for i in 0..<n {
            guard (0..<groups).contains(where: { weights[i * groups + $0] != 0 }) else { continue }
            // A row with a positive weight was passive in some group, so its Gram row exists.
            let row = system.gram.row(i)
            let gii = system.gram.diagonal(i)
            let copyOf = representatives.first { r in
                let gir = row[r], grr = system.gram.diagonal(r)
                return gir > 0 && 1 - gir * gir / (gii * grr) < dependenceTolerance
            }
            guard let r = copyOf else {
                representatives.append(i)
                continue
            }
            for j in 0..<groups {
                weights[r * groups + j] += weights[i * groups + j]
                weights[i * groups + j] = 0
            }
            merged += 1
        }
        return merged
    }

    static func rowNorms(_ weights: [Double], groups: Int) -> [Double] {
        stride(from: 0, to: weights.count, by: groups).map { start in
            weights[start..<start + groups].reduce(0) { $0 + $1 * $1 }.squareRoot()
        }
    }

    static func frobeniusNorm(_ values: [Double]) -> Double {
        values.reduce(0) { $0 + $1 * $1 }.squareRoot()
    }

    static func format(_ value: Double) -> String {
        let scaled = (value * 1e6).rounded() / 1e6
        return "\(scaled)"
    }

    /// A subset with its non-negative weights (rows.count x groups) and relative residual.
    struct Fit: Codable {
        var rows: [Int]
        var weights: [Double]
        var relativeResidual: Double

        /// The weights laid over `candidates` (which contain `rows`), zero elsewhere: a warm start.
        func spread(over candidates: [Int], groups: Int) -> [Double]? {
            guard !rows.isEmpty else { return nil }
            var position: [Int: Int] = [:]
            for (i, r) in candidates.enumerated() { position[r] = i }
            var out = [Double](repeating: 0, count: candidates.count * groups)
            for (k, r) in rows.enumerated() {
                guard let i = position[r] else { continue }
                for j in 0..<groups { out[i * groups + j] = weights[k * groups + j] }
            }
            return out
        }

        /// Members ranked by weight (the row norm of W), ties to the lower row.
        func members(groups: Int) -> [Member] {
            let norms = GTP.rowNorms(weights, groups: groups)
            return rows.indices
                .sorted { norms[$0] > norms[$1] || (norms[$0] == norms[$1] && rows[$0] < rows[$1]) }
                .map { Member(row: rows[$0], score: norms[$0], weight: norms[$0]) }
        }
    }

    enum StopReason: String, Codable {
        case tolerance, unchanged, noImprovement, noCorrelation, iterationLimit, stalled

        func explanation(_ parameters: Parameters) -> String {
            switch self {
            case .tolerance: return "the relative residual fell below the tolerance \(parameters.tolerance)"
            case .unchanged: return "the subset stopped changing (no other row lowers the residual)"
            case .noImprovement: return "the next iteration did not lower the residual"
            case .noCorrelation: return "no further row correlates positively with the residual"
            case .iterationLimit: return "the iteration limit (\(parameters.iterations)) was reached"
            case .stalled: return "an iteration lowered the relative residual by less than the stall share \(parameters.stall) of it"
            }
        }
    }

    /// Seconds per phase, reported in the diagnostics.
    struct PhaseTimings: Codable {
        var targets = 0.0, correlation = 0.0, gather = 0.0, gram = 0.0, nnls = 0.0, residual = 0.0
        var dictionary: [String: Double] {
            ["targets": targets, "correlation": correlation, "gather": gather, "gram": gram, "nnls": nnls, "residual": residual]
        }
    }
}

/// Wall-clock helpers for GTP's phase timings.
enum GTPTiming {
    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    }
}
