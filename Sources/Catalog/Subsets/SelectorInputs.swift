import Foundation
import GRDB
import Selectors

/// One stored column a selection read, for lineage.
public struct SubsetInput: Codable, Sendable, Equatable {
    /// "pool gradient", "target gradient", "embedding".
    public var role: String
    public var column: String
    public var checkpoint: Int
    public var contentHash: String
}

/// The columns a selector needs, resolved and checked, ready to stream.
struct SelectorInputs {
    var rowCount: Int
    var checkpoints: [CheckpointGradients] = []
    var targetSubtasks: [Int]?
    var embeddings: (any VectorSource)?
    /// The target's embeddings (RDS).
    var targetEmbeddings: Matrix?
    var lineage: [SubsetInput] = []
    var targetID: Int64?
    /// The rows a query left (nil: all); random samples among them, the columns read as unusable elsewhere.
    var candidates: RowMask?

    /// The inputs with every pool column narrowed to `candidates` (``RestrictedVectors``), so that every
    /// selector selects among them without knowing why.
    func restricted(to candidates: RowMask?) -> SelectorInputs {
        guard let candidates else { return self }
        var inputs = self
        inputs.candidates = candidates
        inputs.checkpoints = checkpoints.map { c in
            var restricted = c
            restricted.pool = RestrictedVectors(c.pool, candidates: candidates)
            return restricted
        }
        inputs.embeddings = embeddings.map { RestrictedVectors($0, candidates: candidates) }
        return inputs
    }

    /// The column of the near-duplicate guard: an embedding column, or one checkpoint of a gradient
    /// column (the last unless named).
    static func guardColumn(_ dedup: DedupRequest, corpus: CorpusRow, catalog: Catalog, _ db: Database) throws -> (StoredVectors, SubsetInput) {
        let family = try FeatureColumnRow.filter(Column("corpus_id") == corpus.id! && Column("name") == dedup.column).order(Column("checkpoint")).fetchAll(db)
        guard let last = family.last else {
            let known = try String.fetchAll(db, sql: "SELECT DISTINCT name FROM feature_column WHERE corpus_id = ? AND kind != 'score' ORDER BY name", arguments: [corpus.id])
            throw CatalogError(
                .notFound, "--dedup: corpus '\(corpus.name)' has no column '\(dedup.column)'",
                remedy: known.isEmpty ? "attach an embedding column first" : "columns here: \(known.joined(separator: ", "))")
        }
        guard last.kind != ColumnKind.score.rawValue else {
            throw CatalogError(.invalidRequest, "--dedup: '\(dedup.column)' is a score column; near duplicates are found by the cosine of embeddings or gradients")
        }
        let column: FeatureColumnRow
        if let checkpoint = dedup.checkpoint {
            guard let match = family.first(where: { $0.checkpoint == checkpoint }) else {
                throw CatalogError(.notFound, "--dedup: column '\(dedup.column)' has no checkpoint \(checkpoint) (it has \(family.map { String($0.checkpoint) }.joined(separator: ", ")))")
            }
            column = match
        } else {
            column = last
        }
        let vectors = try catalog.vectors(of: column, db)
        return (vectors, SubsetInput(role: "dedup", column: column.name, checkpoint: column.checkpoint, contentHash: try catalog.describe(column, db).contentHash))
    }

    /// Resolves the inputs of `request.selector` (docs/SELECTORS.md: LESS and GTP read every checkpoint, SPICE
    /// and Quad one, the last unless told otherwise).
    static func resolve(_ request: SelectRequest, catalog: Catalog, _ db: Database) throws -> SelectorInputs {
        let corpus = try CorpusRow.named(request.corpus, db)
        var inputs = SelectorInputs(rowCount: corpus.rowCount)
        if request.selector == .random { return inputs }
        if request.selector == .rds { return try resolveEmbeddings(request, corpus: corpus, catalog: catalog, db, into: inputs) }

        let family = try FeatureColumnRow.filter(Column("corpus_id") == corpus.id! && Column("name") == request.gradientColumn && Column("kind") == ColumnKind.gradient.rawValue)
            .order(Column("checkpoint")).fetchAll(db)
        guard !family.isEmpty else {
            throw CatalogError(.notFound, "corpus '\(corpus.name)' has no gradient column '\(request.gradientColumn)'", remedy: "attach one with `quadcat attach CATALOG --corpus \(corpus.name) --column \(request.gradientColumn) --checkpoint 1 --lr RATE FILE.npy`, or name another with --gradient-column")
        }
        let available = family.map(\.checkpoint)
        if let checkpoints = request.checkpoints, let repeated = checkpoints.first(where: { c in checkpoints.count { $0 == c } > 1 }) {
            throw CatalogError(.invalidRequest, "checkpoint \(repeated) is listed twice in --checkpoints", remedy: "list each checkpoint once")
        }
        let wanted: [Int]
        switch request.selector {
        case .less, .gtp, .dpp: wanted = request.checkpoints ?? available
        default:
            guard (request.checkpoints?.count ?? 1) == 1 else {
                throw CatalogError(.invalidRequest, "\(request.selector.rawValue) reads one gradient checkpoint; give a single one with --checkpoints N")
            }
            wanted = [request.checkpoints?.first ?? available.last!]
        }
        let target: TargetRow? = request.selector.needsTarget ? try request.target.map { try TargetRow.named($0, db) } : nil
        if request.selector.needsTarget && target == nil {
            throw CatalogError(.invalidRequest, "\(request.selector.rawValue) selects for a target", remedy: "pass --target NAME (see `quadcat target list`)")
        }
        inputs.targetID = target?.id

        for checkpoint in wanted {
            guard let column = family.first(where: { $0.checkpoint == checkpoint }) else {
                throw CatalogError(.notFound, "corpus '\(corpus.name)' has no checkpoint \(checkpoint) of column '\(request.gradientColumn)' (it has \(available.map(String.init).joined(separator: ", ")))")
            }
            let pool = try catalog.vectors(of: column, db)
            inputs.lineage.append(SubsetInput(role: "pool gradient", column: column.name, checkpoint: checkpoint, contentHash: try catalog.describe(column, db).contentHash))
            guard let target else {
                inputs.checkpoints.append(CheckpointGradients(checkpoint: checkpoint, learningRate: column.learningRate ?? 1, pool: pool, target: Matrix(rows: 0, columns: column.dim)))
                continue
            }
            guard let targetColumn = try TargetColumnRow.filter(Column("target_id") == target.id! && Column("name") == request.gradientColumn && Column("checkpoint") == checkpoint).fetchOne(db) else {
                throw CatalogError(.notFound, "target '\(target.name)' has no gradient column '\(request.gradientColumn)' checkpoint \(checkpoint), which the pool has", remedy: "add it with `quadcat target add CATALOG \(target.name) FILE.npy --checkpoint \(checkpoint)`, or choose checkpoints with --checkpoints")
            }
            guard targetColumn.dim == column.dim else {
                throw CatalogError(.invalidRequest, "checkpoint \(checkpoint): pool gradients have dimension \(column.dim), target gradients \(targetColumn.dim)")
            }
            if let a = column.projection, let b = targetColumn.projection, a != b {
                throw CatalogError(.invalidRequest, "checkpoint \(checkpoint): pool gradients were projected with \(a), the target's with \(b); gradients from different projections cannot be compared", remedy: "recompute the target's gradients with the pool's projection")
            }
            let targetArray = try ArrayIndex.load(targetColumn.arrayId, db)
            let targetMatrix = try StoredVectors(array: targetArray, cache: catalog.segments, usableRows: nil).materialize()
            inputs.lineage.append(SubsetInput(role: "target gradient", column: targetColumn.name, checkpoint: checkpoint, contentHash: targetArray.contentHash))
            if [.less, .gtp, .dpp].contains(request.selector), column.learningRate == nil {
                throw CatalogError(.invalidRequest, "column '\(column.name)' checkpoint \(checkpoint) has no learning rate", remedy: "LESS, GTP and the DPP weight checkpoints by learning rate; re-attach with --lr")
            }
            inputs.checkpoints.append(CheckpointGradients(checkpoint: checkpoint, learningRate: column.learningRate ?? 1, pool: pool, target: targetMatrix))
        }

        if let target, request.selector == .less || request.selector == .dpp {
            let labels = try String.fetchAll(db, sql: "SELECT subtask FROM target_row WHERE target_id = ? ORDER BY row", arguments: [target.id])
            if !labels.isEmpty {
                let names = Array(Set(labels)).sorted()
                inputs.targetSubtasks = labels.map { names.firstIndex(of: $0)! }
                inputs.lineage.append(SubsetInput(role: "target subtasks", column: "subtask", checkpoint: 0, contentHash: Hashing.sha256Hex(labels.joined(separator: "\n"))))
            }
        }

        if request.selector == .quad {
            guard let embedding = try FeatureColumnRow.filter(Column("corpus_id") == corpus.id! && Column("name") == request.embeddingColumn).fetchOne(db) else {
                throw CatalogError(.notFound, "corpus '\(corpus.name)' has no embedding column '\(request.embeddingColumn)'", remedy: "Quad clusters embeddings: attach them with `quadcat attach CATALOG --corpus \(corpus.name) --column \(request.embeddingColumn) FILE.npy`, or name another with --embedding-column")
            }
            inputs.embeddings = try catalog.vectors(of: embedding, db)
            inputs.lineage.append(SubsetInput(role: "embedding", column: embedding.name, checkpoint: embedding.checkpoint, contentHash: try catalog.describe(embedding, db).contentHash))
        }
        return inputs
    }

    /// RDS's inputs: the pool's embedding column and the target's column of the same name.
    private static func resolveEmbeddings(
        _ request: SelectRequest, corpus: CorpusRow, catalog: Catalog, _ db: Database, into inputs: SelectorInputs
    ) throws -> SelectorInputs {
        var inputs = inputs
        guard let name = request.target else {
            throw CatalogError(.invalidRequest, "rds selects for a target", remedy: "pass --target NAME (see `quadcat target list`)")
        }
        let target = try TargetRow.named(name, db)
        inputs.targetID = target.id
        guard let embedding = try FeatureColumnRow.filter(Column("corpus_id") == corpus.id! && Column("name") == request.embeddingColumn).fetchOne(db) else {
            throw CatalogError(.notFound, "corpus '\(corpus.name)' has no embedding column '\(request.embeddingColumn)'", remedy: "attach one with `quadcat attach CATALOG --corpus \(corpus.name) --column \(request.embeddingColumn) FILE.npy`, or name another with --embedding-column")
        }
        guard let targetColumn = try TargetColumnRow.filter(Column("target_id") == target.id! && Column("name") == request.embeddingColumn).fetchOne(db) else {
            throw CatalogError(.notFound, "target '\(target.name)' has no embedding column '\(request.embeddingColumn)'", remedy: "add the validation rows' embeddings with `quadcat target add CATALOG \(target.name) VAL_EMB.npy --column \(request.embeddingColumn)` (no --checkpoint)")
        }
        guard targetColumn.dim == embedding.dim else {
            throw CatalogError(.invalidRequest, "the pool's embeddings have dimension \(embedding.dim), target '\(target.name)'s \(targetColumn.dim)", remedy: "embed the validation rows with the pool's embedding model")
        }
        inputs.embeddings = try catalog.vectors(of: embedding, db)
        inputs.lineage.append(SubsetInput(role: "embedding", column: embedding.name, checkpoint: embedding.checkpoint, contentHash: try catalog.describe(embedding, db).contentHash))
        let targetArray = try ArrayIndex.load(targetColumn.arrayId, db)
        inputs.targetEmbeddings = try StoredVectors(array: targetArray, cache: catalog.segments, usableRows: nil).materialize()
        inputs.lineage.append(SubsetInput(role: "target embedding", column: targetColumn.name, checkpoint: 0, contentHash: targetArray.contentHash))
        return inputs
    }
}
