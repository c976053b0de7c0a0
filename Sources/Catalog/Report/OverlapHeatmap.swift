import Foundation

/// The overlap of every pair of subsets: cells coloured by Jaccard (the sequential ramp), each
/// printing the shared rows and the Jaccard; the diagonal holds each subset's size.
enum OverlapHeatmap {
    /// Above this many subsets the cells drop their printed numbers (tooltips keep them).
    static let maxLabelledSubsets = 12
    /// Above this many the tooltips go too (the numbers stay in the cells' data attributes), so that
    /// even 50 subsets draw fewer than 3,000 elements.
    static let maxTitledSubsets = 30

    static func chart(_ report: CompareReport) -> RenderedChart {
        let names = report.entries.map(\.subset)
        let n = names.count
        let cell = max(28, min(66, 540 / Double(max(n, 1))))
        let left = 150.0, top = 118.0
        let width = left + cell * Double(n) + 90, height = top + cell * Double(n) + 20
        var canvas = SVGCanvas(width: width, height: height)
        canvas.text("Shared rows and Jaccard index", x: 8, y: 16, size: 12, bold: true)
        var overlap: [String: CompareReport.Overlap] = [:]
        for o in report.overlaps {
            overlap["\(o.a)\n\(o.b)"] = o
            overlap["\(o.b)\n\(o.a)"] = o
        }
        let labelled = n <= maxLabelledSubsets, titled = n <= maxTitledSubsets
        for (i, name) in names.enumerated() {
            let short = HTMLEscaping.shortened(name, to: 22)
            canvas.text(short, x: left - 8, y: top + cell * (Double(i) + 0.5) + 4, anchor: .end, size: 11, title: short == name ? nil : name)
            let cx = left + cell * (Double(i) + 0.5)
            canvas.text(short, x: cx, y: top - 8, size: 11, rotate: -40, title: short == name ? nil : name)
        }
        for (i, a) in names.enumerated() {
            for (j, b) in names.enumerated() {
                let x = left + cell * Double(j), y = top + cell * Double(i)
                // Each cell is one rect (with its numbers as data attributes and a tooltip), plus two
                // texts when there are few subsets: about 3 n^2 elements at most.
                if i == j {
                    let rows = report.entries[i].rows
                    canvas.rect(
                        x: x + 1, y: y + 1, width: cell - 2, height: cell - 2, fill: "#FFFFFF", stroke: ReportPalette.axis,
                        data: [("data-subset", a), ("data-rows", String(rows))], title: titled ? "\(a): \(AxisTicks.grouped(rows)) rows" : nil)
                    if labelled {
                        canvas.text(AxisTicks.grouped(rows), x: x + cell / 2, y: y + cell / 2 - 1, anchor: .middle, size: 11, bold: true)
                        canvas.text("rows", x: x + cell / 2, y: y + cell / 2 + 12, anchor: .middle, size: 9.5, fill: ReportPalette.axis)
                    }
                    continue
                }
                guard let o = overlap["\(a)\n\(b)"] else { continue }
                let fill = ReportPalette.rampColor(o.jaccard), ink = ReportPalette.textOnRamp(o.jaccard)
                canvas.rect(
                    x: x + 1, y: y + 1, width: cell - 2, height: cell - 2, fill: fill,
                    data: [("data-a", o.a), ("data-b", o.b), ("data-shared", String(o.shared)), ("data-jaccard", "\(o.jaccard)")],
                    title: titled ? "\(a) and \(b): \(AxisTicks.grouped(o.shared)) shared rows, Jaccard \(String(format: "%.3f", o.jaccard))" : nil)
                if labelled {
                    canvas.text(AxisTicks.grouped(o.shared), x: x + cell / 2, y: y + cell / 2 - 1, anchor: .middle, size: 11, bold: true, fill: ink)
                    canvas.text(String(format: "J %.2f", o.jaccard), x: x + cell / 2, y: y + cell / 2 + 12, anchor: .middle, size: 9.5, fill: ink)
                }
            }
        }
        // The colour key: Jaccard from 0 (bottom) to 1 (top) in ten steps.
        let keyX = left + cell * Double(n) + 22, keyTop = top, keyHeight = max(120, cell * Double(n))
        let steps = 10
        for s in 0..<steps {
            let t0 = Double(s) / Double(steps)
            canvas.rect(x: keyX, y: keyTop + keyHeight * (1 - t0 - 1 / Double(steps)), width: 14, height: keyHeight / Double(steps) + 0.5, fill: ReportPalette.rampColor(t0 + 0.5 / Double(steps)))
        }
        for t in [0.0, 0.5, 1.0] {
            canvas.text(String(format: "%.1f", t), x: keyX + 18, y: keyTop + keyHeight * (1 - t) + 4, size: 10, fill: ReportPalette.axis)
        }
        canvas.text("Jaccard", x: keyX - 2, y: keyTop - 8, size: 10.5)
        let label = "Overlap of \(n) subsets: shared rows and Jaccard index of every pair"
        return RenderedChart(kind: "overlap-heatmap", html: canvas.svg(chart: "overlap-heatmap", label: label), elements: canvas.elementCount)
    }
}
