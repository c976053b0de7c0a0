import Catalog
import Foundation
import Selectors

/// A small demo catalog (synthetic corpus with a target domain, duplicates, four checkpoints,
/// embeddings and a target), built once per test process and shared read-mostly by the tests.
public enum DemoFixture {
    public struct Built: @unchecked Sendable {
        public let directory: TemporaryDirectory
        public let catalog: Catalog
        public let files: SyntheticCorpus.Files
    }

    public static func configuration(rows: Int = 2000) -> SyntheticCorpus.Configuration {
        var configuration = SyntheticCorpus.Configuration()
        configuration.rows = rows
        configuration.gradientDim = 64
        configuration.embeddingDim = 32
        configuration.validationRows = 60
        return configuration
    }

    /// The demo's gradients read straight from its source files (not through a catalog), for
    /// computing what a selector gives without quadcat's storage.
    public static func sourceCheckpoints(_ files: SyntheticCorpus.Files) throws -> [CheckpointGradients] {
        try files.gradients.indices.map { c in
            CheckpointGradients(
                checkpoint: c + 1, learningRate: files.learningRates[c], pool: try Fixtures.loadMatrix(files.gradients[c]),
                target: try Fixtures.loadMatrix(files.validationGradients[c]))
        }
    }

    /// The validation rows' subtask indices from the source file (labels numbered in sorted order, as
    /// `target add` does).
    public static func sourceSubtasks(_ files: SyntheticCorpus.Files) throws -> [Int] {
        let labels = try String(contentsOf: files.validationSubtasks, encoding: .utf8).split(separator: "\n").map(String.init)
        let names = Array(Set(labels)).sorted()
        return labels.map { names.firstIndex(of: $0)! }
    }

    /// A fresh demo catalog in its own directory (tests that write subsets use their own).
    public static func build(rows: Int = 2000) throws -> Built {
        let directory = TemporaryDirectory("demo")
        let (catalog, files) = try DemoCatalog.build(in: directory.url, configuration: configuration(rows: rows))
        return Built(directory: directory, catalog: catalog, files: files)
    }
}
