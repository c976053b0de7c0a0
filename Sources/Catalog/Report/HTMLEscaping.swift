/// Escaping for every string that comes from data (subset, corpus, target and label names, record
/// fields, parameters, notes, the command line) before it goes into the report page.
///
/// The page is well-formed XML as well as HTML, so the rules are the intersection of both: the five
/// markup characters become references that both know, and characters XML 1.0 forbids (C0 controls
/// other than tab, newline and carriage return) or HTML warns about (C1 controls, U+FFFE, U+FFFF)
/// become U+FFFD. A hostile name therefore always reads as text and can never close an element,
/// open a new one or end an attribute.
enum HTMLEscaping {
    /// `text` as element content or as the value of a double- or single-quoted attribute.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\t", "\n", "\r": out.unicodeScalars.append(scalar)
            default:
                let v = scalar.value
                if v < 0x20 || (0x7F...0x9F).contains(v) || v == 0xFFFE || v == 0xFFFF {
                    out += "\u{FFFD}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }

    /// `text` cut to `limit` characters with an ellipsis (for chart labels; the full text goes in a
    /// tooltip). Not escaped.
    static func shortened(_ text: String, to limit: Int) -> String {
        text.count <= limit ? text : String(text.prefix(max(1, limit - 1))) + "\u{2026}"
    }
}
