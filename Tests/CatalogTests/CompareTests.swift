import Catalog
import Foundation
import Selectors
import Testing
import TestSupport

/// `compare` and `diff` against direct computations on the demo's source files (not the catalog).
@Suite("Compare and diff")
struct CompareTests {
    struct Fixture: @unchecked Sendable {
        let demo: DemoFixture.Built
        let references: [String]
        let report: CompareReport
        let members: [String: [Member]]
    }

    /// A 2,000-row demo with LESS, GTP, SPICE and random subsets; random takes 1,500 rows so the
    /// blocked near-duplicate search crosses its 1,024-row blocks.
    static let fixture: Fixture = {
        let demo = try! DemoFixture.build(rows: 2000)
        var references: [String] = []
        for (selector, budget) in [(SelectorKind.less, 100), (.gtp, 100), (.spice, 100), (.random, 1500)] {
            let request = SelectRequest(corpus: DemoCatalog.corpus, target: DemoCatalog.target, selector: selector, budget: Budget(rows: budget), name: "c-\(selector.rawValue)")
            references.append(try! demo.catalog.select(request).reference)
        }
        var options = CompareOptions()
        options.labelField = "domain"
        options.groups = 1
        options.alpha = 0.5
        let report = try! demo.catalog.compare(references, options: options)
        let members = Dictionary(uniqueKeysWithValues: references.map { ($0, try! demo.catalog.members($0)) })
        return Fixture(demo: demo, references: references, report: report, members: members)
    }()

    @Test func overlapsAndJaccardMatchSetArithmetic() throws {
        let f = Self.fixture
        #expect(f.report.overlaps.count == f.references.count * (f.references.count - 1) / 2)
        for overlap in f.report.overlaps {
            let a = Set(f.members[overlap.a]!.map(\.row)), b = Set(f.members[overlap.b]!.map(\.row))
            #expect(overlap.shared == a.intersection(b).count)
            #expect(overlap.jaccard == Double(a.intersection(b).count) / Double(a.union(b).count))
        }
    }

    @Test func logDetEqualsANaiveDeterminantOfTheLastCheckpoint() throws {
        let f = Self.fixture
        let last = try Fixtures.loadMatrix(f.demo.files.gradients.last!)
        for entry in f.report.entries where entry.rows <= 100 {
            let rows = f.members[entry.subset]!.map(\.row)
            let naive = Self.naiveLogDet(rows.map { last.row($0).map(Double.init) }, alpha: 0.5)
            let reported = try #require(entry.logDet)
            #expect(abs(reported - naive) <= 1e-6 * max(1, abs(naive)), "\(entry.subset): \(reported) vs \(naive)")
        }
    }

    @Test func lessScoreAndGTPResidualAgreeWithTheSelectorsOnTheSourceFiles() throws {
        let f = Self.fixture
        let checkpoints = try DemoFixture.sourceCheckpoints(f.demo.files)
        let scores = try LESS.scores(checkpoints: checkpoints, targetSubtasks: DemoFixture.sourceSubtasks(f.demo.files)).values
        for entry in f.report.entries {
            let rows = f.members[entry.subset]!.map(\.row)
            let mean = rows.map { Double(scores[$0]) }.reduce(0, +) / Double(rows.count)
            #expect(abs(try #require(entry.meanLESSScore) - mean) <= 1e-6, "\(entry.subset)")
            let residual = try GTP.relativeResidual(of: rows, checkpoints: checkpoints, parameters: .init(groups: 1))
            #expect(abs(try #require(entry.gtpResidual) - residual) <= 1e-6, "\(entry.subset)")
        }
        // Each selector wins on its own criterion among the 100-row subsets.
        let small = f.report.entries.filter { $0.rows == 100 }
        #expect(small.max { $0.meanLESSScore! < $1.meanLESSScore! }?.selector == "less")
        #expect(small.max { $0.logDet! < $1.logDet! }?.selector == "spice")
    }

    @Test func gtpResidualIsLeftOutAboveItsRowLimitWithANote() throws {
        let f = Self.fixture
        var options = CompareOptions()
        options.groups = 1
        options.gtpResidualLimit = 100
        let report = try f.demo.catalog.compare(f.references, options: options)
        for (entry, full) in zip(report.entries, f.report.entries) {
            #expect(entry.gtpResidual == (entry.rows <= 100 ? full.gtpResidual : nil), "\(entry.subset)")
        }
        #expect(report.notes.contains { $0.contains("GTP residual not computed for c-random@1") && $0.contains("--gtp-residual-limit") })
    }

    @Test func duplicatesAndLabelsMatchTheRecords() throws {
        let f = Self.fixture
        let embeddings = try Fixtures.loadMatrix(f.demo.files.embeddings)
        let records = try String(contentsOf: f.demo.files.corpus, encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
        var sawNear = false
        for entry in f.report.entries {
            let rows = f.members[entry.subset]!.map(\.row)
            var exact = 0, near = 0
            for i in rows.indices {
                for j in (i + 1)..<rows.count {
                    if records[rows[i]]["text"] as! String == records[rows[j]]["text"] as! String { exact += 1 }
                    if Self.cosine(embeddings.row(rows[i]), embeddings.row(rows[j])) >= 0.95 { near += 1 }
                }
            }
            #expect(entry.exactDuplicatePairs == exact, "\(entry.subset)")
            #expect(entry.nearDuplicatePairs == near, "\(entry.subset)")
            sawNear = sawNear || near > 0
            let labels = rows.reduce(into: [String: Int]()) { $0[records[$1]["domain"] as! String, default: 0] += 1 }
            #expect(entry.labels == labels)
        }
        // The planted duplicates are there to be found.
        #expect(sawNear && f.report.entries.contains { $0.exactDuplicatePairs > 0 })
        let corpusLabels = records.reduce(into: [String: Int]()) { $0[$1["domain"] as! String, default: 0] += 1 }
        #expect(f.report.corpusLabels == corpusLabels)
    }

    @Test func diffListsRowsOnlyInEachSideWithRanksAndScores() throws {
        let f = Self.fixture
        let a = f.references[0], b = f.references[1]
        let diff = try f.demo.catalog.diff(a, b)
        let rowsA = f.members[a]!.map(\.row), rowsB = f.members[b]!.map(\.row)
        #expect(diff.shared == Set(rowsA).intersection(rowsB).count)
        #expect(diff.onlyA.map(\.row) == rowsA.filter { !rowsB.contains($0) })
        #expect(diff.onlyB.map(\.row) == rowsB.filter { !rowsA.contains($0) })
        for row in diff.onlyA {
            #expect(rowsA[row.rank - 1] == row.row && f.members[a]![row.rank - 1].score == row.score)
        }
    }

    static func cosine(_ x: [Float], _ y: [Float]) -> Double {
        var dot = 0.0, xx = 0.0, yy = 0.0
        for i in x.indices {
            dot += Double(x[i]) * Double(y[i])
            xx += Double(x[i]) * Double(x[i])
            yy += Double(y[i]) * Double(y[i])
        }
        return dot / (xx * yy).squareRoot()
    }

    /// log det(I_k + alpha G G^T) over the k rows (equal to log det(I_d + alpha G^T G)), by Gaussian
    /// elimination with partial pivoting in Double.
    static func naiveLogDet(_ rows: [[Double]], alpha: Double) -> Double {
        let k = rows.count
        var m = (0..<k).map { i in (0..<k).map { j in (i == j ? 1 : 0) + alpha * zip(rows[i], rows[j]).reduce(0) { $0 + $1.0 * $1.1 } } }
        var logDet = 0.0
        for c in 0..<k {
            let pivot = (c..<k).max { abs(m[$0][c]) < abs(m[$1][c]) }!
            m.swapAt(c, pivot)
            logDet += log(abs(m[c][c]))
            for r in (c + 1)..<k {
                let factor = m[r][c] / m[c][c]
                for j in c..<k { m[r][j] -= factor * m[c][j] }
            }
        }
        return logDet
    }
}
