import Foundation
import GRDB
import GRDBSQLite
import Ingest

/// Inserts the indexed values of records into `field_value` through one prepared statement bound with
/// SQLite's C API (an ingest inserts one row per record and field), counting each kind of value.
struct FieldValueInserter {
    /// The indexed fields of the corpus being written, in the reader's order.
    let fieldIDs: [Int64]
    let reader: RecordFieldReader
    /// Values of each kind per field, in the order of ``fieldIDs``.
    private(set) var counts: [FieldKindCounts]
    private let statement: Statement

    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    init(fields: [(id: Int64, name: String)], _ db: Database) throws {
        fieldIDs = fields.map(\.id)
        reader = RecordFieldReader(fields: fields.map(\.name))
        counts = [FieldKindCounts](repeating: FieldKindCounts(), count: fields.count)
        statement = try db.makeStatement(sql: "INSERT INTO field_value (field_id, row, value) VALUES (?, ?, ?)")
    }

    var isEmpty: Bool { fieldIDs.isEmpty }

    /// Reads the fields of one record and stores the scalar ones.
    mutating func insert(row: Int, record: UnsafeRawBufferPointer) throws {
        guard !fieldIDs.isEmpty else { return }
        let values: [FieldScalar]
        do { values = try reader.values(of: record) } catch {
            throw CatalogError(.damaged, "record of row \(row) cannot be read for its indexed fields: \(error)", remedy: "run `quadcat verify`")
        }
        let s = statement.sqliteStatement
        for (i, value) in values.enumerated() {
            counts[i].add(value)
            sqlite3_reset(s)
            sqlite3_bind_int64(s, 1, fieldIDs[i])
            sqlite3_bind_int64(s, 2, Int64(row))
            switch value {
            case .text(let text):
                var text = text
                text.withUTF8 { _ = sqlite3_bind_text(s, 3, UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), Int32($0.count), Self.transient) }
            case .integer(let n): sqlite3_bind_int64(s, 3, n)
            case .real(let x): sqlite3_bind_double(s, 3, x)
            case .boolean(let b): sqlite3_bind_int64(s, 3, b ? 1 : 0)
            case .null, .nonScalar: continue
            }
            guard sqlite3_step(s) & 0xFF == SQLITE_DONE else {
                let message = String(cString: sqlite3_errmsg(sqlite3_db_handle(s)))
                sqlite3_reset(s)
                throw CatalogError(.io, "the index failed to record field '\(reader.fields[i])' of row \(row): \(message)")
            }
        }
    }

    /// Adds the counts to the fields' rows of `indexed_field`.
    func recordCounts(_ db: Database) throws {
        for (id, c) in zip(fieldIDs, counts) {
            try db.execute(
                sql: """
                    UPDATE indexed_field SET text_values = text_values + ?, integer_values = integer_values + ?,
                    real_values = real_values + ?, boolean_values = boolean_values + ?, other_values = other_values + ? WHERE id = ?
                    """,
                arguments: [c.text, c.integer, c.real, c.boolean, c.other, id])
        }
    }
}

/// How many values of each kind a field holds.
struct FieldKindCounts {
    var text = 0, integer = 0, real = 0, boolean = 0, other = 0

    mutating func add(_ value: FieldScalar) {
        switch value {
        case .text: text += 1
        case .integer: integer += 1
        case .real: real += 1
        case .boolean: boolean += 1
        case .nonScalar: other += 1
        case .null: break
        }
    }
}
