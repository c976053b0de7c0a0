extension GTP {
    /// The least-squares data of a candidate set T: A_T^T Y, the squared norms of the trajectories,
    /// and their Gram matrix as rows computed on demand (``GramRows``). Trajectories are never held:
    /// every product streams them from the stored gradients in blocks.
    ///
    /// Built incrementally: rows already in the previous iteration's system bring their products and
    /// their Gram rows along; only new rows are read and multiplied.
    ///
    /// Gram rows are computed in Double from Double trajectories on purpose: an exact duplicate of a row
    /// must come out as an exactly dependent column, so that the NNLS refuses it (in Float the rounding
    /// of the products would leave a spurious pivot of about 1e-7 and let both copies in).
    struct CandidateSystem {
        /// Pool rows, ascending.
        let rows: [Int]
        let gram: GramRows
        /// ||a_i||^2.
        let squaredNorms: [Double]
        /// rows.count x groups: entry (i, j) is <a_i, Y_j>.
        let targetProducts: [Double]
        let layout: TrajectoryLayout
        let groups: Int

        var count: Int { rows.count }

        /// Seconds spent and rows read (for the diagnostics).
        struct Cost { var gather = 0.0; var newRows = 0 }

        /// The system of `rows` (ascending), reusing what `previous` already holds.
        static func build(
            rows: [Int], layout: TrajectoryLayout, targets: TargetGroups, reusing previous: CandidateSystem?, cost: inout Cost,
            gramProgress: ((Int, Int) -> Void)? = nil
        ) throws -> CandidateSystem {
            let groups = targets.count
            var previousPosition: [Int: Int] = [:]
            if let previous { for (i, r) in previous.rows.enumerated() { previousPosition[r] = i } }
            let fresh = rows.indices.filter { previousPosition[rows[$0]] == nil }
            cost.newRows += fresh.count

            let start = ContinuousClock.now
            let (freshNorms, freshProducts) = try layout.normsAndTargetProducts(of: fresh.map { rows[$0] }, targets: targets)
            var norms = [Double](repeating: 0, count: rows.count)
            var products = [Double](repeating: 0, count: rows.count * groups)
            for (i, r) in rows.enumerated() {
                guard let p = previousPosition[r], let previous else { continue }
                norms[i] = previous.squaredNorms[p]
                for j in 0..<groups { products[i * groups + j] = previous.targetProducts[p * groups + j] }
            }
            for (k, i) in fresh.enumerated() {
                norms[i] = freshNorms[k]
                for j in 0..<groups { products[i * groups + j] = freshProducts[k * groups + j] }
            }
            cost.gather += GTPTiming.seconds(since: start)
            let gram = try previous.map { try $0.gram.carried(to: rows, diagonals: norms, progress: gramProgress) }
                ?? GramRows(candidates: rows, layout: layout, diagonals: norms)
            gram.progress = gramProgress
            return CandidateSystem(rows: rows, gram: gram, squaredNorms: norms, targetProducts: products, layout: layout, groups: groups)
        }

        /// The system of the rows at the given positions (ascending), without recomputation.
        func restricted(to positions: [Int]) -> CandidateSystem {
            var products = [Double](repeating: 0, count: positions.count * groups)
            for (a, i) in positions.enumerated() {
                for j in 0..<groups { products[a * groups + j] = targetProducts[i * groups + j] }
            }
            return CandidateSystem(
                rows: positions.map { rows[$0] }, gram: gram.restricted(to: positions), squaredNorms: positions.map { squaredNorms[$0] },
                targetProducts: products, layout: layout, groups: groups)
        }

        /// Solves the G non-negative least-squares problems min ||Y_j - A_T w_j||, w_j >= 0 (in lockstep,
        /// sharing the Gram rows they need); returns W as count x groups (row i holds the weights of rows[i]).
        func fit(warmStart: [Double]?) throws -> [Double] {
            let atbs = (0..<groups).map { j in (0..<count).map { targetProducts[$0 * groups + j] } }
            let starts: [[Double]?]? = warmStart.map { w in (0..<groups).map { j in (0..<count).map { w[$0 * groups + j] } } }
            let solutions = try NNLS.solveInLockstep(gram: gram, atbs: atbs, warmStarts: starts, pivotTolerance: GTP.dependenceTolerance)
            var weights = [Double](repeating: 0, count: count * groups)
            for j in 0..<groups { for i in 0..<count { weights[i * groups + j] = solutions[j][i] } }
            return weights
        }

        /// R = Y - W^T A (groups x dimension) for weights W (count x groups), streamed.
        func residual(targets: TargetGroups, weights: [Double]) throws -> [Double] {
            guard count > 0 else { return targets.means }
            return try layout.residual(of: rows, weights: weights, targets: targets)
        }
    }
}
