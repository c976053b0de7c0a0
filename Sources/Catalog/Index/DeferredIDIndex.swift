import GRDB

/// The unique index on document ids, dropped while the first corpus of a catalog is ingested and
/// built once at the end, inside the same transaction.
///
/// Keeping the index up to date costs a random B-tree insert per record (random ids); building it
/// afterwards is one sort, less than half the CPU (`BENCHMARKS.md`, issue 14). Only an ingest into a
/// catalog that has no document rows yet does this: with other corpora present, the rebuild would sort
/// their rows too. Any error rolls the transaction back, which restores the index as it was.
struct DeferredIDIndex {
    static let name = "document_by_external_id"
    /// The index's own `CREATE` statement, read back from the schema, so the rebuilt index is the
    /// same one, byte for byte, in `sqlite_master`.
    private let createSQL: String

    /// Drops the index when the catalog holds no documents yet; nil (index kept) otherwise.
    static func dropIfNoDocuments(_ db: Database) throws -> DeferredIDIndex? {
        guard try !Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM document)")! else { return nil }
        guard let sql = try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", arguments: [name]) else {
            throw CatalogError(.damaged, "the index has no \(name) (the unique index on document ids)", remedy: "restore the catalog's index from a backup")
        }
        try db.execute(sql: "DROP INDEX \(name)")
        return DeferredIDIndex(createSQL: sql)
    }

    /// Builds the index again; returns false, leaving it unbuilt, when two rows share an id.
    func rebuild(_ db: Database) throws -> Bool {
        do {
            try db.execute(sql: createSQL)
            return true
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
            return false
        }
    }

    /// The first row, in row order, whose id an earlier row of the corpus already has: the row, its
    /// id and source ("NAME:LINE"), and the earlier row's source. A sort of the corpus's ids; for
    /// error messages only.
    static func firstDuplicate(corpusID: Int64, _ db: Database) throws -> (row: Int, id: String, source: String, previousSource: String)? {
        let row = try Row.fetchOne(db, sql: """
            SELECT row, external_id, source, first_source FROM (
                SELECT row, external_id, source,
                       ROW_NUMBER() OVER (PARTITION BY external_id ORDER BY row) AS occurrence,
                       FIRST_VALUE(source) OVER (PARTITION BY external_id ORDER BY row) AS first_source
                FROM document WHERE corpus_id = ?)
            WHERE occurrence = 2 ORDER BY row LIMIT 1
            """, arguments: [corpusID])
        guard let row else { return nil }
        return (row[0], row[1], row[2], row[3])
    }
}
