import CKernels

extension SPICE {
    /// The rows a greedy run may pick: the usable rows of one gradient column without NaN or infinity,
    /// their squared norms, and random access to their stored rows (read in place, never copied whole).
    struct Candidates {
        let source: any VectorSource
        let dimension: Int
        /// Row number in the source of each candidate (ascending).
        let rowIds: [Int]
        /// ||g||^2 of each candidate, by the canonical product chain (`qc_dot_f64`) the greedy updates with.
        let squaredNorms: [Double]
        /// Rows inside the usable mask that hold a NaN or infinity, or whose squared norm overflows
        /// Float32 (never candidates).
        let nonFiniteRows: [Int]

        var count: Int { rowIds.count }

        /// One streaming pass over the column.
        init(_ source: any VectorSource, progress: SelectionProgressHandler?) throws {
            let d = source.dimension
            let usable = source.usableRows
            var rowIds: [Int] = []
            var norms: [Double] = []
            var nonFinite: [Int] = []
            rowIds.reserveCapacity(usable?.setCount ?? source.rowCount)
            norms.reserveCapacity(rowIds.capacity)
            let wide = UnsafeMutablePointer<Double>.allocate(capacity: max(1, d))
            defer { wide.deallocate() }
            var scanned = 0
            try source.forEachBlock { block in
                for i in 0..<block.rowCount {
                    let r = block.firstRow + i
                    if let usable, !usable.contains(r) { continue }
                    var squaredNorm = 0.0
                    if d > 0 {
                        let row = block.values.baseAddress! + i * d
                        guard qc_first_nonfinite_f32(row, d) < 0 else {
                            nonFinite.append(r)
                            continue
                        }
                        for j in 0..<d { wide[j] = Double(row[j]) }
                        squaredNorm = qc_dot_f64(row, Int32(QC_ROW_F32), wide, d)
                        // A squared norm beyond Float32's range overflows the other selectors' kernels;
                        // such a row is as unusable as one with a NaN.
                        guard squaredNorm <= Double(Float.greatestFiniteMagnitude) else {
                            nonFinite.append(r)
                            continue
                        }
                    }
                    rowIds.append(r)
                    norms.append(squaredNorm)
                }
                scanned += block.rowCount
                progress?(SelectionProgress(phase: "reading gradient norms", completed: scanned, total: source.rowCount, unit: "rows"))
            }
            self.source = source
            self.dimension = d
            self.rowIds = rowIds
            self.squaredNorms = norms
            self.nonFiniteRows = nonFinite
        }
    }
}
