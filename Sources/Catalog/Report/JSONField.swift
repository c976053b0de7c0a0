import Foundation

/// A JSON value read with `JSONDecoder`, which reads numbers exactly. Foundation's
/// `JSONSerialization` on Linux can be one unit in the last place off for 17-digit numbers (and
/// turns booleans into numbers), which would make a printed figure differ from the one computed.
/// The report reads the encoded comparison with it; scripts and tests can read any `--json` output
/// with it.
public enum JSONField: Decodable, Equatable, Sendable {
    case number(Double), text(String), bool(Bool), list([JSONField]), object([String: JSONField]), null

    public init(from decoder: any Decoder) throws {
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

    /// Parses a JSON document.
    public static func parse(_ data: Data) throws -> JSONField { try JSONDecoder().decode(JSONField.self, from: data) }

    /// Encodes `value` and reads it back as fields.
    public static func of<T: Encodable>(_ value: T) throws -> JSONField { try parse(JSONEncoder().encode(value)) }

    /// The member `key` of an object; nil for other values.
    public subscript(key: String) -> JSONField? { members[key] }
    public var members: [String: JSONField] { if case .object(let values) = self { values } else { [:] } }
    public var items: [JSONField] { if case .list(let values) = self { values } else { [] } }
    public var number: Double? { if case .number(let value) = self { value } else { nil } }
    public var string: String? { if case .text(let value) = self { value } else { nil } }

    /// The value as short text: numbers exactly (see ``exact(_:)``), lists and objects in a JSON-like form.
    public var text: String {
        switch self {
        case .number(let value): Self.exact(value)
        case .text(let value): value
        case .bool(let value): String(value)
        case .list(let values): "[" + values.map(\.text).joined(separator: ", ") + "]"
        case .object(let members): "{" + members.keys.sorted().map { "\($0): \(members[$0]!.text)" }.joined(separator: ", ") + "}"
        case .null: "null"
        }
    }

    /// The shortest text that reads back to `value`; whole numbers without a decimal point.
    public static func exact(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 9e15 ? String(Int64(value)) : "\(value)"
    }
}
