import Foundation
import Selectors
import Testing

/// GTP's memory-bounded paths (docs/SELECTORS.md, "gtp"): trajectories streamed in small blocks, and Gram rows
/// computed only as variables enter (instead of the whole candidate matrix) give the same subset.
@Suite struct GTPBoundedMemoryTests {
    /// A pool with a target that many rows serve: groups of validation rows made of pool rows plus
    /// noise, so the pursuit runs several iterations with thousands of candidates.
    static func problem(seed: UInt64) -> [CheckpointGradients] {
        var random = SeededRandom(seed: seed)
        let n = 1500
        let dimensions = [40, 24]
        var pools = dimensions.map { d in Matrix(rows: n, columns: d, values: (0..<(n * d)).map { _ in Float(random.nextGaussian()) }) }
        // Exact duplicates, which the pursuit must never take twice.
        for (copy, original) in [(1000, 3), (1001, 77), (1002, 500)] {
            for c in pools.indices { for j in 0..<pools[c].columns { pools[c][copy, j] = pools[c][original, j] } }
        }
        let sources = (0..<60).map { _ in random.nextInt(below: n) }
        let targets = dimensions.indices.map { c in
            Matrix(rowVectors: sources.map { r in (0..<dimensions[c]).map { j in pools[c][r, j] + Float(0.3 * random.nextGaussian()) } })
        }
        return dimensions.indices.map { c in
            CheckpointGradients(checkpoint: c + 1, learningRate: Double(2 - c) * 1e-4, pool: pools[c], target: targets[c])
        }
    }

    @Test(arguments: [UInt64(1), 2, 3])
    func lazyGramRowsAndSmallBlocksGiveTheSameSubset(seed: UInt64) throws {
        let checkpoints = Self.problem(seed: seed)
        let parameters = GTP.Parameters(groups: 8, seed: seed)
        let standard = try GTP.select(checkpoints: checkpoints, budget: 120, parameters: parameters, progress: nil, limits: .standard)
        var tight = GTP.Limits()
        tight.trajectoryBlockBytes = 7 * 64 * 8  // 7 trajectories per block
        tight.productBlockBytes = 5 * 64 * 8
        tight.wholeGramBytes = 0  // rows only as variables enter
        let bounded = try GTP.select(checkpoints: checkpoints, budget: 120, parameters: parameters, progress: nil, limits: tight)
        #expect(bounded.rows == standard.rows)
        for (a, b) in zip(bounded.members, standard.members) { #expect(abs(a.weight - b.weight) <= 1e-9 * max(1, abs(b.weight))) }
        // The lazy path computed rows for fewer variables than there were candidates.
        let candidates = standard.diagnostics.counters["candidates.1"] ?? 0
        let lazyRows = bounded.diagnostics.counters["gramRows.1"] ?? 0
        #expect(lazyRows > 0 && lazyRows < candidates)
        #expect(!Set(bounded.rows).isSuperset(of: [3, 1000]) && !Set(bounded.rows).isSuperset(of: [77, 1001]))
    }

    /// Gram rows by DGEMM (the default) and by the canonical fixed-order chain pick the same rows with
    /// the same weights, whole or as variables enter, and never both copies of a duplicate.
    @Test(arguments: [UInt64(1), 2, 3])
    func blasGramRowsGiveTheCanonicalSubset(seed: UInt64) throws {
        let checkpoints = Self.problem(seed: seed)
        let parameters = GTP.Parameters(groups: 8, seed: seed)
        for wholeGramBytes in [GTP.Limits.standard.wholeGramBytes, 0] {
            var blas = GTP.Limits()
            blas.wholeGramBytes = wholeGramBytes
            blas.productBlockBytes = 5 * 64 * 8  // several block pairs per product
            var canonical = blas
            canonical.productKernel = .canonical
            let fast = try GTP.select(checkpoints: checkpoints, budget: 120, parameters: parameters, progress: nil, limits: blas)
            let reference = try GTP.select(checkpoints: checkpoints, budget: 120, parameters: parameters, progress: nil, limits: canonical)
            #expect(fast.rows == reference.rows)
            for (a, b) in zip(fast.members, reference.members) { #expect(abs(a.weight - b.weight) <= 1e-9 * max(1, abs(b.weight))) }
            #expect(fast.diagnostics.objectiveTrace.count == reference.diagnostics.objectiveTrace.count)
            #expect(!Set(fast.rows).isSuperset(of: [3, 1000]) && !Set(fast.rows).isSuperset(of: [77, 1001]))
        }
    }

    /// A Gram matrix that hands out rows only after they were asked for, and counts what was asked.
    final class RecordingGram: GramAccess, @unchecked Sendable {
        let dense: DenseGram
        private(set) var ensured = Set<Int>()
        private(set) var calls = 0
        init(_ gram: [Double], p: Int) { dense = DenseGram(gram, p: p) }
        var count: Int { dense.count }
        func diagonal(_ j: Int) -> Double { dense.diagonal(j) }
        func ensure(_ variables: [Int]) throws {
            calls += 1
            ensured.formUnion(variables)
        }
        func row(_ i: Int) -> UnsafePointer<Double> {
            precondition(ensured.contains(i), "row \(i) read before it was ensured")
            return dense.row(i)
        }
    }

    @Test func lockstepSolvesEqualLoneSolvesAndAskOnlyForTheRowsTheyRead() throws {
        var random = SeededRandom(seed: 4)
        let m = 30, p = 400
        let a = (0..<(m * p)).map { _ in random.nextGaussian() }
        var gram = [Double](repeating: 0, count: p * p)
        for i in 0..<p { for j in 0..<p { gram[i * p + j] = (0..<m).reduce(0) { $0 + a[$1 * p + i] * a[$1 * p + j] } } }
        let rightHandSides = (0..<6).map { _ in (0..<m).map { _ in random.nextGaussian() } }
        let atbs = rightHandSides.map { b in (0..<p).map { i in (0..<m).reduce(0) { $0 + a[$1 * p + i] * b[$1] } } }
        let recording = RecordingGram(gram, p: p)
        let lockstep = try NNLS.solveInLockstep(gram: recording, atbs: atbs, warmStarts: nil)
        for (j, atb) in atbs.enumerated() {
            #expect(lockstep[j] == NNLS.solve(gram: gram, p: p, atb: atb))
        }
        // Rows were asked for in batches, and only for variables that entered some passive set.
        #expect(recording.ensured.count < p)
        #expect(recording.calls < recording.ensured.count)
        let support = Set(lockstep.flatMap { x in x.indices.filter { x[$0] > 0 } })
        #expect(support.isSubset(of: recording.ensured))
    }
}
