/// The tokens of a `--where` predicate.
///
/// Positions are 1-based character (Unicode scalar) offsets into the predicate as the user typed it,
/// so an error can say "position 17".
struct PredicateToken: Equatable {
    enum Kind: Equatable {
        /// A field name: a bare identifier, or any name in double quotes ("n tokens").
        case identifier(String)
        /// A keyword (upper-cased): AND, OR, NOT, IN, IS, NULL, LIKE, TRUE, FALSE.
        case keyword(String)
        /// A text literal in single quotes ('it''s': a quote is doubled).
        case text(String)
        /// A number as written (digits, an optional fraction and exponent; no sign).
        case number(String)
        /// =, !=, <>, <, <=, >, >=, (, ), ',', -
        case symbol(String)
        case end
    }

    var kind: Kind
    /// Where the token starts (1-based).
    var position: Int

    /// How the token reads in a message.
    var description: String {
        switch kind {
        case .identifier(let name): "'\(name)'"
        case .keyword(let word): word
        case .text(let text): "'\(text.replacingOccurrences(of: "'", with: "''"))'"
        case .number(let literal): literal
        case .symbol(let symbol): "'\(symbol)'"
        case .end: "the end of the predicate"
        }
    }
}

/// A malformed or invalid predicate: what is wrong and where.
struct PredicateError: Error, Equatable {
    /// 1-based character position of the fault.
    var position: Int
    var message: String
}

/// Splits a predicate into tokens.
enum PredicateTokenizer {
    static let keywords: Set<String> = ["AND", "OR", "NOT", "IN", "IS", "NULL", "LIKE", "TRUE", "FALSE"]

    static func tokens(_ text: String) throws(PredicateError) -> [PredicateToken] {
        let scalars = Array(text.unicodeScalars)
        var tokens: [PredicateToken] = []
        var i = 0
        func peek(_ offset: Int = 0) -> Unicode.Scalar? { i + offset < scalars.count ? scalars[i + offset] : nil }
        while i < scalars.count {
            let c = scalars[i]
            let position = i + 1
            if c.properties.isWhitespace {
                i += 1
                continue
            }
            if isIdentifierStart(c) {
                var word = ""
                while let s = peek(), isIdentifierPart(s) {
                    word.unicodeScalars.append(s)
                    i += 1
                }
                let upper = word.uppercased()
                tokens.append(PredicateToken(kind: keywords.contains(upper) ? .keyword(upper) : .identifier(word), position: position))
                continue
            }
            if isDigit(c) || (c == "." && peek(1).map(isDigit) == true) {
                tokens.append(PredicateToken(kind: .number(try number(scalars, &i)), position: position))
                continue
            }
            switch c {
            case "'":
                tokens.append(PredicateToken(kind: .text(try quoted(scalars, &i, quote: "'", what: "text")), position: position))
            case "\"":
                let name = try quoted(scalars, &i, quote: "\"", what: "field name")
                guard !name.isEmpty else { throw PredicateError(position: position, message: "an empty field name (\"\")") }
                tokens.append(PredicateToken(kind: .identifier(name), position: position))
            case "=", "<", ">", "!", "(", ")", ",", "-":
                var symbol = String(c)
                if let next = peek(1), (c == "<" && (next == "=" || next == ">")) || ((c == ">" || c == "!") && next == "=") {
                    symbol.unicodeScalars.append(next)
                }
                if symbol == "!" { throw PredicateError(position: position, message: "unexpected '!' (write != for 'not equal', NOT for negation)") }
                tokens.append(PredicateToken(kind: .symbol(symbol), position: position))
                i += symbol.unicodeScalars.count
            case ";":
                throw PredicateError(position: position, message: "unexpected ';': a predicate is one expression (no statements)")
            default:
                throw PredicateError(position: position, message: "unexpected character '\(c)'")
            }
        }
        tokens.append(PredicateToken(kind: .end, position: scalars.count + 1))
        return tokens
    }

    private static func isDigit(_ c: Unicode.Scalar) -> Bool { ("0"..."9").contains(c) }

    private static func isIdentifierStart(_ c: Unicode.Scalar) -> Bool {
        c == "_" || ("a"..."z").contains(c) || ("A"..."Z").contains(c)
    }

    private static func isIdentifierPart(_ c: Unicode.Scalar) -> Bool {
        isIdentifierStart(c) || isDigit(c)
    }

    /// digits [. digits] [e [+-] digits]; a letter straight after it is an error (12abc).
    private static func number(_ s: [Unicode.Scalar], _ i: inout Int) throws(PredicateError) -> String {
        let start = i
        var literal = ""
        func take() {
            literal.unicodeScalars.append(s[i])
            i += 1
        }
        while i < s.count, isDigit(s[i]) { take() }
        if i < s.count, s[i] == "." {
            take()
            guard i < s.count, isDigit(s[i]) else { throw PredicateError(position: i + 1, message: "expected a digit after the decimal point in \(literal)") }
            while i < s.count, isDigit(s[i]) { take() }
        }
        if i < s.count, s[i] == "e" || s[i] == "E" {
            take()
            if i < s.count, s[i] == "+" || s[i] == "-" { take() }
            guard i < s.count, isDigit(s[i]) else { throw PredicateError(position: i + 1, message: "expected the digits of an exponent in \(literal)") }
            while i < s.count, isDigit(s[i]) { take() }
        }
        if i < s.count, isIdentifierPart(s[i]) || s[i] == "." {
            throw PredicateError(position: start + 1, message: "'\(literal)\(s[i])...' is not a number (quote text values: '...'; field names start with a letter)")
        }
        return literal
    }

    /// A quoted run starting at the quote at `i`; a doubled quote stands for one quote.
    private static func quoted(_ s: [Unicode.Scalar], _ i: inout Int, quote: Unicode.Scalar, what: String) throws(PredicateError) -> String {
        let open = i
        var out = ""
        i += 1
        while i < s.count {
            if s[i] == quote {
                if i + 1 < s.count, s[i + 1] == quote {
                    out.unicodeScalars.append(quote)
                    i += 2
                    continue
                }
                i += 1
                return out
            }
            out.unicodeScalars.append(s[i])
            i += 1
        }
        throw PredicateError(position: open + 1, message: "unterminated \(what) (no closing \(quote) after position \(open + 1))")
    }
}
