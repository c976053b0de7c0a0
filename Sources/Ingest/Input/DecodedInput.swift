/// An input's JSONL bytes, decompressed on the fly when the input is gzip or zstd.
protocol ByteStream: AnyObject {
    /// Reads up to `count` decoded bytes; returns 0 only at the end of the input. A damaged or
    /// truncated compressed input throws, naming the input and the byte offset (in the stored file).
    func read(into destination: UnsafeMutableRawPointer, count: Int) throws(IngestError) -> Int
}

/// Opens an input and picks its decoder from its first bytes.
final class DecodedInput {
    let raw: RawInput
    let compression: InputCompression
    private let stream: ByteStream

    init(_ input: JSONLInput) throws(IngestError) {
        raw = try RawInput(input)
        let first = UnsafeMutableRawBufferPointer.allocate(byteCount: 4, alignment: 1)
        defer { first.deallocate() }
        let got = try raw.readFully(into: first.baseAddress!, count: 4)
        let prefix = Array(first.prefix(got))
        compression = InputCompression.detect(prefix)
        switch compression {
        case .none: stream = PlainStream(raw: raw, prefix: prefix)
        case .gzip: stream = try GzipStream(raw: raw, prefix: prefix)
        case .zstd: stream = try ZstdStream(raw: raw, prefix: prefix)
        }
    }

    func read(into destination: UnsafeMutableRawPointer, count: Int) throws(IngestError) -> Int {
        try stream.read(into: destination, count: count)
    }
}

/// Uncompressed input: the bytes as they are, read straight into the caller's buffer.
private final class PlainStream: ByteStream {
    private let raw: RawInput
    private var prefix: [UInt8]

    init(raw: RawInput, prefix: [UInt8]) {
        self.raw = raw
        self.prefix = prefix
    }

    func read(into destination: UnsafeMutableRawPointer, count: Int) throws(IngestError) -> Int {
        if !prefix.isEmpty {
            let n = min(count, prefix.count)
            prefix.withUnsafeBytes { destination.copyMemory(from: $0.baseAddress!, byteCount: n) }
            prefix.removeFirst(n)
            return n
        }
        return try raw.read(into: destination, count: count)
    }
}

/// Compressed bytes read ahead from a raw input for a decompressor, starting with the bytes that were
/// read to recognise the format.
final class CompressedBuffer {
    static let capacity = 1 << 20
    let bytes = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
    /// Valid bytes are `bytes[start..<end]`.
    var start = 0
    var end = 0
    private(set) var atEnd = false
    private let raw: RawInput

    init(raw: RawInput, prefix: [UInt8]) {
        self.raw = raw
        prefix.withUnsafeBytes { bytes.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        end = prefix.count
    }

    deinit { bytes.deallocate() }

    var available: Int { end - start }

    /// Stored-file offset of `bytes[start]`, for error messages.
    var offset: Int { raw.consumed - available }

    /// Refills the buffer when it is empty; returns false at the end of the raw input.
    func refillIfEmpty() throws(IngestError) -> Bool {
        guard start == end else { return true }
        guard !atEnd else { return false }
        start = 0
        end = try raw.read(into: bytes, count: Self.capacity)
        if end == 0 { atEnd = true }
        return end > 0
    }
}
