extension Quad {
    /// One bandit run: the clusters' read orders and cursors, the members accepted so far and the
    /// counts the diagnostics report.
    struct BanditRun {
        let rows: any Rows
        let tau: Double
        var bandit: Bandit
        /// How many rows of each cluster have been read.
        private var cursor: [Int]
        /// How many scored rows of each cluster have been read: a slice that has too few of its own
        /// borrows its estimate from the cluster's other scored rows.
        private var scoredCursor: [Int]
        /// Clusters with rows but no scored row: they cannot be scored, so they are never pulled
        /// (``fillFromRejectedSlices(budget:fallbackScore:)`` takes their rows last).
        let unscorableClusters: [Int]
        /// Slice size (b_take) and estimation draws (b_est) of each cluster.
        private var sliceSize: [Int]
        private var estimationDraws: [Int]
        private let estimationSeed: UInt64
        /// Slices read but not accepted, for the fill (``fillFromRejectedSlices(budget:fallbackScore:)``).
        private var rejected: [(reward: Double, pull: Int, cluster: Int, rows: [Int], estimate: Double)] = []

        private(set) var members: [Member] = []
        /// Clusters with at least one member.
        private(set) var coveredClusters = Set<Int>()
        /// Members after each round (the objective trace).
        private(set) var acceptedAfterRound: [Int] = []
        /// Slices read, and slices accepted, in each round.
        private(set) var pullsPerRound: [Int] = []
        private(set) var acceptedPullsPerRound: [Int] = []
        private(set) var pulls = 0
        private(set) var acceptedPulls = 0
        /// Slices without a scored row of their own, and slices whose estimate also drew on the
        /// cluster's scored rows outside the slice (the first are among the second).
        private(set) var pullsWithoutScoredRows = 0
        private(set) var pullsEstimatedFromCluster = 0
        private(set) var stoppedAtMaxRounds = false
        /// Rows the fill took after every arm was exhausted, and the rejected slices they came from
        /// (rows of clusters that could not be scored count as rows only).
        private(set) var filledRows = 0
        private(set) var filledSlices = 0
        /// Admits the rows of an accepted (or filled) slice one by one; nil takes them all.
        var selectionGuard: (any SelectionGuard)? = nil
        /// Rows of accepted or filled slices the guard refused.
        private(set) var refusedRows = 0

        init(rows: any Rows, bandit: Bandit, tau: Double, parameters: Parameters) {
            self.rows = rows
            self.tau = tau
            self.bandit = bandit
            let clusters = 0..<rows.clusterCount
            cursor = [Int](repeating: 0, count: clusters.count)
            scoredCursor = cursor
            sliceSize = clusters.map { max(1, Int((parameters.gamma * Double(rows.rowCount($0))).rounded())) }
            estimationDraws = clusters.map { max(2, Int((parameters.bEst * Double(rows.rowCount($0))).rounded())) }
            estimationSeed = Quad.streamSeed(parameters.seed, .estimation)
            unscorableClusters = clusters.filter { rows.rowCount($0) > 0 && rows.scoredCount($0) == 0 }
        }

        /// Rows of the clusters that cannot be scored (see ``unscorableClusters``).
        var rowsInUnscorableClusters: Int { unscorableClusters.reduce(0) { $0 + rows.rowCount($1) } }

        /// A cluster the bandit may pull: it has unread rows and at least one scored row.
        private func isOpen(_ cluster: Int) -> Bool {
            cursor[cluster] < rows.rowCount(cluster) && rows.scoredCount(cluster) > 0
        }

        /// The rows a pull of each of `clusters` (in this order, from their cursors) would read: the
        /// next two slices, and every scored row where a slice is expected to borrow (fewer scored
        /// rows in a slice's worth of the cluster than its estimate draws).
        private func missing(_ clusters: some Sequence<Int>) -> RowsMissing {
            var missing = RowsMissing(ranks: [:], allScored: [])
            for cluster in clusters {
                missing.ranks[cluster] = min(rows.rowCount(cluster), cursor[cluster] + 2 * sliceSize[cluster])
                let expectedScored = Double(rows.scoredCount(cluster)) * Double(sliceSize[cluster]) / Double(max(1, rows.rowCount(cluster)))
                if expectedScored < Double(estimationDraws[cluster]) { missing.allScored.insert(cluster) }
            }
            return missing
        }

        /// Pulls rounds of `arms` clusters until the budget is met, no cluster has unread rows, or
        /// `maxRounds` rounds have run. Throws ``Quad/RowsMissing`` at the first pull whose rows ``rows``
        /// does not know, naming them and the rows the rest of that round will read.
        mutating func run(budget: Int, arms: Int, maxRounds: Int) throws {
            while members.count < budget {
                let pulled = bandit.best(arms, where: isOpen)
                if pulled.isEmpty { break }
                if acceptedAfterRound.count == maxRounds {
                    stoppedAtMaxRounds = true
                    break
                }
                let (pullsBefore, acceptedBefore) = (pulls, acceptedPulls)
                for (index, cluster) in pulled.enumerated() {
                    if var missing = try pull(cluster, budget: budget) {
                        // The rest of the round's pulls are known now: fetch their slices in the same round.
                        let rest = self.missing(pulled[(index + 1)...])
                        missing.ranks.merge(rest.ranks) { a, _ in a }
                        missing.allScored.formUnion(rest.allScored)
                        throw missing
                    }
                    if members.count == budget { break }
                }
                acceptedAfterRound.append(members.count)
                pullsPerRound.append(pulls - pullsBefore)
                acceptedPullsPerRound.append(acceptedPulls - acceptedBefore)
            }
        }

        /// When every arm was read to the end before the budget: takes the rejected slices, best sampled
        /// reward first (ties: the earlier pull), then the rows of the clusters that could not be scored
        /// (by cluster number, each in read order), until the budget is met. Rows without a score get
        /// their slice's estimate, or `fallbackScore` when they come from a cluster without one.
        mutating func fillFromRejectedSlices(budget: Int, fallbackScore: Double) throws {
            let ranked = rejected.sorted { a, b in a.reward > b.reward || (a.reward == b.reward && a.pull < b.pull) }
            for slice in ranked where members.count < budget {
                filledSlices += 1
                let before = members.count
                defer { if members.count > before { coveredClusters.insert(slice.cluster) } }
                for row in try admitted(slice.rows, limit: budget - members.count) {
                    let value = rows.influence(row)
                    members.append(Member(row: row, score: value.isNaN ? slice.estimate : Double(value)))
                    filledRows += 1
                }
            }
            for (index, cluster) in unscorableClusters.enumerated() where members.count < budget {
                guard let clusterRows = rows.rows(cluster, 0..<rows.rowCount(cluster)) else {
                    throw RowsMissing(
                        ranks: Dictionary(uniqueKeysWithValues: unscorableClusters[index...].map { ($0, rows.rowCount($0)) }), allScored: [])
                }
                let admittedRows = try admitted(clusterRows, limit: budget - members.count)
                if !admittedRows.isEmpty { coveredClusters.insert(cluster) }
                for row in admittedRows {
                    members.append(Member(row: row, score: fallbackScore))
                    filledRows += 1
                }
            }
        }

        /// The first `limit` rows of a slice, or those of them the guard admits, in read order.
        private mutating func admitted(_ slice: [Int], limit: Int) throws -> [Int] {
            guard let selectionGuard else { return Array(slice.prefix(limit)) }
            let rows = try selectionGuard.admit(inOrder: slice, limit: limit)
            // Rows after the last admitted one were not looked at when the limit was reached.
            let looked = rows.count < limit ? slice.count : slice.firstIndex(of: rows.last!)! + 1
            refusedRows += looked - rows.count
            return rows
        }

        /// Reads the cluster's next slice, estimates its reward and accepts the slice (cut at the budget)
        /// when the reward is positive. Returns the rows to fetch, changing nothing, when ``rows`` does
        /// not know the rows the pull reads; nil when the pull is done.
        ///
        /// The estimate wants `min(b_est, slice size)` draws, taken among the slice's scored rows (those
        /// with the smallest keys, see the read order). A slice with fewer scored rows than that (a
        /// partial gradient column) uses all of them and borrows the rest from the cluster's other scored
        /// rows, unread ones first in read order, then those already read: the cluster is the arm, and
        /// its scored rows are the evidence for any slice of it. With a complete column no slice
        /// borrows, and the estimate is the slice's own.
        private mutating func pull(_ cluster: Int, budget: Int) throws -> RowsMissing? {
            let start = cursor[cluster]
            let size = rows.rowCount(cluster)
            guard let slice = rows.rows(cluster, start..<min(start + sliceSize[cluster], size)) else { return missing([cluster]) }
            let scored = slice.filter { !rows.influence($0).isNaN }
            let scoredStart = scoredCursor[cluster]
            let wanted = min(estimationDraws[cluster], slice.count)
            var borrowed: [Int] = []
            if scored.count < wanted {
                let scoredTotal = rows.scoredCount(cluster)
                let unreadStart = scoredStart + scored.count
                let unreadCount = min(wanted - scored.count, scoredTotal - unreadStart)
                let readCount = min(wanted - scored.count - unreadCount, scoredStart)
                guard let unread = rows.scoredRows(cluster, unreadStart..<unreadStart + unreadCount),
                    let read = rows.scoredRows(cluster, 0..<readCount)
                else { return RowsMissing(ranks: [:], allScored: [cluster]) }
                borrowed = unread + read
            }
            cursor[cluster] += slice.count
            scoredCursor[cluster] += scored.count
            pulls += 1
            var sum = 0.0
            let draws: Int
            if scored.count >= wanted {
                draws = wanted
                for row in RowKeys.smallest(draws, of: scored, seed: estimationSeed) { sum += Double(rows.influence(row)) }
            } else {
                if scored.isEmpty { pullsWithoutScoredRows += 1 }
                pullsEstimatedFromCluster += 1
                draws = scored.count + borrowed.count
                for row in scored + borrowed { sum += Double(rows.influence(row)) }
            }
            // Open clusters have a scored row, so draws >= 1.
            let estimate = sum / Double(draws)
            let reward = estimate - tau
            bandit.record(reward: reward, on: cluster)
            guard reward > 0 else {
                rejected.append((reward, pulls, cluster, slice, estimate))
                return nil
            }
            acceptedPulls += 1
            let admittedRows = try admitted(slice, limit: budget - members.count)
            if !admittedRows.isEmpty { coveredClusters.insert(cluster) }
            for row in admittedRows {
                let value = rows.influence(row)
                members.append(Member(row: row, score: value.isNaN ? estimate : Double(value)))
            }
            return nil
        }
    }
}
