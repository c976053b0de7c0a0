import Catalog
import Foundation
import Selectors
import Testing
import TestSupport

/// Large converted columns are decoded on a second thread while the caller consumes blocks; the
/// caller must still see every row once, in order, with the right values, and an error must stop both.
@Suite("Decode-ahead scan")
struct DecodeAheadScanTests {
    struct Stop: Error {}

    /// 4,500 x 1,024 float16 = 4.6M elements: above the size where the scan decodes ahead.
    static let rows = 4500, dim = 1024

    static func column(_ dir: TemporaryDirectory, codec: CodecPolicy) throws -> (StoredVectors, [Float]) {
        let catalog = try Catalog.create(at: dir.file("c.quadcat"))
        try Fixtures.writeCorpus(dir.file("c.jsonl"), rows: rows)
        _ = try catalog.ingest(corpus: "pool", files: [dir.file("c.jsonl")])
        let values = Fixtures.gaussian(rows: rows, dim: dim, seed: 11)
        try Fixtures.writeFloat16(values, rows: rows, dim: dim, to: dir.file("g.npy"))
        var request = AttachRequest(corpus: "pool", column: "g", file: dir.file("g.npy"))
        request.checkpoint = 1
        request.learningRate = 1e-5
        request.codec = codec
        _ = try catalog.attach(request)
        return (try catalog.vectors(corpus: "pool", column: "g", checkpoint: 1), Fixtures.roundedThroughFloat16(values))
    }

    @Test(arguments: [CodecPolicy.raw, .lz4])
    func everyRowArrivesOnceInOrderWithItsValues(codec: CodecPolicy) throws {
        let dir = TemporaryDirectory()
        let (column, expected) = try Self.column(dir, codec: codec)
        #expect(column.storedDType == .float16)
        var nextRow = 0
        var mismatches = 0
        var blocks = 0
        try column.forEachBlock { block in
            #expect(block.firstRow == nextRow && block.dimension == Self.dim)
            for (i, v) in block.values.enumerated() where v != expected[block.firstRow * Self.dim + i] {
                mismatches += 1
            }
            nextRow += block.rowCount
            blocks += 1
        }
        #expect(nextRow == Self.rows && mismatches == 0 && blocks > 1)
    }

    @Test func aConsumerErrorStopsTheScanAndTheColumnStaysReadable() throws {
        let dir = TemporaryDirectory()
        let (column, expected) = try Self.column(dir, codec: .raw)
        var seen = 0
        #expect(throws: Stop.self) {
            try column.forEachBlock { _ in
                seen += 1
                if seen == 2 { throw Stop() }
            }
        }
        #expect(seen == 2)
        // The producer thread was stopped and joined; a fresh scan reads everything again.
        var sum = 0.0
        try column.forEachBlock { block in for v in block.values { sum += Double(v) } }
        let expectedSum = expected.reduce(0.0) { $0 + Double($1) }
        #expect(abs(sum - expectedSum) <= 1e-9 * max(1, abs(expectedSum)))
    }
}
