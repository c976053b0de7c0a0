import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Splits a file into lines through one buffer (4 MiB, grown only to hold a single longer line).
///
/// Lines end at `\n`, which is not part of the line (a `\r` before it is). A final line without a newline
/// is still a line. A UTF-8 byte order mark at the start of the file is skipped.
struct LineReader {
    static let initialCapacity = 4 << 20

    let file: ReadOnlyFile
    /// Longest line accepted, in bytes without the newline.
    let maxLineBytes: Int
    /// How `maxLineBytes` can be raised, for the error message.
    let limitRemedy: String

    /// Calls `body(lineNumber, bytes, fileOffset)` for every line in order; line numbers start at 1.
    /// `bytes` is only valid during the call.
    func forEachLine(_ body: (Int, UnsafeRawBufferPointer, Int) throws -> Void) throws {
        var capacity = Self.initialCapacity
        var buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
        defer { buffer.deallocate() }
        file.adviseSequential()
        var start = 0         // first byte of the current line in the buffer
        var end = 0           // end of the valid bytes in the buffer
        var scanFrom = 0      // where the search for '\n' resumes
        var bufferOffset = 0  // file offset of buffer[0]
        var fileOffset = 0    // next file offset to read
        var lineNumber = 0
        var atEOF = false

        while true {
            if let newline = memchr(buffer + scanFrom, 0x0a, end - scanFrom) {
                let lineEnd = UnsafeMutableRawPointer(newline) - buffer
                lineNumber += 1
                if lineEnd - start > maxLineBytes { throw tooLong(lineNumber, atLeast: lineEnd - start) }
                try body(lineNumber, UnsafeRawBufferPointer(start: buffer + start, count: lineEnd - start), bufferOffset + start)
                start = lineEnd + 1
                scanFrom = start
                continue
            }
            if end - start > maxLineBytes { throw tooLong(lineNumber + 1, atLeast: end - start) }
            if atEOF {
                if end > start {
                    try body(lineNumber + 1, UnsafeRawBufferPointer(start: buffer + start, count: end - start), bufferOffset + start)
                }
                return
            }
            // Keep the partial line, moved to the front, and read more behind it.
            if start > 0 {
                (buffer).copyMemory(from: buffer + start, byteCount: end - start)
                bufferOffset += start
                end -= start
                start = 0
            }
            if end == capacity {
                let grown = min(capacity * 2, maxLineBytes + 1)
                let newBuffer = UnsafeMutableRawPointer.allocate(byteCount: grown, alignment: 64)
                newBuffer.copyMemory(from: buffer, byteCount: end)
                buffer.deallocate()
                buffer = newBuffer
                capacity = grown
            }
            scanFrom = end
            let n = try file.read(into: buffer + end, count: capacity - end, at: fileOffset)
            if n == 0 { atEOF = true }
            if fileOffset == 0, n >= 3, buffer.load(as: UInt8.self) == 0xef, buffer.load(fromByteOffset: 1, as: UInt8.self) == 0xbb,
               buffer.load(fromByteOffset: 2, as: UInt8.self) == 0xbf {
                start = 3
                scanFrom = 3
            }
            fileOffset += n
            end += n
        }
    }

    private func tooLong(_ line: Int, atLeast bytes: Int) -> IngestError {
        IngestError(file: file.path, location: "line \(line)",
                    problem: "the line is longer than the limit of \(maxLineBytes) bytes (\(bytes) bytes without a newline so far)",
                    remedy: "Check that the file has one record per line; if records really are this long, \(limitRemedy).")
    }
}

/// Reads a file of one value per line (subtask labels, id lists) and returns the lines.
///
/// Lines are UTF-8; a `\r` before the newline is dropped, a byte order mark at the start is skipped and the
/// last line may lack its newline. Blank lines (empty or only spaces and tabs) are refused, since a
/// value list has no use for them and they usually mean an off-by-one with the rows they label.
public func readLineList(_ url: URL) throws -> [String] {
    let path = url.path
    let file = try ReadOnlyFile(path: path)
    var lines: [String] = []
    let reader = LineReader(file: file, maxLineBytes: 1 << 20, limitRemedy: "split the values over several lines")
    try reader.forEachLine { number, raw, _ in
        var bytes = UnsafeRawBufferPointer(rebasing: raw[...])
        if bytes.last == 0x0d { bytes = UnsafeRawBufferPointer(rebasing: bytes.dropLast()) }
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) {
            throw IngestError(file: path, location: "line \(number)", problem: "the line is blank",
                              remedy: "Give one value on every line, with no blank lines (a final newline is fine).")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw IngestError(file: path, location: "line \(number)", problem: "the line is not valid UTF-8",
                              remedy: "Save the file as UTF-8.")
        }
        lines.append(text)
    }
    return lines
}
