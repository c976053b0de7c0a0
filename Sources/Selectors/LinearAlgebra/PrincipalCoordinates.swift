import CKernels
import COpenBLAS
import Foundation

/// The rows' coordinates on their top principal directions: y = P^T (x - mean), P the covariance's
/// leading eigenvectors (orthonormal columns), all in float64, then rounded once to float.
///
/// Projection onto orthonormal directions never lengthens a vector, so |y_x - y_c| <= |x - c| for any
/// two rows: a cheap lower bound on their distance (greedy k-means++ screens its trials with it).
public struct PrincipalCoordinates: Sendable {
    /// rows x p.
    public let coordinates: Matrix
    /// |y|^2 of each row's float coordinates.
    public let squaredNorms: [Float]
    /// An absolute bound on the float64 work's error in any |y_x - y_c| (far below float rounding).
    public let slack: Float

    /// The top `p` principal coordinates of `data`'s rows, or nil when LAPACK's eigensolver fails.
    public init?(_ data: Matrix, p: Int) {
        let n = data.rows, dim = data.columns
        precondition(p > 0 && p <= dim, "need 0 < p <= dim")
        var mean = [Double](repeating: 0, count: dim)
        for i in 0..<n { for j in 0..<dim { mean[j] += Double(data.values[i * dim + j]) } }
        mean = mean.map { $0 / Double(max(n, 1)) }
        // Covariance (unnormalised) a block of centred rows at a time.
        var covariance = [Double](repeating: 0, count: dim * dim)
        Self.forEachCentredBlock(data, mean: mean) { _, rows, b in
            covariance.withUnsafeMutableBufferPointer { c in
                BLAS.dgemm(transposeA: true, m: dim, n: dim, k: rows, a: b, lda: dim, b: b, ldb: dim, beta: 1, c: c.baseAddress!, ldc: dim)
            }
        }
        guard let directions = Self.leadingEigenvectors(&covariance, dim: dim, count: p) else { return nil }
        var coordinates = Matrix(rows: n, columns: p)
        var projected = [Double](repeating: 0, count: Self.blockRows * p)
        Self.forEachCentredBlock(data, mean: mean) { first, rows, b in
            directions.withUnsafeBufferPointer { d in
                projected.withUnsafeMutableBufferPointer { y in
                    BLAS.dgemm(transposeB: true, m: rows, n: p, k: dim, a: b, lda: dim, b: d.baseAddress!, ldb: dim, c: y.baseAddress!, ldc: p)
                }
            }
            for e in 0..<rows * p { coordinates.values[first * p + e] = Float(projected[e]) }
        }
        self.coordinates = coordinates
        squaredNorms = (0..<n).map { i in
            Float((0..<p).reduce(0.0) { $0 + Double(coordinates.values[i * p + $1]) * Double(coordinates.values[i * p + $1]) })
        }
        // float64 rounding in the centring, the covariance's eigenvectors (orthonormal to ~1e-13) and the
        // projection: relative errors near 1e-13 of |x| + |mean|, bounded here a million times over.
        var lengths = [Float](repeating: 0, count: n)
        data.values.withUnsafeBufferPointer { qc_row_norms_f32($0.baseAddress!, n, dim, &lengths) }
        let longest = Double(lengths.max() ?? 0)
        let meanNorm = mean.reduce(0.0) { $0 + $1 * $1 }.squareRoot()
        slack = Float(1e-7 * (longest + meanNorm) * Double(dim).squareRoot())
    }

    private static let blockRows = 4096

    /// Calls `body(first, rows, block)` for each block of up to ``blockRows`` rows, centred in float64.
    private static func forEachCentredBlock(_ data: Matrix, mean: [Double], _ body: (Int, Int, UnsafePointer<Double>) -> Void) {
        let dim = data.columns
        var block = [Double](repeating: 0, count: blockRows * dim)
        for first in stride(from: 0, to: data.rows, by: blockRows) {
            let rows = min(blockRows, data.rows - first)
            for r in 0..<rows {
                for j in 0..<dim { block[r * dim + j] = Double(data.values[(first + r) * dim + j]) - mean[j] }
            }
            block.withUnsafeBufferPointer { body(first, rows, $0.baseAddress!) }
        }
    }

    /// The `count` eigenvectors of the symmetric `matrix` (dim x dim) with the largest eigenvalues, as the
    /// rows of a count x dim row-major array (LAPACK dsyevd; its column-major eigenvector columns are
    /// the rows of the row-major view, eigenvalues ascending).
    private static func leadingEigenvectors(_ matrix: inout [Double], dim: Int, count: Int) -> [Double]? {
        var n = Int32(dim), lda = Int32(dim), info: Int32 = 0
        var eigenvalues = [Double](repeating: 0, count: dim)
        var workSize = 0.0, iworkSize: Int32 = 0, query: Int32 = -1
        let jobz: [CChar] = [CChar(UInt8(ascii: "V"))], uplo: [CChar] = [CChar(UInt8(ascii: "U"))]
        dsyevd_(jobz, uplo, &n, &matrix, &lda, &eigenvalues, &workSize, &query, &iworkSize, &query, &info, 1, 1)
        guard info == 0 else { return nil }
        var lwork = Int32(workSize), liwork = iworkSize
        var work = [Double](repeating: 0, count: Int(lwork))
        var iwork = [Int32](repeating: 0, count: Int(liwork))
        dsyevd_(jobz, uplo, &n, &matrix, &lda, &eigenvalues, &work, &lwork, &iwork, &liwork, &info, 1, 1)
        guard info == 0 else { return nil }
        return Array(matrix[(dim - count) * dim..<dim * dim])
    }
}
