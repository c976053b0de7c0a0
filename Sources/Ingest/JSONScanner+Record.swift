import Foundation

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
