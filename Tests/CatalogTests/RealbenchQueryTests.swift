import Catalog
import Foundation
import Testing
import TestSupport

/// Queries on the real benchmark (skipped when it is absent): LESS with the near-duplicate guard against
/// plain LESS (planted duplicate pairs picked, target share), and a predicate that leaves out the target
/// domain.
@Suite("Realbench queries", .enabled(if: Fixtures.realbench != nil, "realbench is not present (set QUADCAT_REALBENCH)"))
struct RealbenchQueryTests {
    @Test func theGuardRemovesPlantedDuplicatesAndAPredicateRemovesADomain() throws {
        let root = Fixtures.realbench!
        let dir = TemporaryDirectory("realbench-queries")
        let catalog = try Realbench.build(root, at: dir.file("rb.quadcat"))
        let labels = try Realbench.labels(root)
        _ = try catalog.index(corpus: "pool", fields: ["domain", "n_tokens", "dup_kind"])
        func measure(_ subset: SubsetInfo) throws -> (rows: [Int], pairs: Int, share: Double) {
            let rows = try catalog.members(subset.reference).map(\.row)
            let set = Set(rows)
            let pairs = rows.filter { labels.duplicateOf[$0].map(set.contains) ?? false }.count
            return (rows, pairs, Double(rows.filter { labels.domains[$0] == "python_docs" }.count) / Double(rows.count))
        }
        let plainRequest = SelectRequest(corpus: "pool", target: "python", selector: .less, budget: Budget(rows: 600), name: "rb-less")
        let plain = try measure(catalog.select(plainRequest))
        var guardedRequest = plainRequest
        guardedRequest.name = "rb-less-dedup"
        guardedRequest.dedup = try DedupRequest(parsing: "emb:0.95")
        let guardedSubset = try catalog.select(guardedRequest)
        let guarded = try measure(guardedSubset)
        print(String(
            format: "realbench LESS, 600 rows: planted duplicate pairs %d -> %d with --dedup emb:0.95 (%d candidates refused, guard %.1f ms); target share %.1f%% -> %.1f%%",
            plain.pairs, guarded.pairs, guardedSubset.query!.dedup!.refused, 1000 * guardedSubset.diagnostics.timings["dedup"]!,
            100 * plain.share, 100 * guarded.share))
        #expect(guarded.rows.count == 600)
        #expect(plain.pairs >= 40 && guarded.pairs <= plain.pairs / 10)
        // Each refused row gives its place to the next row of the ranking: the share moves by at most
        // the rows replaced (the planted copies are mostly of target rows, so it falls).
        let replaced = plain.rows.count { !guarded.rows.contains($0) }
        #expect(replaced <= guardedSubset.query!.dedup!.refused)
        #expect(guarded.share >= plain.share - Double(replaced) / 600 - 1e-12)
        // The guard walked the ranking: the first rows are LESS's own until its first refusal.
        let firstRefused = plain.rows.firstIndex { !guarded.rows.contains($0) } ?? 600
        #expect(Array(guarded.rows.prefix(firstRefused)) == Array(plain.rows.prefix(firstRefused)))

        var filtered = plainRequest
        filtered.name = "rb-less-no-target"
        filtered.query.predicate = "domain != 'python_docs'"
        let noTarget = try measure(catalog.select(filtered))
        #expect(noTarget.rows.count == 600 && noTarget.share == 0)
        let candidates = try catalog.candidateRows(corpus: "pool", query: SelectionQuery(predicate: "dup_kind IS NOT NULL"))
        #expect(candidates.count == labels.duplicateOf.count { $0 != nil })
    }
}
