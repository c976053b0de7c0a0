/// An error from a catalog operation: what went wrong, where, and what to do about it.
public struct CatalogError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The broad class of failure, which the command-line tool maps to an exit status.
    public enum Kind: String, Sendable {
        /// The request cannot be carried out as given (bad arguments, mismatched shapes, a name in use).
        case invalidRequest
        /// Something named does not exist (corpus, column, target, subset, file).
        case notFound
        /// Stored data is damaged (a checksum mismatch, a missing or truncated chunk file).
        case damaged
        /// An operating-system or SQLite failure.
        case io
    }

    public var kind: Kind
    /// What went wrong, naming the file, row, column or name at fault.
    public var message: String
    /// What the user can do next; empty when there is nothing useful to say.
    public var remedy: String

    public init(_ kind: Kind, _ message: String, remedy: String = "") {
        self.kind = kind
        self.message = message
        self.remedy = remedy
    }

    public var description: String { remedy.isEmpty ? message : "\(message). \(remedy)" }
}
