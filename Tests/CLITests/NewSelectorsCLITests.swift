import Catalog
import Foundation
import Testing
import TestSupport

/// The DPP and RDS selectors and trainer weights, end to end through the binary.
@Suite("dpp, rds and export weights from the command line")
struct NewSelectorsCLITests {
    @Test func dppAndRDSSelectAndGTPWeightsExportNormalised() throws {
        let demo = try DemoFixture.build(rows: 1500)
        let cat = demo.catalog.root.path
        let dpp = try QuadcatBinary.run(["select", cat, "--corpus", "pool", "--target", "python", "--selector", "dpp", "--budget", "5%", "--as", "d", "--param", "beta=1", "--json"])
        #expect(dpp.status == 0, "\(dpp.stderr)")
        let subset = try JSONDecoder().decode(SubsetInfo.self, from: Data(dpp.stdout.utf8))
        #expect(subset.selector == "dpp" && subset.rowCount == 75)
        #expect(subset.inputs.map(\.role).filter { $0 == "pool gradient" }.count == 4)
        #expect(subset.diagnostics.objectiveTrace.count == 75)

        // RDS needs the target's embeddings; the demo adds them as the target column "emb".
        let rds = try QuadcatBinary.run(["select", cat, "--corpus", "pool", "--target", "python", "--selector", "rds", "--budget", "60", "--as", "r", "--json"])
        #expect(rds.status == 0, "\(rds.stderr)")
        let rdsInfo = try JSONDecoder().decode(SubsetInfo.self, from: Data(rds.stdout.utf8))
        #expect(Set(rdsInfo.inputs.map(\.role)) == ["embedding", "target embedding"])
        let missing = try QuadcatBinary.run(["select", cat, "--corpus", "pool", "--target", "python", "--selector", "rds", "--budget", "60", "--as", "r2", "--embedding-column", "other"])
        #expect(missing.status == 1 && missing.stderr.contains("no embedding column 'other'"))

        // GTP's weights: relative (bare --weights) and normalised to mean 1, same order.
        #expect(try QuadcatBinary.run(["select", cat, "--corpus", "pool", "--target", "python", "--selector", "gtp", "--budget", "40", "--as", "g"]).status == 0)
        func weights(_ extra: [String]) throws -> [Double] {
            let out = try QuadcatBinary.run(["export", cat, "g", "--format", "jsonl", "--out", "-"] + extra)
            #expect(out.status == 0, "\(out.stderr)")
            return try out.stdout.split(separator: "\n").map { line in
                (try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any])["weight"] as! Double
            }
        }
        let relative = try weights(["--weights"])
        let normalized = try weights(["--weights", "normalized"])
        #expect(relative.count == normalized.count && !relative.isEmpty)
        #expect(abs(normalized.reduce(0, +) / Double(normalized.count) - 1) < 1e-12)
        let mean = relative.reduce(0, +) / Double(relative.count)
        for (r, n) in zip(relative, normalized) { #expect(abs(r / mean - n) <= 1e-12 * max(1, n)) }
        #expect(zip(relative, relative.dropFirst()).allSatisfy { $0 >= $1 })
        #expect(try weights(["--weights", "relative"]) == relative)
        let bad = try QuadcatBinary.run(["export", cat, "g", "--format", "jsonl", "--out", "-", "--weights", "loud"])
        #expect(bad.status != 0)
    }
}
