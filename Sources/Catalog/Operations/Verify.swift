import CKernels
import Foundation
import GRDB

#if canImport(Glibc)
import Glibc
#endif

/// What `verify` found. Damage makes the command exit 1; garbage (files nothing references, left by
/// an interrupted write) is reported for `gc` and is not damage.
public struct VerifyReport: Codable, Sendable {
    public var chunksChecked: Int
    public var bytesChecked: Int
    /// Problems that lose or corrupt data: checksum mismatches, missing or truncated files, index rows
    /// that disagree with each other.
    public var damage: [String]
    /// Files under chunks/ that no index row references.
    public var orphanFiles: [String]
    /// Files left in staging/ by an interrupted write.
    public var stagingFiles: [String]
    public var seconds: Double

    public var isHealthy: Bool { damage.isEmpty }
}

extension Catalog {
    /// Checks every chunk's checksum and every cross-reference in the index (`quadcat verify`).
    public func verify(progress: ProgressHandler? = nil) throws -> VerifyReport {
        let start = Date()
        var damage: [String] = []
        var referencedFiles = Set<String>()
        var chunksChecked = 0, bytesChecked = 0
        try database.read { db in
            let integrity = try String.fetchAll(db, sql: "PRAGMA quick_check")
            if integrity != ["ok"] { damage += integrity.map { "index: \($0)" } }
            damage += try indexConsistency(db)
            let totalBytes = try Int.fetchOne(db, sql: "SELECT COALESCE(SUM(raw_length), 0) FROM chunk")!
            for arrayID in try Int64.fetchAll(db, sql: "SELECT id FROM array ORDER BY id") {
                let array: StoredArray
                do { array = try ArrayIndex.load(arrayID, db) } catch let error as CatalogError {
                    damage.append(error.message)
                    continue
                }
                let decoder = ChunkDecoder(cache: SegmentCache(paths: paths), array: array)
                for (index, chunk) in array.chunks.enumerated() {
                    referencedFiles.insert(chunk.file)
                    do {
                        let checksum = try decoder.withRawPayload(index) { Hashing.xxh64($0) }
                        if checksum != chunk.checksum {
                            damage.append("\(paths.chunkFile(chunk.file).path) at byte \(chunk.offset): checksum mismatch in array \(arrayID) chunk \(chunk.seq) (rows \(chunk.firstRow)..<\(chunk.firstRow + chunk.rowCount)); stored data differs from what was written")
                        }
                    } catch let error as CatalogError {
                        damage.append(error.message)
                    }
                    chunksChecked += 1
                    bytesChecked += chunk.rawLength
                    progress?(ProgressEvent(phase: "verifying chunks", completed: bytesChecked, total: totalBytes, unit: "bytes"))
                }
            }
            for file in try String.fetchAll(db, sql: "SELECT DISTINCT file FROM chunk") { referencedFiles.insert(file) }
        }
        let garbage = try garbageFiles(referenced: referencedFiles)
        return VerifyReport(
            chunksChecked: chunksChecked, bytesChecked: bytesChecked, damage: damage, orphanFiles: garbage.orphans,
            stagingFiles: garbage.staging, seconds: Date().timeIntervalSince(start))
    }

    /// Cross-checks between index tables that foreign keys alone do not enforce.
    private func indexConsistency(_ db: Database) throws -> [String] {
        var problems: [String] = []
        for row in try Row.fetchAll(db, sql: "PRAGMA foreign_key_check") {
            problems.append("index: a row of table \(row[0] as String) refers to a missing row of \(row[2] as String)")
        }
        for row in try Row.fetchAll(db, sql: """
            SELECT c.name, c.row_count, (SELECT COUNT(*) FROM document d WHERE d.corpus_id = c.id) AS docs,
                   a.row_count AS records
            FROM corpus c JOIN array a ON a.id = c.records_array_id
            """) where row["row_count"] as Int != row["docs"] as Int || row["row_count"] as Int != row["records"] as Int {
            problems.append("corpus '\(row["name"] as String)': \(row["row_count"] as Int) rows, but \(row["docs"] as Int) documents and \(row["records"] as Int) records")
        }
        for row in try Row.fetchAll(db, sql: """
            SELECT f.name, f.checkpoint, f.row_count, c.row_count AS corpus_rows, a.row_count AS array_rows, a.dim, f.dim AS column_dim
            FROM feature_column f JOIN corpus c ON c.id = f.corpus_id JOIN array a ON a.id = f.array_id
            """) where row["row_count"] as Int != row["corpus_rows"] as Int || row["array_rows"] as Int != row["corpus_rows"] as Int || row["dim"] as Int != row["column_dim"] as Int {
            problems.append("column '\(row["name"] as String)' checkpoint \(row["checkpoint"] as Int): shape disagrees with its corpus or its stored array")
        }
        for row in try Row.fetchAll(db, sql: """
            SELECT s.name, s.version, s.row_count, a.row_count AS members, c.row_count AS corpus_rows, s.members_array_id
            FROM subset s JOIN array a ON a.id = s.members_array_id JOIN corpus c ON c.id = s.corpus_id
            """) where row["row_count"] as Int != row["members"] as Int {
            problems.append("subset \(row["name"] as String)@\(row["version"] as Int): \(row["row_count"] as Int) rows recorded, \(row["members"] as Int) stored")
        }
        for row in try Row.fetchAll(db, sql: """
            SELECT a.id FROM array a WHERE
              NOT EXISTS (SELECT 1 FROM corpus WHERE records_array_id = a.id) AND
              NOT EXISTS (SELECT 1 FROM feature_column WHERE array_id = a.id OR mask_array_id = a.id) AND
              NOT EXISTS (SELECT 1 FROM target_column WHERE array_id = a.id) AND
              NOT EXISTS (SELECT 1 FROM subset WHERE members_array_id = a.id)
            """) {
            problems.append("index: array \(row[0] as Int64) is referenced by nothing")
        }
        return problems
    }

    /// Files under chunks/ that no chunk row references, and files in staging/ (unless a writer is
    /// working right now, in which case staging is its work in progress).
    func garbageFiles(referenced: Set<String>) throws -> (orphans: [String], staging: [String]) {
        let fm = FileManager.default
        let chunkFiles = (try? fm.contentsOfDirectory(atPath: paths.chunks.path)) ?? []
        let orphans = chunkFiles.filter { !referenced.contains($0) }.sorted()
        var staging = ((try? fm.contentsOfDirectory(atPath: paths.staging.path)) ?? []).sorted()
        if !staging.isEmpty && isWriterActive() { staging = [] }
        return (orphans, staging)
    }

    /// True when another process holds the writer lock.
    func isWriterActive() -> Bool {
        let fd = Glibc.open(paths.lock.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        if flock(fd, LOCK_EX | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            return false
        }
        return true
    }
}
