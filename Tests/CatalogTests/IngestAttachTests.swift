import Catalog
import Foundation
import Selectors
import Testing
import TestSupport

/// Ingest and attach on good and bad input; a refused request leaves the catalog exactly as it was.
@Suite("Ingest and attach")
struct IngestAttachTests {
    /// What the catalog looks like from outside: everything `info` reports plus the files on disk.
    private static func snapshot(_ catalog: Catalog) throws -> String {
        var info = try catalog.info()
        info.bytesOnDisk = 0  // the SQLite WAL may grow by a read; files are listed separately
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(info), as: UTF8.self) + chunkAndStagingFiles(catalog.root).joined(separator: ",")
    }

    private static func setUp(rows: Int = 50) throws -> (TemporaryDirectory, Catalog) {
        let dir = TemporaryDirectory()
        let catalog = try Catalog.create(at: dir.file("c.quadcat"))
        try Fixtures.writeCorpus(dir.file("c.jsonl"), rows: rows)
        _ = try catalog.ingest(corpus: "pool", files: [dir.file("c.jsonl")])
        return (dir, catalog)
    }

    private static func gradient(_ dir: TemporaryDirectory, _ name: String, rows: Int, dim: Int, seed: UInt64 = 1, edit: (inout [Float]) -> Void = { _ in }) throws -> URL {
        var values = Fixtures.gaussian(rows: rows, dim: dim, seed: seed)
        edit(&values)
        let url = dir.file(name)
        try Fixtures.writeFloat32(values, rows: rows, dim: dim, to: url)
        return url
    }

    private static func request(_ file: URL, checkpoint: Int = 1, projection: String? = nil) throws -> AttachRequest {
        var request = AttachRequest(corpus: "pool", column: "grad", file: file)
        request.checkpoint = checkpoint
        request.learningRate = 1e-5
        request.projection = try projection.map(ProjectionIdentity.init(parsing:))
        return request
    }

    @Test func recordsRoundTripByteForByteAndDuplicatesAreReported() throws {
        let dir = TemporaryDirectory()
        let catalog = try Catalog.create(at: dir.file("c.quadcat"))
        let lines = try Fixtures.writeCorpus(dir.file("a.jsonl"), rows: 300, duplicateTexts: [10, 11, 200])
        // A second file with CRLF endings, a blank line and an integer id.
        let extra = "{\"id\": 7, \"text\": \"crlf line\"}\r\n\n{\"text\": \"after blank\", \"id\": \"z\"}\r\n"
        try Data(extra.utf8).write(to: dir.file("b.jsonl"))
        let report = try catalog.ingest(corpus: "pool", files: [dir.file("a.jsonl"), dir.file("b.jsonl")])
        #expect(report.rowsAdded == 302 && report.totalRows == 302)
        // Rows 10 and 11 repeat row 9's text (one group of three); row 200 repeats row 199.
        #expect(report.duplicateTextGroups == 2 && report.duplicateTextRows == 3)
        #expect(report.duplicateExamples.first == ["doc-9", "doc-10", "doc-11"])
        let back = try catalog.records(corpus: "pool", rows: Array(0..<302))
        #expect(back[0..<300].map { String(decoding: $0, as: UTF8.self) } == lines)
        #expect(String(decoding: back[300], as: UTF8.self) == "{\"id\": 7, \"text\": \"crlf line\"}\r")
        #expect(try catalog.externalIDs(corpus: "pool", rows: [300, 301, 0]) == ["7", "z", "doc-0"])
        var streamed = 0
        try catalog.forEachRecord(corpus: "pool") { row, bytes in
            #expect(Array(bytes) == back[row])
            streamed += 1
        }
        #expect(streamed == 302)
    }

    @Test func malformedLineIsNamedAndNothingChanges() throws {
        let (dir, catalog) = try Self.setUp()
        let before = try Self.snapshot(catalog)
        var lines = try Fixtures.writeCorpus(dir.file("bad.jsonl"), rows: 40)
        lines[26] = "{\"id\": \"x\", \"text\": \"unterminated}"
        try Data(lines.map { $0 + "\n" }.joined().utf8).write(to: dir.file("bad.jsonl"))
        let error = #expect(throws: (any Error).self) { try catalog.ingest(corpus: "other", files: [dir.file("bad.jsonl")]) }
        #expect("\(error!)".contains("bad.jsonl") && "\(error!)".contains("line 27"))
        #expect(try Self.snapshot(catalog) == before)
    }

    @Test func duplicateIdNamesBothLinesAndNothingChanges() throws {
        let (dir, catalog) = try Self.setUp()
        let before = try Self.snapshot(catalog)
        var lines = try Fixtures.writeCorpus(dir.file("dup.jsonl"), rows: 30)
        lines[20] = "{\"id\": \"doc-4\", \"text\": \"again\"}"
        try Data(lines.map { $0 + "\n" }.joined().utf8).write(to: dir.file("dup.jsonl"))
        let error = #expect(throws: CatalogError.self) { try catalog.ingest(corpus: "other", files: [dir.file("dup.jsonl")]) }
        #expect(error?.message.contains("line 21") == true && error?.message.contains("dup.jsonl:5") == true)
        #expect(try Self.snapshot(catalog) == before)
    }

    @Test func appendingNeedsTheFlagAndNoColumns() throws {
        let (dir, catalog) = try Self.setUp(rows: 20)
        try Data("{\"id\": \"new-1\", \"text\": \"t\"}\n".utf8).write(to: dir.file("more.jsonl"))
        #expect(throws: CatalogError.self) { try catalog.ingest(corpus: "pool", files: [dir.file("more.jsonl")]) }
        var options = IngestOptions()
        options.append = true
        #expect(try catalog.ingest(corpus: "pool", files: [dir.file("more.jsonl")], options: options).totalRows == 21)
        #expect(try catalog.records(corpus: "pool", rows: [20]) == [Array("{\"id\": \"new-1\", \"text\": \"t\"}".utf8)])
        _ = try catalog.attach(Self.request(Self.gradient(dir, "g.npy", rows: 21, dim: 4)))
        try Data("{\"id\": \"new-2\", \"text\": \"t\"}\n".utf8).write(to: dir.file("more2.jsonl"))
        #expect(throws: CatalogError.self) { try catalog.ingest(corpus: "pool", files: [dir.file("more2.jsonl")], options: options) }
        #expect(try catalog.verify().isHealthy)
    }

    @Test func attachRefusesMismatchesAndLeavesTheCatalogAsItWas() throws {
        let (dir, catalog) = try Self.setUp(rows: 50)
        _ = try catalog.attach(Self.request(Self.gradient(dir, "g1.npy", rows: 50, dim: 16), projection: "rademacher:1:16"))
        let before = try Self.snapshot(catalog)

        let wrongRows = #expect(throws: CatalogError.self) { try catalog.attach(Self.request(Self.gradient(dir, "r.npy", rows: 49, dim: 16), checkpoint: 2)) }
        #expect(wrongRows?.message.contains("49 rows") == true && wrongRows?.message.contains("50") == true)
        let wrongDim = #expect(throws: CatalogError.self) { try catalog.attach(Self.request(Self.gradient(dir, "d.npy", rows: 50, dim: 8), checkpoint: 2)) }
        #expect(wrongDim?.message.contains("dimension 8") == true)
        let wrongProjection = #expect(throws: CatalogError.self) {
            try catalog.attach(Self.request(Self.gradient(dir, "p.npy", rows: 50, dim: 16), checkpoint: 2, projection: "rademacher:2:16"))
        }
        #expect(wrongProjection?.message.contains("projection") == true)
        #expect(throws: CatalogError.self) { try catalog.attach(Self.request(Self.gradient(dir, "again.npy", rows: 50, dim: 16), checkpoint: 1)) }
        var noRate = try Self.request(Self.gradient(dir, "n.npy", rows: 50, dim: 16), checkpoint: 2)
        noRate.learningRate = nil
        #expect(throws: CatalogError.self) { try catalog.attach(noRate) }
        let nan = try Self.gradient(dir, "nan.npy", rows: 50, dim: 16) { $0[33 * 16 + 5] = .nan }
        let nanError = #expect(throws: CatalogError.self) { try catalog.attach(Self.request(nan, checkpoint: 2)) }
        #expect(nanError?.message.contains("row 33") == true && nanError?.remedy.contains("mark-unusable") == true)
        #expect(try Self.snapshot(catalog) == before)

        // The same checkpoint with a matching projection (given or inherited) is accepted.
        _ = try catalog.attach(Self.request(Self.gradient(dir, "g2.npy", rows: 50, dim: 16, seed: 2), checkpoint: 2))
        #expect(try catalog.columns(corpus: "pool").map(\.projection) == [ProjectionIdentity(kind: "rademacher", seed: 1, dim: 16), ProjectionIdentity(kind: "rademacher", seed: 1, dim: 16)])
    }

    @Test func nonFiniteRowsCanBeMarkedUnusable() throws {
        let (dir, catalog) = try Self.setUp(rows: 50)
        let file = try Self.gradient(dir, "nan.npy", rows: 50, dim: 16) {
            $0[3 * 16] = .infinity
            $0[40 * 16 + 15] = .nan
        }
        var request = try Self.request(file)
        request.nonFinite = .markUnusable
        let report = try catalog.attach(request)
        #expect(report.usableRows == 48 && report.unusableExamples == [3, 40])
        let column = try catalog.vectors(corpus: "pool", column: "grad", checkpoint: 1)
        #expect(column.usableRows?.setCount == 48 && column.usableRows?.contains(3) == false)
        #expect(try column.gather(rows: [40]).values.allSatisfy { $0 == 0 })
        #expect(try catalog.verify().isHealthy)
    }

    @Test func partialColumnsPlaceRowsByIdAndMarkTheRestAbsent() throws {
        let (dir, catalog) = try Self.setUp(rows: 50)
        let values = Fixtures.gaussian(rows: 3, dim: 4, seed: 9)
        try Fixtures.writeFloat32(values, rows: 3, dim: 4, to: dir.file("part.npy"))
        try Data("doc-42\ndoc-7\ndoc-0\n".utf8).write(to: dir.file("ids.txt"))
        var request = AttachRequest(corpus: "pool", column: "score-grad", file: dir.file("part.npy"))
        request.checkpoint = 1
        request.learningRate = 1
        request.idsFile = dir.file("ids.txt")
        #expect(try catalog.attach(request).usableRows == 3)
        let column = try catalog.vectors(corpus: "pool", column: "score-grad", checkpoint: 1)
        #expect(column.usableRows?.setRows == [0, 7, 42])
        let back = try column.gather(rows: [42, 7, 0, 1])
        #expect(back.row(0) == Array(values[0..<4]) && back.row(1) == Array(values[4..<8]) && back.row(2) == Array(values[8..<12]))
        #expect(back.row(3) == [0, 0, 0, 0])
        try Data("doc-42\nnope\ndoc-0\n".utf8).write(to: dir.file("bad-ids.txt"))
        request.column = "other"
        request.idsFile = dir.file("bad-ids.txt")
        let error = #expect(throws: CatalogError.self) { try catalog.attach(request) }
        #expect(error?.message.contains("line 2") == true && error?.message.contains("nope") == true)
    }

    @Test func targetsCollectCheckpointsAndSubtasks() throws {
        let (dir, catalog) = try Self.setUp(rows: 20)
        try Data((0..<12).map { $0 < 6 ? "a\n" : "b\n" }.joined().utf8).write(to: dir.file("sub.txt"))
        var first = TargetColumnRequest(target: "val", file: try Self.gradient(dir, "v1.npy", rows: 12, dim: 8))
        first.checkpoint = 1
        first.subtasksFile = dir.file("sub.txt")
        #expect(try catalog.addTargetColumn(first).createdTarget)
        var second = TargetColumnRequest(target: "val", file: try Self.gradient(dir, "v2.npy", rows: 12, dim: 8, seed: 2))
        second.checkpoint = 2
        #expect(try catalog.addTargetColumn(second).subtasks == 2)
        var wrong = TargetColumnRequest(target: "val", file: try Self.gradient(dir, "v3.npy", rows: 11, dim: 8))
        wrong.checkpoint = 3
        #expect(throws: CatalogError.self) { try catalog.addTargetColumn(wrong) }
        let listed = try catalog.listTargets()
        #expect(listed.count == 1 && listed[0].rows == 12 && listed[0].columns.map(\.checkpoint) == [1, 2])
    }
}
