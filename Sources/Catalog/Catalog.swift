import Foundation
import CKernels
import GRDB

/// A quadcat catalog: one directory holding a corpus, its feature columns, targets and every subset
/// ever selected from it (docs/FORMAT.md).
///
/// ```
/// cat.quadcat/
///   catalog.sqlite   the index (WAL mode); the only mutable file
///   chunks/          immutable chunk segment files
///   staging/         files being written; anything left here after a crash is garbage
///   writer.lock      the single-writer lock
/// ```
/// Any number of `Catalog` handles, in any number of processes, may read at once; writes take the
/// writer lock and follow the commit protocol: chunk files first, the SQLite transaction last.
public final class Catalog: Sendable {
    /// The catalog directory.
    public let root: URL
    let paths: CatalogPaths
    let database: DatabasePool
    let segments: SegmentCache
    /// Called once when a write has to wait for another process's write to finish.
    let waitingForWriter: (@Sendable () -> Void)?
    /// Set when this catalog is the head of a shard set: its corpus's records and columns live in the
    /// shards, and reads of them go there.
    let sharding = ShardingLink()

    /// The version recorded with every subset and printed by `quadcat --version`: the VERSION file at
    /// the repository root, compiled in (the Python package and the wheel read the same file).
    public static let toolVersion = String(cString: qc_version_file()).trimmingCharacters(in: .whitespacesAndNewlines)

    private init(root: URL, database: DatabasePool, waitingForWriter: (@Sendable () -> Void)?) {
        self.root = root
        self.waitingForWriter = waitingForWriter
        self.paths = CatalogPaths(root: root)
        self.database = database
        self.segments = SegmentCache(paths: paths)
    }

    /// Creates a new, empty catalog directory. Refuses a directory that already holds anything.
    public static func create(at root: URL) throws -> Catalog {
        let fm = FileManager.default
        let paths = CatalogPaths(root: root)
        if fm.fileExists(atPath: paths.database.path) {
            throw CatalogError(.invalidRequest, "\(root.path) is already a quadcat catalog", remedy: "use it as it is, or choose another path")
        }
        if let contents = try? fm.contentsOfDirectory(atPath: root.path), !contents.isEmpty {
            throw CatalogError(.invalidRequest, "\(root.path) exists and is not empty", remedy: "choose a new path for the catalog")
        }
        do {
            try fm.createDirectory(at: paths.chunks, withIntermediateDirectories: true)
            try fm.createDirectory(at: paths.staging, withIntermediateDirectories: true)
        } catch {
            throw CatalogError(.io, "cannot create \(root.path): \(error.localizedDescription)")
        }
        return try open(at: root, creatingIndex: true)
    }

    /// Opens an existing catalog, applying any schema migrations it lacks.
    ///
    /// - Parameter waitingForWriter: called once whenever a write of this handle has to wait for
    ///   another process's write (one writer at a time), for example to tell a user why nothing happens.
    public static func open(at root: URL, waitingForWriter: (@Sendable () -> Void)? = nil) throws -> Catalog {
        try open(at: root, creatingIndex: false, waitingForWriter: waitingForWriter)
    }

    private static func open(at root: URL, creatingIndex: Bool, waitingForWriter: (@Sendable () -> Void)? = nil) throws -> Catalog {
        let paths = CatalogPaths(root: root)
        let fm = FileManager.default
        guard fm.fileExists(atPath: paths.chunks.path) else {
            throw CatalogError(.notFound, "\(root.path) is not a quadcat catalog", remedy: "create one with `quadcat init \(root.path)`")
        }
        // Without its index a catalog's chunks are unreachable; opening would create an empty index and
        // make `gc` see every chunk as garbage.
        guard creatingIndex || fm.fileExists(atPath: paths.database.path) else {
            throw CatalogError(
                .notFound, "\(root.path) has chunk files but no index (\(paths.database.lastPathComponent) is missing)",
                remedy: "restore \(paths.database.lastPathComponent) (and its -wal file, if any) from a backup; nothing was changed")
        }
        try? fm.createDirectory(at: paths.staging, withIntermediateDirectories: true)
        var configuration = Configuration()
        configuration.busyMode = .timeout(60)
        configuration.prepareDatabase { db in
            // Commits are durable before a command reports success.
            try db.execute(sql: "PRAGMA synchronous = FULL")
            // A large page cache keeps the document index in memory while a big ingest inserts
            // millions of rows in one transaction (the default 2 MB cache spills to the WAL and reads
            // pages back). Pages are allocated on demand, so small catalogs pay nothing.
            try db.execute(sql: "PRAGMA cache_size = -262144")
        }
        let pool: DatabasePool
        do {
            pool = try DatabasePool(path: paths.database.path, configuration: configuration)
            try migrator.migrate(pool)
        } catch let error as DatabaseError {
            throw CatalogError(.io, "cannot open the index \(paths.database.path): \(error.message ?? error.description)")
        }
        let superseded = try pool.read { try migrator.hasBeenSuperseded($0) }
        if superseded {
            throw CatalogError(.invalidRequest, "\(root.path) was written by a newer quadcat (its schema has migrations this version does not know)", remedy: "upgrade quadcat")
        }
        return Catalog(root: root, database: pool, waitingForWriter: waitingForWriter)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        for (name, sql) in SchemaMigrations.all {
            migrator.registerMigration(name) { db in try db.execute(sql: sql) }
        }
        return migrator
    }

    /// Names of the schema migrations applied to this catalog, in order.
    public func appliedMigrations() throws -> [String] {
        try database.read { try Self.migrator.appliedMigrations($0) }
    }

    /// Runs `body` holding the writer lock, with a staging area whose files are removed if `body`
    /// fails. `body` must publish the staging area before committing its transaction.
    func write<T>(waiting: (() -> Void)? = nil, _ body: (StagingArea) throws -> T) throws -> T {
        let lock = try WriterLock(url: paths.lock, waiting: waiting ?? waitingForWriter)
        let staging = StagingArea(paths: paths)
        do {
            let result = try body(staging)
            CrashPoint.afterCommit.reach()
            withExtendedLifetime(lock) {}
            return result
        } catch {
            staging.abandon()
            throw Self.translate(error)
        }
    }

    /// Maps SQLite errors to catalog errors with a readable message.
    static func translate(_ error: Error) -> Error {
        if let db = error as? DatabaseError {
            return CatalogError(.io, "the index failed: \(db.message ?? db.description)")
        }
        return error
    }

    /// Current time as ISO 8601 (UTC), for `created_at` columns.
    static func timestamp() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date())
    }
}

/// The shard set a head catalog belongs to (weak: the set owns its head).
final class ShardingLink: @unchecked Sendable {
    private let lock = NSLock()
    private weak var owner: ShardSet?

    var set: ShardSet? {
        get { lock.lock(); defer { lock.unlock() }; return owner }
        set { lock.lock(); owner = newValue; lock.unlock() }
    }

    /// The set when `corpus` is its corpus.
    func set(for corpus: String) -> ShardSet? {
        guard let set, set.manifest.corpus == corpus else { return nil }
        return set
    }
}
