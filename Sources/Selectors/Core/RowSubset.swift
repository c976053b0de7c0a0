/// Some rows of a ``VectorSource``, in the given order, as a source of their own (row i is the base's
/// row `rows[i]`): a greedy over a union of candidates (GreeDi's second round) reads only those rows,
/// in place, where they are stored.
public struct RowSubsetVectors: VectorSource, @unchecked Sendable {
    public let base: any VectorSource
    public let rows: [Int]
    public let usableRows: RowMask?

    public init(_ base: any VectorSource, rows: [Int]) {
        self.base = base
        self.rows = rows
        if let mask = base.usableRows {
            var subset = RowMask(count: rows.count, allSet: false)
            for (i, row) in rows.enumerated() where mask.contains(row) { subset.insert(i) }
            usableRows = subset
        } else {
            usableRows = nil
        }
    }

    public var rowCount: Int { rows.count }
    public var dimension: Int { base.dimension }

    /// Blocks of up to 1,024 rows, gathered from the base.
    public func forEachBlock(_ body: (RowBlock) throws -> Void) throws {
        var first = 0
        while first < rows.count {
            let count = Swift.min(1024, rows.count - first)
            let block = try base.gather(rows: Array(rows[first..<first + count]))
            try block.values.withUnsafeBufferPointer { values in
                try body(RowBlock(firstRow: first, rowCount: count, dimension: dimension, values: values))
            }
            first += count
        }
    }

    public func gather(rows indices: [Int]) throws -> Matrix {
        try base.gather(rows: indices.map { rows[$0] })
    }

    public func withRowPointers<R>(
        _ indices: UnsafeBufferPointer<Int>, _ body: (UnsafeBufferPointer<UnsafeRawPointer>, RowFormat) throws -> R
    ) throws -> R {
        try indices.map { rows[$0] }.withUnsafeBufferPointer { try base.withRowPointers($0, body) }
    }
}
