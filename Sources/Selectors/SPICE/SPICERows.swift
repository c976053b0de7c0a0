import CKernels

extension SPICE {
    /// The usable rows of one gradient column, copied once into a compact row-major Float32 matrix.
    ///
    /// The greedy reads candidate rows in an order it cannot predict (lazy refreshes), so the rows
    /// are materialised rather than streamed; rows outside the source's usable mask and rows with a
    /// NaN or infinity are left out and listed.
    struct Rows {
        let dimension: Int
        /// m x dimension, the usable rows in ascending row order.
        let values: [Float]
        /// Row number in the source of each compact row (ascending).
        let rowIds: [Int]
        /// ||g||^2 of each compact row, from the same Float64-accumulating kernel the greedy updates with.
        let squaredNorms: [Double]
        /// Rows inside the usable mask that hold a NaN or infinity, or whose squared norm overflows
        /// Float32 (never candidates).
        let nonFiniteRows: [Int]

        var count: Int { rowIds.count }

        init(_ source: any VectorSource) throws {
            let d = source.dimension
            let usable = source.usableRows
            let expected = usable?.setCount ?? source.rowCount
            var values: [Float] = []
            values.reserveCapacity(expected * d)
            var rowIds: [Int] = []
            rowIds.reserveCapacity(expected)
            var nonFinite: [Int] = []
            var norms: [Double] = []
            norms.reserveCapacity(expected)
            try source.forEachBlock { block in
                for i in 0..<block.rowCount {
                    let r = block.firstRow + i
                    if let usable, !usable.contains(r) { continue }
                    let row = block.row(i)
                    var squaredNorm = 0.0
                    if d > 0 {
                        squaredNorm = Dots.squaredNorm(row.baseAddress!, d)
                        // A squared norm beyond Float32's range overflows the other selectors' kernels;
                        // such a row is as unusable as one with a NaN.
                        guard qc_first_nonfinite_f32(row.baseAddress!, d) < 0, squaredNorm <= Double(Float.greatestFiniteMagnitude) else {
                            nonFinite.append(r)
                            continue
                        }
                    }
                    values.append(contentsOf: row)
                    rowIds.append(r)
                    norms.append(squaredNorm)
                }
            }
            self.dimension = d
            self.values = values
            self.rowIds = rowIds
            self.squaredNorms = norms
            self.nonFiniteRows = nonFinite
        }
    }
}
