import GRDB

/// The identity of the random projection that produced a gradient column. Gradients from different
/// projections live in different spaces and must never be compared (docs/FORMAT.md, `feature_column`).
public struct ProjectionIdentity: Codable, Sendable, Equatable, CustomStringConvertible {
    /// For example "rademacher" or "gaussian".
    public var kind: String
    public var seed: Int64?
    public var dim: Int?

    public init(kind: String, seed: Int64? = nil, dim: Int? = nil) {
        self.kind = kind
        self.seed = seed
        self.dim = dim
    }

    /// Parses `KIND[:SEED[:DIM]]`, e.g. `rademacher:20261123:1024`.
    public init(parsing text: String) throws {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard (1...3).contains(parts.count), !parts[0].isEmpty else {
            throw CatalogError(.invalidRequest, "projection '\(text)' is not of the form KIND[:SEED[:DIM]]", remedy: "for example --projection rademacher:20261123:1024")
        }
        var seed: Int64?
        var dim: Int?
        if parts.count > 1 {
            guard let s = Int64(parts[1]) else { throw CatalogError(.invalidRequest, "projection seed '\(parts[1])' is not an integer") }
            seed = s
        }
        if parts.count > 2 {
            guard let d = Int(parts[2]), d > 0 else { throw CatalogError(.invalidRequest, "projection dimension '\(parts[2])' is not a positive integer") }
            dim = d
        }
        self.init(kind: parts[0], seed: seed, dim: dim)
    }

    public var description: String {
        [kind, seed.map(String.init), dim.map(String.init)].compactMap { $0 }.joined(separator: ":")
    }
}

struct CorpusRow: Codable, FetchableRecord, PersistableRecord, Sendable {
    static let databaseTableName = "corpus"
    static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    var id: Int64?
    var name: String
    var idField: String
    var textField: String
    var rowCount: Int
    var recordsArrayId: Int64
    var createdAt: String

    static func named(_ name: String, _ db: Database) throws -> CorpusRow {
        if let row = try CorpusRow.filter(Column("name") == name).fetchOne(db) { return row }
        let names = try String.fetchAll(db, sql: "SELECT name FROM corpus ORDER BY name")
        throw CatalogError(
            .notFound, "no corpus named '\(name)'",
            remedy: names.isEmpty ? "ingest one with `quadcat ingest CATALOG FILE.jsonl --corpus \(name)`" : "corpora here: \(names.joined(separator: ", "))")
    }
}

struct FeatureColumnRow: Codable, FetchableRecord, PersistableRecord, Sendable {
    static let databaseTableName = "feature_column"
    static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    var id: Int64?
    var corpusId: Int64
    var name: String
    var kind: String
    var checkpoint: Int
    var learningRate: Double?
    var projectionKind: String?
    var projectionSeed: Int64?
    var projectionDim: Int?
    var sourceDtype: String
    var dim: Int
    var rowCount: Int
    var usableRows: Int
    var unitNormalized: Bool
    var arrayId: Int64
    var maskArrayId: Int64?
    var sourcePath: String
    var sourceHash: String
    var createdAt: String

    var projection: ProjectionIdentity? {
        projectionKind.map { ProjectionIdentity(kind: $0, seed: projectionSeed, dim: projectionDim) }
    }
}

struct TargetRow: Codable, FetchableRecord, PersistableRecord, Sendable {
    static let databaseTableName = "target"
    static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    var id: Int64?
    var name: String
    var rowCount: Int
    var createdAt: String

    static func named(_ name: String, _ db: Database) throws -> TargetRow {
        if let row = try TargetRow.filter(Column("name") == name).fetchOne(db) { return row }
        let names = try String.fetchAll(db, sql: "SELECT name FROM target ORDER BY name")
        throw CatalogError(
            .notFound, "no target named '\(name)'",
            remedy: names.isEmpty ? "add one with `quadcat target add CATALOG \(name) --checkpoint 1 FILE.npy`" : "targets here: \(names.joined(separator: ", "))")
    }
}

struct TargetColumnRow: Codable, FetchableRecord, PersistableRecord, Sendable {
    static let databaseTableName = "target_column"
    static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    var id: Int64?
    var targetId: Int64
    var name: String
    var kind: String
    var checkpoint: Int
    var projectionKind: String?
    var projectionSeed: Int64?
    var projectionDim: Int?
    var sourceDtype: String
    var dim: Int
    var arrayId: Int64
    var sourcePath: String
    var sourceHash: String
    var createdAt: String

    var projection: ProjectionIdentity? {
        projectionKind.map { ProjectionIdentity(kind: $0, seed: projectionSeed, dim: projectionDim) }
    }
}
