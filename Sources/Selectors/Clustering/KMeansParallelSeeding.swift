import Foundation

extension KMeansFit {
    /// k-means|| seeding (Bahmani, Moseley, Vattani, Kumar, Vassilvitskii 2012, "Scalable K-Means++"):
    /// one row uniformly, then `rounds` passes that each keep every row independently with probability
    /// min(1, l d^2(x) / phi) (l = `oversampling` x k, phi the current sum of squared distances) and
    /// update every row's nearest draw with one assignment pass against the new draws; then greedy
    /// k-means++ over the draws, each weighted by the rows nearest to it. The passes are GEMMs, so
    /// seeding costs about `rounds x oversampling` Lloyd iterations instead of k sequential passes.
    ///
    /// Draws the next round that draws anything, waiting for its pass; after the last round, seeds the
    /// Lloyd iterations.
    mutating func drawRound(_ data: Matrix) {
        guard case .parallel(let rounds, let oversampling) = configuration.seeding else { preconditionFailure("not k-means||") }
        let perRound = oversampling * Double(k)
        while round < rounds {
            let total = nearest.reduce(0.0) { $0 + Double($1) }
            guard total > 0 else { break }
            drawn = []
            for i in 0..<data.rows where nearest[i] > 0 {
                if random.nextUnitDouble() * total < perRound * Double(nearest[i]) { drawn.append(i) }
            }
            if !drawn.isEmpty {
                stage = .seedingRound
                return
            }
            round += 1
        }
        drawn = []
        seedFromDraws(data)
    }

    /// Greedy k-means++ over the draws weighted by their nearest rows (over every row when there were
    /// too few draws: few distinct rows, or a tiny oversampling).
    private mutating func seedFromDraws(_ data: Matrix) {
        let seeds: Matrix
        if chosen.count > k {
            var weights = [Float](repeating: 0, count: chosen.count)
            for label in labels { weights[label] += 1 }
            let candidates = data.rows(chosen)
            seeds = configuration.seedPlusPlus(candidates, rowNorms: KMeans.squaredNorms(candidates), k: k, weights: weights, random: &random)
        } else {
            seeds = configuration.seedPlusPlus(data, rowNorms: KMeans.squaredNorms(data), k: k, random: &random)
        }
        chosen = []
        labels = []
        nearest = []
        startLloyd(from: seeds)
    }
}

extension KMeans {
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
