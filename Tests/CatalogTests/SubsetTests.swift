import Catalog
import Foundation
import Ingest
import Selectors
import Testing
import TestSupport

/// Selection as a query: versions, hashes, lineage, tags, and exports.
@Suite("Subsets")
struct SubsetTests {
    private static func request(_ selector: SelectorKind, _ name: String, budget: String = "5%") throws -> SelectRequest {
        SelectRequest(corpus: DemoCatalog.corpus, target: DemoCatalog.target, selector: selector, budget: try Budget(parsing: budget), name: name)
    }

    @Test func budgetsParseAndRoundDown() throws {
        #expect(try Budget(parsing: "5%").rows(of: 12_000) == 600)
        #expect(try Budget(parsing: "2.5%").rows(of: 1001) == 25)
        #expect(try Budget(parsing: "0.0001%").rows(of: 10) == 1)
        #expect(try Budget(parsing: "700").rows(of: 500) == 500)
        // Whole percentages are exact: p% of n is floor(p * n / 100), with no row lost to rounding.
        for n in [1, 7, 100, 12_000, 99_999, 1_000_003] {
            for p in 1...100 { #expect(try Budget(parsing: "\(p)%").rows(of: n) == max(1, p * n / 100), "\(p)% of \(n)") }
        }
        #expect(try Budget(parsing: "29%").rows(of: 12_000) == 3480)
        for bad in ["0", "-3", "101%", "five", "5 %%", ""] { #expect(throws: CatalogError.self) { try Budget(parsing: bad) } }
    }

    @Test func theSameSelectTwiceGivesTwoVersionsWithEqualHashes() throws {
        let demo = try DemoFixture.build()
        for selector in [SelectorKind.less, .random, .spice, .quad, .gtp] {
            let first = try demo.catalog.select(Self.request(selector, "s-\(selector.rawValue)"))
            let second = try demo.catalog.select(Self.request(selector, "s-\(selector.rawValue)"))
            #expect(first.version == 1 && second.version == 2 && second.parentVersion == 1)
            #expect(first.recipeHash == second.recipeHash, "\(selector)")
            #expect(first.contentHash == second.contentHash, "\(selector)")
            #expect(try demo.catalog.members("s-\(selector.rawValue)@1") == demo.catalog.members("s-\(selector.rawValue)@2"))
            // A different seed or parameter is a different recipe.
            var changed = try Self.request(selector, "s-\(selector.rawValue)")
            changed.seed = 99
            #expect(try demo.catalog.select(changed).recipeHash != first.recipeHash)
        }
        #expect(try demo.catalog.log("s-less").map(\.version) == [1, 2, 3])
        #expect(try demo.catalog.verify().isHealthy)
    }

    @Test func lineageRecordsEveryInputColumn() throws {
        let demo = try DemoFixture.build()
        let less = try demo.catalog.select(Self.request(.less, "lineage"))
        let pool = less.inputs.filter { $0.role == "pool gradient" }.map(\.checkpoint)
        let target = less.inputs.filter { $0.role == "target gradient" }.map(\.checkpoint)
        #expect(pool == [1, 2, 3, 4] && target == [1, 2, 3, 4])
        #expect(less.inputs.contains { $0.role == "target subtasks" })
        let columns = try demo.catalog.columns(corpus: DemoCatalog.corpus)
        for input in less.inputs where input.role == "pool gradient" {
            #expect(columns.first { $0.name == "grad" && $0.checkpoint == input.checkpoint }?.contentHash == input.contentHash)
        }
        let quad = try demo.catalog.select(Self.request(.quad, "lineage-quad"))
        #expect(quad.inputs.map(\.role).sorted() == ["embedding", "pool gradient", "target gradient"])
        #expect(quad.inputs.first { $0.role == "pool gradient" }?.checkpoint == 4)
    }

    @Test func badRequestsAreRefusedWithClearMessages() throws {
        let demo = try DemoFixture.build(rows: 500)
        var noTarget = try Self.request(.less, "x")
        noTarget.target = nil
        #expect((#expect(throws: CatalogError.self) { try demo.catalog.select(noTarget) })?.remedy.contains("--target") == true)
        var badParam = try Self.request(.spice, "x")
        badParam.parameters = ["alpah": "2"]
        #expect((#expect(throws: CatalogError.self) { try demo.catalog.select(badParam) })?.message.contains("alpah") == true)
        var badCheckpoint = try Self.request(.less, "x")
        badCheckpoint.checkpoints = [7]
        #expect(throws: CatalogError.self) { try demo.catalog.select(badCheckpoint) }
        var badColumn = try Self.request(.quad, "x")
        badColumn.embeddingColumn = "nope"
        #expect(throws: CatalogError.self) { try demo.catalog.select(badColumn) }
        #expect(throws: CatalogError.self) { try demo.catalog.select(Self.request(.less, "bad@name")) }
        #expect(throws: CatalogError.self) { try demo.catalog.subset("never") }
        #expect(try demo.catalog.subsets().isEmpty)
    }

    @Test func tagsAndVersionsAddressSubsets() throws {
        let demo = try DemoFixture.build(rows: 500)
        _ = try demo.catalog.select(Self.request(.random, "r"))
        var second = try Self.request(.random, "r")
        second.seed = 5
        _ = try demo.catalog.select(second)
        #expect(try demo.catalog.subset("r").version == 2)
        #expect(try demo.catalog.subset("r@1").seed == 0)
        #expect(try demo.catalog.tag("r@1", as: "baseline").tags == ["baseline"])
        #expect(try demo.catalog.subset("baseline").reference == "r@1")
        #expect(throws: CatalogError.self) { try demo.catalog.tag("r@1", as: "r") }
        #expect(throws: CatalogError.self) { try demo.catalog.select(Self.request(.random, "baseline")) }
    }

    @Test func exportsRoundTripRecordsIdsAndRows() throws {
        let demo = try DemoFixture.build(rows: 800)
        let subset = try demo.catalog.select(Self.request(.less, "ex"))
        let members = try demo.catalog.members("ex")
        let lines = try String(contentsOf: demo.files.corpus, encoding: .utf8).split(separator: "\n").map(String.init)
        let dir = TemporaryDirectory("export")

        _ = try demo.catalog.export(ExportRequest(subset: "ex", format: .jsonl, output: dir.file("a.jsonl")))
        let exported = try String(contentsOf: dir.file("a.jsonl"), encoding: .utf8)
        #expect(exported == members.map { lines[$0.row] + "\n" }.joined())

        _ = try demo.catalog.export(ExportRequest(subset: "ex@1", format: .ids, output: dir.file("a.ids")))
        let ids = try String(contentsOf: dir.file("a.ids"), encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(ids == members.map { String(format: "doc-%06d", $0.row) })

        var npy = ExportRequest(subset: "ex", format: .npy, output: dir.file("rows.npy"))
        npy.scoreField = "score"
        _ = try demo.catalog.export(npy)
        let rows = try MatrixFileInt64.read(dir.file("rows.npy"))
        #expect(rows == members.map { Int64($0.row) })
        #expect(FileManager.default.fileExists(atPath: dir.file("rows.score.npy").path))

        var weighted = ExportRequest(subset: "ex", format: .jsonl, output: dir.file("w.jsonl"))
        weighted.scoreField = "score"
        weighted.weightField = "weight"
        _ = try demo.catalog.export(weighted)
        let first = try JSONSerialization.jsonObject(with: Data(try String(contentsOf: dir.file("w.jsonl"), encoding: .utf8).split(separator: "\n")[0].utf8)) as! [String: Any]
        #expect((first["score"] as! Double) == members[0].score && (first["weight"] as! Double) == 1)
        #expect(first["id"] as? String == String(format: "doc-%06d", members[0].row))
        #expect(subset.rowCount == members.count)
    }
}

/// Reads a 1-D int64 .npy written by quadcat (the Ingest reader handles float matrices only).
enum MatrixFileInt64 {
    static func read(_ url: URL) throws -> [Int64] {
        let data = try Data(contentsOf: url)
        let headerLength = Int(data[8]) | Int(data[9]) << 8
        let header = String(decoding: data[10..<10 + headerLength], as: UTF8.self)
        precondition(header.contains("'descr': '<i8'"), header)
        let body = data[(10 + headerLength)...]
        return stride(from: body.startIndex, to: body.endIndex, by: 8).map { start in
            body[start..<start + 8].withUnsafeBytes { $0.loadUnaligned(as: Int64.self) }
        }
    }
}
