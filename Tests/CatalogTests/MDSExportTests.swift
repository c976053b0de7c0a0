import Catalog
import Foundation
import Testing
import TestSupport

/// MDS exports read back by an independent reader, and by mosaicml-streaming itself when installed.
@Suite("MDS export")
struct MDSExportTests {
    static let python: String? = [ProcessInfo.processInfo.environment["QUADCAT_STREAMING_PYTHON"], "python3"]
        .compactMap { $0 }.first { Python.has("streaming", executable: $0) }

    private static func exported(shardBytes: Int) throws -> (DemoFixture.Built, [Int], URL, TemporaryDirectory) {
        let demo = try DemoFixture.build(rows: 1000)
        _ = try demo.catalog.select(SelectRequest(corpus: DemoCatalog.corpus, target: DemoCatalog.target, selector: .gtp, budget: try Budget(parsing: "10%"), name: "g"))
        let dir = TemporaryDirectory("mds")
        var request = ExportRequest(subset: "g", format: .mds, output: dir.file("mds"))
        request.weightField = "weight"
        request.scoreField = "score"
        request.mdsShardBytes = shardBytes
        _ = try demo.catalog.export(request)
        return (demo, try demo.catalog.members("g").map(\.row), dir.file("mds"), dir)
    }

    @Test func shardsReadBackWithTheRecordsInRankOrder() throws {
        let (demo, rows, directory, dir) = try Self.exported(shardBytes: 8 << 10)
        let dataset = try MDSReader.read(directory)
        #expect(dataset.shardCount > 1)
        #expect(dataset.samples.count == rows.count)
        let members = try demo.catalog.members("g")
        let lines = try String(contentsOf: demo.files.corpus, encoding: .utf8).split(separator: "\n").map(String.init)
        for (rank, sample) in dataset.samples.enumerated() {
            let row = rows[rank]
            #expect(sample["rank"] == .int(Int64(rank)))
            #expect(sample["id"] == .str(String(format: "doc-%06d", row)))
            #expect(sample["record"] == .str(lines[row]))
            #expect(sample["weight"] == .float64(members[rank].weight))
            let object = try JSONSerialization.jsonObject(with: Data(lines[row].utf8)) as! [String: Any]
            #expect(sample["text"] == .str(object["text"] as! String))
        }
        // Shards stay under the size limit, as streaming's writer keeps them.
        for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) where name.hasSuffix(".mds") {
            #expect(try Data(contentsOf: directory.appendingPathComponent(name)).count <= 8 << 10)
        }
        withExtendedLifetime(dir) {}
    }

    @Test(.enabled(if: python != nil, "mosaicml-streaming is not installed"))
    func mosaicmlStreamingReadsTheExport() throws {
        let (_, rows, directory, dir) = try Self.exported(shardBytes: 8 << 10)
        let script = """
            import sys, json
            from streaming import StreamingDataset
            ds = StreamingDataset(local=sys.argv[1], remote=None, shuffle=False, batch_size=1)
            out = [(int(s['rank']), s['id'], float(s['weight'])) for s in ds]
            print(json.dumps(out))
            """
        let result = Python.run(script, [directory.path], executable: Self.python!)
        #expect(result.status == 0, "\(result.stderr.suffix(2000))")
        let data = Data(result.stdout.utf8)
        let samples = try JSONSerialization.jsonObject(with: data) as! [[Any]]
        #expect(samples.count == rows.count)
        #expect(samples.map { $0[0] as! Int } == Array(0..<rows.count))
        #expect(samples.map { $0[1] as! String } == rows.map { String(format: "doc-%06d", $0) })
        withExtendedLifetime(dir) {}
    }
}
