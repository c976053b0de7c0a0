/// A block of consecutive rows handed out by a ``VectorSource`` scan.
///
/// The memory behind `values` is only valid during the callback that receives the block.
public struct RowBlock {
    /// Index of the first row of the block in its source.
    public let firstRow: Int
    /// Number of rows in the block.
    public let rowCount: Int
    /// Vector dimension.
    public let dimension: Int
    /// `rowCount * dimension` row-major values.
    public let values: UnsafeBufferPointer<Float>

    public init(firstRow: Int, rowCount: Int, dimension: Int, values: UnsafeBufferPointer<Float>) {
        precondition(values.count == rowCount * dimension, "block holds \(values.count) values, expected \(rowCount * dimension)")
        self.firstRow = firstRow
        self.rowCount = rowCount
        self.dimension = dimension
        self.values = values
    }

    /// Row `i` of the block (0-based within the block).
    public func row(_ i: Int) -> UnsafeBufferPointer<Float> {
        UnsafeBufferPointer(rebasing: values[i * dimension..<(i + 1) * dimension])
    }
}

/// n vectors of one dimension that a selector reads as row-major `Float` blocks.
///
/// Selectors only see this protocol: ``Matrix`` conforms for data in memory, and the catalog's stored
/// columns conform by streaming their chunks, so the algorithms never know where rows come from.
public protocol VectorSource: Sendable {
    /// Number of rows (vectors).
    var rowCount: Int { get }
    /// Length of each vector.
    var dimension: Int { get }
    /// Rows that hold a usable vector; `nil` when every row does. Rows outside the mask (absent or
    /// non-finite at ingest) read as zeros and must never be picked for their vector.
    var usableRows: RowMask? { get }
    /// Calls `body` with consecutive blocks that cover rows `0..<rowCount` in order.
    func forEachBlock(_ body: (RowBlock) throws -> Void) throws
    /// The given rows, in the given order, as a matrix.
    func gather(rows: [Int]) throws -> Matrix
    /// Calls `body` with a pointer to each of the given rows, in their order, in a ``RowFormat`` the
    /// product kernels read: stored Float32 and Float16 rows are handed out in place (no copy), other
    /// precisions decoded into scratch memory that lives for the call. For random access to a column
    /// that is too large to copy (lazy greedy refreshes, candidate rows).
    func withRowPointers<R>(
        _ rows: UnsafeBufferPointer<Int>, _ body: (UnsafeBufferPointer<UnsafeRawPointer>, RowFormat) throws -> R
    ) throws -> R
    /// A hint that a scan of this source begins soon: stored columns start reading their first rows
    /// from disk in the background, so that a selector scanning several columns in turn keeps the
    /// disk busy between them. Sources in memory do nothing.
    func prefetch()
}

extension VectorSource {
    public func prefetch() {}

    /// ``forEachBlock(_:)``, asking `next` (the source the caller scans after this one) to
    /// ``prefetch()`` once half of this one has been handed out: by then the rest of this scan is on
    /// its way from disk, so a cold scan of several columns in turn never waits between them.
    public func forEachBlock(thenPrefetching next: (any VectorSource)?, _ body: (RowBlock) throws -> Void) throws {
        var hinted = next == nil
        try forEachBlock { block in
            if !hinted && 2 * (block.firstRow + block.rowCount) >= rowCount {
                hinted = true
                next?.prefetch()
            }
            try body(block)
        }
    }

    /// All rows as one matrix (for algorithms that need random access to every row).
    public func materialize() throws -> Matrix {
        var out = Matrix(rows: rowCount, columns: dimension)
        try out.values.withUnsafeMutableBufferPointer { target in
            try forEachBlock { block in
                let start = target.baseAddress! + block.firstRow * dimension
                start.update(from: block.values.baseAddress!, count: block.values.count)
            }
        }
        return out
    }

    /// True when row `r` carries a usable vector.
    public func isUsable(_ r: Int) -> Bool { usableRows?.contains(r) ?? true }
}

extension Matrix: VectorSource {
    public var rowCount: Int { rows }
    public var dimension: Int { columns }
    public var usableRows: RowMask? { nil }

    /// Hands out the matrix in blocks of at most 1024 rows, without copying.
    public func forEachBlock(_ body: (RowBlock) throws -> Void) throws {
        let blockRows = 1024
        try values.withUnsafeBufferPointer { all in
            var first = 0
            while first < rows {
                let count = Swift.min(blockRows, rows - first)
                let slice = UnsafeBufferPointer(rebasing: all[first * columns..<(first + count) * columns])
                try body(RowBlock(firstRow: first, rowCount: count, dimension: columns, values: slice))
                first += count
            }
        }
    }

    public func gather(rows indices: [Int]) throws -> Matrix { rows(indices) }
}

/// A ``VectorSource`` over a matrix with some rows marked unusable.
public struct MaskedMatrix: VectorSource {
    public let matrix: Matrix
    public let usableRows: RowMask?

    public init(_ matrix: Matrix, usableRows: RowMask?) {
        precondition(usableRows.map { $0.count == matrix.rows } ?? true, "mask length must equal the row count")
        self.matrix = matrix
        self.usableRows = usableRows
    }

    public var rowCount: Int { matrix.rows }
    public var dimension: Int { matrix.columns }
    public func forEachBlock(_ body: (RowBlock) throws -> Void) throws { try matrix.forEachBlock(body) }
    public func gather(rows: [Int]) throws -> Matrix { matrix.rows(rows) }
}
