import Foundation

/// How ``JSONLReader`` reads records.
public struct JSONLOptions: Sendable {
    /// Top-level field holding the record's id: a string, or an integer (kept as its literal text).
    public var idField = "id"
    /// Top-level field holding the record's text: a string.
    public var textField = "text"
    /// Longest record accepted, in bytes (without the newline).
    public var maxRecordBytes = 64 << 20
    /// Deepest nesting of objects and arrays accepted (the record itself is level 1).
    public var maxDepth = 256

    public init(idField: String = "id", textField: String = "text", maxRecordBytes: Int = 64 << 20, maxDepth: Int = 256) {
        self.idField = idField
        self.textField = textField
        self.maxRecordBytes = maxRecordBytes
        self.maxDepth = maxDepth
    }
}

/// One record of a JSONL file. Only valid inside the callback that receives it (`raw` points into the
/// reader's buffer).
public struct JSONLRecord {
    /// 1-based line number in the file.
    public let line: Int
    /// The record verbatim: the line's bytes without its `\n` (a `\r` before it is kept).
    public let raw: UnsafeRawBufferPointer
    /// The id: a string id as decoded, or an integer id's literal text.
    public let id: String
    /// The text field, decoded.
    public let text: String
}

/// Streams a JSONL file (one JSON object per line) through a fixed buffer, validating every record in full.
///
/// Whitespace-only lines are skipped; a byte order mark at the start is skipped; the last line may lack
/// its newline. Each record must be a JSON object with the id and text fields at top level, each present
/// once. Errors name the line and column (in characters) and say what was found.
public final class JSONLReader {
    public let url: URL
    public let options: JSONLOptions
    /// Bytes of the file consumed so far, through the end of the last record handed out (for progress).
    public private(set) var bytesRead = 0
    /// The file's size when opened.
    public let fileSize: Int

    private let file: ReadOnlyFile

    public init(url: URL, options: JSONLOptions = .init()) throws {
        precondition(options.maxRecordBytes > 0 && options.maxDepth > 0, "limits must be positive")
        guard !options.idField.isEmpty, !options.textField.isEmpty else {
            throw IngestError(file: url.path, location: nil, problem: "the id or text field name is empty", remedy: "Name both fields (--id-field, --text-field).")
        }
        guard options.idField != options.textField else {
            throw IngestError(file: url.path, location: nil, problem: "the id and text fields are both '\(options.idField)'",
                              remedy: "Name two different fields with --id-field and --text-field.")
        }
        self.url = url
        self.options = options
        file = try ReadOnlyFile(path: url.path)
        fileSize = file.size
    }

    /// Calls `body` with every record in file order.
    public func forEachRecord(_ body: (JSONLRecord) throws -> Void) throws {
        let path = file.path
        let stack = UnsafeMutablePointer<UInt64>.allocate(capacity: JSONScanner.stackWords(maxDepth: options.maxDepth))
        defer { stack.deallocate() }
        let idKey = Array(options.idField.utf8)
        let textKey = Array(options.textField.utf8)
        let reader = LineReader(file: file, maxLineBytes: options.maxRecordBytes,
                                limitRemedy: "split the record, or check that the file is JSONL (one JSON object per line)")
        bytesRead = 0
        try idKey.withUnsafeBytes { idKey in
            try textKey.withUnsafeBytes { textKey in
                try reader.forEachLine { number, line, offset in
                    if JSONLReader.isBlank(line) { return }
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
                        ? scanner.decodeString(open: idOpen, close: fields.idEnd - 1, hasEscapes: fields.idEscapes)
                        : String(decoding: UnsafeRawBufferPointer(rebasing: line[idOpen..<fields.idEnd]), as: UTF8.self)
                    // Ids go one per line into id lists and through C strings: no control characters.
                    if id.isEmpty || id.utf8.contains(where: { $0 < 0x20 || $0 == 0x7f }) {
                        throw IngestError(file: path, location: location(line, number, idOpen),
                                          problem: id.isEmpty ? "the id is empty" : "the id contains a control character (a line break, tab or NUL)",
                                          remedy: "Give every record a non-empty single-line id without control characters, or name another id field with --id-field.")
                    }
                    let text = scanner.decodeString(open: textOpen, close: fields.textEnd - 1, hasEscapes: fields.textEscapes)
                    bytesRead = min(offset + line.count + 1, fileSize)
                    try body(JSONLRecord(line: number, raw: line, id: id, text: text))
                }
            }
        }
        bytesRead = fileSize
    }

    /// The text field of one record, parsed exactly as ingest parses it (so every record ingest
    /// accepted reads back), or nil when the record is not valid or has no such string field.
    public static func text(of record: UnsafeRawBufferPointer, options: JSONLOptions) -> String? {
        let stack = UnsafeMutablePointer<UInt64>.allocate(capacity: JSONScanner.stackWords(maxDepth: options.maxDepth))
        defer { stack.deallocate() }
        var scanner = JSONScanner(record, maxDepth: options.maxDepth, stack: stack, endName: "the end of the record")
        let idKey = Array(options.idField.utf8), textKey = Array(options.textField.utf8)
        let fields = idKey.withUnsafeBytes { idKey in
            textKey.withUnsafeBytes { textKey in try? scanner.scanRecord(idKey: idKey, textKey: textKey, options: options) }
        }
        guard let fields, let open = fields.textOpen else { return nil }
        return scanner.decodeString(open: open, close: fields.textEnd - 1, hasEscapes: fields.textEscapes)
    }

    private static func isBlank(_ line: UnsafeRawBufferPointer) -> Bool {
        for b in line where !(b == 0x20 || b == 0x09 || b == 0x0d) { return false }
        return true
    }

    /// "line 17, column 5", the column counted in characters (UTF-8 code points) from 1.
    private func location(_ line: UnsafeRawBufferPointer, _ number: Int, _ offset: Int) -> String {
        var column = 1
        for b in line.prefix(offset) where b & 0xc0 != 0x80 { column += 1 }
        return "line \(number), column \(column)"
    }

    private func recordError(_ error: RecordError, line: UnsafeRawBufferPointer, number: Int) -> IngestError {
        let remedy: String
        switch error.kind {
        case .syntax:
            remedy = "Make the line one valid JSON object (check it with: sed -n '\(number)p' \(file.path) | python3 -m json.tool)."
        case .encoding:
            remedy = "The file must be UTF-8; convert it (for example iconv -f latin1 -t utf-8) or fix the damaged bytes."
        case .field(let flag):
            remedy = "Fix the record, or name another field with \(flag)."
        case .duplicate:
            remedy = "Give each record the field once."
        }
        return IngestError(file: file.path, location: location(line, number, error.offset), problem: error.message, remedy: remedy)
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
        return IngestError(file: file.path, location: "line \(number)",
                           problem: "the record has no \(role) field \"\(name)\" (\(present))",
                           remedy: "Name the record's \(role) field with --\(role)-field.")
    }
}

/// Where the id and text values lie in a record (offsets of the opening quote or first digit, and one
/// past the value's end).
struct RecordFields {
    var idOpen: Int?
    var idEnd = 0
    var idIsString = false
    var idEscapes = false
    var textOpen: Int?
    var textEnd = 0
    var textEscapes = false
}

/// Why a record was refused.
struct RecordError: Error {
    enum Kind { case syntax, encoding, field(flag: String), duplicate }
    var kind: Kind
    var offset: Int
    var message: String
}

extension JSONScanner {
    /// Validates one record (a JSON object spanning the whole line) and finds its id and text fields.
    mutating func scanRecord(idKey: UnsafeRawBufferPointer, textKey: UnsafeRawBufferPointer,
                             options: JSONLOptions) throws(RecordError) -> RecordFields {
        do {
            return try scanRecordSyntax(idKey: idKey, textKey: textKey, options: options)
        } catch let error as RecordError {
            throw error
        } catch let error as JSONSyntaxError {
            let encoding = error.message.hasPrefix("invalid UTF-8")
            throw RecordError(kind: encoding ? .encoding : .syntax, offset: error.offset, message: error.message)
        } catch {
            fatalError("unexpected error \(error)")
        }
    }

    private mutating func scanRecordSyntax(idKey: UnsafeRawBufferPointer, textKey: UnsafeRawBufferPointer,
                                           options: JSONLOptions) throws -> RecordFields {
        var fields = RecordFields()
        skipWhitespace()
        guard current == UInt8(ascii: "{") else {
            throw error("expected a JSON object ('{') at the start of the record, found \(current == 0x22 || current == UInt8(ascii: "[") ? kindOfValue() : describe(at: pos))")
        }
        pos += 1
        skipWhitespace()
        if current == UInt8(ascii: "}") {
            pos += 1
        } else {
            while true {
                guard current == 0x22 else {
                    if current == UInt8(ascii: "}") { throw error("expected a member name after ',', found '}' (JSON allows no trailing comma)") }
                    throw error("expected a member name in double quotes, found \(describe(at: pos))")
                }
                let keyOpen = pos
                let keyEscapes = try scanString()
                let role = memberRole(open: keyOpen, close: pos - 1, escapes: keyEscapes, idKey: idKey, textKey: textKey)
                skipWhitespace()
                try expect(UInt8(ascii: ":"), "':' after member name")
                skipWhitespace()
                switch role {
                case .id:
                    if fields.idOpen != nil { throw duplicate(options.idField, at: keyOpen) }
                    fields.idOpen = pos
                    if current == 0x22 {
                        fields.idEscapes = try scanString()
                        fields.idIsString = true
                    } else if current == UInt8(ascii: "-") || isDigit(current) {
                        let start = pos
                        if !(try scanNumber()) {
                            let literal = String(decoding: UnsafeBufferPointer(start: base + start, count: pos - start), as: UTF8.self)
                            throw RecordError(kind: .field(flag: "--id-field"), offset: start,
                                              message: "the id field \"\(options.idField)\" must be a string or an integer, found the number \(literal)")
                        }
                    } else {
                        throw RecordError(kind: .field(flag: "--id-field"), offset: pos,
                                          message: "the id field \"\(options.idField)\" must be a string or an integer, found \(kindOfValue())")
                    }
                    fields.idEnd = pos
                case .text:
                    if fields.textOpen != nil { throw duplicate(options.textField, at: keyOpen) }
                    guard current == 0x22 else {
                        throw RecordError(kind: .field(flag: "--text-field"), offset: pos,
                                          message: "the text field \"\(options.textField)\" must be a string, found \(kindOfValue())")
                    }
                    fields.textOpen = pos
                    fields.textEscapes = try scanString()
                    fields.textEnd = pos
                case .other:
                    try skipValue(depth: 1)
                }
                skipWhitespace()
                if current == UInt8(ascii: ",") {
                    pos += 1
                    skipWhitespace()
                } else if current == UInt8(ascii: "}") {
                    pos += 1
                    break
                } else {
                    throw error("expected ',' or '}' after object member, found \(describe(at: pos))")
                }
            }
        }
        skipWhitespace()
        if pos < end {
            throw error("unexpected \(describe(at: pos)) after the end of the record's JSON object (one record per line)")
        }
        return fields
    }

    private enum MemberRole { case id, text, other }

    @inline(__always) private func memberRole(open: Int, close: Int, escapes: Bool,
                                             idKey: UnsafeRawBufferPointer, textKey: UnsafeRawBufferPointer) -> MemberRole {
        let length = close - open - 1
        if !escapes {
            if length == idKey.count && memcmp(base + open + 1, idKey.baseAddress!, length) == 0 { return .id }
            if length == textKey.count && memcmp(base + open + 1, textKey.baseAddress!, length) == 0 { return .text }
            return .other
        }
        let name = Array(decodeString(open: open, close: close, hasEscapes: true).utf8)
        if name.elementsEqual(idKey) { return .id }
        if name.elementsEqual(textKey) { return .text }
        return .other
    }

    private func duplicate(_ name: String, at offset: Int) -> RecordError {
        RecordError(kind: .duplicate, offset: offset, message: "the field \"\(name)\" appears twice in the record")
    }
}
