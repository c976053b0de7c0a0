import CKernels
import Testing

/// `qc_dot_rows_vectors` runs row at a time for one row and cache-blocked for many; selectors compare
/// picks across shardings, so both must give the same bits, not merely close values.
@Suite("Row-by-vector dot products")
struct DotRowsVectorsTests {
    /// Shapes around the kernel's edges: dims with and without a tail of fewer than 8 floats, and beyond
    /// one chunk; vector counts off the register tile, and few enough for the row-pair path (up to 12
    /// in 24 KB); row counts off the tile and the row block; and two- and three-row calls whose vectors
    /// exceed 256 KB (blocked) or not (row at a time).
    static let shapes: [(rows: Int, dim: Int, vectors: Int)] = [
        (4, 1, 1), (5, 13, 3), (7, 255, 8), (16, 256, 9), (17, 1000, 33), (33, 1031, 7), (4, 4096, 1),
        (2, 8193, 9), (3, 8193, 9), (2, 1024, 8), (25, 384, 11), (3, 100, 12), (2, 7, 6),
    ]

    @Test(arguments: shapes)
    func manyRowsGiveTheBitsOfOneRowAtATime(shape: (rows: Int, dim: Int, vectors: Int)) {
        let (n, dim, m) = shape
        var generator = SeededGenerator(seed: UInt64(n * 1_000_003 + dim * 101 + m))
        let rows = (0..<n * dim).map { _ in Float.random(in: -2...2, using: &generator) }
        let vectors = (0..<m * dim).map { _ in Float.random(in: -2...2, using: &generator) }
        var together = [Float](repeating: .nan, count: n * m)
        qc_dot_rows_vectors(rows, n, dim, vectors, m, &together)
        var single = [Float](repeating: .nan, count: n * m)
        rows.withUnsafeBufferPointer { r in
            single.withUnsafeMutableBufferPointer { out in
                for i in 0..<n { qc_dot_rows_vectors(r.baseAddress! + i * dim, 1, dim, vectors, m, out.baseAddress! + i * m) }
            }
        }
        #expect(together.map(\.bitPattern) == single.map(\.bitPattern))
        // Both paths could be wrong the same way, so each result must also meet the error bound of a sum
        // with dim / 8 + 11 roundings in sequence.
        let bound = Double(dim / 8 + 11) * Double(Float.ulpOfOne)
        for i in 0..<n {
            for t in 0..<m {
                var exact = 0.0, magnitude = 0.0
                for k in 0..<dim {
                    let p = Double(rows[i * dim + k]) * Double(vectors[t * dim + k])
                    exact += p
                    magnitude += abs(p)
                }
                #expect(abs(Double(together[i * m + t]) - exact) <= bound * magnitude)
            }
        }
    }
}
