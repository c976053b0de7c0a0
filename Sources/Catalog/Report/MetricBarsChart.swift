import Foundation

/// The "Results" charts: one horizontal bar chart per metric recorded with `quadcat metric` (a
/// fine-tune's target loss, an eval accuracy), one bar per subset in its colour, ordered by value, so
/// the subsets rank by what they did and not only by what they look like.
///
/// A key `K_sd` recorded next to `K` is not charted on its own: it draws as a +/- whisker on K's
/// bars (an `_sd` key without its `K` anywhere is charted as a metric of its own). Subsets without
/// the metric are listed under the bars as "no value". Values bunched far from zero (losses of
/// 3.80 to 3.95) would draw as bars of equal length from zero, so then the axis starts just below
/// the lowest value less the largest whisker, and the subtitle says where it starts.
enum MetricBarsChart {
    static let width = 360.0
    static let sdSuffix = "_sd"

    /// One subset's value of a metric.
    struct Bar {
        /// Index of the subset in the comparison's entries (its colour).
        var index: Int
        var subset: String
        var value: Double
        /// The value recorded as `KEY_sd`, if any.
        var sd: Double?
        /// The note recorded with the value (or with its sd).
        var note: String?
    }

    /// One metric across the compared subsets.
    struct Metric {
        var key: String
        /// The key of the whiskers, when any subset recorded one.
        var sdKey: String?
        /// In drawing order: by value, lowest first unless `descending`.
        var bars: [Bar]
        var descending: Bool
        /// Subsets without a value, in the comparison's order.
        var missing: [(index: Int, subset: String)]
    }

    /// The metrics recorded for `subsets` (in the comparison's order), the sorted-by key first and
    /// the others by name; empty when none has any. Only `sortedBy` is drawn highest first, and only
    /// when `descending`.
    static func metrics(_ subsets: [SubsetInfo], sortedBy: String?, descending: Bool) -> [Metric] {
        let recorded = subsets.map { info in Dictionary(info.metrics.map { ($0.key, $0) }, uniquingKeysWith: { $1 }) }
        let keys = Set(recorded.flatMap(\.keys))
        let whiskers = Set(keys.filter { $0.hasSuffix(sdSuffix) && $0.count > sdSuffix.count && keys.contains(String($0.dropLast(sdSuffix.count))) })
        let charted = keys.subtracting(whiskers).sorted { ($0 == sortedBy ? 0 : 1, $0) < ($1 == sortedBy ? 0 : 1, $1) }
        return charted.map { key in
            let sdKey = key + sdSuffix
            var bars: [Bar] = [], missing: [(index: Int, subset: String)] = []
            for (i, (info, metrics)) in zip(subsets, recorded).enumerated() {
                guard let metric = metrics[key] else {
                    missing.append((i, info.reference))
                    continue
                }
                let sd = whiskers.contains(sdKey) ? metrics[sdKey] : nil
                bars.append(Bar(index: i, subset: info.reference, value: metric.value, sd: sd.map { abs($0.value) }, note: metric.note ?? sd?.note))
            }
            let down = descending && key == sortedBy
            bars = bars.enumerated().sorted { a, b in
                a.element.value == b.element.value ? a.offset < b.offset : (down ? a.element.value > b.element.value : a.element.value < b.element.value)
            }.map(\.element)
            return Metric(key: key, sdKey: whiskers.contains(sdKey) ? sdKey : nil, bars: bars, descending: down, missing: missing)
        }
    }

    /// Where the value axis runs, and the value bars grow from: 0 when it is in range or near the
    /// values; otherwise (the values and their whiskers span less than a fifth of their distance
    /// from 0) a rounded value just beyond the lowest value less the largest whisker (`truncated`).
    static func axis(_ bars: [Bar]) -> (ticks: AxisTicks, base: Double, truncated: Bool) {
        guard !bars.isEmpty else { return (AxisTicks(0, 1, count: 4), 0, false) }
        let values = bars.map(\.value), whisker = bars.compactMap(\.sd).max() ?? 0
        let low = values.min()! - whisker, high = values.max()! + whisker
        let span = high - low
        if span > 0 && low > 4 * span {
            let ticks = AxisTicks(low - 0.08 * span, high, count: 4)
            if ticks.lower > 0 { return (ticks, ticks.lower, true) }
        } else if span > 0 && high < 0 && -high > 4 * span {
            let ticks = AxisTicks(low, high + 0.08 * span, count: 4)
            if ticks.upper < 0 { return (ticks, ticks.upper, true) }
        }
        return (AxisTicks(min(0, low), max(0, high), count: 4), 0, false)
    }

    /// A number as a bar's label reads it (four significant digits).
    static func short(_ value: Double) -> String { String(format: "%.4g", value) }

    /// A number as a tooltip reads it (six significant digits).
    static func long(_ value: Double) -> String { String(format: "%.6g", value) }

    static func chart(_ metric: Metric, sorted: Bool) -> RenderedChart {
        let rowHeight = 22.0, left = 128.0, right = width - 56, top = 50.0
        let rows = metric.bars.count + metric.missing.count
        let bottom = top + rowHeight * Double(max(1, rows)) + 4
        var canvas = SVGCanvas(width: width, height: bottom + 40)
        let (ticks, base, truncated) = axis(metric.bars)
        let area = PlotArea(left: left, top: top, right: right, bottom: bottom, x: ticks, y: AxisTicks(0, 1, count: 1))
        let xs = area.xScale

        let title = metric.key + (sorted ? " (sorted)" : "")
        canvas.text(HTMLEscaping.shortened(title, to: 52), x: 8, y: 14, size: 12, bold: true, title: title)
        var subtitle: [String] = []
        if truncated { subtitle.append((base == ticks.lower ? "axis starts at " : "axis ends at ") + ticks.label(base)) }
        subtitle.append(metric.descending ? "highest first" : "lowest first")
        if metric.sdKey != nil { subtitle.append("whiskers \u{00B1} sd") }
        let subtitleText = subtitle.joined(separator: " \u{00B7} ")
        canvas.text(HTMLEscaping.shortened(subtitleText, to: 60), x: 8, y: 30, size: 10.5, fill: ReportPalette.axis, title: subtitleText)

        for value in ticks.values {
            canvas.line(x1: xs(value), y1: top - 4, x2: xs(value), y2: bottom, stroke: ReportPalette.grid)
            canvas.text(ticks.label(value), x: xs(value), y: bottom + 15, anchor: .middle, size: 10, fill: ReportPalette.axis)
        }
        canvas.line(x1: xs(base), y1: top - 4, x2: xs(base), y2: bottom, stroke: ReportPalette.axis)
        canvas.text(HTMLEscaping.shortened(metric.key, to: 40), x: (left + right) / 2, y: bottom + 31, anchor: .middle, size: 11)

        for (row, bar) in metric.bars.enumerated() {
            let y = top + Double(row) * rowHeight, mid = y + 9
            let color = ReportPalette.subset(bar.index)
            var tip = "\(bar.subset): \(metric.key) = \(long(bar.value))"
            if let sd = bar.sd { tip += " \u{00B1} \(long(sd))" }
            if let note = bar.note { tip += " (\(note))" }
            canvas.group(data: [("data-subset", bar.subset), ("data-value", JSONField.exact(bar.value)), ("data-sd", bar.sd.map(JSONField.exact))]) { c in
                let name = HTMLEscaping.shortened(bar.subset, to: 20)
                c.text(name, x: left - 6, y: mid + 3.5, anchor: .end, size: 10.5, title: name == bar.subset ? nil : bar.subset)
                let end = xs(bar.value), start = xs(base)
                c.rect(x: min(start, end), y: y + 2, width: abs(end - start), height: 14, fill: color, title: tip)
                var reach = max(start, end)
                if let sd = bar.sd, sd > 0 {
                    let lo = xs(bar.value - sd), hi = xs(bar.value + sd)
                    c.line(x1: lo, y1: mid, x2: hi, y2: mid, stroke: ReportPalette.ink, width: 1.2)
                    c.line(x1: lo, y1: mid - 4, x2: lo, y2: mid + 4, stroke: ReportPalette.ink, width: 1.2)
                    c.line(x1: hi, y1: mid - 4, x2: hi, y2: mid + 4, stroke: ReportPalette.ink, width: 1.2)
                    reach = max(reach, hi)
                }
                c.text(short(bar.value), x: reach + 4, y: mid + 3.5, size: 10, fill: ReportPalette.axis)
            }
        }
        for (offset, entry) in metric.missing.enumerated() {
            let y = top + Double(metric.bars.count + offset) * rowHeight, mid = y + 9
            canvas.group(data: [("data-subset", entry.subset), ("data-missing", "true")]) { c in
                let name = HTMLEscaping.shortened(entry.subset, to: 20)
                c.text(name, x: left - 6, y: mid + 3.5, anchor: .end, size: 10.5, title: name == entry.subset ? nil : entry.subset)
                c.text("no value", x: left + 4, y: mid + 3.5, size: 10, fill: ReportPalette.axis, title: "\(entry.subset) has no \(metric.key) recorded")
            }
        }
        let data: [(String, String?)] = [
            ("data-metric", metric.key), ("data-sd-key", metric.sdKey), ("data-order", metric.descending ? "descending" : "ascending"),
            ("data-axis-start", JSONField.exact(ticks.lower)), ("data-axis-truncated", truncated ? "true" : nil),
        ]
        return RenderedChart(kind: "metric-bars", html: canvas.svg(chart: "metric-bars", label: "\(metric.key) per subset", data: data), elements: canvas.elementCount)
    }
}
