import Catalog
import Foundation
import Selectors
import Testing
import TestSupport

/// Readers see a consistent snapshot and are never blocked while a writer commits.
@Suite("Readers during writes")
struct ConcurrentReadTests {
    @Test func aReaderKeepsReadingWhileAWriterCommits() async throws {
        let dir = TemporaryDirectory()
        let writer = try Catalog.create(at: dir.file("c.quadcat"))
        let rows = 2000, dim = 128
        try Fixtures.writeCorpus(dir.file("c.jsonl"), rows: rows)
        _ = try writer.ingest(corpus: "pool", files: [dir.file("c.jsonl")])
        let values = Fixtures.gaussian(rows: rows, dim: dim, seed: 5)
        try Fixtures.writeFloat32(values, rows: rows, dim: dim, to: dir.file("g.npy"))
        var first = AttachRequest(corpus: "pool", column: "grad", file: dir.file("g.npy"))
        first.checkpoint = 1
        first.learningRate = 1
        _ = try writer.attach(first)
        let expectedSum = values.reduce(0.0) { $0 + Double($1) }

        // A second handle, as another process would have.
        let reader = try Catalog.open(at: writer.root)
        let commits = 8
        async let writes: Void = Task.detached {
            for c in 2...(commits + 1) {
                var request = first
                request.checkpoint = c
                _ = try writer.attach(request)
            }
        }.value
        var reads = 0
        var lastSeen = 1
        while true {
            let columns = try reader.columns(corpus: "pool")
            // Checkpoints appear whole and in order: 1...k, never a gap or a half-written one.
            #expect(columns.map(\.checkpoint) == Array(1...columns.count))
            lastSeen = max(lastSeen, columns.count)
            let scanned = try reader.vectors(corpus: "pool", column: "grad", checkpoint: columns.count)
            var sum = 0.0
            try scanned.forEachBlock { block in for v in block.values { sum += Double(v) } }
            #expect(abs(sum - expectedSum) < 1e-6 * max(1, abs(expectedSum)))
            reads += 1
            if columns.count == commits + 1 { break }
        }
        try await writes
        #expect(reads >= 2 && lastSeen == commits + 1)
        #expect(try reader.verify().isHealthy)
    }
}
