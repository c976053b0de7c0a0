import Catalog
import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

@Suite("verify finds damage, gc removes only garbage")
struct VerifyAndGCTests {
    private static func populated() throws -> (TemporaryDirectory, Catalog) {
        let dir = TemporaryDirectory()
        let catalog = try Catalog.create(at: dir.file("c.quadcat"))
        try Fixtures.writeCorpus(dir.file("c.jsonl"), rows: 400)
        _ = try catalog.ingest(corpus: "pool", files: [dir.file("c.jsonl")])
        try Fixtures.writeFloat16(Fixtures.gaussian(rows: 400, dim: 64, seed: 1), rows: 400, dim: 64, to: dir.file("g.npy"))
        var request = AttachRequest(corpus: "pool", column: "grad", file: dir.file("g.npy"))
        request.checkpoint = 1
        request.learningRate = 1e-5
        _ = try catalog.attach(request)
        return (dir, catalog)
    }

    private static func chunkFiles(_ catalog: Catalog) -> [URL] {
        let dir = catalog.root.appendingPathComponent("chunks")
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted().map { dir.appendingPathComponent($0) }
    }

    /// Flips one bit at `offset` of `file`.
    private static func flipBit(_ file: URL, at offset: Int) throws {
        let handle = try FileHandle(forUpdating: file)
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(offset))
        let byte = try handle.read(upToCount: 1)![0]
        try handle.seek(toOffset: UInt64(offset))
        try handle.write(contentsOf: [byte ^ 0x10])
    }

    @Test func healthyCatalogVerifies() throws {
        let (dir, catalog) = try Self.populated()
        defer { withExtendedLifetime(dir) {} }
        let report = try catalog.verify()
        #expect(report.isHealthy && report.orphanFiles.isEmpty && report.stagingFiles.isEmpty)
        #expect(report.chunksChecked >= 2)
    }

    @Test(arguments: [100, 5000, 40_000])
    func aFlippedPayloadByteIsCaught(offset: Int) throws {
        let (dir, catalog) = try Self.populated()
        defer { withExtendedLifetime(dir) {} }
        // The gradient segment is the larger file; its payload starts after a 64-byte header.
        let file = Self.chunkFiles(catalog).max { (FileIO_size($0)) < (FileIO_size($1)) }!
        try Self.flipBit(file, at: offset)
        let report = try Catalog.open(at: catalog.root).verify()
        #expect(!report.isHealthy)
        #expect(report.damage.contains { $0.contains(file.lastPathComponent) && $0.contains("checksum mismatch") })
    }

    @Test func aDamagedHeaderTruncationOrMissingFileIsCaught() throws {
        let (dir, catalog) = try Self.populated()
        let files = Self.chunkFiles(catalog)
        try Self.flipBit(files[0], at: 20)  // inside the first chunk's header
        #expect(try catalog.verify().damage.contains { $0.contains("header") })
        let (dir2, second) = try Self.populated()
        let victim = Self.chunkFiles(second).max { FileIO_size($0) < FileIO_size($1) }!
        #expect(truncate(victim.path, off_t(FileIO_size(victim) / 2)) == 0)
        #expect(!(try second.verify().isHealthy))
        let (dir3, third) = try Self.populated()
        try FileManager.default.removeItem(at: Self.chunkFiles(third)[0])
        #expect(try third.verify().damage.contains { $0.contains("missing") })
        withExtendedLifetime((dir, dir2, dir3)) {}
    }

    @Test func garbageIsReportedNotDamageAndGCRemovesOnlyIt() throws {
        let (dir, catalog) = try Self.populated()
        let referenced = Self.chunkFiles(catalog)
        let orphan = catalog.root.appendingPathComponent("chunks/0000-orphan.qcs")
        let leftover = catalog.root.appendingPathComponent("staging/0000-leftover.qcs")
        try Data(repeating: 7, count: 1000).write(to: orphan)
        try Data(repeating: 8, count: 500).write(to: leftover)
        let report = try catalog.verify()
        #expect(report.isHealthy)
        #expect(report.orphanFiles == ["0000-orphan.qcs"] && report.stagingFiles == ["0000-leftover.qcs"])

        let dryRun = try catalog.collectGarbage(dryRun: true)
        #expect(dryRun.removedFiles.count == 2 && dryRun.removedBytes == 1500)
        #expect(FileManager.default.fileExists(atPath: orphan.path))
        let gc = try catalog.collectGarbage(dryRun: false)
        #expect(Set(gc.removedFiles) == [orphan.path, leftover.path])
        #expect(Self.chunkFiles(catalog) == referenced)
        let after = try catalog.verify()
        #expect(after.isHealthy && after.orphanFiles.isEmpty && after.stagingFiles.isEmpty)
        #expect(try catalog.vectors(corpus: "pool", column: "grad", checkpoint: 1).materialize().rows == 400)
        withExtendedLifetime(dir) {}
    }
}

private func FileIO_size(_ url: URL) -> Int {
    (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
}
