import Foundation

/// The report page: one self-contained HTML file (inline CSS, inline SVG, one small inline script,
/// no external reference of any kind) that is also well-formed XML.
public enum ReportPage {
    /// The page text and what it holds.
    public struct Rendered: Sendable {
        public var html: String
        /// How many charts (and tables) of each kind the page holds, by `data-chart` name.
        public var charts: [String: Int]
        /// The most SVG elements in any one chart.
        public var largestChart: Int
    }

    public static func render(_ figures: ReportFigures) throws -> Rendered {
        var page = PageBuilder()
        let report = figures.comparison
        let references = report.entries.map(\.subset)
        let plural = references.count == 1 ? "" : "s"
        let title = "quadcat report: \(references.count) subset\(plural) of corpus '\(report.corpus)'"

        page.raw("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>")
        page.raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>")
        page.raw("<meta name=\"generator\"\(SVGCanvas.attributes([("content", "quadcat \(figures.toolVersion)")]))/>")
        page.raw("<title>\(HTMLEscaping.escape(title))</title><style>\n\(ReportStyle.css)\n</style></head><body><main>")

        // Header.
        page.raw("<header><h1>Subset comparison</h1><p class=\"meta\">")
        var facts = ["corpus <b>\(HTMLEscaping.escape(report.corpus))</b>", "catalog \(HTMLEscaping.escape(figures.catalogName))"]
        if let target = report.target { facts.append("target <b>\(HTMLEscaping.escape(target))</b>") }
        if let field = report.labelField { facts.append("label field <b>\(HTMLEscaping.escape(field))</b>") }
        facts.append("\(references.count) subset\(plural)")
        facts.append("made \(HTMLEscaping.escape(figures.generatedAt)) by quadcat \(HTMLEscaping.escape(figures.toolVersion))")
        page.raw(facts.joined(separator: " \u{00B7} ") + "</p>")
        let metrics = MetricBarsChart.metrics(figures.subsets, sortedBy: report.sortedBy, descending: figures.sortDescending)
        let resultsLink = metrics.isEmpty ? "" : "<a href=\"#results\">results</a>"
        page.raw("<nav class=\"toc\"><a href=\"#comparison\">comparison</a>\(resultsLink)<a href=\"#overlap\">overlap</a><a href=\"#labels\">labels</a><a href=\"#scores\">scores</a><a href=\"#runs\">selection runs</a><a href=\"#lineage\">lineage</a><a href=\"#reading\">reading the charts</a></nav></header>")

        // The comparison table.
        page.section("comparison", "Comparison")
        page.paragraph("Every figure of <code>quadcat compare</code> for these subsets. Click a column header to sort; the number in each cell is rounded for reading, its exact value is in the cell's <code>data-value</code>.")
        if let key = report.sortedBy {
            let order = figures.sortDescending ? "highest" : "lowest"
            page.paragraph("The subsets are ordered by their recorded <b>\(HTMLEscaping.escape(key))</b>, \(order) first (subsets without it last), here and in every per-subset panel below.")
        }
        page.add(try CompareTable.render(report, descending: figures.sortDescending))
        if !report.notes.isEmpty {
            page.raw("<ul class=\"notes\">" + report.notes.map { "<li>\(HTMLEscaping.escape($0))</li>" }.joined() + "</ul>")
        }
        page.raw("</section>")

        // Results: what each subset did downstream, as recorded with `quadcat metric`.
        if !metrics.isEmpty {
            page.section("results", "Results")
            page.paragraph("The metrics recorded for these subsets with <code>quadcat metric</code> (the latest value of each), one chart per metric with each subset's bar in its colour, lowest value first\(figures.sortDescending ? (report.sortedBy.map { " (\(HTMLEscaping.escape($0)), the order of the page, highest first)" } ?? "") : ""). A metric recorded as <code>KEY_sd</code> next to <code>KEY</code> draws as a \u{00B1} whisker on KEY's bar; hover a bar for its exact value, sd and note.")
            page.raw("<div class=\"grid\">")
            for metric in metrics { page.figure(MetricBarsChart.chart(metric, sorted: metric.key == report.sortedBy)) }
            page.raw("</div></section>")
        }

        // Overlap.
        page.section("overlap", "Overlap")
        page.paragraph("Rows each pair of subsets shares, and their Jaccard index (shared rows over rows in either). The diagonal gives each subset's size.")
        page.figure(OverlapHeatmap.chart(report), wide: true)
        page.raw("</section>")

        // Label distribution.
        page.section("labels", "Label distribution")
        if let field = report.labelField, let corpusLabels = report.corpusLabels {
            page.paragraph("Share of each subset's rows per value of the record field <b>\(HTMLEscaping.escape(field))</b> (coloured), next to the corpus's share (grey bar beneath).")
            let values = LabelBarsChart.values(corpus: corpusLabels, subsets: report.entries.map { $0.labels ?? [:] })
            page.raw("<div class=\"grid\">")
            for (i, entry) in report.entries.enumerated() {
                page.figure(LabelBarsChart.panel(
                    field: field, subsetLabel: entry.subset, counts: entry.labels ?? [:], rows: entry.rows, corpus: corpusLabels,
                    values: values, color: ReportPalette.subset(i), data: [("data-subset", entry.subset)]))
            }
            page.raw("</div>")
        } else {
            page.paragraph("No label field was given: pass <code>--label FIELD</code> (a record field such as <code>domain</code>) to chart how each subset spreads over its values.")
        }
        page.raw("</section>")

        // Score distributions.
        page.section("scores", "Score distributions")
        if figures.rowDistributions.isEmpty {
            page.paragraph("No target to score against: pass <code>--target NAME</code> to chart each row's LESS score and Quad influence.")
        }
        for distribution in figures.rowDistributions {
            page.raw("<h3>\(HTMLEscaping.escape(distribution.name))</h3>")
            let missing = distribution.corpus.missing > 0 ? " \(AxisTicks.grouped(distribution.corpus.missing)) rows of the corpus could not be scored and are not counted." : ""
            page.paragraph("Each row's \(HTMLEscaping.escape(distribution.name)) (\(HTMLEscaping.escape(distribution.about))): each subset's members as shares of the subset, over the whole corpus's distribution (grey) on the same \(distribution.corpus.counts.count) bins; dashed lines mark the means.\(missing)")
            page.raw("<div class=\"grid\">")
            for (i, entry) in report.entries.enumerated() {
                page.figure(HistogramChart.panel(
                    kind: "score-histogram", title: "\(entry.subset): \(distribution.name)", subset: distribution.subsets[i],
                    subsetMean: distribution.subsetMeans[i], corpus: distribution.corpus, corpusMean: distribution.corpusMean,
                    color: ReportPalette.subset(i), valueTitle: distribution.name,
                    data: [("data-subset", entry.subset), ("data-criterion", distribution.name), ("data-mean", distribution.subsetMeans[i].map { "\($0)" })]))
            }
            page.raw("</div>")
        }
        if !figures.memberDistributions.isEmpty {
            page.raw("<h3>Member scores and weights as stored</h3>")
            page.paragraph("The score each selector ranked its members by, and the weight it gave them where weights differ (GTP's fitted weights). Scores mean different things per selector, so each panel has its own scale; a score that only encodes the rank (random) is not drawn.")
            page.raw("<div class=\"grid\">")
            for distribution in figures.memberDistributions {
                let entry = report.entries[distribution.subset]
                page.figure(HistogramChart.panel(
                    kind: "member-histogram", title: "\(entry.subset): \(entry.selector) \(distribution.quantity)", subset: distribution.histogram,
                    subsetMean: nil, corpus: nil, corpusMean: nil, color: ReportPalette.subset(distribution.subset),
                    valueTitle: "\(entry.selector) \(distribution.quantity)", data: [("data-subset", entry.subset), ("data-quantity", distribution.quantity)]))
            }
            page.raw("</div>")
        }
        page.raw("</section>")

        // Selection runs.
        page.section("runs", "Selection runs")
        page.paragraph("What each selector recorded step by step: its objective trace and any per-step series.")
        var quiet: [String] = []
        page.raw("<div class=\"grid\">")
        for (i, info) in figures.subsets.enumerated() {
            let charts = RunCharts.charts(info, color: ReportPalette.subset(i))
            if charts.isEmpty { quiet.append("\(info.reference) (\(info.selector))") }
            for chart in charts { page.figure(chart) }
        }
        page.raw("</div>")
        if !quiet.isEmpty {
            page.paragraph("No per-step record: " + quiet.map(HTMLEscaping.escape).joined(separator: ", ") + ".")
        }
        page.raw("</section>")

        // Lineage.
        page.section("lineage", "Lineage")
        page.paragraph("How each subset was made. The same recipe hash on the same inputs gives the same content hash.")
        for (i, info) in figures.subsets.enumerated() { page.add(LineageSection.render(info, index: i)) }
        page.raw("</section>")

        // Reading the charts.
        page.section("reading", "Reading the charts")
        page.paragraph("Colours are fixed: subsets take the Okabe\u{2013}Ito colour-blind-safe palette in order, the corpus is light grey, and the overlap heatmap uses a single-hue blue ramp whose lightness falls with the Jaccard index, so a grey-scale print keeps the order. Colour is never the only cue: every subset has its own labelled panel, lines in one chart also differ in dash pattern, and heatmap cells print their numbers. A results bar ends at the recorded value, its whisker spans \u{00B1} the recorded sd; when the values lie close together far from zero its axis does not start at zero, and the chart's subtitle says where it starts.")
        page.raw("<p class=\"palette\">")
        for (i, name) in references.enumerated() {
            page.raw("<span><span class=\"swatch\" style=\"background:\(ReportPalette.subset(i))\"></span>\(HTMLEscaping.escape(name)) (\(ReportPalette.subsetNames[i % ReportPalette.subsetNames.count]))</span>")
        }
        page.raw("<span><span class=\"swatch\" style=\"background:\(ReportPalette.corpus)\"></span>corpus</span></p></section>")

        page.raw("<footer>Made by quadcat \(HTMLEscaping.escape(figures.toolVersion)) at \(HTMLEscaping.escape(figures.generatedAt))")
        if let command = figures.command { page.raw(" with:<code class=\"command\">\(HTMLEscaping.escape(command))</code>") }
        page.raw("</footer></main><script>\n\(ReportStyle.script)\n</script></body></html>\n")
        return Rendered(html: page.html, charts: page.charts, largestChart: page.largestChart)
    }
}

/// Accumulates the page text and counts its charts.
private struct PageBuilder {
    var html = ""
    var charts: [String: Int] = [:]
    var largestChart = 0

    mutating func raw(_ text: String) { html += text }

    /// Opens a section; the caller closes it.
    mutating func section(_ id: String, _ heading: String) {
        html += "<section id=\"\(id)\"><h2>\(HTMLEscaping.escape(heading))</h2>"
    }

    /// A paragraph of trusted markup (data inside it must already be escaped).
    mutating func paragraph(_ markup: String) { html += "<p>\(markup)</p>" }

    mutating func add(_ chart: RenderedChart) {
        html += chart.html
        charts[chart.kind, default: 0] += 1
        largestChart = max(largestChart, chart.elements)
    }

    mutating func figure(_ chart: RenderedChart, wide: Bool = false) {
        html += wide ? "<figure class=\"wide\">" : "<figure>"
        add(chart)
        html += "</figure>"
    }
}
