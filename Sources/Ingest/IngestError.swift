import Foundation

/// A reader's refusal of an input file, precise enough to act on.
///
/// It names the file as the user gave it, where in the file the fault is, what was found there and
/// what to do about it, so a command-line tool can print ``description`` unchanged.
public struct IngestError: Error, CustomStringConvertible, LocalizedError, Sendable, Equatable {
    /// The path as given by the caller.
    public var file: String
    /// Where in the file: "line 17, column 5", "row 42", "byte 128", "tensor 'grads'", "header"; `nil`
    /// when the fault concerns the whole file (it cannot be opened, it is empty).
    public var location: String?
    /// What is wrong, including what was found (no trailing period).
    public var problem: String
    /// What the user should do (a full sentence, or empty when there is nothing to suggest).
    public var remedy: String

    public init(file: String, location: String? = nil, problem: String, remedy: String) {
        self.file = file
        self.location = location
        self.problem = problem
        self.remedy = remedy
    }

    /// `"file: location: problem. remedy"`.
    public var description: String {
        var text = file + ": "
        if let location { text += location + ": " }
        text += problem + "."
        if !remedy.isEmpty { text += " " + remedy }
        return text
    }

    public var errorDescription: String? { description }
}

extension IngestError {
    /// The error for a failed system call (open, read, write, ...), with the errno text.
    static func system(_ file: String, _ action: String, errno code: Int32, location: String? = nil) -> IngestError {
        let reason = String(cString: strerror(code))
        let remedy: String
        switch code {
        case ENOENT: remedy = "Check the path."
        case EACCES, EPERM: remedy = "Check the file's permissions."
        case EISDIR: remedy = "Give the path of a file, not a directory."
        case ENOSPC, EDQUOT: remedy = "Free some disk space and try again."
        default: remedy = "Check that the file is readable and the disk is healthy."
        }
        return IngestError(file: file, location: location, problem: "cannot \(action): \(reason)", remedy: remedy)
    }
}
