import Selectors

/// A progress update from a long catalog operation: the same value a running selector reports
/// (``SelectionProgress``: phase, units done, units in all when known, what the units are), so a
/// selection's progress passes through a catalog operation unchanged in shape.
public typealias ProgressEvent = SelectionProgress

/// Receives progress updates; the command-line tool draws them on a terminal.
public typealias ProgressHandler = @Sendable (ProgressEvent) -> Void
