import Catalog
import Foundation

/// Builds a catalog from realbench (``Fixtures/realbench``) the way its README describes the data: the pool corpus,
/// four gradient checkpoints weighted by their mean learning rate, embeddings, and the target's
/// validation gradients.
public enum Realbench {
    public static let projection = ProjectionIdentity(kind: "rademacher", seed: 20_261_123, dim: 1024)

    /// The mean learning rate of each checkpoint, from checkpoints.json.
    public static func learningRates(_ root: URL) throws -> [Double] {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: root.appendingPathComponent("checkpoints.json"))) as! [String: Any]
        return (json["checkpoints"] as! [[String: Any]]).map { $0["mean_lr"] as! Double }
    }

    /// Creates and fills `catalog` (a path that must not exist yet).
    public static func build(_ root: URL, at catalogURL: URL) throws -> Catalog {
        try build(root, pool: root, at: catalogURL)
    }

    /// A shard of realbench: the pool's rows `rows` (corpus lines, gradient and embedding rows, copied
    /// into `directory`), with the whole target, as a catalog at `catalogURL`.
    public static func buildShard(_ root: URL, rows: Range<Int>, directory: URL, at catalogURL: URL) throws -> Catalog {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let lines = try String(contentsOf: root.appendingPathComponent("corpus.jsonl"), encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        try Data((lines[rows].joined(separator: "\n") + "\n").utf8).write(to: directory.appendingPathComponent("corpus.jsonl"))
        for name in (1...4).map({ "grads_ckpt\($0).npy" }) + ["embeddings.npy"] {
            let matrix = try Fixtures.loadMatrix(root.appendingPathComponent(name))
            let slice = Array(matrix.values[rows.lowerBound * matrix.columns..<rows.upperBound * matrix.columns])
            try Fixtures.writeFloat16(slice, rows: rows.count, dim: matrix.columns, to: directory.appendingPathComponent(name))
        }
        return try build(root, pool: directory, at: catalogURL)
    }

    /// The catalog of the pool files in `pool` (corpus, gradients, embeddings) and the target in `root`.
    private static func build(_ root: URL, pool: URL, at catalogURL: URL) throws -> Catalog {
        let catalog = try Catalog.create(at: catalogURL)
        _ = try catalog.ingest(corpus: "pool", files: [pool.appendingPathComponent("corpus.jsonl")])
        for (c, rate) in try learningRates(root).enumerated() {
            var request = AttachRequest(corpus: "pool", column: "grad", file: pool.appendingPathComponent("grads_ckpt\(c + 1).npy"))
            request.checkpoint = c + 1
            request.learningRate = rate
            request.projection = projection
            _ = try catalog.attach(request)
            var target = TargetColumnRequest(target: "python", file: root.appendingPathComponent("val_grads_ckpt\(c + 1).npy"))
            target.checkpoint = c + 1
            target.projection = projection
            _ = try catalog.addTargetColumn(target)
        }
        _ = try catalog.attach(AttachRequest(corpus: "pool", column: "emb", file: pool.appendingPathComponent("embeddings.npy")))
        var embeddings = TargetColumnRequest(target: "python", file: root.appendingPathComponent("val_embeddings.npy"))
        embeddings.column = "emb"
        _ = try catalog.addTargetColumn(embeddings)
        return catalog
    }

    /// The `domain` and `dup_of` labels of the pool, for reports (selectors never see them).
    public static func labels(_ root: URL) throws -> (domains: [String], duplicateOf: [Int?]) {
        let text = try String(contentsOf: root.appendingPathComponent("corpus.jsonl"), encoding: .utf8)
        var domains: [String] = [], duplicateOf: [Int?] = []
        for line in text.split(separator: "\n") {
            let record = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            domains.append(record["domain"] as! String)
            duplicateOf.append(record["dup_of"] as? Int)
        }
        return (domains, duplicateOf)
    }
}
