import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A streaming `.npy` writer: the header first, then the data appended in pieces of any size.
///
/// Writes format version 1.0 (version 2.0 if the header would not fit a 16-bit length), 1-d or 2-d,
/// C order, with the header padded so the data starts on a 64-byte boundary as NumPy does. Memory use
/// is one 1 MiB staging buffer. ``finish()`` checks that exactly the declared shape was written and
/// fsyncs the file; a writer dropped without `finish()` leaves an incomplete file behind.
public struct NpyWriter {
    /// The element types the writer produces (little-endian).
    public enum DType: String, Sendable {
        case float32 = "<f4"
        case float16 = "<f2"
        case int64 = "<i8"

        /// Bytes per element.
        public var byteWidth: Int {
            switch self {
            case .float32: 4
            case .float16: 2
            case .int64: 8
            }
        }
    }

    public let url: URL
    public let dtype: DType
    public let shape: [Int]
    /// Data bytes the shape calls for.
    public let expectedByteCount: Int
    /// Data bytes appended so far.
    public private(set) var writtenByteCount = 0

    private let sink: NpyFileSink

    /// Creates (or truncates) the file at `url` and writes the header for an array of `shape` (1 or 2
    /// non-negative sizes).
    public init(url: URL, dtype: DType, shape: [Int]) throws {
        precondition(shape.count == 1 || shape.count == 2, "NpyWriter writes 1-d or 2-d arrays, not shape \(shape)")
        precondition(shape.allSatisfy { $0 >= 0 }, "negative size in shape \(shape)")
        self.url = url
        self.dtype = dtype
        self.shape = shape
        var total = dtype.byteWidth
        for n in shape {
            let (product, overflow) = total.multipliedReportingOverflow(by: n)
            precondition(!overflow, "shape \(shape) is too large")
            total = product
        }
        expectedByteCount = total
        sink = try NpyFileSink(path: url.path)
        let header = NpyWriter.header(dtype: dtype, shape: shape)
        try header.withUnsafeBytes { try sink.append($0) }
    }

    /// The complete header (magic, version, length, padded dict) for `dtype` and `shape`.
    static func header(dtype: DType, shape: [Int]) -> [UInt8] {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        let dict = "{'descr': '\(dtype.rawValue)', 'fortran_order': False, 'shape': \(shapeText), }"
        var major: UInt8 = 1
        var prefixLength = 10
        var padded = dict.utf8.count + 1
        padded += (64 - (prefixLength + padded) % 64) % 64
        if padded > Int(UInt16.max) {
            major = 2
            prefixLength = 12
            padded = dict.utf8.count + 1
            padded += (64 - (prefixLength + padded) % 64) % 64
        }
        var bytes = NpyHeader.magic + [major, 0]
        for i in 0..<(prefixLength - 8) { bytes.append(UInt8(truncatingIfNeeded: padded >> (8 * i))) }
        bytes += Array(dict.utf8)
        bytes += [UInt8](repeating: 0x20, count: padded - dict.utf8.count - 1)
        bytes.append(0x0a)
        return bytes
    }

    /// Appends raw little-endian element bytes (any number; rows may be split across calls).
    public mutating func append(_ bytes: UnsafeRawBufferPointer) throws {
        guard writtenByteCount + bytes.count <= expectedByteCount else {
            throw IngestError(file: url.path, location: "byte \(writtenByteCount)",
                              problem: "appending \(bytes.count) bytes would exceed the \(expectedByteCount) data bytes of shape \(shape)",
                              remedy: "Write exactly the rows the shape declares.")
        }
        try sink.append(bytes)
        writtenByteCount += bytes.count
    }

    /// Checks that the data matches the shape, flushes, fsyncs and closes the file.
    public mutating func finish() throws {
        guard writtenByteCount == expectedByteCount else {
            throw IngestError(file: url.path, problem: "only \(writtenByteCount) of the \(expectedByteCount) data bytes of shape \(shape) were written",
                              remedy: "Write every row the shape declares before finishing.")
        }
        try sink.finishFile()
    }

    /// Writes a row-major `rows` x `columns` float32 matrix.
    public static func write(url: URL, floats: [Float], rows: Int, columns: Int) throws {
        precondition(floats.count == rows * columns, "\(floats.count) values do not form \(rows) x \(columns)")
        var writer = try NpyWriter(url: url, dtype: .float32, shape: [rows, columns])
        try floats.withUnsafeBytes { try writer.append($0) }
        try writer.finish()
    }

    /// Writes a 1-d float32 array.
    public static func write(url: URL, floats: [Float]) throws {
        var writer = try NpyWriter(url: url, dtype: .float32, shape: [floats.count])
        try floats.withUnsafeBytes { try writer.append($0) }
        try writer.finish()
    }

    /// Writes a row-major `rows` x `columns` float16 matrix given as IEEE binary16 bit patterns.
    public static func write(url: URL, float16Bits: [UInt16], rows: Int, columns: Int) throws {
        precondition(float16Bits.count == rows * columns, "\(float16Bits.count) values do not form \(rows) x \(columns)")
        var writer = try NpyWriter(url: url, dtype: .float16, shape: [rows, columns])
        try float16Bits.withUnsafeBytes { try writer.append($0) }
        try writer.finish()
    }

    /// Writes a 1-d int64 array (row numbers, for example).
    public static func write(url: URL, int64s: [Int64]) throws {
        var writer = try NpyWriter(url: url, dtype: .int64, shape: [int64s.count])
        try int64s.withUnsafeBytes { try writer.append($0) }
        try writer.finish()
    }
}

/// The open file of an ``NpyWriter`` with its staging buffer; a class so the descriptor is closed exactly once.
private final class NpyFileSink {
    let path: String
    private var descriptor: Int32
    private let buffer: UnsafeMutableRawPointer
    private let capacity = 1 << 20
    private var used = 0

    init(path: String) throws {
        self.path = path
        var fd: Int32
        repeat { fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) } while fd < 0 && errno == EINTR
        guard fd >= 0 else { throw IngestError.system(path, "create the file", errno: errno) }
        descriptor = fd
        buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
        buffer.deallocate()
    }

    func append(_ bytes: UnsafeRawBufferPointer) throws {
        guard descriptor >= 0 else {
            throw IngestError(file: path, problem: "the writer was already finished", remedy: "Create a new writer.")
        }
        if used + bytes.count > capacity { try flush() }
        if bytes.count >= capacity {
            try writeAll(bytes)
        } else if bytes.count > 0 {
            (buffer + used).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
            used += bytes.count
        }
    }

    private func flush() throws {
        try writeAll(UnsafeRawBufferPointer(start: buffer, count: used))
        used = 0
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let n = write(descriptor, bytes.baseAddress! + done, bytes.count - done)
            if n >= 0 {
                done += n
            } else if errno != EINTR {
                throw IngestError.system(path, "write the file", errno: errno)
            }
        }
    }

    func finishFile() throws {
        guard descriptor >= 0 else { return }
        try flush()
        guard fsync(descriptor) == 0 else { throw IngestError.system(path, "fsync the file", errno: errno) }
        let fd = descriptor
        descriptor = -1
        guard close(fd) == 0 else { throw IngestError.system(path, "close the file", errno: errno) }
    }
}
