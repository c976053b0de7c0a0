import Catalog
import Foundation
import Ingest
import Testing
import TestSupport

/// The real benchmark corpus goes in and comes out bit for bit (skipped when realbench is absent: set QUADCAT_REALBENCH).
@Suite("Realbench ingest", .enabled(if: Fixtures.realbench != nil, "realbench is not present (set QUADCAT_REALBENCH)"))
struct RealbenchCatalogTests {
    /// Values numpy reads from `file` at the given (row, column) pairs, as float32 bit patterns.
    private static func numpyValues(_ file: URL, _ cells: [(Int, Int)]) throws -> [UInt32]? {
        let script = """
            import numpy as np, sys
            a = np.load(sys.argv[1], mmap_mode='r')
            cells = [tuple(map(int, c.split(','))) for c in sys.argv[2:]]
            print(' '.join(str(int(np.float32(a[r, c]).view(np.uint32))) for r, c in cells))
            """
        let result = Python.run(script, [file.path] + cells.map { "\($0.0),\($0.1)" })
        guard result.status == 0 else { return nil }
        return result.stdout.split(whereSeparator: \.isWhitespace).map { UInt32($0)! }
    }

    @Test func corpusColumnsAndTargetMatchTheSourceFiles() throws {
        let root = Fixtures.realbench!
        let dir = TemporaryDirectory("realbench")
        let catalog = try Realbench.build(root, at: dir.file("rb.quadcat"))
        let info = try catalog.info()
        #expect(info.corpora.count == 1 && info.corpora[0].rows == 12_000)
        let columns = try catalog.columns(corpus: "pool")
        #expect(columns.map { "\($0.name)@\($0.checkpoint)" } == ["emb@0", "grad@1", "grad@2", "grad@3", "grad@4"])
        #expect(columns.allSatisfy { $0.rowCount == 12_000 && $0.usableRows == 12_000 && $0.storedDType == .float16 })
        #expect(columns.filter { $0.name == "grad" }.map(\.learningRate!) == (try Realbench.learningRates(root)))
        let targets = try catalog.listTargets()
        #expect(targets.map(\.name) == ["python"] && targets[0].rows == 400 && targets[0].columns.count == 5)

        // Records are the corpus lines, byte for byte.
        let lines = try String(contentsOf: root.appendingPathComponent("corpus.jsonl"), encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        let rows = [0, 1, 4321, 11_999]
        #expect(try catalog.records(corpus: "pool", rows: rows).map { String(decoding: $0, as: UTF8.self) } == rows.map { String(lines[$0]) })
        #expect(try catalog.externalIDs(corpus: "pool", rows: rows) == rows.map(String.init))

        // Gradient values equal numpy's reading of the source file, bit for bit.
        let cells = [(0, 0), (0, 1023), (5000, 17), (11_999, 512), (7777, 999)]
        for checkpoint in 1...4 {
            let file = root.appendingPathComponent("grads_ckpt\(checkpoint).npy")
            let stored = try catalog.vectors(corpus: "pool", column: "grad", checkpoint: checkpoint).gather(rows: cells.map(\.0))
            let ours = cells.enumerated().map { i, cell in stored[i, cell.1].bitPattern }
            let reference = try Self.numpyValues(file, cells) ?? {
                // Without numpy, compare with an independent read of the file through MatrixFile.
                let matrix = try MatrixFile.open(file)
                return try cells.map { r, c in
                    var bytes = [UInt8](repeating: 0, count: matrix.rowByteCount)
                    try bytes.withUnsafeMutableBytes { try matrix.readRows(r..<r + 1, into: $0) }
                    return Float(Float16(bitPattern: UInt16(bytes[2 * c]) | UInt16(bytes[2 * c + 1]) << 8)).bitPattern
                }
            }()
            #expect(ours == reference, "checkpoint \(checkpoint)")
        }
        #expect(try catalog.verify().isHealthy)
    }
}
