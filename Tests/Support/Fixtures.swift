import CKernels
import Catalog
import Foundation
import Ingest
import Selectors

/// A temporary directory, removed when the test process exits.
///
/// Removal waits for exit rather than for the value's release because optimised builds may release a
/// value right after its last use, while a catalog inside the directory is still in use.
public final class TemporaryDirectory: @unchecked Sendable {
    public let url: URL

    public init(_ label: String = "quadcat-test") {
        url = Self.root.appendingPathComponent("\(label)-\(UUID().uuidString.prefix(8))")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    public func file(_ name: String) -> URL { url.appendingPathComponent(name) }

    /// One directory per test process, removed at exit.
    private static let root: URL = {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("quadcat-tests-\(getpid())")
        try! FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(at: TemporaryDirectory.rootPath) }
        return root
    }()

    private static var rootPath: URL { FileManager.default.temporaryDirectory.appendingPathComponent("quadcat-tests-\(getpid())") }
}

/// Deterministic fixture files.
public enum Fixtures {
    /// A JSONL corpus of `rows` records with ids "doc-i", a domain field and a text; records at the
    /// rows in `duplicateTexts` repeat the text of the row before them.
    @discardableResult
    public static func writeCorpus(_ url: URL, rows: Int, duplicateTexts: Set<Int> = [], seed: UInt64 = 1) throws -> [String] {
        var random = SeededRandom(seed: seed)
        var lines: [String] = []
        var previousText = ""
        for r in 0..<rows {
            let text = duplicateTexts.contains(r) ? previousText : "document \(r) about topic \(random.nextInt(below: 1000)) — ünïcode ✓"
            previousText = text
            lines.append("{\"id\": \"doc-\(r)\", \"domain\": \"d\(r % 3)\", \"text\": \"\(text)\"}")
        }
        try Data(lines.map { $0 + "\n" }.joined().utf8).write(to: url)
        return lines
    }

    /// A rows x dim matrix of Gaussian values.
    public static func gaussian(rows: Int, dim: Int, seed: UInt64) -> [Float] {
        var random = SeededRandom(seed: seed)
        return (0..<rows * dim).map { _ in Float(random.nextGaussian()) }
    }

    public static func writeFloat32(_ values: [Float], rows: Int, dim: Int, to url: URL) throws {
        try NpyWriter.write(url: url, floats: values, rows: rows, columns: dim)
    }

    public static func writeFloat16(_ values: [Float], rows: Int, dim: Int, to url: URL) throws {
        var bits = [UInt16](repeating: 0, count: values.count)
        qc_f32_to_f16(values, &bits, values.count)
        try NpyWriter.write(url: url, float16Bits: bits, rows: rows, columns: dim)
    }

    /// Float16 rounding of `values`, widened back to Float32 (what an f16 column reads back as).
    public static func roundedThroughFloat16(_ values: [Float]) -> [Float] {
        var bits = [UInt16](repeating: 0, count: values.count)
        var out = [Float](repeating: 0, count: values.count)
        qc_f32_to_f16(values, &bits, values.count)
        qc_f16_to_f32(bits, &out, values.count)
        return out
    }

    /// A whole .npy or safetensors matrix as Float32, read straight from the file (not through a catalog).
    public static func loadMatrix(_ url: URL) throws -> Matrix {
        let file = try MatrixFile.open(url)
        var values = [Float](repeating: 0, count: file.rowCount * file.dimension)
        try values.withUnsafeMutableBufferPointer { all in
            try file.forEachBlock(rowsPerBlock: 4096) { block in
                let start = block.firstRow * file.dimension
                block.copyFloats(into: UnsafeMutableBufferPointer(rebasing: all[start..<start + block.rowCount * file.dimension]))
            }
        }
        return Matrix(rows: file.rowCount, columns: file.dimension, values: values)
    }

    /// The realbench directory, when present: `QUADCAT_REALBENCH`, else `shared/realbench` beside the repository.
    public static var realbench: URL? {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let candidates = [
            ProcessInfo.processInfo.environment["QUADCAT_REALBENCH"].map { URL(fileURLWithPath: $0) },
            repository.deletingLastPathComponent().appendingPathComponent("shared/realbench"),
        ].compactMap { $0 }
        return candidates.first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("corpus.jsonl").path) }
    }

    /// The repository root (for reading schema/ and tools/).
    public static var repository: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }
}

/// Everything under a catalog directory except the index, for "nothing changed" checks.
public func chunkAndStagingFiles(_ catalog: URL) -> [String] {
    let fm = FileManager.default
    let chunks = (try? fm.contentsOfDirectory(atPath: catalog.appendingPathComponent("chunks").path)) ?? []
    let staging = (try? fm.contentsOfDirectory(atPath: catalog.appendingPathComponent("staging").path)) ?? []
    return (chunks.map { "chunks/" + $0 } + staging.map { "staging/" + $0 }).sorted()
}
