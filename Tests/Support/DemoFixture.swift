import Catalog
import Foundation

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

    /// A fresh demo catalog in its own directory (tests that write subsets use their own).
    public static func build(rows: Int = 2000) throws -> Built {
        let directory = TemporaryDirectory("demo")
        let (catalog, files) = try DemoCatalog.build(in: directory.url, configuration: configuration(rows: rows))
        return Built(directory: directory, catalog: catalog, files: files)
    }
}
