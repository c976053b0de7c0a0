import Foundation
import GRDB

#if canImport(Glibc)
import Glibc
#endif

/// What `gc` removed (or, with a dry run, would remove).
public struct GCReport: Codable, Sendable {
    public var dryRun: Bool
    public var removedFiles: [String]
    public var removedBytes: Int
}

extension Catalog {
    /// Removes files that nothing references: chunk segments of writes that never committed and
    /// leftovers in staging/ (`quadcat gc`). Holds the writer lock, so it never races a writer.
    public func collectGarbage(dryRun: Bool) throws -> GCReport {
        let lock = try WriterLock(url: paths.lock)
        defer { withExtendedLifetime(lock) {} }
        let referenced = Set(try database.read { try String.fetchAll($0, sql: "SELECT DISTINCT file FROM chunk") })
        let fm = FileManager.default
        let orphans = ((try? fm.contentsOfDirectory(atPath: paths.chunks.path)) ?? []).filter { !referenced.contains($0) }
        let staging = (try? fm.contentsOfDirectory(atPath: paths.staging.path)) ?? []
        let targets = orphans.map { paths.chunkFile($0) } + staging.map { paths.stagingFile($0) }
        var removed: [String] = []
        var bytes = 0
        for url in targets.sorted(by: { $0.path < $1.path }) {
            bytes += FileIO.fileSize(url) ?? 0
            if !dryRun {
                guard unlink(url.path) == 0 || errno == ENOENT else { throw FileIO.failure("remove", url.path) }
            }
            removed.append(url.path)
        }
        return GCReport(dryRun: dryRun, removedFiles: removed, removedBytes: bytes)
    }
}
