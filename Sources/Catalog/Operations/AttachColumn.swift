import CKernels
import Foundation
import GRDB
import Ingest
import Selectors

/// What a feature column holds.
public enum ColumnKind: String, Codable, Sendable, CaseIterable {
    case gradient, embedding, score
}

/// The precision a column is stored in.
public enum StoragePrecision: String, Codable, Sendable, CaseIterable {
    /// Keep the file's element type (f32, f16 or bf16).
    case asGiven = "as-given"
    case f32, f16, bf16
    /// int8 with one float32 scale per row (about 4x smaller than f32; QLESS reports LESS quality holds).
    case int8
    /// int4 with one float32 scale per row (about 8x smaller than f32; QLESS reports LESS quality holds at 4 bits).
    case int4

    func storedDType(for source: ElementType) -> StoredDType {
        switch self {
        case .asGiven:
            switch source {
            case .float32: .float32
            case .float16: .float16
            case .bfloat16: .bfloat16
            }
        case .f32: .float32
        case .f16: .float16
        case .bf16: .bfloat16
        case .int8: .int8
        case .int4: .int4
        }
    }
}

/// What to do with rows holding NaN or infinity.
public enum NonFinitePolicy: String, Codable, Sendable, CaseIterable {
    /// Refuse the file (the default).
    case reject
    /// Store the row as zeros and record it as unusable; selectors never pick it for its vector.
    case markUnusable = "mark-unusable"
}

/// A request to attach a feature column (one checkpoint of a gradient trajectory, or an embedding).
public struct AttachRequest: Sendable {
    public var corpus: String
    public var column: String
    /// nil: a gradient when a checkpoint is given, else an embedding.
    public var kind: ColumnKind?
    public var checkpoint: Int?
    public var learningRate: Double?
    public var projection: ProjectionIdentity?
    public var precision: StoragePrecision = .asGiven
    public var nonFinite: NonFinitePolicy = .reject
    public var file: URL
    /// The tensor to read from a safetensors file.
    public var tensor: String?
    /// External ids of the file's rows, one per line, for a column that covers only some documents.
    public var idsFile: URL?
    public var codec: CodecPolicy = .auto

    public init(corpus: String, column: String, file: URL) {
        self.corpus = corpus
        self.column = column
        self.file = file
    }
}

/// What an attach did.
public struct AttachReport: Codable, Sendable {
    public var corpus: String
    public var column: String
    public var kind: ColumnKind
    public var checkpoint: Int
    public var rows: Int
    public var usableRows: Int
    /// Up to 10 unusable rows (absent or non-finite), for the message.
    public var unusableExamples: [Int]
    public var dim: Int
    public var sourceDType: String
    public var storedDType: String
    public var sourceBytes: Int
    public var storedBytes: Int
    /// Stored bytes per codec.
    public var codecs: [String: Int]
    public var unitNormalized: Bool
    public var seconds: Double
}

extension Catalog {
    /// Attaches a feature column to a corpus from a .npy or safetensors file (`quadcat attach`).
    ///
    /// Refuses a row count that differs from the corpus, a dimension or projection that differs from
    /// the column's other checkpoints, and non-finite values (unless `nonFinite` is `.markUnusable`).
    public func attach(_ request: AttachRequest, progress: ProgressHandler? = nil) throws -> AttachReport {
        let start = Date()
        let source = try MatrixFile.open(request.file, tensor: request.tensor)
        return try write { staging in
            try database.writeWithoutTransaction { db in
                var report: AttachReport?
                try db.inTransaction {
                    report = try attachInTransaction(db, staging: staging, request: request, source: source, progress: progress)
                    return .commit
                }
                var finished = report!
                finished.seconds = Date().timeIntervalSince(start)
                return finished
            }
        }
    }

    private func attachInTransaction(
        _ db: Database, staging: StagingArea, request: AttachRequest, source: MatrixFile, progress: ProgressHandler?
    ) throws -> AttachReport {
        let corpus = try CorpusRow.named(request.corpus, db)
        let kind = request.kind ?? (request.checkpoint != nil ? .gradient : .embedding)
        let checkpoint = request.checkpoint ?? 0
        let path = request.file.path
        if kind == .gradient {
            guard let given = request.checkpoint, given >= 1 else {
                throw CatalogError(.invalidRequest, "a gradient column needs --checkpoint N with N >= 1", remedy: "number the checkpoints of the trajectory 1, 2, ...")
            }
            guard let lr = request.learningRate, lr > 0, lr.isFinite else {
                throw CatalogError(.invalidRequest, "a gradient column needs --lr (the checkpoint's learning rate, a positive number)", remedy: "LESS weights checkpoints by it; use the learning rate at, or averaged over the epoch before, the checkpoint")
            }
        }
        if let existing = try FeatureColumnRow.filter(Column("corpus_id") == corpus.id! && Column("name") == request.column && Column("checkpoint") == checkpoint).fetchOne(db) {
            throw CatalogError(.invalidRequest, "corpus '\(corpus.name)' already has column '\(existing.name)'\(kind == .gradient ? " checkpoint \(checkpoint)" : "")", remedy: "columns are immutable; attach under another --column name")
        }
        let family = try FeatureColumnRow.filter(Column("corpus_id") == corpus.id! && Column("name") == request.column).fetchAll(db)
        var projection = request.projection
        if let sibling = family.first {
            guard sibling.kind == kind.rawValue else {
                throw CatalogError(.invalidRequest, "column '\(request.column)' holds \(sibling.kind) vectors, not \(kind.rawValue)")
            }
            guard sibling.dim == source.dimension else {
                throw CatalogError(.invalidRequest, "\(path): dimension \(source.dimension) differs from column '\(request.column)' checkpoint \(sibling.checkpoint) (dimension \(sibling.dim))", remedy: "every checkpoint of a trajectory must use the same projection dimension")
            }
            if let given = projection, let known = sibling.projection, given != known {
                throw CatalogError(.invalidRequest, "projection \(given) differs from column '\(request.column)' checkpoint \(sibling.checkpoint) (\(known))", remedy: "gradients from different projections cannot be compared; attach them as another column")
            }
            projection = projection ?? sibling.projection
        }
        if let dim = projection?.dim, dim != source.dimension {
            throw CatalogError(.invalidRequest, "\(path): dimension \(source.dimension) differs from the projection's dimension \(dim)")
        }

        let placement = try RowPlacement(request: request, source: source, corpus: corpus, db)
        let storedDType = request.precision.storedDType(for: source.elementType)
        let writer = VectorArrayWriter(staging: staging, dtype: storedDType, dim: source.dimension, policy: request.codec)
        var usable = RowMask(count: corpus.rowCount, allSet: true)
        var normChecked = 0, unitRows = 0
        var hasher = qc_xxh64_state()
        qc_xxh64_init(&hasher, 0)
        let dim = source.dimension
        let floats = UnsafeMutableBufferPointer<Float>.allocate(capacity: placement.blockRows * dim)
        defer { floats.deallocate() }

        try placement.forEachBlock(hasher: &hasher) { block in
            defer {
                progress?(ProgressEvent(phase: "attaching \(request.file.lastPathComponent)", completed: block.firstRow + block.rowCount, total: corpus.rowCount, unit: "rows"))
            }
            var bad = block.rows.nonFiniteRows()
            if !bad.isEmpty && request.nonFinite == .reject {
                let fileRow = placement.fileRow(forCorpusRow: bad[0])
                throw CatalogError(
                    .invalidRequest, "\(path): row \(fileRow) holds NaN or infinity\(bad.count > 1 ? " (and \(bad.count - 1) more rows in this block)" : "")",
                    remedy: "fix the file, or pass --nonfinite mark-unusable to store such rows as unusable")
            }
            bad.append(contentsOf: block.absentRows)
            for r in bad { usable.remove(r) }
            let needsFloats = !bad.isEmpty || storedDType.rawValue != source.elementType.rawValue || normChecked < 1024
            if !needsFloats {
                try writer.append(storedBytes: block.bytes, count: block.rowCount)
                return
            }
            let out = UnsafeMutableBufferPointer(rebasing: floats[0..<block.rowCount * dim])
            block.rows.copyFloats(into: out)
            for r in bad { (out.baseAddress! + (r - block.firstRow) * dim).update(repeating: 0, count: dim) }
            if normChecked < 1024 {
                var norms = [Float](repeating: 0, count: block.rowCount)
                qc_row_norms_f32(out.baseAddress!, block.rowCount, dim, &norms)
                for (i, norm) in norms.enumerated() where usable.contains(block.firstRow + i) {
                    normChecked += 1
                    if abs(norm - 1) < 1e-3 { unitRows += 1 }
                }
            }
            if storedDType.rawValue == source.elementType.rawValue && bad.isEmpty {
                try writer.append(storedBytes: block.bytes, count: block.rowCount)
            } else {
                try writer.append(float32: UnsafeBufferPointer(out), count: block.rowCount)
            }
        }
        let data = try writer.finish()
        let usableCount = usable.setCount
        guard usableCount > 0 else {
            throw CatalogError(.invalidRequest, "\(path): no row holds a usable vector", remedy: "check the file")
        }
        let mask = usableCount < corpus.rowCount
            ? try FixedArrayWriter.writeBitmap(words: usable.words, rowCount: corpus.rowCount, staging: staging) : nil
        try staging.publish()

        let arrayID = try ArrayIndex.insert(data, db)
        let maskID = try mask.map { try ArrayIndex.insert($0, db) }
        let row = FeatureColumnRow(
            id: nil, corpusId: corpus.id!, name: request.column, kind: kind.rawValue, checkpoint: checkpoint,
            learningRate: kind == .gradient ? request.learningRate : request.learningRate,
            projectionKind: projection?.kind, projectionSeed: projection?.seed, projectionDim: projection?.dim,
            sourceDtype: source.elementType.rawValue, dim: dim, rowCount: corpus.rowCount, usableRows: usableCount,
            unitNormalized: normChecked > 0 && unitRows == normChecked, arrayId: arrayID, maskArrayId: maskID,
            sourcePath: path, sourceHash: "xxh64:" + Hashing.hex(qc_xxh64_digest(&hasher)), createdAt: Self.timestamp())
        try row.insert(db)
        var codecs: [String: Int] = [:]
        for (codec, bytes) in writer.bytesByCodec { codecs[codec.rawValue, default: 0] += bytes.stored }
        return AttachReport(
            corpus: corpus.name, column: request.column, kind: kind, checkpoint: checkpoint, rows: corpus.rowCount,
            usableRows: usableCount, unusableExamples: Array(RowMask.complement(of: usable).prefix(10)), dim: dim,
            sourceDType: source.elementType.rawValue, storedDType: storedDType.rawValue,
            sourceBytes: source.rowCount * source.rowByteCount, storedBytes: codecs.values.reduce(0, +), codecs: codecs,
            unitNormalized: row.unitNormalized, seconds: 0)
    }
}

extension RowMask {
    /// The rows not in `mask`, ascending (lazily, so taking a prefix is cheap).
    static func complement(of mask: RowMask) -> LazyFilterSequence<Range<Int>> {
        (0..<mask.count).lazy.filter { !mask.contains($0) }
    }
}
