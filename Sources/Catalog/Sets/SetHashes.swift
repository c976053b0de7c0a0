import Foundation

extension ShardSet {
    /// The content hash of a column over the whole set, independent of how the corpus is split: SHA-256
    /// over the column's shape and every row's digest in global row order (the shards' digest files,
    /// concatenated). Re-splitting the same rows gives the same hash, so the same recipe.
    func columnHash(_ shape: SetManifest.ColumnShape) throws -> String {
        var hasher = Hashing.SHA256()
        hasher.update("quadcat-set-column-v1 \(shape.label) \(shape.kind) \(shape.storedDType) \(shape.dim) \(manifest.rowCount)\n")
        for index in manifest.shards.indices {
            let data = try RowDigests.read(RowDigests.file(digestDirectory(index), shape.label))
            guard data.count == manifest.shards[index].rows * 8 else {
                throw CatalogError(.damaged, "the row digests of shard \(index) for \(shape.label) are \(data.count) bytes, not \(manifest.shards[index].rows * 8)", remedy: "run `quadcat set verify \(root.path)`")
            }
            data.withUnsafeBytes { hasher.update($0) }
        }
        return hasher.finalizeHex()
    }

    /// The set's records hash: SHA-256 over every document's content hash and id digest, in global order.
    func recordsHash() throws -> String {
        var hasher = Hashing.SHA256()
        hasher.update("quadcat-set-records-v1 \(manifest.rowCount)\n")
        for index in manifest.shards.indices {
            let data = try RowDigests.read(RowDigests.file(digestDirectory(index), "records"))
            guard data.count == manifest.shards[index].rows * RowDigests.recordBytes else {
                throw CatalogError(.damaged, "the record digests of shard \(index) do not cover its \(manifest.shards[index].rows) rows", remedy: "run `quadcat set verify \(root.path)`")
            }
            data.withUnsafeBytes { hasher.update($0) }
        }
        return hasher.finalizeHex()
    }

    /// A selection's lineage with set-level hashes: pool columns get ``columnHash(_:)``, target inputs
    /// keep their hashes (every shard holds the same target).
    func setLineage(_ shardLineage: [SubsetInput]) throws -> [SubsetInput] {
        try shardLineage.map { input in
            guard input.role == "pool gradient" || input.role == "embedding" else { return input }
            let label = input.role == "pool gradient" ? "\(input.column)@\(input.checkpoint)" : input.column
            guard let shape = manifest.columns.first(where: { $0.label == label }) else { return input }
            var set = input
            set.contentHash = try columnHash(shape)
            return set
        }
    }
}
