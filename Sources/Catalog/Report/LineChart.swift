import Foundation

/// Line charts of a selector's per-step sequences (its objective trace, or named series such as
/// pulls per round). Long sequences are reduced to the minimum and maximum of each pixel column, so
/// a 13,500-pick trace draws as a few hundred points and looks the same.
enum LineChart {
    static let width = 360.0, height = 235.0
    /// Sequences longer than this are reduced (two points per pixel column of the plot).
    static let maxPoints = 600

    struct Series {
        var label: String
        var values: [Double]
    }

    static func panel(
        kind: String, title: String, series: [Series], stepTitle: String, valueTitle: String, color: String, data: [(String, String?)]
    ) -> RenderedChart {
        let dashes = series.indices.map { ReportPalette.dashes[$0 % ReportPalette.dashes.count] }
        let strokes = series.indices.map { $0 == 0 ? color : ReportPalette.ink }
        let key = Legend(entries: series.indices.map { (.line(stroke: strokes[$0], dash: dashes[$0]), series[$0].label) })
        let legendHeight = series.count > 1 ? Double(key.lines(maxWidth: width - 16)) * Legend.lineHeight : 0
        var canvas = SVGCanvas(width: width, height: height + legendHeight)
        let finite = series.flatMap { $0.values.filter(\.isFinite) }
        let longest = series.map(\.values.count).max() ?? 0
        var lo = finite.min() ?? 0, hi = finite.max() ?? 1
        if lo >= 0 && lo < 0.5 * hi { lo = 0 }
        if hi == lo { hi = lo + 1 }
        let area = PlotArea(
            left: 48, top: 46 + legendHeight, right: width - 14, bottom: height + legendHeight - 42,
            x: AxisTicks(1, Double(max(longest, 2)), count: 5, integers: true), y: AxisTicks(lo, hi, count: 4))
        canvas.text(HTMLEscaping.shortened(title, to: 52), x: 8, y: 14, size: 12, bold: true, title: title)
        area.drawAxes(on: &canvas, xTitle: stepTitle, yTitle: valueTitle)
        let xs = area.xScale, ys = area.yScale
        if series.count > 1 { key.draw(on: &canvas, x: 8, y: 30, maxWidth: width - 16) }
        for (i, s) in series.enumerated() {
            let dash = dashes[i], stroke = strokes[i]
            let points = reduced(s.values).map { (xs(Double($0.step)), ys($0.value)) }
            canvas.path(points, stroke: stroke, width: 2, dash: dash, data: [("data-series", s.label), ("data-steps", String(s.values.count))])
            if s.values.count <= 30 {
                for (step, value) in s.values.enumerated() where value.isFinite {
                    canvas.circle(cx: xs(Double(step + 1)), cy: ys(value), r: 2.5, fill: stroke, title: "\(stepTitle) \(step + 1): \(AxisTicks.format(value, step: area.y.step / 100))")
                }
            }
        }
        return RenderedChart(kind: kind, html: canvas.svg(chart: kind, label: title, data: data), elements: canvas.elementCount)
    }

    /// (1-based step, value) pairs: all of them for short sequences; otherwise, for each of
    /// `maxPoints / 2` equal runs of steps, its minimum and maximum in step order. Non-finite values
    /// are dropped.
    static func reduced(_ values: [Double]) -> [(step: Int, value: Double)] {
        let all = values.enumerated().filter { $0.element.isFinite }.map { (step: $0.offset + 1, value: $0.element) }
        guard all.count > maxPoints else { return all }
        let buckets = maxPoints / 2
        var out: [(step: Int, value: Double)] = []
        out.reserveCapacity(maxPoints)
        for b in 0..<buckets {
            let run = all[(b * all.count / buckets)..<((b + 1) * all.count / buckets)]
            guard let low = run.min(by: { $0.value < $1.value }), let high = run.max(by: { $0.value < $1.value }) else { continue }
            out += low.step <= high.step ? [low, high] : [high, low]
        }
        return out
    }

    /// "acceptedPullsPerRound" -> ("accepted pulls", "round"); a name without "Per" has no step name.
    static func describe(seriesName name: String) -> (quantity: String, step: String?) {
        var words: [String] = []
        var current = ""
        for character in name {
            if character.isUppercase, !current.isEmpty {
                words.append(current)
                current = ""
            }
            current.append(character)
        }
        if !current.isEmpty { words.append(current) }
        words = words.map { $0.lowercased() }
        if let per = words.lastIndex(of: "per"), per > 0, per < words.count - 1 {
            return (words[..<per].joined(separator: " "), words[(per + 1)...].joined(separator: " "))
        }
        return (words.joined(separator: " "), nil)
    }
}
