import CKernels
import Foundation
import Testing

/// `qc_dot_block_f64` promises one canonical chain per product (8 fma lanes in element order, a fixed
/// pairwise reduction, then the tail), whatever tile, element block or batch computes it: the greedy
/// selectors and GTP's Gram rows compare products computed in different batches bit for bit.
@Suite("Float64 block products follow the canonical chain")
struct DotBlockCanonicalTests {
    /// The definition, transcribed from the kernel's header comment.
    static func canonical(_ x: [Double], _ y: ArraySlice<Double>) -> Double {
        var acc = [Double](repeating: 0, count: 8)
        let chunks = x.count / 8
        let y = Array(y)
        for c in 0..<chunks {
            for l in 0..<8 { acc[l] = fma(x[8 * c + l], y[8 * c + l], acc[l]) }
        }
        var s = ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]))
        for j in (8 * chunks)..<x.count { s = fma(x[j], y[j], s) }
        return s
    }

    /// Row and vector counts off the register tiles (2 x 3 on AVX2, 4 x 6 on AVX-512), lengths with
    /// and without a tail, and lengths past one 512-element block.
    static let shapes: [(rows: Int, dim: Int, vectors: Int)] = [
        (1, 7, 1), (3, 8, 4), (5, 515, 7), (4, 1024, 6), (7, 1537, 5), (2, 4100, 3),
    ]

    @Test(arguments: shapes, [QC_ROW_F64, QC_ROW_F32, QC_ROW_F16])
    func everyProductHasTheCanonicalBits(shape: (rows: Int, dim: Int, vectors: Int), format: Int32) {
        let (n, dim, m) = shape
        var generator = SeededGenerator(seed: UInt64(n * 7919 + dim * 31 + m) &+ UInt64(format))
        let vectors = (0..<m * dim).map { _ in Double.random(in: -2...2, using: &generator) }
        let values = (0..<n * dim).map { _ in Float.random(in: -2...2, using: &generator) }
        // The rows as stored in `format`, and the Double values the kernel sees after widening.
        var halves = [UInt16](repeating: 0, count: n * dim)
        qc_f32_to_f16(values, &halves, n * dim)
        var widened = [Float](repeating: 0, count: n * dim)
        qc_f16_to_f32(halves, &widened, n * dim)
        let doubles: [Double] =
            switch format {
            case QC_ROW_F64: values.map { Double($0) * 1.000_000_1 }
            case QC_ROW_F16: widened.map(Double.init)
            default: values.map(Double.init)
            }
        var out = [Double](repeating: .nan, count: n * m)
        let storage: [UnsafeMutableRawPointer] = (0..<n).map { i in
            switch format {
            case QC_ROW_F64:
                let p = UnsafeMutablePointer<Double>.allocate(capacity: dim)
                p.update(from: Array(doubles[i * dim..<(i + 1) * dim]), count: dim)
                return UnsafeMutableRawPointer(p)
            case QC_ROW_F16:
                let p = UnsafeMutablePointer<UInt16>.allocate(capacity: dim)
                p.update(from: Array(halves[i * dim..<(i + 1) * dim]), count: dim)
                return UnsafeMutableRawPointer(p)
            default:
                let p = UnsafeMutablePointer<Float>.allocate(capacity: dim)
                p.update(from: Array(values[i * dim..<(i + 1) * dim]), count: dim)
                return UnsafeMutableRawPointer(p)
            }
        }
        defer { for p in storage { p.deallocate() } }
        let rows: [UnsafeRawPointer?] = storage.map { UnsafeRawPointer($0) }
        qc_dot_block_f64(rows, format, n, vectors, dim, m, dim, &out, m)
        for i in 0..<n {
            let x = Array(doubles[i * dim..<(i + 1) * dim])
            for t in 0..<m {
                let expected = Self.canonical(x, vectors[t * dim..<(t + 1) * dim])
                #expect(out[i * m + t].bitPattern == expected.bitPattern, "row \(i), vector \(t)")
            }
        }
    }
}
