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

    /// Refuses field names a record cannot be read with.
    package func check(for input: JSONLInput) throws(IngestError) {
        precondition(maxRecordBytes > 0 && maxDepth > 0, "limits must be positive")
        guard !idField.isEmpty, !textField.isEmpty else {
            throw IngestError(file: input.displayName, location: nil, problem: "the id or text field name is empty", remedy: "Name both fields (--id-field, --text-field).")
        }
        guard idField != textField else {
            throw IngestError(file: input.displayName, location: nil, problem: "the id and text fields are both '\(idField)'",
                              remedy: "Name two different fields with --id-field and --text-field.")
        }
    }
}

/// One record of a JSONL input. Only valid inside the callback that receives it (`raw` points into the
/// reader's buffer).
public struct JSONLRecord {
    /// 1-based line number in the input.
    public let line: Int
    /// The record verbatim: the line's bytes without its `\n` (a `\r` before it is kept).
    public let raw: UnsafeRawBufferPointer
    /// The id: a string id as decoded, or an integer id's literal text.
    public let id: String
    /// The text field, decoded.
    public let text: String
}

/// Streams a JSONL input (one JSON object per line) through a fixed buffer, validating every record in
/// full. The input may be plain, gzip or zstd (told apart by its first bytes), a file or standard input.
///
/// Whitespace-only lines are skipped; a byte order mark at the start is skipped; the last line may lack
/// its newline. Each record must be a JSON object with the id and text fields at top level, each present
/// once. Errors name the line and column (in characters) and say what was found. (Ingest reads inputs
/// through the same parts on several threads; this reader is the sequential form.)
public final class JSONLReader {
    public let input: JSONLInput
    public let options: JSONLOptions
    /// Stored bytes of the input consumed so far (compressed bytes for a compressed input), through
    /// the block holding the last record handed out (for progress).
    public private(set) var bytesRead = 0
    /// The input's stored size when it is a regular file; nil for a pipe.
    public let fileSize: Int?
    /// gzip, zstd or none, from the input's first bytes.
    public let compression: InputCompression

    private let lines: LineBlockReader
    private let parser: RecordParser

    public convenience init(url: URL, options: JSONLOptions = .init()) throws {
        try self.init(input: .file(url), options: options)
    }

    public init(input: JSONLInput, options: JSONLOptions = .init()) throws {
        try options.check(for: input)
        self.input = input
        self.options = options
        lines = try LineBlockReader(input, maxLineBytes: options.maxRecordBytes, limitRemedy: RecordParser.limitRemedy)
        fileSize = lines.storedSize
        compression = lines.compression
        parser = try RecordParser(options: options, input: input, compression: lines.compression)
    }

    /// Calls `body` with every record in input order.
    public func forEachRecord(_ body: (JSONLRecord) throws -> Void) throws {
        let block = LineBlock()
        while try lines.fill(block) {
            bytesRead = block.storedBytesRead
            try block.forEachLine { number, line in
                guard let record = try parser.parse(line, number: number) else { return }
                try body(JSONLRecord(line: number, raw: line, id: String(decoding: record.id, as: UTF8.self),
                                     text: String(decoding: record.text, as: UTF8.self)))
            }
        }
        bytesRead = lines.storedBytesRead
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
}
