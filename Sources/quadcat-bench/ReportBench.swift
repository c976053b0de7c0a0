import Catalog
import Foundation
import Selectors

/// Issue 12's figures: what `report` costs on top of `compare` (its baseline: the same comparison
/// as a table), for five 5% subsets of a demo pool, at two gradient dimensions. The charts summarise
/// (binned histograms, counts per label), so their cost and the page's size should not grow with the
/// subsets or the dimension; compare's own criteria (its scoring pass, log det, near duplicates) do.
struct ReportBench {
    let work: URL
    let rows: Int
    let dimensions: [Int]

    struct Row: Codable {
        var rows: Int
        var gradientDimension: Int
        var subsetRows: Int
        /// `compare` alone, and `report` (compare, summaries, page written), in one process.
        var compareSeconds: Double
        var reportSeconds: Double
        /// Binning and drawing: the report's own work.
        var chartSeconds: Double
        /// report / compare (about 1: the charts are a rounding error next to compare's criteria).
        var ratio: Double
        /// chartSeconds / compareSeconds.
        var chartShare: Double
        var bytes: Int
        var largestChart: Int
    }

    func run() throws -> [Row] {
        report("== report on top of compare: five 5% subsets of a \(rows)-row demo pool")
        report("dimension  subset rows  compare s  report s  charts s  report/compare  charts/compare  page KiB  largest chart")
        var out: [Row] = []
        for dimension in dimensions {
            let directory = work.appendingPathComponent("report-\(rows)-\(dimension)")
            try? FileManager.default.removeItem(at: directory)
            var configuration = SyntheticCorpus.Configuration()
            configuration.rows = rows
            configuration.gradientDim = dimension
            let (catalog, _) = try DemoCatalog.build(in: directory, configuration: configuration)
            // Fast selectors only: the figures are about comparing, not selecting.
            var references: [String] = []
            for (name, selector, parameters, seed) in [
                ("less", SelectorKind.less, [:], UInt64(0)), ("less-ip", .less, ["similarity": "inner-product"], 0),
                ("quad", .quad, [:], 0), ("random-1", .random, [:], 1), ("random-2", .random, [:], 2),
            ] {
                var request = SelectRequest(corpus: DemoCatalog.corpus, target: DemoCatalog.target, selector: selector, budget: try Budget(parsing: "5%"), name: name)
                request.parameters = parameters
                request.seed = seed
                references.append(try catalog.select(request).reference)
            }
            var options = ReportOptions()
            options.compare = DemoCatalog.compareOptions
            // Alternated and best of two: the machine is shared, and the first run also warms the page cache.
            var compare = Double.infinity, whole = Double.infinity
            var summary: ReportSummary?
            let page = directory.appendingPathComponent("report.html")
            for _ in 0..<2 {
                compare = min(compare, try Measure.once { _ = try catalog.compare(references, options: options.compare) })
                whole = min(whole, try Measure.once { summary = try catalog.writeReport(references, to: page, options: options) })
            }
            let timings = summary!.timings
            let row = Row(
                rows: rows, gradientDimension: dimension, subsetRows: try catalog.subset(references[0]).rowCount,
                compareSeconds: compare, reportSeconds: whole, chartSeconds: (timings["summaries"] ?? 0) + (timings["page"] ?? 0),
                ratio: whole / compare, chartShare: ((timings["summaries"] ?? 0) + (timings["page"] ?? 0)) / compare, bytes: summary!.bytes, largestChart: summary!.largestChart)
            out.append(row)
            report(String(
                format: "%9d  %11d  %9.2f  %8.2f  %8.3f  %14.2f  %13.4f%%  %8.0f  %13d", dimension, row.subsetRows, row.compareSeconds,
                row.reportSeconds, row.chartSeconds, row.ratio, 100 * row.chartShare, Double(row.bytes) / 1024, row.largestChart))
            try? FileManager.default.removeItem(at: directory)
        }
        return out
    }
}
