import CKernels
import Catalog
import Foundation
import GRDB
import Ingest
import Testing
import TestSupport

/// Ingest at scale: compressed inputs, many files, the multi-threaded pipeline. Whatever the input's
/// encoding and the thread timing, the catalog is the same; any error leaves it as it was.
@Suite("Ingest pipeline")
struct IngestPipelineTests {
    /// The documents as the index holds them: row, id, text hash, length and source line.
    private static func documents(_ catalog: Catalog, corpus: String = "pool") throws -> [String] {
        let queue = try DatabaseQueue(path: catalog.root.appendingPathComponent("catalog.sqlite").path)
        return try queue.read { db in
            try Row.fetchAll(db, sql: """
                SELECT d.row, d.external_id, hex(d.content_hash) AS hash, d.byte_length, d.source FROM document d
                JOIN corpus c ON c.id = d.corpus_id WHERE c.name = ? ORDER BY d.row
                """, arguments: [corpus]).map { row in
                let source: String = row["source"]
                return "\(row["row"] as Int) \(row["external_id"] as String) \(row["hash"] as String) \(row["byte_length"] as Int) \(source.split(separator: ":").last!)"
            }
        }
    }

    private static func snapshot(_ catalog: Catalog) throws -> String {
        var info = try catalog.info()
        info.bytesOnDisk = 0
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(info), as: UTF8.self) + chunkAndStagingFiles(catalog.root).joined(separator: ",")
    }

    /// A corpus of `rows` records spanning several 4 MiB blocks.
    private static func writeLargeCorpus(_ url: URL, rows: Int, idPrefix: String = "doc-") throws -> Data {
        var text = ""
        text.reserveCapacity(rows * 220)
        for i in 0..<rows {
            text += "{\"id\": \"\(idPrefix)\(i)\", \"text\": \"document \(i) \(String(repeating: "lorem ipsum ", count: 3 + i % 17))caf\\u00e9\", \"n\": \(i)}\n"
        }
        let data = Data(text.utf8)
        try data.write(to: url)
        return data
    }

    @Test func gzipZstdAndManyFilesMakeTheSameCatalogAsThePlainFile() throws {
        let dir = TemporaryDirectory("pipeline")
        let plain = dir.file("pool.jsonl")
        let data = try Self.writeLargeCorpus(plain, rows: 60_000)
        #expect(data.count > 2 * LineBlockReader.blockBytes)
        try Compression.gzip(data, memberBytes: 1 << 20).write(to: dir.file("pool.jsonl.gz"))
        try Compression.zstd(data, frames: 3).write(to: dir.file("pool.jsonl.zst"))

        let reference = try Catalog.create(at: dir.file("plain.quadcat"))
        let report = try reference.ingest(corpus: "pool", files: [plain])
        #expect(report.rowsAdded == 60_000 && report.decodedBytes == data.count && report.bytesRead == data.count)
        let hash = try reference.info().corpora[0].contentHash
        let documents = try Self.documents(reference)
        for name in ["pool.jsonl.gz", "pool.jsonl.zst"] {
            let catalog = try Catalog.create(at: dir.file("\(name).quadcat"))
            let report = try catalog.ingest(corpus: "pool", files: [dir.file(name)])
            #expect(report.decodedBytes == data.count && report.bytesRead < data.count / 2, "\(name)")
            #expect(try catalog.info().corpora[0].contentHash == hash, "\(name)")
            #expect(try Self.documents(catalog) == documents, "\(name)")
            #expect(try catalog.verify().isHealthy)
        }
        // One worker or three: the same chunks, so the same hash.
        for workers in [1, 3] {
            let catalog = try Catalog.create(at: dir.file("workers-\(workers).quadcat"))
            var options = IngestOptions()
            options.workers = workers
            _ = try catalog.ingest(corpus: "pool", files: [plain], options: options)
            #expect(try catalog.info().corpora[0].contentHash == hash, "\(workers) workers")
        }
        // Shards in order, mixing encodings, make one corpus whose rows follow the inputs.
        let lines = data.split(separator: 0x0a)
        let shards = [(0..<25_000, "a.jsonl.zst"), (25_000..<40_000, "b.jsonl"), (40_000..<60_000, "c.jsonl.gz")]
        for (range, name) in shards {
            let shard = Data(lines[range].map { Data($0) + Data([0x0a]) }.joined())
            let encoded = name.hasSuffix(".zst") ? Compression.zstd(shard) : name.hasSuffix(".gz") ? Compression.gzip(shard) : shard
            try encoded.write(to: dir.file(name))
        }
        let sharded = try Catalog.create(at: dir.file("shards.quadcat"))
        _ = try sharded.ingest(corpus: "pool", files: shards.map { dir.file($0.1) })
        let rows = try Self.documents(sharded)
        #expect(rows.count == 60_000)
        #expect(rows.map { $0.split(separator: " ").prefix(4) } == documents.map { $0.split(separator: " ").prefix(4) })
        #expect(try sharded.records(corpus: "pool", rows: [0, 24_999, 25_000, 59_999]) == [0, 24_999, 25_000, 59_999].map { Array(lines[$0]) })
        let queue = try DatabaseQueue(path: sharded.root.appendingPathComponent("catalog.sqlite").path)
        let sources = try queue.read { try Row.fetchAll($0, sql: "SELECT path, first_row, row_count, file_hash FROM ingest_source ORDER BY seq") }
        #expect(sources.map { $0["path"] as String } == shards.map { dir.file($0.1).path })
        #expect(sources.map { $0["first_row"] as Int } == [0, 25_000, 40_000] && sources.map { $0["row_count"] as Int } == [25_000, 15_000, 20_000])
        // The recorded hash is of the file as stored (compressed bytes for a compressed shard).
        let stored = try Data(contentsOf: dir.file("a.jsonl.zst"))
        let expectedHash = stored.withUnsafeBytes { "xxh64:" + String(format: "%016llx", qc_xxh64($0.baseAddress, $0.count, 0)) }
        #expect(sources[0]["file_hash"] as String == expectedHash)
    }

    @Test(arguments: ["gzip", "zstd"])
    func aTruncatedShardStoresNothing(format: String) throws {
        let dir = TemporaryDirectory("pipeline")
        let data = try Self.writeLargeCorpus(dir.file("whole.jsonl"), rows: 30_000)
        let other = try Self.writeLargeCorpus(dir.file("other.jsonl"), rows: 30_000, idPrefix: "other-")
        let encode = { (data: Data) in format == "gzip" ? Compression.gzip(data) : Compression.zstd(data) }
        let whole = encode(other)
        let cut = whole.count * 3 / 4
        let good = dir.file("good.\(format)"), truncated = dir.file("truncated.\(format)")
        try encode(data).write(to: good)
        try whole.prefix(cut).write(to: truncated)
        let catalog = try Catalog.create(at: dir.file("c.quadcat"))
        _ = try catalog.ingest(corpus: "first", files: [dir.file("whole.jsonl")])
        let before = try Self.snapshot(catalog)
        let error = #expect(throws: IngestError.self) { try catalog.ingest(corpus: "pool", files: [good, truncated]) }
        #expect(error?.file == truncated.path && error?.location == "byte \(cut)")
        #expect(error?.description.contains("truncated") == true)
        #expect(try Self.snapshot(catalog) == before)
        #expect(try catalog.verify().isHealthy)
    }

    @Test func theFirstErrorInInputOrderIsTheOneReported() throws {
        let dir = TemporaryDirectory("pipeline")
        let url = dir.file("pool.jsonl")
        let data = try Self.writeLargeCorpus(url, rows: 60_000)
        var lines = data.split(separator: 0x0a).map { String(decoding: $0, as: UTF8.self) }
        let catalog = try Catalog.create(at: dir.file("c.quadcat"))
        let before = try Self.snapshot(catalog)
        // A malformed line far on (a later block) and a duplicate id early: the duplicate comes first.
        lines[50_000] = "{\"id\": \"x\", \"text\": oops}"
        lines[1_000] = "{\"id\": \"doc-3\", \"text\": \"again\"}"
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: url)
        let duplicate = #expect(throws: CatalogError.self) { try catalog.ingest(corpus: "pool", files: [url]) }
        #expect(duplicate?.message.contains("line 1001: duplicate id 'doc-3', already used at pool.jsonl:4") == true)
        // Now the malformed line comes first.
        lines[1_000] = "{\"id\": \"doc-1000\", \"text\": \"fine\"}"
        lines[55_000] = "{\"id\": \"doc-3\", \"text\": \"again\"}"
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: url)
        let malformed = #expect(throws: IngestError.self) { try catalog.ingest(corpus: "pool", files: [url]) }
        #expect(malformed?.location == "line 50001, column 21")
        // Within one block: a duplicate on the line before a malformed one.
        lines[55_000] = "{\"id\": \"doc-5\", \"text\": \"again\"}"
        lines[50_000] = "{\"id\": \"doc-4\", \"text\": \"again\"}"
        lines[50_001] = "{\"id\": \"x\", \"text\": oops}"
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: url)
        let first = #expect(throws: CatalogError.self) { try catalog.ingest(corpus: "pool", files: [url]) }
        #expect(first?.message.contains("line 50001: duplicate id 'doc-4'") == true)
        #expect(try Self.snapshot(catalog) == before)
    }

    @Test func inputsAreCheckedBeforeAnythingIsRead() throws {
        let dir = TemporaryDirectory("pipeline")
        try Fixtures.writeCorpus(dir.file("a.jsonl"), rows: 10)
        let catalog = try Catalog.create(at: dir.file("c.quadcat"))
        let missing = #expect(throws: CatalogError.self) { try catalog.ingest(corpus: "pool", files: [dir.file("a.jsonl"), dir.file("nope.jsonl.zst")]) }
        #expect(missing?.message.contains("nope.jsonl.zst: no such file") == true)
        let directory = #expect(throws: CatalogError.self) { try catalog.ingest(corpus: "pool", files: [dir.url]) }
        #expect(directory?.message.contains("is a directory") == true)
        #expect(throws: CatalogError.self) { try catalog.ingest(corpus: "pool", inputs: [.standardInput, .standardInput]) }
        #expect(try catalog.info().corpora.isEmpty)
    }

    @Test func duplicateTextsAreFoundAlikeInMemoryAndByTheIndex() throws {
        let dir = TemporaryDirectory("pipeline")
        // Groups of several sizes, spread over blocks, the first groups late in the file.
        var duplicates = Set<Int>()
        for start in [30_000, 100, 5_000, 40_000, 7, 12_345, 29_999, 50_000] {
            for k in 1...(1 + start % 4) { duplicates.insert(start + k) }
        }
        try Fixtures.writeCorpus(dir.file("all.jsonl"), rows: 60_000, duplicateTexts: duplicates)
        let lines = try String(contentsOf: dir.file("all.jsonl"), encoding: .utf8).split(separator: "\n")
        try (lines[0..<10].joined(separator: "\n") + "\n").write(to: dir.file("head.jsonl"), atomically: true, encoding: .utf8)
        try (lines[10...].joined(separator: "\n") + "\n").write(to: dir.file("tail.jsonl"), atomically: true, encoding: .utf8)
        let catalog = try Catalog.create(at: dir.file("c.quadcat"))
        // A new corpus: the hashes are sorted in memory.
        let inMemory = try catalog.ingest(corpus: "new", files: [dir.file("all.jsonl")])
        // An append: the GROUP BY over the index.
        _ = try catalog.ingest(corpus: "appended", files: [dir.file("head.jsonl")])
        var options = IngestOptions()
        options.append = true
        let byIndex = try catalog.ingest(corpus: "appended", files: [dir.file("tail.jsonl")], options: options)
        #expect(inMemory.duplicateTextGroups == 7 && inMemory.duplicateTextRows == duplicates.count)
        #expect(inMemory.duplicateTextGroups == byIndex.duplicateTextGroups && inMemory.duplicateTextRows == byIndex.duplicateTextRows)
        #expect(inMemory.duplicateExamples == byIndex.duplicateExamples)
        #expect(inMemory.duplicateExamples.first == ["doc-7", "doc-8", "doc-9", "doc-10", "doc-11"])
    }
}
