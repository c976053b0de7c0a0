import Foundation
import GRDB
import GRDBSQLite

/// Inserts `document` rows through one prepared statement bound with SQLite's C API.
///
/// An ingest inserts one row per record, millions of them; binding through GRDB's generic
/// `StatementArguments` boxes every value and was a fifth of the ingest time.
struct DocumentInserter {
    private let statement: Statement
    private let corpusID: Int64

    /// SQLite copies bound text and blobs before `bind` returns.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    init(corpusID: Int64, _ db: Database) throws {
        self.corpusID = corpusID
        statement = try db.makeStatement(sql: """
            INSERT INTO document (corpus_id, row, external_id, content_hash, byte_length, source) VALUES (?, ?, ?, ?, ?, ?)
            """)
    }

    /// Inserts one document; returns false when the id is already used in the corpus. `id` and
    /// `source` are UTF-8.
    func insert(row: Int, id: UnsafeRawBufferPointer, contentHash: UnsafeRawBufferPointer, byteLength: Int, source: UnsafeRawBufferPointer) throws -> Bool {
        let s = statement.sqliteStatement
        sqlite3_reset(s)
        sqlite3_bind_int64(s, 1, corpusID)
        sqlite3_bind_int64(s, 2, Int64(row))
        sqlite3_bind_text(s, 3, id.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(id.count), Self.transient)
        sqlite3_bind_blob(s, 4, contentHash.baseAddress, Int32(contentHash.count), Self.transient)
        sqlite3_bind_int64(s, 5, Int64(byteLength))
        sqlite3_bind_text(s, 6, source.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(source.count), Self.transient)
        // GRDB turns on extended result codes (SQLITE_CONSTRAINT_UNIQUE and friends).
        let code = sqlite3_step(s) & 0xFF
        switch code {
        case SQLITE_DONE:
            return true
        case SQLITE_CONSTRAINT:
            sqlite3_reset(s)
            return false
        default:
            let message = String(cString: sqlite3_errmsg(sqlite3_db_handle(s)))
            sqlite3_reset(s)
            throw CatalogError(.io, "the index failed to record document row \(row): \(message)")
        }
    }
}
