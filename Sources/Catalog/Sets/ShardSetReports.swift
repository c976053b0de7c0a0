import Foundation
import GRDB

/// `set info`: the set's shards, columns and targets.
public struct ShardSetInfo: Codable, Sendable {
    public struct Shard: Codable, Sendable {
        public var index: Int
        public var path: String
        public var offset: Int
        public var rows: Int
    }

    public var root: String
    public var corpus: String
    public var rows: Int
    public var shards: [Shard]
    public var columns: [SetManifest.ColumnShape]
    public var targets: [String]
    public var subsets: Int
}

/// `set verify`: every shard checked, and the set's own files.
public struct ShardSetVerifyReport: Codable, Sendable {
    /// Problems, each naming the shard (or the head) and what is wrong.
    public var damage: [String]
    public var shardsChecked: Int
    public var seconds: Double
    public var isHealthy: Bool { damage.isEmpty }
}

extension ShardSet {
    public func info() throws -> ShardSetInfo {
        ShardSetInfo(
            root: root.path, corpus: manifest.corpus, rows: manifest.rowCount,
            shards: manifest.shards.enumerated().map { ShardSetInfo.Shard(index: $0, path: $1.path, offset: $1.offset, rows: $1.rows) },
            columns: manifest.columns, targets: manifest.targets.map(\.name), subsets: try head.subsets().count)
    }

    /// Checks every shard (present, healthy, and still what was added: rows, records, column contents)
    /// and the set's digest files; with `deep`, runs each shard's own `verify` (every checksum).
    public func verify(deep: Bool = true, progress: ProgressHandler? = nil) throws -> ShardSetVerifyReport {
        let started = Date()
        var damage: [String] = []
        for (index, shard) in manifest.shards.enumerated() {
            progress?(ProgressEvent(phase: "verifying shards", completed: index, total: manifest.shards.count, unit: "shards"))
            let place = "shard \(index) (\(shard.path))"
            let url = shardURL(index)
            guard FileManager.default.fileExists(atPath: url.path) else {
                damage.append("\(place) is missing")
                continue
            }
            let catalog: Catalog
            do { catalog = try Catalog.open(at: url) } catch let error as CatalogError {
                damage.append("\(place) does not open: \(error.message)")
                continue
            }
            if deep {
                do {
                    let report = try catalog.verify()
                    damage += report.damage.map { "\(place): \($0)" }
                } catch let error as CatalogError {
                    damage.append("\(place) cannot be verified: \(error.message)")
                    continue
                }
            }
            do {
                let facts = try ShardFacts.read(catalog, corpus: manifest.corpus, place: url.path)
                if facts.rows != shard.rows { damage.append("\(place) has \(facts.rows) rows, the set recorded \(shard.rows)") }
                if facts.recordsHash != shard.recordsHash { damage.append("\(place): its records changed since it was added") }
                for (label, hash) in shard.columnHashes.sorted(by: { $0.key < $1.key }) where facts.columnHashes[label] != hash {
                    damage.append("\(place): column \(label) \(facts.columnHashes[label] == nil ? "is gone" : "changed since it was added")")
                }
            } catch let error as CatalogError {
                damage.append("\(place): \(error.message)")
            }
            let digests = digestDirectory(index)
            for label in ["records"] + manifest.columns.map(\.label) {
                let size = (try? FileManager.default.attributesOfItem(atPath: RowDigests.file(digests, label).path)[.size] as? Int) ?? nil
                let expected = shard.rows * (label == "records" ? RowDigests.recordBytes : 8)
                if size != expected { damage.append("\(place): the row digests for \(label) are missing or the wrong size") }
            }
        }
        if manifest.shards.count > 1 {
            for i in 1..<manifest.shards.count where manifest.shards[i].offset != manifest.shards[i - 1].offset + manifest.shards[i - 1].rows {
                damage.append("shard \(i) starts at row \(manifest.shards[i].offset), not where shard \(i - 1) ends")
            }
        }
        if deep {
            let head = try self.head.verify()
            damage += head.damage.map { "head catalog: \($0)" }
        }
        return ShardSetVerifyReport(damage: damage, shardsChecked: manifest.shards.count, seconds: Date().timeIntervalSince(started))
    }
}
