import Catalog
import Foundation
import GRDB
import Testing
import TestSupport

/// docs/FORMAT.md's tables against the constants the encoder and decoder use, and against the bytes
/// a catalog holds. (python/tests/test_format.py reads whole catalogs from the document alone.)
@Suite("Format document")
struct FormatDocumentTests {
    /// The rows of the table under `<!-- format-table: NAME -->`, keyed by column header.
    static func table(_ name: String) throws -> [[String: String]] {
        let text = try String(contentsOf: Fixtures.repository.appendingPathComponent("docs/FORMAT.md"), encoding: .utf8)
        let lines = text.components(separatedBy: "\n")
        let marker = try #require(lines.firstIndex(of: "<!-- format-table: \(name) -->"), "FORMAT.md has no table '\(name)'")
        func cells(_ line: String) -> [String] {
            line.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "|"))
                .components(separatedBy: "|").map { $0.trimmingCharacters(in: .whitespaces) }
        }
        let header = cells(lines[marker + 1])
        return lines[(marker + 3)...].prefix { $0.hasPrefix("|") }.map { Dictionary(uniqueKeysWithValues: zip(header, cells($0))) }
    }

    @Test("the chunk header table names the fields, offsets and sizes the code uses")
    func headerTable() throws {
        let documented = try Self.table("chunk-header").map { row in
            ChunkHeaderLayout.Field(name: row["field"]!, offset: Int(row["offset"]!)!, size: Int(row["size"]!)!)
        }
        #expect(documented == ChunkHeaderLayout.fields)
        // The fields tile the header exactly.
        var end = 0
        for field in ChunkHeaderLayout.fields {
            #expect(field.offset == end, "\(field.name) starts at \(field.offset), the previous field ends at \(end)")
            end = field.offset + field.size
        }
        #expect(end == ChunkHeaderLayout.size && ChunkHeaderLayout.size == 64 && ChunkHeaderLayout.alignment == 64)
        #expect(ChunkHeaderLayout.magic == Array("QCCHUNK\0".utf8) && ChunkHeaderLayout.magicField.size == ChunkHeaderLayout.magic.count)
    }

    @Test("the dtype and codec tables give the codes and element sizes the code uses")
    func codeTables() throws {
        let dtypes = try Self.table("dtype-codes")
        #expect(dtypes.count == StoredDType.allCases.count)
        for row in dtypes {
            let dtype = try #require(StoredDType(rawValue: row["dtype"]!), "FORMAT.md names dtype \(row["dtype"]!)")
            #expect(Int(row["code"]!) == Int(dtype.code), "\(dtype.rawValue)")
            #expect(Int(row["element_size"]!) == dtype.elementSize, "\(dtype.rawValue)")
        }
        let codecs = try Self.table("codec-codes")
        #expect(codecs.count == ChunkCodec.allCases.count)
        for row in codecs {
            let codec = try #require(ChunkCodec(rawValue: row["codec"]!), "FORMAT.md names codec \(row["codec"]!)")
            #expect(Int(row["code"]!) == Int(codec.code), "\(codec.rawValue)")
        }
    }

    @Test("every chunk header written holds what the table says at the offsets it gives")
    func writtenHeaders() throws {
        let fields = Dictionary(uniqueKeysWithValues: try Self.table("chunk-header").map { ($0["field"]!, (Int($0["offset"]!)!, Int($0["size"]!)!)) })
        let codes = Dictionary(uniqueKeysWithValues: try Self.table("dtype-codes").map { (Int($0["code"]!)!, ($0["dtype"]!, Int($0["element_size"]!)!)) })
        let codecs = Dictionary(uniqueKeysWithValues: try Self.table("codec-codes").map { (Int($0["code"]!)!, $0["codec"]!) })
        let dir = TemporaryDirectory("format")
        let root = dir.url.appendingPathComponent("format.quadcat")
        let catalog = try Catalog.create(at: root)
        let corpus = dir.url.appendingPathComponent("pool.jsonl")
        try Data((0..<500).map { "{\"id\": \"d\($0)\", \"text\": \"text of document \($0)\"}\n" }.joined().utf8).write(to: corpus)
        _ = try catalog.ingest(corpus: "pool", files: [corpus])
        let values = (0..<(500 * 24)).map { Float(sin(Double($0))) }
        for precision in [StoragePrecision.f16, .int8, .int4, .bf16] {
            let file = dir.url.appendingPathComponent("emb-\(precision.rawValue).npy")
            try Fixtures.writeFloat32(values, rows: 500, dim: 24, to: file)
            var request = AttachRequest(corpus: "pool", column: "emb-\(precision.rawValue)", file: file)
            request.precision = precision
            _ = try catalog.attach(request)
        }
        _ = try catalog.select(SelectRequest(corpus: "pool", target: nil, selector: .random, budget: Budget(rows: 50), name: "r"))

        let db = try DatabaseQueue(path: root.appendingPathComponent("catalog.sqlite").path, configuration: {
            var c = Configuration(); c.readonly = true; return c
        }())
        let chunks = try db.read { try Row.fetchAll($0, sql: "SELECT a.dtype, a.dim, c.* FROM chunk c JOIN array a ON a.id = c.array_id") }
        #expect(Set(chunks.map { $0["dtype"] as String }) == ["records", "f16", "i8", "i4", "bf16", "members"])
        for chunk in chunks {
            let file = try FileHandle(forReadingFrom: root.appendingPathComponent("chunks").appendingPathComponent(chunk["file"]))
            try file.seek(toOffset: UInt64(chunk["offset"] as Int))
            let header = try #require(try file.read(upToCount: 64))
            try file.close()
            func field(_ name: String) -> UInt64 {
                let (offset, size) = fields[name]!
                return header[offset..<offset + size].reversed().reduce(0) { $0 << 8 | UInt64($1) }
            }
            #expect(Array(header[0..<8]) == Array("QCCHUNK\0".utf8))
            #expect(field("version") == 1 && field("reserved") == 0)
            let (dtype, elementSize) = try #require(codes[Int(field("dtype"))])
            #expect(dtype == chunk["dtype"] && UInt64(elementSize) == field("element_size"))
            #expect(codecs[Int(field("codec"))] == chunk["codec"])
            #expect(field("rows") == UInt64(chunk["row_count"] as Int) && field("dim") == UInt64(chunk["dim"] as Int))
            #expect(field("raw_length") == UInt64(chunk["raw_length"] as Int))
            #expect(String(field("checksum"), radix: 16).leftPadded(to: 16) == chunk["checksum"])
            #expect(Int(field("stored_length")) + 64 <= chunk["length"] as Int && (chunk["length"] as Int) % 64 == 0)
        }
    }
}

private extension String {
    func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
