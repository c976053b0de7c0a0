/// A record field's value as the catalog indexes it (`ingest --index-field`, `quadcat index`).
public enum FieldScalar: Equatable, Sendable {
    case text(String)
    /// A JSON number without fraction or exponent that fits in 64 bits.
    case integer(Int64)
    /// Any other JSON number.
    case real(Double)
    case boolean(Bool)
    /// JSON `null`, or no such field in the record.
    case null
    /// An object or an array: not a value a predicate compares.
    case nonScalar
}

/// Reads the values of a few top-level fields from JSON object records, skipping everything else
/// without building it (a record's text is most of its bytes and is never decoded here).
public struct RecordFieldReader: Sendable {
    /// The field names, in the order ``values(of:)`` reports them.
    public let fields: [String]
    private let keys: [[UInt8]]
    private let maxDepth: Int

    public init(fields: [String], maxDepth: Int = 256) {
        self.fields = fields
        keys = fields.map { Array($0.utf8) }
        self.maxDepth = maxDepth
    }

    /// The value of each field in `record`, a JSON object (as ingest validated it). A field that appears
    /// more than once takes its last value, as Python's `json` does.
    public func values(of record: UnsafeRawBufferPointer) throws -> [FieldScalar] {
        let stack = UnsafeMutablePointer<UInt64>.allocate(capacity: JSONScanner.stackWords(maxDepth: maxDepth))
        defer { stack.deallocate() }
        var scanner = JSONScanner(record, maxDepth: maxDepth, stack: stack, endName: "the end of the record")
        var out = [FieldScalar](repeating: .null, count: keys.count)
        do {
            try scanner.readFields(keys, into: &out)
        } catch {
            throw IngestError(file: "record", location: "byte \(error.offset)", problem: error.message, remedy: "the stored record is not a JSON object; run `quadcat verify`")
        }
        return out
    }
}

extension JSONScanner {
    /// Walks the members of the object at `pos`, reading the values of the members named by `keys`
    /// into `out` (same order) and skipping the others.
    fileprivate mutating func readFields(_ keys: [[UInt8]], into out: inout [FieldScalar]) throws(JSONSyntaxError) {
        skipWhitespace()
        try expect(UInt8(ascii: "{"), "a JSON object")
        skipWhitespace()
        if current == UInt8(ascii: "}") { return }
        while true {
            skipWhitespace()
            guard current == 0x22 else { throw error("expected a member name in double quotes, found \(describe(at: pos))") }
            let open = pos
            let escapes = try scanString()
            let close = pos - 1
            skipWhitespace()
            try expect(UInt8(ascii: ":"), "':' after member name")
            skipWhitespace()
            if let index = fieldIndex(keys, open: open, close: close, escapes: escapes) {
                out[index] = try scalarValue()
            } else {
                try skipValue(depth: 1)
            }
            skipWhitespace()
            if current == UInt8(ascii: ",") {
                pos += 1
            } else if current == UInt8(ascii: "}") {
                return
            } else {
                throw error("expected ',' or '}' after object member, found \(describe(at: pos))")
            }
        }
    }

    private func fieldIndex(_ keys: [[UInt8]], open: Int, close: Int, escapes: Bool) -> Int? {
        let length = close - open - 1
        if !escapes {
            let name = UnsafeBufferPointer(start: base + open + 1, count: length)
            return keys.firstIndex { $0.elementsEqual(name) }
        }
        let name = Array(decodeString(open: open, close: close, hasEscapes: true).utf8)
        return keys.firstIndex(of: name)
    }

    /// The value at `pos` as a field scalar; objects and arrays are skipped (validated, not built).
    fileprivate mutating func scalarValue() throws(JSONSyntaxError) -> FieldScalar {
        guard current != UInt8(ascii: "{") && current != UInt8(ascii: "[") else {
            try skipValue(depth: 1)
            return .nonScalar
        }
        switch try treeValue(depth: 1) {
        case .string(let text): return .text(text)
        case .number(let literal):
            let integer = !literal.contains { $0 == "." || $0 == "e" || $0 == "E" }
            if integer, let value = Int64(literal) { return .integer(value) }
            return .real(Double(literal) ?? .nan)
        case .bool(let value): return .boolean(value)
        case .null, .object, .array: return .null
        }
    }
}
