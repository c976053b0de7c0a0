import Foundation
import GRDB

/// Exact-duplicate texts within a corpus: groups of rows whose text hashes are equal.
enum DuplicateTexts {
    struct Summary {
        var groups = 0
        /// Rows beyond the first of each group.
        var extraRows = 0
        /// The ids of up to five rows of each of the first groups (by first row).
        var examples: [[String]] = []
    }

    /// With one GROUP BY over the corpus's text hashes in the index.
    static func find(corpusID: Int64, exampleLimit: Int = 5, _ db: Database) throws -> Summary {
        let groups = try Row.fetchAll(db, sql: """
            SELECT content_hash, COUNT(*) AS n, MIN(row) AS first FROM document WHERE corpus_id = ?
            GROUP BY content_hash HAVING COUNT(*) > 1
            """, arguments: [corpusID])
        let extra = groups.reduce(0) { $0 + ($1["n"] as Int) - 1 }
        let examples = try groups.sorted { ($0["first"] as Int) < ($1["first"] as Int) }.prefix(exampleLimit).map { group in
            try String.fetchAll(db, sql: "SELECT external_id FROM document WHERE corpus_id = ? AND content_hash = ? ORDER BY row LIMIT 5", arguments: [corpusID, group["content_hash"] as Data])
        }
        return Summary(groups: groups.count, extraRows: extra, examples: examples)
    }

    /// From the text hashes of every row of the corpus (16 bytes each, row 0 first), sorted in memory:
    /// a tenth of the GROUP BY's time on a large ingest. Same result as ``find(corpusID:exampleLimit:_:)``.
    static func find(hashes: consuming [UInt8], corpusID: Int64, exampleLimit: Int = 5, _ db: Database) throws -> Summary {
        struct Entry {
            var high: UInt64
            var low: UInt64
            var row: Int
        }
        var entries = hashes.withUnsafeBytes { bytes in
            (0..<bytes.count / 16).map { row in
                Entry(high: UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 16 * row, as: UInt64.self)),
                      low: UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 16 * row + 8, as: UInt64.self)), row: row)
            }
        }
        _ = consume hashes  // freed before the sort: a large ingest holds the entries only
        entries.sort { ($0.high, $0.low, $0.row) < ($1.high, $1.low, $1.row) }
        var summary = Summary()
        var groups: [ArraySlice<Entry>] = []
        var start = 0
        while start < entries.count {
            var end = start + 1
            while end < entries.count && entries[end].high == entries[start].high && entries[end].low == entries[start].low { end += 1 }
            if end - start > 1 {
                summary.groups += 1
                summary.extraRows += end - start - 1
                groups.append(entries[start..<end])
            }
            start = end
        }
        summary.examples = try groups.sorted { $0.first!.row < $1.first!.row }.prefix(exampleLimit).map { group in
            try group.prefix(5).map { entry in
                try String.fetchOne(db, sql: "SELECT external_id FROM document WHERE corpus_id = ? AND row = ?", arguments: [corpusID, entry.row])!
            }
        }
        return summary
    }
}

/// The text hashes of the rows an ingest adds to a new corpus, kept while they fit, for
/// ``DuplicateTexts/find(hashes:corpusID:exampleLimit:_:)``.
struct TextHashCollector {
    /// 4 Mi rows (64 MiB of hashes, about 10 GB of web text); a larger ingest uses the GROUP BY.
    static let rowLimit = 4 << 20
    private(set) var hashes: [UInt8]?

    /// Collects for a corpus that starts empty; an append needs the rows already stored, so the
    /// collector stays off.
    init(newCorpus: Bool) { hashes = newCorpus ? [] : nil }

    /// The hashes collected (nil when there are none to use), leaving the collector empty.
    mutating func take() -> [UInt8]? {
        defer { hashes = nil }
        return hashes
    }

    mutating func add(_ rowHashes: [UInt8]) {
        guard hashes != nil else { return }
        if hashes!.count + rowHashes.count > 16 * Self.rowLimit {
            hashes = nil
        } else {
            hashes!.append(contentsOf: rowHashes)
        }
    }
}
