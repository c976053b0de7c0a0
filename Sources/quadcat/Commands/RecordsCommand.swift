import ArgumentParser
import Catalog
import Foundation

#if canImport(Glibc)
import Glibc
#endif

struct RecordsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "records", abstract: "Print a corpus's stored records as JSONL, in row order.",
        discussion: """
            Each record byte for byte as ingested, one per line: rows START to START+COUNT-1 (to the end by \
            default; a count past the end stops there), so line i is row START+i of the catalog. Streamed \
            chunk by chunk to standard output. A shard set (SET or SET/head.quadcat) reads its shards. The \
            Python package's `python -m quadcat features` reads a corpus's text this way.
            """)

    @OptionGroup var path: CatalogPath
    @Option(help: "The corpus.") var corpus: String
    @Option(help: "The first row.") var start = 0
    @Option(help: "How many rows (default: to the end).") var count: Int?

    func run() throws {
        try reportingErrors {
            if let count, count < 0 {
                throw CatalogError(.invalidRequest, "--count is \(count); give 0 or more rows")
            }
            let catalog = try path.open()
            let total = try catalog.rowCount(corpus: corpus)
            // A start outside 0...total goes to the library as an empty range, which names the row.
            let end = start >= 0 && start <= total ? start + min(count ?? total, total - start) : start
            let output = StandardOutput()
            try catalog.forEachRecord(corpus: corpus, rows: start..<end) { _, record in try output.writeLine(record) }
            try output.flush()
        }
    }
}

/// Standard output written in 1 MiB blocks. A reader that goes away (`quadcat records ... | head`)
/// ends the process quietly with status 0 rather than by SIGPIPE or a trap.
final class StandardOutput {
    private var buffer: [UInt8] = []
    private let blockSize = 1 << 20

    init() {
        signal(SIGPIPE, SIG_IGN)
        buffer.reserveCapacity(blockSize)
    }

    /// Appends `bytes` and a line break.
    func writeLine(_ bytes: UnsafeRawBufferPointer) throws {
        buffer.append(contentsOf: bytes)
        buffer.append(0x0a)
        if buffer.count >= blockSize { try flush() }
    }

    func flush() throws {
        defer { buffer.removeAll(keepingCapacity: true) }
        try buffer.withUnsafeBytes { bytes in
            var done = 0
            while done < bytes.count {
                let written = Glibc.write(STDOUT_FILENO, bytes.baseAddress! + done, bytes.count - done)
                if written >= 0 {
                    done += written
                } else if errno == EINTR {
                    continue
                } else if errno == EPIPE {
                    throw ExitCode.success
                } else {
                    throw CatalogError(.io, "cannot write to standard output: \(String(cString: strerror(errno)))")
                }
            }
        }
    }
}
