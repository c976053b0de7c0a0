import Catalog
import Foundation
import Testing
import TestSupport

/// The query commands as users run them: `ingest --index-field`, `index`, `select --where/--within/
/// --exclude/--exclude-ids/--dedup`, `combine`, `mix`, `metric`, and what `info`, `log`, `show` and
/// `compare` print about them.
@Suite("quadcat queries on the command line")
struct QueriesCLITests {
    static func run(_ arguments: [String]) throws -> QuadcatBinary.Result {
        try QuadcatBinary.run(arguments)
    }

    static func json<T: Decodable>(_ type: T.Type, _ arguments: [String]) throws -> T {
        let result = try run(arguments + ["--json"])
        guard result.status == 0 else { throw CatalogError(.invalidRequest, "quadcat \(arguments[0]) failed: \(result.stderr)") }
        return try JSONDecoder().decode(T.self, from: Data(result.stdout.utf8))
    }

    @Test func theQueryWorkflow() throws {
        let dir = TemporaryDirectory()
        let fixture = QueryFixture(rows: 240)
        try fixture.write(to: dir.url)
        let cat = dir.file("cat.quadcat").path
        #expect(try Self.run(["init", cat]).status == 0)
        let ingest = try Self.json(IngestReport.self, ["ingest", cat, dir.file("corpus.jsonl").path, "--corpus", "pool", "--index-field", "domain", "--index-field", "n_tokens"])
        #expect(ingest.indexedFields.map(\.name) == ["domain", "n_tokens"])
        for c in 1...2 {
            #expect(try Self.run(["attach", cat, dir.file("grad\(c).npy").path, "--corpus", "pool", "--column", "grad", "--checkpoint", "\(c)", "--lr", "1e-5"]).status == 0)
            #expect(try Self.run(["target", "add", cat, "val", dir.file("val\(c).npy").path, "--checkpoint", "\(c)"]).status == 0)
        }
        #expect(try Self.run(["attach", cat, dir.file("emb.npy").path, "--corpus", "pool", "--column", "emb"]).status == 0)

        let indexed = try Self.run(["index", cat, "--corpus", "pool", "--field", "score", "--field", "domain"])
        #expect(indexed.status == 0 && indexed.stdout.contains("indexed score of corpus 'pool'") && indexed.stdout.contains("already indexed: domain"))
        let info = try Self.run(["info", cat])
        #expect(info.stdout.contains("n_tokens  integer") && info.stdout.contains("score     mixed"))
        #expect(try Self.json(CatalogInfo.self, ["info", cat]).corpora[0].fields.map(\.name) == ["domain", "n_tokens", "score"])

        let predicate = "n_tokens >= 64 and domain <> 'bible'"
        let less = try Self.json(SubsetInfo.self, ["select", cat, "--corpus", "pool", "--target", "val", "--selector", "less", "--budget", "30", "--as", "py", "--where", predicate])
        let expected = try Catalog.open(at: URL(fileURLWithPath: cat)).candidateRows(corpus: "pool", query: SelectionQuery(predicate: predicate))
        #expect(less.query?.predicate == "n_tokens >= 64 AND domain != 'bible'" && less.query?.candidates == expected.count)
        let text = try Self.run(["select", cat, "--corpus", "pool", "--selector", "random", "--budget", "40", "--as", "rand", "--exclude", "py", "--dedup", "emb:0.95"])
        #expect(text.status == 0 && text.stdout.contains("note: candidates: 210 of 240 rows (excluding py@1: 30 rows)"))
        #expect(text.stdout.contains("note: near-duplicate guard (emb cosine >= 0.95):"))

        let hostile = try Self.run(["select", cat, "--corpus", "pool", "--selector", "random", "--budget", "5", "--as", "x", "--where", "domain = 'x'; DROP TABLE subset"])
        #expect(hostile.status == 1 && hostile.stderr.contains("quadcat: error: --where position 13: unexpected ';'"))
        let unknown = try Self.run(["select", cat, "--corpus", "pool", "--selector", "random", "--budget", "5", "--as", "x", "--where", "lang = 'en'"])
        #expect(unknown.status == 1 && unknown.stderr.contains("'lang' is not an indexed field; indexed: domain (text), n_tokens (integer), score (mixed)"))
        #expect(unknown.stderr.contains("quadcat index CATALOG --corpus pool --field NAME"))
        try Data("doc-1\ndoc-2\n".utf8).write(to: dir.file("ids.txt"))
        let ids = try Self.json(SubsetInfo.self, ["select", cat, "--corpus", "pool", "--selector", "random", "--budget", "50%-of-candidates", "--as", "half", "--within", "rand@1", "--exclude-ids", dir.file("ids.txt").path])
        #expect(ids.query?.within == "rand@1" && ids.query?.budgetBasis == "candidates" && ids.rowCount == (ids.query!.candidates! / 2))

        let union = try Self.json(SubsetInfo.self, ["combine", cat, "--as", "both", "py", "+", "rand"])
        #expect(union.selector == "combine" && union.parents.map(\.subset) == ["py@1", "rand@1"] && union.rowCount == 70)
        let inter = try Self.run(["combine", cat, "--as", "common", "rand@1 & half"])
        #expect(inter.status == 0 && inter.stdout.contains("common@1: \(ids.rowCount) of \(ids.rowCount) rows, made by combine"))
        let minus = try Self.run(["combine", cat, "--as", "rest", "rand", "-", "half"])
        #expect(minus.status == 0 && minus.stdout.contains("rest@1: \(40 - ids.rowCount) of"))
        let badCombine = try Self.run(["combine", cat, "--as", "x", "rand", "half"])
        #expect(badCombine.status == 1 && badCombine.stderr.contains("expected an operator"))
        let mix = try Self.json(SubsetInfo.self, ["mix", cat, "--as", "blend", "--budget", "20", "py=75%", "rand=25%"])
        #expect(mix.rowCount == 20 && mix.parents.map { $0.share! } == [0.75, 0.25])
        let badMix = try Self.run(["mix", cat, "--as", "x", "--budget", "20", "py=75%", "rand=35%"])
        #expect(badMix.status == 1 && badMix.stderr.contains("add up to 110%"))

        let metric = try Self.run(["metric", cat, "blend@1", "target_nll=3.866", "acc=0.5", "--note", "3 seeds"])
        #expect(metric.status == 0 && metric.stdout.contains("blend@1: acc=0.5 target_nll=3.866"))
        #expect(try Self.json(SubsetInfo.self, ["metric", cat, "py", "target_nll=3.9"]).metric("target_nll") == 3.9)
        let badMetric = try Self.run(["metric", cat, "py", "target_nll=fast"])
        #expect(badMetric.status == 1 && badMetric.stderr.contains("'fast' is not a finite number"))

        let show = try Self.run(["show", cat, "blend", "--limit", "2"])
        #expect(show.stdout.contains("parent  part py@1 75%") && show.stdout.contains("metric  target_nll = 3.866") && show.stdout.contains("3 seeds"))
        let shownQuery = try Self.run(["show", cat, "py"])
        #expect(shownQuery.stdout.contains("where   n_tokens >= 64 AND domain != 'bible'"))
        let log = try Self.run(["log", cat, "rand"])
        #expect(log.stdout.contains("exclude py@1") && log.stdout.contains("dedup   emb cosine >= 0.95"))
        #expect(try Self.run(["log", cat]).stdout.contains("acc=0.5 target_nll=3.866"))
        let compared = try Self.json(CompareReport.self, ["compare", cat, "rand", "py", "blend", "--sort", "target_nll"])
        #expect(compared.entries.map(\.subset) == ["blend@1", "py@1", "rand@1"] && compared.sortedBy == "target_nll")
        let table = try Self.run(["compare", cat, "rand", "blend", "--sort", "acc", "--descending"])
        #expect(table.status == 0 && table.stdout.contains("acc (sorted)"))
        #expect(try Self.run(["verify", cat]).status == 0)
    }
}
