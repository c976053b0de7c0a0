import Catalog
import Foundation

/// Builds a catalog from ../shared/realbench the way its README describes the data: the pool corpus,
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
        let catalog = try Catalog.create(at: catalogURL)
        _ = try catalog.ingest(corpus: "pool", files: [root.appendingPathComponent("corpus.jsonl")])
        for (c, rate) in try learningRates(root).enumerated() {
            var request = AttachRequest(corpus: "pool", column: "grad", file: root.appendingPathComponent("grads_ckpt\(c + 1).npy"))
            request.checkpoint = c + 1
            request.learningRate = rate
            request.projection = projection
            _ = try catalog.attach(request)
            var target = TargetColumnRequest(target: "python", file: root.appendingPathComponent("val_grads_ckpt\(c + 1).npy"))
            target.checkpoint = c + 1
            target.projection = projection
            _ = try catalog.addTargetColumn(target)
        }
        _ = try catalog.attach(AttachRequest(corpus: "pool", column: "emb", file: root.appendingPathComponent("embeddings.npy")))
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
