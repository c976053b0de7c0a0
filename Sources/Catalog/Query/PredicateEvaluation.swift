import Selectors

/// One indexed value of one row. JSON booleans are the integers 1 and 0 (TRUE and FALSE in a predicate
/// are 1 and 0 too).
enum FieldValue: Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)

    init(_ literal: PredicateLiteral) {
        switch literal {
        case .text(let s): self = .text(s)
        case .integer(let n): self = .integer(n)
        case .real(let x): self = .real(x)
        case .boolean(let b): self = .integer(b ? 1 : 0)
        }
    }
}

/// Evaluates a predicate over the indexed values of every row of a corpus, in SQL's three-valued logic:
/// a test is true, false or unknown, and a row matches when the whole predicate is true.
///
/// - A comparison with NULL (a missing field) is unknown; `IS [NOT] NULL` is never unknown.
/// - Numbers compare as numbers (integers exactly, integers with reals by value); text compares by
///   Unicode code points (byte order of UTF-8, no case folding, no normalisation). A number and a text
///   never compare: that test is unknown (`validate` refuses it when a field holds only the other kind).
/// - `x IN (a, b)` is `x = a OR x = b`; `LIKE` matches text only, case-sensitively, `%` any run of
///   characters, `_` one character.
/// - NOT, AND, OR follow Kleene's logic (NOT unknown is unknown; false AND unknown is false; true OR
///   unknown is true).
struct PredicateEvaluator {
    let rowCount: Int
    /// The values of every field the predicate names, one per row.
    let columns: [String: [FieldValue]]

    /// The rows where `predicate` is true.
    func matchingRows(_ predicate: Predicate) -> RowMask {
        truth(predicate).isTrue
    }

    /// The rows where a predicate is true, and those where it is false (the rest are unknown).
    private func truth(_ predicate: Predicate) -> (isTrue: RowMask, isFalse: RowMask) {
        switch predicate {
        case .and(let parts):
            var result = truth(parts[0])
            for part in parts.dropFirst() {
                let next = truth(part)
                result = (result.isTrue.intersection(next.isTrue), result.isFalse.union(next.isFalse))
            }
            return result
        case .or(let parts):
            var result = truth(parts[0])
            for part in parts.dropFirst() {
                let next = truth(part)
                result = (result.isTrue.union(next.isTrue), result.isFalse.intersection(next.isFalse))
            }
            return result
        case .not(let inner):
            let result = truth(inner)
            return (result.isFalse, result.isTrue)
        case .comparison(let a, let op, let b):
            let (a, b) = (resolve(a), resolve(b))
            return test { r in
                guard let order = Self.order(a[r], b[r]) else { return nil }
                switch op {
                case .equal: return order == 0
                case .notEqual: return order != 0
                case .less: return order < 0
                case .lessOrEqual: return order <= 0
                case .greater: return order > 0
                case .greaterOrEqual: return order >= 0
                }
            }
        case .membership(let a, let literals, let negated):
            let values = literals.map(FieldValue.init)
            let a = resolve(a)
            return test { r in
                let x = a[r]
                var unknown = false
                for v in values {
                    switch Self.order(x, v) {
                    case 0?: return !negated
                    case nil: unknown = true
                    default: break
                    }
                }
                return unknown ? nil : negated
            }
        case .isNull(let a, let negated):
            let a = resolve(a)
            return test { r in (a[r] == .null) != negated }
        case .like(let a, let pattern, let negated):
            let compiled = Array(pattern.utf8)
            let a = resolve(a)
            return test { r in
                guard case .text(let text) = a[r] else { return nil }
                return Self.like(text, compiled) != negated
            }
        }
    }

    /// The masks of a leaf test evaluated row by row (nil: unknown).
    private func test(_ body: (Int) -> Bool?) -> (isTrue: RowMask, isFalse: RowMask) {
        var isTrue = RowMask(count: rowCount, allSet: false)
        var isFalse = RowMask(count: rowCount, allSet: false)
        for r in 0..<rowCount {
            switch body(r) {
            case true?: isTrue.insert(r)
            case false?: isFalse.insert(r)
            case nil: break
            }
        }
        return (isTrue, isFalse)
    }

    /// An operand's value per row: a field's column, or a literal's one value.
    private struct Values {
        let column: [FieldValue]?
        let constant: FieldValue

        @inline(__always)
        subscript(row: Int) -> FieldValue { column?[row] ?? constant }
    }

    private func resolve(_ operand: PredicateOperand) -> Values {
        switch operand {
        case .field(let name, _): Values(column: columns[name]!, constant: .null)
        case .literal(let literal, _): Values(column: nil, constant: FieldValue(literal))
        }
    }

    /// -1, 0 or 1 as a is below, equal to or above b; nil when they do not compare (a NULL, or a
    /// number against a text).
    static func order(_ a: FieldValue, _ b: FieldValue) -> Int? {
        switch (a, b) {
        case (.null, _), (_, .null): return nil
        case let (.integer(x), .integer(y)): return x < y ? -1 : x > y ? 1 : 0
        case let (.real(x), .real(y)):
            guard !x.isNaN, !y.isNaN else { return nil }
            return x < y ? -1 : x > y ? 1 : 0
        case let (.integer(x), .real(y)): return compare(x, y)
        case let (.real(x), .integer(y)): return compare(y, x).map { -$0 }
        case let (.text(x), .text(y)):
            if x.utf8.elementsEqual(y.utf8) { return 0 }
            return x.utf8.lexicographicallyPrecedes(y.utf8) ? -1 : 1
        default: return nil
        }
    }

    /// An integer against a real, exactly (no rounding of large integers).
    private static func compare(_ x: Int64, _ y: Double) -> Int? {
        guard !y.isNaN else { return nil }
        if y >= 9_223_372_036_854_775_808.0 { return -1 }
        if y < -9_223_372_036_854_775_808.0 { return 1 }
        let floor = y.rounded(.down)
        let whole = Int64(floor)
        if x < whole { return -1 }
        if x > whole { return 1 }
        return floor == y ? 0 : -1
    }

    /// SQL LIKE over UTF-8: `%` matches any run of characters, `_` one character, everything else
    /// itself (case-sensitively). Backtracks only to the last `%`, so it runs in O(text x pattern) at
    /// worst and linearly in the usual cases.
    static func like(_ text: String, _ pattern: [UInt8]) -> Bool {
        var text = text
        return text.withUTF8 { t in
            let percent = UInt8(ascii: "%"), underscore = UInt8(ascii: "_")
            func nextCharacter(_ i: Int) -> Int {
                var j = i + 1
                while j < t.count, t[j] & 0xC0 == 0x80 { j += 1 }
                return j
            }
            var p = 0, i = 0
            var star = -1, resume = 0
            while i < t.count {
                if p < pattern.count && pattern[p] == underscore {
                    i = nextCharacter(i)
                    p += 1
                } else if p < pattern.count && pattern[p] == percent {
                    star = p
                    resume = i
                    p += 1
                } else if p < pattern.count && pattern[p] == t[i] {
                    p += 1
                    i += 1
                } else if star >= 0 {
                    resume = nextCharacter(resume)
                    i = resume
                    p = star + 1
                } else {
                    return false
                }
            }
            while p < pattern.count && pattern[p] == percent { p += 1 }
            return p == pattern.count
        }
    }
}

// MARK: Validation against the indexed fields

extension Predicate {
    /// Checks every field the predicate names against the corpus's indexed fields, and every test
    /// against the kinds of value its fields hold (a test that could never be true is a mistake).
    func validate(fields: [String: IndexedField]) throws(PredicateError) {
        for (name, position) in fieldMentions where fields[name] == nil {
            let known = fields.keys.sorted().map { "\($0) (\(fields[$0]!.type))" }
            throw PredicateError(
                position: position,
                message: "'\(name)' is not an indexed field" + (known.isEmpty ? " (no field is indexed)" : "; indexed: \(known.joined(separator: ", "))"))
        }
        try checkKinds(fields)
    }

    private func checkKinds(_ fields: [String: IndexedField]) throws(PredicateError) {
        switch self {
        case .and(let parts), .or(let parts): for part in parts { try part.checkKinds(fields) }
        case .not(let inner): try inner.checkKinds(fields)
        case .comparison(let a, _, let b):
            try Self.compatible(a, b, fields)
        case .membership(let a, let values, _):
            for value in values { try Self.compatible(a, .literal(value, position: a.position), fields) }
        case .isNull: break
        case .like(let a, _, _):
            if case .field(let name, let position) = a, let field = fields[name], field.holdsNumbers, !field.holdsText {
                throw PredicateError(position: position, message: "'\(name)' holds no text (\(field.type) values); LIKE matches text")
            }
        }
    }

    /// A field that holds only numbers never equals a text, and the other way round.
    private static func compatible(_ a: PredicateOperand, _ b: PredicateOperand, _ fields: [String: IndexedField]) throws(PredicateError) {
        func kinds(_ operand: PredicateOperand) -> (text: Bool, numbers: Bool, what: String)? {
            switch operand {
            case .field(let name, _):
                guard let field = fields[name], field.holdsText || field.holdsNumbers else { return nil }
                return (field.holdsText, field.holdsNumbers, "'\(name)' holds \(field.type) values")
            case .literal(.text, _): return (true, false, "\(operand.canonical) is text")
            case .literal: return (false, true, "\(operand.canonical) is a number")
            }
        }
        guard let x = kinds(a), let y = kinds(b) else { return }
        if !(x.text && y.text) && !(x.numbers && y.numbers) {
            throw PredicateError(position: b.position, message: "\(x.what) and \(y.what): a number never equals a text (quote text values, leave numbers bare)")
        }
    }
}
