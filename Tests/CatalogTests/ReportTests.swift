import Catalog
import Foundation
import Selectors
import Testing
import TestSupport

/// `report`: the page is well-formed, self-contained XML/HTML whose figures are those of `compare`
/// and of the stored subsets, with every kind of chart, bounded in size, and safe from hostile names.
@Suite("HTML report")
struct ReportTests {
    struct Fixture: @unchecked Sendable {
        let demo: DemoFixture.Built
        let references: [String]
        let figures: ReportFigures
        let page: ReportPage.Rendered
        let root: MarkupElement
    }

    /// A 2,000-row demo with a subset of every selector (random takes 1,500 rows).
    static let fixture: Fixture = {
        let demo = try! DemoFixture.build(rows: 2000)
        var references: [String] = []
        for selector in SelectorKind.allCases {
            let request = SelectRequest(
                corpus: DemoCatalog.corpus, target: DemoCatalog.target, selector: selector,
                budget: Budget(rows: selector == .random ? 1500 : 100), name: "r-\(selector.rawValue)")
            references.append(try! demo.catalog.select(request).reference)
        }
        var options = ReportOptions()
        options.compare.labelField = "domain"
        options.command = "quadcat report cat.quadcat --label domain"
        let figures = try! demo.catalog.reportFigures(references, options: options)
        let page = try! ReportPage.render(figures)
        let root = try! MarkupElement.parse(Data(page.html.utf8))
        return Fixture(demo: demo, references: references, figures: figures, page: page, root: root)
    }()

    @Test func thePageIsWellFormedAndReferencesNothingOutsideItself() throws {
        let f = Self.fixture
        #expect(f.root.name == "html")
        #expect(f.page.html.hasPrefix("<!DOCTYPE html>"))
        let elements = f.root.descendants
        let ids = Set(elements.compactMap { $0["id"] })
        for element in elements {
            #expect(!["img", "link", "iframe", "object", "embed", "base", "audio", "video", "source"].contains(element.name), "\(element.name)")
            #expect(element["src"] == nil, "\(element.name) has a src")
            if let href = element["href"] {
                #expect(href.hasPrefix("#") && ids.contains(String(href.dropFirst())), "href \(href)")
            }
            for (name, value) in element.attributes {
                let lower = value.lowercased()
                #expect(!name.lowercased().hasPrefix("on"), "event handler attribute \(name)")
                #expect(!lower.contains("http") && !lower.contains("//") && !lower.contains("file:") && !lower.contains("url("), "\(name)=\(value)")
            }
        }
        let scripts = f.root.all("script")
        #expect(scripts.count == 1 && scripts[0].attributes.isEmpty)
        let style = try #require(f.root.all("style").first).allText.lowercased()
        #expect(!style.contains("url(") && !style.contains("@import") && !style.contains("http"))
        #expect(!f.page.html.lowercased().contains("http"))
    }

    @Test func holdsEveryKindOfChartForTheDemo() throws {
        let f = Self.fixture
        let charts = Dictionary(grouping: f.root.descendants.filter { $0["data-chart"] != nil }) { $0["data-chart"]! }.mapValues(\.count)
        #expect(charts == f.page.charts)
        // One table and one heatmap; per subset (seven selectors) its label bars, LESS score and
        // influence histograms and lineage; stored scores for all but random (whose score is its rank),
        // GTP's score = weight once; an objective trace for GTP, SPICE, Quad and the DPP; Quad's pulls
        // per round.
        #expect(charts == [
            "compare-table": 1, "overlap-heatmap": 1, "label-bars": 7, "score-histogram": 14, "member-histogram": 6,
            "trace": 4, "series": 1, "lineage": 7,
        ])
        let traces = f.root.all(where: "data-chart", is: "trace").compactMap { $0["data-selector"] }
        #expect(traces.sorted() == ["dpp", "gtp", "quad", "spice"])
        for svg in f.root.all("svg") {
            let title = try #require(svg.children.first)
            #expect(title.name == "title" && !title.text.isEmpty, "every chart has an accessible title")
            #expect(!svg.all("text").isEmpty, "every chart has axis or value labels")
        }
    }

    @Test func tableHeatmapAndBarsHoldTheNumbersCompareComputes() throws {
        let f = Self.fixture
        var options = CompareOptions()
        options.labelField = "domain"
        let compared = try f.demo.catalog.compare(f.references, options: options)
        let entries = try JSONField.parse(JSONEncoder().encode(compared.entries)).items.map(\.members)
        let rows = f.root.all("tr").filter { $0["data-subset"] != nil }
        #expect(rows.map { $0["data-subset"]! } == f.references)
        var checked = 0
        for (row, entry) in zip(rows, entries) {
            for cell in row.all("td") {
                let key = try #require(cell["data-key"])
                guard let expected = entry[key] else {
                    #expect(cell["data-value"] == nil, "\(key): a value for a figure compare does not have")
                    continue
                }
                let value = try #require(cell["data-value"], "\(key)")
                if let number = expected.number {
                    #expect(Double(value) == number, "\(row["data-subset"]!) \(key): \(value) vs \(number)")
                } else {
                    #expect(value == expected.string)
                }
                checked += 1
            }
            // Every number compare reports is in the table, except the labels (charted) and the parameters (lineage).
            let numericKeys = Set(entry.filter { $0.value.number != nil }.keys)
            #expect(numericKeys.isSubset(of: Set(row.all("td").compactMap { $0["data-key"] })))
        }
        #expect(checked >= 5 * 12)

        let cells = f.root.descendants.filter { $0["data-jaccard"] != nil }
        #expect(cells.count == 2 * compared.overlaps.count)
        for overlap in compared.overlaps {
            let drawn = cells.filter { Set([$0["data-a"]!, $0["data-b"]!]) == Set([overlap.a, overlap.b]) }
            #expect(drawn.count == 2)
            for cell in drawn {
                #expect(Int(cell["data-shared"]!) == overlap.shared && Double(cell["data-jaccard"]!) == overlap.jaccard)
            }
        }

        let corpusLabels = try #require(compared.corpusLabels)
        for (entry, panel) in zip(compared.entries, f.root.all(where: "data-chart", is: "label-bars")) {
            #expect(panel["data-subset"] == entry.subset)
            let bars = panel.descendants.filter { $0["data-label"] != nil }
            #expect(Set(bars.map { $0["data-label"]! }) == Set(corpusLabels.keys))
            for bar in bars {
                let label = bar["data-label"]!
                #expect(Int(bar["data-count"]!) == (entry.labels?[label] ?? 0) && Int(bar["data-corpus-count"]!) == corpusLabels[label])
            }
        }
    }

    @Test func scoreHistogramsBinEveryScoredRowOnceAndMarkCompareMeans() throws {
        let f = Self.fixture
        #expect(f.figures.rowDistributions.map(\.name) == ["LESS score", "Quad influence"])
        let means: [String: KeyPath<CompareReport.Entry, Double?>] = ["LESS score": \.meanLESSScore, "Quad influence": \.meanInfluence]
        for distribution in f.figures.rowDistributions {
            #expect(distribution.corpus.total + distribution.corpus.missing == 2000)
            for (i, entry) in f.figures.comparison.entries.enumerated() {
                #expect(distribution.subsets[i].total + distribution.subsets[i].missing == entry.rows)
                #expect(distribution.subsets[i].lower == distribution.corpus.lower && distribution.subsets[i].upper == distribution.corpus.upper)
                #expect(distribution.subsetMeans[i] == entry[keyPath: means[distribution.name]!], "\(entry.subset) \(distribution.name)")
            }
        }
        // The corpus's LESS-score histogram against LESS run on the source files (not the catalog).
        let scores = try LESS.scores(
            checkpoints: DemoFixture.sourceCheckpoints(f.demo.files), targetSubtasks: DemoFixture.sourceSubtasks(f.demo.files)).values.map(Double.init)
        let less = f.figures.rowDistributions[0]
        let direct = BinnedCounts(scores, lower: less.corpus.lower, upper: less.corpus.upper, bins: less.corpus.counts.count)
        #expect(direct.missing == less.corpus.missing)
        // Rounding in another block order may move a value that sits on a bin edge: allow one such move.
        #expect(zip(direct.counts, less.corpus.counts).reduce(0) { $0 + abs($1.0 - $1.1) } <= 2)
        #expect(less.corpus.counts.reduce(0, +) > 0 && less.corpus.counts.count == 40)
    }

    @Test func chartsFollowDiagnosticsOfAnySelectorAndStaySmall() throws {
        var figures = Self.fixture.figures
        // A selector the report has never heard of, with a long trace and a series of its own.
        let index = figures.subsets.firstIndex { $0.selector == "random" }!
        figures.subsets[index].selector = "newsel"
        figures.subsets[index].diagnostics.objectiveTrace = (0..<50_000).map { log(Double($0) + 1) }
        figures.subsets[index].diagnostics.objectiveLabel = "log det per pick"
        figures.subsets[index].diagnostics.stepLabel = "pick"
        figures.subsets[index].diagnostics.series["lossPerEpoch"] = [3.9, 3.7, 3.6]
        let page = try ReportPage.render(figures)
        let root = try MarkupElement.parse(Data(page.html.utf8))
        let reference = figures.subsets[index].reference
        let mine = root.descendants.filter { $0["data-subset"] == reference && ($0["data-chart"] == "trace" || $0["data-chart"] == "series") }
        #expect(mine.map { $0["data-chart"]! }.sorted() == ["series", "trace"])
        let trace = try #require(mine.first { $0["data-chart"] == "trace" })
        let line = try #require(trace.all("path").first { $0["data-steps"] == "50000" })
        let points = line["d"]!.filter { $0 == "L" }.count + 1
        #expect(points <= 600 && points >= 300, "a 50,000-step trace draws as at most 600 points (\(points))")
        #expect(trace.all("text").contains { $0.text == "log det per pick" } && trace.all("text").contains { $0.text == "pick" })
        let series = try #require(mine.first { $0["data-chart"] == "series" })
        #expect(series.all("text").contains { $0.text == "epoch" } && series.all("path").contains { $0["data-series"] == "loss" })
        for chart in root.all("svg") { #expect(Int(chart["data-elements"]!)! <= 3000) }
        #expect(page.largestChart <= 3000)
    }

    @Test func fortySubsetsStillDrawSmallChartsAndASmallPage() throws {
        var figures = Self.fixture.figures
        let n = 40, base = figures.subsets.count
        let entries = figures.comparison.entries
        figures.comparison.entries = (0..<n).map { i in
            var entry = entries[i % base]
            entry.subset = "copy-\(i)@1"
            return entry
        }
        var pairs: [String] = []
        for i in 0..<n {
            for j in (i + 1)..<n { pairs.append("{\"a\": \"copy-\(i)@1\", \"b\": \"copy-\(j)@1\", \"shared\": \(i + j), \"jaccard\": \(Double(i + j) / Double(2 * n))}") }
        }
        figures.comparison.overlaps = try JSONDecoder().decode([CompareReport.Overlap].self, from: Data("[\(pairs.joined(separator: ","))]".utf8))
        let subsets = figures.subsets
        figures.subsets = (0..<n).map { i in
            var info = subsets[i % base]
            info.name = "copy-\(i)"
            info.version = 1
            return info
        }
        figures.rowDistributions = figures.rowDistributions.map { distribution in
            var copy = distribution
            copy.subsets = (0..<n).map { distribution.subsets[$0 % base] }
            copy.subsetMeans = (0..<n).map { distribution.subsetMeans[$0 % base] }
            return copy
        }
        let page = try ReportPage.render(figures)
        let root = try MarkupElement.parse(Data(page.html.utf8))
        let heatmap = try #require(root.all(where: "data-chart", is: "overlap-heatmap").first)
        #expect(heatmap.descendants.filter { $0["data-jaccard"] != nil }.count == n * (n - 1))
        for chart in root.all("svg") { #expect(Int(chart["data-elements"]!)! <= 3000, "\(chart["data-chart"]!)") }
        #expect(page.html.utf8.count < 2_000_000)
    }

    @Test func heatmapColoursDarkenWithJaccardForGreyScalePrints() throws {
        let cells = Self.fixture.root.descendants.filter { $0["data-jaccard"] != nil }.map { cell in
            (jaccard: Double(cell["data-jaccard"]!)!, luminance: Self.luminance(cell.all("rect")[0]["fill"]!))
        }.sorted { $0.jaccard < $1.jaccard }
        #expect(cells.count >= 20)
        for (a, b) in zip(cells, cells.dropFirst()) where b.jaccard > a.jaccard {
            #expect(b.luminance <= a.luminance, "Jaccard \(a.jaccard) -> \(b.jaccard) must not get lighter")
        }
    }

    @Test func hostileNamesAndLabelsReadAsTextAndCannotBreakThePage() throws {
        let dir = TemporaryDirectory("report-hostile")
        let hostileLabels = ["<script>alert('x')</script>", "]]></svg><svg onload=alert(1)>", "a&amp;b \"quoted\" 'single'", "ctrl\u{1}\u{8}\u{1B}char", "<!-- x -->--></style>"]
        var lines: [String] = []
        for r in 0..<60 {
            let record: [String: Any] = ["id": "d\(r)", "text": "text \(r)", "kind</td>": hostileLabels[r % hostileLabels.count]]
            lines.append(String(decoding: try JSONSerialization.data(withJSONObject: record), as: UTF8.self))
        }
        try Data(lines.map { $0 + "\n" }.joined().utf8).write(to: dir.file("pool.jsonl"))
        try Fixtures.writeFloat32(Fixtures.gaussian(rows: 60, dim: 8, seed: 3), rows: 60, dim: 8, to: dir.file("g.npy"))
        try Fixtures.writeFloat32(Fixtures.gaussian(rows: 4, dim: 8, seed: 4), rows: 4, dim: 8, to: dir.file("v.npy"))
        let corpus = "<b>pool</b>&\"'", target = "\"><img src=x onerror=alert(1)>"
        let catalog = try Catalog.create(at: dir.file("c.quadcat"))
        _ = try catalog.ingest(corpus: corpus, files: [dir.file("pool.jsonl")])
        var attach = AttachRequest(corpus: corpus, column: "grad", file: dir.file("g.npy"))
        attach.checkpoint = 1
        attach.learningRate = 1e-5
        _ = try catalog.attach(attach)
        var targetColumn = TargetColumnRequest(target: target, file: dir.file("v.npy"))
        targetColumn.checkpoint = 1
        _ = try catalog.addTargetColumn(targetColumn)
        var references: [String] = []
        for selector in [SelectorKind.less, .spice, .random] {
            references.append(try catalog.select(SelectRequest(corpus: corpus, target: target, selector: selector, budget: Budget(rows: 20), name: "h-\(selector.rawValue)")).reference)
        }
        var options = ReportOptions()
        options.compare.labelField = "kind</td>"
        options.command = "quadcat report '</footer><script>alert(1)</script>'"
        let page = try ReportPage.render(catalog.reportFigures(references, options: options))
        let root = try MarkupElement.parse(Data(page.html.utf8))

        #expect(root.all("script").count == 1 && root.all("img").isEmpty)
        #expect(root.all("b").allSatisfy(\.children.isEmpty) && root.all("b").contains { $0.text == corpus })
        #expect(!root.descendants.contains { $0.attributes.keys.contains { $0.lowercased().hasPrefix("on") } })
        let text = root.allText
        for label in hostileLabels {
            let shown = String(String.UnicodeScalarView(label.unicodeScalars.map { $0.value < 0x20 ? "\u{FFFD}" : $0 }))
            #expect(root.descendants.contains { $0["data-label"] == shown }, "label \(label.debugDescription) is drawn as data")
        }
        #expect(text.contains(corpus) && text.contains(target) && text.contains("kind</td>") && text.contains("</footer><script>alert(1)</script>"))
        #expect(!page.html.contains("<script>alert") && !page.html.contains("<img"))
    }

    /// Relative luminance of "#RRGGBB" (sRGB).
    static func luminance(_ hex: String) -> Double {
        let digits = Array(hex.dropFirst())
        let channels = (0..<3).map { Double(Int(String(digits[2 * $0...2 * $0 + 1]), radix: 16)!) / 255 }
        let linear = channels.map { $0 <= 0.04045 ? $0 / 12.92 : pow(($0 + 0.055) / 1.055, 2.4) }
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    }
}
