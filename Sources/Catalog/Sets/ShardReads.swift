import Foundation
import Selectors

/// Reading the set's corpus by global row: records, ids and columns come from the owning shards.
extension ShardSet {
    /// Rows grouped by shard: (shard, [(position in `rows`, local row)]).
    private func byShard(_ rows: [Int]) throws -> [(shard: Int, entries: [(position: Int, local: Int)])] {
        var groups: [Int: [(position: Int, local: Int)]] = [:]
        for (position, row) in rows.enumerated() {
            guard let (shard, local) = manifest.locate(row) else {
                throw CatalogError(.invalidRequest, "row \(row) is outside the set's corpus '\(manifest.corpus)' (0..<\(manifest.rowCount))")
            }
            groups[shard, default: []].append((position, local))
        }
        return groups.keys.sorted().map { ($0, groups[$0]!) }
    }

    /// The verbatim records of the given global rows, in the given order, each from its shard.
    public func records(rows: [Int]) throws -> [[UInt8]] {
        var out = [[UInt8]](repeating: [], count: rows.count)
        for (shard, entries) in try byShard(rows) {
            let records = try self.shard(shard).records(corpus: manifest.corpus, rows: entries.map(\.local))
            for (entry, record) in zip(entries, records) { out[entry.position] = record }
        }
        return out
    }

    /// External ids of the given global rows, in the given order.
    public func externalIDs(rows: [Int]) throws -> [String] {
        var out = [String](repeating: "", count: rows.count)
        for (shard, entries) in try byShard(rows) {
            let ids = try self.shard(shard).externalIDs(corpus: manifest.corpus, rows: entries.map(\.local))
            for (entry, id) in zip(entries, ids) { out[entry.position] = id }
        }
        return out
    }

    /// Every record in global row order, shard after shard.
    public func forEachRecord(_ body: (Int, UnsafeRawBufferPointer) throws -> Void) throws {
        for (index, shard) in manifest.shards.enumerated() {
            try self.shard(index).forEachRecord(corpus: manifest.corpus) { row, bytes in try body(shard.offset + row, bytes) }
        }
    }

    /// The records of global rows `rows` (within `0...rowCount`), in row order, each shard read only
    /// over its part of the range.
    public func forEachRecord(rows: Range<Int>, _ body: (Int, UnsafeRawBufferPointer) throws -> Void) throws {
        for (index, shard) in manifest.shards.enumerated() {
            let lower = max(rows.lowerBound, shard.offset), upper = min(rows.upperBound, shard.offset + shard.rows)
            guard lower < upper else { continue }
            try self.shard(index).forEachRecord(corpus: manifest.corpus, rows: (lower - shard.offset)..<(upper - shard.offset)) { row, bytes in
                try body(shard.offset + row, bytes)
            }
        }
    }

    /// A column over the whole set (the shards' columns concatenated, read in place).
    public func vectors(column: String, checkpoint: Int = 0) throws -> ConcatenatedVectors {
        try ConcatenatedVectors((0..<manifest.shards.count).map { try shard($0).vectors(corpus: manifest.corpus, column: column, checkpoint: checkpoint) })
    }

    /// The set's columns as ``ColumnDescription``s (row counts over the set, split-independent hashes).
    func columnDescriptions() throws -> [ColumnDescription] {
        try manifest.columns.map { shape in
            let parts = try (0..<manifest.shards.count).map { try shard($0).columns(corpus: manifest.corpus).first { $0.name == shape.name && $0.checkpoint == shape.checkpoint } }
            return ColumnDescription(
                name: shape.name, kind: ColumnKind(rawValue: shape.kind) ?? .score, checkpoint: shape.checkpoint,
                learningRate: shape.learningRate, projection: try shape.projection.map { try ProjectionIdentity(parsing: $0) }, dim: shape.dim,
                rowCount: manifest.rowCount, usableRows: parts.reduce(0) { $0 + ($1?.usableRows ?? 0) },
                storedDType: StoredDType(rawValue: shape.storedDType) ?? .float16, contentHash: try columnHash(shape))
        }
    }

    /// Each document's text hash (the first 16 bytes of its SHA-256), in global row order.
    func contentHashes() throws -> [Data] {
        var out: [Data] = []
        out.reserveCapacity(manifest.rowCount)
        for index in manifest.shards.indices {
            let data = try RowDigests.read(RowDigests.file(digestDirectory(index), "records"))
            for start in stride(from: 0, to: data.count, by: RowDigests.recordBytes) { out.append(Data(data[start..<start + 16])) }
        }
        return out
    }

    /// A selector's inputs over the whole set: pool columns concatenated over the shards (global rows),
    /// targets from the first shard (every shard has the same).
    func selectorInputs(_ request: SelectRequest) throws -> SelectorInputs {
        let parts = try (0..<manifest.shards.count).map { index -> SelectorInputs in
            let catalog = try shard(index)
            return try catalog.database.read { try SelectorInputs.resolve(request, catalog: catalog, $0) }
        }
        var inputs = parts[0]
        inputs.rowCount = manifest.rowCount
        inputs.checkpoints = try inputs.checkpoints.indices.map { c in
            var checkpoint = inputs.checkpoints[c]
            checkpoint.pool = try ConcatenatedVectors(parts.map { $0.checkpoints[c].pool as! StoredVectors })
            return checkpoint
        }
        if inputs.embeddings != nil {
            inputs.embeddings = try ConcatenatedVectors(parts.map { $0.embeddings as! StoredVectors })
        }
        inputs.lineage = try setLineage(inputs.lineage)
        return inputs
    }
}
