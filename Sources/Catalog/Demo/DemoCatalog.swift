import Foundation

/// Builds the demo catalog: synthetic files first, then the same `ingest`, `attach` and `target add`
/// steps a user runs, so the demo exercises the real paths end to end.
public enum DemoCatalog {
    /// The corpus, gradient column, embedding column and target names the demo uses.
    public static let corpus = "pool", gradientColumn = "grad", embeddingColumn = "emb", target = "python"
    public static let projection = ProjectionIdentity(kind: "rademacher", seed: 7, dim: nil)

    /// A step finished, for the command-line tool to print.
    public typealias StepHandler = @Sendable (String) -> Void

    /// Writes the synthetic data under `directory/data` and builds `directory/demo.quadcat` from it.
    public static func build(
        in directory: URL, configuration: SyntheticCorpus.Configuration = .init(), step: StepHandler? = nil
    ) throws -> (catalog: Catalog, files: SyntheticCorpus.Files) {
        let started = Date()
        let files = try SyntheticCorpus.write(to: directory.appendingPathComponent("data"), configuration: configuration)
        step?(String(format: "generated %d documents in 7 domains, %d checkpoints, %d validation rows (%.1f s)",
                     configuration.rows, configuration.learningRates.count, configuration.validationRows, Date().timeIntervalSince(started)))
        let catalog = try Catalog.create(at: directory.appendingPathComponent("demo.quadcat"))
        let ingest = try catalog.ingest(corpus: corpus, files: [files.corpus])
        step?("ingested \(ingest.rowsAdded) records (\(ingest.duplicateTextRows) exact duplicate texts kept and reported)")
        let projection = ProjectionIdentity(kind: Self.projection.kind, seed: Self.projection.seed, dim: configuration.gradientDim)
        for (c, file) in files.gradients.enumerated() {
            var request = AttachRequest(corpus: corpus, column: gradientColumn, file: file)
            request.checkpoint = c + 1
            request.learningRate = files.learningRates[c]
            request.projection = projection
            _ = try catalog.attach(request)
        }
        _ = try catalog.attach(AttachRequest(corpus: corpus, column: embeddingColumn, file: files.embeddings))
        step?("attached \(files.gradients.count) gradient checkpoints and an embedding column")
        for (c, file) in files.validationGradients.enumerated() {
            var request = TargetColumnRequest(target: target, file: file)
            request.column = gradientColumn
            request.checkpoint = c + 1
            request.projection = projection
            request.subtasksFile = c == 0 ? files.validationSubtasks : nil
            _ = try catalog.addTargetColumn(request)
        }
        var embeddings = TargetColumnRequest(target: target, file: files.validationEmbeddings)
        embeddings.column = embeddingColumn
        _ = try catalog.addTargetColumn(embeddings)
        step?("added target '\(target)' (\(configuration.validationRows) validation rows, 2 subtasks, gradients and embeddings)")
        return (catalog, files)
    }

    /// Runs every selector at `budget` and compares the results; the demo's punch line.
    public static func selectAndCompare(
        _ catalog: Catalog, budget: Budget = Budget(rows: 600), step: StepHandler? = nil
    ) throws -> CompareReport {
        try catalog.compare(selectAll(catalog, budget: budget, step: step), options: compareOptions)
    }

    /// Runs every selector at `budget`; returns the subsets made, as NAME@VERSION.
    public static func selectAll(_ catalog: Catalog, budget: Budget = Budget(rows: 600), step: StepHandler? = nil) throws -> [String] {
        var names: [String] = []
        for selector in SelectorKind.allCases {
            let request = SelectRequest(corpus: corpus, target: target, selector: selector, budget: budget, name: "demo-\(selector.rawValue)")
            let subset = try catalog.select(request)
            names.append(subset.reference)
            step?(String(format: "selected %@ with %@: %d rows in %.2f s", subset.reference, selector.rawValue, subset.rowCount, subset.elapsedSeconds))
        }
        return names
    }

    /// How the demo compares its subsets: by the records' `domain` field.
    public static var compareOptions: CompareOptions {
        var options = CompareOptions()
        options.labelField = "domain"
        return options
    }
}
