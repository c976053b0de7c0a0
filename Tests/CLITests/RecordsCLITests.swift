import Foundation
import Testing
import TestSupport

/// `quadcat records`: a corpus's verbatim records as JSONL, in row order, as the Python package's
/// `quadcat features` streams them.
@Suite("quadcat records")
struct RecordsCLITests {
    /// A catalog of 300 fixture records and two CRLF-ended ones; the lines as stored (a CRLF record keeps its CR).
    static func catalog(_ dir: TemporaryDirectory) throws -> (String, [String]) {
        let cat = dir.file("cat.quadcat").path
        var lines = try Fixtures.writeCorpus(dir.file("a.jsonl"), rows: 300)
        try Data("{\"id\": 7, \"text\": \"crlf line\"}\r\n\n{\"text\": \"after blank\", \"id\": \"z\"}\r\n".utf8).write(to: dir.file("b.jsonl"))
        lines += ["{\"id\": 7, \"text\": \"crlf line\"}\r", "{\"text\": \"after blank\", \"id\": \"z\"}\r"]
        #expect(try QuadcatBinary.run(["init", cat]).status == 0)
        let ingest = try QuadcatBinary.run(["ingest", cat, dir.file("a.jsonl").path, dir.file("b.jsonl").path, "--corpus", "pool"])
        #expect(ingest.status == 0, "\(ingest.stderr)")
        return (cat, lines)
    }

    static func jsonl(_ lines: ArraySlice<String>) -> String { lines.map { $0 + "\n" }.joined() }

    @Test func printsTheIngestedLinesByteForByteInRowOrder() throws {
        let dir = TemporaryDirectory()
        let (cat, lines) = try Self.catalog(dir)
        let all = try QuadcatBinary.run(["records", cat, "--corpus", "pool"])
        #expect(all.status == 0 && all.stderr.isEmpty, "\(all.stderr)")
        #expect(all.stdout == Self.jsonl(lines[...]))
        let original = try Data(contentsOf: dir.file("a.jsonl"))
        #expect(Data(all.stdout.utf8).prefix(original.count) == original)

        for (arguments, expected) in [
            (["--start", "10", "--count", "5"], lines[10..<15]),
            (["--start", "0", "--count", "1"], lines[0..<1]),
            (["--start", "295"], lines[295...]),
            (["--start", "290", "--count", "1000"], lines[290...]),
            (["--count", "0"], lines[0..<0]),
            (["--start", "302"], lines[302...]),
        ] {
            let run = try QuadcatBinary.run(["records", cat, "--corpus", "pool"] + arguments)
            #expect(run.status == 0, "\(arguments): \(run.stderr)")
            #expect(run.stdout == Self.jsonl(expected), "\(arguments)")
        }
    }

    @Test func refusesAStartOutsideTheCorpusANegativeCountAndAnUnknownCorpus() throws {
        let dir = TemporaryDirectory()
        let (cat, _) = try Self.catalog(dir)
        let beyond = try QuadcatBinary.run(["records", cat, "--corpus", "pool", "--start", "303"])
        #expect(beyond.status == 1 && beyond.stdout.isEmpty)
        #expect(beyond.stderr.contains("row 303 is outside corpus 'pool' (0..<302)"), "\(beyond.stderr)")
        let negativeStart = try QuadcatBinary.run(["records", cat, "--corpus", "pool", "--start=-1"])
        #expect(negativeStart.status == 1 && negativeStart.stderr.contains("row -1 is outside corpus 'pool'"), "\(negativeStart.stderr)")
        let negativeCount = try QuadcatBinary.run(["records", cat, "--corpus", "pool", "--count=-2"])
        #expect(negativeCount.status == 1 && negativeCount.stderr.contains("--count is -2"), "\(negativeCount.stderr)")
        let unknown = try QuadcatBinary.run(["records", cat, "--corpus", "nope"])
        #expect(unknown.status == 1 && unknown.stderr.contains("no corpus named 'nope'"), "\(unknown.stderr)")
    }

    @Test func readsAShardSetAcrossItsShards() throws {
        let dir = TemporaryDirectory()
        let lines = try Fixtures.writeCorpus(dir.file("all.jsonl"), rows: 90)
        var shards: [String] = []
        for (index, slice) in [0..<40, 40..<90].enumerated() {
            try Data(Self.jsonl(lines[slice]).utf8).write(to: dir.file("s\(index).jsonl"))
            let shard = dir.file("s\(index).quadcat").path
            #expect(try QuadcatBinary.run(["init", shard]).status == 0)
            #expect(try QuadcatBinary.run(["ingest", shard, dir.file("s\(index).jsonl").path, "--corpus", "pool"]).status == 0)
            shards.append(shard)
        }
        let set = dir.file("set").path
        #expect(try QuadcatBinary.run(["set", "init", set, "--corpus", "pool"]).status == 0)
        let add = try QuadcatBinary.run(["set", "add", set] + shards)
        #expect(add.status == 0, "\(add.stderr)")
        let all = try QuadcatBinary.run(["records", set, "--corpus", "pool"])
        #expect(all.status == 0 && all.stdout == Self.jsonl(lines[...]), "\(all.stderr)")
        let across = try QuadcatBinary.run(["records", set + "/head.quadcat", "--corpus", "pool", "--start", "35", "--count", "10"])
        #expect(across.status == 0 && across.stdout == Self.jsonl(lines[35..<45]), "\(across.stderr)")
    }

    /// A reader that stops early (`| head -n 1`) ends the command quietly: status 0, nothing on stderr.
    @Test func aClosedStandardOutputEndsQuietly() throws {
        let dir = TemporaryDirectory()
        let cat = dir.file("cat.quadcat").path
        try Fixtures.writeCorpus(dir.file("big.jsonl"), rows: 20_000)  // ~1.6 MB: more than a pipe and a write block hold
        #expect(try QuadcatBinary.run(["init", cat]).status == 0)
        #expect(try QuadcatBinary.run(["ingest", cat, dir.file("big.jsonl").path, "--corpus", "pool"]).status == 0)
        let script = "\"$0\" records \"$1\" --corpus pool 2>\"$2\" | head -n 1 >/dev/null; echo \"status=${PIPESTATUS[0]}\""
        let run = try #require(Subprocess.run(URL(fileURLWithPath: "/bin/bash"), ["-c", script, QuadcatBinary.url.path, cat, dir.file("err.txt").path]))
        #expect(run.stdout == "status=0\n", "\(run.stdout) \(run.stderr)")
        #expect(try String(contentsOf: dir.file("err.txt"), encoding: .utf8).isEmpty)
    }
}
