import Foundation
import GRDB

/// What `info` reports: corpora, their columns, targets, subsets, and storage per codec.
public struct CatalogInfo: Codable, Sendable {
    public struct Storage: Codable, Sendable {
        /// Raw (decoded) payload bytes.
        public var rawBytes: Int
        /// Bytes the chunks take in their files (headers and padding included).
        public var storedBytes: Int
        public var chunks: Int
        /// storedBytes / rawBytes.
        public var ratio: Double
    }

    public struct Column: Codable, Sendable {
        public var name: String
        public var kind: String
        public var checkpoint: Int
        public var learningRate: Double?
        public var dim: Int
        public var sourceDType: String
        public var storedDType: String
        public var rows: Int
        public var usableRows: Int
        public var projection: String?
        public var unitNormalized: Bool
        public var storage: Storage
        /// The column's content hash as lineage records it (docs/FORMAT.md, "Column content hash").
        public var contentHash: String
    }

    public struct Corpus: Codable, Sendable {
        public var name: String
        public var rows: Int
        public var idField: String
        public var textField: String
        public var records: Storage
        /// The records array's content hash (docs/FORMAT.md, "Array content hash"): equal for the same input bytes ingested the same way.
        public var contentHash: String
        public var columns: [Column]
        /// Record fields indexed for `--where`, with the kinds of value they hold.
        public var fields: [IndexedField]
        public var subsets: Int
    }

    public var path: String
    public var schema: [String]
    public var corpora: [Corpus]
    public var targets: [TargetInfo]
    public var subsets: Int
    /// Totals per codec over every chunk in the catalog.
    public var codecs: [String: Storage]
    /// Bytes of every file under chunks/ (referenced or not) plus the index.
    public var bytesOnDisk: Int
}

extension Catalog {
    /// A summary of everything in the catalog (`quadcat info`).
    public func info() throws -> CatalogInfo {
        let (corpora, subsets, codecs) = try database.read { db -> ([CatalogInfo.Corpus], Int, [String: CatalogInfo.Storage]) in
            let corpora = try CorpusRow.order(Column("name")).fetchAll(db).map { corpus in
                let columns = try FeatureColumnRow.filter(Column("corpus_id") == corpus.id!)
                    .order(Column("name"), Column("checkpoint")).fetchAll(db).map { c in
                        let array = try ArrayIndex.load(c.arrayId, db)
                        let described = try describe(c, db)
                        return CatalogInfo.Column(
                            name: c.name, kind: c.kind, checkpoint: c.checkpoint, learningRate: c.learningRate, dim: c.dim,
                            sourceDType: c.sourceDtype, storedDType: array.dtype.rawValue, rows: c.rowCount,
                            usableRows: c.usableRows, projection: c.projection?.description, unitNormalized: c.unitNormalized,
                            storage: try storage(of: [c.arrayId] + (c.maskArrayId.map { [$0] } ?? []), db),
                            contentHash: described.contentHash)
                    }
                let subsets = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM subset WHERE corpus_id = ?", arguments: [corpus.id])!
                return CatalogInfo.Corpus(
                    name: corpus.name, rows: corpus.rowCount, idField: corpus.idField, textField: corpus.textField,
                    records: try storage(of: [corpus.recordsArrayId], db), contentHash: try ArrayIndex.load(corpus.recordsArrayId, db).contentHash,
                    columns: columns, fields: try IndexedFieldRows.describe(corpus: corpus, db), subsets: subsets)
            }
            let subsets = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM subset")!
            var codecs: [String: CatalogInfo.Storage] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT codec, SUM(raw_length) AS raw, SUM(length) AS stored, COUNT(*) AS n FROM chunk GROUP BY codec") {
                let raw: Int = row["raw"], stored: Int = row["stored"]
                codecs[row["codec"]] = CatalogInfo.Storage(rawBytes: raw, storedBytes: stored, chunks: row["n"], ratio: raw > 0 ? Double(stored) / Double(raw) : 0)
            }
            return (corpora, subsets, codecs)
        }
        let files = (try? FileManager.default.contentsOfDirectory(atPath: paths.chunks.path)) ?? []
        let chunkBytes = files.compactMap { FileIO.fileSize(paths.chunkFile($0)) }.reduce(0, +)
        let indexBytes = ["", "-wal", "-shm"].compactMap { FileIO.fileSize(URL(fileURLWithPath: paths.database.path + $0)) }.reduce(0, +)
        return CatalogInfo(
            path: root.path, schema: try appliedMigrations(), corpora: corpora, targets: try listTargets(), subsets: subsets,
            codecs: codecs, bytesOnDisk: chunkBytes + indexBytes)
    }

    private func storage(of arrays: [Int64], _ db: Database) throws -> CatalogInfo.Storage {
        var raw = 0, stored = 0, chunks = 0
        for id in arrays {
            let row = try Row.fetchOne(db, sql: "SELECT COALESCE(SUM(raw_length), 0) AS raw, COALESCE(SUM(length), 0) AS stored, COUNT(*) AS n FROM chunk WHERE array_id = ?", arguments: [id])!
            raw += row["raw"] as Int
            stored += row["stored"] as Int
            chunks += row["n"] as Int
        }
        return CatalogInfo.Storage(rawBytes: raw, storedBytes: stored, chunks: chunks, ratio: raw > 0 ? Double(stored) / Double(raw) : 0)
    }
}
