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
}

extension Catalog {
    /// Runs a selector over the stored columns and stores its result as a new, immutable subset
    /// version (`quadcat select`; the path of the call: docs/ARCHITECTURE.md). The same request on the same inputs gives the same recipe and
    /// content hashes.
    public func select(_ request: SelectRequest, progress: ProgressHandler? = nil) throws -> SubsetInfo {
        guard Self.isValidSubsetName(request.name) else {
            throw CatalogError(.invalidRequest, "subset name '\(request.name)' must be letters, digits, '.', '_' or '-' (no '@')")
        }
        let started = Date()
        let prepared = try PreparedSelector.prepare(request.selector, parameters: request.parameters, seed: request.seed)
        let (inputs, recordsHash) = try database.read { db in
            (try SelectorInputs.resolve(request, catalog: self, db), try ArrayIndex.load(CorpusRow.named(request.corpus, db).recordsArrayId, db).contentHash)
        }
        let budget = request.budget.rows(of: inputs.rowCount)
        progress?(ProgressEvent(phase: "running \(prepared.name)", completed: 0, total: nil, unit: "rows"))
        var selectorProgress: SelectionProgressHandler? = nil
        if let progress {
            let selectorName = prepared.name
            selectorProgress = { @Sendable event in
                progress(ProgressEvent(phase: "\(selectorName): \(event.phase)", completed: event.completed, total: event.total, unit: event.unit))
            }
        }
        var selection: Selection
        do { selection = try prepared.run(inputs, budget, selectorProgress) } catch let error as SelectorError {
            throw CatalogError(.invalidRequest, "\(prepared.name): \(error.message)")
        }
        try Self.checkSelection(selection, rowCount: inputs.rowCount, budget: budget, selector: prepared.name)

        let recipeHash = Self.recipeHash(
            selector: prepared.name, version: prepared.version, parametersJSON: prepared.parametersJSON, seed: request.seed,
            budget: budget, recordsHash: recordsHash, lineage: inputs.lineage)
        return try storeSubset(
            request, budget: budget, selector: (prepared.name, prepared.version, prepared.parametersJSON), selection: selection,
            lineage: inputs.lineage, recipeHash: recipeHash, targetID: inputs.targetID, started: started)
    }

    /// The recipe hash: selector and version, canonical parameters, seed, budget, the corpus's records
    /// hash and every input's content hash (`extra` lines for what else decides the result).
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

    /// Stores a selection as the next version of `request.name` (members chunk first, the index last).
    func storeSubset(
        _ request: SelectRequest, budget: Int, selector prepared: (name: String, version: String, parametersJSON: String), selection: Selection,
        lineage: [SubsetInput], recipeHash: String, targetID: Int64?, started: Date
    ) throws -> SubsetInfo {
        var selection = selection
        let contentHash = Self.contentHash(of: selection.members)
        return try write { staging in
            let members = try FixedArrayWriter.writeMembers(selection.members.map { ($0.row, $0.score, $0.weight) }, staging: staging)
            try staging.publish()
            return try database.write { db in
                let corpus = try CorpusRow.named(request.corpus, db)
                if try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM tag WHERE name = ?", arguments: [request.name])! > 0 {
                    throw CatalogError(.invalidRequest, "'\(request.name)' is a tag", remedy: "choose another --as name")
                }
                let previous = try Int.fetchOne(db, sql: "SELECT MAX(version) FROM subset WHERE name = ?", arguments: [request.name])
                if let previous, let owner = try SubsetRow.filter(Column("name") == request.name && Column("version") == previous).fetchOne(db), owner.corpusId != corpus.id {
                    throw CatalogError(.invalidRequest, "subset '\(request.name)' belongs to another corpus", remedy: "choose another --as name")
                }
                selection.diagnostics.timings["total"] = Date().timeIntervalSince(started)
                let row = SubsetRow(
                    id: nil, name: request.name, version: (previous ?? 0) + 1, parentVersion: previous, corpusId: corpus.id!,
                    targetId: targetID, selector: prepared.name, selectorVersion: prepared.version,
                    paramsJson: prepared.parametersJSON, seed: Int64(bitPattern: request.seed), budgetSpec: request.budget.description,
                    budget: budget, rowCount: selection.members.count, membersArrayId: try ArrayIndex.insert(members, db),
                    recipeHash: recipeHash, contentHash: contentHash, diagnosticsJson: try CanonicalJSON.string(selection.diagnostics),
                    createdAt: Self.timestamp(), elapsedSeconds: Date().timeIntervalSince(started), toolVersion: Self.toolVersion)
                try row.insert(db)
                let subsetID = db.lastInsertedRowID
                for input in lineage {
                    try db.execute(
                        sql: "INSERT INTO subset_input (subset_id, role, column_name, checkpoint, content_hash) VALUES (?, ?, ?, ?, ?)",
                        arguments: [subsetID, input.role, input.column, input.checkpoint, input.contentHash])
                }
                return try info(of: SubsetRow.fetchOne(db, key: subsetID)!, db)
            }
        }
    }

    static func isValidSubsetName(_ name: String) -> Bool {
        !name.isEmpty && name.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0) }
    }

    /// A selector's result must be a list of distinct, in-range rows no longer than the budget.
    static func checkSelection(_ selection: Selection, rowCount: Int, budget: Int, selector: String) throws {
        var seen = Set<Int>()
        for member in selection.members {
            guard member.row >= 0, member.row < rowCount, seen.insert(member.row).inserted, member.score.isFinite, member.weight.isFinite else {
                throw CatalogError(.invalidRequest, "\(selector) returned an invalid member (row \(member.row), score \(member.score)); nothing was stored")
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
        return SubsetInfo(
            name: row.name, version: row.version, parentVersion: row.parentVersion, corpus: corpus, target: target,
            selector: row.selector, selectorVersion: row.selectorVersion, parameters: row.paramsJson,
            seed: UInt64(bitPattern: row.seed), budgetSpec: row.budgetSpec, budget: row.budget, rowCount: row.rowCount,
            recipeHash: row.recipeHash, contentHash: row.contentHash, inputs: inputs, diagnostics: diagnostics,
            createdAt: row.createdAt, elapsedSeconds: row.elapsedSeconds, toolVersion: row.toolVersion, tags: tags)
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
