import Foundation
import Selectors
import Testing

/// Selectors that scan checkpoints in turn hint the next one halfway through the current one, so a
/// cold store keeps reading; the hint never changes what a scan sees.
@Suite("Scan prefetch hints")
struct ScanPrefetchHintTests {
    /// What happened, in order: blocks handed out ("scan NAME ROWS") and hints ("prefetch NAME").
    final class Log: @unchecked Sendable {
        private let lock = NSLock()
        private var entries: [String] = []
        func add(_ entry: String) {
            lock.lock()
            entries.append(entry)
            lock.unlock()
        }
        var all: [String] {
            lock.lock()
            defer { lock.unlock() }
            return entries
        }
    }

    /// A matrix that records its blocks and the hints it receives.
    struct Recording: VectorSource {
        let name: String
        let matrix: Matrix
        let log: Log
        var rowCount: Int { matrix.rows }
        var dimension: Int { matrix.columns }
        var usableRows: RowMask? { nil }
        func forEachBlock(_ body: (RowBlock) throws -> Void) throws {
            try matrix.forEachBlock { block in
                log.add("scan \(name) \(block.firstRow + block.rowCount)")
                try body(block)
            }
        }
        func gather(rows: [Int]) throws -> Matrix { matrix.rows(rows) }
        func prefetch() { log.add("prefetch \(name)") }
    }

    static func matrix(_ rows: Int, _ columns: Int, seed: UInt64) -> Matrix {
        var random = SeededRandom(seed: seed)
        return Matrix(rows: rows, columns: columns, values: (0..<rows * columns).map { _ in Float(random.nextGaussian()) })
    }

    @Test func theNextSourceIsHintedOnceWhenHalfIsHandedOut() throws {
        let log = Log()
        // 5,000 rows in blocks of 1,024: the hint comes with the block that reaches row 2,500.
        let first = Recording(name: "a", matrix: Self.matrix(5000, 2, seed: 1), log: log)
        let second = Recording(name: "b", matrix: Self.matrix(10, 2, seed: 2), log: log)
        var rows = 0
        try first.forEachBlock(thenPrefetching: second) { rows += $0.rowCount }
        #expect(rows == 5000)
        #expect(log.all == ["scan a 1024", "scan a 2048", "scan a 3072", "prefetch b", "scan a 4096", "scan a 5000"])
    }

    @Test func lessHintsEachNextCheckpointAndScoresAsWithoutHints() throws {
        let log = Log()
        let pools = (0..<3).map { Self.matrix(3000, 8, seed: UInt64(10 + $0)) }
        let targets = (0..<3).map { Self.matrix(4, 8, seed: UInt64(20 + $0)) }
        func checkpoints(_ wrap: (Int, Matrix) -> any VectorSource) -> [CheckpointGradients] {
            (0..<3).map { CheckpointGradients(checkpoint: $0 + 1, learningRate: 1e-5 / Double($0 + 1), pool: wrap($0, pools[$0]), target: targets[$0]) }
        }
        let recorded = try LESS.scores(checkpoints: checkpoints { Recording(name: "c\($0 + 1)", matrix: $1, log: log) }, targetSubtasks: nil)
        let plain = try LESS.scores(checkpoints: checkpoints { $1 }, targetSubtasks: nil)
        #expect(recorded.values.elementsEqual(plain.values) { $0 == $1 || ($0.isNaN && $1.isNaN) })
        let hints = log.all.filter { $0.hasPrefix("prefetch") }
        #expect(hints == ["prefetch c2", "prefetch c3"])
        // Each hint comes while the checkpoint before it is being scanned, past its middle.
        let entries = log.all
        for (hint, previous) in [("prefetch c2", "c1"), ("prefetch c3", "c2")] {
            let at = entries.firstIndex(of: hint)!
            #expect(entries[at - 1] == "scan \(previous) 2048" && entries[at + 1] == "scan \(previous) 3000")
        }
    }
}
