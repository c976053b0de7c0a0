import Selectors
import Testing

@Suite struct NNLSTests {
    /// A least-squares instance with A (m x p, column-major in `columns`) and b, in Double.
    struct Problem {
        var columns: [[Double]]
        var b: [Double]
        var p: Int { columns.count }
        var m: Int { b.count }

        var gram: [Double] {
            var g = [Double](repeating: 0, count: p * p)
            for i in 0..<p { for j in 0..<p { g[i * p + j] = dot(columns[i], columns[j]) } }
            return g
        }
        var atb: [Double] { columns.map { dot($0, b) } }

        /// ||A x - b||^2 computed directly.
        func objective(_ x: [Double]) -> Double {
            var r = b
            for (j, column) in columns.enumerated() where x[j] != 0 {
                for i in 0..<m { r[i] -= x[j] * column[i] }
            }
            return dot(r, r)
        }

        /// Gradient w = A^T (b - A x).
        func gradient(_ x: [Double]) -> [Double] {
            var r = b
            for (j, column) in columns.enumerated() where x[j] != 0 {
                for i in 0..<m { r[i] -= x[j] * column[i] }
            }
            return columns.map { dot($0, r) }
        }

        /// The exact optimum by enumerating every support: unconstrained least squares on each
        /// non-singular support, feasible ones kept, the best value returned. (Some optimum is basic,
        /// so skipping singular supports loses nothing.)
        func exhaustiveOptimum() -> Double {
            var best = dot(b, b)
            for mask in 1..<(1 << p) {
                let support = (0..<p).filter { mask & (1 << $0) != 0 }
                let g = support.map { i in support.map { j in dot(columns[i], columns[j]) } }
                let rhs = support.map { dot(columns[$0], b) }
                guard let z = NNLSTests.solveLinear(g, rhs), z.allSatisfy({ $0 >= -1e-12 }) else { continue }
                var x = [Double](repeating: 0, count: p)
                for (k, j) in support.enumerated() { x[j] = max(0, z[k]) }
                best = min(best, objective(x))
            }
            return best
        }
    }

    static func dot(_ a: [Double], _ b: [Double]) -> Double {
        var s = 0.0
        for i in a.indices { s += a[i] * b[i] }
        return s
    }

    /// Gaussian elimination with partial pivoting; nil when the matrix is (numerically) singular.
    static func solveLinear(_ matrix: [[Double]], _ rhs: [Double]) -> [Double]? {
        let n = rhs.count
        var a = matrix, b = rhs
        let scale = matrix.flatMap { $0 }.map(abs).max() ?? 0
        for col in 0..<n {
            let pivot = (col..<n).max { abs(a[$0][col]) < abs(a[$1][col]) }!
            guard abs(a[pivot][col]) > 1e-9 * max(scale, 1e-300) else { return nil }
            a.swapAt(col, pivot)
            b.swapAt(col, pivot)
            for r in (col + 1)..<n {
                let f = a[r][col] / a[col][col]
                for c in col..<n { a[r][c] -= f * a[col][c] }
                b[r] -= f * b[col]
            }
        }
        var x = [Double](repeating: 0, count: n)
        for r in stride(from: n - 1, through: 0, by: -1) {
            var s = b[r]
            for c in (r + 1)..<n { s -= a[r][c] * x[c] }
            x[r] = s / a[r][r]
        }
        return x
    }

    static func gaussianVector(_ n: Int, _ random: inout SeededRandom) -> [Double] {
        (0..<n).map { _ in random.nextGaussian() }
    }

    /// Random instances; `kind` plants rank deficiency: 1 duplicates a column, 2 adds a column that is
    /// a positive combination of two others, 3 makes A wider than tall.
    static func randomProblem(m: Int, p: Int, kind: Int, random: inout SeededRandom) -> Problem {
        var columns = (0..<p).map { _ in gaussianVector(m, &random) }
        if kind == 1, p >= 2 {
            let i = random.nextInt(below: p), j = random.nextInt(below: p)
            if i != j { columns[j] = columns[i] }
        } else if kind == 2, p >= 3 {
            columns[p - 1] = zip(columns[0], columns[1]).map { 0.7 * $0 + 0.4 * $1 }
        }
        // A mix of targets: pure noise (often x = 0 on some coordinates) and a point inside the cone.
        var b = gaussianVector(m, &random)
        if random.nextUnitDouble() < 0.5 {
            for column in columns where random.nextUnitDouble() < 0.5 {
                let w = random.nextUnitDouble()
                for i in 0..<m { b[i] += 2 * w * column[i] }
            }
        }
        return Problem(columns: columns, b: b)
    }

    @Test func matchesExhaustiveOracleOnSmallProblems() {
        var random = SeededRandom(seed: 11)
        var checked = 0
        for instance in 0..<400 {
            // Up to 10 variables, so that several variables enter at once (1 + |P| / 8 per step).
            let p = 1 + random.nextInt(below: instance < 300 ? 7 : 10)
            let kind = instance % 4
            let m = kind == 3 ? max(1, p - 1 - random.nextInt(below: max(1, p - 1))) : p + random.nextInt(below: 6)
            let problem = Self.randomProblem(m: m, p: p, kind: kind, random: &random)
            let x = NNLS.solve(gram: problem.gram, p: p, atb: problem.atb)
            #expect(x.count == p)
            #expect(x.allSatisfy { $0 >= 0 })
            let oracle = problem.exhaustiveOptimum()
            let value = problem.objective(x)
            #expect(abs(value - oracle) <= 1e-9 * max(1, Self.dot(problem.b, problem.b)), "instance \(instance): \(value) vs oracle \(oracle)")
            checked += 1
        }
        #expect(checked == 400)
    }

    @Test func satisfiesKKTConditionsOnLargerProblems() {
        var random = SeededRandom(seed: 12)
        for instance in 0..<24 {
            let p = 40 + random.nextInt(below: 160)
            let kind = instance % 4
            let m = kind == 3 ? p / 2 : p + random.nextInt(below: 100)
            var problem = Self.randomProblem(m: m, p: p, kind: kind, random: &random)
            if instance % 3 == 0 {
                // Several exact duplicates at once.
                for _ in 0..<5 { problem.columns[random.nextInt(below: p)] = problem.columns[random.nextInt(below: p)] }
            }
            let x = NNLS.solve(gram: problem.gram, p: p, atb: problem.atb)
            let w = problem.gradient(x)
            let scale = Self.dot(problem.b, problem.b).squareRoot() * (problem.columns.map { Self.dot($0, $0) }.max()!.squareRoot())
            #expect(x.allSatisfy { $0 >= 0 && $0.isFinite })
            for j in 0..<p {
                // Dual feasibility: no coordinate can lower the objective by growing.
                #expect(w[j] <= 1e-7 * scale, "instance \(instance), j \(j): gradient \(w[j])")
                // Complementary slackness: positive coordinates sit where the gradient is zero.
                if x[j] > 0 { #expect(abs(w[j]) <= 1e-7 * scale, "instance \(instance), j \(j): x \(x[j]), gradient \(w[j])") }
            }
        }
    }

    @Test func neverUsesBothCopiesOfADuplicateColumn() {
        var random = SeededRandom(seed: 13)
        for _ in 0..<30 {
            let m = 20, p = 12
            var columns = (0..<p).map { _ in Self.gaussianVector(m, &random) }
            columns[7] = columns[2]
            columns[11] = columns[2]
            columns[9] = columns[4]
            // b lies in the cone of the duplicated columns, so they matter.
            let b = (0..<m).map { columns[2][$0] * 1.5 + columns[4][$0] * 0.5 + 0.01 * random.nextGaussian() }
            let problem = Problem(columns: columns, b: b)
            let x = NNLS.solve(gram: problem.gram, p: p, atb: problem.atb)
            #expect([x[2], x[7], x[11]].filter { $0 > 0 }.count == 1)
            #expect([x[4], x[9]].filter { $0 > 0 }.count == 1)
            #expect(abs(x[2] + x[7] + x[11] - 1.5) < 0.05)
        }
    }

    @Test func pivotToleranceMergesNearlyParallelColumns() {
        var random = SeededRandom(seed: 16)
        for _ in 0..<20 {
            let m = 30, p = 10
            var columns = (0..<p).map { _ in Self.gaussianVector(m, &random) }
            // Column 6 is column 1 turned by about 1e-4 rad (sin^2 about 1e-8).
            columns[6] = columns[1].map { $0 * (1 + 1e-4 * random.nextGaussian()) }
            let b = (0..<m).map { columns[1][$0] + columns[6][$0] + 0.5 * columns[3][$0] + 0.3 * random.nextGaussian() }
            let problem = Problem(columns: columns, b: b)
            let merged = NNLS.solve(gram: problem.gram, p: p, atb: problem.atb, pivotTolerance: 1e-6)
            #expect(merged[1] == 0 || merged[6] == 0)
            // Treating them as one column costs almost nothing against the exact optimum.
            let exact = problem.exhaustiveOptimum()
            #expect(problem.objective(merged) <= exact + 1e-4 * Self.dot(b, b))
            let many = NNLS.solve(gram: problem.gram, p: p, atbs: [problem.atb], pivotTolerance: 1e-6)
            #expect(many[0] == merged)
        }
    }

    @Test func warmStartGivesTheSameAnswer() {
        var random = SeededRandom(seed: 14)
        for _ in 0..<20 {
            let p = 30 + random.nextInt(below: 60)
            let problem = Self.randomProblem(m: p + 20, p: p, kind: 0, random: &random)
            let cold = NNLS.solve(gram: problem.gram, p: p, atb: problem.atb)
            // From a random non-negative point, from the answer itself, and from a nearby problem's answer.
            let arbitrary = (0..<p).map { _ in random.nextUnitDouble() < 0.5 ? 0 : random.nextUnitDouble() }
            var nearby = problem
            nearby.b = problem.b.map { $0 + 0.3 * random.nextGaussian() }
            let nearbyAnswer = NNLS.solve(gram: nearby.gram, p: p, atb: nearby.atb)
            for start in [arbitrary, cold, nearbyAnswer, cold.map { -$0 }] {
                let warm = NNLS.solve(gram: problem.gram, p: p, atb: problem.atb, warmStart: start)
                let difference = zip(cold, warm).map { abs($0 - $1) }.max()!
                #expect(difference < 1e-9 * max(1, cold.max()!))
            }
        }
    }

    @Test func manyRightHandSidesMatchSingleSolves() {
        var random = SeededRandom(seed: 15)
        let p = 80
        let base = Self.randomProblem(m: 60, p: p, kind: 3, random: &random)
        let gram = base.gram
        let targets = (0..<9).map { _ in Self.gaussianVector(60, &random) }
        let atbs = targets.map { b in base.columns.map { Self.dot($0, b) } }
        let starts: [[Double]?] = atbs.indices.map { $0 % 2 == 0 ? nil : (0..<p).map { _ in random.nextUnitDouble() } }
        let together = NNLS.solve(gram: gram, p: p, atbs: atbs, warmStarts: starts)
        #expect(together.count == atbs.count)
        for j in atbs.indices {
            let alone = NNLS.solve(gram: gram, p: p, atb: atbs[j], warmStart: starts[j])
            #expect(together[j] == alone)
            var problem = base
            problem.b = targets[j]
            let oracleGradient = problem.gradient(alone)
            #expect(oracleGradient.allSatisfy { $0 <= 1e-7 * 100 })
        }
    }

    @Test func degenerateInputs() {
        #expect(NNLS.solve(gram: [], p: 0, atb: []) == [])
        // b opposite to every column: the optimum is zero.
        let columns: [[Double]] = [[1, 0], [0, 1], [1, 1]]
        let problem = Problem(columns: columns, b: [-1, -2])
        #expect(NNLS.solve(gram: problem.gram, p: 3, atb: problem.atb) == [0, 0, 0])
        // A zero column never gets a value; a single useful column gets the projection.
        let withZero = Problem(columns: [[0, 0, 0], [1, 2, 2]], b: [3, 6, 6])
        let x = NNLS.solve(gram: withZero.gram, p: 2, atb: withZero.atb)
        #expect(x[0] == 0)
        #expect(abs(x[1] - 3) < 1e-12)
    }
}
