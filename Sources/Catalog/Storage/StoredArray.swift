import CKernels
import Foundation
import Selectors

/// A committed array: its shape and where its chunks are.
struct StoredArray: Sendable {
    var id: Int64
    var dtype: StoredDType
    var dim: Int
    var rowCount: Int
    var contentHash: String
    var chunks: [ChunkRecord]

    /// Index of the chunk holding `row` (binary search on first rows).
    func chunkIndex(containing row: Int) -> Int {
        var low = 0, high = chunks.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if chunks[mid].firstRow <= row { low = mid } else { high = mid - 1 }
        }
        return low
    }

    /// The segment files that the chunks after chunk `index` are stored in, other than chunk `index`'s
    /// own, in order, at most `limit` of them: what a scan at chunk `index` reads next.
    func segments(after index: Int, limit: Int) -> [String] {
        var found: [String] = []
        var last = chunks[index].file
        for chunk in chunks[(index + 1)...] where chunk.file != last {
            if found.count == limit { break }
            found.append(chunk.file)
            last = chunk.file
        }
        return found
    }
}

/// Decodes chunk payloads into raw bytes (zero-copy for raw chunks).
struct ChunkDecoder {
    let cache: SegmentCache
    let array: StoredArray

    /// For a scan in chunk order, before it reads chunk `index`: on entering a segment, has the next
    /// two mapped in the background, so the disk reads ahead while this one decodes (and the decoding
    /// never waits for the disk when it is the faster of the two).
    func readAhead(enteringChunk index: Int) {
        guard index == 0 || array.chunks[index - 1].file != array.chunks[index].file else { return }
        cache.prefetch(array.segments(after: index, limit: 2))
    }

    /// Calls `body` with the raw payload of chunk `index`; the memory is valid during the call only.
    func withRawPayload<T>(_ index: Int, _ body: (UnsafeRawBufferPointer) throws -> T) throws -> T {
        let record = array.chunks[index]
        let (header, stored, segment) = try cache.chunk(record, dtype: array.dtype, dim: array.dim)
        return try withExtendedLifetime(segment) {
            if header.codec == .raw { return try body(stored) }
            let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: header.rawLength, alignment: 64)
            defer { raw.deallocate() }
            try PayloadCodec.decode(stored, header: header, into: raw, place: "\(record.file) at byte \(record.offset)")
            return try body(UnsafeRawBufferPointer(raw))
        }
    }
}

/// A stored vector array read as Float32 blocks, whatever its stored precision: the catalog's side of
/// the ``VectorSource`` contract that selectors consume.
public struct StoredVectors: VectorSource, @unchecked Sendable {
    let array: StoredArray
    let cache: SegmentCache
    public let usableRows: RowMask?
    /// Rows per block handed to the consumer: about 256 KiB of Float32, so the blocks in flight stay
    /// in L2.
    let blockRows: Int
    /// Where each raw chunk's rows start in the mapped segments, found once (random access).
    private let payloads = PayloadTable()

    init(array: StoredArray, cache: SegmentCache, usableRows: RowMask?) {
        precondition(array.dtype.isVector)
        self.array = array
        self.cache = cache
        self.usableRows = usableRows
        blockRows = max(1, (256 << 10) / (array.dim * 4))
    }

    public var rowCount: Int { array.rowCount }
    public var dimension: Int { array.dim }
    /// The precision the vectors are stored in.
    public var storedDType: StoredDType { array.dtype }

    /// Starts mapping (reading) the first segments of the array in the background.
    public func prefetch() {
        guard !array.chunks.isEmpty else { return }
        cache.prefetch([array.chunks[0].file] + array.segments(after: 0, limit: 1))
    }

    public func forEachBlock(_ body: (RowBlock) throws -> Void) throws {
        // Raw float32 chunks are read in place: nothing to decode. Other precisions decode ahead on a
        // second thread, unless the array is too small for that to pay.
        let inPlace = array.dtype == .float32 && array.chunks.allSatisfy { $0.codec == .raw }
        if !inPlace && array.rowCount * array.dim > 4 << 20 && ProcessInfo.processInfo.activeProcessorCount > 1 {
            // Large blocks: every hand-over between the threads costs a wake-up.
            return try DecodeAheadScan(array: array, cache: cache, blockRows: max(1, (4 << 20) / (array.dim * 4))).run(body)
        }
        let decoder = ChunkDecoder(cache: cache, array: array)
        let dim = array.dim
        let scratch = UnsafeMutableBufferPointer<Float>.allocate(capacity: blockRows * dim)
        defer { scratch.deallocate() }
        for (index, chunk) in array.chunks.enumerated() {
            decoder.readAhead(enteringChunk: index)
            try decoder.withRawPayload(index) { raw in
                var start = 0
                while start < chunk.rowCount {
                    let count = min(blockRows, chunk.rowCount - start)
                    let values = try Self.floats(raw, dtype: array.dtype, chunkRows: chunk.rowCount, dim: dim, rows: start..<start + count, scratch: scratch)
                    try body(RowBlock(firstRow: chunk.firstRow + start, rowCount: count, dimension: dim, values: values))
                    start += count
                }
            }
        }
    }

    public func gather(rows: [Int]) throws -> Matrix {
        var out = Matrix(rows: rows.count, columns: array.dim)
        guard !rows.isEmpty else { return out }
        for r in rows where r < 0 || r >= array.rowCount {
            throw CatalogError(.invalidRequest, "row \(r) is outside 0..<\(array.rowCount)")
        }
        // Visit chunks in order, each once, filling the requested positions.
        let order = rows.indices.sorted { rows[$0] < rows[$1] }
        let decoder = ChunkDecoder(cache: cache, array: array)
        let dim = array.dim
        let scratch = UnsafeMutableBufferPointer<Float>.allocate(capacity: dim)
        defer { scratch.deallocate() }
        var position = 0
        try out.values.withUnsafeMutableBufferPointer { target in
            while position < order.count {
                let chunkIndex = array.chunkIndex(containing: rows[order[position]])
                let chunk = array.chunks[chunkIndex]
                try decoder.withRawPayload(chunkIndex) { raw in
                    while position < order.count, rows[order[position]] < chunk.firstRow + chunk.rowCount {
                        let local = rows[order[position]] - chunk.firstRow
                        let values = try Self.floats(raw, dtype: array.dtype, chunkRows: chunk.rowCount, dim: dim, rows: local..<local + 1, scratch: scratch)
                        (target.baseAddress! + order[position] * dim).update(from: values.baseAddress!, count: dim)
                        position += 1
                    }
                }
            }
        }
        return out
    }

    /// Whether every chunk is stored raw (uncompressed) as float32 or float16: rows can then be read
    /// in place from the mapped segment files.
    var readsInPlace: Bool {
        (array.dtype == .float32 || array.dtype == .float16) && array.chunks.allSatisfy { $0.codec == .raw }
    }

    public func withRowPointers<R>(
        _ rows: UnsafeBufferPointer<Int>, _ body: (UnsafeBufferPointer<UnsafeRawPointer>, RowFormat) throws -> R
    ) throws -> R {
        for r in rows where r < 0 || r >= array.rowCount {
            throw CatalogError(.invalidRequest, "row \(r) is outside 0..<\(array.rowCount)")
        }
        let dim = array.dim
        guard readsInPlace else {
            // Other precisions (or compressed chunks): decode the rows into scratch, chunk by chunk.
            let matrix = try gather(rows: Array(rows))
            return try Array(0..<rows.count).withUnsafeBufferPointer { try matrix.withRowPointers($0, body) }
        }
        let rowBytes = dim * (array.dtype == .float32 ? 4 : 2)
        let bases = try payloads.bases { try array.chunks.map { try cache.chunk($0, dtype: array.dtype, dim: dim).stored.baseAddress! } }
        var pointers = [UnsafeRawPointer](repeating: UnsafeRawPointer(bitPattern: 1)!, count: rows.count)
        // The segment cache keeps every mapping it made for the life of the catalog handle, so the
        // pointers stay valid for the whole call.
        var index = 0
        for (i, r) in rows.enumerated() {
            let chunk = array.chunks[index]
            if r < chunk.firstRow || r >= chunk.firstRow + chunk.rowCount { index = array.chunkIndex(containing: r) }
            pointers[i] = bases[index] + (r - array.chunks[index].firstRow) * rowBytes
        }
        return try pointers.withUnsafeBufferPointer { try body($0, array.dtype == .float32 ? .float32 : .float16) }
    }

    /// Rows `rows` of a decoded chunk as Float32: in place for f32, converted into `scratch` otherwise.
    static func floats(
        _ raw: UnsafeRawBufferPointer, dtype: StoredDType, chunkRows: Int, dim: Int, rows: Range<Int>,
        scratch: UnsafeMutableBufferPointer<Float>
    ) throws -> UnsafeBufferPointer<Float> {
        let elements = rows.count * dim
        let out = UnsafeMutableBufferPointer(rebasing: scratch[0..<elements])
        switch dtype {
        case .float32:
            let base = (raw.baseAddress! + rows.lowerBound * dim * 4).assumingMemoryBound(to: Float.self)
            return UnsafeBufferPointer(start: base, count: elements)
        case .float16:
            qc_f16_to_f32((raw.baseAddress! + rows.lowerBound * dim * 2).assumingMemoryBound(to: UInt16.self), out.baseAddress!, elements)
        case .bfloat16:
            qc_bf16_to_f32((raw.baseAddress! + rows.lowerBound * dim * 2).assumingMemoryBound(to: UInt16.self), out.baseAddress!, elements)
        case .int8:
            let scales = raw.baseAddress!.assumingMemoryBound(to: Float.self) + rows.lowerBound
            let codes = (raw.baseAddress! + chunkRows * 4 + rows.lowerBound * dim).assumingMemoryBound(to: Int8.self)
            qc_dequantize_rows_i8(codes, scales, rows.count, dim, out.baseAddress!)
        case .int4:
            let scales = raw.baseAddress!.assumingMemoryBound(to: Float.self) + rows.lowerBound
            let rowBytes = (dim + 1) / 2
            let codes = (raw.baseAddress! + chunkRows * 4 + rows.lowerBound * rowBytes).assumingMemoryBound(to: UInt8.self)
            qc_dequantize_rows_i4(codes, scales, rows.count, dim, out.baseAddress!)
        default:
            preconditionFailure("\(dtype) is not a vector dtype")
        }
        return UnsafeBufferPointer(out)
    }
}

/// The payload start of every chunk of an array, found on first use and kept (thread-safe).
final class PayloadTable: @unchecked Sendable {
    private let lock = NSLock()
    private var table: [UnsafeRawPointer]?

    func bases(_ build: () throws -> [UnsafeRawPointer]) rethrows -> [UnsafeRawPointer] {
        lock.lock()
        defer { lock.unlock() }
        if let table { return table }
        let built = try build()
        table = built
        return built
    }
}

/// Reading the non-vector arrays: records, member lists and bitmaps.
extension ChunkDecoder {
    /// Calls `body` for every record of rows `range` in order, with the record's bytes.
    func forEachRecord(in range: Range<Int>? = nil, _ body: (Int, UnsafeRawBufferPointer) throws -> Void) throws {
        precondition(array.dtype == .records)
        let wanted = range ?? 0..<array.rowCount
        guard !wanted.isEmpty else { return }
        var index = array.chunkIndex(containing: wanted.lowerBound)
        while index < array.chunks.count, array.chunks[index].firstRow < wanted.upperBound {
            let chunk = array.chunks[index]
            try withRawPayload(index) { raw in
                let offsets = try recordOffsets(raw, rows: chunk.rowCount)
                let lower = max(wanted.lowerBound, chunk.firstRow) - chunk.firstRow
                let upper = min(wanted.upperBound, chunk.firstRow + chunk.rowCount) - chunk.firstRow
                for i in lower..<upper {
                    let record = UnsafeRawBufferPointer(rebasing: raw[offsets.dataStart + offsets.at(i)..<offsets.dataStart + offsets.at(i + 1)])
                    try body(chunk.firstRow + i, record)
                }
            }
            index += 1
        }
    }

    /// The records of the given rows, in the given order.
    func records(rows: [Int]) throws -> [[UInt8]] {
        var out = [[UInt8]](repeating: [], count: rows.count)
        let order = rows.indices.sorted { rows[$0] < rows[$1] }
        var position = 0
        while position < order.count {
            let chunkIndex = array.chunkIndex(containing: rows[order[position]])
            let chunk = array.chunks[chunkIndex]
            try withRawPayload(chunkIndex) { raw in
                let offsets = try recordOffsets(raw, rows: chunk.rowCount)
                while position < order.count, rows[order[position]] < chunk.firstRow + chunk.rowCount {
                    let i = rows[order[position]] - chunk.firstRow
                    out[order[position]] = Array(raw[offsets.dataStart + offsets.at(i)..<offsets.dataStart + offsets.at(i + 1)])
                    position += 1
                }
            }
        }
        return out
    }

    private func recordOffsets(_ raw: UnsafeRawBufferPointer, rows: Int) throws -> (dataStart: Int, at: (Int) -> Int) {
        let dataStart = (rows + 1) * 8
        guard raw.count >= dataStart else {
            throw CatalogError(.damaged, "records chunk is shorter than its offset table", remedy: "run `quadcat verify`")
        }
        let table = raw
        let at: (Int) -> Int = { Int(UInt64(littleEndian: table.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self))) }
        guard at(rows) + dataStart == raw.count else {
            throw CatalogError(.damaged, "records chunk offsets do not match its length", remedy: "run `quadcat verify`")
        }
        return (dataStart, at)
    }

    /// Every member of a member-list array, in rank order.
    func members() throws -> [Member] {
        precondition(array.dtype == .members)
        var out: [Member] = []
        out.reserveCapacity(array.rowCount)
        for index in array.chunks.indices {
            try withRawPayload(index) { raw in
                for i in 0..<array.chunks[index].rowCount {
                    let row = Int(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: i * 24, as: Int64.self)))
                    let score = Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i * 24 + 8, as: UInt64.self)))
                    let weight = Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i * 24 + 16, as: UInt64.self)))
                    out.append(Member(row: row, score: score, weight: weight))
                }
            }
        }
        return out
    }

    /// A bitmap array as a row mask.
    func rowMask() throws -> RowMask {
        precondition(array.dtype == .bitmap && array.chunks.count == 1)
        return try withRawPayload(0) { raw in
            let words = (0..<raw.count / 8).map { UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self)) }
            guard words.count == (array.rowCount + 63) / 64 else {
                throw CatalogError(.damaged, "row bitmap has \(words.count) words for \(array.rowCount) rows", remedy: "run `quadcat verify`")
            }
            return RowMask(count: array.rowCount, words: words)
        }
    }
}
