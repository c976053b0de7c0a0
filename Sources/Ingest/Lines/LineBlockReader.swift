#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Cuts an input's decoded bytes into blocks of whole lines.
///
/// A block is the next `blockBytes` bytes of the input cut after their last newline (the rest starts
/// the next block), so the blocks, and everything computed from them, depend on the input's bytes
/// alone: not on the read sizes of a pipe, the compression or thread timing. A line longer than a block
/// gets a block of its own, up to `maxLineBytes`. A UTF-8 byte order mark at the start is skipped.
package final class LineBlockReader {
    package static let blockBytes = 4 << 20

    package let input: JSONLInput
    private let decoded: DecodedInput
    private let maxLineBytes: Int
    private let blockBytes: Int
    private let limitRemedy: String
    /// The start of a line cut off at the end of the last block.
    private var carry: [UInt8] = []
    private var nextLine = 1
    private var atStart = true
    private var atEnd = false

    /// - Parameter limitRemedy: how the line length limit can be raised, for the error message.
    package init(_ input: JSONLInput, maxLineBytes: Int, limitRemedy: String, blockBytes: Int = LineBlockReader.blockBytes) throws(IngestError) {
        precondition(maxLineBytes > 0 && blockBytes > 0)
        self.input = input
        self.maxLineBytes = maxLineBytes
        self.blockBytes = blockBytes
        self.limitRemedy = limitRemedy
        decoded = try DecodedInput(input)
    }

    /// gzip, zstd or none, from the input's first bytes.
    package var compression: InputCompression { decoded.compression }
    /// The input's stored size, when it is a regular file.
    package var storedSize: Int? { decoded.raw.size }
    /// Stored bytes read so far.
    package var storedBytesRead: Int { decoded.raw.consumed }
    /// xxHash64 of the stored bytes read so far: of the whole input once `fill` has returned false.
    package var storedHash: UInt64 { decoded.raw.hash }

    /// Fills `block` with the next lines; returns false (and leaves the block empty) at the end.
    package func fill(_ block: LineBlock) throws(IngestError) -> Bool {
        block.reserve(max(blockBytes, carry.count), keeping: 0)
        carry.withUnsafeBytes { if $0.count > 0 { block.bytes.copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
        var count = carry.count
        carry.removeAll(keepingCapacity: true)
        count = try read(into: block, from: count, upTo: blockBytes)
        if atStart {
            atStart = false
            if count >= 3 && block.bytes.load(as: UInt8.self) == 0xef && block.bytes.load(fromByteOffset: 1, as: UInt8.self) == 0xbb
                && block.bytes.load(fromByteOffset: 2, as: UInt8.self) == 0xbf {
                count -= 3
                block.bytes.copyMemory(from: block.bytes + 3, byteCount: count)
                count = try read(into: block, from: count, upTo: blockBytes)
            }
        }
        guard count > 0 else {
            block.count = 0
            block.lineCount = 0
            return false
        }
        var end: Int
        if let newline = Self.lastNewline(block.bytes, count) {
            end = newline + 1
        } else {
            end = try extendLongLine(block, count: &count)
        }
        if end < count {
            carry.append(contentsOf: UnsafeRawBufferPointer(start: block.bytes + end, count: count - end))
        }
        let newlines = Self.countNewlines(block.bytes, end)
        block.count = end
        block.firstLine = nextLine
        block.lineCount = newlines + (block.bytes.load(fromByteOffset: end - 1, as: UInt8.self) == 0x0a ? 0 : 1)
        block.storedBytesRead = decoded.raw.consumed
        nextLine += newlines
        return true
    }

    /// Reads into `block` from `count` until `limit` bytes or the end of the input.
    private func read(into block: LineBlock, from count: Int, upTo limit: Int) throws(IngestError) -> Int {
        var count = count
        while count < limit && !atEnd {
            let n = try decoded.read(into: block.bytes + count, count: limit - count)
            if n == 0 { atEnd = true }
            count += n
        }
        return count
    }

    /// The block holds one line without a newline so far: reads on until its newline (or the end of
    /// the input) and returns the block's end. Refuses a line longer than the limit.
    private func extendLongLine(_ block: LineBlock, count: inout Int) throws(IngestError) -> Int {
        while true {
            if count > maxLineBytes { throw tooLong(atLeast: count) }
            if atEnd { return count }
            let scanFrom = count
            block.reserve(min(block.capacity * 2, maxLineBytes + 1), keeping: count)
            count = try read(into: block, from: count, upTo: block.capacity)
            if let newline = memchr(block.bytes + scanFrom, 0x0a, count - scanFrom) {
                let end = UnsafeMutableRawPointer(newline) - block.bytes
                if end > maxLineBytes { throw tooLong(atLeast: end) }
                return end + 1
            }
        }
    }

    private func tooLong(atLeast bytes: Int) -> IngestError {
        Self.lineTooLong(input, line: nextLine, bytes: bytes, limit: maxLineBytes, limitRemedy: limitRemedy)
    }

    /// The error for a line longer than `limit` bytes.
    package static func lineTooLong(_ input: JSONLInput, line: Int, bytes: Int, limit: Int, limitRemedy: String) -> IngestError {
        IngestError(file: input.displayName, location: "line \(line)",
                    problem: "the line is longer than the limit of \(limit) bytes (\(bytes) bytes without a newline so far)",
                    remedy: "Check that the input has one record per line; if records really are this long, \(limitRemedy).")
    }

    /// The offset of the last `\n` (a line or so back from the end, so a byte loop is enough).
    private static func lastNewline(_ bytes: UnsafeMutableRawPointer, _ count: Int) -> Int? {
        var p = count - 1
        while p >= 0 {
            if bytes.load(fromByteOffset: p, as: UInt8.self) == 0x0a { return p }
            p -= 1
        }
        return nil
    }

    private static func countNewlines(_ bytes: UnsafeMutableRawPointer, _ count: Int) -> Int {
        var n = 0
        var p = 0
        while p < count, let found = memchr(bytes + p, 0x0a, count - p) {
            n += 1
            p = UnsafeMutableRawPointer(found) - bytes + 1
        }
        return n
    }
}
