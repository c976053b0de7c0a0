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

    /// A finite double as a JSON number (the shortest form that reads back exactly).
    static func jsonNumber(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}
