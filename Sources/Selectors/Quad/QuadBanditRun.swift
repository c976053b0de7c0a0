extension Quad {
    /// One bandit run: the clusters' read orders and cursors, the members accepted so far and the
    /// counts the diagnostics report.
    struct BanditRun {
        let influence: [Float]
        let tau: Double
        var bandit: Bandit
        /// Rows of each cluster in their seeded read order.
        private var order: [[Int]]
        /// How many rows of each cluster have been read.
        private var cursor: [Int]
        /// The scored rows of each cluster (those with a usable gradient), in read order, and how many
        /// of them have been read: the rows a slice that has too few of its own borrows its estimate from.
        private var scoredOrder: [[Int]]
        private var scoredCursor: [Int]
        /// Clusters with rows but no scored row: they cannot be scored, so they are never pulled
        /// (``fillFromRejectedSlices(budget:fallbackScore:)`` takes their rows last).
        let unscorableClusters: [Int]
        /// Slice size (b_take) and estimation draws (b_est) of each cluster.
        private var sliceSize: [Int]
        private var estimationDraws: [Int]
        private let estimationSeed: UInt64
        /// Slices read but not accepted, for the fill (``fillFromRejectedSlices(budget:fallbackScore:)``).
        private var rejected: [(reward: Double, pull: Int, rows: ArraySlice<Int>, estimate: Double)] = []

        private(set) var members: [Member] = []
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

        init(influence: [Float], assignments: [Int], clusterCount: Int, bandit: Bandit, tau: Double, parameters: Parameters) {
            self.influence = influence
            self.tau = tau
            self.bandit = bandit
            order = [[Int]](repeating: [], count: clusterCount)
            for (row, cluster) in assignments.enumerated() where cluster >= 0 { order[cluster].append(row) }
            // A cluster's read order is its rows by key h(seed, row), not a shuffle of a random stream,
            // so a corpus split into shards reads every cluster in the same order (docs/ARCHITECTURE.md, "Shard sets").
            let orderSeed = Quad.streamSeed(parameters.seed, .clusterOrder)
            for cluster in order.indices { order[cluster] = RowKeys.ordered(order[cluster], seed: orderSeed) }
            cursor = [Int](repeating: 0, count: clusterCount)
            sliceSize = order.map { max(1, Int((parameters.gamma * Double($0.count)).rounded())) }
            estimationDraws = order.map { max(2, Int((parameters.bEst * Double($0.count)).rounded())) }
            estimationSeed = Quad.streamSeed(parameters.seed, .estimation)
            let scoredOrder = order.map { rows in rows.filter { !influence[$0].isNaN } }
            self.scoredOrder = scoredOrder
            scoredCursor = [Int](repeating: 0, count: clusterCount)
            // A local copy: a closure may not capture self before every stored property is set.
            let readOrder = order
            unscorableClusters = readOrder.indices.filter { !readOrder[$0].isEmpty && scoredOrder[$0].isEmpty }
        }

        /// Rows of the clusters that cannot be scored (see ``unscorableClusters``).
        var rowsInUnscorableClusters: Int { unscorableClusters.reduce(0) { $0 + order[$1].count } }

        /// A cluster the bandit may pull: it has unread rows and at least one scored row.
        private func isOpen(_ cluster: Int) -> Bool {
            cursor[cluster] < order[cluster].count && !scoredOrder[cluster].isEmpty
        }

        /// Pulls rounds of `arms` clusters until the budget is met, no cluster has unread rows, or
        /// `maxRounds` rounds have run.
        mutating func run(budget: Int, arms: Int, maxRounds: Int) throws {
            while members.count < budget {
                let pulled = bandit.best(arms, where: isOpen)
                if pulled.isEmpty { break }
                if acceptedAfterRound.count == maxRounds {
                    stoppedAtMaxRounds = true
                    break
                }
                let (pullsBefore, acceptedBefore) = (pulls, acceptedPulls)
                for cluster in pulled {
                    try pull(cluster, budget: budget)
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
                for row in try admitted(Array(slice.rows), limit: budget - members.count) {
                    let value = influence[row]
                    members.append(Member(row: row, score: value.isNaN ? slice.estimate : Double(value)))
                    filledRows += 1
                }
            }
            for cluster in unscorableClusters where members.count < budget {
                for row in try admitted(order[cluster], limit: budget - members.count) {
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
        /// when the reward is positive.
        ///
        /// The estimate wants `min(b_est, slice size)` draws, taken among the slice's scored rows (those
        /// with the smallest keys, see the read order). A slice with fewer scored rows than that (a
        /// partial gradient column) uses all of them and borrows the rest from the cluster's other scored
        /// rows, unread ones first in read order, then those already read: the cluster is the arm, and
        /// its scored rows are the evidence for any slice of it. With a complete column no slice
        /// borrows, and the estimate is the slice's own.
        private mutating func pull(_ cluster: Int, budget: Int) throws {
            let start = cursor[cluster]
            let slice = order[cluster][start..<min(start + sliceSize[cluster], order[cluster].count)]
            cursor[cluster] += slice.count
            pulls += 1
            let scored = slice.filter { !influence[$0].isNaN }
            let scoredStart = scoredCursor[cluster]
            scoredCursor[cluster] += scored.count
            let wanted = min(estimationDraws[cluster], slice.count)
            var sum = 0.0
            let draws: Int
            if scored.count >= wanted {
                draws = wanted
                for row in RowKeys.smallest(draws, of: scored, seed: estimationSeed) { sum += Double(influence[row]) }
            } else {
                if scored.isEmpty { pullsWithoutScoredRows += 1 }
                pullsEstimatedFromCluster += 1
                let clusterScored = scoredOrder[cluster]
                let unread = clusterScored[scoredCursor[cluster]...].prefix(wanted - scored.count)
                let read = clusterScored[..<scoredStart].prefix(wanted - scored.count - unread.count)
                draws = scored.count + unread.count + read.count
                for row in scored + unread + read { sum += Double(influence[row]) }
            }
            // Open clusters have a scored row, so draws >= 1.
            let estimate = sum / Double(draws)
            let reward = estimate - tau
            bandit.record(reward: reward, on: cluster)
            guard reward > 0 else {
                rejected.append((reward, pulls, slice, estimate))
                return
            }
            acceptedPulls += 1
            for row in try admitted(Array(slice), limit: budget - members.count) {
                let value = influence[row]
                members.append(Member(row: row, score: value.isNaN ? estimate : Double(value)))
            }
        }
    }
}
