import Foundation
import GRDB
import Selectors

/// A stored subset version, as `log` and `show` report it.
public struct SubsetInfo: Codable, Sendable {
    public var name: String
    public var version: Int
    public var parentVersion: Int?
    public var corpus: String
    public var target: String?
    public var selector: String
    public var selectorVersion: String
    /// Canonical JSON of the selector's parameters, defaults filled in.
    public var parameters: String
    public var seed: UInt64
    public var budgetSpec: String
    public var budget: Int
    public var rowCount: Int
    public var recipeHash: String
    public var contentHash: String
    public var inputs: [SubsetInput]
    public var diagnostics: Diagnostics
    public var createdAt: String
    public var elapsedSeconds: Double
    public var toolVersion: String
    public var tags: [String]
    /// The query the selection ran over, and its near-duplicate guard; nil for a plain selection.
    public var query: SubsetQuery?
    /// The subsets this version was made from (combine, mix, within, exclude), in order.
    public var parents: [SubsetParent]
    /// Downstream measurements (`quadcat metric`): the latest value of each key, by key.
    public var metrics: [SubsetMetric]

    /// "name@version".
    public var reference: String { "\(name)@\(version)" }
}

struct SubsetRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "subset"
    static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    var id: Int64?
    var name: String
    var version: Int
    var parentVersion: Int?
    var corpusId: Int64
    var targetId: Int64?
    var selector: String
    var selectorVersion: String
    var paramsJson: String
    var seed: Int64
    var budgetSpec: String
    var budget: Int
    var rowCount: Int
    var membersArrayId: Int64
    var recipeHash: String
    var contentHash: String
    var diagnosticsJson: String
    var createdAt: String
    var elapsedSeconds: Double
    var toolVersion: String
    var queryJson: String?
}

extension Catalog {
    /// Runs a selector over the stored columns and stores its result as a new, immutable subset
    /// version (`quadcat select`; the path of the call: docs/ARCHITECTURE.md). The same request on the same inputs gives the same recipe and
    /// content hashes.
    ///
    /// A query (`request.query`) narrows the rows the selector sees (docs/ARCHITECTURE.md, "Queries"): every column it reads
    /// is wrapped so that rows outside the candidates read as unusable, and the stored subset records
    /// the query, its parents and the candidate count. A near-duplicate guard (`request.dedup`) refuses
    /// rows too close to a member already chosen, in whichever way the selector commits members.
    public func select(_ request: SelectRequest, progress: ProgressHandler? = nil) throws -> SubsetInfo {
        guard Self.isValidSubsetName(request.name) else {
            throw CatalogError(.invalidRequest, "subset name '\(request.name)' must be letters, digits, '.', '_' or '-' (no '@')")
        }
        let started = Date()
        let prepared = try PreparedSelector.prepare(request.selector, parameters: request.parameters, seed: request.seed)
        let (corpus, inputs, recordsHash, query, guardColumn) = try database.read { db in
            let corpus = try CorpusRow.named(request.corpus, db)
            return (
                corpus, try SelectorInputs.resolve(request, catalog: self, db), try ArrayIndex.load(corpus.recordsArrayId, db).contentHash,
                try ResolvedQuery.resolve(request.query, corpus: corpus, catalog: self, db),
                try request.dedup.map { try SelectorInputs.guardColumn($0, corpus: corpus, catalog: self, db) })
        }
        let candidateCount = query.candidates?.setCount ?? inputs.rowCount
        guard candidateCount > 0 else {
            throw CatalogError(.invalidRequest, "the query leaves no rows to select from: \(query.notes[0])", remedy: "loosen --where, --within or the exclusions")
        }
        let budget = request.budget.rows(corpusRows: inputs.rowCount, candidateRows: candidateCount)
        let admission = try guardColumn.map { column in
            try NearDuplicateGuard(source: column.0, threshold: request.dedup!.cosine, expectedMembers: budget)
        }
        progress?(ProgressEvent(phase: "running \(prepared.name)", completed: 0, total: nil, unit: "rows"))
        var selectorProgress: SelectionProgressHandler? = nil
        if let progress {
            let selectorName = prepared.name
            selectorProgress = { @Sendable event in
                var named = event
                named.phase = "\(selectorName): \(event.phase)"
                progress(named)
            }
        }
        var selection: Selection
        do { selection = try prepared.run(inputs.restricted(to: query.candidates), budget, admission, selectorProgress) } catch let error as SelectorError {
            throw CatalogError(.invalidRequest, "\(prepared.name): \(error.message)")
        }
        try Self.checkSelection(selection, rowCount: inputs.rowCount, budget: budget, selector: prepared.name, candidates: query.candidates)

        var lineage = inputs.lineage
        var record = query.record
        record.budgetBasis = request.budget.isShareOfCandidates ? "candidates" : "corpus"
        selection.diagnostics.notes.insert(contentsOf: query.notes, at: 0)
        if let candidates = query.candidates { selection.diagnostics.counters["candidateRows"] = Double(candidates.setCount) }
        if let admission, let input = guardColumn?.1, let dedup = request.dedup {
            lineage.append(input)
            record.dedup = SubsetQuery.Dedup(
                column: input.column, checkpoint: input.checkpoint, cosine: dedup.cosine, refused: admission.refused, unchecked: admission.unchecked)
            Self.describeGuard(admission, column: input, into: &selection.diagnostics)
        }

        var recipeExtra = query.recipeLines
        if let dedup = request.dedup { recipeExtra.append("dedup-cosine \(dedup.cosine)") }
        let recipeHash = Self.recipeHash(
            selector: prepared.name, version: prepared.version, parametersJSON: prepared.parametersJSON, seed: request.seed,
            budget: budget, recordsHash: recordsHash, lineage: lineage, extra: recipeExtra)

        let isPlain = request.query.isEmpty && request.dedup == nil && !request.budget.isShareOfCandidates
        return try store(SubsetDraft(
            name: request.name, corpusID: corpus.id!, targetID: inputs.targetID, selector: prepared.name, selectorVersion: prepared.version,
            parametersJSON: prepared.parametersJSON, seed: request.seed, budgetSpec: request.budget.description, budget: budget,
            selection: selection, recipeHash: recipeHash, inputs: lineage, query: isPlain ? nil : record, parents: query.parents,
            started: started))
    }

    /// The recipe hash: selector and version, canonical parameters, seed, budget, the corpus's records
    /// hash and every input's content hash (`extra` lines for what else decides the result: the query,
    /// the guard, a sharded run's plan).
    static func recipeHash(
        selector: String, version: String, parametersJSON: String, seed: UInt64, budget: Int, recordsHash: String,
        lineage: [SubsetInput], extra: [String] = []
    ) -> String {
        var recipe = Hashing.SHA256()
        recipe.update("quadcat-recipe-v1\n\(selector) \(version)\n\(parametersJSON)\nseed \(seed)\nbudget \(budget)\ncorpus \(recordsHash)\n")
        for input in lineage { recipe.update("\(input.role) \(input.column) \(input.checkpoint) \(input.contentHash)\n") }
        for line in extra { recipe.update(line + "\n") }
        return recipe.finalizeHex()
    }

    /// Stores a plain selection (no query) of `request.corpus` as the next version of `request.name`.
    func storeSubset(
        _ request: SelectRequest, budget: Int, selector prepared: (name: String, version: String, parametersJSON: String), selection: Selection,
        lineage: [SubsetInput], recipeHash: String, targetID: Int64?, started: Date
    ) throws -> SubsetInfo {
        let corpusID = try database.read { db in try CorpusRow.named(request.corpus, db).id! }
        return try store(SubsetDraft(
            name: request.name, corpusID: corpusID, targetID: targetID, selector: prepared.name, selectorVersion: prepared.version,
            parametersJSON: prepared.parametersJSON, seed: request.seed, budgetSpec: request.budget.description, budget: budget,
            selection: selection, recipeHash: recipeHash, inputs: lineage, query: nil, parents: [], started: started))
    }

    /// The guard's counts and first refusals, for the notes.
    static func describeGuard(_ admission: NearDuplicateGuard, column: SubsetInput, into diagnostics: inout Diagnostics) {
        let name = column.role == "dedup" && column.checkpoint > 0 ? "\(column.column)@\(column.checkpoint)" : column.column
        diagnostics.counters["dedupRefused"] = Double(admission.refused)
        diagnostics.counters["dedupUnchecked"] = Double(admission.unchecked)
        diagnostics.counters["dedupExactChecks"] = Double(admission.exactChecks)
        diagnostics.timings["dedup"] = admission.seconds
        let examples = admission.examples.prefix(3).map { "row \($0.row) ~ row \($0.member) at \(String(format: "%.4f", $0.cosine))" }
        diagnostics.notes.append(
            "near-duplicate guard (\(name) cosine >= \(admission.threshold)): \(admission.refused) candidate rows refused"
                + (examples.isEmpty ? "" : " (\(examples.joined(separator: "; ")))"))
        if admission.unchecked > 0 {
            diagnostics.notes.append("\(admission.unchecked) members have no usable vector in \(name) and were admitted without a check")
        }
    }

    /// A subset version about to be stored: by `select`, `combine` or `mix`.
    struct SubsetDraft {
        var name: String
        var corpusID: Int64
        var targetID: Int64?
        var selector: String
        var selectorVersion: String
        var parametersJSON: String
        var seed: UInt64
        var budgetSpec: String
        var budget: Int
        var selection: Selection
        var recipeHash: String
        var inputs: [SubsetInput]
        var query: SubsetQuery?
        var parents: [ParentLink]
        var started: Date
    }

    /// Writes the member list (files first), then the subset's rows in one transaction: the next version
    /// of `draft.name`, its inputs and its parents.
    func store(_ draft: SubsetDraft) throws -> SubsetInfo {
        guard Self.isValidSubsetName(draft.name) else {
            throw CatalogError(.invalidRequest, "subset name '\(draft.name)' must be letters, digits, '.', '_' or '-' (no '@')")
        }
        var diagnostics = draft.selection.diagnostics
        let members = draft.selection.members
        let contentHash = Self.contentHash(of: members)
        let queryJSON = try draft.query.map { try CanonicalJSON.string($0) }
        return try write { staging in
            let stored = try FixedArrayWriter.writeMembers(members.map { ($0.row, $0.score, $0.weight) }, staging: staging)
            try staging.publish()
            return try database.write { db in
                if try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM tag WHERE name = ?", arguments: [draft.name])! > 0 {
                    throw CatalogError(.invalidRequest, "'\(draft.name)' is a tag", remedy: "choose another --as name")
                }
                let previous = try Int.fetchOne(db, sql: "SELECT MAX(version) FROM subset WHERE name = ?", arguments: [draft.name])
                if let previous, let owner = try SubsetRow.filter(Column("name") == draft.name && Column("version") == previous).fetchOne(db), owner.corpusId != draft.corpusID {
                    throw CatalogError(.invalidRequest, "subset '\(draft.name)' belongs to another corpus", remedy: "choose another --as name")
                }
                diagnostics.timings["total"] = Date().timeIntervalSince(draft.started)
                let row = SubsetRow(
                    id: nil, name: draft.name, version: (previous ?? 0) + 1, parentVersion: previous, corpusId: draft.corpusID,
                    targetId: draft.targetID, selector: draft.selector, selectorVersion: draft.selectorVersion,
                    paramsJson: draft.parametersJSON, seed: Int64(bitPattern: draft.seed), budgetSpec: draft.budgetSpec,
                    budget: draft.budget, rowCount: members.count, membersArrayId: try ArrayIndex.insert(stored, db),
                    recipeHash: draft.recipeHash, contentHash: contentHash, diagnosticsJson: try CanonicalJSON.string(diagnostics),
                    createdAt: Self.timestamp(), elapsedSeconds: Date().timeIntervalSince(draft.started), toolVersion: Self.toolVersion,
                    queryJson: queryJSON)
                try row.insert(db)
                let subsetID = db.lastInsertedRowID
                for input in draft.inputs {
                    try db.execute(
                        sql: "INSERT INTO subset_input (subset_id, role, column_name, checkpoint, content_hash) VALUES (?, ?, ?, ?, ?)",
                        arguments: [subsetID, input.role, input.column, input.checkpoint, input.contentHash])
                }
                for (seq, parent) in draft.parents.enumerated() {
                    try db.execute(
                        sql: "INSERT INTO subset_parent (subset_id, seq, role, parent_id, content_hash, share) VALUES (?, ?, ?, ?, ?, ?)",
                        arguments: [subsetID, seq, parent.role, parent.subset.id, parent.subset.contentHash, parent.share])
                }
                return try info(of: SubsetRow.fetchOne(db, key: subsetID)!, db)
            }
        }
    }

    static func isValidSubsetName(_ name: String) -> Bool {
        !name.isEmpty && name.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0) }
    }

    /// A selector's result must be a list of distinct, in-range candidate rows no longer than the budget.
    static func checkSelection(_ selection: Selection, rowCount: Int, budget: Int, selector: String, candidates: RowMask? = nil) throws {
        var seen = Set<Int>()
        for member in selection.members {
            guard member.row >= 0, member.row < rowCount, seen.insert(member.row).inserted, member.score.isFinite, member.weight.isFinite else {
                throw CatalogError(.invalidRequest, "\(selector) returned an invalid member (row \(member.row), score \(member.score)); nothing was stored")
            }
            if let candidates, !candidates.contains(member.row) {
                throw CatalogError(.invalidRequest, "\(selector) returned row \(member.row), which the query left out; nothing was stored")
            }
        }
        guard selection.members.count <= budget else {
            throw CatalogError(.invalidRequest, "\(selector) returned \(selection.members.count) rows for a budget of \(budget); nothing was stored")
        }
    }

    /// sha256 of the member list: rank order, row, score and weight.
    static func contentHash(of members: [Member]) -> String {
        var hasher = Hashing.SHA256()
        hasher.update("quadcat-members-v1 \(members.count)\n")
        for m in members {
            hasher.update(UInt64(m.row))
            hasher.update(m.score.bitPattern)
            hasher.update(m.weight.bitPattern)
        }
        return hasher.finalizeHex()
    }

    /// Finds a subset by `NAME` (latest version), `NAME@N`, or a tag.
    func subsetRow(_ reference: String, _ db: Database) throws -> SubsetRow {
        if let at = reference.lastIndex(of: "@") {
            let name = String(reference[..<at])
            guard let version = Int(reference[reference.index(after: at)...]) else {
                throw CatalogError(.invalidRequest, "'\(reference)' is not NAME@VERSION")
            }
            if let row = try SubsetRow.filter(Column("name") == name && Column("version") == version).fetchOne(db) { return row }
            let versions = try Int.fetchAll(db, sql: "SELECT version FROM subset WHERE name = ? ORDER BY version", arguments: [name])
            throw CatalogError(.notFound, "no version \(version) of subset '\(name)'", remedy: versions.isEmpty ? "no subset has that name" : "versions: \(versions.map(String.init).joined(separator: ", "))")
        }
        if let row = try SubsetRow.filter(sql: "id = (SELECT subset_id FROM tag WHERE name = ?)", arguments: [reference]).fetchOne(db) { return row }
        if let row = try SubsetRow.filter(Column("name") == reference).order(Column("version").desc).fetchOne(db) { return row }
        let names = try String.fetchAll(db, sql: "SELECT DISTINCT name FROM subset ORDER BY name LIMIT 20")
        throw CatalogError(.notFound, "no subset or tag named '\(reference)'", remedy: names.isEmpty ? "make one with `quadcat select`" : "subsets here: \(names.joined(separator: ", "))")
    }

    func info(of row: SubsetRow, _ db: Database) throws -> SubsetInfo {
        let inputs = try Row.fetchAll(db, sql: "SELECT role, column_name, checkpoint, content_hash FROM subset_input WHERE subset_id = ? ORDER BY role DESC, column_name, checkpoint", arguments: [row.id])
            .map { SubsetInput(role: $0["role"], column: $0["column_name"], checkpoint: $0["checkpoint"], contentHash: $0["content_hash"]) }
        let corpus = try String.fetchOne(db, sql: "SELECT name FROM corpus WHERE id = ?", arguments: [row.corpusId])!
        let target = try row.targetId.flatMap { try String.fetchOne(db, sql: "SELECT name FROM target WHERE id = ?", arguments: [$0]) }
        let tags = try String.fetchAll(db, sql: "SELECT name FROM tag WHERE subset_id = ? ORDER BY name", arguments: [row.id])
        let diagnostics = try JSONDecoder().decode(Diagnostics.self, from: Data(row.diagnosticsJson.utf8))
        let query = try row.queryJson.map { try JSONDecoder().decode(SubsetQuery.self, from: Data($0.utf8)) }
        return SubsetInfo(
            name: row.name, version: row.version, parentVersion: row.parentVersion, corpus: corpus, target: target,
            selector: row.selector, selectorVersion: row.selectorVersion, parameters: row.paramsJson,
            seed: UInt64(bitPattern: row.seed), budgetSpec: row.budgetSpec, budget: row.budget, rowCount: row.rowCount,
            recipeHash: row.recipeHash, contentHash: row.contentHash, inputs: inputs, diagnostics: diagnostics,
            createdAt: row.createdAt, elapsedSeconds: row.elapsedSeconds, toolVersion: row.toolVersion, tags: tags,
            query: query, parents: try SubsetParent.all(of: row.id!, db), metrics: try SubsetMetric.latest(of: row.id!, db))
    }

    /// One subset version (`NAME`, `NAME@N` or a tag).
    public func subset(_ reference: String) throws -> SubsetInfo {
        try database.read { try info(of: subsetRow(reference, $0), $0) }
    }

    /// Every version of a subset name, oldest first (`quadcat log`). `NAME@N` or a tag stands for
    /// the name it belongs to.
    public func log(_ reference: String) throws -> [SubsetInfo] {
        try database.read { db in
            // Resolving first gives the helpful not-found error and maps tags and versions to a name.
            let name = try subsetRow(reference, db).name
            return try SubsetRow.filter(Column("name") == name).order(Column("version")).fetchAll(db).map { try info(of: $0, db) }
        }
    }

    /// Every subset, latest version of each name.
    public func subsets() throws -> [SubsetInfo] {
        try database.read { db in
            try SubsetRow.filter(sql: "version = (SELECT MAX(version) FROM subset s WHERE s.name = subset.name)")
                .order(Column("name")).fetchAll(db).map { try info(of: $0, db) }
        }
    }

    /// The members of a subset version, in rank order.
    public func members(_ reference: String) throws -> [Member] {
        let array = try database.read { try ArrayIndex.load(subsetRow(reference, $0).membersArrayId, $0) }
        return try ChunkDecoder(cache: segments, array: array).members()
    }

    /// Points tag `tag` at a subset version (moving it if it exists).
    public func tag(_ reference: String, as tag: String) throws -> SubsetInfo {
        guard Self.isValidSubsetName(tag) else {
            throw CatalogError(.invalidRequest, "tag '\(tag)' must be letters, digits, '.', '_' or '-'")
        }
        return try write { _ in
            try database.write { db in
                let row = try subsetRow(reference, db)
                if try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM subset WHERE name = ?", arguments: [tag])! > 0 {
                    throw CatalogError(.invalidRequest, "'\(tag)' is a subset name; a tag must not shadow it")
                }
                try db.execute(sql: "INSERT OR REPLACE INTO tag (name, subset_id, created_at) VALUES (?, ?, ?)", arguments: [tag, row.id, Self.timestamp()])
                return try info(of: row, db)
            }
        }
    }
}

/// One member with what a person needs to judge it.
public struct MemberView: Codable, Sendable {
    public var rank: Int
    public var row: Int
    public var id: String
    public var score: Double
    public var weight: Double
    /// The record's text field (whole; callers shorten it for display).
    public var text: String
}

extension Catalog {
    /// The first `limit` members of a subset with their ids and texts (`quadcat show`).
    public func topMembers(_ reference: String, limit: Int) throws -> [MemberView] {
        let info = try subset(reference)
        let members = Array(try self.members(info.reference).prefix(max(0, limit)))
        let corpus = try database.read { try CorpusRow.named(info.corpus, $0) }
        let records = try self.records(corpus: info.corpus, rows: members.map(\.row))
        let ids = try externalIDs(corpus: info.corpus, rows: members.map(\.row))
        return try members.enumerated().map { rank, member in
            MemberView(
                rank: rank + 1, row: member.row, id: ids[rank], score: member.score, weight: member.weight,
                text: String(decoding: try Self.text(of: records[rank], corpus: corpus), as: UTF8.self))
        }
    }
}
