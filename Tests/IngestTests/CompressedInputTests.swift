import Foundation
import Ingest
import Testing
import TestSupport

/// A record copied out of the reader's callback.
private struct Record: Equatable {
    var line: Int
    var raw: [UInt8]
    var id: String
    var text: String
}

private func readAll(_ input: JSONLInput) throws -> [Record] {
    var out: [Record] = []
    try JSONLReader(input: input).forEachRecord { out.append(Record(line: $0.line, raw: Array($0.raw), id: $0.id, text: $0.text)) }
    return out
}

private func ingestError(_ input: JSONLInput) -> IngestError? {
    do { _ = try readAll(input) } catch let error as IngestError { return error } catch {}
    return nil
}

/// JSONL with escapes, non-ASCII text, integer ids, a blank line and CRLF endings, `rows` records.
private func corpus(rows: Int) -> Data {
    var text = ""
    for i in 0..<rows {
        let id = i % 3 == 0 ? "\(i + 1)" : "\"d-\(i)\""
        text += "{\"id\": \(id), \"text\": \"r\(i) caf\\u00e9 ünï \\\"q\\\" \(String(repeating: "word ", count: i % 50))\", \"n\": [\(i), {\"k\": null}]}"
        text += i % 7 == 0 ? "\r\n" : "\n"
        if i % 101 == 0 { text += "   \n" }
    }
    return Data(text.utf8)
}

@Suite("Compressed and streamed JSONL inputs")
struct CompressedInputTests {
    @Test func gzipAndZstdReadLikeThePlainFile() throws {
        let dir = TemporaryDirectory("compressed")
        let data = corpus(rows: 3000)
        let plain = dir.file("c.jsonl"), gz = dir.file("c.jsonl.gz"), members = dir.file("m.gz"), zst = dir.file("c.jsonl.zst")
        let frames = dir.file("f.zst"), padded = dir.file("padded.gz"), misnamed = dir.file("really-zstd.jsonl")
        try data.write(to: plain)
        try Compression.gzip(data).write(to: gz)
        try Compression.gzip(data, memberBytes: 10_000).write(to: members)   // many members, cut mid-line
        try (Compression.gzip(data) + Data(count: 512)).write(to: padded)      // zero padding after the member
        try Compression.zstd(data).write(to: zst)
        try Compression.zstd(data, frames: 7).write(to: frames)
        try Compression.zstd(data).write(to: misnamed)
        let expected = try readAll(.file(plain))
        #expect(expected.count == 3000 && expected[1].id == "d-1" && expected[3].id == "4")
        for url in [gz, members, padded, zst, frames, misnamed] {
            #expect(try readAll(.file(url)) == expected, "\(url.lastPathComponent)")
        }
        #expect(try JSONLReader(url: gz).compression == .gzip)
        #expect(try JSONLReader(url: misnamed).compression == .zstd)
        #expect(try JSONLReader(url: plain).compression == InputCompression.none)
    }

    @Test func progressCountsStoredBytes() throws {
        let dir = TemporaryDirectory("compressed")
        let zst = dir.file("c.jsonl.zst")
        try Compression.zstd(corpus(rows: 20_000), frames: 3).write(to: zst)
        let size = try #require(FileManager.default.attributesOfItem(atPath: zst.path)[.size] as? Int)
        let reader = try JSONLReader(url: zst)
        #expect(reader.fileSize == size)
        var last = 0
        try reader.forEachRecord { _ in
            #expect(reader.bytesRead >= last && reader.bytesRead <= size)
            last = reader.bytesRead
        }
        #expect(reader.bytesRead == size)
    }

    @Test(arguments: ["gzip", "zstd"])
    func truncatedInputIsRefusedWithItsByteOffset(format: String) throws {
        let dir = TemporaryDirectory("compressed")
        let data = corpus(rows: 2000)
        let whole = format == "gzip" ? Compression.gzip(data) : Compression.zstd(data)
        for cut in [whole.count / 2, whole.count - 1] {
            let url = dir.file("cut-\(cut).\(format)")
            try whole.prefix(cut).write(to: url)
            let error = try #require(ingestError(.file(url)), "cut at \(cut)")
            #expect(error.file == url.path)
            #expect(error.location == "byte \(cut)")
            #expect(error.problem.contains("truncated"))
            #expect(error.remedy.contains(format == "gzip" ? "gzip -t" : "zstd -t"))
        }
    }

    @Test func damagedGzipIsRefusedWhereTheDamageIs() throws {
        let dir = TemporaryDirectory("compressed")
        var bytes = [UInt8](Compression.gzip(corpus(rows: 2000)))
        // The trailer's CRC: the data decodes, the check fails at the member's end.
        bytes[bytes.count - 6] ^= 0xff
        let crc = dir.file("crc.gz")
        try Data(bytes).write(to: crc)
        let error = try #require(ingestError(.file(crc)))
        #expect(error.problem == "the gzip data is damaged (zlib: incorrect data check)")
        #expect(error.location == "byte \(bytes.count - 4)")
        // Bytes after the last member that are not another member.
        let trailing = dir.file("trailing.gz")
        try (Compression.gzip(corpus(rows: 10)) + Data("garbage".utf8)).write(to: trailing)
        #expect(ingestError(.file(trailing))?.problem == "unexpected bytes after the end of the gzip data (not another gzip member)")
    }

    @Test func damagedZstdIsRefused() throws {
        let dir = TemporaryDirectory("compressed")
        var bytes = [UInt8](Compression.zstd(corpus(rows: 2000)))
        for i in stride(from: bytes.count / 3, to: bytes.count / 3 + 64, by: 1) { bytes[i] ^= 0x5a }
        let url = dir.file("bad.zst")
        try Data(bytes).write(to: url)
        let error = try #require(ingestError(.file(url)))
        #expect(error.file == url.path && error.location?.hasPrefix("byte ") == true)
        #expect(error.problem.hasPrefix("the zstd data cannot be decoded (zstd: "))
    }

    @Test func errorsInCompressedFilesNameTheLineAndHowToSeeIt() throws {
        let dir = TemporaryDirectory("compressed")
        let data = Data("{\"id\": 1, \"text\": \"a\"}\n{\"id\": 2, \"text\": \"b\" \"c\"}\n".utf8)
        let gz = dir.file("bad.jsonl.gz")
        try Compression.gzip(data).write(to: gz)
        let error = try #require(ingestError(.file(gz)))
        #expect(error.description.hasPrefix("\(gz.path): line 2, column 23: expected ',' or '}' after object member"))
        #expect(error.remedy.contains("zcat \(gz.path) | sed -n '2p'"))
        let zst = dir.file("bad.jsonl.zst")
        try Compression.zstd(data).write(to: zst)
        #expect(ingestError(.file(zst))?.remedy.contains("zstdcat \(zst.path) | sed -n '2p'") == true)
    }

    @Test func blocksDependOnTheBytesNotOnHowTheyArrive() throws {
        let dir = TemporaryDirectory("compressed")
        let data = corpus(rows: 5000) + Data("{\"id\": \"last\", \"text\": \"no newline\"}".utf8)
        let plain = dir.file("c.jsonl"), zst = dir.file("c.zst"), gz = dir.file("c.gz")
        try data.write(to: plain)
        try Compression.zstd(data, frames: 5).write(to: zst)
        try Compression.gzip(data, memberBytes: 7777).write(to: gz)
        func blocks(_ url: URL, blockBytes: Int) throws -> [[Int]] {
            let reader = try LineBlockReader(.file(url), maxLineBytes: 1 << 20, limitRemedy: "", blockBytes: blockBytes)
            let block = LineBlock()
            var out: [[Int]] = []
            while try reader.fill(block) {
                var sum = 0
                for i in 0..<block.count { sum = sum &* 31 &+ Int(block.bytes.load(fromByteOffset: i, as: UInt8.self)) }
                out.append([block.count, block.firstLine, block.lineCount, sum])
            }
            return out
        }
        // A pipe fed in small, uneven writes.
        let fifo = dir.file("fifo")
        #expect(mkfifo(fifo.path, 0o600) == 0)
        let feed = data
        let writer = Thread {
            let handle = FileHandle(forWritingAtPath: fifo.path)!
            var offset = 0, step = 1
            while offset < feed.count {
                let end = min(feed.count, offset + step)
                handle.write(feed[offset..<end])
                offset = end
                step = step * 7 % 65_537 + 1
            }
            try? handle.close()
        }
        writer.start()
        let expected = try blocks(plain, blockBytes: 20_000)
        #expect(expected.count > 10)
        #expect(try blocks(zst, blockBytes: 20_000) == expected)
        #expect(try blocks(gz, blockBytes: 20_000) == expected)
        #expect(try blocks(fifo, blockBytes: 20_000) == expected)
        // Line numbers run on across blocks.
        let total = expected.reduce(0) { $0 + $1[2] }
        #expect(total == data.split(separator: 0x0a, omittingEmptySubsequences: false).count)
    }

    @Test func aLineLongerThanABlockGetsABlockOfItsOwn() throws {
        let dir = TemporaryDirectory("compressed")
        let long = "{\"id\": \"long\", \"text\": \"\(String(repeating: "x", count: 100_000))\"}\n"
        let data = Data(("{\"id\": 1, \"text\": \"a\"}\n" + long + "{\"id\": 2, \"text\": \"b\"}\n").utf8)
        let url = dir.file("long.zst")
        try Compression.zstd(data).write(to: url)
        let reader = try LineBlockReader(.file(url), maxLineBytes: 1 << 20, limitRemedy: "", blockBytes: 1000)
        let block = LineBlock(capacity: 1000)
        var lines: [(Int, Int)] = []
        while try reader.fill(block) { block.forEachLine { lines.append(($0, $1.count)) } }
        #expect(lines.map(\.0) == [1, 2, 3] && lines[1].1 == long.utf8.count - 1)
        let limited = try LineBlockReader(.file(url), maxLineBytes: 5000, limitRemedy: "raise it", blockBytes: 1000)
        let error = #expect(throws: IngestError.self) { while try limited.fill(block) {} }
        #expect(error?.location == "line 2" && error?.problem.hasPrefix("the line is longer than the limit of 5000 bytes") == true)
    }

    @Test func emptyAndTinyInputs() throws {
        let dir = TemporaryDirectory("compressed")
        for (name, data) in [("empty", Data()), ("one-byte", Data("\n".utf8)), ("empty.gz", Compression.gzip(Data())), ("empty.zst", Compression.zstd(Data()))] {
            let url = dir.file(name)
            try data.write(to: url)
            #expect(try readAll(.file(url)).isEmpty, "\(name)")
        }
        let bom = dir.file("bom.gz")
        try Compression.gzip(Data([0xef, 0xbb, 0xbf] + Array("{\"id\":1,\"text\":\"x\"}".utf8))).write(to: bom)
        #expect(try readAll(.file(bom)).map(\.raw) == [Array("{\"id\":1,\"text\":\"x\"}".utf8)])
    }
}
