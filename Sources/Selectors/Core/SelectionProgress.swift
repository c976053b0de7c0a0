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

    public init(phase: String, completed: Int, total: Int?, unit: String) {
        self.phase = phase
        self.completed = completed
        self.total = total
        self.unit = unit
    }
}

/// Receives a selector's progress; called from the selector's thread, often (callers rate-limit).
public typealias SelectionProgressHandler = @Sendable (SelectionProgress) -> Void
