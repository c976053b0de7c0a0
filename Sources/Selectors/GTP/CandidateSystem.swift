import COpenBLAS

extension GTP {
    /// The least-squares data of a candidate set T: its trajectories A_T, the Gram matrix A_T^T A_T and
    /// A_T^T Y, all in Double.
    ///
    /// Built incrementally: rows already present in the previous iteration's system (the kept subset S
    /// always is, and much of the new 2k best-correlated rows usually is) bring their trajectories, Gram
    /// entries and products along; only the new rows are gathered from the store and multiplied: a SYRK
    /// among the new rows and a GEMM of the new rows against the kept ones.
    ///
    /// The Gram matrix is computed in Double from Double trajectories on purpose: an exact duplicate of
    /// a row must come out as an exactly dependent column, so that the NNLS refuses it (in Float the
    /// rounding of the products would leave a spurious pivot of about 1e-7 and let both copies in).
    struct CandidateSystem {
        /// Pool rows, ascending.
        let rows: [Int]
        /// rows.count x dimension trajectories.
        let trajectories: [Double]
        /// rows.count x rows.count, symmetric.
        let gram: [Double]
        /// rows.count x groups: entry (i, j) is <a_i, Y_j>.
        let targetProducts: [Double]
        let dimension: Int
        let groups: Int

        var count: Int { rows.count }

        /// Seconds spent gathering trajectories and multiplying, and rows gathered (for the diagnostics).
        struct Cost { var gather = 0.0; var gram = 0.0; var newRows = 0 }

        /// The system of `rows` (ascending), reusing what `previous` already holds.
        static func build(
            rows: [Int], layout: TrajectoryLayout, targets: TargetGroups, reusing previous: CandidateSystem?, cost: inout Cost
        ) throws -> CandidateSystem {
            let n = rows.count, dimension = layout.dimension, groups = targets.count
            var previousPosition: [Int: Int] = [:]
            if let previous { for (i, r) in previous.rows.enumerated() { previousPosition[r] = i } }
            var reused: [(position: Int, previous: Int)] = []
            var fresh: [Int] = []  // positions in `rows`
            for (i, r) in rows.enumerated() {
                if let p = previousPosition[r] { reused.append((i, p)) } else { fresh.append(i) }
            }
            cost.newRows += fresh.count

            var start = ContinuousClock.now
            let freshTrajectories = try layout.poolTrajectories(rows: fresh.map { rows[$0] })
            // Every row is written below: kept rows from the previous system, new rows just gathered.
            let trajectories = [Double](unsafeUninitializedCapacity: n * dimension) { out, initialized in
                if let previous {
                    previous.trajectories.withUnsafeBufferPointer { old in
                        for (i, p) in reused {
                            (out.baseAddress! + i * dimension).update(from: old.baseAddress! + p * dimension, count: dimension)
                        }
                    }
                }
                freshTrajectories.withUnsafeBufferPointer { new in
                    for (k, i) in fresh.enumerated() {
                        (out.baseAddress! + i * dimension).update(from: new.baseAddress! + k * dimension, count: dimension)
                    }
                }
                initialized = n * dimension
            }
            cost.gather += GTPTiming.seconds(since: start)

            start = ContinuousClock.now
            // Every entry is written below: reused pairs from the previous matrix, the rest computed.
            let gram = [Double](unsafeUninitializedCapacity: n * n) { g, initialized in
                let g = g.baseAddress!
                if let previous {
                    previous.gram.withUnsafeBufferPointer { old in
                        for (i, pi) in reused {
                            let source = old.baseAddress! + pi * previous.count
                            let target = g + i * n
                            for (j, pj) in reused { target[j] = source[pj] }
                        }
                    }
                }
                // New rows among themselves: the upper triangle by SYRK (half a GEMM's work), both
                // triangles then set from one computed value so the matrix is exactly symmetric.
                let f = fresh.count
                if f > 0 {
                    let block = [Double](unsafeUninitializedCapacity: f * f) { b, count in
                        freshTrajectories.withUnsafeBufferPointer { a in
                            cblas_dsyrk(
                                CblasRowMajor, CblasUpper, CblasNoTrans, Int32(f), Int32(dimension), 1,
                                a.baseAddress!, Int32(dimension), 0, b.baseAddress!, Int32(f))
                        }
                        count = f * f
                    }
                    block.withUnsafeBufferPointer { b in
                        scatterSymmetric(b.baseAddress!, ld: f, rows: fresh, columns: fresh, upperOnly: true, into: g, n: n)
                    }
                }
                // New rows against kept rows: one GEMM.
                if f > 0, !reused.isEmpty, let previous {
                    let r = reused.count
                    var kept = [Double](repeating: 0, count: r * dimension)
                    previous.trajectories.withUnsafeBufferPointer { old in
                        kept.withUnsafeMutableBufferPointer { out in
                            for (b, (_, p)) in reused.enumerated() {
                                (out.baseAddress! + b * dimension).update(from: old.baseAddress! + p * dimension, count: dimension)
                            }
                        }
                    }
                    var cross = [Double](repeating: 0, count: f * r)
                    freshTrajectories.withUnsafeBufferPointer { a in
                        kept.withUnsafeBufferPointer { k in
                            cross.withUnsafeMutableBufferPointer { c in
                                BLAS.dgemm(
                                    transposeB: true, m: f, n: r, k: dimension,
                                    a: a.baseAddress!, lda: dimension, b: k.baseAddress!, ldb: dimension,
                                    c: c.baseAddress!, ldc: r)
                            }
                        }
                    }
                    cross.withUnsafeBufferPointer { c in
                        scatterSymmetric(c.baseAddress!, ld: r, rows: fresh, columns: reused.map(\.position), upperOnly: false, into: g, n: n)
                    }
                }
                initialized = n * n
            }
            var products = [Double](repeating: 0, count: n * groups)
            if let previous {
                for (i, p) in reused {
                    for j in 0..<groups { products[i * groups + j] = previous.targetProducts[p * groups + j] }
                }
            }
            if !fresh.isEmpty {
                var freshProducts = [Double](repeating: 0, count: fresh.count * groups)
                freshTrajectories.withUnsafeBufferPointer { a in
                    targets.means.withUnsafeBufferPointer { y in
                        freshProducts.withUnsafeMutableBufferPointer { c in
                            BLAS.dgemm(
                                transposeB: true, m: fresh.count, n: groups, k: dimension,
                                a: a.baseAddress!, lda: dimension, b: y.baseAddress!, ldb: dimension,
                                c: c.baseAddress!, ldc: groups)
                        }
                    }
                }
                for (k, i) in fresh.enumerated() {
                    for j in 0..<groups { products[i * groups + j] = freshProducts[k * groups + j] }
                }
            }
            cost.gram += GTPTiming.seconds(since: start)
            return CandidateSystem(
                rows: rows, trajectories: trajectories, gram: gram, targetProducts: products, dimension: dimension, groups: groups)
        }

        /// Writes block entry (a, b) to g[rows[a], columns[b]] and g[columns[b], rows[a]] (only b >= a when
        /// `upperOnly`), tile by tile so that the transposed writes stay within a few pages of g.
        private static func scatterSymmetric(
            _ block: UnsafePointer<Double>, ld: Int, rows: [Int], columns: [Int], upperOnly: Bool,
            into g: UnsafeMutablePointer<Double>, n: Int
        ) {
            let tile = 64
            for a0 in stride(from: 0, to: rows.count, by: tile) {
                let a1 = min(a0 + tile, rows.count)
                for b0 in stride(from: upperOnly ? a0 : 0, to: columns.count, by: tile) {
                    let b1 = min(b0 + tile, columns.count)
                    for a in a0..<a1 {
                        let i = rows[a]
                        for b in (upperOnly ? max(a, b0) : b0)..<b1 {
                            let value = block[a * ld + b]
                            g[i * n + columns[b]] = value
                        }
                    }
                    for b in b0..<b1 {
                        let j = columns[b]
                        for a in a0..<(upperOnly ? min(a1, b + 1) : a1) {
                            g[j * n + rows[a]] = block[a * ld + b]
                        }
                    }
                }
            }
        }

        /// The system of the rows at the given positions (ascending), without recomputation.
        func restricted(to positions: [Int]) -> CandidateSystem {
            let m = positions.count
            var t = [Double](repeating: 0, count: m * dimension)
            var g = [Double](repeating: 0, count: m * m)
            var products = [Double](repeating: 0, count: m * groups)
            for (a, i) in positions.enumerated() {
                for c in 0..<dimension { t[a * dimension + c] = trajectories[i * dimension + c] }
                for (b, j) in positions.enumerated() { g[a * m + b] = gram[i * count + j] }
                for j in 0..<groups { products[a * groups + j] = targetProducts[i * groups + j] }
            }
            return CandidateSystem(
                rows: positions.map { rows[$0] }, trajectories: t, gram: g, targetProducts: products,
                dimension: dimension, groups: groups)
        }

        /// Solves the G non-negative least-squares problems min ||Y_j - A_T w_j||, w_j >= 0, in parallel;
        /// returns W as count x groups (row i holds the weights of rows[i]).
        func fit(warmStart: [Double]?) -> [Double] {
            let atbs = (0..<groups).map { j in (0..<count).map { targetProducts[$0 * groups + j] } }
            let starts: [[Double]?]? = warmStart.map { w in (0..<groups).map { j in (0..<count).map { w[$0 * groups + j] } } }
            let solutions = NNLS.solve(
                gram: gram, p: count, atbs: atbs, warmStarts: starts, pivotTolerance: GTP.dependenceTolerance)
            var weights = [Double](repeating: 0, count: count * groups)
            for j in 0..<groups { for i in 0..<count { weights[i * groups + j] = solutions[j][i] } }
            return weights
        }

        /// R = Y - W^T A (groups x dimension) for weights W (count x groups).
        func residual(targets: TargetGroups, weights: [Double]) -> [Double] {
            var r = targets.means
            guard count > 0 else { return r }
            weights.withUnsafeBufferPointer { w in
                trajectories.withUnsafeBufferPointer { a in
                    r.withUnsafeMutableBufferPointer { out in
                        BLAS.dgemm(
                            transposeA: true, m: groups, n: dimension, k: count, alpha: -1,
                            a: w.baseAddress!, lda: groups, b: a.baseAddress!, ldb: dimension,
                            beta: 1, c: out.baseAddress!, ldc: dimension)
                    }
                }
            }
            return r
        }
    }
}
