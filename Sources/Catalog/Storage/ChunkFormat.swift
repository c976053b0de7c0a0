/// Element types a chunk can hold (docs/FORMAT.md, "Element types").
public enum StoredDType: String, Sendable, Codable, CaseIterable {
    case float32 = "f32"
    case float16 = "f16"
    case bfloat16 = "bf16"
    /// int8 codes with one float32 scale per row; payload: rows x f32 scales, then rows x dim codes.
    case int8 = "i8"
    /// int4 codes packed two per byte with one float32 scale per row; payload: rows x f32 scales,
    /// then rows x ceil(dim / 2) bytes.
    case int4 = "i4"
    /// UTF-8 records; payload: (rows + 1) little-endian u64 offsets, then the bytes.
    case records
    /// Subset members; payload: rows x (i64 row, f64 score, f64 weight).
    case members
    /// A row bitmap; payload: little-endian u64 words, bit r%64 of word r/64.
    case bitmap

    /// The byte that names this dtype in a chunk header.
    public var code: UInt8 {
        switch self {
        case .float32: 1
        case .float16: 2
        case .bfloat16: 3
        case .int8: 4
        case .records: 5
        case .members: 6
        case .bitmap: 7
        case .int4: 8
        }
    }

    init?(code: UInt8) {
        guard let match = Self.allCases.first(where: { $0.code == code }) else { return nil }
        self = match
    }

    /// Bytes per element, as the chunk header records it and the byte shuffle uses it; 1 where
    /// shuffling does not apply.
    public var elementSize: Int {
        switch self {
        case .float32: 4
        case .float16, .bfloat16: 2
        case .int8, .int4, .records, .bitmap: 1
        case .members: 8
        }
    }

    /// True for the dtypes that hold vectors readable as Float32.
    public var isVector: Bool { [.float32, .float16, .bfloat16, .int8, .int4].contains(self) }

    /// Raw payload bytes for `rows` vectors of `dim` elements (vector dtypes only).
    func vectorPayloadBytes(rows: Int, dim: Int) -> Int {
        switch self {
        case .float32: rows * dim * 4
        case .float16, .bfloat16: rows * dim * 2
        case .int8: rows * 4 + rows * dim
        case .int4: rows * 4 + rows * ((dim + 1) / 2)
        default: preconditionFailure("\(rawValue) is not a vector dtype")
        }
    }
}

/// How a chunk's payload is stored.
public enum ChunkCodec: String, Sendable, Codable, CaseIterable {
    case raw
    /// LZ4 block format.
    case lz4
    /// Blosc-style byte shuffle by element size, then LZ4.
    case shuffleLZ4 = "shuffle-lz4"

    /// The byte that names this codec in a chunk header.
    public var code: UInt8 {
        switch self {
        case .raw: 0
        case .lz4: 1
        case .shuffleLZ4: 2
        }
    }

    init?(code: UInt8) {
        guard let match = Self.allCases.first(where: { $0.code == code }) else { return nil }
        self = match
    }
}

/// The layout of the fixed 64-byte header in front of every chunk payload, as docs/FORMAT.md specifies
/// it (the format tests read the document's table and compare it with these). All integers little-endian.
///
/// ```
///  0  magic "QCCHUNK\0"      8  u16 format version     10 u8 dtype   11 u8 codec
/// 12  u32 element size      16 u64 rows               24 u32 dim    28 u32 reserved (0)
/// 32  u64 raw length        40 u64 stored length      48 u64 xxh64 of the raw payload
/// 56  u64 xxh64 of bytes 0..<56 (the header's own checksum)
/// ```
/// The payload follows the header; the next chunk starts at the next multiple of 64 bytes, so raw
/// float payloads are aligned for reading in place through mmap.
public enum ChunkHeaderLayout {
    /// A header field: its name in docs/FORMAT.md, its byte offset and its size in bytes.
    public struct Field: Sendable, Equatable {
        public let name: String
        public let offset: Int
        public let size: Int

        public init(name: String, offset: Int, size: Int) {
            self.name = name
            self.offset = offset
            self.size = size
        }
    }

    public static let size = 64
    /// Chunks start at multiples of this many bytes in a segment file.
    public static let alignment = 64
    public static let magic: [UInt8] = Array("QCCHUNK\0".utf8)
    /// The chunk format version this quadcat writes and the only one it reads.
    public static let formatVersion: UInt16 = 1

    public static let magicField = Field(name: "magic", offset: 0, size: 8)
    public static let version = Field(name: "version", offset: 8, size: 2)
    public static let dtype = Field(name: "dtype", offset: 10, size: 1)
    public static let codec = Field(name: "codec", offset: 11, size: 1)
    public static let elementSize = Field(name: "element_size", offset: 12, size: 4)
    public static let rows = Field(name: "rows", offset: 16, size: 8)
    public static let dim = Field(name: "dim", offset: 24, size: 4)
    public static let reserved = Field(name: "reserved", offset: 28, size: 4)
    public static let rawLength = Field(name: "raw_length", offset: 32, size: 8)
    public static let storedLength = Field(name: "stored_length", offset: 40, size: 8)
    public static let checksum = Field(name: "checksum", offset: 48, size: 8)
    public static let headerChecksum = Field(name: "header_checksum", offset: 56, size: 8)

    /// Every field, in byte order; together they cover the header exactly.
    public static let fields = [
        magicField, version, dtype, codec, elementSize, rows, dim, reserved, rawLength, storedLength, checksum, headerChecksum,
    ]
}

/// One chunk header's values (layout: ``ChunkHeaderLayout``).
struct ChunkHeader: Equatable {
    typealias Layout = ChunkHeaderLayout
    static let size = Layout.size
    static let alignment = Layout.alignment
    static let magic = Layout.magic
    static let formatVersion = Layout.formatVersion

    var dtype: StoredDType
    var codec: ChunkCodec
    var rows: Int
    var dim: Int
    var rawLength: Int
    var storedLength: Int
    var checksum: UInt64

    func encoded() -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: Self.size)
        bytes.replaceSubrange(0..<Layout.magicField.size, with: Self.magic)
        func put<T: FixedWidthInteger>(_ value: T, at field: Layout.Field) {
            precondition(MemoryLayout<T>.size == field.size, "header field \(field.name) holds \(field.size) bytes")
            withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(field.offset..<field.offset + $0.count, with: $0) }
        }
        put(Self.formatVersion, at: Layout.version)
        put(dtype.code, at: Layout.dtype)
        put(codec.code, at: Layout.codec)
        put(UInt32(dtype.elementSize), at: Layout.elementSize)
        put(UInt64(rows), at: Layout.rows)
        put(UInt32(dim), at: Layout.dim)
        put(UInt32(0), at: Layout.reserved)
        put(UInt64(rawLength), at: Layout.rawLength)
        put(UInt64(storedLength), at: Layout.storedLength)
        put(checksum, at: Layout.checksum)
        let own = bytes.withUnsafeBytes { Hashing.xxh64(UnsafeRawBufferPointer(rebasing: $0[0..<Layout.headerChecksum.offset])) }
        put(own, at: Layout.headerChecksum)
        return bytes
    }

    /// Parses and checks a header; `place` names the file and offset for error messages.
    static func decode(_ bytes: UnsafeRawBufferPointer, place: @autoclosure () -> String) throws -> ChunkHeader {
        func damaged(_ what: String) -> CatalogError {
            CatalogError(.damaged, "\(place()): \(what)", remedy: "run `quadcat verify` to list the damage")
        }
        guard bytes.count >= size else { throw damaged("chunk header is truncated (\(bytes.count) of \(size) bytes)") }
        guard Array(bytes[0..<Layout.magicField.size]) == magic else { throw damaged("not a chunk header (bad magic)") }
        func get<T: FixedWidthInteger>(_ type: T.Type, at field: Layout.Field) -> T {
            precondition(MemoryLayout<T>.size == field.size, "header field \(field.name) holds \(field.size) bytes")
            return T(littleEndian: bytes.loadUnaligned(fromByteOffset: field.offset, as: T.self))
        }
        let own = Hashing.xxh64(UnsafeRawBufferPointer(rebasing: bytes[0..<Layout.headerChecksum.offset]))
        guard own == get(UInt64.self, at: Layout.headerChecksum) else { throw damaged("chunk header checksum mismatch") }
        let version = get(UInt16.self, at: Layout.version)
        guard version == formatVersion else {
            throw CatalogError(.damaged, "\(place()): chunk format version \(version) is not supported by this quadcat (it reads version \(formatVersion))", remedy: "upgrade quadcat")
        }
        let dtypeCode = get(UInt8.self, at: Layout.dtype), codecCode = get(UInt8.self, at: Layout.codec)
        guard let dtype = StoredDType(code: dtypeCode) else { throw damaged("unknown dtype code \(dtypeCode)") }
        guard let codec = ChunkCodec(code: codecCode) else { throw damaged("unknown codec code \(codecCode)") }
        let elementSize = get(UInt32.self, at: Layout.elementSize)
        guard elementSize == dtype.elementSize else { throw damaged("element size \(elementSize) is not \(dtype.rawValue)'s \(dtype.elementSize)") }
        return ChunkHeader(
            dtype: dtype, codec: codec, rows: Int(get(UInt64.self, at: Layout.rows)), dim: Int(get(UInt32.self, at: Layout.dim)),
            rawLength: Int(get(UInt64.self, at: Layout.rawLength)), storedLength: Int(get(UInt64.self, at: Layout.storedLength)),
            checksum: get(UInt64.self, at: Layout.checksum))
    }

    /// Bytes from the header start to the next chunk (header, payload, padding).
    var paddedLength: Int {
        let unpadded = Self.size + storedLength
        return (unpadded + Self.alignment - 1) / Self.alignment * Self.alignment
    }
}
