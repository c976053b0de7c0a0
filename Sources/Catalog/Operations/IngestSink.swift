import Foundation
import GRDB
import Ingest

/// The writing end of an ingest, on the thread that holds the SQLite transaction: each parsed block's
/// chunk goes to staging and its records become document rows, in input order; each finished input
/// becomes an `ingest_source` row.
final class IngestSink {
    let records: ChunkSink
    /// The row the next record gets.
    private(set) var nextRow: Int
    /// Stored bytes of the inputs read to their end.
    private(set) var storedBytesDone = 0
    /// Decoded JSONL bytes of the blocks written.
    private(set) var decodedBytes = 0

    private let db: Database
    private let corpusID: Int64
    private let documents: DocumentInserter
    private let firstSourceSeq: Int
    private var inputFirstRow: Int
    private var source = RecordSource()
    private var textHashes: TextHashCollector
    /// The id index while it is dropped for a bulk ingest (nil: every insert checks the id).
    private let deferredIDIndex: DeferredIDIndex?
    /// The first row of each input that has rows, to name the input of a row.
    private var inputStarts: [(row: Int, info: IngestInputInfo)] = []
    /// The indexed fields' values of each record (empty when the corpus indexes none).
    private(set) var fieldValues: FieldValueInserter

    init(
        corpusID: Int64, firstRow: Int, staging: StagingArea, codec: CodecPolicy, fieldValues: FieldValueInserter,
        deferredIDIndex: DeferredIDIndex?, _ db: Database
    ) throws {
        self.db = db
        self.deferredIDIndex = deferredIDIndex
        self.fieldValues = fieldValues
        self.corpusID = corpusID
        records = ChunkSink(staging: staging, dtype: .records, dim: 1, policy: codec)
        documents = try DocumentInserter(corpusID: corpusID, db)
        firstSourceSeq = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM ingest_source WHERE corpus_id = ?", arguments: [corpusID])!
        nextRow = firstRow
        inputFirstRow = firstRow
        textHashes = TextHashCollector(newCorpus: firstRow == 0)
    }

    /// Writes a block's records; throws the first problem in input order (a duplicate id, then the
    /// block's own error after its valid records).
    func add(_ block: ParsedBlock) throws {
        if let chunk = block.chunk { try records.write(chunk) }
        source.start(block.info.input.sourceName)
        if block.rows > 0 && inputStarts.last?.info.index != block.info.index { inputStarts.append((nextRow, block.info)) }
        try block.ids.withUnsafeBytes { ids in
            try block.textHashes.withUnsafeBytes { hashes in
                var idStart = 0
                for i in 0..<block.rows {
                    let id = UnsafeRawBufferPointer(rebasing: ids[idStart..<block.idEnds[i]])
                    idStart = block.idEnds[i]
                    let inserted = try source.withLine(block.lines[i]) { source in
                        try documents.insert(
                            row: nextRow, id: id, contentHash: UnsafeRawBufferPointer(rebasing: hashes[16 * i..<16 * i + 16]),
                            byteLength: block.byteLengths[i], source: source)
                    }
                    if !inserted {
                        let text = String(decoding: id, as: UTF8.self)
                        let previous = try String.fetchOne(
                            db, sql: "SELECT source FROM document WHERE corpus_id = ? AND external_id = ?", arguments: [corpusID, text])
                        throw Self.duplicateID(text, line: block.lines[i], input: block.info.input, previous: previous)
                    }
                    if !fieldValues.isEmpty {
                        try block.records.withUnsafeBytes { records in
                            try fieldValues.insert(row: nextRow, record: UnsafeRawBufferPointer(rebasing: records[(i == 0 ? 0 : block.recordEnds[i - 1])..<block.recordEnds[i]]))
                        }
                    }
                    nextRow += 1
                }
            }
        }
        if let error = block.error { throw error }
        textHashes.add(block.textHashes)
        decodedBytes += block.decodedBytes
    }

    /// Records an input read to its end: its path, stored hash and rows.
    func endInput(_ info: IngestInputInfo, storedBytes: Int, hash: UInt64) throws {
        storedBytesDone += storedBytes
        try db.execute(
            sql: "INSERT INTO ingest_source (corpus_id, seq, path, file_hash, first_row, row_count, ingested_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            arguments: [corpusID, firstSourceSeq + info.index, info.input.recordedPath, "xxh64:" + Hashing.hex(hash), inputFirstRow,
                        nextRow - inputFirstRow, Catalog.timestamp()])
        inputFirstRow = nextRow
    }

    /// Exact-duplicate texts of the corpus once every block is in.
    func duplicateTexts() throws -> DuplicateTexts.Summary {
        if let hashes = textHashes.take() {
            return try DuplicateTexts.find(hashes: consume hashes, corpusID: corpusID, db)
        }
        return try DuplicateTexts.find(corpusID: corpusID, db)
    }

    /// Builds the id index when it was dropped; throws the first duplicate id, as an insert that
    /// checked each id would have.
    func finishDocuments() throws {
        guard let deferredIDIndex, !(try deferredIDIndex.rebuild(db)) else { return }
        if let duplicate = try firstDuplicateID() { throw duplicate }
        throw CatalogError(.io, "the unique index on document ids could not be built, though no id repeats")
    }

    /// With the id index dropped, the first duplicate id among the rows written so far (to report
    /// before a later error, in input order); nil when the index checked each insert.
    func firstDuplicateID() throws -> CatalogError? {
        guard deferredIDIndex != nil, let duplicate = try DeferredIDIndex.firstDuplicate(corpusID: corpusID, db) else { return nil }
        let input = inputStarts.last { $0.row <= duplicate.row }!.info.input
        let line = duplicate.source.split(separator: ":").last.flatMap { Int($0) } ?? 0
        return Self.duplicateID(duplicate.id, line: line, input: input, previous: duplicate.previousSource)
    }

    private static func duplicateID(_ id: String, line: Int, input: JSONLInput, previous: String?) -> CatalogError {
        CatalogError(
            .invalidRequest, "\(input.displayName): line \(line): duplicate id '\(id)', already used at \(previous ?? "an earlier record")",
            remedy: "ids must be unique within a corpus; fix the input (nothing was ingested)")
    }
}

/// Each document's source, "NAME:LINE", built in one reused buffer (an ingest writes millions).
private struct RecordSource {
    private var bytes: [UInt8] = []
    private var prefixLength = 0

    mutating func start(_ name: String) {
        bytes.removeAll(keepingCapacity: true)
        bytes.append(contentsOf: name.utf8)
        bytes.append(UInt8(ascii: ":"))
        prefixLength = bytes.count
    }

    mutating func withLine<T>(_ line: Int, _ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        bytes.removeSubrange(prefixLength...)
        var n = line
        repeat {
            bytes.append(UInt8(ascii: "0") + UInt8(n % 10))
            n /= 10
        } while n > 0
        bytes[prefixLength...].reverse()
        return try bytes.withUnsafeBytes(body)
    }
}
