import Foundation

/// A JSON document read with `JSONDecoder`, which reads numbers exactly; Foundation's
/// `JSONSerialization` on Linux may be one unit in the last place off for 17-digit numbers, which
/// would make exact comparisons of printed figures meaningless.
public enum JSONTree: Decodable, Equatable, Sendable {
    case number(Double), text(String), bool(Bool), list([JSONTree]), object([String: JSONTree]), null

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .text(value)
        } else if let value = try? container.decode([JSONTree].self) {
            self = .list(value)
        } else if let value = try? container.decode([String: JSONTree].self) {
            self = .object(value)
        } else {
            self = .null
        }
    }

    public static func parse(_ data: Data) throws -> JSONTree { try JSONDecoder().decode(JSONTree.self, from: data) }
    public static func parse(_ text: String) throws -> JSONTree { try parse(Data(text.utf8)) }

    public subscript(key: String) -> JSONTree? { if case .object(let members) = self { members[key] } else { nil } }
    public var number: Double? { if case .number(let value) = self { value } else { nil } }
    public var string: String? { if case .text(let value) = self { value } else { nil } }
    public var items: [JSONTree] { if case .list(let values) = self { values } else { [] } }
    public var members: [String: JSONTree] { if case .object(let values) = self { values } else { [:] } }
}
