import Foundation
import GRDB

extension ShardSet {
    /// Copies the targets of the first shard into the head catalog (every shard has the same ones), so
    /// the head's subsets name their target and `compare` on the head finds it. Values are copied in
    /// their stored precision, chunk by chunk; labels and projections with them.
    func copyTargets(from shard: Catalog) throws {
        let existing = try head.database.read { try TargetRow.fetchCount($0) }
        guard existing == 0 else { return }
        struct Source {
            var target: TargetRow
            var columns: [(row: TargetColumnRow, array: StoredArray)]
            var labels: [String]
        }
        let sources: [Source] = try shard.database.read { db in
            try TargetRow.order(Column("name")).fetchAll(db).map { target in
                let columns = try TargetColumnRow.filter(Column("target_id") == target.id!).order(Column("name"), Column("checkpoint")).fetchAll(db)
                    .map { ($0, try ArrayIndex.load($0.arrayId, db)) }
                let labels = try String.fetchAll(db, sql: "SELECT subtask FROM target_row WHERE target_id = ? ORDER BY row", arguments: [target.id])
                return Source(target: target, columns: columns, labels: labels)
            }
        }
        guard !sources.isEmpty else { return }
        try head.write { staging in
            var staged: [[StagedArray]] = []
            for source in sources {
                var arrays: [StagedArray] = []
                for (_, array) in source.columns {
                    guard array.dtype != .int8 && array.dtype != .int4 else {
                        throw CatalogError(.invalidRequest, "a target column stored as \(array.dtype.rawValue) cannot be copied to the head", remedy: "add targets in the precision of their files")
                    }
                    let writer = VectorArrayWriter(staging: staging, dtype: array.dtype, dim: array.dim, policy: .auto)
                    let decoder = ChunkDecoder(cache: shard.segments, array: array)
                    for (index, chunk) in array.chunks.enumerated() {
                        try decoder.withRawPayload(index) { try writer.append(storedBytes: $0, count: chunk.rowCount) }
                    }
                    arrays.append(try writer.finish())
                }
                staged.append(arrays)
            }
            try staging.publish()
            try head.database.write { db in
                for (source, arrays) in zip(sources, staged) {
                    var target = source.target
                    target.id = nil
                    try target.insert(db)
                    let targetID = db.lastInsertedRowID
                    for ((column, _), array) in zip(source.columns, arrays) {
                        var copy = column
                        copy.id = nil
                        copy.targetId = targetID
                        copy.arrayId = try ArrayIndex.insert(array, db)
                        try copy.insert(db)
                    }
                    let insert = try db.cachedStatement(sql: "INSERT INTO target_row (target_id, row, subtask) VALUES (?, ?, ?)")
                    for (row, label) in source.labels.enumerated() { try insert.execute(arguments: [targetID, row, label]) }
                }
            }
        }
    }
}
