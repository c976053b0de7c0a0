import Catalog
import Foundation
import Testing
import TestSupport

/// `quadcat demo` writes a report, and `quadcat report` writes the same numbers `compare --json`
/// prints; both run as subprocesses.
@Suite("quadcat report")
struct ReportCLITests {
    struct Demo: @unchecked Sendable {
        let directory: TemporaryDirectory
        let output: QuadcatBinary.Result
        var catalog: String { directory.file("demo/demo.quadcat").path }
        var report: URL { directory.file("demo/report.html") }
        static let subsets = ["demo-less", "demo-gtp", "demo-spice", "demo-quad", "demo-random"]
    }

    /// One 2,000-row demo run for the suites of this process (it also writes the browser test's page).
    static let demo: Demo = {
        let directory = TemporaryDirectory("report-cli")
        let output = try! QuadcatBinary.run(["demo", "--dir", directory.file("demo").path, "--rows", "2000"])
        return Demo(directory: directory, output: output)
    }()

    @Test func demoWritesItsReportAndPrintsThePath() throws {
        let demo = Self.demo
        #expect(demo.output.status == 0, "\(demo.output.stderr)")
        #expect(demo.output.stdout.contains("report (open it in a browser): \(demo.report.path)"))
        let page = try MarkupElement.parse(Data(contentsOf: demo.report))
        #expect(page.all(where: "data-chart", is: "compare-table").count == 1)
        let footer = try #require(page.all("footer").first)
        #expect(footer.allText.contains("quadcat demo --dir") && footer.allText.contains("--rows 2000"))
    }

    @Test func reportHoldsTheNumbersOfCompareJSON() throws {
        let demo = Self.demo
        let out = demo.directory.file("same.html")
        let arguments = [demo.catalog] + Demo.subsets + ["--label", "domain"]
        let written = try QuadcatBinary.run(["report"] + arguments + ["--out", out.path, "--json"])
        #expect(written.status == 0, "\(written.stderr)")
        let summary = try JSONField.parse(Data(written.stdout.utf8))
        let bytes = try Data(contentsOf: out).count
        #expect(summary["output"]?.string == out.path && summary["bytes"]?.number == Double(bytes))
        let compared = try QuadcatBinary.run(["compare"] + arguments + ["--json"])
        #expect(compared.status == 0)
        let json = try JSONField.parse(Data(compared.stdout.utf8))
        let entries = json["entries"]!.items
        let page = try MarkupElement.parse(Data(contentsOf: out))

        let rows = page.all("tr").filter { $0["data-subset"] != nil }
        #expect(rows.map { $0["data-subset"]! } == entries.map { $0["subset"]!.string! })
        var numbers = 0
        for (row, entry) in zip(rows, entries) {
            for (key, value) in entry.members {
                guard let number = value.number else { continue }
                let cell = try #require(row.all("td").first { $0["data-key"] == key }, "\(key) is in the table")
                #expect(cell["data-value"].flatMap(Double.init) == number, "\(row["data-subset"]!) \(key)")
                numbers += 1
            }
            let labels = entry["labels"]!.members
            for bar in page.descendants.filter({ $0["data-label"] != nil && $0.parent?.parent?["data-subset"] == row["data-subset"] }) {
                #expect(Double(bar["data-count"]!) == labels[bar["data-label"]!]?.number ?? 0)
            }
        }
        #expect(numbers >= 5 * 10)
        let corpusLabels = json["corpusLabels"]!.members
        for bar in page.descendants where bar["data-corpus-count"] != nil {
            #expect(Double(bar["data-corpus-count"]!) == corpusLabels[bar["data-label"]!]?.number)
        }
        for overlap in json["overlaps"]!.items {
            let cell = try #require(page.descendants.first { $0["data-a"] == overlap["a"]?.string && $0["data-b"] == overlap["b"]?.string })
            #expect(Double(cell["data-shared"]!) == overlap["shared"]?.number)
            #expect(Double(cell["data-jaccard"]!) == overlap["jaccard"]?.number)
        }
    }

    @Test func reportSortsByARecordedMetricAndChartsTheResults() throws {
        let demo = Self.demo
        #expect(demo.output.status == 0, "\(demo.output.stderr)")
        // A copy of the demo's catalog, so that the other tests' pages stay without metrics.
        let scratch = TemporaryDirectory("report-cli-sort")
        let catalog = scratch.file("demo.quadcat").path
        try FileManager.default.copyItem(atPath: demo.catalog, toPath: catalog)
        let losses = ["demo-less": "3.86", "demo-gtp": "3.91", "demo-spice": "3.89", "demo-quad": "3.84"]
        for (subset, loss) in losses {
            let recorded = try QuadcatBinary.run(["metric", catalog, subset, "target_loss=\(loss)", "target_loss_sd=0.01", "--note", "2 seeds"])
            #expect(recorded.status == 0, "\(recorded.stderr)")
        }
        let ascending = ["demo-quad", "demo-less", "demo-spice", "demo-gtp"]
        for descending in [false, true] {
            let out = scratch.file("sorted-\(descending).html")
            let arguments = ["report", catalog] + Demo.subsets + ["--sort", "target_loss", "--out", out.path] + (descending ? ["--descending"] : [])
            let written = try QuadcatBinary.run(arguments + ["--json"])
            #expect(written.status == 0, "\(written.stderr)")
            #expect(try JSONField.parse(Data(written.stdout.utf8))["charts"]?["metric-bars"]?.number == 1)
            let page = try MarkupElement.parse(Data(contentsOf: out))
            let order = (descending ? ascending.reversed() : ascending).map { "\($0)@1" } + ["demo-random@1"]
            #expect(page.all("tr").compactMap { $0["data-subset"] } == order)
            let header = try #require(page.all("th").first { $0["data-key"] == "metrics.target_loss" })
            #expect(header.text == "target_loss (sorted)")
            #expect(page.all(where: "data-chart", is: "lineage").map { $0["data-subset"]! } == order)
            let chart = try #require(page.all(where: "data-chart", is: "metric-bars").first)
            let bars = chart.descendants.filter { $0.name == "g" && $0["data-value"] != nil }
            #expect(bars.map { $0["data-subset"]! } == Array(order.prefix(4)))
            #expect(bars.map { $0["data-value"]! } == Array(order.prefix(4)).map { losses[String($0.dropLast(2))]! })
            #expect(bars.allSatisfy { $0["data-sd"] == "0.01" && $0.all("title").first?.text.contains("(2 seeds)") == true })
            #expect(chart.descendants.filter { $0["data-missing"] == "true" }.map { $0["data-subset"] } == ["demo-random@1"])
        }
        let unknown = try QuadcatBinary.run(["report", catalog, "demo-less", "--sort", "nope", "--out", scratch.file("z.html").path])
        #expect(unknown.status == 1 && unknown.stderr.contains("no compared subset has a metric 'nope'") && unknown.stderr.contains("target_loss"))
        #expect(!FileManager.default.fileExists(atPath: scratch.file("z.html").path))
    }

    @Test func reportWritesToStandardOutputAndRefusesBadRequests() throws {
        let demo = Self.demo
        let stdout = try QuadcatBinary.run(["report", demo.catalog, "demo-less", "demo-random", "--out", "-"])
        #expect(stdout.status == 0 && stdout.stderr.contains("wrote -"))
        let page = try MarkupElement.parse(Data(stdout.stdout.utf8))
        #expect(page.all("tr").filter { $0["data-subset"] != nil }.count == 2)
        #expect(page.all("section").first { $0["id"] == "labels" }?.allText.contains("--label FIELD") == true)

        let unknown = try QuadcatBinary.run(["report", demo.catalog, "demo-less", "nope", "--out", demo.directory.file("x.html").path])
        #expect(unknown.status == 1 && unknown.stderr.contains("no subset or tag named 'nope'"))
        let missingDirectory = demo.directory.file("no/such/dir/r.html")
        let nowhere = try QuadcatBinary.run(["report", demo.catalog, "demo-less", "--out", missingDirectory.path])
        #expect(nowhere.status == 1 && nowhere.stderr.contains("does not exist"))
        let badBins = try QuadcatBinary.run(["report", demo.catalog, "demo-less", "--bins", "0", "--out", demo.directory.file("y.html").path])
        #expect(badBins.status == 1 && badBins.stderr.contains("bin"))
        for name in ["x.html", "y.html", ".x.html.partial", ".y.html.partial"] {
            #expect(!FileManager.default.fileExists(atPath: demo.directory.file(name).path), "\(name) was left behind")
        }
    }
}
