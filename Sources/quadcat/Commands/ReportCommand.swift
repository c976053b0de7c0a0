import ArgumentParser
import Catalog
import Foundation

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report", abstract: "Write one self-contained HTML page of charts comparing subsets.",
        discussion: """
            The page holds the comparison table of `compare` (sortable), the overlap of every pair of subsets \
            (shared rows and Jaccard), each subset's label distribution next to the corpus's (--label), each \
            row's LESS score and Quad influence for members and corpus (--target), each selector's objective \
            trace and per-step series, every subset's lineage, and, when any subset has metrics recorded with \
            `quadcat metric`, a Results section charting each metric per subset (a KEY_sd metric as a \
            whisker on KEY's bars). --sort KEY orders the table and every panel by a recorded metric, as \
            in `compare`. Everything is inline (SVG, CSS, one small \
            script); it opens offline, from an e-mail attachment, and prints.
            """)

    @OptionGroup var path: CatalogPath
    @Argument(help: "Subsets: NAME, NAME@VERSION or tags.") var subsets: [String]
    @Option(help: "The HTML file to write; - for standard output.") var out = "report.html"
    @Option(help: "Record field whose distribution to chart, e.g. domain.") var label: String?
    @Option(help: "Target to score against (default: the first subset's).") var target: String?
    @Option(help: "SPICE's alpha for log det.") var alpha = 1.0
    @Option(help: "Embedding cosine at or above which two members are near duplicates.") var nearDuplicate = 0.95
    @Option(help: "Largest subset whose GTP residual is computed (its cost grows with the square of the rows).") var gtpResidualLimit = CompareOptions().gtpResidualLimit
    @Option(help: "Bins of the score histograms.") var bins = 40
    @Option(help: ArgumentHelp("Order the subsets by this recorded metric (quadcat metric), lowest first.", valueName: "KEY")) var sort: String?
    @Flag(help: "With --sort: highest first.") var descending = false
    @Flag(help: "Print what was written as JSON.") var json = false

    func run() throws {
        try reportingErrors {
            var options = ReportOptions()
            options.compare.target = target
            options.compare.labelField = label
            options.compare.alpha = alpha
            options.compare.nearDuplicateCosine = nearDuplicate
            options.compare.gtpResidualLimit = gtpResidualLimit
            options.compare.sortBy = sort
            options.compare.descending = descending
            options.bins = bins
            options.command = Self.commandLine()
            let started = Date()
            let output = out == "-" ? nil : URL(fileURLWithPath: out)
            let summary = try path.open().writeReport(subsets, to: output, options: options, progress: Terminal.progressLine())
            Terminal.endProgress()
            if json { return try Terminal.printJSON(summary) }
            let charts = summary.charts.values.reduce(0, +)
            let phases = ["compare", "summaries", "page"].compactMap { key in summary.timings[key].map { "\(key) \(Format.seconds($0))" } }
            let message = "wrote \(summary.output): \(summary.subsets) subsets, \(charts) charts and tables, \(Format.bytes(summary.bytes)) in \(Format.seconds(Date().timeIntervalSince(started))) (\(phases.joined(separator: ", ")))"
            if output == nil { Terminal.note(message) } else { print(message) }
        }
    }

    /// The command line as a shell would take it back (arguments quoted where needed).
    static func commandLine() -> String {
        (["quadcat"] + CommandLine.arguments.dropFirst()).map { argument in
            argument.allSatisfy({ $0.isLetter || $0.isNumber || "-_./=@%:,+".contains($0) }) && !argument.isEmpty
                ? argument : "'" + argument.replacingOccurrences(of: "'", with: "'\\''") + "'"
        }.joined(separator: " ")
    }
}
