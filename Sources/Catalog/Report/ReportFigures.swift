import Foundation
import Selectors

/// Options for `report`.
public struct ReportOptions: Sendable {
    /// How the comparison is computed (target, label field, alpha, near-duplicate threshold), and
    /// the order of the subsets: `compare.sortBy` (a metric recorded with `quadcat metric`) and
    /// `compare.descending` order the table, every per-subset panel and that metric's results chart.
    public var compare = CompareOptions()
    /// Bins of the corpus-wide score histograms.
    public var bins = 40
    /// Bins of the histograms of the members' stored scores and weights.
    public var memberBins = 30
    /// The command line that made the page, printed in its footer.
    public var command: String?

    public init() {}
}

/// Everything the report page shows, gathered from `compare` and the stored subsets. Every chart is
/// a summary whose size does not grow with the subsets (binned histograms, counts per label value).
public struct ReportFigures: Sendable {
    /// A per-row criterion over the whole corpus (e.g. each row's LESS score), binned for the corpus
    /// and for each subset on the same bins.
    public struct RowDistribution: Sendable {
        public var name: String
        public var about: String
        public var corpus: BinnedCounts
        public var corpusMean: Double?
        /// One per subset, in the order of the comparison's entries.
        public var subsets: [BinnedCounts]
        public var subsetMeans: [Double?]
    }

    /// A value stored with each member (its score as the selector ranked it, or its weight), binned
    /// over the subset's own range. Left out when it carries no distribution: all equal, or a score
    /// that only encodes the rank (n, n-1, ..., 1).
    public struct MemberDistribution: Sendable {
        /// Index of the subset in the comparison's entries.
        public var subset: Int
        /// "score", "weight", or "score = weight" when the selector stored the same value as both.
        public var quantity: String
        public var histogram: BinnedCounts
    }

    /// The comparison, exactly as `compare` returns it for the same subsets and options.
    public var comparison: CompareReport
    /// Whether the entries are ordered highest first by ``CompareReport/sortedBy``.
    public var sortDescending = false
    /// The subsets' lineage and diagnostics, in the order of the comparison's entries.
    public var subsets: [SubsetInfo]
    public var rowDistributions: [RowDistribution]
    public var memberDistributions: [MemberDistribution]
    /// The catalog directory's name.
    public var catalogName: String
    /// When the figures were gathered (UTC, ISO 8601).
    public var generatedAt: String
    public var toolVersion: String
    public var command: String?
    /// Seconds spent per phase: "compare" (the comparison and its scoring pass over the corpus) and
    /// "summaries" (binning); writing the page adds "page".
    public var timings: [String: Double] = [:]
}

extension Catalog {
    /// Gathers what `report` draws: the comparison (one scoring pass over the corpus, shared with the
    /// score histograms), the subsets' lineage and diagnostics, and binned distributions.
    public func reportFigures(_ references: [String], options: ReportOptions = ReportOptions(), progress: ProgressHandler? = nil) throws -> ReportFigures {
        guard options.bins > 0, options.memberBins > 0 else { throw CatalogError(.invalidRequest, "histograms need at least one bin") }
        progress?(ProgressEvent(phase: "comparing \(references.count) subsets", completed: 0, total: nil, unit: "rows"))
        var clock = ContinuousClock.now
        let workings = try compareWorkings(references, options: options.compare)
        let compareSeconds = Self.seconds(since: &clock)
        progress?(ProgressEvent(phase: "summarising", completed: 0, total: nil, unit: "rows"))

        var rowDistributions: [ReportFigures.RowDistribution] = []
        for criterion in workings.rowCriteria {
            guard let range = BinnedCounts.range(of: criterion.values.lazy.map(Double.init)) else { continue }
            let corpus = BinnedCounts(criterion.values.lazy.map(Double.init), lower: range.lower, upper: range.upper, bins: options.bins)
            let subsets = workings.members.map { members in
                BinnedCounts(members.lazy.map { Double(criterion.values[$0.row]) }, lower: range.lower, upper: range.upper, bins: options.bins)
            }
            rowDistributions.append(.init(
                name: criterion.name, about: criterion.about, corpus: corpus, corpusMean: Self.finiteMean(criterion.values.lazy.map(Double.init)),
                subsets: subsets, subsetMeans: workings.members.map { members in Self.finiteMean(members.lazy.map { Double(criterion.values[$0.row]) }) }))
        }

        var memberDistributions: [ReportFigures.MemberDistribution] = []
        for (index, members) in workings.members.enumerated() {
            let scores = members.map(\.score), weights = members.map(\.weight)
            let rankOnly = zip(scores, scores.dropFirst()).allSatisfy { $0 - $1 == 1 }
            let same = scores == weights
            for (quantity, values, skip) in [(same ? "score = weight" : "score", scores, rankOnly), ("weight", weights, same)] where !skip {
                guard let range = BinnedCounts.range(of: values), Set(values).count > 1 else { continue }
                memberDistributions.append(.init(subset: index, quantity: quantity, histogram: BinnedCounts(values, lower: range.lower, upper: range.upper, bins: options.memberBins)))
            }
        }

        return ReportFigures(
            comparison: workings.report, sortDescending: options.compare.sortBy != nil && options.compare.descending, subsets: workings.subsets, rowDistributions: rowDistributions,
            memberDistributions: memberDistributions, catalogName: root.lastPathComponent, generatedAt: Self.timestamp(),
            toolVersion: Self.toolVersion, command: options.command,
            timings: ["compare": compareSeconds, "summaries": Self.seconds(since: &clock)])
    }

    static func seconds(since clock: inout ContinuousClock.Instant) -> Double {
        let now = ContinuousClock.now
        defer { clock = now }
        let elapsed = now - clock
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    }

    static func finiteMean<S: Sequence>(_ values: S) -> Double? where S.Element == Double {
        var sum = 0.0, count = 0
        for value in values where value.isFinite {
            sum += value
            count += 1
        }
        return count == 0 ? nil : sum / Double(count)
    }
}
