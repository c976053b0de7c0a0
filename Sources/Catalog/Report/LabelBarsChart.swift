/// Bars of a label field's distribution in one subset (its colour), each with the corpus's share of
/// the same value beneath it (grey): how far a selection moves away from the base rates.
enum LabelBarsChart {
    static let width = 360.0
    /// Values beyond this many are summed into one "other" bar.
    static let maxValues = 12

    /// The label values to draw, most common in the corpus first; the tail summed as "other".
    static func values(corpus: [String: Int], subsets: [[String: Int]]) -> [(label: String, members: Set<String>)] {
        var all = Set(corpus.keys)
        for counts in subsets { all.formUnion(counts.keys) }
        let ordered = all.sorted { (corpus[$0] ?? 0, $1) > (corpus[$1] ?? 0, $0) }
        guard ordered.count > maxValues else { return ordered.map { ($0, [$0]) } }
        let kept = ordered.prefix(maxValues - 1), rest = ordered.dropFirst(maxValues - 1)
        return kept.map { ($0, [$0]) } + [("other (\(rest.count) values)", Set(rest))]
    }

    static func panel(
        field: String, subsetLabel: String, counts: [String: Int], rows: Int, corpus: [String: Int],
        values: [(label: String, members: Set<String>)], color: String, data: [(String, String?)]
    ) -> RenderedChart {
        let rowHeight = 24.0, top = 44.0, left = 118.0
        let height = top + rowHeight * Double(values.count) + 44
        var canvas = SVGCanvas(width: width, height: height)
        let corpusTotal = Double(max(1, corpus.values.reduce(0, +))), subsetTotal = Double(max(1, rows))
        func sum(_ counts: [String: Int], _ members: Set<String>) -> Int { members.reduce(0) { $0 + (counts[$1] ?? 0) } }
        let subsetShares = values.map { 100 * Double(sum(counts, $0.members)) / subsetTotal }
        let corpusShares = values.map { 100 * Double(sum(corpus, $0.members)) / corpusTotal }
        let area = PlotArea(
            left: left, top: top, right: width - 46, bottom: height - 44,
            x: AxisTicks(0, max(subsetShares.max() ?? 0, corpusShares.max() ?? 0, 1e-9), count: 4), y: AxisTicks(0, 1, count: 1))
        let title = "\(subsetLabel): \(field)"
        canvas.text(HTMLEscaping.shortened(title, to: 52), x: 8, y: 14, size: 12, bold: true, title: title)
        let xs = area.xScale
        for value in area.x.values {
            canvas.line(x1: xs(value), y1: top - 4, x2: xs(value), y2: area.bottom, stroke: ReportPalette.grid)
            canvas.text(area.x.label(value), x: xs(value), y: area.bottom + 15, anchor: .middle, size: 10, fill: ReportPalette.axis)
        }
        canvas.line(x1: left, y1: top - 4, x2: left, y2: area.bottom, stroke: ReportPalette.axis)
        canvas.text("share of rows (%)", x: (left + area.right) / 2, y: area.bottom + 31, anchor: .middle, size: 11)
        for (i, value) in values.enumerated() {
            let y = top + Double(i) * rowHeight
            let count = sum(counts, value.members), corpusCount = sum(corpus, value.members)
            canvas.group(data: [("data-label", value.label), ("data-count", String(count)), ("data-corpus-count", String(corpusCount))]) { c in
                c.text(HTMLEscaping.shortened(value.label, to: 18), x: left - 6, y: y + 12, anchor: .end, size: 10.5, title: value.label)
                c.rect(
                    x: left, y: y + 2, width: xs(subsetShares[i]) - left, height: 11, fill: color,
                    title: "\(value.label): \(AxisTicks.grouped(count)) of \(AxisTicks.grouped(rows)) rows (\(percent(subsetShares[i])))")
                c.rect(
                    x: left, y: y + 14, width: xs(corpusShares[i]) - left, height: 5, fill: ReportPalette.corpus,
                    title: "corpus: \(AxisTicks.grouped(corpusCount)) rows (\(percent(corpusShares[i])))")
                c.text(percent(subsetShares[i]), x: max(xs(subsetShares[i]), xs(corpusShares[i])) + 4, y: y + 12, size: 10, fill: ReportPalette.axis)
            }
        }
        Legend(entries: [
            (.box(fill: color, stroke: nil, opacity: nil), "members (\(AxisTicks.grouped(rows)))"),
            (.box(fill: ReportPalette.corpus, stroke: nil, opacity: nil), "corpus (\(AxisTicks.grouped(corpus.values.reduce(0, +))))"),
        ]).draw(on: &canvas, x: 8, y: 32, maxWidth: width - 16)
        return RenderedChart(kind: "label-bars", html: canvas.svg(chart: "label-bars", label: title, data: data), elements: canvas.elementCount)
    }

    static func percent(_ share: Double) -> String {
        share >= 10 || share == 0 ? String(format: "%.0f%%", share) : String(format: "%.1f%%", share)
    }
}
