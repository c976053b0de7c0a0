import Catalog
import Foundation
import Selectors
import Testing
import TestSupport

/// `report`'s Results section: one bar chart per metric recorded with `quadcat metric`, bars in the
/// subsets' colours ordered by value with `KEY_sd` as whiskers, an axis that does not hide small
/// differences, and `--sort KEY [--descending]` ordering the table and every panel.
@Suite("HTML report: results")
struct ReportMetricsTests {
    struct Fixture: @unchecked Sendable {
        let directory: TemporaryDirectory
        let catalog: Catalog
        /// Four subsets; the first three have metrics, the last none.
        let references: [String]
    }

    static let palette = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000"]

    /// target_loss (with target_loss_sd) bunched at 3.84-3.91, accuracy spread from 0.41 to 0.55 and
    /// missing on the second subset, and nothing on the fourth.
    static let fixture: Fixture = {
        let fixture = try! build("report-metrics")
        let references = fixture.references
        _ = try! fixture.catalog.recordMetrics(references[0], values: [("target_loss", 3.91), ("target_loss_sd", 0.02), ("accuracy", 0.41)], note: "3 seeds")
        _ = try! fixture.catalog.recordMetrics(references[1], values: [("target_loss", 3.84), ("target_loss_sd", 0.03)])
        _ = try! fixture.catalog.recordMetrics(references[2], values: [("target_loss", 3.87), ("target_loss_sd", 0.01), ("accuracy", 0.55)])
        return fixture
    }()

    /// An 80-row catalog with a gradient column, a target and four subsets, without metrics.
    static func build(_ label: String) throws -> Fixture {
        let dir = TemporaryDirectory(label)
        var lines: [String] = []
        for r in 0..<80 {
            let record: [String: Any] = ["id": "d\(r)", "text": "text \(r)", "domain": r % 3 == 0 ? "math" : "code"]
            lines.append(String(decoding: try JSONSerialization.data(withJSONObject: record), as: UTF8.self))
        }
        try Data(lines.map { $0 + "\n" }.joined().utf8).write(to: dir.file("pool.jsonl"))
        try Fixtures.writeFloat32(Fixtures.gaussian(rows: 80, dim: 8, seed: 5), rows: 80, dim: 8, to: dir.file("g.npy"))
        try Fixtures.writeFloat32(Fixtures.gaussian(rows: 4, dim: 8, seed: 6), rows: 4, dim: 8, to: dir.file("v.npy"))
        let catalog = try Catalog.create(at: dir.file("c.quadcat"))
        _ = try catalog.ingest(corpus: "pool", files: [dir.file("pool.jsonl")])
        var attach = AttachRequest(corpus: "pool", column: "grad", file: dir.file("g.npy"))
        attach.checkpoint = 1
        attach.learningRate = 1e-5
        _ = try catalog.attach(attach)
        var target = TargetColumnRequest(target: "val", file: dir.file("v.npy"))
        target.checkpoint = 1
        _ = try catalog.addTargetColumn(target)
        var references: [String] = []
        for (name, selector, rows) in [("m-less", SelectorKind.less, 20), ("m-spice", .spice, 20), ("m-random", .random, 20), ("m-none", .random, 10)] {
            references.append(try catalog.select(SelectRequest(corpus: "pool", target: "val", selector: selector, budget: Budget(rows: rows), name: name)).reference)
        }
        return Fixture(directory: dir, catalog: catalog, references: references)
    }

    static func page(_ references: [String], sortBy: String? = nil, descending: Bool = false) throws -> (ReportPage.Rendered, MarkupElement) {
        var options = ReportOptions()
        options.compare.labelField = "domain"
        options.compare.sortBy = sortBy
        options.compare.descending = descending
        let page = try ReportPage.render(fixture.catalog.reportFigures(references, options: options))
        return (page, try MarkupElement.parse(Data(page.html.utf8)))
    }

    static func chart(_ root: MarkupElement, _ key: String) throws -> MarkupElement {
        try #require(root.all(where: "data-chart", is: "metric-bars").first { $0["data-metric"] == key }, "a chart of \(key)")
    }

    /// The bars of a chart in drawing order: subset, value, sd.
    static func bars(_ chart: MarkupElement) -> [(subset: String, value: Double, sd: Double?)] {
        chart.descendants.filter { $0.name == "g" && $0["data-value"] != nil }.map { ($0["data-subset"]!, Double($0["data-value"]!)!, $0["data-sd"].flatMap(Double.init)) }
    }

    @Test func resultsChartEachMetricWithWhiskersInAscendingOrder() throws {
        let refs = Self.fixture.references
        let (page, root) = try Self.page(refs)
        let sections = root.all("section").compactMap { $0["id"] }
        let results = try #require(sections.firstIndex(of: "results"), "a Results section")
        #expect(sections[results + 1] == "overlap" && sections[results - 1] == "comparison")
        #expect(root.all("nav").first?.all("a").contains { $0["href"] == "#results" } == true)

        // One chart per metric; the _sd key is a whisker, not a chart.
        let charts = root.all(where: "data-chart", is: "metric-bars")
        #expect(charts.map { $0["data-metric"]! } == ["accuracy", "target_loss"])
        #expect(page.charts["metric-bars"] == 2)

        let loss = try Self.chart(root, "target_loss")
        #expect(loss["data-sd-key"] == "target_loss_sd" && loss["data-order"] == "ascending")
        let drawn = Self.bars(loss)
        #expect(drawn.map(\.subset) == [refs[1], refs[2], refs[0]])
        #expect(drawn.map(\.value) == [3.84, 3.87, 3.91] && drawn.map(\.sd) == [0.03, 0.01, 0.02])
        // Each bar in its subset's colour (the subset's position in the comparison), its tooltip the
        // value, the sd and the note.
        for group in loss.descendants where group.name == "g" && group["data-value"] != nil {
            let index = refs.firstIndex(of: group["data-subset"]!)!
            let bar = try #require(group.all("rect").first)
            #expect(bar["fill"] == Self.palette[index])
            let tip = try #require(bar.all("title").first).text
            #expect(tip.contains(group["data-subset"]!) && tip.contains(group["data-value"]!) && tip.contains("\u{00B1} " + group["data-sd"]!))
            #expect(tip.contains("(3 seeds)") == (index == 0), "\(tip)")
            #expect(group.all("line").count == 3, "a whisker and its two caps")
        }
        // The subset without the metric is listed, as "no value", after the bars.
        let missing = loss.descendants.filter { $0["data-missing"] == "true" }
        #expect(missing.map { $0["data-subset"] } == [refs[3]])
        #expect(missing.first?.all("text").contains { $0.text == "no value" } == true)

        // 3.84 to 3.91 from zero would look equal: the axis starts below the lowest value less the
        // largest whisker, and the subtitle says so.
        let start = try #require(loss["data-axis-start"].flatMap(Double.init))
        #expect(loss["data-axis-truncated"] == "true" && start > 3 && start <= 3.84 - 0.03)
        let subtitle = try #require(loss.all("text").first { $0.text.hasPrefix("axis starts at ") }, "\(loss.all("text").map(\.text))")
        #expect(Double(subtitle.text.dropFirst("axis starts at ".count).prefix { $0 != " " }) == start, "\(subtitle.text)")
        #expect(loss.all("text").contains { $0.text.contains("whiskers \u{00B1} sd") })

        // Accuracy, spread out, starts from zero; two subsets lack it.
        let accuracy = try Self.chart(root, "accuracy")
        #expect(Self.bars(accuracy).map(\.subset) == [refs[0], refs[2]] && Self.bars(accuracy).allSatisfy { $0.sd == nil })
        #expect(accuracy["data-axis-start"] == "0" && accuracy["data-axis-truncated"] == nil)
        #expect(!accuracy.all("text").contains { $0.text.contains("axis starts at") })
        #expect(accuracy.descendants.filter { $0["data-missing"] == "true" }.map { $0["data-subset"] } == [refs[1], refs[3]])

        // Unsorted, the table keeps the order given and marks no column.
        #expect(root.all("tr").compactMap { $0["data-subset"] } == refs)
        #expect(!root.all("th").contains { $0.text.contains("(sorted)") || $0["aria-sort"] != nil })
    }

    @Test func sortOrdersTheTableAndEveryPanelAndDescendingReversesTheSortedChart() throws {
        let refs = Self.fixture.references
        for descending in [false, true] {
            let (_, root) = try Self.page(refs, sortBy: "target_loss", descending: descending)
            let byLoss = descending ? [refs[0], refs[2], refs[1]] : [refs[1], refs[2], refs[0]]
            let order = byLoss + [refs[3]]
            #expect(root.all("tr").compactMap { $0["data-subset"] } == order)
            let header = try #require(root.all("th").first { $0["data-key"] == "metrics.target_loss" })
            #expect(header.text == "target_loss (sorted)" && header["aria-sort"] == (descending ? "descending" : "ascending"))
            #expect(root.all("th").filter { $0.text.contains("(sorted)") }.count == 1)
            // Every per-subset panel comes in the same order, each in its new position's colour.
            for kind in ["label-bars", "lineage"] {
                #expect(root.all(where: "data-chart", is: kind).map { $0["data-subset"]! } == order, "\(kind)")
            }
            let labelBars = root.all(where: "data-chart", is: "label-bars")
            for (i, panel) in labelBars.enumerated() {
                #expect(panel.all("rect").first?["fill"] == Self.palette[i])
            }

            // The sorted metric's chart comes first, in the page's order; the others stay lowest first.
            let charts = root.all(where: "data-chart", is: "metric-bars")
            #expect(charts.map { $0["data-metric"]! } == ["target_loss", "accuracy"])
            let loss = try Self.chart(root, "target_loss")
            #expect(Self.bars(loss).map(\.subset) == byLoss && loss["data-order"] == (descending ? "descending" : "ascending"))
            #expect(loss.all("title").first?.text == "target_loss per subset")
            #expect(loss.all("text").contains { $0.text == "target_loss (sorted)" })
            #expect(loss.all("text").contains { $0.text.contains(descending ? "highest first" : "lowest first") })
            let values = Self.bars(loss).map(\.value)
            #expect(values == (descending ? values.sorted(by: >) : values.sorted()))
            for group in loss.descendants where group.name == "g" && group["data-value"] != nil {
                #expect(group.all("rect").first?["fill"] == Self.palette[order.firstIndex(of: group["data-subset"]!)!])
            }
            let accuracy = try Self.chart(root, "accuracy")
            #expect(Self.bars(accuracy).map(\.value) == [0.41, 0.55] && accuracy["data-order"] == "ascending")
        }
    }

    @Test func aPageWithoutMetricsHasNoResultsSection() throws {
        let refs = Self.fixture.references
        let (page, root) = try Self.page([refs[3]])
        #expect(!root.all("section").contains { $0["id"] == "results" })
        #expect(!root.descendants.contains { $0["href"] == "#results" })
        #expect(root.all(where: "data-chart", is: "metric-bars").isEmpty && page.charts["metric-bars"] == nil)
        // Sorting by a metric no compared subset has is refused, as by compare.
        #expect(throws: CatalogError.self) { try Self.page([refs[3]], sortBy: "target_loss") }
    }

    @Test func valuesFarBelowZeroEndTheAxisBelowZeroAndStillReadAsText() throws {
        let fresh = try Self.build("report-metrics-negative")
        let catalog = fresh.catalog, refs = fresh.references
        let hostile = "<b>log-lik</b>&\"x\""
        _ = try catalog.recordMetrics(refs[0], values: [("loglik", -120.5)], note: hostile)
        _ = try catalog.recordMetrics(refs[1], values: [("loglik", -118.25)])
        let page = try ReportPage.render(catalog.reportFigures(Array(refs.prefix(2))))
        let root = try MarkupElement.parse(Data(page.html.utf8))
        let chart = try Self.chart(root, "loglik")
        #expect(Self.bars(chart).map(\.value) == [-120.5, -118.25])
        #expect(chart["data-axis-truncated"] == "true")
        #expect(chart.all("text").contains { $0.text.contains("axis ends at") })
        let tip = try #require(chart.all("rect").first?.all("title").first).text
        #expect(tip.contains(hostile) && root.all("b").allSatisfy { $0.text != "log-lik" })
    }
}
