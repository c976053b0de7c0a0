import Catalog
import Foundation
import GRDB
import Selectors
import Testing
import TestSupport

/// `combine`, `mix` and `metric` against direct set arithmetic on the stored members.
@Suite("Subset algebra, mixtures and metrics")
struct SubsetAlgebraTests {
    /// A catalog with three subsets of one corpus: a (LESS, 60 rows), b (random, 80), c (LESS within
    /// b's rows, 12), and one subset of another corpus.
    static func catalog(_ dir: TemporaryDirectory) throws -> Catalog {
        let catalog = try QueryFixture(rows: 300).build(in: dir.url)
        _ = try catalog.select(SelectRequest(corpus: "pool", target: "val", selector: .less, budget: Budget(rows: 60), name: "a"))
        var b = SelectRequest(corpus: "pool", target: nil, selector: .random, budget: Budget(rows: 80), name: "b")
        b.seed = 4
        _ = try catalog.select(b)
        var c = SelectRequest(corpus: "pool", target: "val", selector: .less, budget: Budget(rows: 12), name: "c")
        c.query.within = "b"
        _ = try catalog.select(c)
        _ = try catalog.ingest(corpus: "other", files: [dir.file("corpus.jsonl")])
        _ = try catalog.select(SelectRequest(corpus: "other", target: nil, selector: .random, budget: Budget(rows: 5), name: "elsewhere"))
        return catalog
    }

    @Test func combineIsSetArithmeticInRankOrderWithLineage() throws {
        let dir = TemporaryDirectory("combine")
        let catalog = try Self.catalog(dir)
        let a = try catalog.members("a"), b = try catalog.members("b"), c = try catalog.members("c")
        let inA = Set(a.map(\.row)), inB = Set(b.map(\.row)), inC = Set(c.map(\.row))
        #expect(!inA.intersection(inB).isEmpty && !inA.isSubset(of: inB), "the fixture needs overlapping subsets")

        let union = try catalog.combine(CombineExpression(parsing: ["a", "+", "b"]), as: "u")
        #expect(try catalog.members(union.reference) == a + b.filter { !inA.contains($0.row) })
        let both = try catalog.combine(CombineExpression(parsing: ["a & b"]), as: "i")
        #expect(try catalog.members(both.reference) == a.filter { inB.contains($0.row) })
        let difference = try catalog.combine(CombineExpression(parsing: ["b", "-", "a"]), as: "d")
        #expect(try catalog.members(difference.reference) == b.filter { !inA.contains($0.row) })
        let chain = try catalog.combine(CombineExpression(parsing: ["a + b", "-", "c"]), as: "chain")
        #expect(try catalog.members(chain.reference).map(\.row) == (a.map(\.row) + b.map(\.row).filter { !inA.contains($0) }).filter { !inC.contains($0) })

        #expect(union.selector == "combine" && union.parameters == #"{"expression":"a@1 + b@1"}"#)
        #expect(union.parents.map { "\($0.role) \($0.subset)" } == ["operand a@1", "operand b@1"])
        #expect(try union.parents.map(\.contentHash) == [catalog.subset("a").contentHash, catalog.subset("b").contentHash])
        #expect(union.rowCount == union.budget && union.target == nil && both.target == nil)
        // The same operation on the same members: the same recipe and content, however the parents are named.
        _ = try catalog.tag("a@1", as: "best")
        let again = try catalog.combine(CombineExpression(parsing: ["best", "+", "b@1"]), as: "u")
        #expect(again.version == 2 && again.recipeHash == union.recipeHash && again.contentHash == union.contentHash)
        #expect(try catalog.combine(CombineExpression(parsing: ["b + a"]), as: "u").recipeHash != union.recipeHash)
        let empty = try catalog.combine(CombineExpression(parsing: ["c - b"]), as: "nothing")
        #expect(empty.rowCount == 0 && empty.diagnostics.notes.contains("the result is empty"))

        for words in [[], ["a"], ["+", "a"], ["a", "+"], ["a", "b"], ["a", "*", "b"], ["a", "+", "&", "b"]] {
            #expect(throws: CatalogError.self, "\(words)") { try CombineExpression(parsing: words) }
        }
        let error = #expect(throws: CatalogError.self) { try catalog.combine(CombineExpression(parsing: ["a + elsewhere"]), as: "x") }
        #expect(error?.message.contains("different corpora") == true)
        #expect(throws: CatalogError.self) { try catalog.combine(CombineExpression(parsing: ["a + nope"]), as: "x") }
        #expect(throws: CatalogError.self) { try catalog.combine(CombineExpression(parsing: ["a + b"]), as: "best") }
        #expect(try catalog.verify().isHealthy)
    }

    /// The mix as the definition states it, written independently: quotas by largest remainder, each
    /// part's next ranks not taken, shortfalls filled from the parts in order.
    static func directMix(_ parts: [[Int]], shares: [Double], budget: Int) -> [Int] {
        let exact = shares.map { $0 * Double(budget) }
        var quota = exact.map { Int($0.rounded(.down)) }
        for i in exact.indices.sorted(by: { (exact[$0] - Double(quota[$0]), -$0) > (exact[$1] - Double(quota[$1]), -$1) })
            .prefix(budget - quota.reduce(0, +)) { quota[i] += 1 }
        var out: [Int] = []
        var next = [Int](repeating: 0, count: parts.count)
        func take(_ p: Int, _ wanted: Int) {
            var got = 0
            while got < wanted, next[p] < parts[p].count {
                let row = parts[p][next[p]]
                next[p] += 1
                if !out.contains(row) { out.append(row); got += 1 }
            }
        }
        for p in parts.indices { take(p, quota[p]) }
        for p in parts.indices { take(p, budget - out.count) }
        return out
    }

    @Test func mixTakesQuotasByRankFillsShortfallsAndNeverTakesARowTwice() throws {
        let dir = TemporaryDirectory("mix")
        let catalog = try Self.catalog(dir)
        let a = try catalog.members("a").map(\.row), b = try catalog.members("b").map(\.row), c = try catalog.members("c").map(\.row)

        let plain = try catalog.mix([MixPart(parsing: "a=60%"), MixPart(parsing: "b=40%")], budget: Budget(rows: 50), as: "m")
        let rows = try catalog.members(plain.reference).map(\.row)
        #expect(rows == Self.directMix([a, b], shares: [0.6, 0.4], budget: 50) && Set(rows).count == 50)
        #expect(Array(rows.prefix(30)) == Array(a.prefix(30)))
        #expect(plain.diagnostics.counters["quota.1"] == 30 && plain.diagnostics.counters["quota.2"] == 20)
        #expect(plain.parents.map { "\($0.role) \($0.subset) \($0.share!)" } == ["part a@1 0.6", "part b@1 0.4"])
        #expect(try catalog.members(plain.reference).allSatisfy { m in (try catalog.members("a") + catalog.members("b")).contains(m) })

        // c has 12 rows for a quota of 20: the 8 short come from a's next ranks, then b's.
        let short = try catalog.mix([MixPart(parsing: "c=50%"), MixPart(parsing: "a=25%"), MixPart(parsing: "b=25%")], budget: Budget(rows: 40), as: "short")
        #expect(try catalog.members(short.reference).map(\.row) == Self.directMix([c, a, b], shares: [0.5, 0.25, 0.25], budget: 40))
        #expect(short.diagnostics.counters["taken.1"] == 12 && short.diagnostics.counters["filled.2"]! + short.diagnostics.counters["filled.3"]! == 8)
        #expect(short.diagnostics.notes[0].contains("quota 20, took 12 (it has no more rows not taken already)"))

        // Thirds of 10 by largest remainder: 4, 3, 3.
        let thirds = try catalog.mix([MixPart(subset: "a", share: 0.334), MixPart(subset: "b", share: 0.333), MixPart(subset: "c", share: 0.333)], budget: Budget(rows: 10), as: "thirds")
        #expect([1, 2, 3].map { thirds.diagnostics.counters["quota.\($0)"]! } == [4, 3, 3])

        // More than the parts hold: every distinct row, and a note.
        let all = try catalog.mix([MixPart(parsing: "a=50%"), MixPart(parsing: "c=50%")], budget: Budget(parsing: "50%"), as: "all")
        let distinct = Set(a + c).count
        #expect(all.rowCount == distinct && all.budget == 150 && all.diagnostics.notes.last!.contains("only \(distinct) distinct rows"))

        let again = try catalog.mix([MixPart(parsing: "a@1=60%"), MixPart(parsing: "b=40%")], budget: Budget(rows: 50), as: "m")
        #expect(again.recipeHash == plain.recipeHash && again.contentHash == plain.contentHash)
        #expect(try catalog.mix([MixPart(parsing: "a=50%"), MixPart(parsing: "b=50%")], budget: Budget(rows: 50), as: "m").recipeHash != plain.recipeHash)

        for bad in ["a", "a=", "=50%", "a=0%", "a=150%", "a=50"] { #expect(throws: CatalogError.self, "\(bad)") { try MixPart(parsing: bad) } }
        #expect(throws: CatalogError.self) { try catalog.mix([MixPart(parsing: "a=60%"), MixPart(parsing: "b=30%")], budget: Budget(rows: 50), as: "x") }
        #expect(throws: CatalogError.self) { try catalog.mix([MixPart(parsing: "a=100%")], budget: Budget(rows: 50), as: "x") }
        #expect(throws: CatalogError.self) { try catalog.mix([MixPart(parsing: "a=50%"), MixPart(parsing: "b=50%")], budget: Budget(parsing: "5%-of-candidates"), as: "x") }
        #expect(throws: CatalogError.self) { try catalog.mix([MixPart(parsing: "a=50%"), MixPart(parsing: "elsewhere=50%")], budget: Budget(rows: 5), as: "x") }
    }

    @Test func metricsRoundTripAndOrderACompare() throws {
        let dir = TemporaryDirectory("metrics")
        let catalog = try Self.catalog(dir)
        let before = try catalog.subset("a")
        let recorded = try catalog.recordMetrics("a@1", values: MetricValues.parse(["target_nll=3.878", "eval/acc=0.51"]), note: "3 seeds")
        #expect(recorded.metrics.map(\.key) == ["eval/acc", "target_nll"] && recorded.metric("target_nll") == 3.878)
        #expect(recorded.metrics.allSatisfy { $0.note == "3 seeds" && $0.earlierValues == 0 && !$0.recordedAt.isEmpty })
        #expect(recorded.recipeHash == before.recipeHash && recorded.contentHash == before.contentHash && recorded.version == 1)
        let corrected = try catalog.recordMetrics("a", values: [("target_nll", 3.84)])
        #expect(corrected.metric("target_nll") == 3.84 && corrected.metrics.first { $0.key == "target_nll" }!.earlierValues == 1)
        #expect(corrected.metrics.first { $0.key == "target_nll" }!.note == nil)
        _ = try catalog.recordMetrics("b", values: [("target_nll", 4.37)])
        _ = try catalog.recordMetrics("c", values: [("target_nll", 3.9), ("eval/acc", 0.7)])
        #expect(try catalog.log("a").last!.metric("target_nll") == 3.84 && catalog.subsets().first { $0.name == "c" }!.metric("eval/acc") == 0.7)

        var options = CompareOptions()
        options.sortBy = "target_nll"
        #expect(try catalog.compare(["b", "c", "a"], options: options).entries.map(\.subset) == ["a@1", "c@1", "b@1"])
        options.sortBy = "eval/acc"
        options.descending = true
        let byAccuracy = try catalog.compare(["b", "a", "c"], options: options)
        #expect(byAccuracy.entries.map(\.subset) == ["c@1", "a@1", "b@1"] && byAccuracy.sortedBy == "eval/acc")
        #expect(byAccuracy.entries[0].metrics == ["target_nll": 3.9, "eval/acc": 0.7])
        options.sortBy = "loss"
        let error = #expect(throws: CatalogError.self) { try catalog.compare(["a", "b"], options: options) }
        #expect(error?.remedy.contains("eval/acc, target_nll") == true)

        for bad in [[], ["x"], ["1x=2"], ["k=abc"], ["k=nan"], ["k=inf"], ["k=1", "k=2"], ["a b=1"], [String(repeating: "k", count: 65) + "=1"]] {
            #expect(throws: CatalogError.self, "\(bad)") { try MetricValues.parse(bad) }
        }
        #expect(throws: CatalogError.self) { try catalog.recordMetrics("nope@1", values: [("k", 1)]) }
        #expect(try MetricValues.parse(["loss=-1.5e-3", "k.x:y-z/w=0"]).map(\.value) == [-1.5e-3, 0])
    }
}
