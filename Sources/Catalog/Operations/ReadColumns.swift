import Foundation
import GRDB
import Selectors

/// A feature column as listed by ``Catalog/columns(corpus:)``.
public struct ColumnDescription: Sendable, Equatable {
    public var name: String
    public var kind: ColumnKind
    public var checkpoint: Int
    public var learningRate: Double?
    public var projection: ProjectionIdentity?
    public var dim: Int
    public var rowCount: Int
    public var usableRows: Int
    public var storedDType: StoredDType
    /// sha256 of the stored data (and of its usable-row mask, when it has one).
    public var contentHash: String
}

extension Catalog {
    /// Number of documents in a corpus (in a shard set's head, the rows over all its shards).
    ///
    /// - Throws: ``CatalogError`` when the catalog has no such corpus.
    public func rowCount(corpus: String) throws -> Int {
        if let set = sharding.set(for: corpus) { return set.manifest.rowCount }
        return try database.read { try CorpusRow.named(corpus, $0).rowCount }
    }

    /// The feature columns of a corpus, ordered by name and checkpoint.
    public func columns(corpus: String) throws -> [ColumnDescription] {
        if let set = sharding.set(for: corpus) { return try set.columnDescriptions() }
        return try database.read { db in
            let corpusRow = try CorpusRow.named(corpus, db)
            return try FeatureColumnRow.filter(Column("corpus_id") == corpusRow.id!)
                .order(Column("name"), Column("checkpoint")).fetchAll(db).map { try describe($0, db) }
        }
    }

    func describe(_ row: FeatureColumnRow, _ db: Database) throws -> ColumnDescription {
        let array = try ArrayIndex.load(row.arrayId, db)
        var hash = array.contentHash
        if let mask = row.maskArrayId {
            hash = Hashing.sha256Hex(hash + " mask " + (try ArrayIndex.load(mask, db).contentHash))
        }
        return ColumnDescription(
            name: row.name, kind: ColumnKind(rawValue: row.kind) ?? .score, checkpoint: row.checkpoint,
            learningRate: row.learningRate, projection: row.projection, dim: row.dim, rowCount: row.rowCount,
            usableRows: row.usableRows, storedDType: array.dtype, contentHash: hash)
    }

    /// A stored column as a ``VectorSource``: streamed Float32 blocks whatever its stored precision.
    public func vectors(corpus: String, column: String, checkpoint: Int = 0) throws -> StoredVectors {
        try database.read { db in
            let corpusRow = try CorpusRow.named(corpus, db)
            guard let row = try FeatureColumnRow.filter(Column("corpus_id") == corpusRow.id! && Column("name") == column && Column("checkpoint") == checkpoint).fetchOne(db) else {
                let known = try FeatureColumnRow.filter(Column("corpus_id") == corpusRow.id!).fetchAll(db)
                    .map { $0.kind == ColumnKind.gradient.rawValue ? "\($0.name)@\($0.checkpoint)" : $0.name }
                throw CatalogError(
                    .notFound, "corpus '\(corpus)' has no column '\(column)'\(checkpoint != 0 ? " checkpoint \(checkpoint)" : "")",
                    remedy: known.isEmpty ? "attach one with `quadcat attach`" : "columns here: \(known.joined(separator: ", "))")
            }
            return try vectors(of: row, db)
        }
    }

    /// A column as a ``VectorSource``: the stored column, or in a shard set's head the shards' columns
    /// concatenated.
    func vectorSource(corpus: String, column: String, checkpoint: Int = 0) throws -> any VectorSource {
        if let set = sharding.set(for: corpus) { return try set.vectors(column: column, checkpoint: checkpoint) }
        return try vectors(corpus: corpus, column: column, checkpoint: checkpoint)
    }

    func vectors(of row: FeatureColumnRow, _ db: Database) throws -> StoredVectors {
        let array = try ArrayIndex.load(row.arrayId, db)
        let mask = try row.maskArrayId.map { try ChunkDecoder(cache: segments, array: ArrayIndex.load($0, db)).rowMask() }
        return StoredVectors(array: array, cache: segments, usableRows: mask)
    }

    /// The verbatim records of the given rows, in the given order.
    public func records(corpus: String, rows: [Int]) throws -> [[UInt8]] {
        if let set = sharding.set(for: corpus) { return try set.records(rows: rows) }
        let (array, count) = try database.read { db in
            let corpusRow = try CorpusRow.named(corpus, db)
            return (try ArrayIndex.load(corpusRow.recordsArrayId, db), corpusRow.rowCount)
        }
        if let bad = rows.first(where: { $0 < 0 || $0 >= count }) {
            throw CatalogError(.invalidRequest, "row \(bad) is outside corpus '\(corpus)' (0..<\(count))")
        }
        return try ChunkDecoder(cache: segments, array: array).records(rows: rows)
    }

    /// Calls `body` with every record of a corpus in row order (streamed chunk by chunk).
    public func forEachRecord(corpus: String, _ body: (Int, UnsafeRawBufferPointer) throws -> Void) throws {
        if let set = sharding.set(for: corpus) { return try set.forEachRecord(body) }
        let array = try database.read { try ArrayIndex.load(CorpusRow.named(corpus, $0).recordsArrayId, $0) }
        try ChunkDecoder(cache: segments, array: array).forEachRecord(body)
    }

    /// Calls `body` with the records of `rows` of a corpus, in row order, streamed chunk by chunk (memory
    /// stays bounded by a chunk, whatever the range); in a shard set's head the records come from the
    /// shards, with global row numbers.
    ///
    /// - Parameters:
    ///   - corpus: The corpus to read.
    ///   - rows: The rows to read; it must lie within the corpus (`0...rowCount` for its bounds, so an
    ///     empty range at the end is allowed).
    ///   - body: Called with each row number and its verbatim record (as ingested, without the line
    ///     break); the bytes are valid only during the call.
    /// - Throws: ``CatalogError`` when the corpus is unknown or `rows` reaches outside it.
    public func forEachRecord(corpus: String, rows: Range<Int>, _ body: (Int, UnsafeRawBufferPointer) throws -> Void) throws {
        let count = try rowCount(corpus: corpus)
        guard rows.lowerBound >= 0, rows.upperBound <= count else {
            let bad = rows.lowerBound < 0 ? rows.lowerBound : max(rows.lowerBound, count)
            throw CatalogError(.invalidRequest, "row \(bad) is outside corpus '\(corpus)' (0..<\(count))")
        }
        if let set = sharding.set(for: corpus) { return try set.forEachRecord(rows: rows, body) }
        let array = try database.read { try ArrayIndex.load(CorpusRow.named(corpus, $0).recordsArrayId, $0) }
        try ChunkDecoder(cache: segments, array: array).forEachRecord(in: rows, body)
    }

    /// External ids of the given rows, in the given order.
    public func externalIDs(corpus: String, rows: [Int]) throws -> [String] {
        if let set = sharding.set(for: corpus) { return try set.externalIDs(rows: rows) }
        return try database.read { db in
            let corpusRow = try CorpusRow.named(corpus, db)
            let statement = try db.cachedStatement(sql: "SELECT external_id FROM document WHERE corpus_id = ? AND row = ?")
            return try rows.map { row in
                guard let id = try String.fetchOne(statement, arguments: [corpusRow.id!, row]) else {
                    throw CatalogError(.invalidRequest, "row \(row) is outside corpus '\(corpus)'")
                }
                return id
            }
        }
    }
}
