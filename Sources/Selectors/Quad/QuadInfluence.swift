import CKernels
import Foundation

extension Quad {
    /// I(z) = <g(z)/||g(z)||, vbar> for every row, vbar the mean of the unit-normalised target rows.
    ///
    /// Rows outside `gradients.usableRows`, and rows whose gradient is zero or not finite, are
    /// unscored: their influence is NaN. One streaming pass over the column, block by block.
    public static func influences(gradients: any VectorSource, target: Matrix, progress: (Int) -> Void = { _ in }) throws -> [Float] {
        let direction = try meanTargetDirection(target, dimension: gradients.dimension)
        var influence = [Float](repeating: .nan, count: gradients.rowCount)
        let mask = gradients.usableRows
        if let mask, mask.setCount * 4 < gradients.rowCount {
            // A partial column (gradients attached for a sample): reading only its rows skips converting
            // the zero rows that stand for the others (19 of 20 at quad-scale's stride). Parts of the rows
            // go to the cores in turn; each row's influence is its own, so the split changes nothing.
            let rows = mask.setRows
            let d = gradients.dimension
            let partRows = 16_384
            let parts = (rows.count + partRows - 1) / partRows
            let workers = min(parts, ProcessInfo.processInfo.activeProcessorCount > 1 ? 2 : 1)
            let failure = FirstError()
            try influence.withUnsafeMutableBufferPointer { out in
                nonisolated(unsafe) let out = out
                DispatchQueue.concurrentPerform(iterations: workers) { worker in
                    for part in stride(from: worker, to: parts, by: workers) where !failure.isSet {
                        let list = Array(rows[part * partRows..<min((part + 1) * partRows, rows.count)])
                        do {
                            let block = try gradients.gather(rows: list)
                            block.values.withUnsafeBufferPointer { values in
                                direction.withUnsafeBufferPointer { v in
                                    for (i, row) in list.enumerated() { out[row] = normalizedDot(values.baseAddress! + i * d, direction: v.baseAddress!, dimension: d) }
                                }
                            }
                        } catch { failure.record(error) }
                    }
                }
                try failure.rethrow()
            }
            progress(gradients.rowCount)
            return influence
        }
        try influence.withUnsafeMutableBufferPointer { out in
            try direction.withUnsafeBufferPointer { v in
                try gradients.forEachBlock { block in
                    let d = block.dimension
                    guard d > 0 else { return }
                    for i in 0..<block.rowCount {
                        let row = block.firstRow + i
                        guard mask?.contains(row) ?? true else { continue }
                        out[row] = normalizedDot(block.values.baseAddress! + i * d, direction: v.baseAddress!, dimension: d)
                    }
                    progress(block.firstRow + block.rowCount)
                }
            }
        }
        return influence
    }

    /// <x, v> / ||x||, or NaN when x is zero or not finite.
    ///
    /// The dot product and the norm come from one pass over x (a GEMV followed by a norm kernel read
    /// each row twice and ran at a third of the memory bandwidth). Float accumulators in 16 lanes keep
    /// the relative error near 1e-6 for the dimensions in use; a norm that underflows or overflows in
    /// Float is recomputed in Double.
    @inline(__always)
    private static func normalizedDot(_ x: UnsafePointer<Float>, direction v: UnsafePointer<Float>, dimension d: Int) -> Float {
        var dot0 = SIMD8<Float>(), dot1 = SIMD8<Float>(), squares0 = SIMD8<Float>(), squares1 = SIMD8<Float>()
        let rawX = UnsafeRawPointer(x), rawV = UnsafeRawPointer(v)
        var j = 0
        while j + 16 <= d {
            let x0 = rawX.loadUnaligned(fromByteOffset: 4 * j, as: SIMD8<Float>.self)
            let x1 = rawX.loadUnaligned(fromByteOffset: 4 * j + 32, as: SIMD8<Float>.self)
            dot0 += x0 * rawV.loadUnaligned(fromByteOffset: 4 * j, as: SIMD8<Float>.self)
            dot1 += x1 * rawV.loadUnaligned(fromByteOffset: 4 * j + 32, as: SIMD8<Float>.self)
            squares0 += x0 * x0
            squares1 += x1 * x1
            j += 16
        }
        var dot = (dot0 + dot1).sum(), squares = (squares0 + squares1).sum()
        while j < d {
            dot += x[j] * v[j]
            squares += x[j] * x[j]
            j += 1
        }
        if squares > 0 && squares.isFinite && dot.isFinite { return dot / squares.squareRoot() }
        // Zero, non-finite, or out of Float range: redo the row in Double.
        var dotD = 0.0, squaresD = 0.0
        for j in 0..<d {
            dotD += Double(x[j]) * Double(v[j])
            squaresD += Double(x[j]) * Double(x[j])
        }
        guard squaresD > 0 && squaresD.isFinite && dotD.isFinite else { return .nan }
        return Float(dotD / squaresD.squareRoot())
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
        target.values.withUnsafeBufferPointer { values in
            sum.withUnsafeMutableBufferPointer { sum in
                for r in 0..<target.rows {
                    let row = values.baseAddress! + r * dimension
                    var squares = 0.0
                    for j in 0..<dimension { squares += Double(row[j]) * Double(row[j]) }
                    guard squares > 0 else { continue }
                    used += 1
                    let scale = 1 / squares.squareRoot()
                    for j in 0..<dimension { sum[j] += Double(row[j]) * scale }
                }
            }
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

        /// - Parameter values: the influences of the tau sample (``Quad/tauSampleRows(_:size:seed:)``), any order.
        init(values: [Double], quantile q: Double) {
            var values = values
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
