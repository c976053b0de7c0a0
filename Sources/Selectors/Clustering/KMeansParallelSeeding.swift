import Foundation

extension KMeans {
    /// k-means|| seeding (Bahmani, Moseley, Vattani, Kumar, Vassilvitskii 2012, "Scalable K-Means++"):
    /// one row uniformly, then `rounds` passes that each keep every row independently with probability
    /// min(1, l d^2(x) / phi) (l = `oversampling` x k, phi the current sum of squared distances) and
    /// update every row's nearest draw with one GEMM against the new draws; then greedy k-means++ over
    /// the draws, each weighted by the rows nearest to it. The passes are GEMMs, so seeding costs about
    /// `rounds x oversampling` Lloyd iterations instead of k sequential passes over the data.
    func seedParallel(
        _ data: Matrix, rowNorms: [Float], k: Int, rounds: Int, oversampling: Double, random: inout SeededRandom
    ) -> Matrix {
        let n = data.rows
        let first = random.nextInt(below: n)
        var chosen = [first]
        var (labels, nearest) = NearestCentroids(data.rows([first])).assign(data)
        nearest[first] = 0
        let perRound = oversampling * Double(k)
        for _ in 0..<rounds {
            let total = nearest.reduce(0.0) { $0 + Double($1) }
            guard total > 0 else { break }
            var drawn: [Int] = []
            for i in 0..<n where nearest[i] > 0 {
                if random.nextUnitDouble() * total < perRound * Double(nearest[i]) { drawn.append(i) }
            }
            guard !drawn.isEmpty else { continue }
            let (newLabels, newDistances) = NearestCentroids(data.rows(drawn)).assign(data)
            for i in 0..<n where newDistances[i] < nearest[i] {
                nearest[i] = newDistances[i]
                labels[i] = chosen.count + newLabels[i]
            }
            for row in drawn { nearest[row] = 0 }
            chosen += drawn
        }
        guard chosen.count > k else {
            // Too few draws (few distinct rows, or tiny oversampling): k-means++ over every row.
            return seedPlusPlus(data, rowNorms: rowNorms, k: k, random: &random)
        }
        var weights = [Float](repeating: 0, count: chosen.count)
        for label in labels { weights[label] += 1 }
        let candidates = data.rows(chosen)
        return seedPlusPlus(candidates, rowNorms: Self.squaredNorms(candidates), k: k, weights: weights, random: &random)
    }

    /// A row drawn with probability proportional to its weight.
    static func weightedDraw(_ weights: [Float], random: inout SeededRandom) -> Int {
        let total = weights.reduce(0.0) { $0 + Double($1) }
        var target = random.nextUnitDouble() * total
        for (i, w) in weights.enumerated() {
            target -= Double(w)
            if target < 0 { return i }
        }
        return weights.lastIndex { $0 > 0 } ?? 0
    }
}
