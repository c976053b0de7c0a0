import Foundation

/// Where JSONL records come from: a file or standard input.
///
/// A file may be plain JSONL or compressed with gzip or zstd; the reader tells them apart by their first
/// bytes (the magic numbers), not by the file name, and decompresses while it streams. Standard input
/// is treated the same way, so `zstdcat`-less pipelines such as `curl ... | quadcat ingest CAT -` work.
public enum JSONLInput: Sendable, Equatable {
    case file(URL)
    case standardInput

    /// The input as a command line names it: a path, or `-` for standard input.
    public init(argument: String) {
        self = argument == "-" ? .standardInput : .file(URL(fileURLWithPath: argument))
    }

    /// How messages name the input: the path as given, or "standard input".
    public var displayName: String {
        switch self {
        case .file(let url): url.path
        case .standardInput: "standard input"
        }
    }

    /// The path recorded as the input's origin: the path as given, or `-`.
    public var recordedPath: String {
        switch self {
        case .file(let url): url.path
        case .standardInput: "-"
        }
    }

    /// The short name each record's source ("NAME:LINE") starts with: the file name, or `stdin`.
    public var sourceName: String {
        switch self {
        case .file(let url): url.lastPathComponent
        case .standardInput: "stdin"
        }
    }
}

/// How an input's bytes are encoded, as its first bytes say.
public enum InputCompression: String, Sendable, Codable {
    case none
    case gzip
    case zstd

    /// Decides from the first bytes of an input (up to four; fewer when the input is that short).
    static func detect(_ prefix: [UInt8]) -> InputCompression {
        if prefix.count >= 2 && prefix[0] == 0x1f && prefix[1] == 0x8b { return .gzip }
        if prefix.count >= 4 && prefix[0] == 0x28 && prefix[1] == 0xb5 && prefix[2] == 0x2f && prefix[3] == 0xfd { return .zstd }
        return .none
    }

    /// The command that prints such a file's lines, for remedies ("zcat FILE | sed -n '3p'").
    var catCommand: String {
        switch self {
        case .none: "cat"
        case .gzip: "zcat"
        case .zstd: "zstdcat"
        }
    }
}
