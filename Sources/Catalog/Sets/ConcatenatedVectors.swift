import Foundation
import Selectors

/// The same column of every shard as one ``VectorSource`` over global rows: shard i's row r is global
/// row offset_i + r. Blocks stream shard after shard; random access maps each row to its shard and
/// reads it in place there.
public struct ConcatenatedVectors: VectorSource, @unchecked Sendable {
    public let parts: [StoredVectors]
    public let offsets: [Int]
    public let rowCount: Int
    public let usableRows: RowMask?

    public init(_ parts: [StoredVectors]) throws {
        guard let first = parts.first else { throw CatalogError(.invalidRequest, "a shard set needs at least one shard") }
        guard parts.allSatisfy({ $0.dimension == first.dimension }) else {
            throw CatalogError(.invalidRequest, "the shards' columns have different dimensions")
        }
        self.parts = parts
        var offsets: [Int] = []
        var total = 0
        for part in parts {
            offsets.append(total)
            total += part.rowCount
        }
        self.offsets = offsets
        rowCount = total
        if parts.allSatisfy({ $0.usableRows == nil }) {
            usableRows = nil
        } else {
            var mask = RowMask(count: total, allSet: true)
            for (part, offset) in zip(parts, offsets) {
                guard let partMask = part.usableRows else { continue }
                for r in 0..<part.rowCount where !partMask.contains(r) { mask.remove(offset + r) }
            }
            usableRows = mask
        }
    }

    public var dimension: Int { parts[0].dimension }

    public func forEachBlock(_ body: (RowBlock) throws -> Void) throws {
        for (part, offset) in zip(parts, offsets) {
            try part.forEachBlock { block in
                try body(RowBlock(firstRow: offset + block.firstRow, rowCount: block.rowCount, dimension: block.dimension, values: block.values))
            }
        }
    }

    /// The shard of global row `row` and its local row.
    func locate(_ row: Int) -> (part: Int, local: Int) {
        var low = 0, high = offsets.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if offsets[mid] <= row { low = mid } else { high = mid - 1 }
        }
        return (low, row - offsets[low])
    }

    public func gather(rows: [Int]) throws -> Matrix {
        var out = Matrix(rows: rows.count, columns: dimension)
        for r in rows where r < 0 || r >= rowCount { throw CatalogError(.invalidRequest, "row \(r) is outside 0..<\(rowCount)") }
        var byPart: [Int: [(position: Int, local: Int)]] = [:]
        for (position, row) in rows.enumerated() {
            let (part, local) = locate(row)
            byPart[part, default: []].append((position, local))
        }
        let d = dimension
        for (part, entries) in byPart {
            let values = try parts[part].gather(rows: entries.map(\.local))
            for (k, entry) in entries.enumerated() {
                for j in 0..<d { out.values[entry.position * d + j] = values.values[k * d + j] }
            }
        }
        return out
    }

    public func withRowPointers<R>(
        _ rows: UnsafeBufferPointer<Int>, _ body: (UnsafeBufferPointer<UnsafeRawPointer>, RowFormat) throws -> R
    ) throws -> R {
        for r in rows where r < 0 || r >= rowCount { throw CatalogError(.invalidRequest, "row \(r) is outside 0..<\(rowCount)") }
        var byPart: [[(position: Int, local: Int)]] = Array(repeating: [], count: parts.count)
        for (position, row) in rows.enumerated() {
            let (part, local) = locate(row)
            byPart[part].append((position, local))
        }
        var pointers = [UnsafeRawPointer](repeating: UnsafeRawPointer(bitPattern: 1)!, count: rows.count)
        var format: RowFormat? = nil
        var mixed = false
        // Nested calls keep every part's pointers valid while `body` runs.
        func collect(_ part: Int) throws -> R {
            if part == parts.count {
                if mixed {
                    let matrix = try gather(rows: Array(rows))
                    return try Array(0..<rows.count).withUnsafeBufferPointer { try matrix.withRowPointers($0, body) }
                }
                return try pointers.withUnsafeBufferPointer { try body($0, format ?? .float32) }
            }
            let entries = byPart[part]
            if entries.isEmpty { return try collect(part + 1) }
            return try entries.map(\.local).withUnsafeBufferPointer { locals in
                try parts[part].withRowPointers(locals) { here, partFormat in
                    if let format, format != partFormat { mixed = true }
                    format = format ?? partFormat
                    for (k, entry) in entries.enumerated() { pointers[entry.position] = here[k] }
                    return try collect(part + 1)
                }
            }
        }
        return try collect(0)
    }
}
