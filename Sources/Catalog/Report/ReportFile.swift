import Foundation

/// What `report` wrote.
public struct ReportSummary: Codable, Sendable {
    /// The file written, or "-" for standard output.
    public var output: String
    public var bytes: Int
    public var subsets: Int
    /// Charts and tables by kind (`data-chart` names).
    public var charts: [String: Int]
    /// The most SVG elements in any one chart.
    public var largestChart: Int
    /// Seconds per phase: "compare", "summaries" and "page" (rendering and writing).
    public var timings: [String: Double]
}

extension ReportFigures {
    /// Writes the page to `url` (through a temporary file renamed into place) or, when nil, to
    /// standard output.
    public func write(to url: URL?) throws -> ReportSummary {
        var clock = ContinuousClock.now
        let rendered = try ReportPage.render(self)
        let bytes = Array(rendered.html.utf8)
        let sink = try OutputSink(url)
        try sink.write(bytes)
        try sink.close()
        return ReportSummary(
            output: url?.path ?? "-", bytes: bytes.count, subsets: comparison.entries.count, charts: rendered.charts,
            largestChart: rendered.largestChart, timings: timings.merging(["page": Catalog.seconds(since: &clock)]) { $1 })
    }
}

extension Catalog {
    /// `report`: gathers the figures for `references` and writes the page (see ``ReportPage``).
    public func writeReport(_ references: [String], to url: URL?, options: ReportOptions = ReportOptions(), progress: ProgressHandler? = nil) throws -> ReportSummary {
        if let url { try OutputSink.checkDestination(url) }
        return try reportFigures(references, options: options, progress: progress).write(to: url)
    }
}
