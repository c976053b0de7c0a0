import ArgumentParser
import Catalog
import Foundation

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo", abstract: "Build a demo catalog from synthetic data and show what quadcat does.",
        discussion: """
            Generates a small, realistic corpus (several domains, a minority target domain, planted \
            duplicates, gradients at four checkpoints, embeddings, a validation set), ingests it the way a \
            user would, and prints the catalog. The catalog is kept so you can explore it afterwards.
            """)

    @Option(help: "Directory to build the demo in (default: a new temporary directory).") var dir: String?
    @Option(help: "Number of documents.") var rows = 12_000
    @Option(help: "Seed of the synthetic data.") var seed: UInt64 = 20_261_123

    func run() throws {
        try reportingErrors {
            let directory = dir.map { URL(fileURLWithPath: $0) }
                ?? FileManager.default.temporaryDirectory.appendingPathComponent("quadcat-demo-\(UUID().uuidString.prefix(8).lowercased())")
            var configuration = SyntheticCorpus.Configuration()
            configuration.rows = rows
            configuration.seed = seed
            print("building the demo in \(directory.path)")
            let (catalog, _) = try DemoCatalog.build(in: directory, configuration: configuration) { print("  " + $0) }
            print("")
            print(InfoView.render(try catalog.info()))
            print("")
            print("explore it: quadcat info \(catalog.root.path)")
        }
    }
}
