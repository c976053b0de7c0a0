import Catalog
import Foundation
import Testing
import TestSupport

/// `Catalog.forEachRecord(corpus:rows:)`: a range of a corpus's verbatim records, in row order, from a
/// catalog or a shard set's head, with out-of-range rows refused by number.
@Suite("Record ranges")
struct RecordRangeTests {
    /// The rows and records `forEachRecord(corpus:rows:)` calls back with.
    static func collect(_ catalog: Catalog, _ rows: Range<Int>) throws -> [(Int, String)] {
        var out: [(Int, String)] = []
        try catalog.forEachRecord(corpus: "pool", rows: rows) { row, bytes in out.append((row, String(decoding: bytes, as: UTF8.self))) }
        return out
    }

    @Test func rangesOfACatalogAreTheIngestedLinesInOrder() throws {
        let dir = TemporaryDirectory()
        let catalog = try Catalog.create(at: dir.file("c.quadcat"))
        let lines = try Fixtures.writeCorpus(dir.file("c.jsonl"), rows: 250)
        _ = try catalog.ingest(corpus: "pool", files: [dir.file("c.jsonl")])
        #expect(try catalog.rowCount(corpus: "pool") == 250)
        for range in [0..<250, 0..<1, 17..<140, 249..<250, 250..<250, 0..<0] {
            let got = try Self.collect(catalog, range)
            #expect(got.map(\.0) == Array(range))
            #expect(got.map(\.1) == Array(lines[range]))
        }
        for (range, bad) in [(251..<251, 251), (240..<251, 250), (-1..<3, -1)] {
            #expect {
                try catalog.forEachRecord(corpus: "pool", rows: range) { _, _ in }
            } throws: { error in
                (error as? CatalogError)?.description.contains("row \(bad) is outside corpus 'pool' (0..<250)") == true
            }
        }
        #expect(throws: CatalogError.self) { try catalog.forEachRecord(corpus: "nope", rows: 0..<1) { _, _ in } }
    }

    @Test func rangesOfAShardSetCrossShardsWithGlobalRows() throws {
        let dir = TemporaryDirectory()
        let lines = try Fixtures.writeCorpus(dir.file("all.jsonl"), rows: 100)
        var shards: [URL] = []
        for (index, slice) in [0..<30, 30..<31, 31..<100].enumerated() {
            try Data(lines[slice].map { $0 + "\n" }.joined().utf8).write(to: dir.file("s\(index).jsonl"))
            let catalog = try Catalog.create(at: dir.file("s\(index).quadcat"))
            _ = try catalog.ingest(corpus: "pool", files: [dir.file("s\(index).jsonl")])
            shards.append(catalog.root)
        }
        let set = try ShardSet.create(at: dir.file("set"), corpus: "pool")
        try set.add(shards)
        #expect(try set.head.rowCount(corpus: "pool") == 100)
        for range in [0..<100, 25..<35, 30..<31, 31..<31, 99..<100, 100..<100] {
            let got = try Self.collect(set.head, range)
            #expect(got.map(\.0) == Array(range))
            #expect(got.map(\.1) == Array(lines[range]))
        }
        #expect {
            try set.head.forEachRecord(corpus: "pool", rows: 90..<101) { _, _ in }
        } throws: { error in
            (error as? CatalogError)?.description.contains("row 100 is outside corpus 'pool' (0..<100)") == true
        }
    }
}
