/// Histogram panels: a subset's distribution of a per-row value, as shares of its rows, drawn over
/// the corpus's distribution on the same bins (light grey), with both means marked.
enum HistogramChart {
    static let width = 360.0, height = 235.0

    /// One panel. `corpus` nil: the value exists only for members (e.g. weights).
    static func panel(
        kind: String, title: String, subset: BinnedCounts, subsetMean: Double?,
        corpus: BinnedCounts?, corpusMean: Double?, color: String, valueTitle: String, data: [(String, String?)]
    ) -> RenderedChart {
        var legend: [(mark: Legend.Mark, label: String)] = [
            (.box(fill: color, stroke: color, opacity: 0.35), "members (\(AxisTicks.grouped(subset.total)))"),
        ]
        if let corpus { legend.append((.box(fill: ReportPalette.corpus, stroke: nil, opacity: nil), "corpus (\(AxisTicks.grouped(corpus.total)))")) }
        if subsetMean != nil { legend.append((.line(stroke: color, dash: "6 3"), "mean")) }
        if corpusMean != nil && corpus != nil { legend.append((.line(stroke: ReportPalette.axis, dash: "2 3"), "corpus mean")) }
        let key = Legend(entries: legend)
        let legendHeight = Double(key.lines(maxWidth: width - 16)) * Legend.lineHeight
        var canvas = SVGCanvas(width: width, height: height + legendHeight)
        let subsetShares = shares(subset), corpusShares = corpus.map(shares)
        let top = max(subsetShares.max() ?? 0, corpusShares?.max() ?? 0)
        let area = PlotArea(
            left: 44, top: 46 + legendHeight, right: width - 14, bottom: height + legendHeight - 42,
            x: AxisTicks(subset.lower, subset.upper, count: 5), y: AxisTicks(0, max(top, 1e-9), count: 4))
        canvas.text(HTMLEscaping.shortened(title, to: 52), x: 8, y: 14, size: 12, bold: true, title: title)
        key.draw(on: &canvas, x: 8, y: 30, maxWidth: width - 16)
        area.drawAxes(on: &canvas, xTitle: valueTitle, yTitle: "share of rows (%)")
        if let corpus, let corpusShares {
            canvas.path(steps(corpusShares, counts: corpus, area: area), closed: true, fill: ReportPalette.corpus, data: [("data-series", "corpus")])
        }
        canvas.path(
            steps(subsetShares, counts: subset, area: area), closed: true, fill: color, fillOpacity: 0.35, stroke: color, width: 1.5,
            data: [("data-series", "subset")])
        let xs = area.xScale
        if let corpusMean, corpus != nil {
            canvas.line(x1: xs(corpusMean), y1: area.top, x2: xs(corpusMean), y2: area.bottom, stroke: ReportPalette.axis, width: 1.2, dash: "2 3")
        }
        if let subsetMean {
            canvas.line(x1: xs(subsetMean), y1: area.top, x2: xs(subsetMean), y2: area.bottom, stroke: color, width: 1.5, dash: "6 3")
        }
        return RenderedChart(kind: kind, html: canvas.svg(chart: kind, label: title, data: data), elements: canvas.elementCount)
    }

    /// Each bin's count as a percentage of the values counted.
    static func shares(_ counts: BinnedCounts) -> [Double] {
        let total = Double(max(1, counts.total))
        return counts.counts.map { 100 * Double($0) / total }
    }

    /// The outline of a step histogram along the bottom of `area`.
    private static func steps(_ shares: [Double], counts: BinnedCounts, area: PlotArea) -> [(Double, Double)] {
        let xs = area.xScale, ys = area.yScale
        var points: [(Double, Double)] = [(xs(counts.lower), area.bottom)]
        for (i, share) in shares.enumerated() {
            let x0 = xs(counts.lower + Double(i) * counts.binWidth), x1 = xs(counts.lower + Double(i + 1) * counts.binWidth)
            points.append((x0, ys(share)))
            points.append((x1, ys(share)))
        }
        points.append((xs(counts.upper), area.bottom))
        return points
    }
}
