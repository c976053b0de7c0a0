import Foundation
import Selectors
import Testing

/// Quad: the influence pass against a naive loop, and the bandit's behaviour on planted pools.
@Suite("Quad: influence, clusters and the bandit")
struct QuadTests {
    /// A pool of well-separated embedding groups (`group` of each row), with gradients that are noise
    /// except in the planted group, whose gradients lean towards the target direction (cos about 0.6).
    struct Pool {
        var embeddings: Matrix
        var gradients: Matrix
        var target: Matrix
        var group: [Int]
        var direction: [Float]

        init(groups: Int, perGroup: Int, planted: Int?, gradientDimension: Int = 64, embeddingDimension: Int = 8, seed: UInt64) {
            var random = SeededRandom(seed: seed)
            let n = groups * perGroup
            let centers = (0..<groups).map { _ in (0..<embeddingDimension).map { _ in Float(3 * random.nextGaussian()) } }
            let rawDirection = (0..<gradientDimension).map { _ in Float(random.nextGaussian()) }
            let length = rawDirection.reduce(0) { $0 + $1 * $1 }.squareRoot()
            direction = rawDirection.map { $0 / length }
            var e: [Float] = [], g: [Float] = []
            group = []
            // Rows of the groups are interleaved so that a group is not a contiguous block of rows.
            for i in 0..<n {
                let c = i % groups
                group.append(c)
                e += centers[c].map { $0 + Float(0.1 * random.nextGaussian()) }
                let lean: Float = c == planted ? 6 : 0
                g += direction.map { lean * $0 + Float(random.nextGaussian()) }
            }
            embeddings = Matrix(rows: n, columns: embeddingDimension, values: e)
            gradients = Matrix(rows: n, columns: gradientDimension, values: g)
            let d = direction
            target = Matrix(rowVectors: (0..<10).map { _ in d.map { 2 * $0 + Float(0.1 * random.nextGaussian()) } })
        }

        func rows(ofGroup c: Int) -> [Int] { group.indices.filter { group[$0] == c } }
    }

    /// Checks that k-means (as Quad runs it) finds the pool's groups, one cluster per group.
    private static func expectGroupsRecovered(_ pool: Pool, clusters: Int, seed: UInt64) throws {
        let assignments = try Quad.clusterAssignments(embeddings: pool.embeddings, clusters: clusters, seed: seed, sample: 100_000)
        var groupOfCluster: [Int: Int] = [:]
        for (row, cluster) in assignments.enumerated() {
            let group = groupOfCluster[cluster, default: pool.group[row]]
            try #require(group == pool.group[row], "cluster \(cluster) mixes groups")
            groupOfCluster[cluster] = group
        }
        try #require(Set(groupOfCluster.values).count == clusters)
    }

    /// I(z) in Double, straight from the definition.
    private static func naiveInfluences(_ gradients: Matrix, usable: RowMask?, target: Matrix) -> [Double] {
        let d = target.columns
        var mean = [Double](repeating: 0, count: d)
        var used = 0
        for r in 0..<target.rows {
            let v = target.row(r).map(Double.init)
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            if norm == 0 { continue }
            used += 1
            for j in 0..<d { mean[j] += v[j] / norm }
        }
        mean = mean.map { $0 / Double(used) }
        return (0..<gradients.rows).map { r in
            if let usable, !usable.contains(r) { return .nan }
            let g = gradients.row(r).map(Double.init)
            if g.contains(where: { !$0.isFinite }) { return .nan }
            let norm = g.reduce(0) { $0 + $1 * $1 }.squareRoot()
            if norm == 0 { return .nan }
            return zip(g, mean).reduce(0) { $0 + $1.0 * $1.1 } / norm
        }
    }

    private static func select(_ pool: Pool, budget: Int, _ parameters: Quad.Parameters, mask: RowMask? = nil) throws -> Selection {
        try Quad.select(
            gradients: MaskedMatrix(pool.gradients, usableRows: mask), target: pool.target, embeddings: pool.embeddings,
            budget: budget, parameters: parameters)
    }

    /// Everything but the timings, which differ from run to run.
    private static func sameOutcome(_ a: Selection, _ b: Selection) -> Bool {
        a.members == b.members && a.diagnostics.objectiveTrace == b.diagnostics.objectiveTrace
            && a.diagnostics.counters == b.diagnostics.counters && a.diagnostics.notes == b.diagnostics.notes
    }

    @Test func influencesMatchANaiveDoubleLoop() throws {
        var random = SeededRandom(seed: 11)
        let n = 3000, d = 37
        var gradients = Matrix(rows: n, columns: d, values: (0..<n * d).map { _ in Float(random.nextGaussian()) })
        for j in 0..<d {
            gradients[5, j] = 0  // a zero gradient is unscored
            gradients[6, j] *= 1e25  // squares overflow Float
            gradients[7, j] *= 1e-30  // squares underflow Float
        }
        gradients[8, 3] = .infinity  // a non-finite gradient is unscored
        var mask = RowMask(count: n, allSet: true)
        for r in [0, 17, 1024, 2999] { mask.remove(r) }
        var target = Matrix(rows: 9, columns: d, values: (0..<9 * d).map { _ in Float(random.nextGaussian()) + 0.5 })
        for j in 0..<d { target[4, j] = 0 }  // a zero target row is left out of the mean
        let got = try Quad.influences(gradients: MaskedMatrix(gradients, usableRows: mask), target: target)
        let expected = Self.naiveInfluences(gradients, usable: mask, target: target)
        #expect(got.count == n)
        for r in 0..<n {
            if expected[r].isNaN {
                #expect(got[r].isNaN, "row \(r)")
            } else {
                #expect(abs(Double(got[r]) - expected[r]) < 2e-6, "row \(r): \(got[r]) vs \(expected[r])")
            }
        }
        #expect(got.count { $0.isNaN } == 6)
        // A partial column (one row in 20 usable) is read row by row, with the same values.
        let sparse = RowMask(count: n, rows: Array(stride(from: 3, to: n, by: 20)) + [5, 6, 7, 8])
        let partial = try Quad.influences(gradients: MaskedMatrix(gradients, usableRows: sparse), target: target)
        let dense = try Quad.influences(gradients: gradients, target: target)
        for r in 0..<n { #expect(sparse.contains(r) ? partial[r].bitPattern == dense[r].bitPattern : partial[r].isNaN, "row \(r)") }
        // Large enough for its parts to go to both cores.
        let big = Matrix(rows: 100_000, columns: 8, values: (0..<800_000).map { _ in Float(random.nextGaussian()) })
        let fifth = RowMask(count: 100_000, rows: stride(from: 0, to: 100_000, by: 5))
        let bigPartial = try Quad.influences(gradients: MaskedMatrix(big, usableRows: fifth), target: Matrix(rows: 1, columns: 8, repeating: 1))
        let bigDense = try Quad.influences(gradients: big, target: Matrix(rows: 1, columns: 8, repeating: 1))
        #expect((0..<100_000).allSatisfy { fifth.contains($0) ? bigPartial[$0].bitPattern == bigDense[$0].bitPattern : bigPartial[$0].isNaN })
    }

    @Test func mismatchedEmptyOrUnscoredInputsAreRejected() throws {
        let gradients = Matrix(rows: 4, columns: 3, repeating: 1)
        #expect(throws: SelectorError.self) { try Quad.influences(gradients: gradients, target: Matrix(rows: 2, columns: 4, repeating: 1)) }
        #expect(throws: SelectorError.self) { try Quad.influences(gradients: gradients, target: Matrix(rows: 2, columns: 3)) }
        // Nothing scored: nothing can estimate a reward.
        let none = MaskedMatrix(gradients, usableRows: RowMask(count: 4, allSet: false))
        #expect(throws: SelectorError.self) {
            try Quad.select(gradients: none, target: Matrix(rows: 1, columns: 3, repeating: 1),
                            embeddings: Matrix(rows: 4, columns: 2, repeating: 1), budget: 2, parameters: Quad.Parameters())
        }
    }

    @Test func budgetIsMetExactlyAndMembersAreUnique() throws {
        let pool = Pool(groups: 16, perGroup: 100, planted: 3, seed: 1)
        // Every slice accepted: the last slice is cut at the budget.
        let all = try Self.select(pool, budget: 333, Quad.Parameters(clusters: 16, tau: -1e30, seed: 4))
        #expect(all.members.count == 333)
        #expect(Set(all.rows).count == 333)
        #expect(all.diagnostics.notes.isEmpty)
        #expect(all.diagnostics.objectiveTrace.last == 333)
        // The default tau: only good slices are accepted, and a budget they cover is met exactly.
        let planted = try Self.select(pool, budget: 70, Quad.Parameters(clusters: 16, seed: 4))
        #expect(planted.members.count == 70)
        #expect(Set(planted.rows).count == 70)
        #expect(planted.members.allSatisfy { $0.weight == 1 && $0.score.isFinite })
        // The trace is the number of accepted rows after each round: non-decreasing, ending at the size.
        let trace = planted.diagnostics.objectiveTrace
        #expect(zip(trace, trace.dropFirst()).allSatisfy { $0 <= $1 })
        #expect(trace.last == 70)
        #expect(planted.diagnostics.counters["rounds"] == Double(trace.count))
    }

    @Test func aVeryLowTauTakesEveryRowWhenTheBudgetAsksForThem() throws {
        let pool = Pool(groups: 9, perGroup: 40, planted: nil, seed: 2)
        let selection = try Self.select(pool, budget: 360, Quad.Parameters(tau: -1e30, seed: 1))
        #expect(selection.members.count == 360)
        #expect(Set(selection.rows) == Set(0..<360))
        // Asking for more than the pool holds: every row, and a note that says why the subset is short.
        let more = try Self.select(pool, budget: 500, Quad.Parameters(tau: -1e30, seed: 1))
        #expect(more.members.count == 360)
        #expect(more.diagnostics.notes.first?.contains("read to the end") == true)
        let strict = try Self.select(pool, budget: 500, Quad.Parameters(tau: -1e30, strict: true, seed: 1))
        #expect(strict.members.count == 360)
        #expect(strict.diagnostics.notes.first?.contains("no arm left") == true)
    }

    @Test func aTauAboveEveryInfluenceAcceptsNothing() throws {
        let pool = Pool(groups: 9, perGroup: 40, planted: 2, seed: 3)
        try Self.expectGroupsRecovered(pool, clusters: 9, seed: 1)
        let selection = try Self.select(pool, budget: 50, Quad.Parameters(clusters: 9, tau: 1.5, strict: true, seed: 1))
        #expect(selection.members.isEmpty)
        #expect(selection.diagnostics.notes.first?.hasPrefix("accepted nothing") == true)
        #expect(selection.diagnostics.counters["acceptedPulls"] == 0)
        // Every cluster was read to its end: pulls = the slices of all clusters (4 per cluster of 40 rows).
        #expect(selection.diagnostics.counters["pulls"] == 36)
        #expect(selection.diagnostics.objectiveTrace.allSatisfy { $0 == 0 })
        #expect(selection.diagnostics.series["pullsPerRound"]?.reduce(0, +) == 36)
        #expect(selection.diagnostics.series["acceptedPullsPerRound"]?.allSatisfy { $0 == 0 } == true)
    }

    @Test func exhaustedArmsFillTheBudgetFromRejectedSlicesBestRewardFirst() throws {
        // Nothing is accepted (tau above every influence), so every slice is rejected with reward
        // estimate - tau; the fill takes them by estimate, so the planted groups (high influence) come first.
        let pool = Pool(groups: 9, perGroup: 40, planted: 2, seed: 3)
        try Self.expectGroupsRecovered(pool, clusters: 9, seed: 1)
        let planted = Set(pool.rows(ofGroup: 2))
        let filled = try Self.select(pool, budget: 50, Quad.Parameters(clusters: 9, tau: 1.5, seed: 1))
        #expect(filled.members.count == 50)
        #expect(Set(filled.rows).count == 50)
        #expect(filled.diagnostics.counters["acceptedPulls"] == 0)
        #expect(filled.diagnostics.counters["filledRows"] == 50)
        #expect(filled.diagnostics.notes.first?.contains("filled from") == true)
        // The planted group's four slices (its rows lean on the target: the best estimates) come
        // first, then 10 rows of the next best slice.
        #expect(Set(filled.rows.prefix(40)) == planted)
        #expect(filled.rows.dropFirst(40).allSatisfy { !planted.contains($0) })
        // A budget covering the pool takes every row.
        let everything = try Self.select(pool, budget: 360, Quad.Parameters(clusters: 9, tau: 1.5, seed: 1))
        #expect(Set(everything.rows) == Set(0..<360))
    }

    @Test func pullsPerRoundAddUpToTheTotalsAndExplainTheTrace() throws {
        let pool = Pool(groups: 16, perGroup: 100, planted: 5, seed: 6)
        let selection = try Self.select(pool, budget: 300, Quad.Parameters(seed: 3))
        let d = selection.diagnostics
        let pulls = try #require(d.series["pullsPerRound"])
        let accepted = try #require(d.series["acceptedPullsPerRound"])
        let arms = try #require(d.counters["arms"])
        #expect(pulls.count == d.objectiveTrace.count && accepted.count == pulls.count)
        #expect(pulls.reduce(0, +) == d.counters["pulls"] && accepted.reduce(0, +) == d.counters["acceptedPulls"])
        #expect(zip(pulls, accepted).allSatisfy { $1 <= $0 && $0 <= arms && $0 >= 1 })
        // The subset grows in exactly the rounds that accepted a slice.
        var before = 0.0
        for (round, size) in d.objectiveTrace.enumerated() {
            #expect((size > before) == (accepted[round] > 0), "round \(round)")
            before = size
        }
    }

    @Test func reproducibleForASeedAndDifferentForAnother() throws {
        let pool = Pool(groups: 16, perGroup: 100, planted: 5, seed: 4)
        let a = try Self.select(pool, budget: 80, Quad.Parameters(seed: 7))
        let b = try Self.select(pool, budget: 80, Quad.Parameters(seed: 7))
        let c = try Self.select(pool, budget: 80, Quad.Parameters(seed: 8))
        #expect(Self.sameOutcome(a, b))
        #expect(a.members.count == 80 && c.members.count == 80)
        #expect(a.rows != c.rows)
    }

    @Test func onlyScoredRowsEstimateRewards() throws {
        var pool = Pool(groups: 16, perGroup: 100, planted: 5, seed: 5)
        // Half of group 9 has no gradient. Stored as huge vectors along the target, those rows would make
        // group 9 look excellent if they were (wrongly) used; stored as zeros, they would not.
        let hidden = Array(pool.rows(ofGroup: 9).prefix(50))
        var mask = RowMask(count: pool.gradients.rows, allSet: true)
        for r in hidden { mask.remove(r) }
        var garbage = pool
        for r in hidden {
            for j in 0..<pool.gradients.columns {
                garbage.gradients[r, j] = 1000 * pool.direction[j]
                pool.gradients[r, j] = 0
            }
        }
        let parameters = Quad.Parameters(clusters: 16, seed: 3)
        let withZeros = try Self.select(pool, budget: 400, parameters, mask: mask)
        let withGarbage = try Self.select(garbage, budget: 400, parameters, mask: mask)
        #expect(Self.sameOutcome(withZeros, withGarbage))
        #expect(withZeros.diagnostics.counters["unscoredRows"] == 50)
        // The construction matters: the same vectors, scored, change the run and pull group 9 in.
        let scored = try Self.select(garbage, budget: 400, parameters)
        #expect(!Self.sameOutcome(withZeros, scored))
        let group9 = Set(pool.rows(ofGroup: 9))
        #expect(scored.rows.count { group9.contains($0) } > withGarbage.rows.count { group9.contains($0) })
    }

    @Test func unscoredRowsComeWithAnAcceptedSliceScoredByItsEstimate() throws {
        var pool = Pool(groups: 8, perGroup: 100, planted: 2, seed: 6)
        let plantedRows = pool.rows(ofGroup: 2)
        var mask = RowMask(count: pool.gradients.rows, allSet: true)
        for r in plantedRows.prefix(30) {
            mask.remove(r)
            for j in 0..<pool.gradients.columns { pool.gradients[r, j] = .nan }  // never read
        }
        let selection = try Self.select(pool, budget: 100, Quad.Parameters(clusters: 8, tau: 0.3, seed: 2), mask: mask)
        let influence = try Quad.influences(gradients: MaskedMatrix(pool.gradients, usableRows: mask), target: pool.target)
        let scoredPlanted = plantedRows.filter { mask.contains($0) }.map { Double(influence[$0]) }
        let unscoredMembers = selection.members.filter { !mask.contains($0.row) }
        #expect(!unscoredMembers.isEmpty)
        #expect(selection.diagnostics.counters["unscoredMembers"] == Double(unscoredMembers.count))
        for member in unscoredMembers {
            // The mean of sampled influences of the slice's scored planted rows.
            #expect(member.score >= scoredPlanted.min()! && member.score <= scoredPlanted.max()!)
        }
        for member in selection.members where mask.contains(member.row) {
            #expect(member.score == Double(influence[member.row]))
        }
    }

    @Test func clustersWithoutScoredRowsAreNeverPulledAndFillLast() throws {
        let pool = Pool(groups: 6, perGroup: 40, planted: nil, seed: 7)
        var mask = RowMask(count: pool.gradients.rows, allSet: true)
        let dark = pool.rows(ofGroup: 4)
        for r in dark { mask.remove(r) }
        try Self.expectGroupsRecovered(pool, clusters: 6, seed: 1)
        let selection = try Self.select(pool, budget: 240, Quad.Parameters(clusters: 6, tau: -1e30, strict: true, seed: 1), mask: mask)
        #expect(Set(selection.rows) == Set(0..<240).subtracting(dark))
        // The dark group's cluster cannot be scored: it is reported, not pulled (version 2 read its four
        // slices without a reward).
        #expect(selection.diagnostics.counters["clustersWithoutScoredRows"] == 1)
        #expect(selection.diagnostics.counters["rowsInClustersWithoutScoredRows"] == 40)
        #expect(selection.diagnostics.counters["pullsWithoutScoredRows"] == 0)
        #expect(selection.diagnostics.counters["pulls"] == 20)
        // Without strict, the fill takes the clusters without a score last: the dark group ends the subset.
        let filled = try Self.select(pool, budget: 240, Quad.Parameters(clusters: 6, tau: -1e30, seed: 1), mask: mask)
        #expect(filled.members.count == 240)
        #expect(Set(filled.rows.suffix(dark.count)) == Set(dark))
    }

    @Test func clustersCoveredCountsTheMembersClusters() throws {
        let pool = Pool(groups: 16, perGroup: 100, planted: 1, seed: 8)
        // A k-means sample smaller than the pool: fit on the sample, then assign every row. tau accepts
        // every slice, so the 400 rows must come from many clusters whatever k-means makes of the groups.
        for parameters in [Quad.Parameters(tau: -1e30, seed: 5), Quad.Parameters(clusters: 20, tau: -1e30, kmeansSample: 500, seed: 6)] {
            let selection = try Self.select(pool, budget: 400, parameters)
            let assignments = try Quad.clusterAssignments(
                embeddings: pool.embeddings, clusters: parameters.clusters, seed: parameters.seed,
                sample: parameters.kmeansSample)
            #expect(assignments.count == 1600 && assignments.allSatisfy { $0 >= 0 })
            let covered = Set(selection.rows.map { assignments[$0] }).count
            #expect(selection.members.count == 400 && covered > 4)
            #expect(selection.diagnostics.counters["clustersCovered"] == Double(covered))
        }
        // The default cluster count is round(sqrt(n)).
        let assignments = try Quad.clusterAssignments(embeddings: pool.embeddings, clusters: nil, seed: 1, sample: 100_000)
        #expect(Set(assignments).count == 40)
    }

    @Test func rowsWithoutAnEmbeddingBelongToNoClusterAndAreNeverSelected() throws {
        let pool = Pool(groups: 6, perGroup: 40, planted: nil, seed: 9)
        var mask = RowMask(count: 240, allSet: true)
        for r in stride(from: 0, to: 240, by: 7) { mask.remove(r) }
        let embeddings = MaskedMatrix(pool.embeddings, usableRows: mask)
        let assignments = try Quad.clusterAssignments(embeddings: embeddings, clusters: 6, seed: 1, sample: 100)
        #expect((0..<240).allSatisfy { (assignments[$0] < 0) == !mask.contains($0) })
        let selection = try Quad.select(
            gradients: pool.gradients, target: pool.target, embeddings: embeddings, budget: 240,
            parameters: Quad.Parameters(tau: -1e30, seed: 1))
        #expect(Set(selection.rows) == Set(mask.setRows))
        #expect(selection.diagnostics.counters["rowsWithoutCluster"] == Double(240 - mask.setCount))
    }

    @Test(arguments: [1, 2, 3, 4, 5] as [UInt64])
    func aPlantedHighInfluenceClusterGetsMostOfTheBudget(seed: UInt64) throws {
        let pool = Pool(groups: 16, perGroup: 100, planted: 6, seed: 100 + seed)
        let selection = try Self.select(pool, budget: 70, Quad.Parameters(clusters: 16, seed: seed))
        #expect(selection.members.count == 70)
        let planted = selection.rows.count { pool.group[$0] == 6 }
        #expect(planted > 35, "planted rows: \(planted) of 70")
    }

    /// Three clusters of 8 rows with centroids (0,0), (1,0), (3,0) and influences 0.2, 0.5, 0.45 against
    /// tau = 0.4; one round pulls all three arms. Worked out by hand below.
    @Test func oneRoundSpreadsRewardsToNeighboursAsComputedByHand() throws {
        let centroids = Matrix(rowVectors: [[0, 0], [1, 0], [3, 0]])
        let assignments = (0..<24).map { $0 % 3 }
        let influence = assignments.map { ([0.2, 0.5, 0.45] as [Float])[$0] }
        let outcome = try Quad.select(
            influence: influence, assignments: assignments, centroids: centroids, budget: 24,
            parameters: Quad.Parameters(alpha: 0.5, arms: 3, tau: 0.4, radius: 2.5, maxRounds: 1, seed: 1))
        // Rewards 0.2 - 0.4 = -0.2, 0.1 and 0.05 (every row of a cluster has the same influence, so the
        // draw does not matter). Weights 1 - d / 2.5: 0.6 between clusters 0 and 1, 0.2 between 1 and 2,
        // none between 0 and 2 (distance 3).
        //   cluster 0: -0.2 + 0.6 * 0.1                = -0.14, two updates
        //   cluster 1:  0.1 + 0.6 * -0.2 + 0.2 * 0.05  = -0.01, three updates
        //   cluster 2:  0.05 + 0.2 * 0.1               =  0.07, two updates; N = 7
        let bandit = outcome.bandit
        let expectedSums = [-0.14, -0.01, 0.07]
        for c in 0..<3 { #expect(abs(bandit.rewardSums[c] - expectedSums[c]) < 1e-6, "cluster \(c): \(bandit.rewardSums[c])") }
        #expect(bandit.counts == [2, 3, 2])
        #expect(bandit.total == 7)
        // Scores: mean + 0.5 * sqrt(2 ln 7 / (n + 1)).
        let bonus = { (n: Double) in 0.5 * (2 * log(7.0) / (n + 1)).squareRoot() }
        let expectedScores = [-0.07 + bonus(2), -0.01 / 3 + bonus(3), 0.035 + bonus(2)]
        for c in 0..<3 { #expect(abs(bandit.score(c) - expectedScores[c]) < 1e-6) }
        // Slices of round(0.25 * 8) = 2 rows: clusters 1 and 2 accepted, in pull order (ties: lower cluster).
        let selection = outcome.selection
        #expect(selection.rows.map { assignments[$0] } == [1, 1, 2, 2])
        #expect(selection.diagnostics.objectiveTrace == [4])
        #expect(selection.diagnostics.counters["pulls"] == 3)
        #expect(selection.diagnostics.counters["acceptedPulls"] == 2)
        #expect(selection.members.map(\.score) == [0.5, 0.5, 0.45, 0.45].map { Double(Float($0)) })
        // One arm per round, no exploration: round 1 pulls cluster 0 (all scores 0) and rejects it. With
        // radius 2.5 that leaves means -0.2, 0.6 * -0.2 = -0.12 and 0 (cluster 2 is out of reach), so
        // round 2 pulls cluster 2; with radius 0 clusters 1 and 2 both score 0 and the tie goes to 1.
        for (radius, pulledSecond) in [(2.5, 2), (0.0, 1)] {
            let next = try Quad.select(
                influence: influence, assignments: assignments, centroids: centroids, budget: 24,
                parameters: Quad.Parameters(alpha: 0, arms: 1, tau: 0.4, radius: radius, maxRounds: 2, seed: 1))
            #expect(next.selection.rows.map { assignments[$0] } == [pulledSecond, pulledSecond], "radius \(radius)")
            #expect(next.selection.diagnostics.objectiveTrace == [0, 2])
        }
    }

    @Test func theDefaultRadiusIsTheMedianNearestCentroidDistance() throws {
        // Nearest distances 1, 1, 2 (median 1); with a fourth centroid at (3, 4): 1, 1, 2, 4 (median 1.5).
        #expect(abs(Quad.medianNearestCentroidDistance(Matrix(rowVectors: [[0, 0], [1, 0], [3, 0]])) - 1) < 1e-6)
        #expect(abs(Quad.medianNearestCentroidDistance(Matrix(rowVectors: [[0, 0], [1, 0], [3, 0], [3, 4]])) - 1.5) < 1e-6)
        #expect(Quad.medianNearestCentroidDistance(Matrix(rowVectors: [[5, 5]])) == 0)
        // Through select: three groups of identical embeddings at those points.
        let positions: [[Float]] = [[0, 0], [1, 0], [3, 0]]
        let embeddings = Matrix(rowVectors: (0..<24).map { positions[$0 % 3] })
        var random = SeededRandom(seed: 3)
        let gradients = Matrix(rows: 24, columns: 4, values: (0..<96).map { _ in Float(random.nextGaussian()) })
        let selection = try Quad.select(
            gradients: gradients, target: Matrix(rowVectors: [[1, 0, 0, 0]]), embeddings: embeddings, budget: 4,
            parameters: Quad.Parameters(clusters: 3, seed: 1))
        #expect(abs(selection.diagnostics.counters["radius"]! - 1) < 1e-6)
    }

    @Test func defaultsScaleWithTheData() throws {
        let pool = Pool(groups: 16, perGroup: 100, planted: 5, seed: 10)
        let selection = try Self.select(pool, budget: 10, Quad.Parameters(seed: 1))
        let counters = selection.diagnostics.counters
        #expect(counters["clusters"] == 40)  // round(sqrt(1600))
        #expect(counters["arms"] == 10)  // min(50, 40 / 4)
        // tau is the 80th percentile and alpha a tenth of the spread of all 1600 influences (fewer than 2000).
        let influence = try Quad.influences(gradients: pool.gradients, target: pool.target).map(Double.init).sorted()
        let position = 0.8 * Double(influence.count - 1)
        let lower = Int(position)
        let quantile = influence[lower] + (position - Double(lower)) * (influence[lower + 1] - influence[lower])
        #expect(abs(counters["tau"]! - quantile) < 1e-9)
        let mean = influence.reduce(0, +) / 1600
        let deviation = (influence.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 1600).squareRoot()
        #expect(abs(counters["alpha"]! - 0.1 * deviation) < 1e-9)
        // Given values are used as they are.
        let given = try Self.select(pool, budget: 10, Quad.Parameters(clusters: 12, alpha: 0.5, arms: 2, tau: 0.25, seed: 1))
        #expect(given.diagnostics.counters["alpha"] == 0.5 && given.diagnostics.counters["tau"] == 0.25)
        #expect(given.diagnostics.counters["clusters"] == 12 && given.diagnostics.counters["arms"] == 2)
    }

    @Test func parametersReadFromABagAndRejectBadValues() throws {
        var empty = ParameterBag()
        #expect(try Quad.Parameters(&empty, seed: 9) == Quad.Parameters(seed: 9))
        var bag = try ParameterBag(parsing: ["clusters=12", "alpha=0.001", "arms=3", "bEst=0.1", "gamma=0.5", "tau=-0.25",
                                             "tauQuantile=0.9", "radius=0.4", "kmeansSample=5000", "tauSample=100", "maxRounds=7"])
        let parameters = try Quad.Parameters(&bag, seed: 2)
        try bag.finish(selector: Quad.name)
        #expect(parameters == Quad.Parameters(clusters: 12, alpha: 0.001, arms: 3, bEst: 0.1, gamma: 0.5, tau: -0.25,
                                              tauQuantile: 0.9, radius: 0.4, kmeansSample: 5000, tauSample: 100,
                                              maxRounds: 7, seed: 2))
        let json = try JSONEncoder().encode(parameters)
        #expect(try JSONDecoder().decode(Quad.Parameters.self, from: json) == parameters)
        for bad in ["gamma=0", "bEst=1.5", "clusters=0", "alpha=-1", "arms=0"] {
            var badBag = try ParameterBag(parsing: [bad])
            #expect(throws: SelectorError.self, "\(bad)") { try Quad.Parameters(&badBag, seed: 0) }
        }
        var typo = try ParameterBag(parsing: ["b_est=0.1"])
        _ = try Quad.Parameters(&typo, seed: 0)
        #expect(throws: SelectorError.self) { try typo.finish(selector: Quad.name) }
        let pool = Pool(groups: 4, perGroup: 10, planted: nil, seed: 1)
        #expect(throws: SelectorError.self) { try Self.select(pool, budget: 5, Quad.Parameters(gamma: 0, seed: 0)) }
        #expect(throws: SelectorError.self) { try Self.select(pool, budget: -1, Quad.Parameters(seed: 0)) }
    }
}
