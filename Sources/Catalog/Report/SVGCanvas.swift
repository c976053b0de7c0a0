import Foundation

/// A small SVG writer for the report's charts: elements are appended as text with coordinates
/// rounded to 0.1 px, every string from data is escaped, and the elements are counted so that a
/// chart can be held to a size budget whatever the size of the subsets behind it.
struct SVGCanvas {
    let width: Double
    let height: Double
    private(set) var body = ""
    private(set) var elementCount = 0

    init(width: Double, height: Double) {
        self.width = width
        self.height = height
    }

    /// A coordinate as short text: one decimal, none when whole.
    static func number(_ value: Double) -> String {
        let rounded = (value * 10).rounded() / 10
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(format: "%.1f", rounded)
    }

    /// ` name="value"` pairs, values escaped; nil values are left out.
    static func attributes(_ pairs: [(String, String?)]) -> String {
        pairs.compactMap { name, value in value.map { " \(name)=\"\(HTMLEscaping.escape($0))\"" } }.joined()
    }

    private mutating func element(_ name: String, _ pairs: [(String, String?)], title: String? = nil, text: String? = nil) {
        elementCount += 1
        body += "<\(name)\(Self.attributes(pairs))"
        if title == nil && text == nil {
            body += "/>"
            return
        }
        body += ">"
        if let text { body += HTMLEscaping.escape(text) }
        if let title {
            elementCount += 1
            body += "<title>\(HTMLEscaping.escape(title))</title>"
        }
        body += "</\(name)>"
    }

    mutating func rect(
        x: Double, y: Double, width: Double, height: Double, fill: String, stroke: String? = nil, opacity: Double? = nil,
        data: [(String, String?)] = [], title: String? = nil
    ) {
        element("rect", [
            ("x", Self.number(x)), ("y", Self.number(y)), ("width", Self.number(max(0, width))), ("height", Self.number(max(0, height))),
            ("fill", fill), ("stroke", stroke), ("fill-opacity", opacity.map { String(format: "%.2f", $0) }),
        ] + data, title: title)
    }

    mutating func line(x1: Double, y1: Double, x2: Double, y2: Double, stroke: String, width: Double = 1, dash: String? = nil) {
        element("line", [
            ("x1", Self.number(x1)), ("y1", Self.number(y1)), ("x2", Self.number(x2)), ("y2", Self.number(y2)),
            ("stroke", stroke), ("stroke-width", Self.number(width)), ("stroke-dasharray", dash.flatMap { $0.isEmpty ? nil : $0 }),
        ])
    }

    /// A path through `points` (`M x y L x y ...`), closed with `Z` when `closed`.
    mutating func path(
        _ points: [(Double, Double)], closed: Bool = false, fill: String = "none", fillOpacity: Double? = nil,
        stroke: String? = nil, width: Double = 1, dash: String? = nil, data: [(String, String?)] = [], title: String? = nil
    ) {
        guard let first = points.first else { return }
        var d = "M\(Self.number(first.0)) \(Self.number(first.1))"
        for point in points.dropFirst() { d += "L\(Self.number(point.0)) \(Self.number(point.1))" }
        if closed { d += "Z" }
        element("path", [
            ("d", d), ("fill", fill), ("fill-opacity", fillOpacity.map { String(format: "%.2f", $0) }), ("stroke", stroke),
            ("stroke-width", stroke == nil ? nil : Self.number(width)), ("stroke-dasharray", dash.flatMap { $0.isEmpty ? nil : $0 }),
            ("stroke-linejoin", stroke == nil ? nil : "round"),
        ] + data, title: title)
    }

    mutating func circle(cx: Double, cy: Double, r: Double, fill: String, stroke: String? = nil, title: String? = nil) {
        element("circle", [("cx", Self.number(cx)), ("cy", Self.number(cy)), ("r", Self.number(r)), ("fill", fill), ("stroke", stroke)], title: title)
    }

    enum Anchor: String { case start, middle, end }

    mutating func text(
        _ content: String, x: Double, y: Double, anchor: Anchor = .start, size: Double = 11, bold: Bool = false,
        fill: String = ReportPalette.ink, rotate: Double? = nil, title: String? = nil
    ) {
        element("text", [
            ("x", Self.number(x)), ("y", Self.number(y)), ("text-anchor", anchor == .start ? nil : anchor.rawValue),
            ("font-size", Self.number(size)), ("font-weight", bold ? "600" : nil), ("fill", fill),
            ("transform", rotate.map { "rotate(\(Self.number($0)) \(Self.number(x)) \(Self.number(y)))" }),
        ], title: title, text: content)
    }

    /// Wraps the elements `draw` adds in a group with `data` attributes (figures a reader or a
    /// script looks up, such as the numbers behind one heatmap cell).
    mutating func group(data: [(String, String?)], _ draw: (inout SVGCanvas) -> Void) {
        elementCount += 1
        body += "<g\(Self.attributes(data))>"
        draw(&self)
        body += "</g>"
    }

    /// The finished `<svg>` element: scales to its container's width, with an accessible label.
    func svg(chart: String, label: String, data: [(String, String?)] = []) -> String {
        "<svg viewBox=\"0 0 \(Self.number(width)) \(Self.number(height))\" width=\"\(Self.number(width))\" height=\"\(Self.number(height))\""
            + " role=\"img\"\(Self.attributes([("aria-label", label), ("data-chart", chart), ("data-elements", String(elementCount))] + data))>"
            + "<title>\(HTMLEscaping.escape(label))</title>" + body + "</svg>"
    }
}

/// The plotting area of a chart with axes: a rectangle inside the canvas and its two scales.
struct PlotArea {
    var left: Double, top: Double, right: Double, bottom: Double
    var x: AxisTicks, y: AxisTicks

    var xScale: LinearScale { LinearScale(lower: x.lower, upper: x.upper, start: left, end: right) }
    var yScale: LinearScale { LinearScale(lower: y.lower, upper: y.upper, start: bottom, end: top) }

    /// Draws grid lines, tick labels and axis titles (with units) on `canvas`.
    func drawAxes(on canvas: inout SVGCanvas, xTitle: String, yTitle: String) {
        let xs = xScale, ys = yScale
        for value in y.values {
            let py = ys(value)
            canvas.line(x1: left, y1: py, x2: right, y2: py, stroke: ReportPalette.grid)
            canvas.text(y.label(value), x: left - 5, y: py + 3.5, anchor: .end, size: 10, fill: ReportPalette.axis)
        }
        let skip = max(1, Int((Double(x.values.count) * 38 / max(1, right - left)).rounded(.up)))
        for (i, value) in x.values.enumerated() {
            let px = xs(value)
            canvas.line(x1: px, y1: bottom, x2: px, y2: bottom + 4, stroke: ReportPalette.axis)
            if i % skip == 0 {
                canvas.text(x.label(value), x: px, y: bottom + 15, anchor: .middle, size: 10, fill: ReportPalette.axis)
            }
        }
        canvas.line(x1: left, y1: bottom, x2: right, y2: bottom, stroke: ReportPalette.axis)
        canvas.line(x1: left, y1: top, x2: left, y2: bottom, stroke: ReportPalette.axis)
        canvas.text(xTitle, x: (left + right) / 2, y: bottom + 31, anchor: .middle, size: 11)
        // The y title reads horizontally above the axis, where long quantities fit.
        let shown = HTMLEscaping.shortened(yTitle, to: Int((canvas.width - 8) / 6))
        canvas.text(shown, x: 8, y: top - 9, size: 11, title: shown == yTitle ? nil : yTitle)
    }
}

/// A legend: one swatch (box or line) and one label per entry, in a row from (x, y).
struct Legend {
    enum Mark {
        case box(fill: String, stroke: String?, opacity: Double?)
        case line(stroke: String, dash: String)
    }

    var entries: [(mark: Mark, label: String)]

    static let lineHeight = 15.0

    /// Lines the legend takes within `maxWidth`.
    func lines(maxWidth: Double) -> Int { layout(maxWidth: maxWidth).last.map { $0.line + 1 } ?? 0 }

    /// Each entry's offset along its line and its line number.
    private func layout(maxWidth: Double) -> [(offset: Double, line: Int)] {
        var offset = 0.0, line = 0
        return entries.map { entry in
            let width = 18 + Double(HTMLEscaping.shortened(entry.label, to: 40).count) * 6.1 + 12
            if offset > 0 && offset + width > maxWidth {
                offset = 0
                line += 1
            }
            defer { offset += width }
            return (offset, line)
        }
    }

    func draw(on canvas: inout SVGCanvas, x: Double, y: Double, maxWidth: Double) {
        for (entry, place) in zip(entries, layout(maxWidth: maxWidth)) {
            let shown = HTMLEscaping.shortened(entry.label, to: 40)
            let px = x + place.offset, py = y + Double(place.line) * Self.lineHeight
            switch entry.mark {
            case let .box(fill, stroke, opacity):
                canvas.rect(x: px, y: py - 8, width: 12, height: 9, fill: fill, stroke: stroke, opacity: opacity)
            case let .line(stroke, dash):
                canvas.line(x1: px, y1: py - 3.5, x2: px + 14, y2: py - 3.5, stroke: stroke, width: 2, dash: dash)
            }
            canvas.text(shown, x: px + 18, y: py, size: 10.5, title: shown == entry.label ? nil : entry.label)
        }
    }
}

/// One chart or table of the page, with its kind (the `data-chart` attribute) and its size.
struct RenderedChart {
    var kind: String
    var html: String
    var elements: Int
}
