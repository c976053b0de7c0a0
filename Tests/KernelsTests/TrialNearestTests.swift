import CKernels
import Testing

/// `qc_trial_nearest` screens rows on a float16 copy and computes the float32 distance only where the
/// screen cannot settle it; greedy k-means++ compares potentials built from its output, so the screened
/// and unscreened paths must give the same bits as the plain expression, not merely close values.
@Suite("k-means++ trial distances")
struct TrialNearestTests {
    /// The expression the seeding used before the kernel: `min(nearest, max(0, norm - 2 * dot + trialNorm))`.
    static func reference(_ rows: [Float], _ dim: Int, _ norms: [Float], _ nearest: [Float], _ trials: [Float], _ trialNorms: [Float]) -> [Float] {
        let n = norms.count, m = trialNorms.count
        var dots = [Float](repeating: 0, count: n * m)
        qc_dot_rows_vectors(rows, n, dim, trials, m, &dots)
        return (0..<n * m).map { e in min(nearest[e / m], max(0, norms[e / m] - 2 * dots[e] + trialNorms[e % m])) }
    }

    /// Rows off the pair, dims off the 8-float chunk, trial counts off the register group; some rows
    /// coincide with a trial (distance 0) and some sit just past a nearest distance, where the screen
    /// must hand over to float32.
    @Test(arguments: [(1, 8, 1), (2, 5, 3), (7, 384, 11), (64, 100, 6), (33, 384, 12), (50, 1031, 7)])
    func screenedAndPlainPathsGiveTheReferenceBits(shape: (rows: Int, dim: Int, trials: Int)) {
        let (n, dim, m) = shape
        var generator = SeededGenerator(seed: UInt64(n * 7919 + dim * 31 + m))
        let rows = (0..<n * dim).map { _ in Float.random(in: -1...1, using: &generator) }
        var trials = (0..<m * dim).map { _ in Float.random(in: -1...1, using: &generator) }
        for j in 0..<dim { trials[j] = rows[j] }  // trial 0 is row 0
        var norms = [Float](repeating: 0, count: n)
        qc_row_norms_f32(rows, n, dim, &norms)
        norms = norms.map { $0 * $0 }
        var trialNorms = [Float](repeating: 0, count: m)
        qc_row_norms_f32(trials, m, dim, &trialNorms)
        trialNorms = trialNorms.map { $0 * $0 }
        let plainDistances = Self.reference(rows, dim, norms, [Float](repeating: .infinity, count: n), trials, trialNorms)
        // Nearest distances a hair above and below trial 1's distance, and anywhere.
        let nearest = (0..<n).map { i -> Float in
            let d = plainDistances[i * m + (m > 1 ? 1 : 0)]
            return [d.nextUp, d.nextDown, Float.random(in: 0...Float(dim), using: &generator)][i % 3]
        }
        let expected = Self.reference(rows, dim, norms, nearest, trials, trialNorms)
        var half = [UInt16](repeating: 0, count: rows.count)
        qc_f32_to_f16(rows, &half, rows.count)
        var screened = [Float](repeating: .nan, count: n * m)
        qc_trial_nearest(rows, half, n, dim, norms, nearest, trials, trialNorms, m, nil, &screened)
        var plain = [Float](repeating: .nan, count: n * m)
        qc_trial_nearest(rows, nil, n, dim, norms, nearest, trials, trialNorms, m, nil, &plain)
        #expect(screened.map(\.bitPattern) == expected.map(\.bitPattern))
        #expect(plain.map(\.bitPattern) == expected.map(\.bitPattern))
    }

    /// The first screen at its tightest: rows that live in the span of their principal coordinates (the
    /// first p axes, so y is x's first p elements, exactly), where the lower bound |y_x - y_c| equals the
    /// distance and only the error terms keep a pair a hair from `nearest` unsettled. Some nearest
    /// distances are 0 (settled without any product).
    @Test(arguments: [(64, 16, 11), (9, 8, 4), (130, 24, 6)])
    func thePrincipalScreenSettlesOnlyWhatItCanProve(shape: (rows: Int, p: Int, trials: Int)) {
        let (n, p, m) = shape
        let dim = p + 8
        var generator = SeededGenerator(seed: UInt64(n * 31 + p))
        var rows = [Float](repeating: 0, count: n * dim)
        for i in 0..<n { for j in 0..<p { rows[i * dim + j] = Float.random(in: -1...1, using: &generator) } }
        let trialRows = (0..<m).map { ($0 * 7) % n }
        let trials = trialRows.flatMap { rows[$0 * dim..<($0 + 1) * dim] }
        var norms = [Float](repeating: 0, count: n)
        qc_row_norms_f32(rows, n, dim, &norms)
        norms = norms.map { $0 * $0 }
        let trialNorms = trialRows.map { norms[$0] }
        let coordinates = (0..<n).flatMap { rows[$0 * dim..<$0 * dim + p] }
        let coordinateNorms = (0..<n).map { i in Float((0..<p).reduce(0.0) { $0 + Double(rows[i * dim + $1]) * Double(rows[i * dim + $1]) }) }
        let trialCoordinates = trialRows.flatMap { coordinates[$0 * p..<($0 + 1) * p] }
        let trialCoordinateNorms = trialRows.map { coordinateNorms[$0] }
        let distances = Self.reference(rows, dim, norms, [Float](repeating: .infinity, count: n), trials, trialNorms)
        let nearest = (0..<n).map { i -> Float in
            let d = distances[i * m + (i % m)]
            return [d.nextUp, d.nextDown, 0, d * 0.5, d * 2][i % 5]
        }
        let expected = Self.reference(rows, dim, norms, nearest, trials, trialNorms)
        var half = [UInt16](repeating: 0, count: rows.count)
        qc_f32_to_f16(rows, &half, rows.count)
        var out = [Float](repeating: .nan, count: n * m)
        coordinates.withUnsafeBufferPointer { y in
            coordinateNorms.withUnsafeBufferPointer { yn in
                trialCoordinates.withUnsafeBufferPointer { ty in
                    trialCoordinateNorms.withUnsafeBufferPointer { tyn in
                        var coords = qc_principal_coords(
                            rows: y.baseAddress!, norms: yn.baseAddress!, trials: ty.baseAddress!, trial_norms: tyn.baseAddress!, p: p, slack: 0)
                        qc_trial_nearest(rows, half, n, dim, norms, nearest, trials, trialNorms, m, &coords, &out)
                    }
                }
            }
        }
        #expect(out.map(\.bitPattern) == expected.map(\.bitPattern))
    }
}
