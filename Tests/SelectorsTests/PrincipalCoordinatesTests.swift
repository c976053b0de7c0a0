import Foundation
import Selectors
import Testing

/// The principal coordinates that screen k-means++ trials: a lower bound on every distance, and tight
/// when the rows lie in a subspace of the coordinates' dimension.
@Suite("Principal coordinates")
struct PrincipalCoordinatesTests {
    static func distance(_ a: Matrix, _ i: Int, _ j: Int) -> Double {
        (0..<a.columns).reduce(0.0) { $0 + pow(Double(a[i, $1]) - Double(a[j, $1]), 2) }.squareRoot()
    }

    @Test func projectedDistancesNeverExceedTheRowsAndMatchThemInTheRowsSpan() throws {
        var random = SeededRandom(seed: 12)
        let n = 500, dim = 40, rank = 8
        let basis = Matrix(rows: rank, columns: dim, values: (0..<rank * dim).map { _ in Float(random.nextGaussian()) })
        let weights = Matrix(rows: n, columns: rank, values: (0..<n * rank).map { _ in Float(random.nextGaussian()) })
        let inSpan = weights.multiplied(by: basis).values.map { $0 + 3 }  // off the origin: the mean matters
        let spanned = Matrix(rows: n, columns: dim, values: inSpan)
        let noisy = Matrix(rows: n, columns: dim, values: inSpan.map { $0 + Float(random.nextGaussian()) * 0.3 })
        for (data, tight) in [(spanned, true), (noisy, false)] {
            let principal = try #require(PrincipalCoordinates(data, p: rank))
            for _ in 0..<300 {
                let i = random.nextInt(below: n), j = random.nextInt(below: n)
                let full = Self.distance(data, i, j), projected = Self.distance(principal.coordinates, i, j)
                #expect(projected <= full * (1 + 1e-6) + 1e-5)
                if tight { #expect(abs(projected - full) <= 1e-4 * (full + 1)) }
            }
            for i in 0..<n {
                let norm = (0..<rank).reduce(0.0) { $0 + pow(Double(principal.coordinates[i, $1]), 2) }
                #expect(abs(Double(principal.squaredNorms[i]) - norm) <= 1e-5 * (norm + 1))
            }
        }
    }
}
