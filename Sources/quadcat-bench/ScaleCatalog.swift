import Catalog
import Foundation
import TestSupport

/// The catalog of `make bench-scale`: a ``ScalePool`` of the requested size, generated into the work
/// directory and loaded into a catalog once; later runs reuse it when its recorded configuration is
/// the same. The generated .npy files are removed once attached (the catalog holds the data), so the
/// disk needs room for one copy of the pool plus one checkpoint file.
struct ScaleCatalog {
    let configuration: ScalePool.Configuration
    let directory: URL

    var catalogURL: URL { directory.appendingPathComponent("pool.quadcat") }
    private var stamp: URL { directory.appendingPathComponent("pool.json") }

    /// `setting` names the pool's family member (``ScalePool/Configuration/setting(_:)``); the reference
    /// pool keeps its old directory name.
    init(configuration: ScalePool.Configuration, work: URL, setting: String = "reference") {
        self.configuration = configuration
        let c = configuration
        let family = setting == "reference" ? "" : "-\(setting)"
        directory = work.appendingPathComponent("scale\(family)-\(c.rows)x\(c.dimension)x\(c.checkpoints)-seed\(c.seed)")
    }

    /// Opens the catalog, building it first when it is missing or was built with other settings.
    func openOrBuild() throws -> Catalog {
        if let data = try? Data(contentsOf: stamp),
           let built = try? JSONDecoder().decode(ScalePool.Configuration.self, from: data), built == configuration,
           let catalog = try? Catalog.open(at: catalogURL)
        {
            report("reusing \(catalogURL.path)")
            try addTargetEmbeddingsIfMissing(catalog, pool: ScalePool(configuration))
            return catalog
        }
        try? FileManager.default.removeItem(at: directory)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let pool = ScalePool(configuration)
        let files = ScalePool.Files(directory: directory.appendingPathComponent("files"))
        let catalog = try Catalog.create(at: catalogURL)
        var clock = Date()
        func lap(_ what: String) {
            report(String(format: "  %@: %.1f s", what, Date().timeIntervalSince(clock)))
            clock = Date()
        }
        report("generating a \(configuration.rows) x \(configuration.dimension) x \(configuration.checkpoints) pool into \(directory.path)")
        try FileManager.default.createDirectory(at: files.directory, withIntermediateDirectories: true)
        try pool.writeCorpus(to: files)
        _ = try catalog.ingest(corpus: "pool", files: [files.corpus])
        lap("corpus")
        for c in 1...configuration.checkpoints {
            try pool.writeGradients(checkpoint: c, to: files)
            lap("generate checkpoint \(c)")
            var request = AttachRequest(corpus: "pool", column: "grad", file: files.gradients(checkpoint: c))
            request.checkpoint = c
            request.learningRate = configuration.learningRates[c - 1]
            request.projection = ProjectionIdentity(kind: "rademacher", seed: Int64(configuration.seed % (1 << 62)), dim: configuration.dimension)
            _ = try catalog.attach(request)
            try FileManager.default.removeItem(at: files.gradients(checkpoint: c))
            var target = TargetColumnRequest(target: "target", file: files.validationGradients(checkpoint: c))
            target.checkpoint = c
            target.projection = request.projection
            if c == 1 { target.subtasksFile = files.validationSubtasks }
            _ = try catalog.addTargetColumn(target)
            lap("attach checkpoint \(c)")
        }
        try pool.writeEmbeddings(to: files)
        _ = try catalog.attach(AttachRequest(corpus: "pool", column: "emb", file: files.embeddings))
        try FileManager.default.removeItem(at: files.embeddings)
        try addTargetEmbeddingsIfMissing(catalog, pool: pool)
        lap("embeddings")
        try JSONEncoder().encode(configuration).write(to: stamp)
        return catalog
    }

    /// The target's embedding column (RDS and the DPP's target term read it); catalogs built before
    /// it was part of the pool get it on their next use.
    private func addTargetEmbeddingsIfMissing(_ catalog: Catalog, pool: ScalePool) throws {
        guard let target = try catalog.listTargets().first(where: { $0.name == "target" }),
              !target.columns.contains(where: { $0.name == "emb" }) else { return }
        let files = ScalePool.Files(directory: directory.appendingPathComponent("files"))
        try FileManager.default.createDirectory(at: files.directory, withIntermediateDirectories: true)
        try pool.writeValidationEmbeddings(to: files)
        var request = TargetColumnRequest(target: "target", file: files.validationEmbeddings)
        request.column = "emb"
        _ = try catalog.addTargetColumn(request)
        try FileManager.default.removeItem(at: files.validationEmbeddings)
    }
}
