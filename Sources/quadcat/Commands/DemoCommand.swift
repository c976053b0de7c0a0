import ArgumentParser
import Catalog
import Foundation

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo", abstract: "Build a demo catalog from synthetic data and show what quadcat does.",
        discussion: """
            Generates a small, realistic corpus (several domains, a minority target domain, planted \
            duplicates, gradients at four checkpoints, embeddings, a validation set), ingests it the way a \
            user would, runs every selector at one budget and prints the comparison table. The catalog \
            is kept so you can explore it afterwards.
            """)

    @Option(help: "Directory to build the demo in (default: a new temporary directory).") var dir: String?
    @Option(help: "Number of documents.") var rows = 12_000
    @Option(help: "Seed of the synthetic data.") var seed: UInt64 = 20_261_123
    @Option(help: "Budget per selector.") var budget = "5%"

    func run() throws {
        try reportingErrors {
            let directory = dir.map { URL(fileURLWithPath: $0) }
                ?? FileManager.default.temporaryDirectory.appendingPathComponent("quadcat-demo-\(UUID().uuidString.prefix(8).lowercased())")
            var configuration = SyntheticCorpus.Configuration()
            configuration.rows = rows
            configuration.seed = seed
            print("building the demo in \(directory.path)")
            let started = Date()
            let (catalog, _) = try DemoCatalog.build(in: directory, configuration: configuration) { print("  " + $0) }
            let names = try DemoCatalog.selectAll(catalog, budget: try Budget(parsing: budget)) { print("  " + $0) }
            var options = ReportOptions()
            options.compare = DemoCatalog.compareOptions
            options.command = ReportCommand.commandLine()
            let figures = try catalog.reportFigures(names, options: options)
            let page = try figures.write(to: directory.appendingPathComponent("report.html"))
            let report = figures.comparison
            print("")
            print(CompareView.render(report))
            print("")
            print(String(format: "done in %.1f s. The target domain is python_docs (%.1f%% of the corpus). What each selector is for:", Date().timeIntervalSince(started), 100 * DemoView.share(report.corpusLabels, "python_docs")))
            for line in DemoView.purposes { print("  " + line) }
            print("report (open it in a browser): \(page.output)")
            print("explore it:")
            let path = catalog.root.path
            print("  quadcat info \(path)")
            print("  quadcat show \(path) demo-gtp")
            print("  quadcat diff \(path) demo-less demo-gtp")
            print("  quadcat export \(path) demo-gtp --format jsonl --out train.jsonl --weights")
        }
    }
}

enum DemoView {
    /// One sentence per selector, in the demo's order.
    static let purposes = [
        "less    the rows whose gradients point most like the target's (LESS)",
        "gtp     a small weighted set whose gradient trajectories add up to the target's (GTP, reconstructed)",
        "spice   the most informative, least redundant gradients, blind to the target (SPICE)",
        "quad    the embedding clusters a bandit finds most influential on the target (Quad)",
        "dpp     LESS's quality with diversity: target-aware without near-copies (quality-weighted DPP)",
        "rds     the rows whose embeddings resemble the target's (the LESS paper's RDS baseline)",
        "random  a uniform sample, the baseline every selector must beat",
    ]

    static func share(_ labels: [String: Int]?, _ value: String) -> Double {
        guard let labels else { return 0 }
        return Double(labels[value] ?? 0) / Double(max(1, labels.values.reduce(0, +)))
    }
}
