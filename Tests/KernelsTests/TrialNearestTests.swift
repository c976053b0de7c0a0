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
        qc_trial_nearest(rows, half, n, dim, norms, nearest, trials, trialNorms, m, &screened)
        var plain = [Float](repeating: .nan, count: n * m)
        qc_trial_nearest(rows, nil, n, dim, norms, nearest, trials, trialNorms, m, &plain)
        #expect(screened.map(\.bitPattern) == expected.map(\.bitPattern))
        #expect(plain.map(\.bitPattern) == expected.map(\.bitPattern))
    }
}
