import Foundation

/// A flat little-endian record of integers and number arrays: the state a merge hands to the next
/// one as a file (JSON would spell out millions of floats).
public struct ArchiveWriter: Sendable {
    public private(set) var data = Data()

    public init(magic: String) { data.append(contentsOf: Array(magic.utf8) + [0x0A]) }

    public mutating func int(_ value: Int) { withUnsafeBytes(of: Int64(value).littleEndian) { data.append(contentsOf: $0) } }
    public mutating func double(_ value: Double) { int(Int(Int64(bitPattern: value.bitPattern))) }
    public mutating func words(_ values: [UInt64]) {
        int(values.count)
        for value in values { int(Int(Int64(bitPattern: value))) }
    }
    public mutating func ints(_ values: [Int]) {
        int(values.count)
        for value in values { int(value) }
    }
    public mutating func floats(_ values: [Float]) {
        int(values.count)
        values.withUnsafeBytes { data.append(contentsOf: $0) }
    }
    /// A matrix: its column count, then its values (the row count follows from them).
    public mutating func matrix(_ matrix: Matrix) {
        int(matrix.columns)
        floats(matrix.values)
    }
    /// Integers that fit in 32 bits (cluster labels), four bytes each.
    public mutating func int32s(_ values: [Int32]) {
        int(values.count)
        values.withUnsafeBytes { data.append(contentsOf: $0) }
    }
}

/// Reads what an ``ArchiveWriter`` wrote, in the same order; a short or foreign file throws.
public struct ArchiveReader {
    private let data: Data
    private var offset: Int
    private let what: String

    /// - Parameter what: names the file in errors.
    public init(_ data: Data, magic: String, what: String) throws {
        let header = Data(Array(magic.utf8) + [0x0A])
        guard data.starts(with: header) else { throw SelectorError("\(what) is not a \(magic) file") }
        self.data = data
        self.offset = data.startIndex + header.count
        self.what = what
    }

    private mutating func take(_ bytes: Int) throws -> Range<Int> {
        guard bytes >= 0, offset + bytes <= data.endIndex else { throw SelectorError("\(what) is truncated") }
        defer { offset += bytes }
        return offset..<(offset + bytes)
    }

    public mutating func int() throws -> Int {
        let range = try take(8)
        return Int(Int64(littleEndian: data[range].withUnsafeBytes { $0.loadUnaligned(as: Int64.self) }))
    }
    public mutating func double() throws -> Double { Double(bitPattern: UInt64(bitPattern: Int64(try int()))) }
    public mutating func words() throws -> [UInt64] { try (0..<(try count(8))).map { _ in UInt64(bitPattern: Int64(try int())) } }
    public mutating func ints() throws -> [Int] { try (0..<(try count(8))).map { _ in try int() } }
    public mutating func floats() throws -> [Float] { try copied(Float.self) }
    /// What ``ArchiveWriter/matrix(_:)`` wrote; refuses a column count that does not divide the values.
    public mutating func matrix() throws -> Matrix {
        let columns = try int()
        let values = try floats()
        guard columns > 0, values.count % columns == 0 else { throw SelectorError("\(what) holds a damaged matrix") }
        return Matrix(rows: values.count / columns, columns: columns, values: values)
    }
    public mutating func int32s() throws -> [Int32] { try copied(Int32.self) }

    /// A counted array of 4-byte values, copied out in one go (a sample's embeddings are millions).
    private mutating func copied<T>(_ type: T.Type) throws -> [T] {
        let n = try count(4)
        let range = try take(n * 4)
        return [T](unsafeUninitializedCapacity: n) { buffer, initialized in
            data[range].withUnsafeBytes { raw in
                if n > 0 { UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(from: raw.baseAddress!, byteCount: n * 4) }
            }
            initialized = n
        }
    }

    /// An element count, checked against what is left so a damaged count cannot ask for terabytes.
    private mutating func count(_ elementSize: Int) throws -> Int {
        let n = try int()
        guard n >= 0, n <= (data.endIndex - offset) / elementSize else { throw SelectorError("\(what) is truncated") }
        return n
    }
}
