import Foundation
import Selectors

/// What the driver of a sharded Quad knows between merges (``ShardedQuadBandit``): the rows fetched so
/// far as ``Quad/Rows``, the fetches a read round runs, and the files that carry them from one merge (or
/// step) to the next.
extension ShardedQuadBandit {
    // MARK: The driver's view of the rows

    /// The rows the driver has fetched, each cluster's in read order, as ``Quad/Rows``.
    struct KnownRows: Quad.Rows {
        let summary: Summary
        let known: Known
        /// Per cluster: every row known, in read order (all fetched rows when the cluster is complete, else
        /// those below its threshold: rows above it were fetched as scored rows only), and its scored rows
        /// known, in read order (all of them once the cluster or its scored rows are complete).
        let order: [[Int]]
        let scoredOrder: [[Int]]

        init(summary: Summary, known: Known, seed: UInt64) {
            self.summary = summary
            self.known = known
            var fetched = [[(key: UInt64, row: Int)]](repeating: [], count: summary.rowCounts.count)
            for (row, entry) in known.fetched { fetched[entry.cluster].append((Quad.readOrderKey(seed: seed, row: row), row)) }
            var order: [[Int]] = [], scoredOrder: [[Int]] = []
            for (cluster, rows) in fetched.enumerated() {
                let sorted = rows.sorted(by: RowKeys.before)
                let prefix = known.complete[cluster] ? sorted.map(\.row) : sorted.prefix { $0.key < known.below[cluster] }.map(\.row)
                let whole = known.complete[cluster] || known.scoredComplete[cluster]
                order.append(prefix)
                scoredOrder.append((whole ? sorted.map(\.row) : prefix).filter { !(known.fetched[$0]!.influence.isNaN) })
            }
            self.order = order
            self.scoredOrder = scoredOrder
        }

        var clusterCount: Int { summary.rowCounts.count }
        func rowCount(_ cluster: Int) -> Int { summary.rowCounts[cluster] }
        func scoredCount(_ cluster: Int) -> Int { summary.scoredCounts[cluster] }
        func influence(_ row: Int) -> Float { known.fetched[row]?.influence ?? .nan }

        func rows(_ cluster: Int, _ ranks: Range<Int>) -> [Int]? { Self.slice(order[cluster], ranks) }
        func scoredRows(_ cluster: Int, _ ranks: Range<Int>) -> [Int]? { Self.slice(scoredOrder[cluster], ranks) }

        /// `ranks` of a known prefix, or nil past its end; an empty range is known wherever it lies (a
        /// pull that borrows nothing asks for one).
        private static func slice(_ prefix: [Int], _ ranks: Range<Int>) -> [Int]? {
            if ranks.isEmpty { return [] }
            return ranks.upperBound <= prefix.count ? Array(prefix[ranks]) : nil
        }
    }

    // MARK: Files

    /// One fetch: the rows of `cluster` whose read-order key lies in [from, to) (or [from, end] with
    /// `toEnd`); with `scoredOnly`, every scored row of the cluster.
    struct Request {
        var cluster: Int
        var from: UInt64
        var to: UInt64
        var toEnd: Bool
        var scoredOnly: Bool

        func contains(key: UInt64, scored: Bool) -> Bool {
            if scoredOnly { return scored }
            return key >= from && (toEnd || key < to)
        }
    }

    static func readsURL(_ job: ShardJob, round: Int) -> URL { job.stateFile("quad-reads-round-\(round).bin") }

    static func readRequests(_ job: ShardJob, round: Int) throws -> [Request] {
        let url = readsURL(job, round: round)
        var file = try ArchiveReader(try RowDigests.read(url), magic: requestsMagic, what: url.path)
        let clusters = try file.ints(), from = try file.words(), to = try file.words(), flags = try file.ints()
        guard from.count == clusters.count, to.count == clusters.count, flags.count == clusters.count else {
            throw CatalogError(.damaged, "\(url.path) is damaged", remedy: "merge round \(round - 1) again")
        }
        return clusters.indices.map { i in
            Request(cluster: clusters[i], from: from[i], to: to[i], toEnd: flags[i] & 1 != 0, scoredOnly: flags[i] & 2 != 0)
        }
    }

    static func save(_ summary: Summary, _ known: Known, _ job: ShardJob) throws {
        var file = ArchiveWriter(magic: stateMagic)
        file.ints(summary.rowCounts)
        file.ints(summary.scoredCounts)
        file.int(summary.pool.unscoredRows)
        file.int(summary.pool.rowsWithoutCluster)
        file.double(summary.pool.maximumInfluence)
        file.ints(summary.pool.tauSampleValues.map { Int(Int64(bitPattern: $0.bitPattern)) })
        file.int(summary.pool.scoredRows)
        file.words(known.below)
        file.ints(known.complete.map { $0 ? 1 : 0 })
        file.ints(known.scoredComplete.map { $0 ? 1 : 0 })
        let fetched = known.fetched.sorted { $0.key < $1.key }
        file.ints(fetched.map(\.key))
        file.ints(fetched.map(\.value.cluster))
        file.floats(fetched.map(\.value.influence))
        try ShardJob.writeAtomically(file.data, to: job.stateFile("quad-bandit.bin"))
    }

    static func load(_ job: ShardJob, clusters: Int) throws -> (Summary, Known) {
        let url = job.stateFile("quad-bandit.bin")
        var file = try ArchiveReader(try RowDigests.read(url), magic: stateMagic, what: url.path)
        let rowCounts = try file.ints(), scoredCounts = try file.ints()
        let unscored = try file.int(), withoutCluster = try file.int(), maximum = try file.double()
        let tauValues = try file.ints().map { Double(bitPattern: UInt64(bitPattern: Int64($0))) }
        let scoredRows = try file.int()
        let below = try file.words()
        let complete = try file.ints().map { $0 != 0 }, scoredComplete = try file.ints().map { $0 != 0 }
        let rows = try file.ints(), owners = try file.ints(), values = try file.floats()
        guard [rowCounts.count, scoredCounts.count, below.count, complete.count, scoredComplete.count].allSatisfy({ $0 == clusters }),
            owners.count == rows.count, values.count == rows.count
        else { throw CatalogError(.damaged, "\(url.path) is damaged", remedy: "merge the assignment round again") }
        var known = Known(below: below, complete: complete, scoredComplete: scoredComplete)
        for i in rows.indices { known.fetched[rows[i]] = (owners[i], values[i]) }
        let pool = Quad.PoolSummary(
            unscoredRows: unscored, rowsWithoutCluster: withoutCluster, maximumInfluence: maximum, tauSampleValues: tauValues, scoredRows: scoredRows)
        return (Summary(rowCounts: rowCounts, scoredCounts: scoredCounts, pool: pool), known)
    }

    /// The centroids' neighbourhood (k^2 x dim to compute; the centroids do not change once the fit is
    /// done), computed by the first bandit merge and read by the next ones. A damaged or mismatched file
    /// is computed again.
    static func neighbourhood(_ job: ShardJob, centroids: Matrix, radius: Double?) throws -> Quad.Neighbourhood {
        let url = job.stateFile("quad-neighbours.bin")
        if let data = FileManager.default.contents(atPath: url.path), let kept = try? readNeighbourhood(data, what: url.path),
            kept.lists.count == centroids.rows, radius.map({ $0 == kept.radius }) ?? true
        {
            return kept
        }
        let computed = Quad.Neighbourhood(centroids: centroids, radius: radius)
        var file = ArchiveWriter(magic: neighboursMagic)
        file.double(computed.radius)
        file.ints(computed.lists.map(\.count))
        file.int32s(computed.lists.flatMap { $0.map { Int32($0.cluster) } })
        file.words(computed.lists.flatMap { $0.map(\.weight.bitPattern) })
        try ShardJob.writeAtomically(file.data, to: url)
        return computed
    }

    private static func readNeighbourhood(_ data: Data, what: String) throws -> Quad.Neighbourhood {
        var file = try ArchiveReader(data, magic: neighboursMagic, what: what)
        let radius = try file.double(), counts = try file.ints(), clusters = try file.int32s(), weights = try file.words()
        guard counts.allSatisfy({ $0 >= 1 }), counts.reduce(0, +) == clusters.count, weights.count == clusters.count,
            clusters.allSatisfy({ $0 >= 0 && Int($0) < counts.count })
        else { throw CatalogError(.damaged, "\(what) is damaged", remedy: "delete it: the next merge computes it again") }
        var lists: [[Quad.Neighbour]] = []
        var next = 0
        for count in counts {
            lists.append((next..<next + count).map { Quad.Neighbour(cluster: Int(clusters[$0]), weight: Double(bitPattern: weights[$0])) })
            next += count
        }
        return Quad.Neighbourhood(radius: radius, lists: lists)
    }

    static let summaryMagic = "quadcat-quad-counts-v1"
    static let rowsMagic = "quadcat-quad-rows-v1"
    static let requestsMagic = "quadcat-quad-reads-v1"
    static let stateMagic = "quadcat-quad-bandit-v1"
    static let assignRoundMagic = "quadcat-quad-assign-round-v1"
    static let neighboursMagic = "quadcat-quad-neighbours-v1"
}
