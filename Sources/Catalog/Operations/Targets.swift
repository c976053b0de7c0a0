import CKernels
import Foundation
import GRDB
import Ingest

/// A request to add one column (usually one checkpoint's validation gradients) to a target.
public struct TargetColumnRequest: Sendable {
    public var target: String
    public var column = "grad"
    /// nil: a gradient when a checkpoint is given, else an embedding.
    public var kind: ColumnKind?
    public var checkpoint: Int?
    public var projection: ProjectionIdentity?
    public var file: URL
    public var tensor: String?
    /// One subtask label per validation row (LESS takes the mean within a subtask, the max over subtasks).
    public var subtasksFile: URL?
    public var codec: CodecPolicy = .auto

    public init(target: String, file: URL) {
        self.target = target
        self.file = file
    }
}

/// What `target add` did.
public struct TargetReport: Codable, Sendable {
    public var target: String
    public var column: String
    public var kind: ColumnKind
    public var checkpoint: Int
    public var rows: Int
    public var dim: Int
    public var createdTarget: Bool
    public var subtasks: Int
}

/// A target as `target list` shows it.
public struct TargetInfo: Codable, Sendable {
    public struct ColumnInfo: Codable, Sendable {
        public var name: String
        public var kind: String
        public var checkpoint: Int
        public var dim: Int
        public var dtype: String
        public var projection: String?
        public var contentHash: String
    }

    public var name: String
    public var rows: Int
    public var subtasks: Int
    public var columns: [ColumnInfo]
    public var createdAt: String
}

extension Catalog {
    /// Adds a column to a target, creating the target on its first column (`quadcat target add`).
    public func addTargetColumn(_ request: TargetColumnRequest) throws -> TargetReport {
        let source = try MatrixFile.open(request.file, tensor: request.tensor)
        let subtaskLabels: [String]?
        do { subtaskLabels = try request.subtasksFile.map(readLineList) } catch let error as IngestError {
            throw CatalogError(.invalidRequest, error.description)
        }
        return try write { staging in
            try database.write { db in
                try addTargetColumn(db, staging: staging, request: request, source: source, subtaskLabels: subtaskLabels)
            }
        }
    }

    private func addTargetColumn(
        _ db: Database, staging: StagingArea, request: TargetColumnRequest, source: MatrixFile, subtaskLabels: [String]?
    ) throws -> TargetReport {
        let path = request.file.path
        let kind = request.kind ?? (request.checkpoint != nil ? .gradient : .embedding)
        let checkpoint = request.checkpoint ?? 0
        guard kind != .score else { throw CatalogError(.invalidRequest, "a target holds gradient or embedding columns, not scores") }
        guard source.rowCount > 0 else {
            throw CatalogError(.invalidRequest, "\(path) has no rows", remedy: "a target needs at least one validation example")
        }
        if kind == .gradient, checkpoint < 1 {
            throw CatalogError(.invalidRequest, "a target gradient needs --checkpoint N with N >= 1", remedy: "use the checkpoint numbers of the corpus's gradient column")
        }
        var target = try TargetRow.filter(Column("name") == request.target).fetchOne(db)
        let created = target == nil
        if let existing = target {
            guard existing.rowCount == source.rowCount else {
                throw CatalogError(.invalidRequest, "\(path) has \(source.rowCount) rows, target '\(existing.name)' has \(existing.rowCount)", remedy: "every column of a target describes the same validation rows")
            }
        } else {
            var row = TargetRow(id: nil, name: request.target, rowCount: source.rowCount, createdAt: Self.timestamp())
            try row.insert(db)
            row.id = db.lastInsertedRowID
            target = row
        }
        let targetID = target!.id!
        if try TargetColumnRow.filter(Column("target_id") == targetID && Column("name") == request.column && Column("checkpoint") == checkpoint).fetchCount(db) > 0 {
            throw CatalogError(.invalidRequest, "target '\(request.target)' already has column '\(request.column)'\(kind == .gradient ? " checkpoint \(checkpoint)" : "")", remedy: "target columns are immutable; add the column under another name or to a new target")
        }
        let siblings = try TargetColumnRow.filter(Column("target_id") == targetID && Column("name") == request.column).fetchAll(db)
        var projection = request.projection
        if let sibling = siblings.first {
            guard sibling.kind == kind.rawValue else {
                throw CatalogError(.invalidRequest, "target column '\(request.column)' holds \(sibling.kind) vectors, not \(kind.rawValue)")
            }
            guard sibling.dim == source.dimension else {
                throw CatalogError(.invalidRequest, "\(path): dimension \(source.dimension) differs from target column '\(request.column)' checkpoint \(sibling.checkpoint) (\(sibling.dim))")
            }
            if let given = projection, let known = sibling.projection, given != known {
                throw CatalogError(.invalidRequest, "projection \(given) differs from target column '\(request.column)' checkpoint \(sibling.checkpoint) (\(known))")
            }
            projection = projection ?? sibling.projection
        }
        if let dim = projection?.dim, dim != source.dimension {
            throw CatalogError(.invalidRequest, "\(path): dimension \(source.dimension) differs from the projection's dimension \(dim)")
        }

        let writer = VectorArrayWriter(
            staging: staging, dtype: StoragePrecision.asGiven.storedDType(for: source.elementType), dim: source.dimension,
            policy: request.codec)
        var hasher = qc_xxh64_state()
        qc_xxh64_init(&hasher, 0)
        try source.forEachBlock(rowsPerBlock: max(1, (4 << 20) / source.rowByteCount)) { block in
            if let bad = block.nonFiniteRows().first {
                throw CatalogError(.invalidRequest, "\(path): row \(bad) holds NaN or infinity", remedy: "validation gradients must be finite; fix the file")
            }
            qc_xxh64_update(&hasher, block.bytes.baseAddress, block.bytes.count)
            try writer.append(storedBytes: block.bytes, count: block.rowCount)
        }

        if let labels = subtaskLabels {
            guard labels.count == source.rowCount else {
                throw CatalogError(.invalidRequest, "\(request.subtasksFile!.path) has \(labels.count) labels for \(source.rowCount) validation rows", remedy: "give one subtask label per validation row")
            }
            let existing = try String.fetchAll(db, sql: "SELECT subtask FROM target_row WHERE target_id = ? ORDER BY row", arguments: [targetID])
            if existing.isEmpty {
                let insert = try db.cachedStatement(sql: "INSERT INTO target_row (target_id, row, subtask) VALUES (?, ?, ?)")
                for (row, label) in labels.enumerated() { try insert.execute(arguments: [targetID, row, label]) }
            } else if existing != labels {
                throw CatalogError(.invalidRequest, "target '\(request.target)' already has different subtask labels", remedy: "subtask labels are set once per target")
            }
        }

        let staged = try writer.finish()
        try staging.publish()
        let arrayID = try ArrayIndex.insert(staged, db)
        var column = TargetColumnRow(
            id: nil, targetId: targetID, name: request.column, kind: kind.rawValue, checkpoint: checkpoint,
            projectionKind: projection?.kind, projectionSeed: projection?.seed, projectionDim: projection?.dim,
            sourceDtype: source.elementType.rawValue, dim: source.dimension, arrayId: arrayID, sourcePath: path,
            sourceHash: "xxh64:" + Hashing.hex(qc_xxh64_digest(&hasher)), createdAt: Self.timestamp())
        try column.insert(db)
        column.id = db.lastInsertedRowID
        let subtasks = try Int.fetchOne(db, sql: "SELECT COUNT(DISTINCT subtask) FROM target_row WHERE target_id = ?", arguments: [targetID])!
        return TargetReport(
            target: request.target, column: request.column, kind: kind, checkpoint: checkpoint, rows: source.rowCount,
            dim: source.dimension, createdTarget: created, subtasks: subtasks)
    }

    /// Every target with its columns (`quadcat target list`).
    public func listTargets() throws -> [TargetInfo] {
        try database.read { db in
            try TargetRow.order(Column("name")).fetchAll(db).map { target in
                let columns = try TargetColumnRow.filter(Column("target_id") == target.id!)
                    .order(Column("name"), Column("checkpoint")).fetchAll(db)
                    .map { c in
                        let array = try ArrayIndex.load(c.arrayId, db)
                        return TargetInfo.ColumnInfo(
                            name: c.name, kind: c.kind, checkpoint: c.checkpoint, dim: c.dim, dtype: array.dtype.rawValue,
                            projection: c.projection?.description, contentHash: array.contentHash)
                    }
                let subtasks = try Int.fetchOne(db, sql: "SELECT COUNT(DISTINCT subtask) FROM target_row WHERE target_id = ?", arguments: [target.id])!
                return TargetInfo(name: target.name, rows: target.rowCount, subtasks: subtasks, columns: columns, createdAt: target.createdAt)
            }
        }
    }
}
