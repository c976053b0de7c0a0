/// A Python literal as written in a `.npy` header: `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`.
///
/// Only the forms NumPy writes are understood: strings, integers (with Python 2's `L` suffix), `True`,
/// `False`, `None`, tuples, lists and dicts with string keys. That is enough to read every header NumPy
/// produces, including structured dtypes (a list of tuples), so they can be named in an error message.
indirect enum PythonLiteral: Equatable {
    case string(String)
    case integer(Int)
    case bool(Bool)
    case none
    case tuple([PythonLiteral])
    case list([PythonLiteral])
    case dict([(key: String, value: PythonLiteral)])

    static func == (a: PythonLiteral, b: PythonLiteral) -> Bool {
        switch (a, b) {
        case let (.string(x), .string(y)): x == y
        case let (.integer(x), .integer(y)): x == y
        case let (.bool(x), .bool(y)): x == y
        case (.none, .none): true
        case let (.tuple(x), .tuple(y)), let (.list(x), .list(y)): x == y
        case let (.dict(x), .dict(y)): x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: false
        }
    }

    /// The literal as Python's `repr` would print it (for error messages).
    var repr: String {
        switch self {
        case .string(let s): "'" + s + "'"
        case .integer(let n): String(n)
        case .bool(let b): b ? "True" : "False"
        case .none: "None"
        case .tuple(let items): items.count == 1 ? "(\(items[0].repr),)" : "(" + items.map(\.repr).joined(separator: ", ") + ")"
        case .list(let items): "[" + items.map(\.repr).joined(separator: ", ") + "]"
        case .dict(let entries): "{" + entries.map { "'\($0.key)': \($0.value.repr)" }.joined(separator: ", ") + "}"
        }
    }
}

/// A syntax error in a Python literal, at a byte offset of the parsed text.
struct PythonLiteralError: Error {
    var offset: Int
    var message: String
}

/// A strict recursive-descent parser for ``PythonLiteral`` over bytes (ASCII syntax; strings may hold UTF-8).
struct PythonLiteralParser {
    private let bytes: [UInt8]
    private var pos = 0
    private let maxDepth = 32

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Parses one literal that must span the whole input, apart from surrounding whitespace.
    static func parse(_ bytes: [UInt8]) throws(PythonLiteralError) -> PythonLiteral {
        var parser = PythonLiteralParser(bytes)
        parser.skipSpace()
        let value = try parser.value(depth: 0)
        parser.skipSpace()
        if parser.pos < bytes.count { throw parser.error("unexpected \(parser.found) after the end of the literal") }
        return value
    }

    private var found: String {
        guard pos < bytes.count else { return "the end of the header" }
        let b = bytes[pos]
        if b >= 0x21 && b < 0x7f { return "'\(Character(Unicode.Scalar(b)))'" }
        return "byte 0x" + String(b, radix: 16, uppercase: true)
    }

    private func error(_ message: String) -> PythonLiteralError { PythonLiteralError(offset: pos, message: message) }

    private mutating func skipSpace() {
        while pos < bytes.count, bytes[pos] == 0x20 || bytes[pos] == 0x0a || bytes[pos] == 0x09 || bytes[pos] == 0x0d {
            pos += 1
        }
    }

    private mutating func value(depth: Int) throws(PythonLiteralError) -> PythonLiteral {
        guard depth < maxDepth else { throw error("literal nested deeper than \(maxDepth) levels") }
        guard pos < bytes.count else { throw error("expected a value, found the end of the header") }
        switch bytes[pos] {
        case UInt8(ascii: "'"), UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .integer(try integer())
        case UInt8(ascii: "("):
            let (items, trailingComma) = try sequence(close: UInt8(ascii: ")"), depth: depth)
            if items.count == 1 && !trailingComma {
                return items[0]  // (x) is x parenthesised, not a tuple
            }
            return .tuple(items)
        case UInt8(ascii: "["): return .list(try sequence(close: UInt8(ascii: "]"), depth: depth).items)
        case UInt8(ascii: "{"): return try dict(depth: depth)
        default:
            for (word, literal) in [("True", PythonLiteral.bool(true)), ("False", .bool(false)), ("None", .none)] {
                let w = Array(word.utf8)
                if bytes.count - pos >= w.count, Array(bytes[pos..<pos + w.count]) == w,
                   pos + w.count == bytes.count || !isIdentifierByte(bytes[pos + w.count]) {
                    pos += w.count
                    return literal
                }
            }
            throw error("expected a value, found \(found)")
        }
    }

    private func isIdentifierByte(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b == 0x5f || b >= 0x80
    }

    private mutating func string() throws(PythonLiteralError) -> String {
        let quote = bytes[pos]
        let start = pos
        pos += 1
        var out: [UInt8] = []
        while true {
            guard pos < bytes.count, bytes[pos] != 0x0a else {
                pos = start
                throw error("unterminated string")
            }
            let b = bytes[pos]
            pos += 1
            if b == quote { break }
            if b == UInt8(ascii: "\\") {
                guard pos < bytes.count else { continue }
                let e = bytes[pos]
                pos += 1
                switch e {
                case UInt8(ascii: "\\"), UInt8(ascii: "'"), UInt8(ascii: "\""): out.append(e)
                case UInt8(ascii: "n"): out.append(0x0a)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0d)
                default:
                    pos -= 2
                    throw error("unsupported escape in string")
                }
            } else {
                out.append(b)
            }
        }
        guard let text = String(validating: out, as: UTF8.self) else {
            pos = start
            throw error("string is not valid UTF-8")
        }
        return text
    }

    private mutating func integer() throws(PythonLiteralError) -> Int {
        let start = pos
        var negative = false
        if bytes[pos] == UInt8(ascii: "-") {
            negative = true
            pos += 1
        }
        var value = 0
        var digits = 0
        while pos < bytes.count, bytes[pos] >= 0x30, bytes[pos] <= 0x39 {
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(Int(bytes[pos] - 0x30))
            if o1 || o2 {
                pos = start
                throw error("integer too large")
            }
            value = sum
            digits += 1
            pos += 1
        }
        guard digits > 0 else { throw error("expected a digit, found \(found)") }
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "L") || bytes[pos] == UInt8(ascii: "l") { pos += 1 }  // Python 2 long
        if pos < bytes.count, isIdentifierByte(bytes[pos]) || bytes[pos] == UInt8(ascii: ".") {
            throw error("expected an integer, found \(found) in a number")
        }
        return negative ? -value : value
    }

    /// Items up to `close`, separated by commas; a trailing comma is allowed.
    private mutating func sequence(close: UInt8, depth: Int) throws(PythonLiteralError) -> (items: [PythonLiteral], trailingComma: Bool) {
        pos += 1
        var items: [PythonLiteral] = []
        var trailingComma = false
        skipSpace()
        while true {
            if pos < bytes.count, bytes[pos] == close {
                pos += 1
                return (items, trailingComma)
            }
            items.append(try value(depth: depth + 1))
            skipSpace()
            trailingComma = false
            if pos < bytes.count, bytes[pos] == UInt8(ascii: ",") {
                pos += 1
                trailingComma = true
                skipSpace()
            } else if !(pos < bytes.count && bytes[pos] == close) {
                throw error("expected ',' or '\(Character(Unicode.Scalar(close)))', found \(found)")
            }
        }
    }

    private mutating func dict(depth: Int) throws(PythonLiteralError) -> PythonLiteral {
        pos += 1
        var entries: [(key: String, value: PythonLiteral)] = []
        skipSpace()
        while true {
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "}") {
                pos += 1
                return .dict(entries)
            }
            guard pos < bytes.count, bytes[pos] == UInt8(ascii: "'") || bytes[pos] == UInt8(ascii: "\"") else {
                throw error("expected a string key or '}', found \(found)")
            }
            let keyOffset = pos
            let key = try string()
            if entries.contains(where: { $0.key == key }) {
                pos = keyOffset
                throw error("key '\(key)' appears twice")
            }
            skipSpace()
            guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else { throw error("expected ':' after key '\(key)', found \(found)") }
            pos += 1
            skipSpace()
            entries.append((key, try value(depth: depth + 1)))
            skipSpace()
            if pos < bytes.count, bytes[pos] == UInt8(ascii: ",") {
                pos += 1
                skipSpace()
            } else if !(pos < bytes.count && bytes[pos] == UInt8(ascii: "}")) {
                throw error("expected ',' or '}' after the value of '\(key)', found \(found)")
            }
        }
    }
}
