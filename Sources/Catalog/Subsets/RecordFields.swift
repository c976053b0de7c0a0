/// Adds top-level fields to a verbatim JSON object record without re-encoding it, so every other byte
/// of the record is kept as the user wrote it.
enum RecordFields {
    /// `record` with `"name": value` pairs inserted before its closing brace. The record must be a JSON
    /// object (ingest guarantees it); trailing whitespace after the brace (such as a "\r") is kept.
    static func appending(_ fields: [(name: String, value: Double)], to record: [UInt8]) -> [UInt8] {
        guard !fields.isEmpty, let close = record.lastIndex(of: UInt8(ascii: "}")) else { return record }
        var before = close - 1
        while before >= 0, [0x20, 0x09, 0x0A, 0x0D].contains(record[before]) { before -= 1 }
        let isEmpty = before >= 0 && record[before] == UInt8(ascii: "{")
        var insertion = isEmpty ? "" : ", "
        insertion += fields.map { "\"\($0.name)\": \(jsonNumber($0.value))" }.joined(separator: ", ")
        return Array(record[..<close]) + Array(insertion.utf8) + Array(record[close...])
    }

    /// Whether `"name"` followed by a colon occurs in `record` outside a string, i.e. as a key at any
    /// depth. Conservative: a nested key of that name counts too.
    static func mayHaveKey(_ name: String, _ record: [UInt8]) -> Bool {
        let pattern = Array("\"\(name)\"".utf8)
        guard record.count >= pattern.count else { return false }
        var inString = false, escaped = false
        var i = 0
        while i < record.count {
            let byte = record[i]
            if inString {
                if escaped { escaped = false } else if byte == 0x5C { escaped = true } else if byte == 0x22 { inString = false }
                i += 1
                continue
            }
            if byte == 0x22 {
                if i + pattern.count <= record.count, record[i..<i + pattern.count].elementsEqual(pattern) {
                    var j = i + pattern.count
                    while j < record.count, [0x20, 0x09, 0x0A, 0x0D].contains(record[j]) { j += 1 }
                    if j < record.count, record[j] == UInt8(ascii: ":") { return true }
                }
                inString = true
            }
            i += 1
        }
        return false
    }

    /// A finite double as a JSON number (the shortest form that reads back exactly).
    static func jsonNumber(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}
