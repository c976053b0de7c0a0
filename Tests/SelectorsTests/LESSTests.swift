import Foundation
import Selectors
import Testing

@Suite("LESS matches a naive triple loop")
struct LESSTests {
    private static func randomMatrix(_ rows: Int, _ columns: Int, _ random: inout SeededRandom) -> Matrix {
        Matrix(rows: rows, columns: columns, values: (0..<rows * columns).map { _ in Float(random.nextGaussian()) })
    }

    private static func checkpoints(n: Int, m: Int, d: Int, seed: UInt64) -> [CheckpointGradients] {
        var random = SeededRandom(seed: seed)
        let rates = [1.7e-5, 1.3e-5, 7.7e-6, 2.6e-6]
        return rates.enumerated().map { c, eta in
            CheckpointGradients(
                checkpoint: c + 1, learningRate: eta, pool: randomMatrix(n, d, &random), target: randomMatrix(m, d, &random))
        }
    }

    /// The reference: for every row, every subtask, every target row, every checkpoint — in Double.
    private static func naiveScores(_ checkpoints: [CheckpointGradients], subtasks: [Int]?, cosine: Bool) -> [Double] {
        let total = checkpoints.reduce(0) { $0 + $1.learningRate }
        let pool0 = checkpoints[0].pool as! Matrix
        let m = checkpoints[0].target.rows
        let labels = subtasks ?? [Int](repeating: 0, count: m)
        return (0..<pool0.rows).map { z in
            var best = -Double.infinity
            for s in Set(labels) {
                let rows = (0..<m).filter { labels[$0] == s }
                var sum = 0.0
                for r in rows {
                    for c in checkpoints {
                        let g = (c.pool as! Matrix).row(z).map(Double.init), v = c.target.row(r).map(Double.init)
                        var dot = 0.0, gg = 0.0, vv = 0.0
                        for j in g.indices { dot += g[j] * v[j]; gg += g[j] * g[j]; vv += v[j] * v[j] }
                        sum += c.learningRate / total * (cosine ? dot / (gg.squareRoot() * vv.squareRoot()) : dot)
                    }
                }
                best = max(best, sum / Double(rows.count))
            }
            return best
        }
    }

    private static func naiveTopK(_ scores: [Double], _ k: Int) -> [Int] {
        Array(scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }.prefix(k))
    }

    @Test(arguments: [(UInt64(1), false), (2, true), (3, false), (4, true)])
    func cosineSelectionEqualsNaiveLoop(seed: UInt64, withSubtasks: Bool) throws {
        let (n, m, d, k) = (300, 24, 16, 40)
        let input = Self.checkpoints(n: n, m: m, d: d, seed: seed)
        let subtasks = withSubtasks ? (0..<m).map { $0 % 3 } : nil
        let selection = try LESS.select(checkpoints: input, targetSubtasks: subtasks, budget: k)
        let expected = Self.naiveTopK(Self.naiveScores(input, subtasks: subtasks, cosine: true), k)
        #expect(selection.rows == expected)
        let naive = Self.naiveScores(input, subtasks: subtasks, cosine: true)
        for member in selection.members { #expect(abs(member.score - naive[member.row]) < 1e-5) }
    }

    @Test func innerProductAblationEqualsNaiveLoop() throws {
        let input = Self.checkpoints(n: 200, m: 10, d: 12, seed: 9)
        let selection = try LESS.select(
            checkpoints: input, targetSubtasks: nil, budget: 25, parameters: .init(similarity: .innerProduct))
        #expect(selection.rows == Self.naiveTopK(Self.naiveScores(input, subtasks: nil, cosine: false), 25))
    }

    @Test func zeroAndUnusableRowsAreNeverSelectedAndReported() throws {
        var input = Self.checkpoints(n: 50, m: 5, d: 8, seed: 5)
        var pool = input[2].pool as! Matrix
        for j in 0..<8 { pool[7, j] = 0 }
        var usable = RowMask(count: 50, allSet: true)
        usable.remove(11)
        input[2].pool = MaskedMatrix(pool, usableRows: usable)
        let selection = try LESS.select(checkpoints: input, targetSubtasks: nil, budget: 50)
        #expect(selection.members.count == 48)
        #expect(!selection.rows.contains(7) && !selection.rows.contains(11))
        #expect(selection.diagnostics.counters["excludedRows"] == 2)
        #expect(selection.diagnostics.notes.contains { $0.contains("smaller than the budget") })
    }

    @Test func tiesGoToTheLowerRow() throws {
        // Rows 3 and 8 are identical, so they tie exactly.
        var input = Self.checkpoints(n: 20, m: 4, d: 6, seed: 6)
        for c in input.indices {
            var pool = input[c].pool as! Matrix
            for j in 0..<6 { pool[8, j] = pool[3, j] }
            input[c].pool = pool
        }
        let all = try LESS.select(checkpoints: input, targetSubtasks: nil, budget: 20).rows
        #expect(all.firstIndex(of: 3)! + 1 == all.firstIndex(of: 8)!)
    }

    @Test func mismatchedShapesAreRefused() {
        var input = Self.checkpoints(n: 20, m: 4, d: 6, seed: 7)
        input[1].target = Matrix(rows: 4, columns: 5)
        #expect(throws: SelectorError.self) { try LESS.select(checkpoints: input, targetSubtasks: nil, budget: 3) }
        let labels = [0, 1]
        #expect(throws: SelectorError.self) {
            try LESS.select(checkpoints: Self.checkpoints(n: 20, m: 4, d: 6, seed: 7), targetSubtasks: labels, budget: 3)
        }
    }
}
