import Foundation
import Selectors
import Testing

@Suite("Core pieces: top-k, row masks, seeded sampling, parameters, random selector")
struct CoreTests {
    @Test func topKEqualsFullSortWithTieBreak() {
        var random = SeededRandom(seed: 11)
        for trial in 0..<20 {
            let n = 1 + random.nextInt(below: 300)
            // Few distinct values, so many ties.
            let scores = (0..<n).map { _ in Float(random.nextInt(below: 7)) - 3 }
            let k = random.nextInt(below: n + 2)
            let expected = Array(scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }.prefix(k))
            #expect(topK(scores, k: k) == expected, "trial \(trial)")
        }
        #expect(topK([1, .nan, 3, 2], k: 4) == [2, 3, 0])
        #expect(topK([1, 5, 3, 2], k: 2, isEligible: { $0 != 1 }) == [2, 3])
    }

    @Test func rowMaskSetOperations() {
        var mask = RowMask(count: 130, allSet: true)
        #expect(mask.setCount == 130)
        mask.remove(0); mask.remove(64); mask.remove(129)
        #expect(mask.setCount == 127 && !mask.contains(64) && mask.contains(65) && !mask.contains(130))
        var empty = RowMask(count: 70, allSet: false)
        empty.insert(3); empty.insert(69)
        #expect(empty.setRows == [3, 69])
    }

    @Test func sampleIsDistinctReproducibleAndUniform() {
        var a = SeededRandom(seed: 5), b = SeededRandom(seed: 5)
        let first = a.sample(50, from: 1000)
        #expect(first == b.sample(50, from: 1000))
        #expect(Set(first).count == 50 && first.allSatisfy { (0..<1000).contains($0) })
        // Chi-square over 20 cells, 20,000 draws of 5 of 20: mean 5000 per cell.
        var counts = [Int](repeating: 0, count: 20)
        var random = SeededRandom(seed: 77)
        for _ in 0..<20_000 { for v in random.sample(5, from: 20) { counts[v] += 1 } }
        let chi = counts.reduce(0.0) { $0 + pow(Double($1) - 5000, 2) / 5000 }
        #expect(chi < 43.8)  // 99.9% quantile for 19 degrees of freedom
    }

    @Test func nextIntIsUnbiasedOnSmallBounds() {
        var random = SeededRandom(seed: 3)
        var counts = [Int](repeating: 0, count: 3)
        for _ in 0..<30_000 { counts[random.nextInt(below: 3)] += 1 }
        #expect(counts.allSatisfy { abs($0 - 10_000) < 400 })
    }

    @Test func parameterBagRejectsUnknownAndMalformedValues() throws {
        var bag = try ParameterBag(parsing: ["alpha=0.5", "mode=pool"])
        #expect(try bag.double("alpha", default: 1) == 0.5)
        #expect(try bag.choice("mode", default: "global", allowed: ["global", "pool"]) == "pool")
        try bag.finish(selector: "x")
        var typo = try ParameterBag(parsing: ["alpah=0.5"])
        _ = try typo.double("alpha", default: 1)
        #expect(throws: SelectorError.self) { try typo.finish(selector: "x") }
        var bad = try ParameterBag(parsing: ["alpha=fast"])
        #expect(throws: SelectorError.self) { _ = try bad.double("alpha", default: 1) }
        #expect(throws: SelectorError.self) { _ = try ParameterBag(parsing: ["novalue"]) }
    }

    @Test func randomSelectorIsReproducibleAndRespectsEligibility() {
        var eligible = RowMask(count: 100, allSet: false)
        for r in stride(from: 0, to: 100, by: 2) { eligible.insert(r) }
        let a = RandomSelector.select(rowCount: 100, eligible: eligible, budget: 10, parameters: .init(seed: 1))
        let b = RandomSelector.select(rowCount: 100, eligible: eligible, budget: 10, parameters: .init(seed: 1))
        let c = RandomSelector.select(rowCount: 100, eligible: eligible, budget: 10, parameters: .init(seed: 2))
        #expect(a == b && a.rows != c.rows)
        #expect(a.rows.allSatisfy { $0 % 2 == 0 } && Set(a.rows).count == 10)
        #expect(RandomSelector.select(rowCount: 5, budget: 9, parameters: .init(seed: 1)).members.count == 5)
    }

    @Test func rowKeysTakeTheSmallestKeysWhateverTheSplit() {
        let rows = Array(0..<5000)
        let seed: UInt64 = 99
        // Against a plain sort of every key.
        let bySort = rows.sorted { RowKeys.before((RowKeys.key(seed, $0), $0), (RowKeys.key(seed, $1), $1)) }
        #expect(RowKeys.smallest(250, of: rows, seed: seed) == Array(bySort.prefix(250)))
        #expect(RowKeys.ordered(rows.reversed(), seed: seed) == bySort)
        // Split into unequal parts in any order: the smallest of each part's smallest are the smallest overall.
        let cuts = [0, 17, 1200, 1201, 3999, 5000]
        let parts = zip(cuts, cuts.dropFirst()).map { Array(rows[$0..<$1]) }
        let merged = parts.reversed().flatMap { RowKeys.smallest(250, of: $0.shuffled(), seed: seed) }
        #expect(RowKeys.smallest(250, of: merged, seed: seed) == Array(bySort.prefix(250)))
        #expect(RowKeys.smallest(0, of: rows, seed: seed).isEmpty)
        #expect(RowKeys.smallest(9000, of: rows, seed: seed) == bySort)
    }

    @Test func randomSelectorSamplesUniformly() {
        // Over 2,000 seeds, each of 50 rows is drawn in a 10-row sample about 400 times (binomial:
        // standard deviation about 18); every count within 5 standard deviations.
        var counts = [Int](repeating: 0, count: 50)
        for seed in 0..<2000 {
            for row in RandomSelector.select(rowCount: 50, budget: 10, parameters: .init(seed: UInt64(seed))).rows { counts[row] += 1 }
        }
        #expect(counts.allSatisfy { abs($0 - 400) < 90 })
    }

    @Test func kMeansRecoversSeparatedBlobsAndIsAFixedPoint() {
        var random = SeededRandom(seed: 8)
        let centers: [[Float]] = [[10, 0, 0], [0, 10, 0], [0, 0, 10], [-10, -10, 0]]
        var rows: [[Float]] = []
        var truth: [Int] = []
        for i in 0..<400 {
            let c = i % 4
            rows.append(centers[c].map { $0 + Float(random.nextGaussian()) * 0.5 })
            truth.append(c)
        }
        let data = Matrix(rowVectors: rows)
        let result = KMeans(clusters: 4, seed: 3).fit(data)
        // Same partition as the truth, up to relabelling.
        for i in 0..<400 { for j in 0..<400 where (truth[i] == truth[j]) != (result.assignments[i] == result.assignments[j]) {
            Issue.record("rows \(i) and \(j) split differently"); return
        } }
        // Fixed point: every row is nearest to its own centroid, every centroid is its members' mean.
        for i in 0..<400 {
            let distances = (0..<4).map { c in (0..<3).reduce(0.0) { $0 + pow(Double(rows[i][$1] - result.centroids[c, $1]), 2) } }
            #expect(distances[result.assignments[i]] <= distances.min()! + 1e-3)
        }
        for c in 0..<4 {
            let members = (0..<400).filter { result.assignments[$0] == c }
            for j in 0..<3 {
                let mean = members.reduce(0.0) { $0 + Double(rows[$1][j]) } / Double(members.count)
                #expect(abs(mean - Double(result.centroids[c, j])) < 1e-3)
            }
        }
        #expect(KMeans(clusters: 4, seed: 3).fit(data).assignments == result.assignments)
    }

    @Test func diagnosticsRoundTripAndOldRecordsWithoutSeriesStillDecode() throws {
        var d = Diagnostics()
        d.objectiveTrace = [1, 2.5]
        d.counters["pulls"] = 3
        d.notes = ["short"]
        d.timings["bandit"] = 0.25
        d.series["pullsPerRound"] = [2, 1]
        #expect(try JSONDecoder().decode(Diagnostics.self, from: JSONEncoder().encode(d)) == d)
        let old = #"{"objectiveTrace":[1],"counters":{"pulls":3},"notes":[],"timings":{}}"#
        let decoded = try JSONDecoder().decode(Diagnostics.self, from: Data(old.utf8))
        #expect(decoded.series.isEmpty && decoded.counters["pulls"] == 3 && decoded.objectiveTrace == [1])
    }
}
