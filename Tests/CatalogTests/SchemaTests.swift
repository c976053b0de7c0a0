import Catalog
import Foundation
import GRDB
import Testing
import TestSupport

@Suite("Schema migrations")
struct SchemaTests {
    private static var schemaFiles: [URL] {
        let dir = Fixtures.repository.appendingPathComponent("schema")
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [])
            .filter { $0.hasSuffix(".sql") }.sorted().map { dir.appendingPathComponent($0) }
    }

    private static func schema(_ db: Database) throws -> [String] {
        try String.fetchAll(db, sql: """
            SELECT sql FROM sqlite_master
            WHERE sql IS NOT NULL AND name NOT LIKE 'grdb_%' AND name NOT LIKE 'sqlite_%' ORDER BY type, name
            """)
    }

    @Test func migrationsAreAppliedAndRecordedInOrder() throws {
        let dir = TemporaryDirectory()
        let catalog = try Catalog.create(at: dir.file("c.quadcat"))
        let names = Self.schemaFiles.map { $0.deletingPathExtension().lastPathComponent }
        #expect(!names.isEmpty)
        #expect(try catalog.appliedMigrations() == names)
        #expect(try Catalog.open(at: catalog.root).appliedMigrations() == names)
    }

    /// The schema a catalog gets is exactly what the files under schema/ define, in order.
    @Test func embeddedMigrationsEqualTheSchemaFiles() throws {
        let dir = TemporaryDirectory()
        let catalog = try Catalog.create(at: dir.file("c.quadcat"))
        let fromCatalog = try DatabaseQueue(path: catalog.root.appendingPathComponent("catalog.sqlite").path).read(Self.schema)
        let reference = try DatabaseQueue()
        for file in Self.schemaFiles {
            try reference.write { try $0.execute(sql: String(contentsOf: file, encoding: .utf8)) }
        }
        #expect(try reference.read(Self.schema) == fromCatalog)
    }

    /// A catalog written before the queries migration (only 0001 applied, with a corpus and a subset)
    /// opens, gains the new tables and column, keeps its subsets, and takes queries.
    @Test func aCatalogFromBeforeTheQueriesMigrationOpensAndGainsItsTables() throws {
        let dir = TemporaryDirectory()
        let old = try QueryFixture(rows: 80).build(in: dir.url, indexFields: [])
        let url = old.root
        let selected = try old.select(SelectRequest(corpus: "pool", target: "val", selector: .less, budget: Budget(rows: 10), name: "before"))
        // Take the catalog back to what the previous version wrote: exactly the 0001 schema.
        let database = url.appendingPathComponent("catalog.sqlite").path
        try DatabaseQueue(path: database).write { db in
            for table in ["subset_metric", "subset_parent", "field_value", "indexed_field"] { try db.execute(sql: "DROP TABLE \(table)") }
            try db.execute(sql: "ALTER TABLE subset DROP COLUMN query_json")
            try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier != '0001_initial'")
        }
        let firstOnly = try DatabaseQueue()
        try firstOnly.write { try $0.execute(sql: String(contentsOf: Self.schemaFiles[0], encoding: .utf8)) }
        #expect(try DatabaseQueue(path: database).read(Self.schema) == firstOnly.read(Self.schema))

        let reopened = try Catalog.open(at: url)
        #expect(try reopened.appliedMigrations() == Self.schemaFiles.map { $0.deletingPathExtension().lastPathComponent })
        let fresh = try Catalog.create(at: dir.file("fresh.quadcat"))
        #expect(try DatabaseQueue(path: database).read(Self.schema)
            == DatabaseQueue(path: fresh.root.appendingPathComponent("catalog.sqlite").path).read(Self.schema))
        let kept = try reopened.subset("before")
        #expect(kept.contentHash == selected.contentHash && kept.query == nil && kept.parents.isEmpty && kept.metrics.isEmpty)
        _ = try reopened.index(corpus: "pool", fields: ["domain"])
        var request = SelectRequest(corpus: "pool", target: "val", selector: .less, budget: Budget(rows: 10), name: "after")
        request.query = SelectionQuery(predicate: "domain != 'web'", exclude: ["before"])
        #expect(try reopened.select(request).query?.exclude == ["before@1"])
        #expect(try reopened.recordMetrics("before", values: [("loss", 1)]).metric("loss") == 1)
        #expect(try reopened.verify().isHealthy)
    }

    @Test func refusesToOverwriteACatalogOrOpenWhatIsNotOne() throws {
        let dir = TemporaryDirectory()
        let url = dir.file("c.quadcat")
        _ = try Catalog.create(at: url)
        #expect(throws: CatalogError.self) { try Catalog.create(at: url) }
        #expect(throws: CatalogError.self) { try Catalog.open(at: dir.file("missing")) }
        try FileManager.default.createDirectory(at: dir.file("busy"), withIntermediateDirectories: true)
        try Data("x".utf8).write(to: dir.file("busy/file"))
        #expect(throws: CatalogError.self) { try Catalog.create(at: dir.file("busy")) }
    }
}
