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
    /// Threads parsing and encoding records (nil: one per core). The result does not depend on it.
    public var workers: Int?
    /// Record fields to keep as typed values for `select --where` (`--index-field`). Fields the corpus
    /// indexes already are indexed in appended rows too.
    public var indexFields: [String] = []

    public init() {}
}

/// What an ingest did.
public struct IngestReport: Codable, Sendable {
    public var corpus: String
    /// The inputs as given (`-` for standard input).
    public var files: [String]
    public var rowsAdded: Int
    public var totalRows: Int
    /// Bytes of the inputs as stored (compressed bytes for a compressed input).
    public var bytesRead: Int
    /// Bytes of JSONL after decompression.
    public var decodedBytes: Int
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
    /// Ingests JSONL files into a corpus; see ``ingest(corpus:inputs:options:progress:)``.
    public func ingest(
        corpus name: String, files: [URL], options: IngestOptions = IngestOptions(), progress: ProgressHandler? = nil
    ) throws -> IngestReport {
        try ingest(corpus: name, inputs: files.map { .file($0) }, options: options, progress: progress)
    }

    /// Ingests JSONL records into a corpus (`quadcat ingest`), the inputs in order.
    ///
    /// An input is a file or standard input, plain JSONL or compressed with gzip or zstd (told apart by
    /// the first bytes), streamed through a pipeline that keeps both cores busy and memory bounded.
    /// Each record is kept verbatim; its id and text fields are indexed, its text hashed. Exact
    /// duplicate texts are reported, not dropped. A duplicate id, a malformed line, a damaged or
    /// truncated input or any other error leaves the catalog exactly as it was.
    public func ingest(
        corpus name: String, inputs: [JSONLInput], options: IngestOptions = IngestOptions(), progress: ProgressHandler? = nil
    ) throws -> IngestReport {
        try Self.checkInputs(inputs)
        try JSONLOptions(idField: options.idField, textField: options.textField).check(for: inputs[0])
        let start = Date()
        return try write { staging in
            try database.writeWithoutTransaction { db in
                var report: IngestReport?
                try db.inTransaction {
                    report = try ingestInTransaction(db, staging: staging, name: name, inputs: inputs, options: options, progress: progress)
                    return .commit
                }
                var finished = report!
                finished.seconds = Date().timeIntervalSince(start)
                return finished
            }
        }
    }

    /// Refuses, before anything is read, inputs that cannot all be read: a missing or unreadable file
    /// (found now rather than after hours of earlier shards), a directory, standard input twice.
    private static func checkInputs(_ inputs: [JSONLInput]) throws {
        guard !inputs.isEmpty else { throw CatalogError(.invalidRequest, "no input files given") }
        guard inputs.filter({ $0 == .standardInput }).count <= 1 else {
            throw CatalogError(.invalidRequest, "standard input ('-') is given more than once", remedy: "name it once")
        }
        if inputs.contains(.standardInput) && isatty(STDIN_FILENO) == 1 {
            throw CatalogError(.invalidRequest, "standard input ('-') is a terminal, not JSONL", remedy: "pipe the records in, e.g. zstdcat shard.jsonl.zst | quadcat ingest CAT - --corpus NAME")
        }
        for case .file(let url) in inputs {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
                throw CatalogError(.notFound, "\(url.path): no such file", remedy: "check the path (nothing was ingested)")
            }
            guard !isDirectory.boolValue else {
                throw CatalogError(.invalidRequest, "\(url.path) is a directory", remedy: "name the JSONL files in it, e.g. \(url.path)/*.jsonl.zst")
            }
            guard FileManager.default.isReadableFile(atPath: url.path) else {
                throw CatalogError(.invalidRequest, "\(url.path) is not readable", remedy: "check the file's permissions (nothing was ingested)")
            }
        }
    }

    private func ingestInTransaction(
        _ db: Database, staging: StagingArea, name: String, inputs: [JSONLInput], options: IngestOptions, progress: ProgressHandler?
    ) throws -> IngestReport {
        let corpus = try corpusForIngest(name, options: options, db)
        let firstRow = corpus.rowCount
        let indexedAlready = try IndexedFieldRows.all(corpusID: corpus.id!, db)
        var newFields: [String] = []
        for field in options.indexFields where !newFields.contains(field) && !indexedAlready.contains(where: { $0.name == field }) {
            newFields.append(field)
        }
        try IndexedFieldRows.check(newFields, corpus: corpus)
        let createdFields = try IndexedFieldRows.create(newFields, corpusID: corpus.id!, db)
        let sink = try IngestSink(
            corpusID: corpus.id!, firstRow: firstRow, staging: staging, codec: options.codec,
            fieldValues: FieldValueInserter(fields: indexedAlready + createdFields, db),
            deferredIDIndex: try DeferredIDIndex.dropIfNoDocuments(db), db)
        let pipeline = IngestPipeline(
            inputs: inputs, options: JSONLOptions(idField: options.idField, textField: options.textField), codec: options.codec,
            workers: options.workers ?? ProcessInfo.processInfo.activeProcessorCount, keepRecords: !sink.fieldValues.isEmpty)
        let totalBytes = Self.totalStoredBytes(inputs)
        do {
            try pipeline.run { step in
                switch step {
                case .records(let block):
                    try sink.add(block)
                    if let progress {
                        let position = inputs.count > 1 ? " (\(block.info.index + 1) of \(inputs.count))" : ""
                        progress(ProgressEvent(
                            phase: "reading \(block.info.input.sourceName)\(position)", completed: sink.storedBytesDone + block.storedBytesRead,
                            total: totalBytes, unit: "bytes"))
                    }
                case .inputEnd(let info, let storedBytes, let hash):
                    try sink.endInput(info, storedBytes: storedBytes, hash: hash)
                case .failure(let error):
                    throw error
                }
            }
        } catch {
            // With the id index dropped, a duplicate id before the failing line is found only now.
            if let duplicate = try sink.firstDuplicateID() { throw duplicate }
            throw error
        }
        try sink.finishDocuments()
        let nextRow = sink.nextRow
        guard nextRow > firstRow else {
            throw CatalogError(.invalidRequest, "no records in \(inputs.map(\.displayName).joined(separator: ", "))", remedy: "each non-blank line must be a JSON object with an id and a text field")
        }
        let staged = sink.records.finish()
        try staging.publish()

        let arrayID = corpus.recordsArrayId
        let existingChunks = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM chunk WHERE array_id = ?", arguments: [arrayID])!
        try ArrayIndex.insertChunks(staged.chunks, arrayID: arrayID, seqOffset: existingChunks, rowOffset: firstRow, db)
        let checksums = try String.fetchAll(db, sql: "SELECT checksum FROM chunk WHERE array_id = ? ORDER BY seq", arguments: [arrayID]).map { UInt64($0, radix: 16)! }
        let hash = StagedArray.contentHash(dtype: .records, dim: 1, rowCount: nextRow, checksums: checksums)
        try db.execute(sql: "UPDATE array SET row_count = ?, content_hash = ? WHERE id = ?", arguments: [nextRow, hash, arrayID])
        try db.execute(sql: "UPDATE corpus SET row_count = ? WHERE id = ?", arguments: [nextRow, corpus.id!])
        try sink.fieldValues.recordCounts(db)
        // Fields new to a corpus that had rows already: read them from its stored records.
        var updated = corpus
        updated.rowCount = nextRow
        try indexStoredRecords(of: updated, fields: createdFields, rows: 0..<firstRow, db, progress: progress)

        let duplicates = try sink.duplicateTexts()
        let stored = sink.records.bytesByCodec.values.reduce(0) { $0 + $1.stored }
        return IngestReport(
            corpus: name, files: inputs.map(\.recordedPath), rowsAdded: nextRow - firstRow, totalRows: nextRow, bytesRead: sink.storedBytesDone,
            decodedBytes: sink.decodedBytes, bytesStored: stored, seconds: 0, duplicateTextGroups: duplicates.groups,
            duplicateTextRows: duplicates.extraRows, duplicateExamples: duplicates.examples,
            indexedFields: try IndexedFieldRows.describe(corpus: updated, db))
    }

    /// The corpus to add rows to: a new one, or an existing one with `append`.
    private func corpusForIngest(_ name: String, options: IngestOptions, _ db: Database) throws -> CorpusRow {
        if let existing = try CorpusRow.filter(Column("name") == name).fetchOne(db) {
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
            return existing
        }
        try db.execute(sql: "INSERT INTO array (dtype, dim, row_count, content_hash) VALUES ('records', 1, 0, '')")
        var row = CorpusRow(
            id: nil, name: name, idField: options.idField, textField: options.textField, rowCount: 0,
            recordsArrayId: db.lastInsertedRowID, createdAt: Self.timestamp())
        try row.insert(db)
        row.id = db.lastInsertedRowID
        return row
    }

    /// The inputs' stored sizes added up, or nil when one is a pipe.
    private static func totalStoredBytes(_ inputs: [JSONLInput]) -> Int? {
        var total = 0
        for input in inputs {
            switch input {
            case .file(let url):
                guard let size = FileIO.fileSize(url) else { return nil }
                total += size
            case .standardInput:
                var info = stat()
                guard fstat(STDIN_FILENO, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
                total += Int(info.st_size)
            }
        }
        return total
    }
}
