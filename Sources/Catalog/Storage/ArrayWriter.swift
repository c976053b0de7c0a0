import CKernels
import Foundation

/// A stored array written to staging and not yet committed: what the index needs to record it.
struct StagedArray: Sendable {
    var dtype: StoredDType
    var dim: Int
    var rowCount: Int
    var chunks: [ChunkRecord]
    /// sha256 over dtype, shape and every chunk's raw checksum, in order.
    var contentHash: String

    static func contentHash(dtype: StoredDType, dim: Int, rowCount: Int, checksums: [UInt64]) -> String {
        var hasher = Hashing.SHA256()
        hasher.update("quadcat-array-v1 \(dtype.rawValue) \(dim) \(rowCount)")
        for checksum in checksums { hasher.update(checksum) }
        return hasher.finalizeHex()
    }
}

/// Encodes chunks of one array into a staging area and keeps their records.
final class ChunkSink {
    let dtype: StoredDType
    let dim: Int
    private let staging: StagingArea
    private let policy: CodecPolicy
    private(set) var chunks: [ChunkRecord] = []
    private(set) var rowCount = 0
    /// Bytes written per codec (raw payload, stored payload), for reports.
    private(set) var bytesByCodec: [ChunkCodec: (raw: Int, stored: Int)] = [:]

    init(staging: StagingArea, dtype: StoredDType, dim: Int, policy: CodecPolicy) {
        self.staging = staging
        self.dtype = dtype
        self.dim = dim
        self.policy = policy
    }

    /// Writes one chunk of `rows` rows whose raw payload is `raw`.
    func write(rows: Int, raw: UnsafeRawBufferPointer) throws {
        precondition(rows > 0)
        let checksum = Hashing.xxh64(raw)
        let (codec, stored) = PayloadCodec.encode(raw, dtype: dtype, policy: policy)
        let header = ChunkHeader(
            dtype: dtype, codec: codec, rows: rows, dim: dim, rawLength: raw.count,
            storedLength: stored?.count ?? raw.count, checksum: checksum)
        if let stored {
            try stored.withUnsafeBytes { try append(header, payload: $0) }
        } else {
            try append(header, payload: raw)
        }
    }

    /// Writes a chunk encoded elsewhere (on a worker thread, see ``EncodedChunk``).
    func write(_ chunk: EncodedChunk) throws {
        precondition(chunk.header.dtype == dtype && chunk.header.dim == dim && chunk.header.rows > 0)
        try chunk.stored.withUnsafeBytes { try append(chunk.header, payload: $0) }
    }

    private func append(_ header: ChunkHeader, payload: UnsafeRawBufferPointer) throws {
        let placed = try staging.append(header: header, payload: payload)
        chunks.append(ChunkRecord(
            seq: chunks.count, firstRow: rowCount, rowCount: header.rows, file: placed.file, offset: placed.offset,
            length: placed.length, codec: header.codec, rawLength: header.rawLength, checksum: header.checksum))
        rowCount += header.rows
        let previous = bytesByCodec[header.codec] ?? (0, 0)
        bytesByCodec[header.codec] = (previous.raw + header.rawLength, previous.stored + header.storedLength)
    }

    func finish() -> StagedArray {
        StagedArray(
            dtype: dtype, dim: dim, rowCount: rowCount, chunks: chunks,
            contentHash: StagedArray.contentHash(dtype: dtype, dim: dim, rowCount: rowCount, checksums: chunks.map(\.checksum)))
    }
}

/// Raw chunk size the writers aim for (docs/FORMAT.md, "Arrays and chunking").
let targetChunkBytes = 4 << 20

/// Writes vectors in a stored precision, converting from Float32 or copying same-precision bytes.
final class VectorArrayWriter {
    let dtype: StoredDType
    let dim: Int
    let rowsPerChunk: Int
    private let sink: ChunkSink
    private var buffer: UnsafeMutableRawBufferPointer
    private var bufferedRows = 0

    init(staging: StagingArea, dtype: StoredDType, dim: Int, policy: CodecPolicy) {
        precondition(dtype.isVector && dim > 0)
        self.dtype = dtype
        self.dim = dim
        rowsPerChunk = max(1, targetChunkBytes / dtype.vectorPayloadBytes(rows: 1, dim: dim))
        sink = ChunkSink(staging: staging, dtype: dtype, dim: dim, policy: policy)
        buffer = .allocate(byteCount: dtype.vectorPayloadBytes(rows: rowsPerChunk, dim: dim), alignment: 64)
    }

    deinit { buffer.deallocate() }

    var bytesByCodec: [ChunkCodec: (raw: Int, stored: Int)] { sink.bytesByCodec }

    /// Appends rows given as Float32, converting to the stored precision.
    func append(float32 rows: UnsafeBufferPointer<Float>, count: Int) throws {
        var done = 0
        while done < count {
            let take = min(count - done, rowsPerChunk - bufferedRows)
            let source = rows.baseAddress! + done * dim
            let elements = take * dim
            switch dtype {
            case .float32:
                (buffer.baseAddress! + bufferedRows * dim * 4).copyMemory(from: source, byteCount: elements * 4)
            case .float16:
                qc_f32_to_f16(source, (buffer.baseAddress! + bufferedRows * dim * 2).assumingMemoryBound(to: UInt16.self), elements)
            case .bfloat16:
                qc_f32_to_bf16(source, (buffer.baseAddress! + bufferedRows * dim * 2).assumingMemoryBound(to: UInt16.self), elements)
            case .int8:
                // Layout per chunk: all scales first (rowsPerChunk slots while buffering), codes after.
                let scales = buffer.baseAddress!.assumingMemoryBound(to: Float.self) + bufferedRows
                let codes = (buffer.baseAddress! + rowsPerChunk * 4 + bufferedRows * dim).assumingMemoryBound(to: Int8.self)
                qc_quantize_rows_i8(source, take, dim, codes, scales)
            case .int4:
                let scales = buffer.baseAddress!.assumingMemoryBound(to: Float.self) + bufferedRows
                let rowBytes = (dim + 1) / 2
                let codes = (buffer.baseAddress! + rowsPerChunk * 4 + bufferedRows * rowBytes).assumingMemoryBound(to: UInt8.self)
                qc_quantize_rows_i4(source, take, dim, codes, scales)
            default:
                preconditionFailure()
            }
            bufferedRows += take
            done += take
            if bufferedRows == rowsPerChunk { try flush() }
        }
    }

    /// Appends rows given verbatim in the stored precision (f32/f16/bf16 only).
    func append(storedBytes bytes: UnsafeRawBufferPointer, count: Int) throws {
        precondition(dtype != .int8 && dtype != .int4 && bytes.count == dtype.vectorPayloadBytes(rows: count, dim: dim))
        let rowBytes = dtype.vectorPayloadBytes(rows: 1, dim: dim)
        var done = 0
        while done < count {
            let take = min(count - done, rowsPerChunk - bufferedRows)
            (buffer.baseAddress! + bufferedRows * rowBytes).copyMemory(from: bytes.baseAddress! + done * rowBytes, byteCount: take * rowBytes)
            bufferedRows += take
            done += take
            if bufferedRows == rowsPerChunk { try flush() }
        }
    }

    private func flush() throws {
        guard bufferedRows > 0 else { return }
        if (dtype == .int8 || dtype == .int4) && bufferedRows < rowsPerChunk {
            // Close the gap between the scales and the codes of a short final chunk.
            let codes = buffer.baseAddress! + rowsPerChunk * 4
            let codeBytes = dtype.vectorPayloadBytes(rows: bufferedRows, dim: dim) - bufferedRows * 4
            (buffer.baseAddress! + bufferedRows * 4).copyMemory(from: codes, byteCount: codeBytes)
        }
        let length = dtype.vectorPayloadBytes(rows: bufferedRows, dim: dim)
        try sink.write(rows: bufferedRows, raw: UnsafeRawBufferPointer(rebasing: buffer[0..<length]))
        bufferedRows = 0
    }

    func finish() throws -> StagedArray {
        try flush()
        return sink.finish()
    }
}

/// A chunk checksummed and compressed off the thread that writes it (ingest encodes records on its
/// worker threads, then writes the chunks in order).
struct EncodedChunk: Sendable {
    var header: ChunkHeader
    /// The payload as stored (compressed, or the raw bytes).
    var stored: [UInt8]

    init(dtype: StoredDType, dim: Int, rows: Int, raw: UnsafeRawBufferPointer, policy: CodecPolicy) {
        let (codec, compressed) = PayloadCodec.encode(raw, dtype: dtype, policy: policy)
        stored = compressed ?? Array(raw)
        header = ChunkHeader(
            dtype: dtype, codec: codec, rows: rows, dim: dim, rawLength: raw.count, storedLength: stored.count,
            checksum: Hashing.xxh64(raw))
    }
}

/// Builds the raw payload of a records chunk (rows + 1 little-endian u64 offsets, then the bytes)
/// from records appended one by one, in one reusable buffer.
final class RecordPayloadBuilder {
    private var buffer: UnsafeMutableRawPointer
    private var capacity: Int
    /// Bytes start here; the offsets are put in front of them at the end.
    private var bytesStart = 0
    private var bytesEnd = 0
    private var offsets: [UInt64] = []

    init() {
        capacity = targetChunkBytes + (64 << 10)
        buffer = .allocate(byteCount: capacity, alignment: 64)
    }

    deinit { buffer.deallocate() }

    var rows: Int { max(0, offsets.count - 1) }

    /// Starts a payload of at most `maxRows` records totalling at most `maxBytes` bytes.
    func reset(maxRows: Int, maxBytes: Int) {
        bytesStart = (maxRows + 1) * 8
        let needed = bytesStart + maxBytes
        if needed > capacity {
            buffer.deallocate()
            capacity = needed
            buffer = .allocate(byteCount: capacity, alignment: 64)
        }
        bytesEnd = bytesStart
        offsets.removeAll(keepingCapacity: true)
        offsets.append(0)
    }

    func append(_ record: UnsafeRawBufferPointer) {
        precondition(bytesEnd + record.count <= capacity && offsets.count * 8 <= bytesStart, "payload overflow")
        if record.count > 0 { (buffer + bytesEnd).copyMemory(from: record.baseAddress!, byteCount: record.count) }
        bytesEnd += record.count
        offsets.append(UInt64(bytesEnd - bytesStart))
    }

    /// The finished payload (valid until the next `reset`).
    func payload() -> UnsafeRawBufferPointer {
        let start = bytesStart - offsets.count * 8
        for (i, offset) in offsets.enumerated() {
            (buffer + start + i * 8).storeBytes(of: offset.littleEndian, as: UInt64.self)
        }
        return UnsafeRawBufferPointer(start: buffer + start, count: bytesEnd - start)
    }
}

/// Encodes fixed-layout arrays written in one go: member lists and row bitmaps.
enum FixedArrayWriter {
    static let membersPerChunk = targetChunkBytes / 24

    static func writeMembers(_ members: [(row: Int, score: Double, weight: Double)], staging: StagingArea) throws -> StagedArray {
        let sink = ChunkSink(staging: staging, dtype: .members, dim: 1, policy: .auto)
        var start = 0
        while start < members.count {
            let end = min(members.count, start + membersPerChunk)
            var payload = [UInt8]()
            payload.reserveCapacity((end - start) * 24)
            for m in members[start..<end] {
                withUnsafeBytes(of: Int64(m.row).littleEndian) { payload.append(contentsOf: $0) }
                withUnsafeBytes(of: m.score.bitPattern.littleEndian) { payload.append(contentsOf: $0) }
                withUnsafeBytes(of: m.weight.bitPattern.littleEndian) { payload.append(contentsOf: $0) }
            }
            try payload.withUnsafeBytes { try sink.write(rows: end - start, raw: $0) }
            start = end
        }
        return sink.finish()
    }

    /// A bitmap array of `rowCount` bits in one chunk (dim = 1; the row count is the number of bits).
    static func writeBitmap(words: [UInt64], rowCount: Int, staging: StagingArea) throws -> StagedArray {
        let sink = ChunkSink(staging: staging, dtype: .bitmap, dim: 1, policy: .auto)
        let payload = words.flatMap { word in withUnsafeBytes(of: word.littleEndian) { Array($0) } }
        try payload.withUnsafeBytes { try sink.write(rows: rowCount, raw: $0) }
        return sink.finish()
    }
}
