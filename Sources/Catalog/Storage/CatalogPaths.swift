import Foundation

/// The files of a catalog directory (docs/FORMAT.md, "The catalog directory").
struct CatalogPaths: Sendable {
    let root: URL

    var database: URL { root.appendingPathComponent("catalog.sqlite") }
    var chunks: URL { root.appendingPathComponent("chunks", isDirectory: true) }
    var staging: URL { root.appendingPathComponent("staging", isDirectory: true) }
    var lock: URL { root.appendingPathComponent("writer.lock") }

    func chunkFile(_ name: String) -> URL { chunks.appendingPathComponent(name) }
    func stagingFile(_ name: String) -> URL { staging.appendingPathComponent(name) }

    /// Segment files are uniquely named; the extension marks them as quadcat chunk segments.
    static let segmentExtension = "qcs"

    static func newSegmentName() -> String {
        "\(UUID().uuidString.lowercased()).\(segmentExtension)"
    }
}
