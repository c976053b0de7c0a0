/// The `--param key=value` overrides for one selector, read with typed accessors.
///
/// Every accessor records the key it read, so that ``finish(selector:)`` can refuse keys the selector
/// does not know (a typo must not silently fall back to a default).
public struct ParameterBag: Sendable {
    private var values: [String: String]
    private var known: Set<String> = []

    public init(_ values: [String: String] = [:]) { self.values = values }

    /// Parses `key=value` strings; a string without `=` is an error.
    public init(parsing pairs: [String]) throws {
        self.init(try Self.pairs(pairs))
    }

    /// `key=value` strings as a dictionary; a string without `=` is an error.
    public static func pairs(_ items: [String]) throws -> [String: String] {
        var values: [String: String] = [:]
        for pair in items {
            guard let eq = pair.firstIndex(of: "="), eq != pair.startIndex else {
                throw SelectorError("parameter '\(pair)' is not of the form key=value")
            }
            values[String(pair[..<eq])] = String(pair[pair.index(after: eq)...])
        }
        return values
    }

    public mutating func double(_ key: String, default value: Double, range: ClosedRange<Double>? = nil) throws -> Double {
        known.insert(key)
        guard let text = values[key] else { return value }
        guard let parsed = Double(text), parsed.isFinite else {
            throw SelectorError("parameter \(key)=\(text) is not a finite number")
        }
        if let range, !range.contains(parsed) {
            throw SelectorError("parameter \(key)=\(text) is outside \(range.lowerBound)...\(range.upperBound)")
        }
        return parsed
    }

    public mutating func optionalDouble(_ key: String, range: ClosedRange<Double>? = nil) throws -> Double? {
        known.insert(key)
        guard values[key] != nil else { return nil }
        return try double(key, default: 0, range: range)
    }

    public mutating func int(_ key: String, default value: Int, range: ClosedRange<Int>? = nil) throws -> Int {
        known.insert(key)
        guard let text = values[key] else { return value }
        guard let parsed = Int(text) else { throw SelectorError("parameter \(key)=\(text) is not an integer") }
        if let range, !range.contains(parsed) {
            throw SelectorError("parameter \(key)=\(text) is outside \(range.lowerBound)...\(range.upperBound)")
        }
        return parsed
    }

    public mutating func optionalInt(_ key: String, range: ClosedRange<Int>? = nil) throws -> Int? {
        known.insert(key)
        guard values[key] != nil else { return nil }
        return try int(key, default: 0, range: range)
    }

    public mutating func bool(_ key: String, default value: Bool) throws -> Bool {
        known.insert(key)
        guard let text = values[key]?.lowercased() else { return value }
        switch text {
        case "true", "yes", "1", "on": return true
        case "false", "no", "0", "off": return false
        default: throw SelectorError("parameter \(key)=\(text) is not true or false")
        }
    }

    public mutating func choice(_ key: String, default value: String, allowed: [String]) throws -> String {
        known.insert(key)
        guard let text = values[key] else { return value }
        guard allowed.contains(text) else {
            throw SelectorError("parameter \(key)=\(text) must be one of \(allowed.joined(separator: ", "))")
        }
        return text
    }

    /// Throws when a key was given that no accessor asked for.
    public func finish(selector: String) throws {
        let unknown = Set(values.keys).subtracting(known).sorted()
        guard unknown.isEmpty else {
            throw SelectorError(
                "unknown parameter\(unknown.count > 1 ? "s" : "") \(unknown.joined(separator: ", ")) for selector \(selector); "
                    + "it takes: \(known.sorted().joined(separator: ", "))")
        }
    }
}
