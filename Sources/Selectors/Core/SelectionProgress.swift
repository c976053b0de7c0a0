/// A progress update from a running selector: rows scanned, picks made, iterations run.
public struct SelectionProgress: Sendable, Equatable {
    /// What is being done, e.g. "scanning gradients" or "picking".
    public var phase: String
    /// Units done so far.
    public var completed: Int
    /// Units in all, when known (then an ETA can be shown).
    public var total: Int?
    /// What the units are: "rows", "picks", "iterations".
    public var unit: String
    /// Whether each unit costs more than the one before, in proportion to the units done (a greedy
    /// pick is checked against every earlier pick): an ETA then extrapolates quadratically, not
    /// linearly, and still errs on the short side.
    public var costGrows: Bool
    /// The selector's own estimate of the seconds left in the whole run (all phases to come), when it
    /// has one (GTP: iterations still expected times the mean iteration).
    public var runSecondsLeft: Double?

    public init(phase: String, completed: Int, total: Int?, unit: String, costGrows: Bool = false, runSecondsLeft: Double? = nil) {
        self.phase = phase
        self.completed = completed
        self.total = total
        self.unit = unit
        self.costGrows = costGrows
        self.runSecondsLeft = runSecondsLeft
    }
}

extension SelectionProgress {
    /// Seconds left in a phase of `total` units that took `elapsed` seconds from `start` units to
    /// ``completed``: the units left at the rate so far or, when ``costGrows``, the rest of the
    /// quadratic work (n^2) at the rate so far.
    public func secondsLeft(total: Int, elapsed: Double, since start: Int) -> Double {
        guard completed > start else { return .infinity }
        guard costGrows else { return Double(total - completed) * elapsed / Double(completed - start) }
        func work(_ n: Int) -> Double { Double(n) * Double(n) }
        return (work(total) - work(completed)) * elapsed / (work(completed) - work(start))
    }
}

/// Receives a selector's progress; called from the selector's thread, often (callers rate-limit).
public typealias SelectionProgressHandler = @Sendable (SelectionProgress) -> Void
