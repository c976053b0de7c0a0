import CKernels
import Foundation

extension Quad {
    /// I(z) = <g(z)/||g(z)||, vbar> for every row, vbar the mean of the unit-normalised target rows.
    ///
    /// Rows outside `gradients.usableRows`, and rows whose gradient is zero or not finite, are
    /// unscored: their influence is NaN. One streaming pass: a GEMV and a row-norm kernel per block.
    public static func influences(gradients: any VectorSource, target: Matrix) throws -> [Float] {
        let direction = try meanTargetDirection(target, dimension: gradients.dimension)
        var influence = [Float](repeating: .nan, count: gradients.rowCount)
        var norms: [Float] = []
        let mask = gradients.usableRows
        try influence.withUnsafeMutableBufferPointer { out in
            try gradients.forEachBlock { block in
                let rows = block.rowCount, d = block.dimension
                guard rows > 0, d > 0 else { return }
                if norms.count < rows { norms = [Float](repeating: 0, count: rows) }
                let dots = out.baseAddress! + block.firstRow
                direction.withUnsafeBufferPointer { v in
                    BLAS.gemv(rows: rows, columns: d, a: block.values.baseAddress!, lda: d, x: v.baseAddress!, y: dots)
                }
                norms.withUnsafeMutableBufferPointer { qc_row_norms_f32(block.values.baseAddress!, rows, d, $0.baseAddress!) }
                for i in 0..<rows {
                    let norm = norms[i]
                    let usable = mask?.contains(block.firstRow + i) ?? true
                    dots[i] = usable && norm > 0 && norm.isFinite ? dots[i] / norm : .nan
                }
            }
        }
        return influence
    }

    /// vbar = mean over target rows of v_r / ||v_r|| (accumulated in Double); zero rows are skipped.
    static func meanTargetDirection(_ target: Matrix, dimension: Int) throws -> [Float] {
        guard target.columns == dimension else {
            throw SelectorError("the target gradients have dimension \(target.columns), the pool gradients \(dimension)")
        }
        guard target.rows > 0 else { throw SelectorError("the target has no gradient rows") }
        if target.values.withUnsafeBufferPointer({ qc_first_nonfinite_f32($0.baseAddress!, $0.count) }) >= 0 {
            throw SelectorError("the target gradients contain NaN or infinite values")
        }
        var sum = [Double](repeating: 0, count: dimension)
        var used = 0
        for r in 0..<target.rows {
            let row = target.values[r * dimension..<(r + 1) * dimension]
            let norm = row.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            guard norm > 0 else { continue }
            used += 1
            for (j, value) in row.enumerated() { sum[j] += Double(value) / norm }
        }
        guard used > 0 else { throw SelectorError("every target gradient row is zero") }
        return sum.map { Float($0 / Double(used)) }
    }

    /// Quantile and spread of the influences of a seeded sample of scored rows: the default
    /// tau and alpha come from here.
    struct SampleStatistics {
        var quantile: Double
        var mean: Double
        var standardDeviation: Double

        init(influence: [Float], scoredRows: [Int], sampleSize: Int, quantile q: Double, seed: UInt64) {
            var values: [Double]
            if scoredRows.count <= sampleSize {
                values = scoredRows.map { Double(influence[$0]) }
            } else {
                var random = SeededRandom(seed: seed)
                values = random.sample(sampleSize, from: scoredRows.count).map { Double(influence[scoredRows[$0]]) }
            }
            values.sort()
            // Linear interpolation between order statistics (NumPy's default quantile rule).
            let position = q * Double(values.count - 1)
            let lower = Int(position.rounded(.down))
            let upper = min(lower + 1, values.count - 1)
            quantile = values[lower] + (position - Double(lower)) * (values[upper] - values[lower])
            mean = values.reduce(0, +) / Double(values.count)
            let m = mean
            standardDeviation = (values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(values.count)).squareRoot()
        }
    }
}
