import ArgumentParser
import Catalog
import Foundation

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare", abstract: "Compare subsets of one corpus side by side.",
        discussion: """
            For each subset: its size, how it was made, and its score under every selector's own criterion \
            (mean LESS score, SPICE's log det F(S), GTP's relative residual, Quad's mean influence and the \
            embedding clusters it covers); exact and near duplicates inside it; the distribution of a label \
            field; pairwise overlaps (shared rows and Jaccard); and the metrics recorded with `quadcat metric` \
            (--sort KEY orders the subsets by one).
            """)

    @OptionGroup var path: CatalogPath
    @Argument(help: "Subsets: NAME, NAME@VERSION or tags.") var subsets: [String]
    @Option(help: "Target to score against (default: the first subset's).") var target: String?
    @Option(help: "Record field whose values to count, e.g. domain.") var label: String?
    @Option(help: "SPICE's alpha for log det.") var alpha = 1.0
    @Option(help: "Embedding cosine at or above which two members are near duplicates.") var nearDuplicate = 0.95
    @Option(help: "Largest subset whose GTP residual is computed (its cost grows with the square of the rows).") var gtpResidualLimit = CompareOptions().gtpResidualLimit
    @Option(help: ArgumentHelp("Order the subsets by this recorded metric (quadcat metric), lowest first.", valueName: "KEY")) var sort: String?
    @Flag(help: "With --sort: highest first.") var descending = false
    @Flag(help: "Print as JSON.") var json = false

    func run() throws {
        try reportingErrors {
            var options = CompareOptions()
            options.target = target
            options.labelField = label
            options.alpha = alpha
            options.nearDuplicateCosine = nearDuplicate
            options.gtpResidualLimit = gtpResidualLimit
            options.sortBy = sort
            options.descending = descending
            let report = try path.open().compare(subsets, options: options)
            if json { return try Terminal.printJSON(report) }
            print(CompareView.render(report))
        }
    }
}

/// The text form of `compare`.
enum CompareView {
    static func render(_ report: CompareReport) -> String {
        func number(_ value: Double?, _ format: String) -> String { value.map { String(format: format, $0) } ?? "-" }
        var lines: [String] = []
        var table = TextTable(
            ["subset", "selector", "rows", "time", "LESS score", "log det", "GTP resid", "influence", "clusters", "entropy", "exact dup", "near dup"],
            rightAligned: Set(2...11))
        for e in report.entries {
            table.add([
                e.subset, e.selector, "\(e.rows)", Format.seconds(e.seconds), number(e.meanLESSScore, "%.4f"), number(e.logDet, "%.1f"),
                number(e.gtpResidual, "%.4f"), number(e.meanInfluence, "%.4f"),
                e.clustersCovered.map { "\($0)\(report.totalClusters.map { "/\($0)" } ?? "")" } ?? "-",
                number(e.clusterEntropyBits, "%.2f"), "\(e.exactDuplicatePairs)", e.nearDuplicatePairs.map(String.init) ?? "-",
            ])
        }
        lines.append("corpus '\(report.corpus)'\(report.target.map { ", target '\($0)'" } ?? "")")
        lines.append(table.render())
        if let field = report.labelField, let corpusLabels = report.corpusLabels {
            let total = corpusLabels.values.reduce(0, +)
            let values = corpusLabels.keys.sorted { corpusLabels[$0]! > corpusLabels[$1]! || (corpusLabels[$0]! == corpusLabels[$1]! && $0 < $1) }
            var labels = TextTable(["\(field) share"] + values, rightAligned: Set(1...max(1, values.count)))
            labels.add(["corpus"] + values.map { String(format: "%.1f%%", 100 * Double(corpusLabels[$0]!) / Double(max(total, 1))) })
            for e in report.entries {
                let counts = e.labels ?? [:]
                labels.add([e.subset] + values.map { String(format: "%.1f%%", 100 * Double(counts[$0] ?? 0) / Double(max(e.rows, 1))) })
            }
            lines.append("")
            lines.append(labels.render())
        }
        let metricKeys = Set(report.entries.flatMap(\.metrics.keys)).sorted()
        if !metricKeys.isEmpty {
            var metrics = TextTable(["subset"] + metricKeys.map { $0 == report.sortedBy ? "\($0) (sorted)" : $0 }, rightAligned: Set(1...metricKeys.count))
            for e in report.entries { metrics.add([e.subset] + metricKeys.map { key in e.metrics[key].map(Format.metric) ?? "-" }) }
            lines.append("")
            lines.append(metrics.render())
        }
        if !report.overlaps.isEmpty {
            var overlaps = TextTable(["subset A", "subset B", "shared", "Jaccard"], rightAligned: [2, 3])
            for o in report.overlaps { overlaps.add([o.a, o.b, "\(o.shared)", String(format: "%.3f", o.jaccard)]) }
            lines.append("")
            lines.append(overlaps.render())
        }
        for note in report.notes { lines.append("note: \(note)") }
        return lines.joined(separator: "\n")
    }
}

struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "diff", abstract: "List rows only in A and only in B, with their scores.")

    @OptionGroup var path: CatalogPath
    @Argument(help: "Subset A.") var a: String
    @Argument(help: "Subset B.") var b: String
    @Option(help: "Rows to list per side (all with --json).") var limit = 20
    @Flag(help: "Print as JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let report = try path.open().diff(a, b)
            if json { return try Terminal.printJSON(report) }
            print("\(report.a) vs \(report.b): \(report.shared) shared, \(report.onlyA.count) only in \(report.a), \(report.onlyB.count) only in \(report.b)")
            for (title, rows) in [("only in \(report.a)", report.onlyA), ("only in \(report.b)", report.onlyB)] where !rows.isEmpty {
                var table = TextTable(["rank", "row", "id", "score"], rightAligned: [0, 1, 3])
                for r in rows.prefix(limit) { table.add(["\(r.rank)", "\(r.row)", r.id, String(format: "%.4g", r.score)]) }
                print("\n\(title)\(rows.count > limit ? " (first \(limit))" : ""):")
                print(table.render())
            }
        }
    }
}
