import Catalog
import Foundation
import Selectors

/// A corpus whose records carry fields of every kind a predicate meets, written as JSONL, with
/// gradients (two checkpoints), embeddings with planted near copies, and a target: the data of the
/// query tests. The field values are kept in Swift, so a test can filter them by brute force.
public struct QueryFixture: Sendable {
    /// A record field as written: absent, null, a scalar, or an array.
    public enum Value: Sendable, Equatable {
        case missing, null, text(String), integer(Int64), real(Double), boolean(Bool), array

        var json: String? {
            switch self {
            case .missing: nil
            case .null: "null"
            case .text(let s): QueryFixture.quote(s)
            case .integer(let n): String(n)
            case .real(let x): "\(x)"
            case .boolean(let b): b ? "true" : "false"
            case .array: "[1, \"two\", {\"three\": 3}]"
            }
        }
    }

    public static let fieldNames = ["domain", "n_tokens", "score", "flag", "tags", "odd name"]

    public var rows: Int
    /// Each row's fields by name.
    public var records: [[String: Value]]
    /// Rows whose embedding (and gradients) nearly copy an earlier row's: (copy, original).
    public var nearCopies: [(copy: Int, of: Int)]
    public var embeddings: Matrix
    public var gradients: [Matrix]
    public var target: [Matrix]

    public init(rows: Int = 400, seed: UInt64 = 7) {
        self.rows = rows
        var random = SeededRandom(seed: seed)
        let domains = ["web", "code", "bible", "it's", "Web", "caf\u{E9}", "cafe\u{301}", "ünï ✓", "c"]
        records = (0..<rows).map { r in
            var fields: [String: Value] = [:]
            let pick = random.nextInt(below: 20)
            fields["domain"] = pick == 0 ? .missing : pick == 1 ? .null : .text(domains[random.nextInt(below: domains.count)])
            let n = random.nextInt(below: 20)
            fields["n_tokens"] = n == 0 ? .null : n == 1 ? .missing : .integer(Int64(random.nextInt(below: 300)))
            switch random.nextInt(below: 6) {
            case 0: fields["score"] = .text("n/a")
            case 1: fields["score"] = .integer(Int64(random.nextInt(below: 4)))
            case 2: fields["score"] = .missing
            default: fields["score"] = .real(Double(random.nextInt(below: 16)) / 4)
            }
            fields["flag"] = random.nextInt(below: 4) == 0 ? .missing : .boolean(random.nextInt(below: 2) == 1)
            fields["tags"] = random.nextInt(below: 3) == 0 ? .array : .text("t\(r % 5)")
            fields["odd name"] = r % 7 == 0 ? .text("x") : .missing
            return fields
        }
        // Gradients and embeddings: every fifth row from row 10 nearly copies an earlier row.
        let d = 16, e = 12
        let lean = (0..<d).map { _ in Float(random.nextGaussian()) }
        var g = (0..<2).map { _ in Matrix(rows: rows, columns: d) }
        var emb = Matrix(rows: rows, columns: e)
        var copies: [(Int, Int)] = []
        for r in 0..<rows {
            let original = r >= 10 && r % 5 == 0 ? random.nextInt(below: r) : nil
            for c in 0..<2 {
                for j in 0..<d {
                    let noise = Float(random.nextGaussian())
                    g[c][r, j] = original.map { g[c][$0, j] + 0.03 * noise } ?? noise + Float(r % 4) * 0.4 * lean[j]
                }
            }
            for j in 0..<e {
                let noise = Float(random.nextGaussian())
                emb[r, j] = original.map { emb[$0, j] + 0.03 * noise } ?? noise
            }
            if let original { copies.append((r, original)) }
        }
        nearCopies = copies
        embeddings = emb
        gradients = g
        target = (0..<2).map { _ in Matrix(rowVectors: (0..<6).map { _ in lean.map { $0 + Float(0.3 * random.nextGaussian()) } }) }
    }

    public func id(_ row: Int) -> String { "doc-\(row)" }

    /// The JSONL text: one object per row with id, text and the fields (absent ones left out).
    public var jsonl: String {
        records.enumerated().map { r, fields in
            var members = ["\"id\": \"\(id(r))\"", "\"text\": \"record \(r)\""]
            for name in Self.fieldNames { if let json = fields[name]?.json { members.append("\(Self.quote(name)): \(json)") } }
            return "{" + members.joined(separator: ", ") + "}\n"
        }.joined()
    }

    static func quote(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    /// Writes corpus.jsonl, grad1.npy, grad2.npy, emb.npy, val1.npy, val2.npy into `directory`.
    public func write(to directory: URL) throws {
        try Data(jsonl.utf8).write(to: directory.appendingPathComponent("corpus.jsonl"))
        for c in 0..<2 {
            try Fixtures.writeFloat32(gradients[c].values, rows: rows, dim: gradients[c].columns, to: directory.appendingPathComponent("grad\(c + 1).npy"))
            try Fixtures.writeFloat32(target[c].values, rows: target[c].rows, dim: target[c].columns, to: directory.appendingPathComponent("val\(c + 1).npy"))
        }
        try Fixtures.writeFloat32(embeddings.values, rows: rows, dim: embeddings.columns, to: directory.appendingPathComponent("emb.npy"))
    }

    /// A catalog at `directory/q.quadcat` with corpus "pool" (fields indexed at ingest), columns grad
    /// (checkpoints 1, 2) and emb, and target "val".
    public func build(in directory: URL, indexFields: [String] = QueryFixture.fieldNames) throws -> Catalog {
        try write(to: directory)
        let catalog = try Catalog.create(at: directory.appendingPathComponent("q.quadcat"))
        var options = IngestOptions()
        options.indexFields = indexFields
        _ = try catalog.ingest(corpus: "pool", files: [directory.appendingPathComponent("corpus.jsonl")], options: options)
        for c in 1...2 {
            var attach = AttachRequest(corpus: "pool", column: "grad", file: directory.appendingPathComponent("grad\(c).npy"))
            attach.checkpoint = c
            attach.learningRate = [2e-5, 1e-5][c - 1]
            _ = try catalog.attach(attach)
            var target = TargetColumnRequest(target: "val", file: directory.appendingPathComponent("val\(c).npy"))
            target.checkpoint = c
            _ = try catalog.addTargetColumn(target)
        }
        _ = try catalog.attach(AttachRequest(corpus: "pool", column: "emb", file: directory.appendingPathComponent("emb.npy")))
        return catalog
    }

    /// cos(row a, row b) of a matrix, in Double.
    public static func cosine(_ m: Matrix, _ a: Int, _ b: Int) -> Double {
        let x = m.row(a).map(Double.init), y = m.row(b).map(Double.init)
        let dot = zip(x, y).reduce(0) { $0 + $1.0 * $1.1 }
        return dot / (x.reduce(0) { $0 + $1 * $1 } * y.reduce(0) { $0 + $1 * $1 }).squareRoot()
    }
}
