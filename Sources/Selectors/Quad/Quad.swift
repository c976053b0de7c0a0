import Foundation

/// Quad (Zhang et al., ICLR 2025; code iTheresaApocalypse/Quad): a multi-armed bandit over embedding
/// clusters that estimates each cluster's influence on the target from a few sampled rows and takes
/// whole slices of the clusters that look good (docs/SELECTORS.md, "quad").
///
/// The influence of a row is I(z) = <g(z)/||g(z)||, vbar>, vbar the mean of the unit-normalised target
/// gradients (which are expected to be preconditioned already, e.g. by an inverse-Hessian product).
/// Each k-means cluster of the embedding column is an arm with the score
/// `mean reward + alpha * sqrt(2 ln N / (n_i + 1))`. A round pulls the `arms` best clusters that still
/// have unread rows: it reads the cluster's next slice (its rows in a seeded random order, `gamma` of
/// the cluster at a time), draws `bEst` of the slice's scored rows, and takes the reward
/// `mean I - tau`. A positive reward accepts the whole slice; the slice is consumed either way. The
/// reward is spread to the clusters whose centroids lie within `radius`, weighted `1 - d / radius`,
/// each such update counting once for the cluster and once for N (as the released code does).
///
/// Where quadcat departs from the released code (see also ``Parameters``):
/// - it accepts exactly the slice it estimated from (the released code estimates from rows
///   `10s..<10s+10` of a cluster but takes its first `20000 * accepted` rows, whichever they are);
/// - the thresholds scale with the data: tau is a quantile of the influences, alpha a tenth of their
///   standard deviation, the radius the median nearest-centroid distance (the released code used the
///   absolute 0.002, 1e-4 and 0.2 of its 600M-document run);
/// - the last accepted slice is cut so that the subset has exactly the budget (the released code
///   stops after the round that crosses it), and a cluster's last, shorter slice is read too;
/// - members keep their acceptance order (the released code shuffles them).
///
/// A partial gradient column (gradients attached for a sample of the rows, `quadcat attach --ids`) is
/// how Quad is meant to run at scale: the rows with a gradient are the evidence, and every row of a
/// cluster can be selected. A slice with fewer scored rows than its estimate draws borrows the rest
/// from its cluster's other scored rows; a cluster with no scored row at all cannot be scored, so the
/// bandit never pulls it, the diagnostics count it, and its rows come last in the fill (none with
/// `strict=true`). Rows without a gradient are still taken with the accepted slices they belong to,
/// as before: the subset is data to train on, and a cluster's sampled gradients stand for all of it.
public enum Quad {
    public static let name = "quad"
    /// Bump when the members a given input and parameters produce change. Version 2: when every arm is
    /// exhausted before the budget, the rest is filled from the rejected slices (`strict=true` stops
    /// as version 1 did); the k-means sample, the tau sample, the clusters' read order and the reward
    /// draws take the rows with the smallest keys h(seed, row) instead of drawing from random streams,
    /// so a sharded corpus draws exactly the rows of the single catalog. Version 3: with a partial
    /// gradient column, a slice with too few scored rows borrows its estimate from its cluster's other
    /// scored rows, and a cluster without any is never pulled (version 2 read such slices without a
    /// reward); a complete column selects exactly what version 2 did.
    /// Version 4: k-means|| seeding (was greedy k-means++) and at most 20 Lloyd iterations (was 100), with the
    /// assignment an exact blocked SGEMM.
    public static let version = "4"

    /// Runs Quad and returns the accepted rows in acceptance order.
    ///
    /// - Parameters:
    ///   - gradients: one gradient column of the pool (n x d), complete or partial; rows outside
    ///     `usableRows` are unscored: they never estimate a reward but can be taken with an accepted
    ///     slice (see the partial-column paragraph above).
    ///   - target: the (preconditioned) target gradients, m x d, same projection as `gradients`.
    ///   - embeddings: the embedding column of the same n rows, clustered with k-means; rows outside
    ///     its `usableRows` belong to no cluster and are never selected.
    ///   - budget: the number of rows wanted; the subset is smaller only when the bandit runs out of
    ///     arms (or rounds) first, and the diagnostics then say why.
    /// - Returns: members with score I(z) (the slice's estimated mean influence for unscored rows,
    ///   since a score cannot be NaN) and weight 1, in acceptance order.
    ///   - guard: admits the rows of each accepted (or filled) slice one by one; the rows it refuses are
    ///     consumed with their slice but not taken.
    public static func select(
        gradients: any VectorSource, target: Matrix, embeddings: any VectorSource, budget: Int,
        parameters: Parameters, guard selectionGuard: (any SelectionGuard)? = nil, progress: SelectionProgressHandler? = nil
    ) throws -> Selection {
        guard budget >= 0 else { throw SelectorError("the budget must not be negative (got \(budget))") }
        guard gradients.rowCount == embeddings.rowCount else {
            throw SelectorError(
                "the gradient column has \(gradients.rowCount) rows but the embedding column has \(embeddings.rowCount)")
        }
        try parameters.validate()
        var clock = ContinuousClock.now
        let influence = try influences(gradients: gradients, target: target) { scanned in
            progress?(SelectionProgress(phase: "influences", completed: scanned, total: gradients.rowCount, unit: "rows"))
        }
        let influenceTime = elapsed(since: &clock)
        guard influence.contains(where: { !$0.isNaN }) else {
            throw SelectorError("no row of the gradient column has a usable, non-zero gradient: Quad has nothing to score")
        }
        progress?(SelectionProgress(phase: "clustering embeddings", completed: 0, total: nil, unit: "rows"))
        let clustering = try fitClusters(
            embeddings: embeddings, clusters: parameters.clusters, seed: parameters.seed, sample: parameters.kmeansSample)
        let kmeansTime = elapsed(since: &clock)
        var outcome = try select(
            influence: influence, assignments: clustering.assignments, centroids: clustering.centroids, budget: budget,
            parameters: parameters, guard: selectionGuard, candidates: embeddings.candidateRows)
        outcome.selection.diagnostics.timings["influence"] = influenceTime
        outcome.selection.diagnostics.timings["kmeans"] = kmeansTime
        outcome.selection.diagnostics.counters["kmeansIterations"] = Double(clustering.iterations)
        return outcome.selection
    }

    /// The subset and the bandit's final arm statistics of one run.
    public struct Outcome: Sendable {
        public var selection: Selection
        /// The arms' reward sums and counts after the last round.
        public var bandit: Bandit
    }

    /// The bandit part of ``select(gradients:target:embeddings:budget:parameters:)``, over influences
    /// and clusters computed beforehand (`select` calls it after its influence pass and k-means).
    ///
    /// - Parameters:
    ///   - influence: I(z) per row, NaN for unscored rows (see ``influences(gradients:target:)``).
    ///   - assignments: the cluster of each row in `0..<centroids.rows`, or -1 for a row in no cluster.
    ///   - centroids: the clusters' centroids in embedding space (for the neighbour radius).
    ///   - parameters: `clusters` and `kmeansSample` are not used here.
    ///   - guard: see ``select(gradients:target:embeddings:budget:parameters:guard:progress:)``.
    ///   - candidates: the rows a query left, when it left only some (for the notes: the other rows are
    ///     in no cluster because they are not candidates, not because they lack an embedding).
    public static func select(
        influence: [Float], assignments: [Int], centroids: Matrix, budget: Int, parameters: Parameters,
        guard selectionGuard: (any SelectionGuard)? = nil, candidates: RowMask? = nil
    ) throws -> Outcome {
        guard influence.count == assignments.count else {
            throw SelectorError("\(influence.count) influences but \(assignments.count) cluster assignments")
        }
        guard assignments.allSatisfy({ $0 >= -1 && $0 < centroids.rows }) else {
            throw SelectorError("a cluster assignment is outside -1..<\(centroids.rows)")
        }
        let summary = PoolSummary(influence: influence, assignments: assignments, parameters: parameters, candidates: candidates)
        let rows = PoolRows(influence: influence, assignments: assignments, clusterCount: centroids.rows, seed: parameters.seed)
        return try select(rows: rows, summary: summary, centroids: centroids, budget: budget, parameters: parameters, guard: selectionGuard)
    }

    /// The bandit over `rows`, which may know only some of the pool's rows (a shard set's driver):
    /// throws ``RowsMissing`` naming the rows to fetch when the run reaches one it does not know. The
    /// run is a function of the rows it reads, so running it again once they are known goes further
    /// and ends with the subset the whole pool gives.
    ///
    /// - Parameters:
    ///   - summary: the counts over rows the bandit does not read (see ``PoolSummary``).
    ///   - neighbourhood: the centroids' ``Neighbourhood`` at `parameters.radius`, when the caller kept it
    ///     from an earlier run over the same centroids; nil computes it (k^2 x dim).
    public static func select(
        rows: any Rows, summary: PoolSummary, centroids: Matrix, budget: Int, parameters: Parameters,
        guard selectionGuard: (any SelectionGuard)? = nil, neighbourhood: Neighbourhood? = nil
    ) throws -> Outcome {
        guard budget >= 0 else { throw SelectorError("the budget must not be negative (got \(budget))") }
        try parameters.validate()
        guard rows.clusterCount == centroids.rows else {
            throw SelectorError("\(rows.clusterCount) clusters of rows but \(centroids.rows) centroids")
        }
        var clock = ContinuousClock.now
        var diagnostics = Diagnostics()
        diagnostics.objectiveLabel = "rows selected so far"
        diagnostics.stepLabel = "round"
        guard summary.scoredRows > 0, !summary.tauSampleValues.isEmpty else {
            throw SelectorError("no row of the gradient column has a usable, non-zero gradient: Quad has nothing to score")
        }
        let statistics = SampleStatistics(values: summary.tauSampleValues, quantile: parameters.tauQuantile)
        let tau = parameters.tau ?? statistics.quantile
        let alpha = parameters.alpha ?? 0.1 * statistics.standardDeviation
        let neighbourhood = neighbourhood ?? Neighbourhood(centroids: centroids, radius: parameters.radius)
        guard neighbourhood.lists.count == centroids.rows else {
            throw SelectorError("the neighbourhood has \(neighbourhood.lists.count) clusters but there are \(centroids.rows) centroids")
        }
        let radius = neighbourhood.radius, neighbours = neighbourhood.lists
        diagnostics.timings["neighbours"] = elapsed(since: &clock)

        let clusterCount = centroids.rows
        let arms = parameters.arms ?? max(1, min(50, clusterCount / 4))
        var run = BanditRun(rows: rows, bandit: Bandit(neighbours: neighbours, alpha: alpha), tau: tau, parameters: parameters)
        run.selectionGuard = selectionGuard
        try run.run(budget: budget, arms: arms, maxRounds: parameters.maxRounds ?? Int.max)
        let exhausted = run.members.count < budget && !run.stoppedAtMaxRounds
        if exhausted && !parameters.strict {
            try run.fillFromRejectedSlices(budget: budget, fallbackScore: statistics.mean)
        }
        diagnostics.timings["bandit"] = elapsed(since: &clock)

        let unscoredMembers = run.members.count { rows.influence($0.row).isNaN }
        diagnostics.objectiveTrace = run.acceptedAfterRound.map(Double.init)
        diagnostics.series["pullsPerRound"] = run.pullsPerRound.map(Double.init)
        diagnostics.series["acceptedPullsPerRound"] = run.acceptedPullsPerRound.map(Double.init)
        diagnostics.counters = [
            "rounds": Double(run.acceptedAfterRound.count),
            "pulls": Double(run.pulls),
            "acceptedPulls": Double(run.acceptedPulls),
            "pullsWithoutScoredRows": Double(run.pullsWithoutScoredRows),
            "pullsEstimatedFromCluster": Double(run.pullsEstimatedFromCluster),
            "clustersWithoutScoredRows": Double(run.unscorableClusters.count),
            "rowsInClustersWithoutScoredRows": Double(run.rowsInUnscorableClusters),
            "arms": Double(arms),
            "clusters": Double(clusterCount),
            "clustersCovered": Double(run.coveredClusters.count),
            "tau": tau,
            "alpha": alpha,
            "radius": radius,
            "influenceMean": statistics.mean,
            "influenceStandardDeviation": statistics.standardDeviation,
            "unscoredRows": Double(summary.unscoredRows),
            "unscoredMembers": Double(unscoredMembers),
            "rowsWithoutCluster": Double(summary.rowsWithoutCluster),
            "filledRows": Double(run.filledRows),
            "filledSlices": Double(run.filledSlices),
        ]
        if selectionGuard != nil { diagnostics.counters["guardRefusedRows"] = Double(run.refusedRows) }
        diagnostics.notes = notes(
            run: run, budget: budget, tau: tau, maximumInfluence: summary.maximumInfluence,
            unscoredMembers: unscoredMembers, unscoredRows: summary.unscoredRows,
            rowsWithoutCluster: summary.rowsWithoutCluster, strict: parameters.strict)
        return Outcome(selection: Selection(members: run.members, diagnostics: diagnostics), bandit: run.bandit)
    }

    /// Plain-language remarks on the run: why the subset is short, what was left out.
    private static func notes(
        run: BanditRun, budget: Int, tau: Double, maximumInfluence: Double,
        unscoredMembers: Int, unscoredRows: Int, rowsWithoutCluster: Int, strict: Bool
    ) -> [String] {
        var notes: [String] = []
        if run.filledRows > 0 {
            let unscorable = run.unscorableClusters.isEmpty ? "" : ", then from the clusters without a gradient"
            notes.append(
                "every cluster was read to the end at \(run.members.count - run.filledRows) rows; the other \(run.filledRows) rows were "
                    + "filled from \(run.filledSlices) rejected slices, best sampled reward first\(unscorable) (strict=true stops instead)")
        }
        if run.members.count < budget {
            let reason: String
            if run.stoppedAtMaxRounds {
                reason = "the bandit stopped after maxRounds = \(run.acceptedAfterRound.count) rounds"
            } else {
                reason = strict ? "every cluster was read to the end (no arm left; strict=true)" : "every cluster was read to the end and every slice was taken"
            }
            if run.members.isEmpty {
                notes.append(
                    "accepted nothing: no sampled slice had a mean influence above tau = \(tau) "
                        + "(the largest influence of any row is \(maximumInfluence)); \(reason)")
            } else {
                notes.append("the subset has \(run.members.count) of the \(budget) rows asked for: \(reason)")
            }
        }
        if unscoredRows > 0 {
            notes.append("\(unscoredRows) rows have no usable gradient: they estimate no reward but can come with an accepted slice")
        }
        if unscoredMembers > 0 {
            notes.append("\(unscoredMembers) members have no gradient; their score is their slice's estimated mean influence")
        }
        if run.pullsEstimatedFromCluster > 0 {
            notes.append(
                "\(run.pullsEstimatedFromCluster) of \(run.pulls) slices had fewer rows with a gradient than their estimate draws "
                    + "(\(run.pullsWithoutScoredRows) had none): their estimate also drew on their cluster's other rows with a gradient")
        }
        if !run.unscorableClusters.isEmpty {
            notes.append(
                "\(run.unscorableClusters.count) clusters (\(run.rowsInUnscorableClusters) rows) have no row with a gradient: they cannot be "
                    + "scored, so the bandit never pulled them" + (strict ? "" : "; their rows only fill the budget, last"))
        }
        if rowsWithoutCluster > 0 {
            notes.append("\(rowsWithoutCluster) rows belong to no cluster (no usable embedding): they cannot be selected")
        }
        return notes
    }

    /// Seconds since `start`, and resets `start` to now.
    private static func elapsed(since start: inout ContinuousClock.Instant) -> Double {
        let now = ContinuousClock.now
        let duration = now - start
        start = now
        return Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }

    /// The independent random streams of one run, each derived from the user's seed.
    enum Stream: UInt64 {
        case kmeansSample = 1, kmeansSeeding, clusterOrder, tauSample, estimation
    }

    /// The key that orders `row` in its cluster's read order (a shard set's steps fetch rows by it).
    public static func readOrderKey(seed: UInt64, row: Int) -> UInt64 { RowKeys.key(streamSeed(seed, .clusterOrder), row) }

    static func streamSeed(_ seed: UInt64, _ stream: Stream) -> UInt64 {
        var random = SeededRandom(seed: seed ^ (stream.rawValue &* 0x9E37_79B9_7F4A_7C15))
        return random.next()
    }
}
