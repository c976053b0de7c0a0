import Foundation
import Selectors
import Testing

@Suite struct GTPTests {
    // MARK: - Data builders

    static func gaussianMatrix(rows: Int, columns: Int, random: inout SeededRandom) -> Matrix {
        Matrix(rows: rows, columns: columns, values: (0..<(rows * columns)).map { _ in Float(random.nextGaussian()) })
    }

    static func copyRow(_ source: Matrix, _ r: Int, into target: inout Matrix, at t: Int, scale: Float = 1) {
        for c in 0..<source.columns { target[t, c] = source[r, c] * scale }
    }

    /// Checkpoints over the given pools and targets, with learning rates 3e-4, 2e-4, 1e-4, ...
    static func checkpoints(pools: [any VectorSource], targets: [Matrix]) -> [CheckpointGradients] {
        pools.indices.map { c in
            CheckpointGradients(checkpoint: c + 1, learningRate: Double(pools.count - c) * 1e-4, pool: pools[c], target: targets[c])
        }
    }

    /// A pool of n Gaussian rows per checkpoint, and validation rows that are copies of `planted`
    /// pool rows, each rescaled per checkpoint by a positive factor (normalisation must undo it; powers
    /// of two keep the copies' directions exact in Float, so an exact fit leaves no residual at all).
    static func plantedProblem(n: Int, dimensions: [Int], planted: [Int], seed: UInt64) -> (pools: [Matrix], targets: [Matrix]) {
        var random = SeededRandom(seed: seed)
        let pools = dimensions.map { gaussianMatrix(rows: n, columns: $0, random: &random) }
        var targets = dimensions.map { Matrix(rows: planted.count, columns: $0) }
        for c in dimensions.indices {
            for (t, r) in planted.enumerated() {
                copyRow(pools[c], r, into: &targets[c], at: t, scale: [0.25, 0.5, 2, 4][random.nextInt(below: 4)])
            }
        }
        return (pools, targets)
    }

    // MARK: - Recovery, duplicates, budget

    @Test func recoversAPlantedSparseNonNegativeCombination() throws {
        let planted = [17, 42, 99, 150, 201]
        let data = Self.plantedProblem(n: 300, dimensions: [96, 64], planted: planted, seed: 1)
        let checkpoints = Self.checkpoints(pools: data.pools, targets: data.targets)

        // One group: Y is the mean of the five planted trajectories, so each gets weight 1/5.
        let single = try GTP.select(checkpoints: checkpoints, budget: 5, parameters: .init(groups: 1, seed: 3))
        #expect(single.rows.sorted() == planted)
        for member in single.members { #expect(abs(member.weight - 0.2) < 1e-9) }
        #expect(try #require(single.diagnostics.objectiveTrace.last) < 1e-9)

        // One group per planted row: each group is reproduced by its own row with weight 1.
        let grouped = try GTP.select(checkpoints: checkpoints, budget: 5, parameters: .init(groups: 5, seed: 3))
        #expect(grouped.rows.sorted() == planted)
        for member in grouped.members { #expect(abs(member.weight - 1) < 1e-9) }
        #expect(grouped.diagnostics.counters["groups"] == 5)

        // A larger budget is not filled: the exact fit needs five rows, and the notes say so.
        let roomy = try GTP.select(checkpoints: checkpoints, budget: 40, parameters: .init(groups: 1, seed: 3))
        #expect(roomy.rows.sorted() == planted)
        #expect(roomy.diagnostics.notes.contains { $0.hasPrefix("GTP stopped at 5 of 40 rows") })
    }

    @Test func neverTakesBothCopiesOfAnExactDuplicate() throws {
        var random = SeededRandom(seed: 2)
        let n = 400, dimensions = [48, 48]
        var pools = dimensions.map { Self.gaussianMatrix(rows: n, columns: $0, random: &random) }
        // Rows that matter (the targets are built from them), each duplicated once or twice.
        let originals = [10, 50, 90, 130, 170, 210]
        var copies: [Int: [Int]] = [:]
        for (i, r) in originals.enumerated() {
            copies[r] = i % 2 == 0 ? [r + 1] : [r + 1, r + 2]
            for copy in copies[r]! {
                for c in pools.indices { Self.copyRow(pools[c], r, into: &pools[c], at: copy) }
            }
        }
        // Row 131's copy differs by rounding-sized noise (as GPU-computed gradients of the same text
        // do); it counts as a copy too.
        for c in pools.indices {
            for j in 0..<dimensions[c] { pools[c][131, j] *= Float(1 + 1e-5 * random.nextGaussian()) }
        }
        // 24 validation rows: positive mixtures of two originals plus a little noise.
        var targets = dimensions.map { Matrix(rows: 24, columns: $0) }
        for t in 0..<24 {
            let a = originals[t % originals.count], b = originals[(t / 6 + t + 1) % originals.count]
            let wa = Float(0.3 + random.nextUnitDouble()), wb = Float(0.3 + random.nextUnitDouble())
            for c in pools.indices {
                for j in 0..<dimensions[c] {
                    targets[c][t, j] = wa * pools[c][a, j] + wb * pools[c][b, j] + 0.05 * Float(random.nextGaussian())
                }
            }
        }
        let checkpoints = Self.checkpoints(pools: pools, targets: targets)
        for groups in [1, 4, 24] {
            let selection = try GTP.select(checkpoints: checkpoints, budget: 30, parameters: .init(groups: groups, seed: 5))
            let chosen = Set(selection.rows)
            for r in originals {
                let family = [r] + copies[r]!
                #expect(family.filter { chosen.contains($0) }.count <= 1, "groups \(groups): rows \(family) chosen together")
            }
            // The originals matter, so one member of most families is chosen.
            #expect(originals.filter { r in ([r] + copies[r]!).contains { chosen.contains($0) } }.count >= 4)
        }
    }

    @Test func respectsTheBudget() throws {
        var random = SeededRandom(seed: 4)
        let pool = Self.gaussianMatrix(rows: 250, columns: 32, random: &random)
        let target = Self.gaussianMatrix(rows: 40, columns: 32, random: &random)
        let checkpoints = Self.checkpoints(pools: [pool], targets: [target])
        for budget in [1, 2, 3, 7, 15, 60] {
            let selection = try GTP.select(checkpoints: checkpoints, budget: budget, parameters: .init(groups: 8, seed: 1))
            #expect(selection.members.count <= budget)
            #expect(!selection.members.isEmpty)
            #expect(Set(selection.rows).count == selection.members.count)
            #expect(selection.members.allSatisfy { $0.weight > 0 && $0.score == $0.weight })
            // Rank order: weight descending, ties to the lower row.
            for (a, b) in zip(selection.members, selection.members.dropFirst()) {
                #expect(a.weight > b.weight || (a.weight == b.weight && a.row < b.row))
            }
        }
        #expect(try GTP.select(checkpoints: checkpoints, budget: 0, parameters: .init()).members.isEmpty)
        #expect(throws: SelectorError.self) { try GTP.select(checkpoints: checkpoints, budget: -1, parameters: .init()) }
    }

    @Test func unusableAndZeroGradientRowsAreNeverChosen() throws {
        let planted = [5, 25, 45, 65]
        let data = Self.plantedProblem(n: 200, dimensions: [40, 40], planted: planted, seed: 6)
        var pools = data.pools
        // Row 25 is unusable at checkpoint 1; row 45 has a zero gradient at checkpoint 2.
        var mask = RowMask(count: 200, allSet: true)
        mask.remove(25)
        for j in 0..<40 { pools[1][45, j] = 0 }
        let sources: [any VectorSource] = [MaskedMatrix(pools[0], usableRows: mask), pools[1]]
        let checkpoints = Self.checkpoints(pools: sources, targets: data.targets)
        for groups in [1, 4] {
            let selection = try GTP.select(checkpoints: checkpoints, budget: 10, parameters: .init(groups: groups, seed: 2))
            #expect(!selection.rows.contains(25))
            #expect(!selection.rows.contains(45))
            #expect(selection.rows.contains(5) && selection.rows.contains(65))
            #expect(selection.diagnostics.counters["eligibleRows"] == 198)
            #expect(selection.diagnostics.notes.contains { $0.hasPrefix("2 rows are unusable") })
        }
    }

    // MARK: - The pursuit's bookkeeping

    @Test func residualTraceNeverIncreasesAndMatchesTheSubset() throws {
        for seed in UInt64(10)..<UInt64(16) {
            var random = SeededRandom(seed: seed)
            // Clustered pool and targets that no small subset fits exactly, so the pursuit iterates.
            let checkpoints = Self.noisyClusters(rows: 300, dimension: 40, noise: 1.2, random: &random)
            let parameters = GTP.Parameters(groups: 6, iterations: 20, tolerance: 1e-4, seed: seed)
            let selection = try GTP.select(checkpoints: checkpoints, budget: 12, parameters: parameters)
            let trace = selection.diagnostics.objectiveTrace
            #expect(!trace.isEmpty)
            for (a, b) in zip(trace, trace.dropFirst()) { #expect(b <= a) }
            #expect(trace.allSatisfy { $0 > 0 && $0 <= 1 })
            // The last entry is the residual of the returned subset, recomputed from scratch.
            let recomputed = try GTP.relativeResidual(of: selection.rows, checkpoints: checkpoints, parameters: parameters)
            #expect(abs(recomputed - trace.last!) < 1e-9)
            #expect(selection.diagnostics.counters["relativeResidual"] == trace.last)
            #expect(Double(trace.count) <= selection.diagnostics.counters["iterations"]!)
            #expect(selection.members.count <= 12)
        }
    }

    /// Pool rows around 12 cluster centres (Gaussian noise of `noise`), 30 validation rows around three
    /// of them: one checkpoint.
    static func noisyClusters(rows: Int, dimension: Int, noise: Float, random: inout SeededRandom) -> [CheckpointGradients] {
        let centers = gaussianMatrix(rows: 12, columns: dimension, random: &random)
        var pool = Matrix(rows: rows, columns: dimension)
        for r in 0..<rows {
            let c = random.nextInt(below: 12)
            for j in 0..<dimension { pool[r, j] = centers[c, j] + noise * Float(random.nextGaussian()) }
        }
        var target = Matrix(rows: 30, columns: dimension)
        for r in 0..<30 {
            let c = random.nextInt(below: 3)
            for j in 0..<dimension { target[r, j] = centers[c, j] + Float(random.nextGaussian()) }
        }
        return checkpoints(pools: [pool], targets: [target])
    }

    /// The stall rule only ends the loop early: the subset it returns is the one the pursuit without it
    /// holds after the same number of iterations, and the drop that stopped it is under the share.
    @Test func theStallRuleTruncatesThePursuit() throws {
        // Noisy clusters that the pursuit keeps refining for several iterations (relative residual
        // 0.410, 0.352, 0.324, 0.321, 0.3205 without the rule).
        var random = SeededRandom(seed: 5)
        let checkpoints = Self.noisyClusters(rows: 600, dimension: 60, noise: 2, random: &random)
        let share = 0.02
        let full = try GTP.select(checkpoints: checkpoints, budget: 40, parameters: GTP.Parameters(groups: 6, stall: 0, seed: 3))
        let stalled = try GTP.select(checkpoints: checkpoints, budget: 40, parameters: GTP.Parameters(groups: 6, stall: share, seed: 3))
        #expect(stall(stalled) < stall(full), "the rule must cut this pursuit short for the test to mean anything")
        let truncated = try GTP.select(
            checkpoints: checkpoints, budget: 40, parameters: GTP.Parameters(groups: 6, iterations: stall(stalled), stall: 0, seed: 3))
        #expect(stalled.members == truncated.members)
        #expect(stalled.diagnostics.objectiveTrace == truncated.diagnostics.objectiveTrace)
        // It stopped at the first iteration whose drop fell under the share.
        let trace = [1.0] + stalled.diagnostics.objectiveTrace
        let drops = zip(trace, trace.dropFirst()).map { ($0 - $1) / $0 }
        #expect(drops.last! < share)
        #expect(drops.dropLast().allSatisfy { $0 >= share })
        #expect(stalled.diagnostics.notes.contains { $0.contains("stall share") })
    }

    private func stall(_ selection: Selection) -> Int { Int(selection.diagnostics.counters["iterations"]!) }

    @Test func deterministicForASeed() throws {
        var random = SeededRandom(seed: 7)
        let pools = [Self.gaussianMatrix(rows: 300, columns: 24, random: &random), Self.gaussianMatrix(rows: 300, columns: 24, random: &random)]
        let targets = [Self.gaussianMatrix(rows: 50, columns: 24, random: &random), Self.gaussianMatrix(rows: 50, columns: 24, random: &random)]
        let checkpoints = Self.checkpoints(pools: pools, targets: targets)
        let parameters = GTP.Parameters(groups: 7, seed: 42)
        let first = try GTP.select(checkpoints: checkpoints, budget: 20, parameters: parameters)
        let second = try GTP.select(checkpoints: checkpoints, budget: 20, parameters: parameters)
        #expect(first.members == second.members)
        #expect(first.diagnostics.objectiveTrace == second.diagnostics.objectiveTrace)
        #expect(first.diagnostics.counters == second.diagnostics.counters)
    }

    @Test func groupsAreClampedToTheValidationRows() throws {
        let planted = [3, 8, 13, 21, 34, 55, 89]
        let data = Self.plantedProblem(n: 120, dimensions: [32], planted: planted, seed: 8)
        let checkpoints = Self.checkpoints(pools: data.pools, targets: data.targets)
        let selection = try GTP.select(checkpoints: checkpoints, budget: 10, parameters: .init(groups: 100, seed: 1))
        #expect(selection.diagnostics.counters["groups"] == 7)
        #expect(selection.diagnostics.counters["validationRows"] == 7)
        #expect(selection.rows.sorted() == planted)
    }

    // MARK: - The trajectory math against a naive construction

    /// The naive objective: trajectories built by plain loops, Y per group, and for each group the best
    /// non-negative fit found by enumerating every support of the subset (normal equations by Gaussian
    /// elimination); returns sqrt(sum_j ||Y_j - A w_j||^2) / ||Y||_F.
    static func naiveRelativeResidual(rows: [Int], pools: [Matrix], targets: [Matrix], rates: [Double], groupOf: [Int]) -> Double {
        let total = rates.reduce(0, +)
        func trajectory(_ m: Matrix, _ r: Int, _ c: Int) -> [Double] {
            var norm = 0.0
            for j in 0..<m.columns { norm += Double(m[r, j]) * Double(m[r, j]) }
            norm = norm.squareRoot()
            let scale = norm > 0 ? (rates[c] / total).squareRoot() / norm : 0
            return (0..<m.columns).map { Double(m[r, $0]) * scale }
        }
        let a = rows.map { r in pools.indices.flatMap { trajectory(pools[$0], r, $0) } }
        let v = (0..<targets[0].rows).map { r in targets.indices.flatMap { trajectory(targets[$0], r, $0) } }
        let groupCount = groupOf.max()! + 1
        let dimension = v[0].count
        var squaredResidual = 0.0, squaredTarget = 0.0
        for g in 0..<groupCount {
            let members = groupOf.indices.filter { groupOf[$0] == g }
            let y = (0..<dimension).map { t in members.reduce(0.0) { $0 + v[$1][t] } / Double(members.count) }
            squaredTarget += y.reduce(0) { $0 + $1 * $1 }
            var best = y.reduce(0) { $0 + $1 * $1 }
            for mask in 1..<(1 << rows.count) {
                let support = rows.indices.filter { mask & (1 << $0) != 0 }
                var g = support.map { i in support.map { j in zip(a[i], a[j]).reduce(0.0) { $0 + $1.0 * $1.1 } } }
                var rhs = support.map { i in zip(a[i], y).reduce(0.0) { $0 + $1.0 * $1.1 } }
                // Gaussian elimination with partial pivoting; singular supports are skipped.
                let s = support.count
                var singular = false
                for col in 0..<s {
                    let p = (col..<s).max { abs(g[$0][col]) < abs(g[$1][col]) }!
                    if abs(g[p][col]) < 1e-10 { singular = true; break }
                    g.swapAt(col, p); rhs.swapAt(col, p)
                    for r in (col + 1)..<s {
                        let f = g[r][col] / g[col][col]
                        for c in col..<s { g[r][c] -= f * g[col][c] }
                        rhs[r] -= f * rhs[col]
                    }
                }
                if singular { continue }
                var w = [Double](repeating: 0, count: s)
                for r in stride(from: s - 1, through: 0, by: -1) {
                    var t = rhs[r]
                    for c in (r + 1)..<s { t -= g[r][c] * w[c] }
                    w[r] = t / g[r][r]
                }
                guard w.allSatisfy({ $0 >= 0 }) else { continue }
                var residual = y
                for (k, i) in support.enumerated() { for t in 0..<dimension { residual[t] -= w[k] * a[i][t] } }
                best = min(best, residual.reduce(0) { $0 + $1 * $1 })
            }
            squaredResidual += best
        }
        return (squaredResidual / squaredTarget).squareRoot()
    }

    @Test func relativeResidualMatchesANaiveComputation() throws {
        var random = SeededRandom(seed: 9)
        let dimensions = [16, 24, 8]  // checkpoints may differ in dimension
        var pools = dimensions.map { Self.gaussianMatrix(rows: 60, columns: $0, random: &random) }
        for j in 0..<24 { pools[1][7, j] = 0 }  // row 7 has no direction at checkpoint 2
        let targets = dimensions.map { Self.gaussianMatrix(rows: 5, columns: $0, random: &random) }
        let rates = [3e-4, 2e-4, 1e-4]
        let checkpoints = Self.checkpoints(pools: pools, targets: targets)
        for subset in [[2, 7, 19, 33], [40, 41, 42, 43, 44], [11]] {
            // G = 1: the single mean target.
            let one = try GTP.relativeResidual(of: subset, checkpoints: checkpoints, parameters: .init(groups: 1, seed: 0))
            let naiveOne = Self.naiveRelativeResidual(rows: subset, pools: pools, targets: targets, rates: rates, groupOf: [0, 0, 0, 0, 0])
            #expect(abs(one - naiveOne) < 1e-6, "subset \(subset): \(one) vs naive \(naiveOne)")
            #expect(one <= 1)
            // G = 5 on 5 distinct rows: k-means puts every validation row in its own group.
            let each = try GTP.relativeResidual(of: subset, checkpoints: checkpoints, parameters: .init(groups: 5, seed: 0))
            let naiveEach = Self.naiveRelativeResidual(rows: subset, pools: pools, targets: targets, rates: rates, groupOf: [0, 1, 2, 3, 4])
            #expect(abs(each - naiveEach) < 1e-6, "subset \(subset): \(each) vs naive \(naiveEach)")
        }
        // Duplicates in the list count once; the empty subset leaves all of Y.
        let a = try GTP.relativeResidual(of: [2, 7, 2, 19], checkpoints: checkpoints, parameters: .init(groups: 1))
        let b = try GTP.relativeResidual(of: [2, 7, 19], checkpoints: checkpoints, parameters: .init(groups: 1))
        #expect(a == b)
        #expect(try GTP.relativeResidual(of: [], checkpoints: checkpoints, parameters: .init(groups: 1)) == 1)
        #expect(throws: SelectorError.self) { try GTP.relativeResidual(of: [60], checkpoints: checkpoints, parameters: .init()) }
    }

    // MARK: - Parameters

    @Test func parametersParseAndRoundTrip() throws {
        var empty = ParameterBag()
        let defaults = try GTP.Parameters(&empty, seed: 9)
        try empty.finish(selector: GTP.name)
        #expect(defaults == GTP.Parameters(groups: 32, iterations: 20, tolerance: 1e-4, seed: 9))

        var bag = try ParameterBag(parsing: ["groups=8", "iterations=5", "tolerance=0.01"])
        let parsed = try GTP.Parameters(&bag, seed: 1)
        try bag.finish(selector: GTP.name)
        #expect(parsed == GTP.Parameters(groups: 8, iterations: 5, tolerance: 0.01, seed: 1))

        var typo = try ParameterBag(parsing: ["group=8"])
        _ = try GTP.Parameters(&typo, seed: 1)
        #expect(throws: SelectorError.self) { try typo.finish(selector: GTP.name) }
        var zero = try ParameterBag(parsing: ["groups=0"])
        #expect(throws: SelectorError.self) { try GTP.Parameters(&zero, seed: 1) }

        let encoded = try JSONEncoder().encode(parsed)
        #expect(try JSONDecoder().decode(GTP.Parameters.self, from: encoded) == parsed)
        #expect(GTP.name == "gtp")
    }
}
