import Catalog
import Foundation
import Testing
import TestSupport

/// `init`, `export` and `tag` have `--json` forms, as every reporting command does: the Python package
/// (python/quadcat) reads them.
@Suite("quadcat --json for init, export and tag")
struct JSONOutputTests {
    @Test func initExportAndTagPrintTheirReportsAsJSON() throws {
        let dir = TemporaryDirectory()
        let cat = dir.file("cat.quadcat").path
        let created = try QuadcatBinary.run(["init", cat, "--json"])
        #expect(created.status == 0, "\(created.stderr)")
        let info = try JSONDecoder().decode(CatalogInfo.self, from: Data(created.stdout.utf8))
        #expect(info.path.hasSuffix("cat.quadcat") && info.corpora.isEmpty && info.subsets == 0)

        try Fixtures.writeCorpus(dir.file("pool.jsonl"), rows: 50)
        #expect(try QuadcatBinary.run(["ingest", cat, dir.file("pool.jsonl").path, "--corpus", "pool"]).status == 0)
        let select = try QuadcatBinary.run(["select", cat, "--corpus", "pool", "--selector", "random", "--budget", "7", "--as", "r", "--json"])
        #expect(select.status == 0, "\(select.stderr)")

        let exported = try QuadcatBinary.run(["export", cat, "r@1", "--format", "npy", "--out", dir.file("r.npy").path, "--score-field", "score", "--json"])
        #expect(exported.status == 0, "\(exported.stderr)")
        let report = try JSONDecoder().decode(ExportReport.self, from: Data(exported.stdout.utf8))
        #expect(report.subset == "r@1" && report.rows == 7 && report.format == .npy && report.output == dir.file("r.npy").path)
        // 128-byte header + 7 int64 rows, plus the float32 score file.
        #expect(report.bytes == (128 + 7 * 8) + (128 + 7 * 4))
        #expect(FileManager.default.fileExists(atPath: dir.file("r.score.npy").path))

        let clash = try QuadcatBinary.run(["export", cat, "r", "--format", "ids", "--out", "-", "--json"])
        #expect(clash.status == 1 && clash.stderr.contains("--json and --out -") && clash.stdout.isEmpty)

        let tagged = try QuadcatBinary.run(["tag", cat, "r@1", "first", "--json"])
        #expect(tagged.status == 0, "\(tagged.stderr)")
        let subset = try JSONDecoder().decode(SubsetInfo.self, from: Data(tagged.stdout.utf8))
        #expect(subset.reference == "r@1" && subset.tags == ["first"] && subset.rowCount == 7)
    }
}
