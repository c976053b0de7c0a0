import Foundation
import GRDB

/// What a shard catalog holds of the set's corpus, read when it is added, and the checks that it fits
/// the set: every mismatch is refused with the shard's path and what differs.
struct ShardFacts {
    var rows: Int
    var idField: String
    var textField: String
    var recordsHash: String
    var columns: [SetManifest.ColumnShape]
    var columnHashes: [String: String]
    var targets: [SetManifest.TargetShape]

    static func read(_ catalog: Catalog, corpus: String, place: String) throws -> ShardFacts {
        try catalog.database.read { db in
            guard let corpusRow = try CorpusRow.filter(Column("name") == corpus).fetchOne(db) else {
                let names = try String.fetchAll(db, sql: "SELECT name FROM corpus ORDER BY name")
                throw CatalogError(
                    .invalidRequest, "\(place) has no corpus '\(corpus)' (it has \(names.isEmpty ? "none" : names.joined(separator: ", ")))",
                    remedy: "every shard holds a slice of the set's corpus under the same name")
            }
            guard corpusRow.rowCount > 0 else {
                throw CatalogError(.invalidRequest, "\(place): corpus '\(corpus)' has no rows", remedy: "ingest the shard's slice before adding it")
            }
            let records = try ArrayIndex.load(corpusRow.recordsArrayId, db)
            var columns: [SetManifest.ColumnShape] = []
            var hashes: [String: String] = [:]
            for row in try FeatureColumnRow.filter(Column("corpus_id") == corpusRow.id!).order(Column("name"), Column("checkpoint")).fetchAll(db) {
                let description = try catalog.describe(row, db)
                let shape = SetManifest.ColumnShape(
                    name: row.name, kind: row.kind, checkpoint: row.checkpoint, learningRate: row.learningRate,
                    projection: row.projection?.description, dim: row.dim, storedDType: description.storedDType.rawValue)
                columns.append(shape)
                hashes[shape.label] = description.contentHash
            }
            var targets: [SetManifest.TargetShape] = []
            for target in try TargetRow.order(Column("name")).fetchAll(db) {
                var columnHashes: [String: String] = [:]
                for column in try TargetColumnRow.filter(Column("target_id") == target.id!).fetchAll(db) {
                    let label = column.kind == ColumnKind.gradient.rawValue ? "\(column.name)@\(column.checkpoint)" : column.name
                    columnHashes[label] = try ArrayIndex.load(column.arrayId, db).contentHash
                }
                let labels = try String.fetchAll(db, sql: "SELECT subtask FROM target_row WHERE target_id = ? ORDER BY row", arguments: [target.id])
                columnHashes["subtasks"] = Hashing.sha256Hex(labels.joined(separator: "\n"))
                targets.append(SetManifest.TargetShape(name: target.name, rows: target.rowCount, subtasks: Set(labels).count, columns: columnHashes))
            }
            return ShardFacts(
                rows: corpusRow.rowCount, idField: corpusRow.idField, textField: corpusRow.textField, recordsHash: records.contentHash,
                columns: columns, columnHashes: hashes, targets: targets)
        }
    }

    /// Refuses a shard that does not fit the set's first shard.
    func check(against manifest: SetManifest, place: String) throws {
        func refuse(_ what: String, _ remedy: String = "every shard needs the same columns and targets as the set's first shard") -> CatalogError {
            CatalogError(.invalidRequest, "\(place) does not fit the set: \(what)", remedy: remedy)
        }
        if let idField = manifest.idField, idField != self.idField || manifest.textField != textField {
            throw refuse("its id and text fields are '\(self.idField)' and '\(textField)', the set's '\(idField)' and '\(manifest.textField ?? "")'")
        }
        let mine = Dictionary(uniqueKeysWithValues: columns.map { ($0.label, $0) })
        let theirs = Dictionary(uniqueKeysWithValues: manifest.columns.map { ($0.label, $0) })
        if let missing = theirs.keys.sorted().first(where: { mine[$0] == nil }) {
            throw refuse("it has no column \(missing)")
        }
        if let extra = mine.keys.sorted().first(where: { theirs[$0] == nil }) {
            throw refuse("it has a column \(extra) the set's shards do not have")
        }
        for (label, expected) in theirs.sorted(by: { $0.key < $1.key }) {
            let found = mine[label]!
            if found.kind != expected.kind { throw refuse("column \(label) holds \(found.kind) vectors, the set's \(expected.kind)") }
            if found.dim != expected.dim { throw refuse("column \(label) has dimension \(found.dim), the set's \(expected.dim)") }
            if found.projection != expected.projection {
                throw refuse(
                    "column \(label) was projected with \(found.projection ?? "no recorded projection"), the set's with \(expected.projection ?? "none recorded")",
                    "gradients from different projections cannot be compared; recompute the shard's gradients with the set's projection")
            }
            if found.learningRate != expected.learningRate {
                throw refuse("column \(label) has learning rate \(found.learningRate.map { "\($0)" } ?? "none"), the set's \(expected.learningRate.map { "\($0)" } ?? "none")")
            }
            if found.storedDType != expected.storedDType {
                throw refuse("column \(label) is stored as \(found.storedDType), the set's as \(expected.storedDType)", "attach the column with the set's --precision")
            }
        }
        let myTargets = Dictionary(uniqueKeysWithValues: targets.map { ($0.name, $0) })
        for expected in manifest.targets {
            guard let found = myTargets[expected.name] else { throw refuse("it has no target '\(expected.name)'") }
            if found.rows != expected.rows { throw refuse("target '\(expected.name)' has \(found.rows) rows, the set's \(expected.rows)") }
            for (label, hash) in expected.columns.sorted(by: { $0.key < $1.key }) where found.columns[label] != hash {
                throw refuse(
                    found.columns[label] == nil ? "target '\(expected.name)' has no \(label)" : "target '\(expected.name)' \(label) differs from the set's (other validation data)",
                    "add the same target files to every shard")
            }
            if let extra = found.columns.keys.sorted().first(where: { expected.columns[$0] == nil }) {
                throw refuse("target '\(expected.name)' has a column \(extra) the set's shards do not have")
            }
        }
        if let extra = targets.first(where: { target in !manifest.targets.contains { $0.name == target.name } }) {
            throw refuse("it has a target '\(extra.name)' the set's shards do not have")
        }
    }
}
