import Catalog
import Foundation
import Selectors
import Testing
import TestSupport

/// A scan asks for the segments it reads next to be mapped in the background (and LESS asks for the
/// next checkpoint's). Prefetching must never change what a read returns, must share a mapping with a
/// reader that asks for the same segment meanwhile, and must leave errors to the read that needs the
/// segment.
@Suite("Segment prefetch")
struct SegmentPrefetchTests {
    static let rows = 4500, dim = 1024

    /// A catalog with two float16 checkpoints of one gradient column, each in its own segment file.
    static func catalog(_ dir: TemporaryDirectory) throws -> (Catalog, [[Float]]) {
        let catalog = try Catalog.create(at: dir.file("c.quadcat"))
        try Fixtures.writeCorpus(dir.file("c.jsonl"), rows: rows)
        _ = try catalog.ingest(corpus: "pool", files: [dir.file("c.jsonl")])
        var expected: [[Float]] = []
        for checkpoint in 1...2 {
            let values = Fixtures.gaussian(rows: rows, dim: dim, seed: UInt64(20 + checkpoint))
            let file = dir.file("g\(checkpoint).npy")
            try Fixtures.writeFloat16(values, rows: rows, dim: dim, to: file)
            var request = AttachRequest(corpus: "pool", column: "g", file: file)
            request.checkpoint = checkpoint
            request.learningRate = 1e-5
            request.codec = .raw
            _ = try catalog.attach(request)
            expected.append(Fixtures.roundedThroughFloat16(values))
        }
        return (catalog, expected)
    }

    @Test func prefetchedColumnsReadTheSameValuesWhileScannedConcurrently() throws {
        let dir = TemporaryDirectory()
        let (catalog, expected) = try Self.catalog(dir)
        let columns = try (1...2).map { try catalog.vectors(corpus: "pool", column: "g", checkpoint: $0) }
        for column in columns { column.prefetch() }
        let mismatches = UnsafeMutableBufferPointer<Int>.allocate(capacity: 4)
        mismatches.initialize(repeating: -1)
        defer { mismatches.deallocate() }
        let shared = Counts(mismatches)
        // Two scans of each column at once, racing the background mappings for the same segments.
        DispatchQueue.concurrentPerform(iterations: 4) { i in
            let c = i % 2
            var bad = 0, seen = 0
            do {
                try columns[c].forEachBlock { block in
                    for (k, v) in block.values.enumerated() where v != expected[c][block.firstRow * Self.dim + k] { bad += 1 }
                    seen += block.rowCount
                }
            } catch { bad = -2 }
            shared.set(i, seen == Self.rows ? bad : -3)
        }
        #expect(Array(mismatches) == [0, 0, 0, 0])
    }

    @Test func aMissingSegmentIsReportedByTheReadNotTheHint() throws {
        let dir = TemporaryDirectory()
        let (catalog, _) = try Self.catalog(dir)
        let column = try catalog.vectors(corpus: "pool", column: "g", checkpoint: 2)
        let chunks = dir.file("c.quadcat").appendingPathComponent("chunks")
        for name in try FileManager.default.contentsOfDirectory(atPath: chunks.path) {
            try FileManager.default.removeItem(at: chunks.appendingPathComponent(name))
        }
        column.prefetch()
        let error = #expect(throws: CatalogError.self) { try column.forEachBlock { _ in } }
        #expect(error.map { "\($0)".contains("is missing") } == true)
    }
}

/// Per-scan results written by disjoint indices from the concurrent scans.
private struct Counts: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<Int>
    init(_ buffer: UnsafeMutableBufferPointer<Int>) { self.buffer = buffer }
    func set(_ i: Int, _ value: Int) { buffer[i] = value }
}
