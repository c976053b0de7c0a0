import Foundation
import Testing
import TestSupport

/// The demo's report in a real browser: headless Chromium renders it without console errors, to a
/// PNG of the expected size that shows the charts, and its live DOM (after the page's script ran)
/// holds the charts and the table sorted as the address asks.
@Suite("Report in Chromium", .enabled(if: Chromium.executable != nil, "chromium is not installed (`make test` installs it)"))
struct ReportBrowserTests {
    @Test func theConsoleCheckSeesPageErrors() throws {
        // The check below is only worth something if this browser reports a failing script.
        let scratch = TemporaryDirectory("chromium-probe")
        let page = scratch.file("probe.html")
        try Data("<!DOCTYPE html><html><body><p>probe</p><script>throw new Error(\"probe failure\");</script></body></html>".utf8).write(to: page)
        let run = try Chromium.run(["--dump-dom"], url: page, scratch: scratch)
        #expect(!run.timedOut && run.status == 0, "\(run.stderr.suffix(2000))")
        #expect(run.consoleMessages.contains { $0.contains("probe failure") }, "\(run.stderr.suffix(2000))")
    }

    @Test func theDemoReportRendersWithoutConsoleErrors() throws {
        let demo = ReportCLITests.demo
        #expect(demo.output.status == 0, "\(demo.output.stderr)")
        let scratch = TemporaryDirectory("chromium")
        let png = scratch.file("report.png")
        let shot = try Chromium.run(["--screenshot=\(png.path)", "--window-size=1280,2000"], url: demo.report, scratch: scratch)
        #expect(!shot.timedOut && shot.status == 0, "\(shot.stderr.suffix(2000))")
        #expect(shot.consoleMessages.isEmpty, "\(shot.consoleMessages)")

        let colours = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#BDBDBD"]
        let image = try PNGSummary.read(png, colours: colours, margin: 24)
        #expect(image.width == 1280 && image.height == 2000)
        #expect(image.inked > 0.04, "the page is nearly blank (\(image.inked))")
        for colour in colours { #expect(image.colours[colour, default: 0] > 50, "no \(colour) on the first screen") }
        #expect(image.inkedInRightMargin == 0, "content spills past the page's margins at 1280 px")
    }

    @Test func theLiveDOMHoldsTheChartsAndSortsByTheAddress() throws {
        let demo = ReportCLITests.demo
        let scratch = TemporaryDirectory("chromium-dom")
        var address = URLComponents(url: demo.report, resolvingAgainstBaseURL: false)!
        address.fragment = "sort=-meanLESSScore"
        let run = try Chromium.run(["--dump-dom"], url: address.url!, scratch: scratch)
        #expect(!run.timedOut && run.status == 0, "\(run.stderr.suffix(2000))")
        #expect(run.consoleMessages.isEmpty, "\(run.consoleMessages)")
        let dom = run.stdout

        // Every chart of the file is in the live document.
        let file = try MarkupElement.parse(Data(contentsOf: demo.report))
        for (kind, count) in Dictionary(grouping: file.descendants.compactMap { $0["data-chart"] }, by: { $0 }).mapValues(\.count) {
            #expect(Self.occurrences(of: "data-chart=\"\(kind)\"", in: dom) == count, "\(kind)")
        }
        #expect(Self.occurrences(of: "<svg", in: dom) == file.all("svg").count)
        // The script ran: the table is sortable and sorted by mean LESS score, highest first.
        #expect(dom.contains("class=\"compare sortable\""))
        #expect(dom.range(of: #"data-key="meanLESSScore"[^>]*aria-sort="descending""#, options: .regularExpression) != nil)
        let scores = file.all("tr").filter { $0["data-subset"] != nil }.map { row in
            (row["data-subset"]!, Double(row.all("td").first { $0["data-key"] == "meanLESSScore" }!["data-value"]!)!)
        }
        let expected = scores.sorted { $0.1 > $1.1 }.map(\.0)
        let order = dom.matches(of: /<tr data-subset="([^"]+)"/).map { String($0.1) }
        #expect(order == expected)
    }

    static func occurrences(of needle: String, in text: String) -> Int { text.components(separatedBy: needle).count - 1 }
}
