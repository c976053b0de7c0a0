import Catalog
import Foundation
import TestSupport

/// `quadcat-bench quad-scale`: Quad where it was made to run, a pretraining-sized pool: embeddings
/// for every row (10^7 x 384 by default) and gradients for a sample only (every 20th row, attached
/// with `--ids` as a partial column). Builds the catalog once into the work directory (reused when
/// its settings match), then runs `quadcat select --selector quad` in its own process and prints the
/// time, peak anonymous memory and Quad's phase timings (k-means fit, assignment, bandit).
///
///     quadcat-bench quad-scale [--rows 10000000] [--dim 1024] [--stride 20] [--budget 0.5%] [--work DIR]
struct QuadScaleBench {
    let work: URL
    let configuration: ScalePool.Configuration
    /// Gradients for every `stride`-th row.
    let stride: Int
    let budget: String

    private struct Stamp: Codable, Equatable {
        var configuration: ScalePool.Configuration
        var stride: Int
    }

    var directory: URL {
        let c = configuration
        return work.appendingPathComponent("quad-\(c.rows)x\(c.embeddingDimension)-grad\(c.dimension)-every\(stride)-seed\(c.seed)")
    }

    func run() throws {
        let catalogURL = try openOrBuild()
        let quadcat = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("quadcat")
        let name = "quad-scale-\(budget.replacingOccurrences(of: "%", with: "pct"))"
        let measured = try MeasuredRun.run(quadcat, [
            "select", catalogURL.path, "--corpus", "pool", "--selector", "quad", "--budget", budget,
            "--target", "target", "--as", name, "--json",
        ])
        guard measured.status == 0 else {
            report("quad \(budget): failed (exit \(measured.status)): \(String(decoding: measured.standardError, as: UTF8.self).suffix(600))")
            return
        }
        let subset = try JSONDecoder().decode(SubsetInfo.self, from: measured.standardOutput)
        report(String(format: "quad %@ of %d rows (embeddings %d-d for every row, %d-d gradients for every %dth): %d/%d rows in %.1f s, peak anon %.0f MB, peak file %.0f MB",
                      budget, configuration.rows, configuration.embeddingDimension, configuration.dimension, stride,
                      subset.rowCount, subset.budget, measured.seconds,
                      Double(measured.peakAnonymousBytes) / 1e6, Double(measured.peakFileBytes) / 1e6))
        for (phase, seconds) in subset.diagnostics.timings.sorted(by: { $0.key < $1.key }) {
            report(String(format: "    %@: %.1f s", phase, seconds))
        }
        for (counter, value) in subset.diagnostics.counters.sorted(by: { $0.key < $1.key }) {
            // %g, not %.0f: tau, alpha, the radius and the influence statistics are well below 1.
            report(String(format: "    %@: %g", counter, value))
        }
        for note in subset.diagnostics.notes { report("    note: \(note)") }
    }

    /// The catalog: corpus, embeddings, the sampled gradient column and the target, built once.
    private func openOrBuild() throws -> URL {
        let catalogURL = directory.appendingPathComponent("pool.quadcat")
        let stampURL = directory.appendingPathComponent("pool.json")
        let stamp = Stamp(configuration: configuration, stride: stride)
        if let data = try? Data(contentsOf: stampURL), (try? JSONDecoder().decode(Stamp.self, from: data)) == stamp,
           (try? Catalog.open(at: catalogURL)) != nil
        {
            report("reusing \(catalogURL.path)")
            return catalogURL
        }
        try? FileManager.default.removeItem(at: directory)
        let files = ScalePool.Files(directory: directory.appendingPathComponent("files"))
        try FileManager.default.createDirectory(at: files.directory, withIntermediateDirectories: true)
        let pool = ScalePool(configuration)
        let catalog = try Catalog.create(at: catalogURL)
        var clock = Date()
        func lap(_ what: String) {
            report(String(format: "  %@: %.1f s", what, Date().timeIntervalSince(clock)))
            clock = Date()
        }
        report("generating \(configuration.rows) rows into \(directory.path)")
        try pool.writeCorpus(to: files)
        lap("write corpus")
        _ = try catalog.ingest(corpus: "pool", files: [files.corpus])
        try FileManager.default.removeItem(at: files.corpus)
        lap("ingest corpus")
        try pool.writeEmbeddings(to: files)
        _ = try catalog.attach(AttachRequest(corpus: "pool", column: "emb", file: files.embeddings))
        try FileManager.default.removeItem(at: files.embeddings)
        lap("embeddings")
        try pool.attachSampledGradients(to: catalog, files: files, stride: stride)
        lap("sampled gradients")
        try FileManager.default.removeItem(at: files.directory)
        try JSONEncoder().encode(stamp).write(to: stampURL)
        return catalogURL
    }
}
