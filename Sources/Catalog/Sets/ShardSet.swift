import Foundation
import GRDB

/// A shard set (docs/ARCHITECTURE.md, "Shard sets"; files: docs/FORMAT.md, "Shard sets"): one corpus split into consecutive slices, each an ordinary catalog, selected
/// by per-shard steps and merges on an engine the user already has (Ray, a job array, local processes).
///
/// ```
/// SET/
///   set.json        the manifest (``SetManifest``): shards in order, offsets, rows, column shapes
///   head.quadcat    an ordinary catalog whose subsets hold global row numbers
///   digests/        per shard, row digests for split-independent content hashes
///   jobs/           one directory per sharded selection: its plan, step results, merges
/// ```
/// Global row = shard offset + local row. Shards share column names, kinds, checkpoints, learning
/// rates, projections, dimensions and stored precisions, and the same targets; `add` checks all of it
/// and names the shard and the mismatch.
public final class ShardSet: @unchecked Sendable {
    public let root: URL
    public private(set) var manifest: SetManifest
    /// The head catalog.
    public let head: Catalog
    private var openShards: [Int: Catalog] = [:]
    private let lock = NSLock()

    var manifestURL: URL { root.appendingPathComponent("set.json") }
    var digestsDirectory: URL { root.appendingPathComponent("digests") }
    var jobsDirectory: URL { root.appendingPathComponent("jobs") }
    static func headURL(_ root: URL) -> URL { root.appendingPathComponent("head.quadcat") }

    private init(root: URL, manifest: SetManifest, head: Catalog) {
        self.root = root
        self.manifest = manifest
        self.head = head
        head.sharding.set = self
    }

    /// Creates an empty set directory for a corpus of the given name.
    public static func create(at root: URL, corpus: String) throws -> ShardSet {
        let fm = FileManager.default
        if let contents = try? fm.contentsOfDirectory(atPath: root.path), !contents.isEmpty {
            throw CatalogError(.invalidRequest, "\(root.path) exists and is not empty", remedy: "choose a new directory for the shard set")
        }
        do { try fm.createDirectory(at: root, withIntermediateDirectories: true) } catch {
            throw CatalogError(.io, "cannot create \(root.path): \(error.localizedDescription)")
        }
        let head = try Catalog.create(at: headURL(root))
        let set = ShardSet(root: root, manifest: SetManifest(corpus: corpus), head: head)
        try set.saveManifest()
        return set
    }

    /// Opens a set directory (or its head catalog's path).
    public static func open(at path: URL) throws -> ShardSet {
        let root = path.lastPathComponent == "head.quadcat" ? path.deletingLastPathComponent() : path
        let url = root.appendingPathComponent("set.json")
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw CatalogError(.notFound, "\(root.path) is not a shard set (no set.json)", remedy: "create one with `quadcat set init \(root.path) --corpus NAME`")
        }
        let manifest: SetManifest
        do { manifest = try JSONDecoder().decode(SetManifest.self, from: data) } catch {
            throw CatalogError(.damaged, "\(url.path) is not a readable set manifest: \(error.localizedDescription)", remedy: "restore it from a backup")
        }
        guard manifest.format == SetManifest.formatName else {
            throw CatalogError(.damaged, "\(url.path) is not a quadcat set manifest")
        }
        guard manifest.version <= SetManifest.formatVersion else {
            throw CatalogError(.invalidRequest, "\(url.path) was written by a newer quadcat (set format \(manifest.version))", remedy: "upgrade quadcat")
        }
        return ShardSet(root: root, manifest: manifest, head: try Catalog.open(at: headURL(root)))
    }

    /// Whether `path` is a shard set directory or the head catalog of one.
    public static func isSet(_ path: URL) -> Bool {
        let root = path.lastPathComponent == "head.quadcat" ? path.deletingLastPathComponent() : path
        return FileManager.default.fileExists(atPath: root.appendingPathComponent("set.json").path)
    }

    /// The URL of shard `index`.
    public func shardURL(_ index: Int) -> URL {
        let path = manifest.shards[index].path
        return path.hasPrefix("/") ? URL(fileURLWithPath: path) : root.appendingPathComponent(path)
    }

    /// The shard catalog `index`, opened once and kept.
    public func shard(_ index: Int) throws -> Catalog {
        lock.lock()
        defer { lock.unlock() }
        if let open = openShards[index] { return open }
        let url = shardURL(index)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw CatalogError(.notFound, "shard \(index) (\(url.path)) is missing", remedy: "restore the shard catalog at that path; `quadcat set verify \(root.path)` lists every problem")
        }
        let catalog = try Catalog.open(at: url)
        openShards[index] = catalog
        return catalog
    }

    func digestDirectory(_ index: Int) -> URL {
        digestsDirectory.appendingPathComponent("shard-\(index)-\(manifest.shards[index].recordsHash.prefix(16))")
    }

    /// Writes the manifest atomically (beside it, fsync, rename).
    func saveManifest() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(manifest)
        try ShardJob.writeAtomically(data, to: manifestURL)
    }

    // MARK: Adding shards

    /// Appends shards in order, each a catalog holding the next consecutive rows of the corpus. Every
    /// shard is checked against the set (corpus, columns, targets, and no document already in the set)
    /// before anything is written; a refused shard leaves the set as it was.
    @discardableResult
    public func add(_ urls: [URL]) throws -> [SetManifest.Shard] {
        var added: [SetManifest.Shard] = []
        for url in urls {
            let catalog = try Catalog.open(at: url)
            let facts = try ShardFacts.read(catalog, corpus: manifest.corpus, place: url.path)
            if manifest.shards.isEmpty {
                manifest.columns = facts.columns
                manifest.targets = facts.targets
                manifest.idField = facts.idField
                manifest.textField = facts.textField
            } else {
                try facts.check(against: manifest, place: url.path)
            }
            if let same = manifest.shards.firstIndex(where: { $0.recordsHash == facts.recordsHash }) {
                throw CatalogError(.invalidRequest, "\(url.path) holds the same documents as shard \(same) (\(manifest.shards[same].path))", remedy: "each shard holds its own slice of the corpus; add every shard once")
            }
            let shard = SetManifest.Shard(
                path: relativePath(url), offset: manifest.rowCount, rows: facts.rows, recordsHash: facts.recordsHash,
                columnHashes: facts.columnHashes)
            manifest.shards.append(shard)
            let index = manifest.shards.count - 1
            do {
                try RowDigests.write(catalog, corpus: manifest.corpus, columns: manifest.columns, to: digestDirectory(index))
                try checkNoDocumentClaimedTwice(index, catalog: catalog)
            } catch {
                manifest.shards.removeLast()
                throw error
            }
            lock.lock()
            openShards[index] = catalog
            lock.unlock()
            added.append(shard)
        }
        try ensureHeadCorpus()
        if !manifest.shards.isEmpty { try copyTargets(from: try shard(0)) }
        try saveManifest()
        return added
    }

    private func relativePath(_ url: URL) -> String {
        let shard = url.standardizedFileURL.path, base = root.standardizedFileURL.path + "/"
        return shard.hasPrefix(base) ? String(shard.dropFirst(base.count)) : shard
    }

    /// Refuses a shard with a document id another shard of the set already has.
    private func checkNoDocumentClaimedTwice(_ index: Int, catalog: Catalog) throws {
        let newDigests = try RowDigests.idDigests(digestDirectory(index))
        var seen: [UInt64: Int] = [:]
        for (row, digest) in newDigests.enumerated() { seen[digest] = row }
        for other in 0..<index {
            for (row, digest) in try RowDigests.idDigests(digestDirectory(other)).enumerated() {
                guard let local = seen[digest] else { continue }
                // A digest match: compare the ids themselves before calling it a clash.
                let mine = try catalog.externalIDs(corpus: manifest.corpus, rows: [local])[0]
                let theirs = try shard(other).externalIDs(corpus: manifest.corpus, rows: [row])[0]
                if mine == theirs {
                    throw CatalogError(
                        .invalidRequest, "document '\(mine)' is in shard \(other) (row \(row)) and in the new shard \(catalog.root.path) (row \(local))",
                        remedy: "shards hold disjoint, consecutive slices of one corpus; split the corpus again")
                }
            }
        }
    }

    /// The head catalog's corpus: the set's name with no rows of its own (its subsets hold global rows
    /// whose records, ids and columns live in the shards; `set.json` has the row count), so that the
    /// head stays an ordinary, verifiable catalog.
    private func ensureHeadCorpus() throws {
        let exists = try head.database.read { try CorpusRow.filter(Column("name") == manifest.corpus).fetchCount($0) > 0 }
        guard !exists else { return }
        try head.write { staging in
            let empty = ChunkSink(staging: staging, dtype: .records, dim: 1, policy: .auto).finish()
            try staging.publish()
            try head.database.write { db in
                let row = CorpusRow(
                    id: nil, name: manifest.corpus, idField: manifest.idField ?? "id", textField: manifest.textField ?? "text",
                    rowCount: 0, recordsArrayId: try ArrayIndex.insert(empty, db), createdAt: Catalog.timestamp())
                try row.insert(db)
            }
        }
    }
}
