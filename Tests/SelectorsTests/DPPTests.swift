import Foundation
import Selectors
import Testing

/// The quality-weighted DPP against a greedy that evaluates det(L_S) directly, and RDS against a
/// plain loop.
@Suite("DPP and RDS match naive oracles")
struct DPPTests {
    static func randomMatrix(_ rows: Int, _ columns: Int, _ random: inout SeededRandom) -> Matrix {
        Matrix(rows: rows, columns: columns, values: (0..<rows * columns).map { _ in Float(random.nextGaussian()) })
    }

    /// Pool and target gradients at three checkpoints, with the pool's rows leaning on the target
    /// by different amounts (so LESS scores spread) and a few exact duplicates.
    static func checkpoints(n: Int, d: Int, seed: UInt64) -> [CheckpointGradients] {
        var random = SeededRandom(seed: seed)
        let rates = [1.7e-5, 1.1e-5, 4e-6]
        return rates.enumerated().map { c, eta in
            let direction = (0..<d).map { _ in Float(random.nextGaussian()) }
            var pool = randomMatrix(n, d, &random)
            for z in 0..<n {
                let lean = Float(z % 5) * 0.4
                for j in 0..<d { pool[z, j] += lean * direction[j] }
            }
            for j in 0..<d { pool[n - 1, j] = pool[2, j] }
            let target = Matrix(rowVectors: (0..<6).map { _ in direction.map { $0 + Float(0.5 * random.nextGaussian()) } })
            return CheckpointGradients(checkpoint: c + 1, learningRate: eta, pool: pool, target: target)
        }
    }

    /// The unit trajectories as the definition states them, in Double.
    static func trajectories(_ checkpoints: [CheckpointGradients]) -> [[Double]] {
        let total = checkpoints.reduce(0) { $0 + $1.learningRate }
        let n = checkpoints[0].pool.rowCount
        return (0..<n).map { z in
            checkpoints.flatMap { c -> [Double] in
                let g = (c.pool as! Matrix).row(z).map(Double.init)
                let norm = g.reduce(0) { $0 + $1 * $1 }.squareRoot()
                return g.map { $0 / norm * (c.learningRate / total).squareRoot() }
            }
        }
    }

    /// log det of a symmetric positive semi-definite matrix by Cholesky; -inf when it is singular.
    static func logDet(_ a: [[Double]]) -> Double {
        let k = a.count
        var l = [[Double]](repeating: [Double](repeating: 0, count: k), count: k)
        var total = 0.0
        for i in 0..<k {
            for j in 0...i {
                var s = a[i][j]
                for m in 0..<j { s -= l[i][m] * l[j][m] }
                if i == j {
                    guard s > 1e-12 else { return -.infinity }
                    l[i][i] = s.squareRoot()
                    total += log(s)
                } else {
                    l[i][j] = s / l[j][j]
                }
            }
        }
        return total
    }

    /// The greedy MAP on direct determinants: each step adds the row maximising log det(L_{S+i}),
    /// L = diag(q) U U^T diag(q) (ties to the lower row: values within 1e-12 of each other tie, since
    /// unit trajectories all have norm 1 up to rounding); stops at the budget or when no row adds a
    /// non-singular one.
    static func naiveGreedy(_ u: [[Double]], quality q: [Double], candidates: [Int], budget: Int) -> [Int] {
        var chosen: [Int] = []
        func kernel(_ rows: [Int]) -> [[Double]] {
            rows.map { i in rows.map { j in q[i] * q[j] * zip(u[i], u[j]).reduce(0) { $0 + $1.0 * $1.1 } } }
        }
        while chosen.count < budget {
            var best: (value: Double, row: Int)? = nil
            for i in candidates where !chosen.contains(i) {
                let value = logDet(kernel(chosen + [i]))
                guard value > -.infinity else { continue }
                if best == nil || value > best!.value + 1e-12 { best = (value, i) }
            }
            guard let best else { break }
            chosen.append(best.row)
        }
        return chosen
    }

    static func standardisedLESS(_ checkpoints: [CheckpointGradients]) throws -> [Double] {
        let scores = try LESS.scores(checkpoints: checkpoints, targetSubtasks: nil).values.map(Double.init)
        let mean = scores.reduce(0, +) / Double(scores.count)
        let sd = (scores.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(scores.count)).squareRoot()
        return scores.map { ($0 - mean) / sd }
    }

    @Test(arguments: [(UInt64(1), 1.0), (2, 2.0), (3, 0.5), (4, 1.0)])
    func greedyEqualsTheDirectDeterminantGreedy(seed: UInt64, beta: Double) throws {
        let checkpoints = Self.checkpoints(n: 40, d: 12, seed: seed)
        let z = try Self.standardisedLESS(checkpoints)
        let expected = Self.naiveGreedy(Self.trajectories(checkpoints), quality: z.map { exp(beta * $0) }, candidates: Array(0..<40), budget: 10)
        for lazy in [true, false] {
            let selection = try DPP.select(checkpoints: checkpoints, targetSubtasks: nil, budget: 10, parameters: .init(beta: beta, lazy: lazy))
            #expect(selection.rows == expected)
        }
    }

    @Test func betaZeroIsThePureLogDetGreedyAndTheTraceIsTheLogDet() throws {
        let checkpoints = Self.checkpoints(n: 30, d: 10, seed: 7)
        let u = Self.trajectories(checkpoints)
        let ones = [Double](repeating: 1, count: 30)
        let selection = try DPP.select(checkpoints: checkpoints, targetSubtasks: nil, budget: 8, parameters: .init(beta: 0))
        #expect(selection.rows == Self.naiveGreedy(u, quality: ones, candidates: Array(0..<30), budget: 8))
        // The trace is log det(U_S U_S^T) after each pick.
        for t in 1...8 {
            let rows = Array(selection.rows.prefix(t))
            let direct = Self.logDet(rows.map { i in rows.map { j in zip(u[i], u[j]).reduce(0) { $0 + $1.0 * $1.1 } } })
            #expect(abs(selection.diagnostics.objectiveTrace[t - 1] - direct) < 1e-8)
        }
    }

    @Test func neverTakesBothCopiesAndFillsFromTheLESSRankingOnceTheSpanIsFull() throws {
        // 3 checkpoints of dimension 2: trajectories span at most 6 dimensions.
        let checkpoints = Self.checkpoints(n: 50, d: 2, seed: 11)
        let full = try DPP.select(checkpoints: checkpoints, targetSubtasks: nil, budget: 12, parameters: .init())
        #expect(full.members.count == 12)
        #expect(full.diagnostics.counters["picks"] == 6)
        #expect(full.diagnostics.counters["filledFromLESS"] == 6)
        #expect(full.diagnostics.notes.contains { $0.contains("lies in the chosen rows' span") && $0.contains("LESS ranking") })
        // The filled rows are the best LESS rows not already chosen, in LESS order.
        let less = try LESS.select(checkpoints: checkpoints, targetSubtasks: nil, budget: 50).rows
        let greedy = Array(full.rows.prefix(6))
        #expect(Array(full.rows.dropFirst(6)) == Array(less.filter { !greedy.contains($0) }.prefix(6)))
        let strict = try DPP.select(checkpoints: checkpoints, targetSubtasks: nil, budget: 12, parameters: .init(fill: false))
        #expect(strict.rows == greedy)
        // Row 49 is an exact copy of row 2: never both among the greedy's picks.
        let wide = try DPP.select(checkpoints: Self.checkpoints(n: 50, d: 12, seed: 11), targetSubtasks: nil, budget: 30, parameters: .init(fill: false))
        #expect(!(wide.rows.contains(2) && wide.rows.contains(49)))
    }

    @Test func deterministicAndParametersRoundTrip() throws {
        let checkpoints = Self.checkpoints(n: 60, d: 16, seed: 5)
        let a = try DPP.select(checkpoints: checkpoints, targetSubtasks: nil, budget: 20, parameters: .init())
        let b = try DPP.select(checkpoints: checkpoints, targetSubtasks: nil, budget: 20, parameters: .init())
        #expect(a.members == b.members)
        var bag = try ParameterBag(parsing: ["beta=2.5", "fill=false"])
        let p = try DPP.Parameters(&bag, seed: 0)
        try bag.finish(selector: "dpp")
        #expect(p == DPP.Parameters(beta: 2.5, lazy: true, fill: false))
        var typo = try ParameterBag(parsing: ["betta=2"])
        _ = try DPP.Parameters(&typo, seed: 0)
        #expect(throws: SelectorError.self) { try typo.finish(selector: "dpp") }
    }

    @Test func rdsEqualsAPlainLoop() throws {
        var random = SeededRandom(seed: 3)
        let pool = Self.randomMatrix(200, 16, &random)
        let target = Self.randomMatrix(9, 16, &random)
        var mask = RowMask(count: 200, allSet: true)
        mask.remove(7)
        let selection = try RDS.select(embeddings: MaskedMatrix(pool, usableRows: mask), target: target, budget: 25)
        let mean = (0..<16).map { j in (0..<9).reduce(0.0) { $0 + Double(target[$1, j]) } / 9 }
        let cosines = (0..<200).map { z -> Double in
            guard z != 7 else { return -.infinity }
            let row = pool.row(z).map(Double.init)
            let dot = zip(row, mean).reduce(0) { $0 + $1.0 * $1.1 }
            return dot / (row.reduce(0) { $0 + $1 * $1 }.squareRoot() * mean.reduce(0) { $0 + $1 * $1 }.squareRoot())
        }
        let expected = Array(cosines.indices.sorted { cosines[$0] > cosines[$1] || (cosines[$0] == cosines[$1] && $0 < $1) }.prefix(25))
        #expect(selection.rows == expected)
        for member in selection.members { #expect(abs(member.score - cosines[member.row]) < 1e-6) }
        #expect(selection.diagnostics.counters["unscoredRows"] == 1)
    }
}
