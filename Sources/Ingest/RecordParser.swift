import CRecordParser
import Foundation

/// A record's id and text as parsed from one line; valid until the parser's next call.
package struct ParsedRecord {
    /// A string id decoded, or an integer id's literal text (UTF-8, no control characters).
    package var id: UnsafeRawBufferPointer
    /// The text field decoded (UTF-8).
    package var text: UnsafeRawBufferPointer
}

/// Which parser checks records first. Both give the same records and the same errors: simdjson is the
/// fast path and the scanner the authority for anything simdjson refuses (see CRecordParser.h).
package enum RecordParserEngine: Sendable {
    /// simdjson first, the scanner for the lines it refuses (the default).
    case simdjson
    /// The scanner alone (for benchmarks and for tests that compare the two).
    case scanner
}

/// Validates JSONL records one line at a time and finds their id and text fields.
///
/// Errors name the input, the line and the column (in characters) and say what was found; the remedy
/// fits the input (a `sed` command for a plain file, `zcat`/`zstdcat` for a compressed one).
package final class RecordParser {
    package let options: JSONLOptions
    private let input: JSONLInput
    private let compression: InputCompression
    private let idKey: UnsafeRawBufferPointer
    private let textKey: UnsafeRawBufferPointer
    private let fast: OpaquePointer?
    private let stack: UnsafeMutablePointer<UInt64>
    private let idScratch = Scratch()
    private let textScratch = Scratch()

    /// Longest-record remedy shared with the line reader.
    package static let limitRemedy = "split the record, or check that the input is JSONL (one JSON object per line)"

    package init(options: JSONLOptions, input: JSONLInput, compression: InputCompression, engine: RecordParserEngine = .simdjson) throws(IngestError) {
        try options.check(for: input)
        self.options = options
        self.input = input
        self.compression = compression
        idKey = Self.copy(options.idField)
        textKey = Self.copy(options.textField)
        stack = .allocate(capacity: JSONScanner.stackWords(maxDepth: options.maxDepth))
        if engine == .simdjson {
            guard let parser = qc_record_parser_new(options.maxDepth) else {
                stack.deallocate()
                idKey.deallocate()
                textKey.deallocate()
                throw IngestError(file: input.displayName, problem: "cannot allocate the JSON parser (out of memory)", remedy: "")
            }
            fast = parser
        } else {
            fast = nil
        }
    }

    deinit {
        if let fast { qc_record_parser_free(fast) }
        stack.deallocate()
        idKey.deallocate()
        textKey.deallocate()
    }

    private static func copy(_ name: String) -> UnsafeRawBufferPointer {
        let bytes = Array(name.utf8)
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
        copy.copyBytes(from: bytes)
        return UnsafeRawBufferPointer(copy)
    }

    /// Parses line `number`; returns nil for a blank line (only spaces, tabs or a carriage return).
    /// `line` must be followed by ``LineBlock/padding`` readable bytes, as the lines of a block are.
    package func parse(_ line: UnsafeRawBufferPointer, number: Int) throws(IngestError) -> ParsedRecord? {
        if line.count > options.maxRecordBytes {
            throw LineBlockReader.lineTooLong(input, line: number, bytes: line.count, limit: options.maxRecordBytes, limitRemedy: Self.limitRemedy)
        }
        if Self.isBlank(line) { return nil }
        if let fast {
            var fields = qc_record_fields()
            let accepted = qc_record_parser_parse(
                fast, line.baseAddress!.assumingMemoryBound(to: UInt8.self), line.count,
                idKey.baseAddress!.assumingMemoryBound(to: UInt8.self), idKey.count,
                textKey.baseAddress!.assumingMemoryBound(to: UInt8.self), textKey.count, &fields)
            if accepted == 1 {
                let id = UnsafeRawBufferPointer(start: fields.id, count: fields.id_length)
                // An unusable id goes to the scanner, which says where it is.
                if Self.isUsableID(id) {
                    return ParsedRecord(id: id, text: UnsafeRawBufferPointer(start: fields.text, count: fields.text_length))
                }
            }
        }
        return try parseWithScanner(line, number: number)
    }

    private func parseWithScanner(_ line: UnsafeRawBufferPointer, number: Int) throws(IngestError) -> ParsedRecord {
        var scanner = JSONScanner(line, maxDepth: options.maxDepth, stack: stack, endName: "the end of the line")
        let fields: RecordFields
        do throws(RecordError) {
            fields = try scanner.scanRecord(idKey: idKey, textKey: textKey, options: options)
        } catch {
            throw recordError(error, line: line, number: number)
        }
        guard let idOpen = fields.idOpen else { throw missingField(options.idField, role: "id", line: line, number: number) }
        guard let textOpen = fields.textOpen else { throw missingField(options.textField, role: "text", line: line, number: number) }
        let id = fields.idIsString
            ? idScratch.decode(scanner, open: idOpen, close: fields.idEnd - 1, hasEscapes: fields.idEscapes)
            : UnsafeRawBufferPointer(rebasing: line[idOpen..<fields.idEnd])
        // Ids go one per line into id lists and through C strings: no control characters.
        if !Self.isUsableID(id) {
            throw IngestError(file: input.displayName, location: Self.location(line, number, idOpen),
                              problem: id.isEmpty ? "the id is empty" : "the id contains a control character (a line break, tab or NUL)",
                              remedy: "Give every record a non-empty single-line id without control characters, or name another id field with --id-field.")
        }
        let text = textScratch.decode(scanner, open: textOpen, close: fields.textEnd - 1, hasEscapes: fields.textEscapes)
        return ParsedRecord(id: id, text: text)
    }

    private static func isUsableID(_ id: UnsafeRawBufferPointer) -> Bool {
        !id.isEmpty && !id.contains { $0 < 0x20 || $0 == 0x7f }
    }

    static func isBlank(_ line: UnsafeRawBufferPointer) -> Bool {
        for b in line where !(b == 0x20 || b == 0x09 || b == 0x0d) { return false }
        return true
    }

    /// "line 17, column 5", the column counted in characters (UTF-8 code points) from 1.
    private static func location(_ line: UnsafeRawBufferPointer, _ number: Int, _ offset: Int) -> String {
        var column = 1
        for b in line.prefix(offset) where b & 0xc0 != 0x80 { column += 1 }
        return "line \(number), column \(column)"
    }

    private func recordError(_ error: RecordError, line: UnsafeRawBufferPointer, number: Int) -> IngestError {
        let remedy: String
        switch error.kind {
        case .syntax:
            switch input {
            case .file(let url):
                let print = compression == .none ? "sed -n '\(number)p' \(url.path)" : "\(compression.catCommand) \(url.path) | sed -n '\(number)p'"
                remedy = "Make the line one valid JSON object (check it with: \(print) | python3 -m json.tool)."
            case .standardInput:
                remedy = "Make the line one valid JSON object (it is line \(number) of the data sent to standard input)."
            }
        case .encoding:
            remedy = "The input must be UTF-8; convert it (for example iconv -f latin1 -t utf-8) or fix the damaged bytes."
        case .field(let flag):
            remedy = "Fix the record, or name another field with \(flag)."
        case .duplicate:
            remedy = "Give each record the field once."
        }
        return IngestError(file: input.displayName, location: Self.location(line, number, error.offset), problem: error.message, remedy: remedy)
    }

    private func missingField(_ name: String, role: String, line: UnsafeRawBufferPointer, number: Int) -> IngestError {
        // Only on the error path: list the record's top-level fields to show what could be meant.
        var names: [String] = []
        if let value = try? JSONValue.parse(line, maxDepth: options.maxDepth, endName: "the end of the line"),
           case .object(let members) = value {
            names = members.map { "\"\($0.key)\"" }
        }
        let present = names.isEmpty ? "the record has no fields"
            : "its fields are " + (names.count > 12 ? names.prefix(12).joined(separator: ", ") + ", ..." : names.joined(separator: ", "))
        return IngestError(file: input.displayName, location: "line \(number)",
                           problem: "the record has no \(role) field \"\(name)\" (\(present))",
                           remedy: "Name the record's \(role) field with --\(role)-field.")
    }
}

/// A growable buffer that decoded strings are written into.
private final class Scratch {
    private var buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 16)

    deinit { buffer.deallocate() }

    /// The string between the quotes at `open` and `close`: the line's own bytes when it has no
    /// escapes, else its decoding in this buffer.
    func decode(_ scanner: JSONScanner, open: Int, close: Int, hasEscapes: Bool) -> UnsafeRawBufferPointer {
        let body = UnsafeBufferPointer(start: scanner.base + open + 1, count: close - open - 1)
        guard hasEscapes else { return UnsafeRawBufferPointer(body) }
        if buffer.count < body.count {
            buffer.deallocate()
            buffer = .allocate(byteCount: max(body.count, 2 * buffer.count), alignment: 16)
        }
        let length = JSONScanner.unescape(body, into: buffer.baseAddress!.assumingMemoryBound(to: UInt8.self))
        return UnsafeRawBufferPointer(start: buffer.baseAddress, count: length)
    }
}
