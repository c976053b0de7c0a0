import ArgumentParser
import Catalog
import Foundation

struct IndexCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index", abstract: "Index record fields of a corpus for select --where.",
        discussion: """
            Reads each named top-level field from every stored record and keeps it as a typed value \
            (text, integer, real; booleans as 1 and 0; a missing field, null, an object or an array reads \
            as NULL). `ingest --index-field NAME` does the same while ingesting. `info` lists the indexed \
            fields with their types and null counts.
            """)

    @OptionGroup var path: CatalogPath
    @Option(help: "The corpus whose records to read.") var corpus: String
    @Option(name: .customLong("field"), help: "A record field to index (repeatable).") var fields: [String]
    @Flag(help: "Print the report as JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let report = try path.open().index(corpus: corpus, fields: fields, progress: Terminal.progressLine())
            Terminal.endProgress()
            if json { return try Terminal.printJSON(report) }
            if !report.added.isEmpty {
                print("indexed \(report.added.joined(separator: ", ")) of corpus '\(report.corpus)' (\(report.rows) rows) in \(Format.seconds(report.seconds))")
            }
            if !report.alreadyIndexed.isEmpty { print("already indexed: \(report.alreadyIndexed.joined(separator: ", "))") }
            print(InfoView.fieldTable(report.fields).render(indent: "  "))
        }
    }
}

struct CombineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "combine", abstract: "Combine subsets: A + B (union), A & B (intersection), A - B (difference).",
        discussion: """
            Evaluated left to right. A + B keeps A's rank order, then B's rows that A lacks; A & B and \
            A - B keep A's order. Members keep their score and weight. The result is an ordinary new \
            version whose lineage lists its operands (by content hash). Write operators apart from the \
            names and quote & for the shell: quadcat combine cat.quadcat --as both py-less '&' py-gtp
            """)

    @OptionGroup var path: CatalogPath
    @Option(name: .customLong("as"), help: "Name of the result; an existing name gets a new version.") var name: String
    @Argument(parsing: .allUnrecognized, help: "The expression: SUBSET (+|&|-) SUBSET ...") var expression: [String]
    @Flag(help: "Print the new subset as JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let info = try path.open().combine(try CombineExpression(parsing: expression), as: name)
            if json { return try Terminal.printJSON(info) }
            SubsetSummary.print(info)
        }
    }
}

struct MixCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mix", abstract: "Mix subsets by quota: --budget N A=60% B=40%.",
        discussion: """
            Each part, in the order given, gives its top-ranked rows not taken already until it has given \
            its share of the budget; when a part runs out, the shortfall is filled from the parts' next \
            ranks, part by part in order. No row is taken twice. Shares must add up to 100%.
            """)

    @OptionGroup var path: CatalogPath
    @Option(name: .customLong("as"), help: "Name of the result; an existing name gets a new version.") var name: String
    @Option(help: "Rows in the mix: a count (600) or a share of the corpus (5%).") var budget: String
    @Argument(help: "Parts: SUBSET=SHARE%, e.g. py-less=60% random=40%.") var parts: [String]
    @Flag(help: "Print the new subset as JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let info = try path.open().mix(try parts.map(MixPart.init(parsing:)), budget: try Budget(parsing: budget), as: name)
            if json { return try Terminal.printJSON(info) }
            SubsetSummary.print(info)
        }
    }
}

struct MetricCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metric", abstract: "Record downstream results against a subset version: key=value ...",
        discussion: """
            For example the target loss of a model trained on the subset: \
            quadcat metric cat.quadcat py-gtp@2 target_nll=3.866 --note "3 seeds, mean". Each value is kept \
            with its time; log, show and compare show the latest per key (compare --sort KEY ranks by one).
            """)

    @OptionGroup var path: CatalogPath
    @Argument(help: "NAME@VERSION (or NAME for the latest, or a tag).") var subset: String
    @Argument(help: "Measurements: key=value ...") var values: [String]
    @Option(help: "A note kept with the values.") var note: String?
    @Flag(help: "Print the subset (with its metrics) as JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let info = try path.open().recordMetrics(subset, values: try MetricValues.parse(values), note: note)
            if json { return try Terminal.printJSON(info) }
            print("\(info.reference): " + LineageView.metrics(info.metrics))
        }
    }
}

/// The one-line summary of a new subset.
enum SubsetSummary {
    static func print(_ subset: SubsetInfo) {
        Swift.print("\(subset.reference): \(subset.rowCount) of \(subset.budget) rows, made by \(subset.selector) in \(Format.seconds(subset.elapsedSeconds))")
        Swift.print("  recipe \(subset.recipeHash.prefix(12))  content \(subset.contentHash.prefix(12))  params \(subset.parameters)")
        for note in subset.diagnostics.notes { Swift.print("  note: \(note)") }
    }
}

/// How a subset's query, parents and metrics read in `log` and `show`.
enum LineageView {
    static func lines(_ info: SubsetInfo) -> [String] {
        var lines: [String] = []
        if let query = info.query {
            if let predicate = query.predicate { lines.append("where   \(predicate)") }
            if let within = query.within { lines.append("within  \(within)") }
            for excluded in query.exclude { lines.append("exclude \(excluded)") }
            if let ids = query.excludeIDs { lines.append("exclude ids of \(ids.file) (\(ids.matched) of \(ids.ids) in the corpus)") }
            if let candidates = query.candidates { lines.append("candidates \(candidates) rows; budget a share of the \(query.budgetBasis)") }
            if let dedup = query.dedup {
                let column = dedup.checkpoint > 0 ? "\(dedup.column)@\(dedup.checkpoint)" : dedup.column
                lines.append("dedup   \(column) cosine >= \(dedup.cosine): \(dedup.refused) refused")
            }
        }
        for parent in info.parents where parent.role == "operand" || parent.role == "part" {
            let share = parent.share.map { " " + String(format: "%g%%", $0 * 100) } ?? ""
            lines.append("parent  \(parent.role) \(parent.subset)\(share) \(parent.contentHash.prefix(12))")
        }
        for metric in info.metrics {
            lines.append("metric  \(metric.key) = \(Format.metric(metric.value))  (\(metric.recordedAt.prefix(19)))\(metric.note.map { "  \($0)" } ?? "")")
        }
        return lines
    }

    static func metrics(_ metrics: [SubsetMetric]) -> String {
        metrics.map { "\($0.key)=\(Format.metric($0.value))" }.joined(separator: " ")
    }
}
