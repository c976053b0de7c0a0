/// A parsed JSON document, for small inputs such as a safetensors header (records are never built
/// into trees; see ``JSONLReader``).
indirect enum JSONValue: Equatable {
    case object([(key: String, value: JSONValue)])
    case array([JSONValue])
    case string(String)
    /// The number's literal text, so no precision is lost before the caller decides how to read it.
    case number(String)
    case bool(Bool)
    case null

    static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case let (.object(x), .object(y)):
            x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        case let (.array(x), .array(y)): x == y
        case let (.string(x), .string(y)), let (.number(x), .number(y)): x == y
        case let (.bool(x), .bool(y)): x == y
        case (.null, .null): true
        default: false
        }
    }

    /// Parses one JSON value spanning `bytes` (surrounding whitespace allowed). Objects with a repeated
    /// member name are refused.
    static func parse(_ bytes: UnsafeRawBufferPointer, maxDepth: Int = 64, endName: String) throws(JSONSyntaxError) -> JSONValue {
        let stack = UnsafeMutablePointer<UInt64>.allocate(capacity: JSONScanner.stackWords(maxDepth: maxDepth))
        defer { stack.deallocate() }
        var scanner = JSONScanner(bytes, maxDepth: maxDepth, stack: stack, endName: endName)
        scanner.skipWhitespace()
        let value = try scanner.treeValue(depth: 0)
        scanner.skipWhitespace()
        if scanner.pos < scanner.end {
            throw scanner.error("unexpected \(scanner.describe(at: scanner.pos)) after the end of the JSON value")
        }
        return value
    }

    /// A short description for messages: `"F16"`, `[3, 4]`, `an object`.
    var brief: String {
        switch self {
        case .object: "an object"
        case .array(let items): "[" + items.map(\.brief).joined(separator: ", ") + "]"
        case .string(let s): "\"\(s)\""
        case .number(let n): n
        case .bool(let b): String(b)
        case .null: "null"
        }
    }

    /// The value as a non-negative integer that fits in `Int`, if it is one.
    var nonNegativeInt: Int? {
        guard case .number(let text) = self, !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return Int(text)
    }
}

extension JSONScanner {
    mutating func treeValue(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        switch current {
        case 0x22:
            let open = pos
            let escapes = try scanString()
            return .string(decodeString(open: open, close: pos - 1, hasEscapes: escapes))
        case UInt8(ascii: "-"), 0x30...0x39:
            let start = pos
            _ = try scanNumber()
            return .number(String(decoding: UnsafeBufferPointer(start: base + start, count: pos - start), as: UTF8.self))
        case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
            let first = current
            try scanLiteral()
            return first == UInt8(ascii: "n") ? .null : .bool(first == UInt8(ascii: "t"))
        case UInt8(ascii: "["):
            guard depth < maxDepth else { throw error("nesting deeper than \(maxDepth) levels") }
            pos += 1
            var items: [JSONValue] = []
            skipWhitespace()
            if current == UInt8(ascii: "]") {
                pos += 1
                return .array(items)
            }
            while true {
                skipWhitespace()
                items.append(try treeValue(depth: depth + 1))
                skipWhitespace()
                if current == UInt8(ascii: ",") {
                    pos += 1
                } else if current == UInt8(ascii: "]") {
                    pos += 1
                    return .array(items)
                } else {
                    throw error("expected ',' or ']' after array element, found \(describe(at: pos))")
                }
            }
        case UInt8(ascii: "{"):
            guard depth < maxDepth else { throw error("nesting deeper than \(maxDepth) levels") }
            pos += 1
            var members: [(key: String, value: JSONValue)] = []
            var seen: Set<String> = []
            skipWhitespace()
            if current == UInt8(ascii: "}") {
                pos += 1
                return .object(members)
            }
            while true {
                skipWhitespace()
                guard current == 0x22 else {
                    throw error("expected a member name in double quotes, found \(describe(at: pos))")
                }
                let open = pos
                let escapes = try scanString()
                let key = decodeString(open: open, close: pos - 1, hasEscapes: escapes)
                guard seen.insert(key).inserted else { throw error("member name \"\(key)\" appears twice", at: open) }
                skipWhitespace()
                try expect(UInt8(ascii: ":"), "':' after member name")
                skipWhitespace()
                members.append((key, try treeValue(depth: depth + 1)))
                skipWhitespace()
                if current == UInt8(ascii: ",") {
                    pos += 1
                } else if current == UInt8(ascii: "}") {
                    pos += 1
                    return .object(members)
                } else {
                    throw error("expected ',' or '}' after object member, found \(describe(at: pos))")
                }
            }
        default:
            throw notAValue()
        }
    }
}
