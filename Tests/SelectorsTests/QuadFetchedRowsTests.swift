import Foundation
import Selectors
import Testing

/// The bandit over rows it learns a part at a time, as a shard set's driver runs it: each run stops
/// with the rows it misses, they are revealed, and the run starts again. It must end with the members
/// the whole pool gives, having seen only the slices it reads (and the ones it asked for ahead).
@Suite("Quad: the bandit over rows fetched as it needs them")
struct QuadFetchedRowsTests {
    /// The pool's rows, of which only each cluster's first `ranks` in read order are known (and every
    /// scored row of the clusters in `allScored`).
    struct Revealed: Quad.Rows {
        let pool: Quad.PoolRows
        var ranks: [Int: Int] = [:]
        var allScored = Set<Int>()

        var clusterCount: Int { pool.clusterCount }
        func rowCount(_ cluster: Int) -> Int { pool.rowCount(cluster) }
        func scoredCount(_ cluster: Int) -> Int { pool.scoredCount(cluster) }
        func influence(_ row: Int) -> Float { pool.influence(row) }

        func rows(_ cluster: Int, _ ranks: Range<Int>) -> [Int]? {
            ranks.isEmpty || ranks.upperBound <= self.ranks[cluster, default: 0] ? pool.rows(cluster, ranks) : nil
        }

        func scoredRows(_ cluster: Int, _ ranks: Range<Int>) -> [Int]? {
            if ranks.isEmpty || allScored.contains(cluster) { return pool.scoredRows(cluster, ranks) }
            let known = pool.rows(cluster, 0..<self.ranks[cluster, default: 0])!.filter { !influence($0).isNaN }
            return ranks.upperBound <= known.count ? Array(known[ranks]) : nil
        }

        /// Rows known: each cluster's revealed prefix plus the scored rows revealed beyond it.
        var revealedRows: Int {
            (0..<clusterCount).reduce(0) { total, c in
                let prefix = ranks[c, default: 0]
                let beyond = allScored.contains(c) ? pool.scoredRows(c, 0..<scoredCount(c))!.count - pool.rows(c, 0..<prefix)!.count { !influence($0).isNaN } : 0
                return total + prefix + beyond
            }
        }
    }

    @Test(arguments: [1, 10])
    func theRunEndsWithTheWholePoolsMembersHavingReadPartOfIt(scoredEvery: Int) throws {
        let pool = QuadTests.Pool(groups: 24, perGroup: 250, planted: 5, seed: 12)
        var influence = try Quad.influences(gradients: pool.gradients, target: pool.target)
        for row in influence.indices where row % scoredEvery != 0 { influence[row] = .nan }
        let parameters = Quad.Parameters(clusters: 24, seed: 3)
        let centroids = try Quad.fit(sample: pool.embeddings, usableRows: pool.embeddings.rows, clusters: 24, seed: 3).centroids
        let assignments = try Quad.assign(pool.embeddings, centroids: centroids)
        let whole = try Quad.select(influence: influence, assignments: assignments, centroids: centroids, budget: 120, parameters: parameters)
        let summary = Quad.PoolSummary(influence: influence, assignments: assignments, parameters: parameters)
        var revealed = Revealed(pool: Quad.PoolRows(influence: influence, assignments: assignments, clusterCount: 24, seed: parameters.seed))
        var runs = 0
        var outcome: Quad.Outcome? = nil
        while outcome == nil {
            runs += 1
            try #require(runs < 200, "the runs make no progress")
            do {
                outcome = try Quad.select(rows: revealed, summary: summary, centroids: centroids, budget: 120, parameters: parameters)
            } catch let missing as Quad.RowsMissing {
                #expect(!missing.ranks.isEmpty || !missing.allScored.isEmpty)
                for (cluster, rank) in missing.ranks { revealed.ranks[cluster] = max(revealed.ranks[cluster, default: 0], rank) }
                revealed.allScored.formUnion(missing.allScored)
            }
        }
        let selection = try #require(outcome).selection
        #expect(selection.members == whole.selection.members)
        #expect(selection.diagnostics.counters == whole.selection.diagnostics.counters)
        #expect(runs > 1)
        print("scored every \(scoredEvery): \(runs) runs, \(revealed.revealedRows) of 6000 rows revealed")
        #expect(revealed.revealedRows < 4500)
        if scoredEvery > 1 { #expect(!revealed.allScored.isEmpty && whole.selection.diagnostics.counters["pullsEstimatedFromCluster"]! > 0) }
    }
}
