import CKernels
import COpenBLAS
import Foundation

extension SPICE {
    /// F(S) = log det(I_d + alpha sum_{i in S} g_i g_i^T) for a given subset, independently of the greedy.
    ///
    /// Computed through the smaller of the k x k form log det(I_k + alpha G_S G_S^T) and the d x d form
    /// (Sylvester's identity), with the Gram matrix and its Cholesky factor in Double: 2 * sum log L_ii. Rows outside
    /// `gradients.usableRows` carry no vector and add nothing (so subsets from other selectors can be
    /// scored as they are). Throws on a row out of range, a row listed twice, or a NaN/inf value.
    public static func logDet(of rows: [Int], gradients: any VectorSource, alpha: Double) throws -> Double {
        guard alpha > 0, alpha.isFinite else { throw SelectorError("spice: alpha must be a positive finite number, got \(alpha)") }
        var seen = Set<Int>()
        for r in rows {
            guard r >= 0 && r < gradients.rowCount else {
                throw SelectorError("spice: row \(r) is out of range 0..<\(gradients.rowCount)")
            }
            guard seen.insert(r).inserted else { throw SelectorError("spice: row \(r) appears twice in the subset") }
        }
        let usable = rows.filter { gradients.isUsable($0) }
        let k = usable.count, d = gradients.dimension
        guard k > 0, d > 0 else { return 0 }
        let g = try gradients.gather(rows: usable)
        if let bad = g.values.withUnsafeBufferPointer({ p -> Int? in
            let i = qc_first_nonfinite_f32(p.baseAddress!, p.count)
            return i >= 0 ? i : nil
        }) {
            throw SelectorError("spice: row \(usable[bad / d]) holds a NaN or infinity")
        }
        let values = g.values.map(Double.init)
        // The smaller of the two equal forms: I_k + alpha G G^T when k <= d, else I_d + alpha G^T G
        // (a 13,500-row subset of 512-dim rows: a 512 x 512 factorisation instead of 13,500 x 13,500).
        let m = min(k, d)
        var gram = [Double](repeating: 0, count: m * m)
        for i in 0..<m { gram[i * m + i] = 1 }
        values.withUnsafeBufferPointer { a in
            gram.withUnsafeMutableBufferPointer { c in
                if k <= d {
                    BLAS.dgemm(
                        transposeB: true, m: k, n: k, k: d, alpha: alpha, a: a.baseAddress!, lda: d,
                        b: a.baseAddress!, ldb: d, beta: 1, c: c.baseAddress!, ldc: k)
                } else {
                    BLAS.dgemm(
                        transposeA: true, m: d, n: d, k: k, alpha: alpha, a: a.baseAddress!, lda: d,
                        b: a.baseAddress!, ldb: d, beta: 1, c: c.baseAddress!, ldc: d)
                }
            }
        }
        var uplo = CChar(UInt8(ascii: "L"))
        var n = Int32(m), lda = Int32(m), info: Int32 = 0
        gram.withUnsafeMutableBufferPointer { c in
            dpotrf_(&uplo, &n, c.baseAddress!, &lda, &info, 1)
        }
        guard info == 0 else {
            throw SelectorError("spice: the Cholesky factorisation failed (info \(info)); the gradients are too large to be represented")
        }
        var total = 0.0
        for i in 0..<m { total += log(gram[i * m + i]) }
        return 2 * total
    }
}
