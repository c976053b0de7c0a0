import Foundation

/// `set.json`: what a shard set is made of (docs/FORMAT.md, "set.json"). A shard set is a directory holding this file,
/// `head.quadcat` (an ordinary catalog whose subsets hold global row numbers) and `digests/` (one small
/// file of row digests per shard, from which split-independent content hashes are computed); the
/// shards are ordinary catalogs holding consecutive slices of one corpus, anywhere on a shared file
/// system.
public struct SetManifest: Codable, Sendable, Equatable {
    public static let formatName = "quadcat-set"
    public static let formatVersion = 1

    /// A feature or target column as the set knows it: every shard must have it identically.
    public struct ColumnShape: Codable, Sendable, Equatable, Hashable {
        public var name: String
        public var kind: String
        public var checkpoint: Int
        public var learningRate: Double?
        public var projection: String?
        public var dim: Int
        public var storedDType: String

        /// "grad@2", "emb".
        public var label: String { kind == ColumnKind.gradient.rawValue ? "\(name)@\(checkpoint)" : name }
    }

    /// A target as the set knows it: the same validation rows (by content) in every shard.
    public struct TargetShape: Codable, Sendable, Equatable {
        public var name: String
        public var rows: Int
        public var subtasks: Int
        /// label -> content hash of the target's columns.
        public var columns: [String: String]
    }

    public struct Shard: Codable, Sendable, Equatable {
        /// The shard catalog, relative to the set directory when it lies inside it, else absolute.
        public var path: String
        /// Global row of the shard's first row.
        public var offset: Int
        public var rows: Int
        /// Content hash of the shard's records array (to recognise the same shard added twice).
        public var recordsHash: String
        /// Content hash per column label, as the shard's own index records it.
        public var columnHashes: [String: String]
    }

    public var format = SetManifest.formatName
    public var version = SetManifest.formatVersion
    /// The corpus every shard holds a slice of.
    public var corpus: String
    public var idField: String?
    public var textField: String?
    /// Filled from the first shard added.
    public var columns: [ColumnShape] = []
    public var targets: [TargetShape] = []
    public var shards: [Shard] = []

    public init(corpus: String) { self.corpus = corpus }

    /// Rows over all shards.
    public var rowCount: Int { shards.last.map { $0.offset + $0.rows } ?? 0 }

    /// The shard holding global row `row`, and the row's place in it.
    public func locate(_ row: Int) -> (shard: Int, local: Int)? {
        guard row >= 0, row < rowCount else { return nil }
        var low = 0, high = shards.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if shards[mid].offset <= row { low = mid } else { high = mid - 1 }
        }
        return (low, row - shards[low].offset)
    }
}
