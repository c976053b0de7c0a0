/// One selected row.
public struct Member: Sendable, Equatable, Codable {
    /// Row number in the corpus.
    public var row: Int
    /// The selector's score for the row (its ranking criterion; meaning depends on the selector).
    public var score: Double
    /// A training weight for the row, where the selector produces one (GTP), else 1.
    public var weight: Double

    public init(row: Int, score: Double, weight: Double = 1) {
        self.row = row
        self.score = score
        self.weight = weight
    }
}

/// What a selector reports about its run, stored with the subset.
public struct Diagnostics: Sendable, Equatable, Codable {
    /// The objective after each step or round (meaning per selector: LESS has none, SPICE F(S) per
    /// pick, GTP relative residual per iteration, Quad accepted rows per round).
    public var objectiveTrace: [Double] = []
    /// Named counts and values (iterations, pulls, skipped rows, ...).
    public var counters: [String: Double] = [:]
    /// Plain-language remarks, for example why a subset is smaller than its budget.
    public var notes: [String] = []
    /// Seconds spent per phase.
    public var timings: [String: Double] = [:]
    /// Further per-step or per-round sequences by name (Quad: pulls and accepted pulls per round).
    /// A name of the form `somethingPerStep` reads as "something" per "step" in reports.
    public var series: [String: [Double]] = [:]
    /// What `objectiveTrace` measures, for chart axes (e.g. "relative residual ||R|| / ||Y||"); nil: "objective".
    public var objectiveLabel: String?
    /// What one entry of `objectiveTrace` is (e.g. "iteration", "pick", "round"); nil: "step".
    public var stepLabel: String?

    public init() {}

    private enum CodingKeys: String, CodingKey { case objectiveTrace, counters, notes, timings, series, objectiveLabel, stepLabel }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        objectiveTrace = try container.decode([Double].self, forKey: .objectiveTrace)
        counters = try container.decode([String: Double].self, forKey: .counters)
        notes = try container.decode([String].self, forKey: .notes)
        timings = try container.decode([String: Double].self, forKey: .timings)
        // Subsets stored before `series` existed have none.
        series = try container.decodeIfPresent([String: [Double]].self, forKey: .series) ?? [:]
        objectiveLabel = try container.decodeIfPresent(String.self, forKey: .objectiveLabel)
        stepLabel = try container.decodeIfPresent(String.self, forKey: .stepLabel)
    }
}

/// The result of a selector: members in rank order plus diagnostics.
public struct Selection: Sendable, Equatable {
    /// Selected rows, best first; no row appears twice.
    public var members: [Member]
    public var diagnostics: Diagnostics

    public init(members: [Member], diagnostics: Diagnostics = Diagnostics()) {
        self.members = members
        self.diagnostics = diagnostics
    }

    /// The selected row numbers in rank order.
    public var rows: [Int] { members.map(\.row) }
}

/// Errors a selector raises for inputs it cannot work with.
public struct SelectorError: Error, CustomStringConvertible, Sendable, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
