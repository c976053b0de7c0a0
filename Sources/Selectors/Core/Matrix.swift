/// A dense row-major matrix of `Float`, the currency of every selector.
///
/// Storage is a Swift array, so copies are cheap until written (copy on write).
public struct Matrix: Sendable, Equatable {
    /// Number of rows.
    public let rows: Int
    /// Number of columns (the vector dimension when each row is a vector).
    public let columns: Int
    /// Row-major values: element (r, c) is at `r * columns + c`.
    public var values: [Float]

    /// A matrix filled with `value`.
    public init(rows: Int, columns: Int, repeating value: Float = 0) {
        precondition(rows >= 0 && columns >= 0, "matrix dimensions must be non-negative")
        self.rows = rows
        self.columns = columns
        self.values = [Float](repeating: value, count: rows * columns)
    }

    /// A matrix over existing row-major values; `values.count` must be `rows * columns`.
    public init(rows: Int, columns: Int, values: [Float]) {
        precondition(values.count == rows * columns, "expected \(rows * columns) values, got \(values.count)")
        self.rows = rows
        self.columns = columns
        self.values = values
    }

    /// A matrix whose rows are the given vectors, which must all have the same length.
    public init(rowVectors: [[Float]]) {
        let columns = rowVectors.first?.count ?? 0
        precondition(rowVectors.allSatisfy { $0.count == columns }, "all rows must have the same length")
        self.init(rows: rowVectors.count, columns: columns, values: rowVectors.flatMap { $0 })
    }

    public subscript(row: Int, column: Int) -> Float {
        get { values[row * columns + column] }
        set { values[row * columns + column] = newValue }
    }

    /// A copy of row `r`.
    public func row(_ r: Int) -> [Float] {
        Array(values[r * columns..<(r + 1) * columns])
    }

    /// The rows at the given indices, in the given order.
    public func rows(_ indices: [Int]) -> Matrix {
        var out = Matrix(rows: indices.count, columns: columns)
        values.withUnsafeBufferPointer { source in
            out.values.withUnsafeMutableBufferPointer { target in
                for (i, r) in indices.enumerated() {
                    precondition(r >= 0 && r < rows, "row \(r) out of range 0..<\(rows)")
                    (target.baseAddress! + i * columns).update(from: source.baseAddress! + r * columns, count: columns)
                }
            }
        }
        return out
    }

    /// The transpose.
    public func transposed() -> Matrix {
        var out = Matrix(rows: columns, columns: rows)
        for r in 0..<rows {
            for c in 0..<columns { out.values[c * rows + r] = values[r * columns + c] }
        }
        return out
    }
}
