import Foundation
import GRDB
import Ingest

/// Options for `ingest`.
public struct IngestOptions: Sendable {
    /// The JSON field holding each record's id (string or integer).
    public var idField = "id"
    /// The JSON field holding each record's text.
    public var textField = "text"
    /// Add rows to an existing corpus (allowed while it has no feature columns).
    public var append = false
    public var codec: CodecPolicy = .auto
    /// Record fields to keep as typed values for `select --where` (`--index-field`). Fields the corpus
    /// indexes already are indexed in appended rows too.
    public var indexFields: [String] = []

    public init() {}
}

/// What an ingest did.
public struct IngestReport: Codable, Sendable {
    public var corpus: String
    public var files: [String]
    public var rowsAdded: Int
    public var totalRows: Int
    public var bytesRead: Int
    public var bytesStored: Int
    public var seconds: Double
    /// Groups of records whose text is byte-identical (kept, reported).
    public var duplicateTextGroups: Int
    /// Records beyond the first of each such group.
    public var duplicateTextRows: Int
    /// A few groups of ids sharing one text.
    public var duplicateExamples: [[String]]
    /// The corpus's indexed fields after the ingest.
    public var indexedFields: [IndexedField] = []
}

extension Catalog {
    /// Ingests JSONL records into a corpus (DESIGN §1 `ingest`).
    ///
    /// Each record is kept verbatim; its id and text fields are indexed, its text hashed. Exact
    /// duplicate texts are reported, not dropped. A duplicate id, a malformed line or any other error
    /// leaves the catalog exactly as it was.
    public func ingest(
        corpus name: String, files: [URL], options: IngestOptions = IngestOptions(), progress: ProgressHandler? = nil
    ) throws -> IngestReport {
        guard !files.isEmpty else { throw CatalogError(.invalidRequest, "no input files given") }
        let start = Date()
        let totalBytes = files.compactMap { FileIO.fileSize($0) }.reduce(0, +)
        return try write { staging in
            try database.writeWithoutTransaction { db in
                var report: IngestReport?
                try db.inTransaction {
                    report = try ingestInTransaction(
                        db, staging: staging, name: name, files: files, options: options, totalBytes: totalBytes,
                        progress: progress)
                    return .commit
                }
                var finished = report!
                finished.seconds = Date().timeIntervalSince(start)
                return finished
            }
        }
    }

    private func ingestInTransaction(
        _ db: Database, staging: StagingArea, name: String, files: [URL], options: IngestOptions, totalBytes: Int,
        progress: ProgressHandler?
    ) throws -> IngestReport {
        var corpus = try CorpusRow.filter(Column("name") == name).fetchOne(db)
        if let existing = corpus {
            guard options.append else {
                throw CatalogError(.invalidRequest, "corpus '\(name)' already exists (\(existing.rowCount) rows)", remedy: "pass --append to add rows to it, or choose another --corpus name")
            }
            let columns = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM feature_column WHERE corpus_id = ?", arguments: [existing.id])!
            guard columns == 0 else {
                throw CatalogError(.invalidRequest, "corpus '\(name)' already has \(columns) feature column(s); new rows would have no features", remedy: "ingest into a new corpus instead")
            }
            guard existing.idField == options.idField, existing.textField == options.textField else {
                throw CatalogError(.invalidRequest, "corpus '\(name)' reads ids from '\(existing.idField)' and text from '\(existing.textField)'", remedy: "append with the same --id-field and --text-field")
            }
        } else {
            try db.execute(sql: "INSERT INTO array (dtype, dim, row_count, content_hash) VALUES ('records', 1, 0, '')")
            var row = CorpusRow(
                id: nil, name: name, idField: options.idField, textField: options.textField, rowCount: 0,
                recordsArrayId: db.lastInsertedRowID, createdAt: Self.timestamp())
            try row.insert(db)
            row.id = db.lastInsertedRowID
            corpus = row
        }
        let corpusID = corpus!.id!
        let firstRow = corpus!.rowCount
        var nextRow = firstRow
        var bytesDone = 0
        let records = RecordArrayWriter(staging: staging, policy: options.codec)
        let documents = try DocumentInserter(corpusID: corpusID, db)
        let indexedAlready = try IndexedFieldRows.all(corpusID: corpusID, db)
        var newFields: [String] = []
        for field in options.indexFields where !newFields.contains(field) && !indexedAlready.contains(where: { $0.name == field }) {
            newFields.append(field)
        }
        try IndexedFieldRows.check(newFields, corpus: corpus!)
        let createdFields = try IndexedFieldRows.create(newFields, corpusID: corpusID, db)
        var fieldValues = try FieldValueInserter(fields: indexedAlready + createdFields, db)
        let sourceSeq = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM ingest_source WHERE corpus_id = ?", arguments: [corpusID])!
        for (fileIndex, file) in files.enumerated() {
            let reader = try JSONLReader(url: file, options: JSONLOptions(idField: options.idField, textField: options.textField))
            let fileFirstRow = nextRow
            let fileName = file.lastPathComponent
            try reader.forEachRecord { record in
                try records.append(record.raw)
                var hasher = Hashing.SHA256()
                hasher.update(record.text)
                let digest = hasher.finalize()
                let inserted = try digest.withUnsafeBytes {
                    try documents.insert(
                        row: nextRow, id: record.id, contentHash: UnsafeRawBufferPointer(rebasing: $0[0..<16]),
                        byteLength: record.raw.count, source: "\(fileName):\(record.line)")
                }
                if !inserted {
                    let previous = try String.fetchOne(db, sql: "SELECT source FROM document WHERE corpus_id = ? AND external_id = ?", arguments: [corpusID, record.id]) ?? "an earlier record"
                    throw CatalogError(
                        .invalidRequest, "\(file.path): line \(record.line): duplicate id '\(record.id)', already used at \(previous)",
                        remedy: "ids must be unique within a corpus; fix the input (nothing was ingested)")
                }
                try fieldValues.insert(row: nextRow, record: record.raw)
                nextRow += 1
                if let progress, (nextRow - firstRow) % 2048 == 0 {
                    progress(ProgressEvent(phase: "reading \(fileName)", completed: bytesDone + reader.bytesRead, total: totalBytes, unit: "bytes"))
                }
            }
            bytesDone += reader.bytesRead
            try db.execute(
                sql: "INSERT INTO ingest_source (corpus_id, seq, path, file_hash, first_row, row_count, ingested_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                arguments: [corpusID, sourceSeq + fileIndex, file.path, try FileHashing.xxh64(of: file), fileFirstRow, nextRow - fileFirstRow, Self.timestamp()])
        }
        guard nextRow > firstRow else {
            throw CatalogError(.invalidRequest, "no records in \(files.map(\.path).joined(separator: ", "))", remedy: "each non-blank line must be a JSON object with an id and a text field")
        }
        let staged = try records.finish()
        try staging.publish()

        let arrayID = corpus!.recordsArrayId
        let existingChunks = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM chunk WHERE array_id = ?", arguments: [arrayID])!
        try ArrayIndex.insertChunks(staged.chunks, arrayID: arrayID, seqOffset: existingChunks, rowOffset: firstRow, db)
        let checksums = try String.fetchAll(db, sql: "SELECT checksum FROM chunk WHERE array_id = ? ORDER BY seq", arguments: [arrayID]).map { UInt64($0, radix: 16)! }
        let hash = StagedArray.contentHash(dtype: .records, dim: 1, rowCount: nextRow, checksums: checksums)
        try db.execute(sql: "UPDATE array SET row_count = ?, content_hash = ? WHERE id = ?", arguments: [nextRow, hash, arrayID])
        try db.execute(sql: "UPDATE corpus SET row_count = ? WHERE id = ?", arguments: [nextRow, corpusID])
        try fieldValues.recordCounts(db)
        // Fields new to a corpus that had rows already: read them from its stored records.
        var updated = corpus!
        updated.rowCount = nextRow
        try indexStoredRecords(of: updated, fields: createdFields, rows: 0..<firstRow, db, progress: progress)

        let duplicates = try DuplicateTexts.find(corpusID: corpusID, db)
        let stored = records.bytesByCodec.values.reduce(0) { $0 + $1.stored }
        return IngestReport(
            corpus: name, files: files.map(\.path), rowsAdded: nextRow - firstRow, totalRows: nextRow, bytesRead: bytesDone,
            bytesStored: stored, seconds: 0, duplicateTextGroups: duplicates.groups, duplicateTextRows: duplicates.extraRows,
            duplicateExamples: duplicates.examples, indexedFields: try IndexedFieldRows.describe(corpus: updated, db))
    }
}

/// Exact-duplicate texts within a corpus, found with one GROUP BY over the text hashes.
enum DuplicateTexts {
    static func find(corpusID: Int64, exampleLimit: Int = 5, _ db: Database) throws -> (groups: Int, extraRows: Int, examples: [[String]]) {
        let groups = try Row.fetchAll(db, sql: """
            SELECT content_hash, COUNT(*) AS n, MIN(row) AS first FROM document WHERE corpus_id = ?
            GROUP BY content_hash HAVING COUNT(*) > 1
            """, arguments: [corpusID])
        let extra = groups.reduce(0) { $0 + ($1["n"] as Int) - 1 }
        let examples = try groups.sorted { ($0["first"] as Int) < ($1["first"] as Int) }.prefix(exampleLimit).map { group in
            try String.fetchAll(db, sql: "SELECT external_id FROM document WHERE corpus_id = ? AND content_hash = ? ORDER BY row LIMIT 5", arguments: [corpusID, group["content_hash"] as Data])
        }
        return (groups.count, extra, examples)
    }
}
