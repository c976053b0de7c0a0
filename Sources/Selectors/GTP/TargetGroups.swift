extension GTP {
    /// The GTP targets Y: the validation trajectories grouped by k-means, one mean per group.
    struct TargetGroups {
        /// Group means, count x dimension, row-major (row j is Y_j).
        let means: [Double]
        /// Number of (non-empty) groups.
        let count: Int
        /// Validation rows per group.
        let sizes: [Int]
        /// ||Y||_F.
        let norm: Double

        /// Groups the rows x dimension `trajectories` into at most `groups` clusters (k-means++ and Lloyd,
        /// seeded); one group is the plain mean.
        init(trajectories: [Double], rows: Int, dimension: Int, groups: Int, seed: UInt64) throws {
            guard rows > 0 else { throw SelectorError("the target has no rows") }
            let wanted = min(groups, rows)
            var assignments = [Int](repeating: 0, count: rows)
            if wanted > 1 {
                let data = Matrix(rows: rows, columns: dimension, values: trajectories.map { Float($0) })
                assignments = KMeans(clusters: wanted, seed: seed).fit(data).assignments
            }
            let clusters = (assignments.max() ?? 0) + 1
            var sums = [Double](repeating: 0, count: clusters * dimension)
            var counts = [Int](repeating: 0, count: clusters)
            for r in 0..<rows {
                let g = assignments[r]
                counts[g] += 1
                for t in 0..<dimension { sums[g * dimension + t] += trajectories[r * dimension + t] }
            }
            var means: [Double] = []
            var sizes: [Int] = []
            for g in 0..<clusters where counts[g] > 0 {
                means.append(contentsOf: sums[g * dimension..<(g + 1) * dimension].map { $0 / Double(counts[g]) })
                sizes.append(counts[g])
            }
            self.means = means
            self.sizes = sizes
            count = sizes.count
            norm = means.reduce(0) { $0 + $1 * $1 }.squareRoot()
            guard norm > 0 else { throw SelectorError("every target gradient is zero: there is nothing to match") }
        }
    }
}
