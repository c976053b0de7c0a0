/// Element types a chunk can hold (DESIGN §3).
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

    var code: UInt8 {
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

    /// Bytes per element for the byte shuffle; 1 where shuffling does not apply.
    var elementSize: Int {
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

    var code: UInt8 {
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

/// The fixed 64-byte header in front of every chunk payload. All integers little-endian.
///
/// ```
///  0  magic "QCCHUNK\0"      8  u16 format version     10 u8 dtype   11 u8 codec
/// 12  u32 element size      16 u64 rows               24 u32 dim    28 u32 reserved (0)
/// 32  u64 raw length        40 u64 stored length      48 u64 xxh64 of the raw payload
/// 56  u64 xxh64 of bytes 0..<56 (the header's own checksum)
/// ```
/// The payload follows the header; the next chunk starts at the next multiple of 64 bytes, so raw
/// float payloads are aligned for reading in place through mmap.
struct ChunkHeader: Equatable {
    static let size = 64
    static let alignment = 64
    static let magic: [UInt8] = Array("QCCHUNK\0".utf8)
    static let formatVersion: UInt16 = 1

    var dtype: StoredDType
    var codec: ChunkCodec
    var rows: Int
    var dim: Int
    var rawLength: Int
    var storedLength: Int
    var checksum: UInt64

    func encoded() -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: Self.size)
        bytes.replaceSubrange(0..<8, with: Self.magic)
        func put<T: FixedWidthInteger>(_ value: T, at offset: Int) {
            withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(offset..<offset + $0.count, with: $0) }
        }
        put(Self.formatVersion, at: 8)
        bytes[10] = dtype.code
        bytes[11] = codec.code
        put(UInt32(dtype.elementSize), at: 12)
        put(UInt64(rows), at: 16)
        put(UInt32(dim), at: 24)
        put(UInt64(rawLength), at: 32)
        put(UInt64(storedLength), at: 40)
        put(checksum, at: 48)
        let own = bytes.withUnsafeBytes { Hashing.xxh64(UnsafeRawBufferPointer(rebasing: $0[0..<56])) }
        put(own, at: 56)
        return bytes
    }

    /// Parses and checks a header; `place` names the file and offset for error messages.
    static func decode(_ bytes: UnsafeRawBufferPointer, place: @autoclosure () -> String) throws -> ChunkHeader {
        func damaged(_ what: String) -> CatalogError {
            CatalogError(.damaged, "\(place()): \(what)", remedy: "run `quadcat verify` to list the damage")
        }
        guard bytes.count >= size else { throw damaged("chunk header is truncated (\(bytes.count) of \(size) bytes)") }
        guard Array(bytes[0..<8]) == magic else { throw damaged("not a chunk header (bad magic)") }
        func get<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T {
            T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
        }
        let own = Hashing.xxh64(UnsafeRawBufferPointer(rebasing: bytes[0..<56]))
        guard own == get(UInt64.self, at: 56) else { throw damaged("chunk header checksum mismatch") }
        let version = get(UInt16.self, at: 8)
        guard version == formatVersion else {
            throw CatalogError(.damaged, "\(place()): chunk format version \(version) is not supported by this quadcat (it reads version \(formatVersion))", remedy: "upgrade quadcat")
        }
        guard let dtype = StoredDType(code: bytes[10]) else { throw damaged("unknown dtype code \(bytes[10])") }
        guard let codec = ChunkCodec(code: bytes[11]) else { throw damaged("unknown codec code \(bytes[11])") }
        return ChunkHeader(
            dtype: dtype, codec: codec, rows: Int(get(UInt64.self, at: 16)), dim: Int(get(UInt32.self, at: 24)),
            rawLength: Int(get(UInt64.self, at: 32)), storedLength: Int(get(UInt64.self, at: 40)),
            checksum: get(UInt64.self, at: 48))
    }

    /// Bytes from the header start to the next chunk (header, payload, padding).
    var paddedLength: Int {
        let unpadded = Self.size + storedLength
        return (unpadded + Self.alignment - 1) / Self.alignment * Self.alignment
    }
}
