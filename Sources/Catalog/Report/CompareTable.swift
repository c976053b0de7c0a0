import Foundation

/// The comparison as an HTML table with one row per subset and one column per figure `compare`
/// computes, sortable by clicking a header (an inline script; without scripts it reads in the
/// order given). Columns come from the encoded ``CompareReport/Entry``, so a figure added to
/// `compare` (recorded metrics, a new criterion) appears here without a change: known fields get
/// their header and format from ``columns``, other numbers a generic one, and dictionaries or lists
/// of named numbers one column per name. Each cell keeps the exact number in `data-value`.
enum CompareTable {
    struct Column: Sendable {
        var key: String
        var header: String
        var help: String
        var numeric = true
        /// Display format of a number.
        var format: @Sendable (Double) -> String = { CompareTable.general($0) }
    }

    /// Known fields, in display order. `labels` and `parameters` are not columns: the label bars
    /// and the lineage show them.
    static let known: [Column] = [
        Column(key: "subset", header: "subset", help: "NAME@VERSION", numeric: false),
        Column(key: "selector", header: "selector", help: "the selector that made the subset", numeric: false),
        Column(key: "rows", header: "rows", help: "members of the subset", format: { AxisTicks.grouped(Int($0)) }),
        Column(key: "seconds", header: "select time (s)", help: "seconds the selection took, catalog to stored subset", format: { String(format: $0 < 10 ? "%.2f" : "%.1f", $0) }),
        Column(key: "meanLESSScore", header: "LESS score", help: "mean LESS score of the members (higher: closer to the target)", format: { String(format: "%.4f", $0) }),
        Column(key: "logDet", header: "log det F(S)", help: "SPICE's log det(I + alpha sum g g^T) over the members (higher: more diverse gradients)", format: { String(format: "%.1f", $0) }),
        Column(key: "gtpResidual", header: "GTP residual", help: "relative residual of the best non-negative fit of the target trajectory on the members (lower: better fit)", format: { String(format: "%.4f", $0) }),
        Column(key: "meanInfluence", header: "influence", help: "mean Quad influence of the members (higher: more aligned with the target)", format: { String(format: "%.4f", $0) }),
        Column(key: "clustersCovered", header: "clusters", help: "embedding clusters with at least one member", format: { AxisTicks.grouped(Int($0)) }),
        Column(key: "clusterEntropyBits", header: "cluster entropy (bits)", help: "entropy of the members over the embedding clusters", format: { String(format: "%.2f", $0) }),
        Column(key: "exactDuplicatePairs", header: "exact dup pairs", help: "pairs of members with byte-identical text", format: { AxisTicks.grouped(Int($0)) }),
        Column(key: "nearDuplicatePairs", header: "near dup pairs", help: "pairs of members whose embeddings have cosine at or above the threshold", format: { AxisTicks.grouped(Int($0)) }),
    ]
    static let shownElsewhere: Set<String> = ["labels", "parameters"]

    static func general(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? AxisTicks.grouped(Int(value)) : String(format: "%.4g", value)
    }

    /// The entries as dictionaries of fields, as `compare --json` writes them.
    static func encodedEntries(_ report: CompareReport) throws -> [[String: JSONField]] {
        guard case .list(let entries) = try JSONField.of(report.entries) else { return [] }
        return entries.map { if case .object(let fields) = $0 { fields } else { [:] } }
    }

    /// The columns for these entries, with each row's cell values (nil: not computed).
    static func layout(_ entries: [[String: JSONField]]) -> (columns: [Column], cells: [[JSONField?]]) {
        var columns: [Column] = []
        var extractors: [([String: JSONField]) -> JSONField?] = []
        let present = Set(entries.flatMap { $0.filter { $0.value != .null }.keys })
        for column in known where present.contains(column.key) {
            columns.append(column)
            extractors.append { $0[column.key] }
        }
        for key in present.subtracting(known.map(\.key)).subtracting(shownElsewhere).sorted() {
            let values = entries.compactMap { $0[key] }.filter { $0 != .null }
            let header = LineChart.describe(seriesName: key).quantity
            if values.allSatisfy({ $0.number != nil }) {
                columns.append(Column(key: key, header: header, help: key))
                extractors.append { $0[key] }
            } else if values.allSatisfy({ $0.string != nil }) {
                columns.append(Column(key: key, header: header, help: key, numeric: false))
                extractors.append { $0[key] }
            } else {
                // Named numbers: {"target_nll": 3.86} or [{"name": "target_nll", "value": 3.86, ...}].
                let names = Set(values.flatMap { namedNumbers($0).keys }).sorted()
                for name in names {
                    columns.append(Column(key: "\(key).\(name)", header: name, help: "\(key): \(name)"))
                    extractors.append { entry in entry[key].flatMap { namedNumbers($0)[name] } }
                }
            }
        }
        return (columns, entries.map { entry in extractors.map { $0(entry) } })
    }

    private static func namedNumbers(_ value: JSONField) -> [String: JSONField] {
        switch value {
        case .object(let members): return members.filter { $0.value.number != nil }
        case .list(let items):
            var out: [String: JSONField] = [:]
            for case .object(let item) in items {
                guard let name = (item["name"] ?? item["key"])?.string,
                      let value = item["value"], value.number != nil else { continue }
                out[name] = value
            }
            return out
        default: return [:]
        }
    }

    /// The table; the column of the metric the entries are sorted by (``CompareReport/sortedBy``)
    /// reads "KEY (sorted)", as in `compare`'s text, and carries `aria-sort`.
    static func render(_ report: CompareReport, descending: Bool = false) throws -> RenderedChart {
        let entries = try encodedEntries(report)
        let laid = layout(entries)
        var columns = laid.columns
        let cells = laid.cells
        let sortedKey = report.sortedBy.map { "metrics.\($0)" }
        for i in columns.indices where columns[i].key == sortedKey {
            columns[i].header += " (sorted)"
            columns[i].help += descending ? " (the subsets are ordered by it, highest first)" : " (the subsets are ordered by it, lowest first)"
        }
        var html = "<div class=\"table-wrap\"><table id=\"compare-table\" class=\"compare\" data-chart=\"compare-table\">"
        html += "<thead><tr>"
        for column in columns {
            let sort = column.key == sortedKey ? (descending ? "descending" : "ascending") : nil
            html += "<th scope=\"col\"\(SVGCanvas.attributes([("class", column.numeric ? nil : "text"), ("data-key", column.key), ("data-type", column.numeric ? "number" : "text"), ("title", column.help), ("aria-sort", sort)]))>"
            html += HTMLEscaping.escape(column.header) + "</th>"
        }
        html += "</tr></thead><tbody>"
        for (index, row) in cells.enumerated() {
            html += "<tr\(SVGCanvas.attributes([("data-subset", report.entries[index].subset)]))>"
            for (column, value) in zip(columns, row) {
                let attributes = [("class", column.numeric ? nil : "text"), ("data-key", column.key)]
                switch value {
                case .number(let number)? where column.numeric:
                    var shown = column.format(number)
                    if column.key == "clustersCovered", let total = report.totalClusters { shown += " / \(AxisTicks.grouped(total))" }
                    html += "<td\(SVGCanvas.attributes(attributes + [("data-value", JSONField.exact(number))]))>\(HTMLEscaping.escape(shown))</td>"
                case .text(let text)?:
                    let swatch = column.key == "subset" ? "<span class=\"swatch\" style=\"background:\(ReportPalette.subset(index))\"></span>" : ""
                    html += "<td\(SVGCanvas.attributes(attributes + [("data-value", text)]))>\(swatch)\(HTMLEscaping.escape(text))</td>"
                default:
                    html += "<td\(SVGCanvas.attributes(attributes))><span class=\"missing\" title=\"not computed\">\u{2013}</span></td>"
                }
            }
            html += "</tr>"
        }
        html += "</tbody></table></div>"
        html += "<dl class=\"columns\">" + columns.filter { $0.key != "subset" && $0.key != "selector" }.map {
            "<dt>\(HTMLEscaping.escape($0.header))</dt><dd>\(HTMLEscaping.escape($0.help))</dd>"
        }.joined() + "</dl>"
        return RenderedChart(kind: "compare-table", html: html, elements: cells.count * columns.count)
    }
}
