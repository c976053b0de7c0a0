import Foundation
import Selectors
import Testing

/// Quad with a partial gradient column (gradients for a sample of the rows, `attach --ids`): estimates
/// come from the rows that have a gradient, clusters without any are reported and never pulled, and a
/// complete column never borrows (docs/SELECTORS.md, "quad").
@Suite("Quad: partial gradient columns")
struct QuadPartialGradientTests {
    /// 300 rows in three clusters (row % 3) whose centroids are far apart (radius 0: no neighbours).
    /// Cluster 0 has one scored row (influence 0.5), cluster 1 one scored row in 20 (influence 0.1),
    /// cluster 2 none. Slices hold 25 rows and want 5 draws (bEst 0.05 of 100).
    private static let assignments = (0..<300).map { $0 % 3 }
    private static let influence: [Float] = (0..<300).map { row in
        switch row % 3 {
        case 0: row == 0 ? 0.5 : .nan
        case 1: (row / 3) % 20 == 0 ? 0.1 : .nan
        default: .nan
        }
    }
    private static let centroids = Matrix(rowVectors: [[0, 0], [10, 0], [20, 0]])

    private static func run(budget: Int, strict: Bool) throws -> Quad.Outcome {
        try Quad.select(
            influence: influence, assignments: assignments, centroids: centroids, budget: budget,
            parameters: Quad.Parameters(alpha: 0, arms: 3, tau: 0.3, radius: 0, strict: strict, seed: 1))
    }

    @Test func slicesWithTooFewScoredRowsBorrowTheirClustersEstimate() throws {
        let outcome = try Self.run(budget: 300, strict: true)
        let selection = outcome.selection, counters = selection.diagnostics.counters
        // Cluster 0's one scored row (0.5 > tau) stands for all four of its slices, three of which have
        // no scored row of their own: the whole cluster is accepted, every member scored 0.5. Cluster 1
        // (0.1 < tau) is read and rejected; cluster 2 is never pulled.
        #expect(Set(selection.rows) == Set((0..<300).filter { $0 % 3 == 0 }))
        #expect(selection.members.allSatisfy { $0.score == Double(Float(0.5)) })
        #expect(counters["pulls"] == 8 && counters["acceptedPulls"] == 4)
        #expect(counters["pullsWithoutScoredRows"]! >= 3)
        #expect(counters["pullsEstimatedFromCluster"]! >= 4)
        #expect(counters["pullsEstimatedFromCluster"]! >= counters["pullsWithoutScoredRows"]!)
        // Every pull gave the bandit a reward: cluster 2 has none, the others four each.
        #expect(outcome.bandit.counts == [4, 4, 0])
    }

    @Test func aClusterWithoutScoredRowsIsReportedAndOnlyFillsTheBudgetLast() throws {
        let strict = try Self.run(budget: 300, strict: true).selection
        #expect(strict.diagnostics.counters["clustersWithoutScoredRows"] == 1)
        #expect(strict.diagnostics.counters["rowsInClustersWithoutScoredRows"] == 100)
        #expect(strict.diagnostics.notes.contains { $0.contains("1 clusters (100 rows) have no row with a gradient") })
        #expect(!strict.rows.contains { $0 % 3 == 2 })

        let filled = try Self.run(budget: 300, strict: false).selection
        #expect(filled.members.count == 300 && Set(filled.rows).count == 300)
        // Cluster 1's rejected slices first, then cluster 2's rows, in the fallback score: the mean of
        // the sampled influences (every scored row: one 0.5 and five 0.1).
        #expect(Set(filled.rows.suffix(100)) == Set((0..<300).filter { $0 % 3 == 2 }))
        let mean = (Double(Float(0.5)) + 5 * Double(Float(0.1))) / 6
        #expect(filled.members.suffix(100).allSatisfy { abs($0.score - mean) < 1e-12 })
        #expect(filled.diagnostics.counters["filledRows"] == 200)
        #expect(filled.diagnostics.notes.contains { $0.contains("then from the clusters without a gradient") })
    }

    /// The planted pool of QuadTests with gradients for one row in 19 only (19 is prime to the 16 groups,
    /// so every group keeps about five scored rows).
    private static func sampled(_ pool: QuadTests.Pool, every stride: Int) -> RowMask {
        var mask = RowMask(count: pool.gradients.rows, allSet: false)
        for row in Swift.stride(from: 0, to: pool.gradients.rows, by: stride) { mask.insert(row) }
        return mask
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func aSampledColumnHasRewardStatisticsFromItsScoredRowsAndFillsTheBudget(seed: UInt64) throws {
        let pool = QuadTests.Pool(groups: 16, perGroup: 100, planted: 6, seed: 200 + seed)
        let mask = Self.sampled(pool, every: 19)
        let gradients = MaskedMatrix(pool.gradients, usableRows: mask)
        let selection = try Quad.select(
            gradients: gradients, target: pool.target, embeddings: pool.embeddings, budget: 70,
            parameters: Quad.Parameters(clusters: 16, seed: seed))
        let counters = selection.diagnostics.counters
        #expect(selection.members.count == 70)
        #expect(counters["unscoredRows"] == Double(1600 - mask.setCount))
        // tau, alpha and the mean come from the scored rows only (fewer than tauSample: all of them).
        let scored = try Quad.influences(gradients: gradients, target: pool.target).filter { !$0.isNaN }.map(Double.init).sorted()
        #expect(scored.count == mask.setCount)
        let position = 0.8 * Double(scored.count - 1)
        let lower = Int(position)
        let quantile = scored[lower] + (position - Double(lower)) * (scored[lower + 1] - scored[lower])
        let mean = scored.reduce(0, +) / Double(scored.count)
        let deviation = (scored.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(scored.count)).squareRoot()
        #expect(abs(counters["tau"]! - quantile) < 1e-9 && counters["tau"]! != 0)
        #expect(abs(counters["influenceMean"]! - mean) < 1e-9 && mean != 0)
        #expect(abs(counters["alpha"]! - 0.1 * deviation) < 1e-9 && deviation > 0)
        #expect(counters["radius"]! > 0)
        // Slices of 25 rows hold about 1.3 scored rows against 5 draws: the estimates borrow.
        #expect(counters["pullsEstimatedFromCluster"]! > 0)
        #expect(counters["clustersWithoutScoredRows"] == 0)
        // The signal survives the sampling: the planted group gets most of the budget.
        let planted = selection.rows.count { pool.group[$0] == 6 }
        #expect(planted > 35, "planted rows: \(planted) of 70")
    }

    @Test func aCompleteColumnNeverBorrowsAndScoresEveryMemberByItsOwnInfluence() throws {
        let pool = QuadTests.Pool(groups: 16, perGroup: 100, planted: 5, seed: 9)
        let selection = try Quad.select(
            gradients: pool.gradients, target: pool.target, embeddings: pool.embeddings, budget: 300,
            parameters: Quad.Parameters(seed: 3))
        let counters = selection.diagnostics.counters
        #expect(counters["pullsEstimatedFromCluster"] == 0 && counters["pullsWithoutScoredRows"] == 0)
        #expect(counters["clustersWithoutScoredRows"] == 0 && counters["unscoredMembers"] == 0)
        let influence = try Quad.influences(gradients: pool.gradients, target: pool.target)
        #expect(selection.members.allSatisfy { $0.score == Double(influence[$0.row]) })
        #expect(!selection.diagnostics.notes.contains { $0.contains("gradient") })
    }
}
