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
