/// A `--where` predicate: a boolean expression over indexed record fields and literals (docs/ARCHITECTURE.md, "Queries").
///
/// ```
/// predicate   := disjunction
/// disjunction := conjunction (OR conjunction)*
/// conjunction := negation (AND negation)*
/// negation    := NOT negation | '(' disjunction ')' | test
/// test        := operand (= | != | <> | < | <= | > | >=) operand
///              | operand [NOT] IN '(' literal (',' literal)* ')'
///              | operand IS [NOT] NULL
///              | operand [NOT] LIKE 'pattern'
/// operand     := field | literal          (a test names at least one field)
/// literal     := 'text' | [-]number | TRUE | FALSE
/// ```
/// Keywords are case-insensitive; a field name that is not a plain identifier (or is a keyword) goes in
/// double quotes. The predicate is parsed and evaluated by quadcat over the indexed values; it is never
/// turned into SQL.
indirect enum Predicate: Equatable {
    case and([Predicate])
    case or([Predicate])
    case not(Predicate)
    case comparison(PredicateOperand, ComparisonOperator, PredicateOperand)
    case membership(PredicateOperand, [PredicateLiteral], negated: Bool)
    case isNull(PredicateOperand, negated: Bool)
    case like(PredicateOperand, pattern: String, negated: Bool)

    /// Parses `text`, or throws the first fault with its position.
    static func parse(_ text: String) throws(PredicateError) -> Predicate {
        var parser = PredicateParser(tokens: try PredicateTokenizer.tokens(text))
        return try parser.predicate()
    }

    /// Every field the predicate names, with the position of each mention.
    var fieldMentions: [(name: String, position: Int)] {
        switch self {
        case .and(let parts), .or(let parts): parts.flatMap(\.fieldMentions)
        case .not(let inner): inner.fieldMentions
        case .comparison(let a, _, let b): a.fieldMentions + b.fieldMentions
        case .membership(let a, _, _), .isNull(let a, _), .like(let a, _, _): a.fieldMentions
        }
    }
}

enum ComparisonOperator: String, Equatable {
    case equal = "=", notEqual = "!=", less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
}

enum PredicateLiteral: Equatable {
    case text(String)
    case integer(Int64)
    case real(Double)
    case boolean(Bool)
}

enum PredicateOperand: Equatable {
    /// A field and where it is named.
    case field(String, position: Int)
    /// A literal and where it starts.
    case literal(PredicateLiteral, position: Int)

    var fieldMentions: [(name: String, position: Int)] {
        if case .field(let name, let position) = self { return [(name, position)] }
        return []
    }

    var position: Int {
        switch self {
        case .field(_, let position), .literal(_, let position): position
        }
    }
}

/// Recursive descent over the tokens, one function per grammar rule.
struct PredicateParser {
    let tokens: [PredicateToken]
    var index = 0

    init(tokens: [PredicateToken]) { self.tokens = tokens }

    var current: PredicateToken { tokens[index] }

    mutating func predicate() throws(PredicateError) -> Predicate {
        if current.kind == .end { throw PredicateError(position: 1, message: "the predicate is empty") }
        let result = try disjunction()
        guard current.kind == .end else {
            throw PredicateError(position: current.position, message: "unexpected \(current.description) after a complete predicate (join tests with AND or OR)")
        }
        return result
    }

    private mutating func disjunction() throws(PredicateError) -> Predicate {
        var parts = [try conjunction()]
        while current.kind == .keyword("OR") {
            index += 1
            parts.append(try conjunction())
        }
        return parts.count == 1 ? parts[0] : .or(parts.flatMap { if case .or(let inner) = $0 { inner } else { [$0] } })
    }

    private mutating func conjunction() throws(PredicateError) -> Predicate {
        var parts = [try negation()]
        while current.kind == .keyword("AND") {
            index += 1
            parts.append(try negation())
        }
        return parts.count == 1 ? parts[0] : .and(parts.flatMap { if case .and(let inner) = $0 { inner } else { [$0] } })
    }

    private mutating func negation() throws(PredicateError) -> Predicate {
        if current.kind == .keyword("NOT") {
            index += 1
            return .not(try negation())
        }
        if current.kind == .symbol("(") {
            let open = current.position
            index += 1
            let inner = try disjunction()
            guard current.kind == .symbol(")") else {
                throw PredicateError(position: current.position, message: "expected ')' to close the '(' at position \(open), found \(current.description)")
            }
            index += 1
            return inner
        }
        return try test()
    }

    private mutating func test() throws(PredicateError) -> Predicate {
        let left = try operand(after: nil)
        let start = left.position
        let verb = current
        var result: Predicate
        switch verb.kind {
        case .symbol(let symbol) where ["=", "!=", "<>", "<", "<=", ">", ">="].contains(symbol):
            index += 1
            let right = try operand(after: verb)
            result = .comparison(left, ComparisonOperator(rawValue: symbol == "<>" ? "!=" : symbol)!, right)
        case .keyword("IS"):
            index += 1
            var negated = false
            if current.kind == .keyword("NOT") {
                negated = true
                index += 1
            }
            guard current.kind == .keyword("NULL") else {
                throw PredicateError(position: current.position, message: "expected NULL after IS\(negated ? " NOT" : ""), found \(current.description)")
            }
            index += 1
            result = .isNull(left, negated: negated)
        case .keyword("NOT"), .keyword("IN"), .keyword("LIKE"):
            var negated = false
            if verb.kind == .keyword("NOT") {
                negated = true
                index += 1
                guard current.kind == .keyword("IN") || current.kind == .keyword("LIKE") else {
                    throw PredicateError(position: current.position, message: "expected IN or LIKE after NOT, found \(current.description)")
                }
            }
            if current.kind == .keyword("IN") {
                index += 1
                result = .membership(left, try literalList(), negated: negated)
            } else {
                let like = current
                index += 1
                guard case .text(let pattern) = current.kind else {
                    throw PredicateError(position: current.position, message: "expected a text pattern in single quotes after \(like.description), found \(current.description)")
                }
                index += 1
                result = .like(left, pattern: pattern, negated: negated)
            }
        default:
            throw PredicateError(
                position: verb.position,
                message: "expected a comparison (=, !=, <, <=, >, >=, IN, IS NULL, LIKE) after \(describe(left)), found \(verb.description)")
        }
        guard !result.fieldMentions.isEmpty else {
            throw PredicateError(position: start, message: "this test compares values only; name an indexed field")
        }
        return result
    }

    /// A field or a literal; `after` is the operator it follows, for messages.
    private mutating func operand(after previous: PredicateToken?) throws(PredicateError) -> PredicateOperand {
        let token = current
        if case .identifier(let name) = token.kind {
            index += 1
            return .field(name, position: token.position)
        }
        if token.kind == .keyword("NULL") {
            throw PredicateError(position: token.position, message: "NULL is not a value to compare with (a comparison with NULL is never true): use IS NULL or IS NOT NULL")
        }
        if let literal = try literal() { return .literal(literal, position: token.position) }
        let wanted = previous.map { "expected a value or a field after \($0.description)" } ?? "expected a field, a value, NOT or '('"
        throw PredicateError(position: token.position, message: "\(wanted), found \(token.description)")
    }

    /// A literal at the current token, or nil when there is none.
    private mutating func literal() throws(PredicateError) -> PredicateLiteral? {
        let token = current
        switch token.kind {
        case .text(let text):
            index += 1
            return .text(text)
        case .keyword("TRUE"), .keyword("FALSE"):
            index += 1
            return .boolean(token.kind == .keyword("TRUE"))
        case .number(let digits):
            index += 1
            return try number(digits, negative: false, at: token.position)
        case .symbol("-"):
            index += 1
            guard case .number(let digits) = current.kind else {
                throw PredicateError(position: current.position, message: "expected a number after '-', found \(current.description)")
            }
            index += 1
            return try number(digits, negative: true, at: token.position)
        default:
            return nil
        }
    }

    private func number(_ digits: String, negative: Bool, at position: Int) throws(PredicateError) -> PredicateLiteral {
        let literal = (negative ? "-" : "") + digits
        if digits.allSatisfy(\.isASCIIDigitCharacter), let value = Int64(literal) { return .integer(value) }
        guard let value = Double(literal), value.isFinite else {
            throw PredicateError(position: position, message: "the number \(literal) is out of range")
        }
        return .real(value)
    }

    /// '(' literal (',' literal)* ')'
    private mutating func literalList() throws(PredicateError) -> [PredicateLiteral] {
        guard current.kind == .symbol("(") else {
            throw PredicateError(position: current.position, message: "expected '(' and a list of values after IN, found \(current.description)")
        }
        let open = current.position
        index += 1
        var values: [PredicateLiteral] = []
        while true {
            if current.kind == .keyword("NULL") {
                throw PredicateError(position: current.position, message: "NULL cannot be in an IN list (it never matches): add OR field IS NULL")
            }
            guard let value = try literal() else {
                throw PredicateError(position: current.position, message: "expected a value in the IN list, found \(current.description)")
            }
            values.append(value)
            if current.kind == .symbol(",") {
                index += 1
                continue
            }
            guard current.kind == .symbol(")") else {
                throw PredicateError(position: current.position, message: "expected ',' or ')' in the IN list opened at position \(open), found \(current.description)")
            }
            index += 1
            return values
        }
    }

    private func describe(_ operand: PredicateOperand) -> String {
        switch operand {
        case .field(let name, _): "'\(name)'"
        case .literal(let value, _): value.canonical
        }
    }
}

private extension Character {
    var isASCIIDigitCharacter: Bool { isASCII && isNumber }
}

// MARK: Canonical form

extension Predicate {
    /// The predicate printed back in one fixed spelling: keywords upper case, one space around
    /// operators, `!=` for `<>`, parentheses only where precedence needs them, nested ANDs and ORs
    /// flattened. Equal predicates however they were typed (spacing, case of keywords, redundant
    /// parentheses) have equal canonical forms; the recipe hash takes this form.
    var canonical: String {
        switch self {
        case .and(let parts): parts.map { $0.isOr ? "(\($0.canonical))" : $0.canonical }.joined(separator: " AND ")
        case .or(let parts): parts.map(\.canonical).joined(separator: " OR ")
        case .not(let inner): "NOT " + (inner.isCompound ? "(\(inner.canonical))" : inner.canonical)
        case .comparison(let a, let op, let b): "\(a.canonical) \(op.rawValue) \(b.canonical)"
        case .membership(let a, let values, let negated):
            "\(a.canonical) \(negated ? "NOT IN" : "IN") (\(values.map(\.canonical).joined(separator: ", ")))"
        case .isNull(let a, let negated): "\(a.canonical) IS \(negated ? "NOT NULL" : "NULL")"
        case .like(let a, let pattern, let negated): "\(a.canonical) \(negated ? "NOT LIKE" : "LIKE") \(PredicateLiteral.text(pattern).canonical)"
        }
    }

    private var isOr: Bool { if case .or = self { true } else { false } }
    private var isCompound: Bool {
        switch self {
        case .and, .or: true
        default: false
        }
    }
}

extension PredicateOperand {
    var canonical: String {
        switch self {
        case .field(let name, _):
            let plain = name.unicodeScalars.first.map { $0 == "_" || ("a"..."z").contains($0) || ("A"..."Z").contains($0) } == true
                && name.unicodeScalars.allSatisfy { $0 == "_" || ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) }
                && !PredicateTokenizer.keywords.contains(name.uppercased())
            return plain ? name : "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        case .literal(let value, _): return value.canonical
        }
    }
}

extension PredicateLiteral {
    var canonical: String {
        switch self {
        case .text(let text): "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
        case .integer(let value): String(value)
        case .real(let value): "\(value)"
        case .boolean(let value): value ? "TRUE" : "FALSE"
        }
    }
}
