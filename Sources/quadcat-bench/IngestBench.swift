import BenchBaselines
import CRecordParser
import CKernels
import Catalog
import Foundation
import Ingest
import TestSupport

/// Issue 14's figures: ingest of about 1 GB of web-like JSONL, plain, gzip and zstd, against a Python
/// json.loads + hashlib.sha256 pass over the same lines in the same run; the hashing libraries
/// against quadcat's own code; simdjson against quadcat's JSON scanner.
struct IngestBench {
    let work: URL
    let repository: URL
    /// Size of the generated corpus.
    let bytes: Int

    struct Input: Codable {
        var name: String
        var storedBytes: Int
        var quadcatMBps: Double
        var quadcatOneWorkerMBps: Double?
        /// Without LZ4 (`--codec raw`).
        var quadcatRawCodecMBps: Double?
        var pythonMBps: Double?
        var contentHash: String
    }

    struct Results: Codable {
        var records: Int
        var jsonlBytes: Int
        var sha256OpenSSLMBps: Double
        var sha256OwnMBps: Double
        var sha256OpenSSLDocMBps: Double
        var sha256OwnDocMBps: Double
        var xxh64OwnMBps: Double
        var xxh64LibraryMBps: Double
        var simdjsonEngine: String
        var parseSimdjsonMBps: Double
        var parseScannerMBps: Double
        var inputs: [Input]
    }

    func run() throws -> Results {
        let directory = work.appendingPathComponent("ingest")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let plain = directory.appendingPathComponent("web.jsonl")
        let gzip = directory.appendingPathComponent("web.jsonl.gz")
        let zstd = directory.appendingPathComponent("web.jsonl.zst")
        let records = try prepareCorpus(plain: plain, gzip: gzip, zstd: zstd)
        let jsonlBytes = FileIO.size(plain)
        report(String(format: "== ingest: %d web-like records (0.5-4 KB texts), %.2f GB of JSONL; gzip %.2f GB, zstd %.2f GB",
                      records, Double(jsonlBytes) / 1e9, Double(FileIO.size(gzip)) / 1e9, Double(FileIO.size(zstd)) / 1e9))

        let hashes = HashThroughput.measure()
        report(String(format: "SHA-256, one core: OpenSSL %.0f MB/s, hand-written %.0f MB/s (%.1fx) in 64 MiB; per 2 KB document %.0f vs %.0f MB/s (%.1fx)",
                      hashes.sha256Bulk.library, hashes.sha256Bulk.own, hashes.sha256Bulk.library / hashes.sha256Bulk.own,
                      hashes.sha256Document.library, hashes.sha256Document.own, hashes.sha256Document.library / hashes.sha256Document.own))
        report(String(format: "xxHash64, one core, 4 MiB chunks: quadcat's own %.0f MB/s, libxxhash %.0f MB/s (%.2fx)",
                      hashes.xxh64.own, hashes.xxh64.library, hashes.xxh64.library / hashes.xxh64.own))

        let parse = try ParseThroughput.measure(plain, bytes: min(jsonlBytes, 512 << 20))
        report(String(format: "JSON records, one core (validate, find id and text, decode): simdjson (%@) %.0f MB/s, quadcat's scanner %.0f MB/s (%.2fx)",
                      parse.engine, parse.simdjson, parse.scanner, parse.simdjson / parse.scanner))

        report("input   stored MB   quadcat MB/s   (1 worker)   (no LZ4)   Python MB/s   quadcat/Python")
        var inputs: [Input] = []
        for (name, file) in [("plain", plain), ("gzip", gzip), ("zstd", zstd)] {
            let (mbps, hash) = try ingestThroughput(file, name: name)
            let oneWorker = name == "plain" ? try ingestThroughput(file, name: name, workers: 1).mbps : nil
            let rawCodec = name == "plain" ? try ingestThroughput(file, name: name, codec: .raw).mbps : nil
            let python = try pythonThroughput(file)
            let row = Input(name: name, storedBytes: FileIO.size(file), quadcatMBps: mbps, quadcatOneWorkerMBps: oneWorker,
                            quadcatRawCodecMBps: rawCodec, pythonMBps: python, contentHash: hash)
            inputs.append(row)
            report(name.padding(toLength: 6, withPad: " ", startingAt: 0)
                + String(format: " %11.0f %14.0f %12@ %10@ %13@ %16@", Double(row.storedBytes) / 1e6, mbps,
                         oneWorker.map { String(format: "%.0f", $0) } ?? "", rawCodec.map { String(format: "%.0f", $0) } ?? "",
                         python.map { String(format: "%.0f", $0) } ?? "n/a",
                         python.map { String(format: "%.2fx", mbps / $0) } ?? "n/a"))
        }
        let same = Set(inputs.map(\.contentHash)).count == 1
        report(String(format: "zstd / plain time: %.2fx; gzip / plain: %.2fx; the three catalogs' records hash %@",
                      inputs[0].quadcatMBps / inputs[2].quadcatMBps, inputs[0].quadcatMBps / inputs[1].quadcatMBps,
                      same ? "the same" : "DIFFERENTLY (a bug)"))
        return Results(
            records: records, jsonlBytes: jsonlBytes, sha256OpenSSLMBps: hashes.sha256Bulk.library, sha256OwnMBps: hashes.sha256Bulk.own,
            sha256OpenSSLDocMBps: hashes.sha256Document.library, sha256OwnDocMBps: hashes.sha256Document.own,
            xxh64OwnMBps: hashes.xxh64.own, xxh64LibraryMBps: hashes.xxh64.library, simdjsonEngine: parse.engine,
            parseSimdjsonMBps: parse.simdjson, parseScannerMBps: parse.scanner, inputs: inputs)
    }

    /// Writes the corpus and its compressed copies once; later runs reuse them.
    private func prepareCorpus(plain: URL, gzip: URL, zstd: URL) throws -> Int {
        let countFile = plain.appendingPathExtension("records")
        if let text = try? String(contentsOf: countFile, encoding: .utf8), let records = Int(text),
           FileIO.size(plain) >= bytes, FileIO.size(gzip) > 0, FileIO.size(zstd) > 0 {
            return records
        }
        report("writing the ingest corpus (once; kept in \(plain.deletingLastPathComponent().path))")
        var corpus = WebCorpus(seed: 14)
        let records = try corpus.write(to: plain, bytes: bytes)
        // gzip level 6 in 64 MiB members (written on both cores), zstd level 3 (the tools' defaults).
        let data = try Data(contentsOf: plain, options: .alwaysMapped)
        try Compression.gzip(data, memberBytes: 64 << 20).write(to: gzip)
        try Compression.zstd(data, threads: 2).write(to: zstd)
        try String(records).write(to: countFile, atomically: true, encoding: .utf8)
        return records
    }

    /// Decoded JSONL MB per second of a whole ingest (read, decompress, parse, hash, compress, write,
    /// index, commit), into a fresh catalog; the better of two runs. Also the records' content hash.
    private func ingestThroughput(_ file: URL, name: String, workers: Int? = nil, codec: CodecPolicy = .auto) throws -> (mbps: Double, hash: String) {
        var best = Double.infinity
        var hash = ""
        var decoded = 0
        for _ in 0..<2 {
            let url = work.appendingPathComponent("ingest-\(name).quadcat")
            try? FileManager.default.removeItem(at: url)
            let catalog = try Catalog.create(at: url)
            var options = IngestOptions()
            options.workers = workers
            options.codec = codec
            let start = DispatchTime.now().uptimeNanoseconds
            let ingested = try catalog.ingest(corpus: "web", files: [file], options: options)
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            decoded = ingested.decodedBytes
            hash = try catalog.info().corpora[0].contentHash
            try? FileManager.default.removeItem(at: url)
        }
        return (Double(decoded) / best / 1e6, hash)
    }

    /// bench/ingest_baseline.py on the same file; nil without python3, or for zstd without zstandard.
    private func pythonThroughput(_ file: URL) throws -> Double? {
        struct Output: Decodable {
            var seconds: Double?
            var decoded_bytes: Int?
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", repository.appendingPathComponent("bench/ingest_baseline.py").path, file.path]
        let output = Pipe()
        process.standardOutput = output
        guard (try? process.run()) != nil else { return nil }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0, let result = try? JSONDecoder().decode(Output.self, from: data),
              let seconds = result.seconds, let decoded = result.decoded_bytes else { return nil }
        return Double(decoded) / seconds / 1e6
    }
}

/// SHA-256 and xxHash64: the libraries against quadcat's own code, one core.
enum HashThroughput {
    struct Pair {
        var library: Double
        var own: Double
    }

    static func measure() -> (sha256Bulk: Pair, sha256Document: Pair, xxh64: Pair) {
        let size = 64 << 20
        let data = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 64)
        defer { data.deallocate() }
        for i in 0..<size { data[i] = UInt8(truncatingIfNeeded: i &* 2_654_435_761 >> 13) }
        let base = UnsafeRawPointer(data.baseAddress!)
        var digest = [UInt8](repeating: 0, count: 32)

        let bulkLibrary = Measure.best(3) { qc_sha256(base, size, &digest) }
        let bulkOwn = Measure.best(3) {
            var state = baseline_sha256_state()
            baseline_sha256_init(&state)
            baseline_sha256_update(&state, base, size)
            baseline_sha256_final(&state, &digest)
        }
        let document = 2048, documents = size / document
        let documentLibrary = Measure.best(3) {
            for d in 0..<documents { qc_sha256(base + d * document, document, &digest) }
        }
        let documentOwn = Measure.best(3) {
            for d in 0..<documents {
                var state = baseline_sha256_state()
                baseline_sha256_init(&state)
                baseline_sha256_update(&state, base + d * document, document)
                baseline_sha256_final(&state, &digest)
            }
        }
        let chunk = 4 << 20, chunks = size / chunk
        var own: UInt64 = 0, library: UInt64 = 0
        let xxOwn = Measure.best(5) { for c in 0..<chunks { own ^= qc_xxh64(base + c * chunk, chunk, UInt64(c)) } }
        let xxLibrary = Measure.best(5) { for c in 0..<chunks { library ^= baseline_library_xxh64(base + c * chunk, chunk, UInt64(c)) } }
        precondition(own == library, "xxHash64 implementations disagree")
        let mb = Double(size) / 1e6
        return (Pair(library: mb / bulkLibrary, own: mb / bulkOwn), Pair(library: mb / documentLibrary, own: mb / documentOwn),
                Pair(library: mb / xxLibrary, own: mb / xxOwn))
    }
}

/// The record parser alone over the corpus's first blocks (already read into memory), one core.
enum ParseThroughput {
    static func measure(_ file: URL, bytes: Int) throws -> (engine: String, simdjson: Double, scanner: Double) {
        let reader = try LineBlockReader(.file(file), maxLineBytes: 64 << 20, limitRemedy: "")
        var blocks: [LineBlock] = []
        var total = 0
        while total < bytes {
            let block = LineBlock()
            guard try reader.fill(block) else { break }
            total += block.count
            blocks.append(block)
        }
        func run(_ engine: RecordParserEngine) throws -> Double {
            let parser = try RecordParser(options: JSONLOptions(), input: .file(file), compression: .none, engine: engine)
            var checksum = 0
            let seconds = try Measure.best(3) {
                for block in blocks {
                    try block.forEachLine { number, line in
                        if let record = try parser.parse(line, number: number) { checksum &+= record.text.count &+ record.id.count }
                    }
                }
            }
            precondition(checksum > 0)
            return Double(total) / seconds / 1e6
        }
        return (String(cString: qc_record_parser_implementation()), try run(.simdjson), try run(.scanner))
    }
}
