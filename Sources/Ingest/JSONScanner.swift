#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Malformed JSON: what is wrong and the byte offset (from the start of the scanned text) where it is.
struct JSONSyntaxError: Error {
    var offset: Int
    var message: String
}

/// A strict, validating JSON scanner over raw bytes (RFC 8259).
///
/// It checks everything a conforming parser must: the grammar, numbers without leading zeros, string
/// escapes including `\uXXXX` surrogate pairs, no raw control characters in strings, and well-formed
/// UTF-8 (no overlong forms, no surrogates, nothing past U+10FFFF). It never builds a tree on its own:
/// callers walk the structure they care about and `skipValue` validates the rest. Strings are scanned
/// eight bytes at a time, since they are most of the bytes of a text corpus.
struct JSONScanner {
    let base: UnsafePointer<UInt8>
    let end: Int
    var pos = 0
    let maxDepth: Int
    /// Words for the container stack of `skipValue`, one bit per level (set = object).
    private let stack: UnsafeMutablePointer<UInt64>
    /// How to name the end of the input in messages ("the end of the line").
    let endName: String

    /// Storage for the container stack of a scanner with the given depth limit.
    static func stackWords(maxDepth: Int) -> Int { maxDepth / 64 + 1 }

    /// `stack` must hold `stackWords(maxDepth:)` words and outlive the scanner.
    init(_ bytes: UnsafeRawBufferPointer, maxDepth: Int, stack: UnsafeMutablePointer<UInt64>, endName: String) {
        base = bytes.baseAddress.map { $0.assumingMemoryBound(to: UInt8.self) } ?? JSONScanner.emptyBase
        end = bytes.count
        self.maxDepth = maxDepth
        self.stack = stack
        self.endName = endName
    }

    nonisolated(unsafe) private static let emptyBase: UnsafePointer<UInt8> = {
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
        p.initialize(to: 0)
        return UnsafePointer(p)
    }()

    /// The byte at `pos`, or 0 past the end (0 is invalid everywhere in JSON, so it always ends a token).
    @inline(__always) var current: UInt8 { pos < end ? base[pos] : 0 }

    /// How the byte at `offset` reads in a message: `'x'`, "the end of the line", "byte 0xC3".
    func describe(at offset: Int) -> String {
        guard offset < end else { return endName }
        let b = base[offset]
        switch b {
        case 0x21..<0x7f: return b == UInt8(ascii: "'") ? "\"'\"" : "'\(Character(Unicode.Scalar(b)))'"
        case 0x20: return "a space"
        case 0x09: return "a tab"
        case 0x0d: return "a carriage return"
        default: return "byte 0x" + hex(b)
        }
    }

    @inline(__always) func error(_ message: String, at offset: Int? = nil) -> JSONSyntaxError {
        JSONSyntaxError(offset: offset ?? pos, message: message)
    }

    @inline(__always) mutating func skipWhitespace() {
        while pos < end {
            let b = base[pos]
            guard b == 0x20 || b == 0x0a || b == 0x0d || b == 0x09 else { return }
            pos += 1
        }
    }

    @inline(__always) mutating func expect(_ byte: UInt8, _ what: String) throws(JSONSyntaxError) {
        guard current == byte else { throw error("expected \(what), found \(describe(at: pos))") }
        pos += 1
    }

    // MARK: Strings

    /// Scans a string starting at the opening quote at `pos`; leaves `pos` after the closing quote.
    /// Returns whether the string holds escapes (and so needs decoding rather than a plain copy).
    @inline(__always) mutating func scanString() throws(JSONSyntaxError) -> Bool {
        let open = pos
        var p = pos &+ 1  // a local cursor: `pos` lives in memory and would be stored on every step
        var escapes = false
        while true {
            p = skipPlainStringBytes(from: p)
            guard p < end else {
                throw error("unterminated string (no closing '\"' before \(endName))", at: open)
            }
            let b = base[p]
            if b == 0x22 {
                pos = p &+ 1
                return escapes
            } else if b == 0x5c {
                escapes = true
                let e = p &+ 1 < end ? base[p &+ 1] : 0
                if JSONScanner.isSimpleEscape(e) {
                    p &+= 2
                } else {
                    pos = p
                    try scanEscape()
                    p = pos
                }
            } else if b >= 0x80 {
                p = try skipUTF8Run(from: p)
            } else if b < 0x20 {
                throw error("raw control character U+00\(hex(b)) inside a string (write it escaped, as \(JSONScanner.escapeName(b)))", at: p)
            } else {
                p &+= 1
            }
        }
    }

    /// The first offset at or after `p` holding a byte that needs a closer look in a string (`"`, `\`,
    /// a control character or non-ASCII), or `end`. Sixteen bytes per step.
    @inline(__always) private func skipPlainStringBytes(from start: Int) -> Int {
        var p = start
        while p &+ 16 <= end {
            let word0 = UInt64(littleEndian: UnsafeRawPointer(base + p).loadUnaligned(as: UInt64.self))
            let word1 = UInt64(littleEndian: UnsafeRawPointer(base + (p &+ 8)).loadUnaligned(as: UInt64.self))
            let special0 = JSONScanner.specialBytes(word0)
            let special1 = JSONScanner.specialBytes(word1)
            if special0 | special1 != 0 {
                return p &+ (special0 != 0 ? special0.trailingZeroBitCount >> 3 : 8 &+ special1.trailingZeroBitCount >> 3)
            }
            p &+= 16
        }
        while p < end {
            let b = base[p]
            if b == 0x22 || b == 0x5c || b < 0x20 || b >= 0x80 { return p }
            p &+= 1
        }
        return p
    }

    /// `"`, `\`, `/`, `b`, `f`, `n`, `r`, `t`: the escapes that take one letter.
    @inline(__always) static func isSimpleEscape(_ e: UInt8) -> Bool {
        switch e {
        case 0x22, 0x5c, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74: true
        default: false
        }
    }

    /// Marks (high bit) the bytes of `w` that end a fast run in a string: `"`, `\`, controls and non-ASCII.
    /// Exact up to the first marked byte, which is all the caller uses.
    @inline(__always) static func specialBytes(_ w: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let quote = w ^ (ones &* 0x22)
        let backslash = w ^ (ones &* 0x5c)
        return (w | (w &- ones &* 0x20) | (quote &- ones) | (backslash &- ones)) & (ones &* 0x80)
    }

    private static func escapeName(_ b: UInt8) -> String {
        switch b {
        case 0x0a: "\\n"
        case 0x0d: "\\r"
        case 0x09: "\\t"
        case 0x08: "\\b"
        case 0x0c: "\\f"
        default: "\\u00" + hex(b)
        }
    }

    /// Validates the escape at `pos` (a backslash) and moves past it.
    private mutating func scanEscape() throws(JSONSyntaxError) {
        let start = pos
        pos += 1
        switch current {
        case 0x22, 0x5c, 0x2f, UInt8(ascii: "b"), UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            pos += 1
        case UInt8(ascii: "u"):
            pos += 1
            let unit = try hexQuad(escapeStart: start)
            if (0xdc00...0xdfff).contains(unit) {
                throw error("invalid escape \\u\(hex16(unit)): a low surrogate without a high surrogate before it", at: start)
            }
            if (0xd800...0xdbff).contains(unit) {
                guard pos + 1 < end, base[pos] == 0x5c, base[pos + 1] == UInt8(ascii: "u") else {
                    throw error("invalid escape \\u\(hex16(unit)): a high surrogate must be followed by a \\uDC00-\\uDFFF escape", at: start)
                }
                let lowStart = pos
                pos += 2
                let low = try hexQuad(escapeStart: lowStart)
                guard (0xdc00...0xdfff).contains(low) else {
                    throw error("invalid escape \\u\(hex16(unit))\\u\(hex16(low)): a high surrogate must be followed by a low surrogate (\\uDC00-\\uDFFF)", at: start)
                }
            }
        default:
            throw error("invalid escape '\\\(pos < end && base[pos] >= 0x20 && base[pos] < 0x7f ? String(Character(Unicode.Scalar(base[pos]))) : describe(at: pos))' (valid: \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)", at: start)
        }
    }

    /// Reads the four hex digits of a `\u` escape at `pos`.
    private mutating func hexQuad(escapeStart: Int) throws(JSONSyntaxError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            let digit: UInt32
            switch current {
            case 0x30...0x39: digit = UInt32(current - 0x30)
            case 0x41...0x46: digit = UInt32(current - 0x41 + 10)
            case 0x61...0x66: digit = UInt32(current - 0x61 + 10)
            default: throw error("invalid \\u escape: expected 4 hex digits, found \(describe(at: pos))", at: escapeStart)
            }
            value = value << 4 | digit
            pos += 1
        }
        return value
    }

    /// Validates the run of UTF-8 sequences starting at `start` (a byte >= 0x80) and returns the offset of
    /// the first ASCII byte after it. Refuses overlong forms, surrogates and code points past U+10FFFF.
    @inline(__always) private func skipUTF8Run(from start: Int) throws(JSONSyntaxError) -> Int {
        var p = start
        while p < end {
            let b0 = base[p]
            if b0 < 0x80 { return p }
            let length: Int
            var low: UInt8 = 0x80
            var high: UInt8 = 0xbf
            switch b0 {
            case 0xc2...0xdf: length = 2
            case 0xe0: length = 3; low = 0xa0
            case 0xed: length = 3; high = 0x9f
            case 0xe1...0xef: length = 3
            case 0xf0: length = 4; low = 0x90
            case 0xf4: length = 4; high = 0x8f
            case 0xf1...0xf3: length = 4
            default: throw invalidUTF8(at: p)
            }
            guard p &+ length <= end else { throw invalidUTF8(at: p) }
            let b1 = base[p &+ 1]
            guard b1 >= low && b1 <= high else { throw invalidUTF8(at: p) }
            if length >= 3 { guard base[p &+ 2] & 0xc0 == 0x80 else { throw invalidUTF8(at: p) } }
            if length == 4 { guard base[p &+ 3] & 0xc0 == 0x80 else { throw invalidUTF8(at: p) } }
            p &+= length
        }
        return p
    }

    func invalidUTF8(at offset: Int) -> JSONSyntaxError {
        var shown: [String] = []
        var i = offset
        while i < end && i < offset + 4 {
            shown.append(hex(base[i]))
            i += 1
            if i < end, base[i] < 0x80 || base[i] >= 0xc0 { break }
        }
        return error("invalid UTF-8 (bytes \(shown.joined(separator: " ")))", at: offset)
    }

    /// Decodes the string whose opening quote is at `open` and closing quote at `close`.
    func decodeString(open: Int, close: Int, hasEscapes: Bool) -> String {
        let start = base + open + 1
        let count = close - open - 1
        if !hasEscapes { return String(decoding: UnsafeBufferPointer(start: start, count: count), as: UTF8.self) }
        // Decoding never makes a string longer: every escape is at least as long as its UTF-8.
        return String(unsafeUninitializedCapacity: count) { out in
            JSONScanner.unescape(UnsafeBufferPointer(start: start, count: count), into: out.baseAddress!)
        }
    }

    /// Writes the UTF-8 of a validated string body (escapes resolved) to `out`; returns the length.
    static func unescape(_ body: UnsafeBufferPointer<UInt8>, into out: UnsafeMutablePointer<UInt8>) -> Int {
        var i = 0
        var o = 0
        let n = body.count
        let p = body.baseAddress!
        let ones: UInt64 = 0x0101_0101_0101_0101
        while i < n {
            // Copy up to the next backslash, eight bytes at a time while none is in sight. Storing a whole
            // word is safe even past the backslash: o <= i, so o + 8 <= n, and later writes cover the excess.
            while i &+ 8 <= n {
                let word = UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self)
                UnsafeMutableRawPointer(out + o).storeBytes(of: word, as: UInt64.self)
                let x = UInt64(littleEndian: word) ^ (ones &* 0x5c)
                let hit = (x &- ones) & ~x & (ones &* 0x80)
                if hit != 0 {
                    let run = hit.trailingZeroBitCount >> 3
                    i &+= run
                    o &+= run
                    break
                }
                i &+= 8
                o &+= 8
            }
            while i < n && p[i] != 0x5c {
                out[o] = p[i]
                i &+= 1
                o &+= 1
            }
            guard i < n else { break }
            let e = p[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "b"): out[o] = 0x08; o += 1
            case UInt8(ascii: "f"): out[o] = 0x0c; o += 1
            case UInt8(ascii: "n"): out[o] = 0x0a; o += 1
            case UInt8(ascii: "r"): out[o] = 0x0d; o += 1
            case UInt8(ascii: "t"): out[o] = 0x09; o += 1
            case UInt8(ascii: "u"):
                var scalar = hexValue(p + i)
                i += 4
                if scalar >= 0xd800 && scalar <= 0xdbff {
                    let low = hexValue(p + i + 2)
                    i += 6
                    scalar = 0x10000 + ((scalar - 0xd800) << 10) + (low - 0xdc00)
                }
                o += writeUTF8(scalar, to: out + o)
            default: out[o] = e; o += 1  // " \ /
            }
        }
        return o
    }

    private static func hexValue(_ p: UnsafePointer<UInt8>) -> UInt32 {
        var v: UInt32 = 0
        for k in 0..<4 {
            let c = p[k]
            let d: UInt8 = c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x61 + 10
            v = v << 4 | UInt32(d)
        }
        return v
    }

    private static func writeUTF8(_ s: UInt32, to out: UnsafeMutablePointer<UInt8>) -> Int {
        switch s {
        case 0..<0x80:
            out[0] = UInt8(s)
            return 1
        case 0x80..<0x800:
            out[0] = UInt8(0xc0 | s >> 6)
            out[1] = UInt8(0x80 | s & 0x3f)
            return 2
        case 0x800..<0x10000:
            out[0] = UInt8(0xe0 | s >> 12)
            out[1] = UInt8(0x80 | (s >> 6) & 0x3f)
            out[2] = UInt8(0x80 | s & 0x3f)
            return 3
        default:
            out[0] = UInt8(0xf0 | s >> 18)
            out[1] = UInt8(0x80 | (s >> 12) & 0x3f)
            out[2] = UInt8(0x80 | (s >> 6) & 0x3f)
            out[3] = UInt8(0x80 | s & 0x3f)
            return 4
        }
    }

    // MARK: Numbers and literals

    /// Scans a number at `pos`; returns true when it is an integer (no fraction, no exponent).
    @inline(__always) mutating func scanNumber() throws(JSONSyntaxError) -> Bool {
        let start = pos
        if current == UInt8(ascii: "-") { pos += 1 }
        if current == UInt8(ascii: "0") {
            pos += 1
            if isDigit(current) { throw error("a number must not have leading zeros", at: start) }
        } else if isDigit(current) {
            repeat { pos += 1 } while isDigit(current)
        } else {
            if current == UInt8(ascii: "I") { throw error("-Infinity is not a JSON value (Python writes it unless json.dumps(..., allow_nan=False))", at: start) }
            throw error("expected a digit after '-', found \(describe(at: pos))")
        }
        var integer = true
        if current == UInt8(ascii: ".") {
            pos += 1
            guard isDigit(current) else { throw error("expected a digit after the decimal point, found \(describe(at: pos))") }
            repeat { pos += 1 } while isDigit(current)
            integer = false
        }
        if current | 0x20 == UInt8(ascii: "e") {
            pos += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { pos += 1 }
            guard isDigit(current) else { throw error("expected a digit in the exponent, found \(describe(at: pos))") }
            repeat { pos += 1 } while isDigit(current)
            integer = false
        }
        return integer
    }

    @inline(__always) func isDigit(_ b: UInt8) -> Bool { b &- 0x30 < 10 }

    /// Scans `true`, `false` or `null` at `pos`.
    mutating func scanLiteral() throws(JSONSyntaxError) {
        let word: StaticString
        switch current {
        case UInt8(ascii: "t"): word = "true"
        case UInt8(ascii: "f"): word = "false"
        default: word = "null"
        }
        let n = word.utf8CodeUnitCount
        guard pos + n <= end, memcmp(base + pos, word.utf8Start, n) == 0 else {
            throw error("invalid literal (expected '\(word)')")
        }
        pos += n
    }

    /// The error for a byte at `pos` that cannot start a value.
    func notAValue() -> JSONSyntaxError {
        for (word, hint) in [("NaN", "NaN"), ("Infinity", "Infinity")] where hasPrefix(word) {
            return error("\(hint) is not a JSON value (Python writes it unless json.dumps(..., allow_nan=False))")
        }
        if current == UInt8(ascii: "'") { return error("expected a value, found \"'\" (JSON strings use double quotes)") }
        return error("expected a value, found \(describe(at: pos))")
    }

    private func hasPrefix(_ word: String) -> Bool {
        let bytes = Array(word.utf8)
        guard pos + bytes.count <= end else { return false }
        return bytes.indices.allSatisfy { base[pos + $0] == bytes[$0] }
    }

    // MARK: Whole values

    /// What kind of value starts at `pos`, for messages ("a number", "an object").
    func kindOfValue() -> String {
        switch current {
        case 0x22: "a string"
        case UInt8(ascii: "{"): "an object"
        case UInt8(ascii: "["): "an array"
        case UInt8(ascii: "t"), UInt8(ascii: "f"): "a boolean"
        case UInt8(ascii: "n"): "null"
        case UInt8(ascii: "-"), 0x30...0x39: "a number"
        default: describe(at: pos)
        }
    }

    /// Validates the value at `pos` (whitespace already skipped) and moves past it. `depth` is the nesting
    /// level of the container holding the value (0 at top level).
    mutating func skipValue(depth: Int) throws(JSONSyntaxError) {
        var level = 0  // containers opened by this call
        while true {
            // A value is expected at `pos`.
            skipWhitespace()
            switch current {
            case 0x22:
                _ = try scanString()
            case UInt8(ascii: "-"), 0x30...0x39:
                _ = try scanNumber()
            case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
                try scanLiteral()
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                let isObject = current == UInt8(ascii: "{")
                guard depth + level < maxDepth else {
                    throw error("nesting deeper than \(maxDepth) levels")
                }
                push(level, isObject: isObject)
                level += 1
                pos += 1
                skipWhitespace()
                if current == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                    pos += 1
                    level -= 1
                } else {
                    if isObject { try memberName() }
                    continue
                }
            default:
                throw notAValue()
            }
            // After a value: close containers or move to the next element.
            while true {
                if level == 0 { return }
                skipWhitespace()
                let inObject = isObject(level - 1)
                let b = current
                if b == UInt8(ascii: ",") {
                    pos += 1
                    if inObject {
                        skipWhitespace()
                        try memberName()
                    }
                    break
                } else if b == (inObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                    pos += 1
                    level -= 1
                } else {
                    throw error(inObject ? "expected ',' or '}' after object member, found \(describe(at: pos))"
                                         : "expected ',' or ']' after array element, found \(describe(at: pos))")
                }
            }
        }
    }

    /// Scans `"name" :` at `pos` (whitespace before it already skipped).
    @inline(__always) private mutating func memberName() throws(JSONSyntaxError) {
        guard current == 0x22 else {
            if current == UInt8(ascii: "}") { throw error("expected a member name after ',', found '}' (JSON allows no trailing comma)") }
            throw error("expected a member name in double quotes, found \(describe(at: pos))")
        }
        _ = try scanString()
        skipWhitespace()
        try expect(UInt8(ascii: ":"), "':' after member name")
    }

    @inline(__always) private func push(_ level: Int, isObject: Bool) {
        let bit: UInt64 = 1 << UInt64(level & 63)
        if isObject { stack[level >> 6] |= bit } else { stack[level >> 6] &= ~bit }
    }

    @inline(__always) private func isObject(_ level: Int) -> Bool {
        stack[level >> 6] & (1 << UInt64(level & 63)) != 0
    }
}

func hex(_ b: UInt8) -> String {
    let digits = Array("0123456789ABCDEF")
    return String([digits[Int(b >> 4)], digits[Int(b & 15)]])
}

func hex16(_ v: UInt32) -> String { hex(UInt8(v >> 8 & 0xff)) + hex(UInt8(v & 0xff)) }
