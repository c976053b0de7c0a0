import Foundation
import Selectors
import Testing

/// Quad's arm statistics and neighbour lists, checked against hand computations.
@Suite("Quad: bandit scores and neighbours")
struct QuadBanditTests {
    @Test func neighboursAreTheCentroidsWithinTheRadiusWeightedByDistance() {
        let centroids = Matrix(rowVectors: [[0, 0], [1, 0], [3, 0]])
        let lists = Quad.neighbours(centroids: centroids, radius: 2.5)
        func weights(_ i: Int) -> [Int: Double] {
            Dictionary(uniqueKeysWithValues: lists[i].map { ($0.cluster, $0.weight) })
        }
        #expect(lists.map { $0.first?.cluster } == [0, 1, 2])  // itself first, weight 1
        let expected: [[Int: Double]] = [[0: 1, 1: 0.6], [0: 0.6, 1: 1, 2: 0.2], [1: 0.2, 2: 1]]
        for i in 0..<3 {
            let got = weights(i)
            #expect(got.keys.sorted() == expected[i].keys.sorted())
            for (j, w) in expected[i] { #expect(abs(got[j]! - w) < 1e-6, "\(i) -> \(j)") }
        }
        // Strictly below the radius: at exactly distance 1 with radius 1 there is no neighbour.
        #expect(Quad.neighbours(centroids: centroids, radius: 1).map(\.count) == [1, 1, 1])
        #expect(Quad.neighbours(centroids: centroids, radius: 0).map(\.count) == [1, 1, 1])
    }

    @Test func neighbourListsMatchAPairwiseLoopOnRandomCentroids() {
        var random = SeededRandom(seed: 4)
        let k = 300, d = 7
        let centroids = Matrix(rows: k, columns: d, values: (0..<k * d).map { _ in Float(random.nextGaussian()) })
        let radius = 2.0
        let lists = Quad.neighbours(centroids: centroids, radius: radius)
        for i in 0..<k {
            var expected: [Int: Double] = [i: 1]
            var borderline: Set<Int> = []
            for j in 0..<k where j != i {
                let distance = (0..<d).reduce(0.0) { $0 + pow(Double(centroids[i, $1] - centroids[j, $1]), 2) }.squareRoot()
                // Pairs within float rounding of the radius may fall either way.
                if abs(distance - radius) < 1e-4 { borderline.insert(j); continue }
                if distance < radius { expected[j] = 1 - distance / radius }
            }
            let got = Dictionary(uniqueKeysWithValues: lists[i].map { ($0.cluster, $0.weight) })
            for (j, w) in expected { #expect(got[j].map { abs($0 - w) < 1e-5 } == true, "\(i) -> \(j)") }
            #expect(Set(got.keys).subtracting(expected.keys).isSubset(of: borderline))
            #expect(lists[i].first?.cluster == i)
        }
    }

    @Test func scoresFollowTheUCBFormulaAfterSpreadRewards() {
        let neighbours: [[Quad.Neighbour]] = [
            [.init(cluster: 0, weight: 1), .init(cluster: 1, weight: 0.6)],
            [.init(cluster: 1, weight: 1), .init(cluster: 0, weight: 0.6), .init(cluster: 2, weight: 0.2)],
            [.init(cluster: 2, weight: 1), .init(cluster: 1, weight: 0.2)],
            [.init(cluster: 3, weight: 1)],
        ]
        var bandit = Quad.Bandit(neighbours: neighbours, alpha: 0.5)
        // Before any reward every arm scores 0, and ties go to the lower cluster.
        #expect((0..<4).map(bandit.score) == [0, 0, 0, 0])
        #expect(bandit.best(2) { _ in true } == [0, 1])
        bandit.record(reward: 0.3, on: 1)
        bandit.record(reward: -0.1, on: 0)
        // Cluster 0: 0.6 * 0.3 - 0.1 = 0.08 (2 updates); 1: 0.3 - 0.06 = 0.24 (2); 2: 0.2 * 0.3 = 0.06 (1); 3: none.
        let sums = [0.08, 0.24, 0.06, 0]
        for c in 0..<4 { #expect(abs(bandit.rewardSums[c] - sums[c]) < 1e-12) }
        #expect(bandit.counts == [2, 2, 1, 0])
        #expect(bandit.total == 5)
        let ln5 = log(5.0)
        let expected = [
            0.04 + 0.5 * (2 * ln5 / 3).squareRoot(),
            0.12 + 0.5 * (2 * ln5 / 3).squareRoot(),
            0.06 + 0.5 * (2 * ln5 / 2).squareRoot(),
            0 + 0.5 * (2 * ln5 / 1).squareRoot(),
        ]
        for c in 0..<4 { #expect(abs(bandit.score(c) - expected[c]) < 1e-12) }
        // 3 (0.897) > 2 (0.694) > 1 (0.637) > 0 (0.557); closed arms are skipped.
        #expect(bandit.best(4) { _ in true } == [3, 2, 1, 0])
        #expect(bandit.best(2) { $0 != 3 } == [2, 1])
        #expect(bandit.best(9) { $0 == 0 } == [0])
    }

    @Test func bestKeepsTheTopArmsOfManyWithTiesToTheLowerCluster() {
        var random = SeededRandom(seed: 9)
        let k = 500
        var bandit = Quad.Bandit(neighbours: (0..<k).map { [Quad.Neighbour(cluster: $0, weight: 1)] }, alpha: 0.01)
        for _ in 0..<2000 {
            // Rewards on a coarse grid, so that many scores tie.
            bandit.record(reward: Double(random.nextInt(below: 5)) / 4 - 0.5, on: random.nextInt(below: k))
        }
        let open = { (c: Int) in c % 7 != 3 }
        let expected = (0..<k).filter(open).sorted {
            bandit.score($0) > bandit.score($1) || (bandit.score($0) == bandit.score($1) && $0 < $1)
        }
        #expect(bandit.best(50, where: open) == Array(expected.prefix(50)))
        #expect(bandit.best(k, where: open) == expected)
    }
}
