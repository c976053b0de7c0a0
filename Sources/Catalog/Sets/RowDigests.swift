import CKernels
import Foundation
import GRDB

/// Per-row digests of one shard, kept in the set's `digests/` directory: 8 bytes per row and column
/// (xxHash64 of the row's decoded values; unusable rows a fixed marker), and 24 per row for the
/// records (the document's content hash, then xxHash64 of its external id). They make content hashes
/// that do not depend on how a corpus is split (``ShardSet/columnHash(_:)``), and let `set add` find
/// a document claimed by two shards without holding every id in memory twice.
enum RowDigests {
    static let recordBytes = 24

    /// The digest file of a column label (or "records") of a shard.
    static func file(_ directory: URL, _ label: String) -> URL {
        directory.appendingPathComponent(label.replacingOccurrences(of: "/", with: "_") + ".bin")
    }

    /// Computes and writes every digest file of `catalog`'s corpus into `directory` (created; files
    /// written beside and renamed, so a crash leaves no partial file under its final name).
    static func write(_ catalog: Catalog, corpus: String, columns: [SetManifest.ColumnShape], to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var records = Data()
        try catalog.database.read { db in
            let corpusRow = try CorpusRow.named(corpus, db)
            records.reserveCapacity(corpusRow.rowCount * recordBytes)
            let rows = try Row.fetchCursor(db, sql: "SELECT row, external_id, content_hash FROM document WHERE corpus_id = ? ORDER BY row", arguments: [corpusRow.id])
            var expected = 0
            while let row = try rows.next() {
                let index: Int = row["row"]
                guard index == expected else {
                    throw CatalogError(.damaged, "\(catalog.root.path): document rows skip from \(expected) to \(index)", remedy: "run `quadcat verify` on the shard")
                }
                expected += 1
                var hash: Data = row["content_hash"]
                hash.append(Data(repeating: 0, count: max(0, 16 - hash.count)))
                records.append(hash.prefix(16))
                let id: String = row["external_id"]
                var idDigest = id.utf8.withContiguousStorageIfAvailable { qc_xxh64($0.baseAddress, $0.count, 0) } ?? 0
                records.append(Data(bytes: &idDigest, count: 8))
            }
        }
        try publish(records, file(directory, "records"))
        for column in columns {
            let vectors = try catalog.vectors(corpus: corpus, column: column.name, checkpoint: column.checkpoint)
            var digests = [UInt64](repeating: 0, count: vectors.rowCount)
            let usable = vectors.usableRows
            try vectors.forEachBlock { block in
                for i in 0..<block.rowCount {
                    let r = block.firstRow + i
                    let values = UnsafeRawPointer(block.values.baseAddress! + i * block.dimension)
                    digests[r] = usable?.contains(r) ?? true ? qc_xxh64(values, block.dimension * 4, 0) : 0x5155_4144_4341_5400
                }
            }
            try publish(digests.withUnsafeBytes { Data($0) }, file(directory, column.label))
        }
    }

    private static func publish(_ data: Data, _ url: URL) throws {
        let temporary = url.appendingPathExtension("partial")
        do {
            try data.write(to: temporary)
            try? FileManager.default.removeItem(at: url)
            try FileManager.default.moveItem(at: temporary, to: url)
        } catch {
            throw CatalogError(.io, "cannot write \(url.path): \(error.localizedDescription)")
        }
    }

    /// The external-id digests of a shard (the last 8 bytes of each record digest).
    static func idDigests(_ directory: URL) throws -> [UInt64] {
        let data = try read(file(directory, "records"))
        return stride(from: 0, to: data.count, by: recordBytes).map { start in
            data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: start + 16, as: UInt64.self) }
        }
    }

    static func read(_ url: URL) throws -> Data {
        do { return try Data(contentsOf: url) } catch {
            throw CatalogError(.damaged, "the row digests \(url.path) are missing or unreadable", remedy: "run `quadcat set verify` to recompute them")
        }
    }
}
