import Catalog
import Foundation
import GRDB
import Ingest
import Testing
import TestSupport

/// The first corpus of a catalog is ingested with the unique id index dropped and built at the end.
/// The catalog, and every error, must be the same as when each insert checks its id (as it does for a
/// catalog that already holds documents).
@Suite("Deferred id index")
struct DeferredIDIndexTests {
    /// The id index's schema entry (nil when it is missing).
    private static func idIndexSQL(_ catalog: Catalog) throws -> String? {
        let queue = try DatabaseQueue(path: catalog.root.appendingPathComponent("catalog.sqlite").path)
        return try queue.read { db in
            try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'document_by_external_id'")
        }
    }

    /// Every document row of corpus `pool`, and its records' content hash.
    private static func pool(_ catalog: Catalog) throws -> [String] {
        let queue = try DatabaseQueue(path: catalog.root.appendingPathComponent("catalog.sqlite").path)
        let rows = try queue.read { db in
            try Row.fetchAll(db, sql: """
                SELECT d.row, d.external_id, hex(d.content_hash), d.byte_length, d.source FROM document d
                JOIN corpus c ON c.id = d.corpus_id WHERE c.name = 'pool' ORDER BY d.row
                """).map { "\($0[0] as Int) \($0[1] as String) \($0[2] as String) \($0[3] as Int) \($0[4] as String)" }
        }
        return rows + [try catalog.info().corpora.first { $0.name == "pool" }!.contentHash]
    }

    /// The catalog's description, for before/after comparisons.
    private static func described(_ catalog: Catalog) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(catalog.info()), as: UTF8.self)
    }

    /// An empty catalog (bulk path) and one already holding a corpus (per-insert checks).
    private static func catalogs(_ dir: TemporaryDirectory) throws -> (bulk: Catalog, checked: Catalog) {
        try Fixtures.writeCorpus(dir.file("other.jsonl"), rows: 20)
        let checked = try Catalog.create(at: dir.file("checked.quadcat"))
        _ = try checked.ingest(corpus: "other", files: [dir.file("other.jsonl")])
        return (try Catalog.create(at: dir.file("bulk.quadcat")), checked)
    }

    @Test func theFirstCorpusGetsTheSameRowsAndTheSameIndex() throws {
        let dir = TemporaryDirectory("deferred-index")
        try Fixtures.writeCorpus(dir.file("pool.jsonl"), rows: 30_000)
        let (bulk, checked) = try Self.catalogs(dir)
        let schemaIndex = try Self.idIndexSQL(bulk)
        #expect(schemaIndex?.hasPrefix("CREATE UNIQUE INDEX document_by_external_id") == true)
        _ = try bulk.ingest(corpus: "pool", files: [dir.file("pool.jsonl")])
        _ = try checked.ingest(corpus: "pool", files: [dir.file("pool.jsonl")])
        #expect(try Self.pool(bulk) == Self.pool(checked))
        #expect(try Self.idIndexSQL(bulk) == schemaIndex)
        // The rebuilt index enforces uniqueness for the next ingest.
        try Data("{\"id\": \"doc-7\", \"text\": \"again\"}\n".utf8).write(to: dir.file("more.jsonl"))
        var append = IngestOptions()
        append.append = true
        let error = #expect(throws: CatalogError.self) { try bulk.ingest(corpus: "pool", files: [dir.file("more.jsonl")], options: append) }
        #expect(error?.message.contains("more.jsonl: line 1: duplicate id 'doc-7', already used at pool.jsonl:8") == true)
        #expect(try bulk.verify().isHealthy)
    }

    @Test func aDuplicateIdNamesTheSameFileAndLineEitherWay() throws {
        let dir = TemporaryDirectory("deferred-index")
        var lines = try Fixtures.writeCorpus(dir.file("a.jsonl"), rows: 40_000)
        // The second input repeats an id of the first, then one of its own; the first repeat is reported.
        lines = lines.map { $0.replacingOccurrences(of: "\"doc-", with: "\"b-") }
        lines[15_000] = "{\"id\": \"doc-123\", \"text\": \"seen in a.jsonl\"}"
        lines[16_000] = lines[15_500]
        try Data(lines.map { $0 + "\n" }.joined().utf8).write(to: dir.file("b.jsonl"))
        let (bulk, checked) = try Self.catalogs(dir)
        let before = try Self.described(bulk)
        var messages: [String] = []
        for catalog in [bulk, checked] {
            let inputs = [dir.file("a.jsonl"), dir.file("b.jsonl")]
            let error = #expect(throws: CatalogError.self) { try catalog.ingest(corpus: "pool", files: inputs) }
            messages.append(error?.message ?? "")
        }
        #expect(messages[0].contains("b.jsonl: line 15001: duplicate id 'doc-123', already used at a.jsonl:124"))
        #expect(messages[0] == messages[1])
        #expect(try Self.described(bulk) == before)
        #expect(try Self.idIndexSQL(bulk) != nil)
    }

    @Test func aFailureAfterManyRowsLeavesTheCatalogAndItsIndexAsTheyWere() throws {
        let dir = TemporaryDirectory("deferred-index")
        var lines = try Fixtures.writeCorpus(dir.file("pool.jsonl"), rows: 30_000)
        lines[29_000] = "{\"id\": \"late\", \"text\": oops}"
        try Data(lines.map { $0 + "\n" }.joined().utf8).write(to: dir.file("pool.jsonl"))
        let catalog = try Catalog.create(at: dir.file("c.quadcat"))
        let index = try Self.idIndexSQL(catalog)
        let before = try Self.described(catalog)
        let error = #expect(throws: IngestError.self) { try catalog.ingest(corpus: "pool", files: [dir.file("pool.jsonl")]) }
        #expect(error?.location == "line 29001, column 24")
        #expect(try Self.described(catalog) == before)
        #expect(chunkAndStagingFiles(catalog.root).isEmpty)
        #expect(try Self.idIndexSQL(catalog) == index)
    }
}
