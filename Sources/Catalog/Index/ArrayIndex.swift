import GRDB

/// Reading and writing the `array` and `chunk` tables.
enum ArrayIndex {
    /// Records a staged array (its files must already be published) and returns its id.
    static func insert(_ staged: StagedArray, _ db: Database) throws -> Int64 {
        try db.execute(
            sql: "INSERT INTO array (dtype, dim, row_count, content_hash) VALUES (?, ?, ?, ?)",
            arguments: [staged.dtype.rawValue, staged.dim, staged.rowCount, staged.contentHash])
        let id = db.lastInsertedRowID
        try insertChunks(staged.chunks, arrayID: id, seqOffset: 0, rowOffset: 0, db)
        return id
    }

    static func insertChunks(_ chunks: [ChunkRecord], arrayID: Int64, seqOffset: Int, rowOffset: Int, _ db: Database) throws {
        let statement = try db.cachedStatement(sql: """
            INSERT INTO chunk (array_id, seq, first_row, row_count, file, offset, length, codec, raw_length, checksum)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        for c in chunks {
            try statement.execute(arguments: [
                arrayID, c.seq + seqOffset, c.firstRow + rowOffset, c.rowCount, c.file, c.offset, c.length,
                c.codec.rawValue, c.rawLength, Hashing.hex(c.checksum),
            ])
        }
    }

    static func load(_ id: Int64, _ db: Database) throws -> StoredArray {
        guard let row = try Row.fetchOne(db, sql: "SELECT dtype, dim, row_count, content_hash FROM array WHERE id = ?", arguments: [id]) else {
            throw CatalogError(.damaged, "the index refers to array \(id), which does not exist", remedy: "run `quadcat verify`")
        }
        guard let dtype = StoredDType(rawValue: row["dtype"]) else {
            throw CatalogError(.damaged, "array \(id) has unknown dtype \(row["dtype"] as String)")
        }
        let chunks = try Row.fetchAll(db, sql: """
            SELECT seq, first_row, row_count, file, offset, length, codec, raw_length, checksum
            FROM chunk WHERE array_id = ? ORDER BY seq
            """, arguments: [id]
        ).map { c -> ChunkRecord in
            guard let codec = ChunkCodec(rawValue: c["codec"]), let checksum = UInt64(c["checksum"] as String, radix: 16) else {
                throw CatalogError(.damaged, "array \(id) chunk \(c["seq"] as Int) has a malformed codec or checksum")
            }
            return ChunkRecord(
                seq: c["seq"], firstRow: c["first_row"], rowCount: c["row_count"], file: c["file"], offset: c["offset"],
                length: c["length"], codec: codec, rawLength: c["raw_length"], checksum: checksum)
        }
        let array = StoredArray(id: id, dtype: dtype, dim: row["dim"], rowCount: row["row_count"], contentHash: row["content_hash"], chunks: chunks)
        var expected = 0
        for chunk in chunks {
            guard chunk.firstRow == expected else {
                throw CatalogError(.damaged, "array \(id): chunk \(chunk.seq) starts at row \(chunk.firstRow), expected \(expected)", remedy: "run `quadcat verify`")
            }
            expected += chunk.rowCount
        }
        guard expected == array.rowCount else {
            throw CatalogError(.damaged, "array \(id): chunks hold \(expected) rows, the index says \(array.rowCount)", remedy: "run `quadcat verify`")
        }
        return array
    }
}
