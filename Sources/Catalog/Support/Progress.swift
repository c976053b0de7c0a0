/// A progress update from a long catalog operation.
public struct ProgressEvent: Sendable {
    /// What is being done, e.g. "reading pool.jsonl".
    public var phase: String
    /// Units done so far.
    public var completed: Int
    /// Units in all, when known.
    public var total: Int?
    /// What the units are ("bytes" or "rows").
    public var unit: String

    public init(phase: String, completed: Int, total: Int?, unit: String) {
        self.phase = phase
        self.completed = completed
        self.total = total
        self.unit = unit
    }
}

/// Receives progress updates; the command-line tool draws them on a terminal.
public typealias ProgressHandler = @Sendable (ProgressEvent) -> Void
