import Catalog
import Foundation
import Testing
import TestSupport

/// The command-line tool, run as a subprocess the way users and scripts run it.
@Suite("quadcat command line")
struct CLIWorkflowTests {
    @Test func theDocumentedWorkflowRunsAndReportsAsJSON() throws {
        let dir = TemporaryDirectory()
        let cat = dir.file("cat.quadcat").path
        try Fixtures.writeCorpus(dir.file("pool.jsonl"), rows: 120)
        for c in 1...2 {
            try Fixtures.writeFloat16(Fixtures.gaussian(rows: 120, dim: 32, seed: UInt64(c)), rows: 120, dim: 32, to: dir.file("g\(c).npy"))
            try Fixtures.writeFloat16(Fixtures.gaussian(rows: 10, dim: 32, seed: UInt64(10 + c)), rows: 10, dim: 32, to: dir.file("v\(c).npy"))
        }
        try Fixtures.writeFloat32(Fixtures.gaussian(rows: 120, dim: 16, seed: 9), rows: 120, dim: 16, to: dir.file("emb.npy"))

        #expect(try QuadcatBinary.run(["init", cat]).status == 0)
        let ingest = try QuadcatBinary.run(["ingest", cat, dir.file("pool.jsonl").path, "--corpus", "pool"])
        #expect(ingest.status == 0 && ingest.stdout.contains("ingested 120 records"))
        for c in 1...2 {
            let attach = try QuadcatBinary.run([
                "attach", cat, "--corpus", "pool", "--column", "grad", "--checkpoint", "\(c)", "--lr", "1e-5",
                "--projection", "rademacher:1:32", dir.file("g\(c).npy").path,
            ])
            #expect(attach.status == 0, "\(attach.stderr)")
            #expect(try QuadcatBinary.run(["target", "add", cat, "val", dir.file("v\(c).npy").path, "--checkpoint", "\(c)"]).status == 0)
        }
        #expect(try QuadcatBinary.run(["attach", cat, "--corpus", "pool", "--column", "emb", "--precision", "int8", dir.file("emb.npy").path]).status == 0)

        let info = try QuadcatBinary.run(["info", cat, "--json"])
        #expect(info.status == 0)
        let parsed = try JSONDecoder().decode(CatalogInfo.self, from: Data(info.stdout.utf8))
        #expect(parsed.corpora.map(\.name) == ["pool"] && parsed.corpora[0].rows == 120)
        #expect(parsed.corpora[0].columns.map { "\($0.name)@\($0.checkpoint):\($0.storedDType)" } == ["emb@0:i8", "grad@1:f16", "grad@2:f16"])
        #expect(parsed.targets.map(\.name) == ["val"] && parsed.targets[0].columns.count == 2)
        let text = try QuadcatBinary.run(["info", cat])
        #expect(text.stdout.contains("corpus 'pool': 120 rows"))
        let list = try QuadcatBinary.run(["target", "list", cat])
        #expect(list.stdout.contains("val: 10 rows"))
        let verify = try QuadcatBinary.run(["verify", cat])
        #expect(verify.status == 0 && verify.stdout.contains("ok"))
    }

    @Test func errorsNameTheFaultAndExitNonZero() throws {
        let dir = TemporaryDirectory()
        let cat = dir.file("cat.quadcat").path
        #expect(try QuadcatBinary.run(["init", cat]).status == 0)
        var lines = try Fixtures.writeCorpus(dir.file("pool.jsonl"), rows: 30)
        lines[11] = "{\"id\": \"doc-x\" \"text\": \"missing comma\"}"
        try Data(lines.map { $0 + "\n" }.joined().utf8).write(to: dir.file("bad.jsonl"))
        let bad = try QuadcatBinary.run(["ingest", cat, dir.file("bad.jsonl").path, "--corpus", "pool"])
        #expect(bad.status == 1 && bad.stderr.contains("bad.jsonl") && bad.stderr.contains("line 12"))

        #expect(try QuadcatBinary.run(["ingest", cat, dir.file("pool.jsonl").path, "--corpus", "pool"]).status == 0)
        try Fixtures.writeFloat32(Fixtures.gaussian(rows: 29, dim: 8, seed: 1), rows: 29, dim: 8, to: dir.file("short.npy"))
        let short = try QuadcatBinary.run(["attach", cat, "--corpus", "pool", "--column", "e", dir.file("short.npy").path])
        #expect(short.status == 1 && short.stderr.contains("short.npy") && short.stderr.contains("29 rows"))
        let unknown = try QuadcatBinary.run(["attach", cat, "--corpus", "nope", "--column", "e", dir.file("short.npy").path])
        #expect(unknown.status == 1 && unknown.stderr.contains("no corpus named 'nope'") && unknown.stderr.contains("pool"))
        let notCatalog = try QuadcatBinary.run(["info", dir.file("missing").path])
        #expect(notCatalog.status == 1 && notCatalog.stderr.contains("quadcat init"))
    }

    @Test func selectHelpNamesEverySelectorAndLabelsGTPAReconstruction() throws {
        let help = try QuadcatBinary.run(["select", "--help"])
        #expect(help.status == 0)
        for selector in ["less", "gtp", "spice", "quad", "random"] { #expect(help.stdout.contains("  \(selector)  ")) }
        #expect(help.stdout.contains("reconstruction from the paper"))
    }

    @Test func verifyExitsOneOnDamageAndGCCleansGarbage() throws {
        let dir = TemporaryDirectory()
        let cat = dir.file("cat.quadcat")
        #expect(try QuadcatBinary.run(["init", cat.path]).status == 0)
        try Fixtures.writeCorpus(dir.file("pool.jsonl"), rows: 200)
        #expect(try QuadcatBinary.run(["ingest", cat.path, dir.file("pool.jsonl").path, "--corpus", "pool"]).status == 0)
        try Data(repeating: 1, count: 10).write(to: cat.appendingPathComponent("staging/left.qcs"))
        let garbage = try QuadcatBinary.run(["verify", cat.path])
        #expect(garbage.status == 0 && garbage.stdout.contains("1 staging files"))
        let gc = try QuadcatBinary.run(["gc", cat.path, "--json"])
        #expect(gc.status == 0 && gc.stdout.contains("left.qcs"))

        let chunks = cat.appendingPathComponent("chunks")
        let file = chunks.appendingPathComponent(try FileManager.default.contentsOfDirectory(atPath: chunks.path)[0])
        var bytes = try Data(contentsOf: file)
        bytes[bytes.count - 100] ^= 0xFF
        try bytes.write(to: file)
        let damaged = try QuadcatBinary.run(["verify", cat.path])
        #expect(damaged.status == 1 && damaged.stdout.contains("DAMAGE"))
    }
}
