import Foundation

extension Quad {
    /// The upper-confidence-bound state over clusters (arms), updated as the released code does.
    ///
    /// A reward observed on cluster i is spread to each neighbour j of i (i itself included) as
    /// `rewardSums[j] += reward * weight(i, j)`, `counts[j] += 1`, `total += 1`. The score of cluster
    /// j is `rewardSums[j] / counts[j] + alpha * sqrt(2 ln total / (counts[j] + 1))`, the mean taken
    /// as 0 while `counts[j]` is 0 and the bonus as 0 while `total` is 0 (ln 0 is undefined; before
    /// any observation every arm scores 0 and ties go to the lower cluster number).
    public struct Bandit: Sendable {
        /// For each cluster, the clusters that share its rewards (see ``Quad/neighbours(centroids:radius:)``).
        public let neighbours: [[Neighbour]]
        public let alpha: Double
        /// Sum of the weighted rewards each cluster received.
        public private(set) var rewardSums: [Double]
        /// Number of (weighted) reward updates each cluster received (n_i).
        public private(set) var counts: [Int]
        /// Number of reward updates over all clusters (N).
        public private(set) var total: Int

        public init(neighbours: [[Neighbour]], alpha: Double) {
            self.neighbours = neighbours
            self.alpha = alpha
            rewardSums = [Double](repeating: 0, count: neighbours.count)
            counts = [Int](repeating: 0, count: neighbours.count)
            total = 0
        }

        /// The UCB score of `cluster`.
        public func score(_ cluster: Int) -> Double {
            let n = counts[cluster]
            let mean = n > 0 ? rewardSums[cluster] / Double(n) : 0
            let bonus = total > 0 ? alpha * (2 * log(Double(total)) / Double(n + 1)).squareRoot() : 0
            return mean + bonus
        }

        /// Records a reward observed on `cluster` and spreads it to the cluster's neighbours.
        public mutating func record(reward: Double, on cluster: Int) {
            for neighbour in neighbours[cluster] {
                rewardSums[neighbour.cluster] += reward * neighbour.weight
                counts[neighbour.cluster] += 1
                total += 1
            }
        }

        /// The (at most) `m` highest-scoring clusters for which `isOpen` holds, best first; ties go to
        /// the lower cluster number.
        public func best(_ m: Int, where isOpen: (Int) -> Bool) -> [Int] {
            guard m > 0 else { return [] }
            var candidates: [(score: Double, cluster: Int)] = []
            candidates.reserveCapacity(neighbours.count)
            for cluster in neighbours.indices where isOpen(cluster) { candidates.append((score(cluster), cluster)) }
            let better = { (a: (score: Double, cluster: Int), b: (score: Double, cluster: Int)) in
                a.score > b.score || (a.score == b.score && a.cluster < b.cluster)
            }
            guard candidates.count > m else { return candidates.sorted(by: better).map(\.cluster) }
            // Partial selection: keep the m best seen so far, sorted.
            var kept = Array(candidates.prefix(m)).sorted(by: better)
            for candidate in candidates.dropFirst(m) where better(candidate, kept[m - 1]) {
                let at = kept.firstIndex { better(candidate, $0) } ?? m - 1
                kept.insert(candidate, at: at)
                kept.removeLast()
            }
            return kept.map(\.cluster)
        }
    }
}
