import Foundation

/// The report's fixed colours, chosen to survive colour-blind readers and grey-scale printing.
///
/// - Subsets: the Okabe-Ito palette (Okabe & Ito, "Color Universal Design", 2008), which stays
///   distinguishable under the common colour-vision deficiencies, without its yellow (too light on
///   white). Subset *i* of a report has colour *i* mod 7 in every chart and in the table. Colour is
///   never the only cue: each subset has its own panel and label, and lines in one chart also differ
///   in dash pattern.
/// - The corpus, the base rate every subset is drawn against: light grey.
/// - The overlap heatmap: ColorBrewer's sequential "Blues" ramp, whose lightness falls monotonically,
///   so a grey-scale print keeps the order of the values; cells also print their numbers.
enum ReportPalette {
    static let subsets = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000"]
    static let subsetNames = ["blue", "orange", "bluish green", "vermillion", "reddish purple", "sky blue", "black"]
    static let corpus = "#BDBDBD"
    static let ink = "#222222"
    static let axis = "#666666"
    static let grid = "#E6E6E6"
    /// Dash patterns for the lines of one chart, in order (solid first).
    static let dashes = ["", "7 3", "2 3", "9 3 2 3", "4 2 1 2"]
    /// ColorBrewer Blues, 9 classes, lightest first.
    static let ramp = ["#F7FBFF", "#DEEBF7", "#C6DBEF", "#9ECAE1", "#6BAED6", "#4292C6", "#2171B5", "#08519C", "#08306B"]

    /// The colour of subset `index`.
    static func subset(_ index: Int) -> String { subsets[index % subsets.count] }

    /// A colour on the ramp for `t` in 0...1 (linear interpolation between the ramp's stops).
    static func rampColor(_ t: Double) -> String {
        let clamped = t.isFinite ? min(1, max(0, t)) : 0
        let position = clamped * Double(ramp.count - 1)
        let lower = min(ramp.count - 2, Int(position))
        let f = position - Double(lower)
        let a = rgb(ramp[lower]), b = rgb(ramp[lower + 1])
        let mixed = (0..<3).map { Int((Double(a[$0]) + f * Double(b[$0] - a[$0])).rounded()) }
        return "#" + mixed.map { String(format: "%02X", $0) }.joined()
    }

    /// Text colour that reads on the ramp colour for `t`.
    static func textOnRamp(_ t: Double) -> String { t > 0.5 ? "#FFFFFF" : ink }

    private static func rgb(_ hex: String) -> [Int] {
        let digits = Array(hex.dropFirst())
        return (0..<3).map { Int(String(digits[2 * $0...2 * $0 + 1]), radix: 16)! }
    }
}
