import CRecordParser

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A run of whole lines of one input (about 4 MiB), the unit ingest hands from the reading thread to
/// the parsing threads. Blocks are reused: a pool of them bounds the memory a pipeline holds.
package final class LineBlock: @unchecked Sendable {
    /// The lines' bytes, `count` of them, followed by at least `padding` readable bytes (simdjson reads
    /// past a line's end). Every line but possibly the input's last ends with `\n`.
    package private(set) var bytes: UnsafeMutableRawPointer
    package private(set) var capacity: Int
    package internal(set) var count = 0
    /// Line number (from 1) of the first line.
    package internal(set) var firstLine = 1
    /// Lines in the block (newlines, plus an unterminated last line).
    package internal(set) var lineCount = 0
    /// Stored bytes of the input read once this block was filled (compressed bytes for a compressed
    /// input), for progress.
    package internal(set) var storedBytesRead = 0

    package static let padding = max(64, qc_record_parser_padding())

    package init(capacity: Int = LineBlockReader.blockBytes) {
        self.capacity = capacity
        bytes = .allocate(byteCount: capacity + Self.padding, alignment: 64)
    }

    deinit { bytes.deallocate() }

    /// Makes room for `needed` bytes, keeping the first `keeping` bytes.
    func reserve(_ needed: Int, keeping: Int) {
        guard needed > capacity else { return }
        let grown = UnsafeMutableRawPointer.allocate(byteCount: needed + Self.padding, alignment: 64)
        grown.copyMemory(from: bytes, byteCount: keeping)
        bytes.deallocate()
        bytes = grown
        capacity = needed
    }

    /// Calls `body(lineNumber, line)` for every line, without its `\n` (a `\r` before it is kept).
    package func forEachLine<E: Error>(_ body: (Int, UnsafeRawBufferPointer) throws(E) -> Void) throws(E) {
        var start = 0
        var number = firstLine
        while start < count {
            let end: Int
            if let newline = memchr(bytes + start, 0x0a, count - start) {
                end = UnsafeMutableRawPointer(newline) - bytes
            } else {
                end = count
            }
            try body(number, UnsafeRawBufferPointer(start: bytes + start, count: end - start))
            number += 1
            start = end + 1
        }
    }
}
