import Foundation

extension Quad {
    /// What the bandit reads of the pool: each cluster's size, how many of its rows are scored, and its
    /// rows in read order (by key h(seed, row)), a rank range at a time.
    ///
    /// A single catalog knows every row (``PoolRows``). A shard set's driver knows only the rows it has
    /// fetched so far: it answers nil for the others, the run stops with ``RowsMissing`` and the next
    /// round of steps fetches them, so the driver never holds more than the slices the bandit reads.
    public protocol Rows {
        var clusterCount: Int { get }
        func rowCount(_ cluster: Int) -> Int
        func scoredCount(_ cluster: Int) -> Int
        /// The rows at `ranks` of the cluster's read order, or nil when they are not known here.
        func rows(_ cluster: Int, _ ranks: Range<Int>) -> [Int]?
        /// The scored rows at `ranks` of the cluster's scored rows in read order, or nil.
        func scoredRows(_ cluster: Int, _ ranks: Range<Int>) -> [Int]?
        /// I(z) of a row ``rows(_:_:)`` returned (NaN when unscored).
        func influence(_ row: Int) -> Float
    }

    /// The run needs rows it does not know: for each cluster, the rank its read order must be known
    /// up to, and whether it needs every scored row of the cluster (a slice that borrows).
    public struct RowsMissing: Error, Sendable {
        public var ranks: [Int: Int]
        public var allScored: Set<Int>
    }

    /// Every row of a pool: its influences and cluster assignments, in memory.
    public struct PoolRows: Rows {
        let influence: [Float]
        let order: [[Int]]
        let scoredOrder: [[Int]]

        /// - Parameters:
        ///   - assignments: the cluster of each row, -1 for none.
        ///   - seed: the selector's seed (the read order's keys derive from it).
        public init(influence: [Float], assignments: [Int], clusterCount: Int, seed: UInt64) {
            self.influence = influence
            var order = [[Int]](repeating: [], count: clusterCount)
            for (row, cluster) in assignments.enumerated() where cluster >= 0 { order[cluster].append(row) }
            // A cluster's read order is its rows by key h(seed, row), not a shuffle of a random stream,
            // so a corpus split into shards reads every cluster in the same order (docs/ARCHITECTURE.md, "Shard sets").
            let orderSeed = Quad.streamSeed(seed, .clusterOrder)
            for cluster in order.indices { order[cluster] = RowKeys.ordered(order[cluster], seed: orderSeed) }
            self.order = order
            scoredOrder = order.map { rows in rows.filter { !influence[$0].isNaN } }
        }

        public var clusterCount: Int { order.count }
        public func rowCount(_ cluster: Int) -> Int { order[cluster].count }
        public func scoredCount(_ cluster: Int) -> Int { scoredOrder[cluster].count }
        public func rows(_ cluster: Int, _ ranks: Range<Int>) -> [Int]? { Array(order[cluster][ranks]) }
        public func scoredRows(_ cluster: Int, _ ranks: Range<Int>) -> [Int]? { Array(scoredOrder[cluster][ranks]) }
        public func influence(_ row: Int) -> Float { influence[row] }
    }

    /// What the diagnostics say about rows the bandit never reads: counted over the whole pool (a shard
    /// set adds up its shards' counts).
    public struct PoolSummary: Sendable, Equatable {
        /// Rows a query left that have no usable gradient (any cluster or none).
        public var unscoredRows: Int
        /// Rows a query left that belong to no cluster (no usable embedding).
        public var rowsWithoutCluster: Int
        /// The largest influence of any row (for the note when nothing is accepted).
        public var maximumInfluence: Double
        /// The scored rows that estimate tau and alpha: all of them, or the `tauSample` with the smallest
        /// keys (``sampleStatistics(_:parameters:)``), with their influences.
        public var tauSampleValues: [Double]
        /// Scored rows in the pool (none: Quad has nothing to score).
        public var scoredRows: Int

        public init(unscoredRows: Int, rowsWithoutCluster: Int, maximumInfluence: Double, tauSampleValues: [Double], scoredRows: Int) {
            self.unscoredRows = unscoredRows
            self.rowsWithoutCluster = rowsWithoutCluster
            self.maximumInfluence = maximumInfluence
            self.tauSampleValues = tauSampleValues
            self.scoredRows = scoredRows
        }

        /// The summary of a pool held in memory. `candidates`: the rows a query left, when it left only
        /// some (the other rows are neither unscored nor without a cluster: they are not candidates).
        public init(influence: [Float], assignments: [Int], parameters: Parameters, candidates: RowMask? = nil) {
            let scored = influence.indices.filter { !influence[$0].isNaN }
            let isCandidate: (Int) -> Bool = { candidates?.contains($0) ?? true }
            self.init(
                unscoredRows: influence.indices.count { influence[$0].isNaN && isCandidate($0) },
                rowsWithoutCluster: assignments.indices.count { assignments[$0] < 0 && isCandidate($0) },
                maximumInfluence: scored.map { Double(influence[$0]) }.max() ?? 0,
                tauSampleValues: Quad.tauSampleRows(scored, size: parameters.tauSample, seed: parameters.seed).map { Double(influence[$0]) },
                scoredRows: scored.count)
        }
    }

    /// The rows of the tau sample among `scoredRows` (global rows): all of them when there are at most
    /// `size`, else the `size` with the smallest keys, whatever the split of the corpus.
    public static func tauSampleRows(_ scoredRows: [Int], size: Int, seed: UInt64) -> [Int] {
        scoredRows.count <= size ? scoredRows : RowKeys.smallest(size, of: scoredRows, seed: streamSeed(seed, .tauSample))
    }
}
