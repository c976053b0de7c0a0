import Catalog
import Foundation
import TestSupport

/// The shard set of `make bench-shards`: the ``ScalePool`` of `make bench-scale` (same rows, since every
/// row is a function of (seed, row)) cut into `shards` consecutive slices of equal size, each built as
/// its own catalog and added to a set. Reused when present; each slice's generated files are removed
/// once its catalog is built. With `stride`, the set is Quad's pretraining-sized pool of
/// `quadcat-bench quad-scale` instead: embeddings for every row, one gradient checkpoint for every
/// `stride`-th row (a partial column attached with `--ids`).
struct ShardedScaleSet {
    let configuration: ScalePool.Configuration
    let shards: Int
    let stride: Int?
    let directory: URL

    init(configuration: ScalePool.Configuration, shards: Int, stride: Int? = nil, work: URL) {
        self.configuration = configuration
        self.shards = shards
        self.stride = stride
        let c = configuration
        let sampled = stride.map { "-emb\(c.embeddingDimension)-every\($0)" } ?? ""
        directory = work.appendingPathComponent("shards-\(c.rows)x\(c.dimension)x\(c.checkpoints)\(sampled)-seed\(c.seed)-\(shards)")
    }

    var setURL: URL { directory.appendingPathComponent("pool.set") }

    func openOrBuild() throws -> ShardSet {
        if let set = try? ShardSet.open(at: setURL), set.manifest.shards.count == shards, set.manifest.rowCount == configuration.rows {
            report("reusing \(setURL.path)")
            return set
        }
        try? FileManager.default.removeItem(at: directory)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let pool = ScalePool(configuration)
        var urls: [URL] = []
        for s in 0..<shards {
            let rows = s * configuration.rows / shards..<(s + 1) * configuration.rows / shards
            let started = Date()
            let files = directory.appendingPathComponent("files-\(s)")
            let url = directory.appendingPathComponent("shard-\(s).quadcat")
            if let stride {
                try buildSampled(pool, at: url, files: ScalePool.Files(directory: files), rows: rows, stride: stride)
            } else {
                _ = try pool.buildCatalog(at: url, from: try pool.write(to: files, rows: rows))
            }
            try FileManager.default.removeItem(at: files)
            urls.append(url)
            report(String(format: "  shard %d (rows %d..<%d): %.1f s", s, rows.lowerBound, rows.upperBound, Date().timeIntervalSince(started)))
        }
        let set = try ShardSet.create(at: setURL, corpus: "pool")
        try set.add(urls)
        return set
    }

    /// One shard of the sampled pool: its rows' records and embeddings, gradients for its rows that are
    /// multiples of `stride`, the target's gradients and subtasks.
    private func buildSampled(_ pool: ScalePool, at url: URL, files: ScalePool.Files, rows: Range<Int>, stride: Int) throws {
        try FileManager.default.createDirectory(at: files.directory, withIntermediateDirectories: true)
        let catalog = try Catalog.create(at: url)
        try pool.writeCorpus(to: files, rows: rows)
        _ = try catalog.ingest(corpus: "pool", files: [files.corpus])
        try pool.writeEmbeddings(to: files, rows: rows)
        _ = try catalog.attach(AttachRequest(corpus: "pool", column: "emb", file: files.embeddings))
        try pool.attachSampledGradients(to: catalog, files: files, rows: rows, stride: stride)
    }
}
