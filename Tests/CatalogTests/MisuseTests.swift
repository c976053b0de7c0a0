import Catalog
import Foundation
import Ingest
import Selectors
import Testing
import TestSupport

/// Requests a user can get wrong: each gets a clear error and changes nothing.
@Suite("Misuse")
struct MisuseTests {
    private static func select(_ catalog: Catalog, _ selector: SelectorKind, _ name: String) throws -> SubsetInfo {
        let request = SelectRequest(corpus: DemoCatalog.corpus, target: DemoCatalog.target, selector: selector, budget: try Budget(parsing: "5%"), name: name)
        return try catalog.select(request)
    }

    @Test func aCatalogWithoutItsIndexIsRefusedNotEmptied() throws {
        let dir = TemporaryDirectory()
        let root = dir.file("c.quadcat")
        let catalog = try Catalog.create(at: root)
        try Fixtures.writeCorpus(dir.file("c.jsonl"), rows: 10)
        _ = try catalog.ingest(corpus: "pool", files: [dir.file("c.jsonl")])
        let chunks = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("chunks").path)
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(at: root.appendingPathComponent("catalog.sqlite" + suffix)) }
        let error = #expect(throws: CatalogError.self) { try Catalog.open(at: root) }
        #expect(error?.message.contains("no index") == true)
        #expect(!FileManager.default.fileExists(atPath: root.appendingPathComponent("catalog.sqlite").path))
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("chunks").path) == chunks)
    }

    @Test func targetsNeedRowsAndGradientCheckpointsStartAtOne() throws {
        let demo = try DemoFixture.build(rows: 300)
        let empty = demo.directory.file("empty.npy")
        try Fixtures.writeFloat32([], rows: 0, dim: 64, to: empty)
        var request = TargetColumnRequest(target: "t2", file: empty)
        request.checkpoint = 1
        #expect(throws: CatalogError.self) { try demo.catalog.addTargetColumn(request) }
        let one = demo.directory.file("one.npy")
        try Fixtures.writeFloat32(Fixtures.gaussian(rows: 3, dim: 64, seed: 1), rows: 3, dim: 64, to: one)
        request = TargetColumnRequest(target: "t2", file: one)
        request.checkpoint = 0
        request.kind = ColumnKind.gradient
        #expect(throws: CatalogError.self) { try demo.catalog.addTargetColumn(request) }
        #expect(try demo.catalog.listTargets().map(\.name) == [DemoCatalog.target])
    }

    @Test func aRepeatedCheckpointIsRefusedBeforeSelecting() throws {
        let demo = try DemoFixture.build(rows: 300)
        var request = SelectRequest(corpus: DemoCatalog.corpus, target: DemoCatalog.target, selector: .less, budget: try Budget(parsing: "5%"), name: "x")
        request.checkpoints = [1, 1]
        let error = #expect(throws: CatalogError.self) { try demo.catalog.select(request) }
        #expect(error?.message.contains("checkpoint 1 is listed twice") == true)
        #expect(try demo.catalog.subsets().isEmpty)
    }

    @Test func logAcceptsATagOrAVersion() throws {
        let demo = try DemoFixture.build(rows: 300)
        _ = try Self.select(demo.catalog, .random, "r")
        _ = try Self.select(demo.catalog, .random, "r")
        _ = try demo.catalog.tag("r@1", as: "first")
        #expect(try demo.catalog.log("first").map(\.version) == [1, 2])
        #expect(try demo.catalog.log("r@2").map(\.version) == [1, 2])
        #expect(throws: CatalogError.self) { try demo.catalog.log("nothing") }
    }

    @Test func addedExportFieldsMustBePlainNewNames() throws {
        let demo = try DemoFixture.build(rows: 300)
        _ = try Self.select(demo.catalog, .less, "l")
        let out = demo.directory.file("l.jsonl")
        for (name, problem) in [("a\"b", "not a plain name"), ("id", "already taken"), ("text", "already taken")] {
            var request = ExportRequest(subset: "l", format: .jsonl, output: out)
            request.scoreField = name
            let error = #expect(throws: CatalogError.self) { try demo.catalog.export(request) }
            #expect(error?.message.contains(problem) == true, "\(name)")
        }
        // The demo records carry a "domain" field: adding one more would give the record two.
        var clash = ExportRequest(subset: "l", format: .jsonl, output: out)
        clash.scoreField = "domain"
        let error = #expect(throws: CatalogError.self) { try demo.catalog.export(clash) }
        #expect(error?.message.contains("already has a field named 'domain'") == true)
        // Nothing is left behind: no output, no temporary file.
        #expect(try FileManager.default.contentsOfDirectory(atPath: demo.directory.url.path).filter { $0.hasPrefix("l.") || $0.hasPrefix(".l.") }.isEmpty)
        var fine = ExportRequest(subset: "l", format: .jsonl, output: out)
        fine.scoreField = "less_score"
        #expect(try demo.catalog.export(fine).rows == 15)
    }

    @Test func exportsToAMissingDirectoryOrOntoADirectoryAreRefused() throws {
        let demo = try DemoFixture.build(rows: 300)
        _ = try Self.select(demo.catalog, .random, "r")
        for format in [ExportFormat.jsonl, .npy] {
            let missing = ExportRequest(subset: "r", format: format, output: demo.directory.file("nodir/r.out"))
            let error = #expect(throws: CatalogError.self) { try demo.catalog.export(missing) }
            #expect(error?.message.contains("does not exist") == true)
            let onto = ExportRequest(subset: "r", format: format, output: demo.directory.url)
            #expect(throws: CatalogError.self) { try demo.catalog.export(onto) }
        }
        let file = demo.directory.file("plain")
        try Data("x".utf8).write(to: file)
        #expect(throws: CatalogError.self) { try demo.catalog.export(ExportRequest(subset: "r", format: .mds, output: file)) }
    }

    @Test func recordsIngestAcceptsAlsoShowAndExportAsMDS() throws {
        let dir = TemporaryDirectory()
        let catalog = try Catalog.create(at: dir.file("c.quadcat"))
        // JSON numbers beyond Double's range are valid JSON; Foundation's parser refuses them.
        let lines = (0..<20).map { "{\"id\": \"d\($0)\", \"v\": 1e400, \"text\": \"doc \\u00e9 \($0)\"}" }
        try Data(lines.map { $0 + "\n" }.joined().utf8).write(to: dir.file("c.jsonl"))
        _ = try catalog.ingest(corpus: "pool", files: [dir.file("c.jsonl")])
        _ = try catalog.select(SelectRequest(corpus: "pool", target: nil, selector: .random, budget: Budget(rows: 5), name: "r"))
        let top = try catalog.topMembers("r", limit: 5)
        #expect(top.count == 5 && top.allSatisfy { $0.text == "doc é \($0.id.dropFirst())" })
        _ = try catalog.export(ExportRequest(subset: "r", format: .mds, output: dir.file("mds")))
        #expect(FileManager.default.fileExists(atPath: dir.file("mds/index.json").path))
    }
}
