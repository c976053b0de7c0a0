import Foundation
import GRDB
import Ingest

/// A record field kept as typed values for `--where` predicates, as `info` lists it.
public struct IndexedField: Codable, Sendable, Equatable {
    public var name: String
    /// Records whose value is text, an integer, a real number, a boolean (kept as the integers 1 and 0).
    public var textValues: Int
    public var integerValues: Int
    public var realValues: Int
    public var booleanValues: Int
    /// Records whose value is an object or an array: not indexed, they read as NULL.
    public var otherValues: Int
    /// Records without the field, or with null (objects and arrays included): they read as NULL.
    public var nullValues: Int
    /// "text", "integer", "real", "boolean", "number" (integers and reals), "mixed" or "null" (no value).
    public var type: String

    init(name: String, textValues: Int, integerValues: Int, realValues: Int, booleanValues: Int, otherValues: Int, nullValues: Int) {
        self.name = name
        self.textValues = textValues
        self.integerValues = integerValues
        self.realValues = realValues
        self.booleanValues = booleanValues
        self.otherValues = otherValues
        self.nullValues = nullValues
        let kinds = [("text", textValues), ("integer", integerValues), ("real", realValues), ("boolean", booleanValues)].filter { $0.1 > 0 }.map(\.0)
        switch Set(kinds) {
        case []: type = "null"
        case ["integer", "real"]: type = "number"
        default: type = kinds.count == 1 ? kinds[0] : "mixed"
        }
    }

    var holdsText: Bool { textValues > 0 }
    var holdsNumbers: Bool { integerValues + realValues + booleanValues > 0 }
}

/// What `quadcat index` did.
public struct IndexReport: Codable, Sendable {
    public var corpus: String
    /// Fields indexed by this call.
    public var added: [String]
    /// Fields that were indexed already (left as they are: records never change).
    public var alreadyIndexed: [String]
    /// Every indexed field of the corpus afterwards.
    public var fields: [IndexedField]
    public var rows: Int
    public var seconds: Double
}

extension Catalog {
    /// Indexes record fields of a corpus from its stored records (`quadcat index`), so that `--where`
    /// predicates can use them. Fields indexed already are left alone.
    public func index(corpus name: String, fields: [String], progress: ProgressHandler? = nil) throws -> IndexReport {
        guard !fields.isEmpty else { throw CatalogError(.invalidRequest, "name at least one field to index", remedy: "for example --field domain") }
        let start = Date()
        return try write { _ in
            try database.write { db in
                let corpus = try CorpusRow.named(name, db)
                let existing = Set(try IndexedFieldRows.names(corpusID: corpus.id!, db))
                var wanted: [String] = []
                for field in fields where !wanted.contains(field) && !existing.contains(field) { wanted.append(field) }
                try IndexedFieldRows.check(wanted, corpus: corpus)
                let created = try IndexedFieldRows.create(wanted, corpusID: corpus.id!, db)
                try indexStoredRecords(of: corpus, fields: created, rows: 0..<corpus.rowCount, db, progress: progress)
                return IndexReport(
                    corpus: corpus.name, added: wanted, alreadyIndexed: fields.filter(existing.contains),
                    fields: try IndexedFieldRows.describe(corpus: corpus, db), rows: corpus.rowCount,
                    seconds: Date().timeIntervalSince(start))
            }
        }
    }

    /// The indexed fields of a corpus, by name.
    public func indexedFields(corpus name: String) throws -> [IndexedField] {
        try database.read { db in try IndexedFieldRows.describe(corpus: CorpusRow.named(name, db), db) }
    }

    /// Reads `fields` from the committed records of `rows` and stores their values.
    func indexStoredRecords(
        of corpus: CorpusRow, fields: [(id: Int64, name: String)], rows: Range<Int>, _ db: Database, progress: ProgressHandler?
    ) throws {
        guard !fields.isEmpty, !rows.isEmpty else { return }
        var inserter = try FieldValueInserter(fields: fields, db)
        let records = try ArrayIndex.load(corpus.recordsArrayId, db)
        try ChunkDecoder(cache: segments, array: records).forEachRecord(in: rows) { row, record in
            try inserter.insert(row: row, record: record)
            if let progress, (row + 1) % 4096 == 0 {
                progress(ProgressEvent(phase: "indexing \(fields.map(\.name).joined(separator: ", "))", completed: row + 1 - rows.lowerBound, total: rows.count, unit: "rows"))
            }
        }
        try inserter.recordCounts(db)
    }
}

/// The `indexed_field` table.
enum IndexedFieldRows {
    static func names(corpusID: Int64, _ db: Database) throws -> [String] {
        try String.fetchAll(db, sql: "SELECT name FROM indexed_field WHERE corpus_id = ? ORDER BY name", arguments: [corpusID])
    }

    /// Refuses names that cannot be fields, and the text field (a predicate is for short labels; the
    /// texts would be copied into the index).
    static func check(_ names: [String], corpus: CorpusRow) throws {
        for name in names {
            guard !name.isEmpty else { throw CatalogError(.invalidRequest, "an indexed field name is empty") }
            guard name != corpus.textField else {
                throw CatalogError(
                    .invalidRequest, "'\(name)' is the text field of corpus '\(corpus.name)'; it is not indexed (every text would be copied into the index)",
                    remedy: "index short labels: a domain, a language, a length, a licence")
            }
        }
    }

    static func create(_ names: [String], corpusID: Int64, _ db: Database) throws -> [(id: Int64, name: String)] {
        try names.map { name in
            try db.execute(
                sql: "INSERT INTO indexed_field (corpus_id, name, created_at) VALUES (?, ?, ?)",
                arguments: [corpusID, name, Catalog.timestamp()])
            return (db.lastInsertedRowID, name)
        }
    }

    static func all(corpusID: Int64, _ db: Database) throws -> [(id: Int64, name: String)] {
        try Row.fetchAll(db, sql: "SELECT id, name FROM indexed_field WHERE corpus_id = ? ORDER BY id", arguments: [corpusID])
            .map { ($0["id"], $0["name"]) }
    }

    static func describe(corpus: CorpusRow, _ db: Database) throws -> [IndexedField] {
        try Row.fetchAll(db, sql: "SELECT * FROM indexed_field WHERE corpus_id = ? ORDER BY name", arguments: [corpus.id]).map { row in
            let counts = [row["text_values"], row["integer_values"], row["real_values"], row["boolean_values"]] as [Int]
            return IndexedField(
                name: row["name"], textValues: counts[0], integerValues: counts[1], realValues: counts[2], booleanValues: counts[3],
                otherValues: row["other_values"], nullValues: corpus.rowCount - counts.reduce(0, +))
        }
    }

    /// The values of one field for every row of the corpus (NULL where there is none).
    static func values(fieldID: Int64, rowCount: Int, _ db: Database) throws -> [FieldValue] {
        var values = [FieldValue](repeating: .null, count: rowCount)
        let rows = try Row.fetchCursor(db, sql: "SELECT row, value FROM field_value WHERE field_id = ?", arguments: [fieldID])
        while let row = try rows.next() {
            let r: Int = row[0]
            guard r >= 0 && r < rowCount else { continue }
            switch (row[1] as DatabaseValue).storage {
            case .int64(let n): values[r] = .integer(n)
            case .double(let x): values[r] = .real(x)
            case .string(let s): values[r] = .text(s)
            case .blob, .null: values[r] = .null
            }
        }
        return values
    }
}
