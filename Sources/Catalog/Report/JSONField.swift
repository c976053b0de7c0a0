import Foundation

/// A JSON value read with `JSONDecoder`, which reads numbers exactly (Foundation's
/// `JSONSerialization` on Linux can be one unit in the last place off for 17-digit numbers, and
/// turns booleans into numbers).
enum JSONField: Decodable, Equatable {
    case number(Double), text(String), bool(Bool), list([JSONField]), object([String: JSONField]), null

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .text(value)
        } else if let value = try? container.decode([JSONField].self) {
            self = .list(value)
        } else if let value = try? container.decode([String: JSONField].self) {
            self = .object(value)
        } else {
            self = .null
        }
    }

    /// Encodes `value` and reads it back as fields.
    static func of<T: Encodable>(_ value: T) throws -> JSONField {
        try JSONDecoder().decode(JSONField.self, from: JSONEncoder().encode(value))
    }

    var number: Double? { if case .number(let value) = self { value } else { nil } }

    /// The shortest text that reads back to this value: numbers exactly (whole numbers without a
    /// decimal point), lists and objects in JSON-like form.
    var text: String {
        switch self {
        case .number(let value): Self.exact(value)
        case .text(let value): value
        case .bool(let value): String(value)
        case .list(let values): "[" + values.map(\.text).joined(separator: ", ") + "]"
        case .object(let members): "{" + members.keys.sorted().map { "\($0): \(members[$0]!.text)" }.joined(separator: ", ") + "}"
        case .null: "null"
        }
    }

    static func exact(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 9e15 ? String(Int64(value)) : "\(value)"
    }
}
