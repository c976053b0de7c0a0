import Catalog
import Foundation
import Testing
import TestSupport

/// `quadcat ingest` on standard input and compressed shards, run as users run it.
@Suite("quadcat ingest inputs")
struct IngestInputsCLITests {
    @Test func standardInputIngestsLikeTheFile() throws {
        let dir = TemporaryDirectory()
        let cat = dir.file("cat.quadcat").path
        try Fixtures.writeCorpus(dir.file("pool.jsonl"), rows: 5000)
        let data = try Data(contentsOf: dir.file("pool.jsonl"))
        #expect(try QuadcatBinary.run(["init", cat]).status == 0)
        #expect(try QuadcatBinary.run(["ingest", cat, dir.file("pool.jsonl").path, "--corpus", "file"]).status == 0)
        let piped = try QuadcatBinary.run(["ingest", cat, "-", "--corpus", "stdin", "--json"], input: data)
        #expect(piped.status == 0, "\(piped.stderr)")
        let report = try JSONDecoder().decode(IngestReport.self, from: Data(piped.stdout.utf8))
        #expect(report.files == ["-"] && report.rowsAdded == 5000 && report.decodedBytes == data.count)
        // zstd-compressed data on standard input is recognised too.
        #expect(try QuadcatBinary.run(["ingest", cat, "-", "--corpus", "stdin-zst"], input: Compression.zstd(data)).status == 0)
        let catalog = try Catalog.open(at: URL(fileURLWithPath: cat))
        let hashes = try catalog.info().corpora.map(\.contentHash)
        #expect(hashes.count == 3 && Set(hashes).count == 1)
        let show = try QuadcatBinary.run(["info", cat])
        #expect(show.status == 0)
    }

    @Test func errorsOnStandardInputNameItAndTheLine() throws {
        let dir = TemporaryDirectory()
        let cat = dir.file("cat.quadcat").path
        #expect(try QuadcatBinary.run(["init", cat]).status == 0)
        var lines = try Fixtures.writeCorpus(dir.file("pool.jsonl"), rows: 20_000)
        lines[17_000] = "{\"id\": \"doc-x\", \"text\": \"unterminated}"
        let bad = try QuadcatBinary.run(["ingest", cat, "-", "--corpus", "pool"], input: Data(lines.map { $0 + "\n" }.joined().utf8))
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("standard input: line 17001, column 25: unterminated string"), "\(bad.stderr)")
        #expect(bad.stderr.contains("line 17001 of the data sent to standard input"))
        #expect(try Catalog.open(at: URL(fileURLWithPath: cat)).info().corpora.isEmpty)
        #expect(chunkAndStagingFiles(URL(fileURLWithPath: cat)).isEmpty)
    }

    @Test func truncatedShardIsRefusedAndNothingIsStored() throws {
        let dir = TemporaryDirectory()
        let cat = dir.file("cat.quadcat").path
        #expect(try QuadcatBinary.run(["init", cat]).status == 0)
        try Fixtures.writeCorpus(dir.file("a.jsonl"), rows: 3000)
        let data = try Data(contentsOf: dir.file("a.jsonl"))
        try Compression.zstd(data).write(to: dir.file("shard-1.jsonl.zst"))
        let gz = Compression.gzip(data)
        try gz.prefix(gz.count - 10).write(to: dir.file("shard-2.jsonl.gz"))
        let result = try QuadcatBinary.run(["ingest", cat, dir.file("shard-1.jsonl.zst").path, dir.file("shard-2.jsonl.gz").path, "--corpus", "pool"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("shard-2.jsonl.gz: byte \(gz.count - 10): the gzip data ends in the middle of a member"), "\(result.stderr)")
        #expect(try Catalog.open(at: URL(fileURLWithPath: cat)).info().corpora.isEmpty)
        #expect(chunkAndStagingFiles(URL(fileURLWithPath: cat)).isEmpty)
    }
}
