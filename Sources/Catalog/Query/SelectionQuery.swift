import Foundation
import GRDB
import Selectors

/// The rows a selection runs over (docs/ARCHITECTURE.md, "Queries"): those a predicate matches, within a subset, minus
/// excluded subsets and excluded ids. Empty: the whole corpus.
public struct SelectionQuery: Sendable, Equatable {
    /// `--where`: a predicate over indexed fields (see `quadcat select --help`).
    public var predicate: String?
    /// `--within NAME[@N]`: select among this subset's rows only.
    public var within: String?
    /// `--exclude NAME[@N]` (repeatable): never select these subsets' rows.
    public var exclude: [String] = []
    /// `--exclude-ids FILE`: never select the documents whose external ids the file lists, one per line.
    public var excludeIDs: URL?

    public init(predicate: String? = nil, within: String? = nil, exclude: [String] = [], excludeIDs: URL? = nil) {
        self.predicate = predicate
        self.within = within
        self.exclude = exclude
        self.excludeIDs = excludeIDs
    }

    public var isEmpty: Bool { predicate == nil && within == nil && exclude.isEmpty && excludeIDs == nil }
}

/// The query a stored subset was selected over, as `log` and `show` report it.
public struct SubsetQuery: Codable, Sendable, Equatable {
    /// The predicate in canonical form.
    public var predicate: String?
    /// `name@version` of the subset selected within.
    public var within: String?
    /// `name@version` of each excluded subset.
    public var exclude: [String] = []
    public var excludeIDs: ExcludedIDs?
    public var dedup: Dedup?
    /// Rows left by the predicate, within and the exclusions; nil when the selection ran over the whole corpus.
    public var candidates: Int?
    /// What a percentage budget is a share of: "corpus" or "candidates".
    public var budgetBasis: String = "corpus"

    public struct ExcludedIDs: Codable, Sendable, Equatable {
        public var file: String
        /// Distinct ids the file lists, and how many of them are documents of the corpus.
        public var ids: Int
        public var matched: Int
        /// sha256 of the sorted distinct ids (part of the recipe).
        public var idsHash: String
    }

    public struct Dedup: Codable, Sendable, Equatable {
        public var column: String
        public var checkpoint: Int
        public var cosine: Double
        /// Candidates the guard refused, and members it admitted without a vector to compare.
        public var refused: Int
        public var unchecked: Int
    }
}

/// `--dedup COLUMN[@CHECKPOINT]:COSINE`: the near-duplicate guard's column and threshold.
public struct DedupRequest: Sendable, Equatable {
    public var column: String
    /// A gradient column's checkpoint; nil: the last one (embedding columns have none).
    public var checkpoint: Int?
    /// Cosine at or above which a candidate is refused, in (0, 1].
    public var cosine: Double

    public init(column: String, checkpoint: Int? = nil, cosine: Double) {
        self.column = column
        self.checkpoint = checkpoint
        self.cosine = cosine
    }

    /// Parses `emb:0.95` or `grad@4:0.9`.
    public init(parsing text: String) throws {
        let remedy = "for example --dedup emb:0.95 (the embedding column, cosine 0.95) or --dedup grad@4:0.9"
        guard let colon = text.lastIndex(of: ":") else {
            throw CatalogError(.invalidRequest, "--dedup '\(text)' is not COLUMN:COSINE", remedy: remedy)
        }
        var column = String(text[..<colon])
        let threshold = String(text[text.index(after: colon)...])
        guard let cosine = Double(threshold), cosine > 0, cosine <= 1 else {
            throw CatalogError(.invalidRequest, "--dedup '\(text)': the threshold '\(threshold)' is not a cosine in (0, 1]", remedy: remedy)
        }
        var checkpoint: Int?
        if let at = column.lastIndex(of: "@") {
            guard let c = Int(column[column.index(after: at)...]) else {
                throw CatalogError(.invalidRequest, "--dedup '\(text)': '\(column[column.index(after: at)...])' is not a checkpoint number", remedy: remedy)
            }
            checkpoint = c
            column = String(column[..<at])
        }
        guard !column.isEmpty else { throw CatalogError(.invalidRequest, "--dedup '\(text)' names no column", remedy: remedy) }
        self.init(column: column, checkpoint: checkpoint, cosine: cosine)
    }

    public var description: String { "\(column)\(checkpoint.map { "@\($0)" } ?? ""):\(cosine)" }
}

/// A parent of a subset version: a `within` or `exclude` subset of a selection, an operand of
/// `combine`, a part of `mix`.
struct ParentLink {
    var role: String
    var subset: SubsetRow
    var share: Double?
}

/// A query resolved against a corpus: the candidate rows and everything lineage needs.
struct ResolvedQuery {
    /// nil: every row of the corpus.
    var candidates: RowMask?
    var record: SubsetQuery
    var parents: [ParentLink] = []
    /// Lines added to the recipe (none for an empty query, so plain selections keep their recipes).
    var recipeLines: [String] = []
    /// What was left and why, for the notes.
    var notes: [String] = []

    static func resolve(_ query: SelectionQuery, corpus: CorpusRow, catalog: Catalog, _ db: Database) throws -> ResolvedQuery {
        var resolved = ResolvedQuery(candidates: nil, record: SubsetQuery())
        guard !query.isEmpty else { return resolved }
        var mask = RowMask(count: corpus.rowCount, allSet: true)
        var why: [String] = []
        if let text = query.predicate {
            let predicate = try parsePredicate(text, corpus: corpus, db)
            let fields = Set(predicate.fieldMentions.map(\.name))
            let ids = Dictionary(uniqueKeysWithValues: try IndexedFieldRows.all(corpusID: corpus.id!, db).map { ($0.name, $0.id) })
            var columns: [String: [FieldValue]] = [:]
            for name in fields { columns[name] = try IndexedFieldRows.values(fieldID: ids[name]!, rowCount: corpus.rowCount, db) }
            let matching = PredicateEvaluator(rowCount: corpus.rowCount, columns: columns).matchingRows(predicate)
            mask = mask.intersection(matching)
            resolved.record.predicate = predicate.canonical
            resolved.recipeLines.append("where \(predicate.canonical)")
            why.append("where \(predicate.canonical): \(matching.setCount) rows")
        }
        if let reference = query.within {
            let (row, members) = try subsetMembers(reference, corpus: corpus, flag: "--within", catalog: catalog, db)
            mask = mask.intersection(members)
            resolved.record.within = "\(row.name)@\(row.version)"
            resolved.parents.append(ParentLink(role: "within", subset: row, share: nil))
            resolved.recipeLines.append("within \(row.contentHash)")
            why.append("within \(row.name)@\(row.version): \(members.setCount) rows")
        }
        for reference in query.exclude {
            let (row, members) = try subsetMembers(reference, corpus: corpus, flag: "--exclude", catalog: catalog, db)
            mask = mask.subtracting(members)
            resolved.record.exclude.append("\(row.name)@\(row.version)")
            resolved.parents.append(ParentLink(role: "exclude", subset: row, share: nil))
            why.append("excluding \(row.name)@\(row.version): \(members.setCount) rows")
        }
        // The order of exclusions does not matter, so neither does it to the recipe.
        resolved.recipeLines += resolved.parents.filter { $0.role == "exclude" }.map { "exclude \($0.subset.contentHash)" }.sorted()
        if let file = query.excludeIDs {
            let (rows, record, unmatched) = try excludedIDs(file, corpus: corpus, db)
            mask = mask.subtracting(rows)
            resolved.record.excludeIDs = record
            resolved.recipeLines.append("exclude-ids \(record.idsHash)")
            why.append("excluding \(record.matched) ids of \(file.lastPathComponent)")
            if !unmatched.isEmpty {
                resolved.notes.append(
                    "\(record.ids - record.matched) of the \(record.ids) ids in \(file.lastPathComponent) are not documents of corpus '\(corpus.name)' "
                        + "(e.g. \(unmatched.prefix(3).map { "'\($0)'" }.joined(separator: ", "))); they exclude nothing")
            }
        }
        resolved.candidates = mask
        resolved.record.candidates = mask.setCount
        resolved.notes.insert("candidates: \(mask.setCount) of \(corpus.rowCount) rows (\(why.joined(separator: "; ")))", at: 0)
        return resolved
    }

    /// Parses and validates a predicate against the corpus's indexed fields.
    static func parsePredicate(_ text: String, corpus: CorpusRow, _ db: Database) throws -> Predicate {
        let fields = Dictionary(uniqueKeysWithValues: try IndexedFieldRows.describe(corpus: corpus, db).map { ($0.name, $0) })
        do {
            let predicate = try Predicate.parse(text)
            try predicate.validate(fields: fields)
            return predicate
        } catch {
            let unknownField = error.message.contains("is not an indexed field")
            throw CatalogError(
                .invalidRequest, "--where position \(error.position): \(error.message)",
                remedy: unknownField
                    ? "index it with `quadcat index CATALOG --corpus \(corpus.name) --field NAME` (or name an indexed field)"
                    : "the predicate was \"\(text)\"; quote text in single quotes ('python_docs'), leave numbers bare, join tests with AND, OR, NOT and parentheses")
        }
    }

    /// A subset of the same corpus, and its members as a mask.
    static func subsetMembers(
        _ reference: String, corpus: CorpusRow, flag: String, catalog: Catalog, _ db: Database
    ) throws -> (SubsetRow, RowMask) {
        let row = try catalog.subsetRow(reference, db)
        guard row.corpusId == corpus.id else {
            throw CatalogError(.invalidRequest, "\(flag) \(reference): \(row.name)@\(row.version) is a subset of another corpus", remedy: "name a subset of corpus '\(corpus.name)'")
        }
        let members = try ChunkDecoder(cache: catalog.segments, array: ArrayIndex.load(row.membersArrayId, db)).members()
        return (row, RowMask(count: corpus.rowCount, rows: members.map(\.row).filter { $0 < corpus.rowCount }))
    }

    /// The rows of the ids listed in `file` (one per line; blank lines skipped).
    static func excludedIDs(_ file: URL, corpus: CorpusRow, _ db: Database) throws -> (RowMask, SubsetQuery.ExcludedIDs, [String]) {
        let data: Data
        do { data = try Data(contentsOf: file) } catch {
            throw CatalogError(.notFound, "cannot read --exclude-ids file \(file.path): \(error.localizedDescription)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw CatalogError(.invalidRequest, "--exclude-ids file \(file.path) is not UTF-8 text", remedy: "list one id per line")
        }
        // Lines end in \n or \r\n (a Character each); blank lines are skipped.
        let ids = Array(Set(text.split(whereSeparator: \.isNewline).map(String.init))).sorted()
        guard !ids.isEmpty else {
            throw CatalogError(.invalidRequest, "--exclude-ids file \(file.path) lists no ids", remedy: "list one id per line (as `quadcat export --format ids` writes them)")
        }
        var mask = RowMask(count: corpus.rowCount, allSet: false)
        var unmatched: [String] = []
        let statement = try db.cachedStatement(sql: "SELECT row FROM document WHERE corpus_id = ? AND external_id = ?")
        for id in ids {
            if let row = try Int.fetchOne(statement, arguments: [corpus.id!, id]) { mask.insert(row) } else { unmatched.append(id) }
        }
        guard unmatched.count < ids.count else {
            throw CatalogError(
                .invalidRequest, "none of the \(ids.count) ids in \(file.path) is a document of corpus '\(corpus.name)' (e.g. \(ids.prefix(3).map { "'\($0)'" }.joined(separator: ", ")))",
                remedy: "ids are matched exactly against the corpus's id field, one per line; check the file and --corpus")
        }
        let record = SubsetQuery.ExcludedIDs(
            file: file.path, ids: ids.count, matched: ids.count - unmatched.count, idsHash: Hashing.sha256Hex(ids.joined(separator: "\n")))
        return (mask, record, unmatched)
    }
}

extension Catalog {
    /// The rows of a corpus that a query leaves, ascending: what `select` with that query selects among.
    public func candidateRows(corpus: String, query: SelectionQuery) throws -> [Int] {
        try database.read { db in
            let corpusRow = try CorpusRow.named(corpus, db)
            let resolved = try ResolvedQuery.resolve(query, corpus: corpusRow, catalog: self, db)
            return resolved.candidates?.setRows ?? Array(0..<corpusRow.rowCount)
        }
    }
}
