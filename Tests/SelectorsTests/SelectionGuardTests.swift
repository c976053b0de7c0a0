import Foundation
import Selectors
import Testing

/// The near-duplicate guard against a pairwise loop in Double, and every selector with it: no two
/// members at or above the threshold, the next candidates taken in order, and the lazy greedy still
/// picking what the plain greedy picks.
@Suite("Near-duplicate guard")
struct SelectionGuardTests {
    /// Gradients (two checkpoints) and embeddings of `n` rows in which every fourth row from row 8 on
    /// is a near copy of an earlier row, in both columns (cosine about 0.99), plus a target.
    struct Pool {
        var gradients: [Matrix]
        var embeddings: Matrix
        var target: [Matrix]
        var copies: [(copy: Int, of: Int)]

        init(n: Int, d: Int = 12, e: Int = 10, seed: UInt64) {
            var random = SeededRandom(seed: seed)
            func gaussian(_ count: Int) -> [Float] { (0..<count).map { _ in Float(random.nextGaussian()) } }
            let lean = gaussian(d)
            var g = (0..<2).map { _ in Matrix(rows: n, columns: d) }
            var emb = Matrix(rows: n, columns: e)
            var copies: [(Int, Int)] = []
            for r in 0..<n {
                let original = r >= 8 && r % 4 == 0 ? random.nextInt(below: r) : nil
                for c in 0..<2 {
                    let base = original.map { g[c].row($0) } ?? gaussian(d).enumerated().map { $1 + Float(r % 3) * 0.5 * lean[$0] }
                    let noise = gaussian(d)
                    for j in 0..<d { g[c][r, j] = base[j] + (original == nil ? 0 : 0.05 * noise[j]) }
                }
                let base = original.map { emb.row($0) } ?? gaussian(e)
                let noise = gaussian(e)
                for j in 0..<e { emb[r, j] = base[j] + (original == nil ? 0 : 0.05 * noise[j]) }
                if let original { copies.append((r, original)) }
            }
            gradients = g
            embeddings = emb
            target = (0..<2).map { _ in Matrix(rowVectors: (0..<5).map { _ in lean.map { $0 + Float(0.3 * random.nextGaussian()) } }) }
            self.copies = copies
        }

        var checkpoints: [CheckpointGradients] {
            (0..<2).map { CheckpointGradients(checkpoint: $0 + 1, learningRate: [2e-5, 1e-5][$0], pool: gradients[$0], target: target[$0]) }
        }
    }

    static func cosine(_ m: Matrix, _ a: Int, _ b: Int) -> Double {
        let x = m.row(a).map(Double.init), y = m.row(b).map(Double.init)
        let dot = zip(x, y).reduce(0) { $0 + $1.0 * $1.1 }
        let nx = x.reduce(0) { $0 + $1 * $1 }.squareRoot(), ny = y.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return nx == 0 || ny == 0 ? 0 : dot / (nx * ny)
    }

    /// The first `limit` rows of `ranking` none of which reaches `threshold` with an earlier kept row.
    static func naiveWalk(_ ranking: [Int], limit: Int, vectors: Matrix, threshold: Double) -> [Int] {
        var kept: [Int] = []
        for r in ranking where kept.count < limit {
            if !kept.contains(where: { cosine(vectors, r, $0) >= threshold }) { kept.append(r) }
        }
        return kept
    }

    static func closestPair(_ rows: [Int], _ vectors: Matrix) -> Double {
        var best = -1.0
        for i in rows.indices { for j in rows.indices where j > i { best = max(best, cosine(vectors, rows[i], rows[j])) } }
        return best
    }

    /// A LESS-style ranking: scores descending, ties to the lower row.
    static func ranking(_ scores: [Float]) -> [Int] {
        scores.indices.filter { !scores[$0].isNaN }.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
    }

    // MARK: The guard itself

    @Test(arguments: [1, 3, 17, 40, 200])
    func admitsExactlyWhatAPairwiseLoopAdmits(limit: Int) throws {
        let pool = Pool(n: 160, seed: 1)
        var random = SeededRandom(seed: 9)
        var order = Array(0..<160)
        random.shuffle(&order)
        let expected = Self.naiveWalk(order, limit: limit, vectors: pool.embeddings, threshold: 0.95)
        let batched = try NearDuplicateGuard(source: pool.embeddings, threshold: 0.95)
        #expect(try batched.admit(inOrder: order, limit: limit) == expected)
        // One row at a time (the greedy selectors' path) decides the same.
        let single = try NearDuplicateGuard(source: pool.embeddings, threshold: 0.95)
        var admitted: [Int] = []
        for r in order where admitted.count < limit { if try single.admit(r) { admitted.append(r) } }
        #expect(admitted == expected)
        #expect(single.refused == batched.refused)
        if limit == 200 { #expect(batched.refused > 10 && expected.count == 160 - batched.refused) }
    }

    /// Answers prepared ahead (a greedy selector's likely next picks) decide exactly as one at a time,
    /// whatever rows are anticipated and however long ago.
    @Test(arguments: [0, 8, 64, 600] as [Int])
    func anticipatedRowsDecideAsRowsAskedOneAtATime(spread: Int) throws {
        let pool = Pool(n: 300, seed: 13)
        var random = SeededRandom(seed: UInt64(spread + 1))
        var order = Array(0..<300)
        random.shuffle(&order)
        let expected = Self.naiveWalk(order, limit: 300, vectors: pool.embeddings, threshold: 0.95)
        let anticipating = try NearDuplicateGuard(source: pool.embeddings, threshold: 0.95)
        var admitted: [Int] = []
        for (i, row) in order.enumerated() {
            // The rows to come, near the front of the order but shuffled within `spread`, plus noise.
            var next = Array(order[min(i + 1, 300)..<min(i + 1 + max(spread, 1) * 4, 300)])
            random.shuffle(&next)
            next = Array(next.prefix(spread)) + [row, order[random.nextInt(below: 300)]]
            if try anticipating.admit(row, anticipating: next) { admitted.append(row) }
        }
        #expect(admitted == expected)
        #expect(anticipating.refused == 300 - expected.count)
        if spread >= 64 { #expect(anticipating.anticipationHits > 100 && anticipating.anticipatedRows > 0) }
    }

    @Test func aPairExactlyAtTheThresholdIsRefusedAndJustBelowItIsNot() throws {
        // cos((3, 4), (4, 3)) = 24 / 25 exactly as the guard computes it in Double.
        let vectors = Matrix(rowVectors: [[3, 4], [4, 3], [0, 0], [1, 0]])
        let atThreshold = try NearDuplicateGuard(source: vectors, threshold: 24.0 / 25.0)
        #expect(try atThreshold.admit(inOrder: [0, 1, 2, 3], limit: 4) == [0, 2, 3])
        #expect(atThreshold.refused == 1 && atThreshold.unchecked == 1 && atThreshold.examples.first?.member == 0)
        #expect(atThreshold.exactChecks >= 1)
        let above = try NearDuplicateGuard(source: vectors, threshold: (24.0 / 25.0).nextUp)
        #expect(try above.admit(inOrder: [0, 1, 2, 3], limit: 4) == [0, 1, 2, 3])
        #expect(throws: SelectorError.self) { try NearDuplicateGuard(source: vectors, threshold: 0) }
        #expect(throws: SelectorError.self) { try NearDuplicateGuard(source: vectors, threshold: 1.5) }
    }

    @Test func rowsWithoutAUsableVectorAreAdmittedUncheckedAndAskingTwiceKeepsTheDecision() throws {
        let pool = Pool(n: 40, seed: 2)
        var mask = RowMask(count: 40, allSet: true)
        mask.remove(8)
        let guarded = try NearDuplicateGuard(source: MaskedMatrix(pool.embeddings, usableRows: mask), threshold: 0.95)
        let copy = pool.copies.first { $0.copy != 8 }!
        #expect(try guarded.admit(copy.of) && !(try guarded.admit(copy.copy)))
        #expect(!(try guarded.admit(copy.copy)) && guarded.refused == 1)
        #expect(try guarded.admit(8) && guarded.unchecked == 1)
    }

    // MARK: Ranked selectors

    @Test func lessWalksItsRankingPastRefusedRows() throws {
        let pool = Pool(n: 200, seed: 3)
        let scores = try LESS.scores(checkpoints: pool.checkpoints, targetSubtasks: nil).values
        let plain = try LESS.select(checkpoints: pool.checkpoints, targetSubtasks: nil, budget: 60)
        let guarded = try LESS.select(
            checkpoints: pool.checkpoints, targetSubtasks: nil, budget: 60, guard: try NearDuplicateGuard(source: pool.embeddings, threshold: 0.95))
        #expect(guarded.rows == Self.naiveWalk(Self.ranking(scores), limit: 60, vectors: pool.embeddings, threshold: 0.95))
        #expect(Self.closestPair(plain.rows, pool.embeddings) >= 0.95, "the data must tempt LESS into near copies")
        #expect(Self.closestPair(guarded.rows, pool.embeddings) < 0.95)
        #expect(guarded.members.allSatisfy { $0.score == Double(scores[$0.row]) })
        // A guard that never fires changes nothing.
        let idle = try LESS.select(checkpoints: pool.checkpoints, targetSubtasks: nil, budget: 60, guard: try NearDuplicateGuard(source: pool.embeddings, threshold: 1))
        #expect(idle.members == plain.members)
    }

    @Test func rdsAndRandomWalkTheirOrdersPastRefusedRows() throws {
        let pool = Pool(n: 200, seed: 4)
        let target = Matrix(rowVectors: [pool.embeddings.row(3), pool.embeddings.row(5)])
        let scores = try RDS.scores(embeddings: pool.embeddings, target: target)
        let rds = try RDS.select(embeddings: pool.embeddings, target: target, budget: 50, guard: try NearDuplicateGuard(source: pool.embeddings, threshold: 0.95))
        #expect(rds.rows == Self.naiveWalk(Self.ranking(scores), limit: 50, vectors: pool.embeddings, threshold: 0.95))

        var eligible = RowMask(count: 200, allSet: true)
        for r in stride(from: 1, to: 200, by: 7) { eligible.remove(r) }
        let random = try RandomSelector.select(
            rowCount: 200, eligible: eligible, budget: 120, parameters: .init(seed: 5), guard: try NearDuplicateGuard(source: pool.embeddings, threshold: 0.95))
        let keyOrder = RowKeys.ordered(eligible.setRows, seed: 5)
        #expect(random.rows == Self.naiveWalk(keyOrder, limit: 120, vectors: pool.embeddings, threshold: 0.95))
        #expect(random.rows.count == 120 && Self.closestPair(random.rows, pool.embeddings) < 0.95)
        #expect(Self.closestPair(Array(keyOrder.prefix(120)), pool.embeddings) >= 0.95)
        #expect(RandomSelector.select(rowCount: 200, eligible: eligible, budget: 120, parameters: .init(seed: 5)).rows == Array(keyOrder.prefix(120)))
        // Fewer rows pass than asked for: all of them, and a note.
        let short = try RandomSelector.select(
            rowCount: 200, eligible: eligible, budget: 171, parameters: .init(seed: 5), guard: try NearDuplicateGuard(source: pool.embeddings, threshold: 0.95))
        #expect(short.rows == Self.naiveWalk(keyOrder, limit: 171, vectors: pool.embeddings, threshold: 0.95) && short.rows.count < 171)
        #expect(short.diagnostics.notes.contains { $0.contains("passed the near-duplicate guard") })
    }

    // MARK: Greedy selectors

    @Test(arguments: ["global", "stochastic", "pool"])
    func spiceDropsRefusedPicksAndLazyEqualsPlain(mode: String) throws {
        let pool = Pool(n: 160, seed: 6)
        func run(lazy: Bool, guarded: Bool) throws -> Selection {
            let parameters = SPICE.Parameters(lazy: lazy, mode: mode, pool: 40, seed: 2)
            return try SPICE.select(
                gradients: pool.gradients[1], budget: 40, parameters: parameters,
                guard: guarded ? try NearDuplicateGuard(source: pool.gradients[1], threshold: 0.9) : nil)
        }
        let lazy = try run(lazy: true, guarded: true)
        #expect(lazy.rows.count == 40 && Self.closestPair(lazy.rows, pool.gradients[1]) < 0.9)
        if mode != "stochastic" { #expect(try run(lazy: false, guarded: true).rows == lazy.rows) }
        #expect(try run(lazy: true, guarded: false).rows != lazy.rows || Self.closestPair(lazy.rows, pool.gradients[1]) < 0.9)
    }

    /// The guarded SPICE greedy against the definition: each step takes the best total among the rows
    /// left, and a refused row leaves them.
    @Test func spiceGuardedGreedyEqualsANaiveGuardedGreedy() throws {
        let pool = Pool(n: 48, d: 6, seed: 7)
        let g = pool.gradients[0]
        let alpha = 0.01, rho = 0.1, threshold = 0.9
        let selection = try SPICE.select(
            gradients: g, budget: 12, parameters: SPICE.Parameters(alpha: alpha, rho: rho, lazy: true),
            guard: try NearDuplicateGuard(source: g, threshold: threshold))
        // Naive: M = I + alpha sum g g^T, gain log(1 + alpha g^T M^-1 g) via solving, penalty from the sum.
        let d = g.columns
        var left = Set(0..<g.rows)
        var picked: [Int] = []
        var m = (0..<d).map { i in (0..<d).map { j in i == j ? 1.0 : 0.0 } }
        var sum = [Double](repeating: 0, count: d)
        func solve(_ a: [[Double]], _ b: [Double]) -> [Double] {
            var a = a, b = b
            for col in 0..<d {
                let p = (col..<d).max { abs(a[$0][col]) < abs(a[$1][col]) }!
                a.swapAt(col, p); b.swapAt(col, p)
                for r in col + 1..<d {
                    let f = a[r][col] / a[col][col]
                    for c in col..<d { a[r][c] -= f * a[col][c] }
                    b[r] -= f * b[col]
                }
            }
            var x = [Double](repeating: 0, count: d)
            for r in stride(from: d - 1, through: 0, by: -1) {
                x[r] = (b[r] - (r + 1..<d).reduce(0) { $0 + a[r][$1] * x[$1] }) / a[r][r]
            }
            return x
        }
        while picked.count < 12, !left.isEmpty {
            let sumNorm = sum.reduce(0) { $0 + $1 * $1 }.squareRoot()
            let totals = left.map { r -> (Double, Int) in
                let x = g.row(r).map(Double.init)
                let q = zip(x, solve(m, x)).reduce(0) { $0 + $1.0 * $1.1 }
                let norm = x.reduce(0) { $0 + $1 * $1 }.squareRoot()
                let cos = sumNorm > 0 && norm > 0 ? zip(x, sum).reduce(0) { $0 + $1.0 * $1.1 } / (norm * sumNorm) : 0
                return (log1p(alpha * q) - rho * max(0, -cos), r)
            }
            let best = totals.max { $0.0 < $1.0 || ($0.0 == $1.0 && $0.1 > $1.1) }!.1
            left.remove(best)
            if picked.contains(where: { Self.cosine(g, best, $0) >= threshold }) { continue }
            picked.append(best)
            let x = g.row(best).map(Double.init)
            for i in 0..<d { for j in 0..<d { m[i][j] += alpha * x[i] * x[j] } }
            for i in 0..<d { sum[i] += x[i] }
        }
        #expect(selection.rows == picked)
    }

    @Test func dppDropsRefusedPicksAndLazyEqualsPlain() throws {
        let pool = Pool(n: 120, seed: 8)
        func run(lazy: Bool) throws -> Selection {
            try DPP.select(
                checkpoints: pool.checkpoints, targetSubtasks: nil, budget: 30, parameters: .init(beta: 1, lazy: lazy),
                guard: try NearDuplicateGuard(source: pool.embeddings, threshold: 0.95))
        }
        let lazy = try run(lazy: true)
        #expect(lazy.rows == (try run(lazy: false)).rows)
        #expect(lazy.rows.count == 30 && Self.closestPair(lazy.rows, pool.embeddings) < 0.95)
    }

    // MARK: Quad and GTP

    @Test func quadAdmitsTheRowsOfAcceptedSlicesOneByOne() throws {
        let pool = Pool(n: 240, seed: 10)
        let parameters = Quad.Parameters(clusters: 6, tau: -1e9, seed: 3)
        let guarded = try Quad.select(
            gradients: pool.gradients[0], target: pool.target[0], embeddings: pool.embeddings, budget: 120, parameters: parameters,
            guard: try NearDuplicateGuard(source: pool.embeddings, threshold: 0.95))
        #expect(guarded.rows.count == 120 && Set(guarded.rows).count == 120)
        #expect(Self.closestPair(guarded.rows, pool.embeddings) < 0.95)
        #expect(guarded.diagnostics.counters["guardRefusedRows"]! > 0)
        let plain = try Quad.select(gradients: pool.gradients[0], target: pool.target[0], embeddings: pool.embeddings, budget: 120, parameters: parameters)
        #expect(Self.closestPair(plain.rows, pool.embeddings) >= 0.95)
    }

    @Test func gtpDropsRefusedMembersByWeightAndRefitsTheRest() throws {
        let pool = Pool(n: 160, seed: 11)
        let parameters = GTP.Parameters(groups: 4, seed: 1)
        let plain = try GTP.select(checkpoints: pool.checkpoints, budget: 40, parameters: parameters)
        // A loose threshold, so that the pursuit's members do include pairs above it.
        let threshold = 0.5
        #expect(Self.closestPair(plain.rows, pool.embeddings) >= threshold)
        let guarded = try GTP.select(
            checkpoints: pool.checkpoints, budget: 40, parameters: parameters, guard: try NearDuplicateGuard(source: pool.embeddings, threshold: threshold))
        #expect(Set(guarded.rows).isSubset(of: Set(plain.rows)) && guarded.rows.count < plain.rows.count)
        #expect(Self.closestPair(guarded.rows, pool.embeddings) < threshold)
        let kept = Self.naiveWalk(plain.rows, limit: plain.rows.count, vectors: pool.embeddings, threshold: threshold)
        #expect(Set(guarded.rows).isSubset(of: Set(kept)))
        #expect(guarded.diagnostics.notes.contains { $0.contains("refitted") })
        // The refitted residual is the best fit on those rows: GTP's own objective says the same.
        let residual = try GTP.relativeResidual(of: guarded.rows, checkpoints: pool.checkpoints, parameters: parameters)
        #expect(abs(residual - guarded.diagnostics.counters["relativeResidual"]!) < 1e-9)
    }
}

/// Candidate restriction: every selector, given columns narrowed to candidate rows, picks among them.
@Suite("Restricted columns")
struct RestrictedVectorsTests {
    @Test func everySelectorPicksOnlyCandidates() throws {
        let pool = SelectionGuardTests.Pool(n: 200, seed: 12)
        var candidates = RowMask(count: 200, allSet: false)
        var random = SeededRandom(seed: 4)
        for r in 0..<200 where random.nextInt(below: 3) == 0 { candidates.insert(r) }
        let restricted = pool.checkpoints.map {
            CheckpointGradients(checkpoint: $0.checkpoint, learningRate: $0.learningRate, pool: RestrictedVectors($0.pool, candidates: candidates), target: $0.target)
        }
        let embeddings = RestrictedVectors(pool.embeddings, candidates: candidates)
        let selections: [(String, Selection)] = [
            ("less", try LESS.select(checkpoints: restricted, targetSubtasks: nil, budget: 30)),
            ("gtp", try GTP.select(checkpoints: restricted, budget: 30, parameters: .init(groups: 4))),
            ("spice", try SPICE.select(gradients: restricted[1].pool, budget: 30, parameters: .init())),
            ("dpp", try DPP.select(checkpoints: restricted, targetSubtasks: nil, budget: 30, parameters: .init())),
            ("quad", try Quad.select(gradients: restricted[1].pool, target: restricted[1].target, embeddings: embeddings, budget: 30, parameters: .init(clusters: 5, tau: -1e9))),
            ("rds", try RDS.select(embeddings: embeddings, target: Matrix(rowVectors: [pool.embeddings.row(0)]), budget: 30)),
            ("random", RandomSelector.select(rowCount: 200, eligible: candidates, budget: 30, parameters: .init(seed: 1))),
        ]
        for (name, selection) in selections {
            #expect(!selection.rows.isEmpty && selection.rows.allSatisfy(candidates.contains), "\(name)")
            #expect(!selection.diagnostics.notes.contains { $0.contains("never considered") || $0.contains("no usable") }, "\(name): \(selection.diagnostics.notes)")
        }
        // LESS among candidates is the top 30 of the full pool's scores among the candidates.
        let scores = try LESS.scores(checkpoints: pool.checkpoints, targetSubtasks: nil).values
        #expect(selections[0].1.rows == Array(SelectionGuardTests.ranking(scores).filter(candidates.contains).prefix(30)))
    }
}
