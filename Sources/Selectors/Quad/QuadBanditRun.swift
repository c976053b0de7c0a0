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
        /// Slice size (b_take) and estimation draws (b_est) of each cluster.
        private var sliceSize: [Int]
        private var estimationDraws: [Int]
        private let estimationSeed: UInt64
        /// Slices read but not accepted, for the fill (``fillFromRejectedSlices(budget:fallbackScore:)``).
        private var rejected: [(reward: Double?, pull: Int, rows: ArraySlice<Int>, estimate: Double?)] = []

        private(set) var members: [Member] = []
        /// Members after each round (the objective trace).
        private(set) var acceptedAfterRound: [Int] = []
        /// Slices read, and slices accepted, in each round.
        private(set) var pullsPerRound: [Int] = []
        private(set) var acceptedPullsPerRound: [Int] = []
        private(set) var pulls = 0
        private(set) var acceptedPulls = 0
        private(set) var pullsWithoutScoredRows = 0
        private(set) var stoppedAtMaxRounds = false
        /// Rows and slices the fill took after every arm was exhausted.
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
        }

        /// Pulls rounds of `arms` clusters until the budget is met, no cluster has unread rows, or
        /// `maxRounds` rounds have run.
        mutating func run(budget: Int, arms: Int, maxRounds: Int) throws {
            while members.count < budget {
                let pulled = bandit.best(arms) { cursor[$0] < order[$0].count }
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
        /// reward first (ties: the earlier pull), slices that had no scored row last, until the budget
        /// is met. Rows without a score get their slice's estimate, or `fallbackScore` when the slice
        /// had none.
        mutating func fillFromRejectedSlices(budget: Int, fallbackScore: Double) throws {
            let ranked = rejected.sorted { a, b in
                switch (a.reward, b.reward) {
                case let (x?, y?): return x > y || (x == y && a.pull < b.pull)
                case (_?, nil): return true
                case (nil, _?): return false
                case (nil, nil): return a.pull < b.pull
                }
            }
            for slice in ranked where members.count < budget {
                filledSlices += 1
                for row in try admitted(Array(slice.rows), limit: budget - members.count) {
                    let value = influence[row]
                    members.append(Member(row: row, score: value.isNaN ? slice.estimate ?? fallbackScore : Double(value)))
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

        /// Reads the cluster's next slice, estimates its reward from the slice's scored rows and
        /// accepts the slice (cut at the budget) when the reward is positive. A slice without a
        /// scored row gives no observation: it is consumed and counted, but neither rewarded nor
        /// accepted (there is no evidence for it).
        private mutating func pull(_ cluster: Int, budget: Int) throws {
            let start = cursor[cluster]
            let slice = order[cluster][start..<min(start + sliceSize[cluster], order[cluster].count)]
            cursor[cluster] += slice.count
            pulls += 1
            let scored = slice.filter { !influence[$0].isNaN }
            guard !scored.isEmpty else {
                pullsWithoutScoredRows += 1
                rejected.append((nil, pulls, slice, nil))
                return
            }
            // The estimate samples the slice's scored rows with the smallest keys (see the read order).
            let draws = min(estimationDraws[cluster], scored.count)
            var sum = 0.0
            for row in RowKeys.smallest(draws, of: scored, seed: estimationSeed) { sum += Double(influence[row]) }
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
