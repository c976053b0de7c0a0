import CKernels
import Catalog
import Foundation
import Ingest
import Selectors

/// Issue 2's figures: ingest throughput, scan throughput against memory bandwidth, storage ratios.
struct CatalogBench {
    let work: URL
    let rows: Int
    let dim = 1024

    struct Results: Codable {
        var memoryBandwidth1: Double
        var memoryBandwidth2: Double
        var diskWriteMBps: Double
        var npyBytes: Int
        var jsonlBytes: Int
        var jsonlMBps: Double
        var attachMBps: [String: Double]
        /// Stored bytes scanned per second.
        var scanGBps: [String: Double]
        /// Float32 bytes delivered to the consumer per second.
        var deliveredGBps: [String: Double]
        var storedOverRawF16: [String: Double]
        var storedOverRawF32: [String: Double]
    }

    func run() throws -> Results {
        report("== catalog: \(rows) x \(dim) float16 gradients")
        let bandwidth1 = Measure.memoryReadBandwidth(threads: 1)
        let bandwidth2 = Measure.memoryReadBandwidth(threads: 2)
        let disk = try Measure.diskWriteBandwidth(directory: work)
        report(String(format: "memory read bandwidth: %.1f GB/s (1 thread), %.1f GB/s (2 threads); disk write with fsync: %.0f MB/s", bandwidth1, bandwidth2, disk))

        let npy = work.appendingPathComponent("grads.npy")
        let jsonl = work.appendingPathComponent("corpus.jsonl")
        try writeInputs(npy: npy, jsonl: jsonl)
        let npyBytes = FileIO.size(npy), jsonlBytes = FileIO.size(jsonl)
        // Read the inputs once so every run starts from the page cache, as a just-written file does.
        _ = try Data(contentsOf: npy, options: .alwaysMapped).withUnsafeBytes { qc_xxh64($0.baseAddress, $0.count, 0) }

        let catalogURL = work.appendingPathComponent("bench.quadcat")
        try? FileManager.default.removeItem(at: catalogURL)
        let catalog = try Catalog.create(at: catalogURL)
        let ingestSeconds = try Measure.once { _ = try catalog.ingest(corpus: "pool", files: [jsonl]) }
        let jsonlMBps = Double(jsonlBytes) / ingestSeconds / 1e6
        report(String(format: "ingest JSONL: %d records, %.0f MB in %.2f s = %.0f MB/s, %.0f records/s", rows, Double(jsonlBytes) / 1e6, ingestSeconds, jsonlMBps, Double(rows) / ingestSeconds))

        var attach: [String: Double] = [:], scan: [String: Double] = [:], delivered: [String: Double] = [:]
        var overF16: [String: Double] = [:], overF32: [String: Double] = [:]
        for precision in [StoragePrecision.f32, .asGiven, .int8, .int4] {
            let name = precision == .asGiven ? "f16" : precision == .f32 ? "f32" : precision.rawValue
            var request = AttachRequest(corpus: "pool", column: "grad-\(name)", file: npy)
            request.checkpoint = 1
            request.learningRate = 1e-5
            request.precision = precision
            // float32 widened from float16 has 13 zero mantissa bits, which shuffle-LZ4 would squeeze;
            // keep it raw here to measure the in-place read path a float32 column normally takes.
            if precision == .f32 { request.codec = .raw }
            let seconds = try Measure.once { _ = try catalog.attach(request) }
            attach[name] = Double(npyBytes) / seconds / 1e6
            let column = try catalog.columns(corpus: "pool").first { $0.name == "grad-\(name)" }!
            let storedBytes = try catalog.info().corpora[0].columns.first { $0.name == column.name }!.storage.storedBytes
            overF16[name] = Double(storedBytes) / Double(rows * dim * 2)
            overF32[name] = Double(storedBytes) / Double(rows * dim * 4)
            let vectors = try catalog.vectors(corpus: "pool", column: column.name, checkpoint: 1)
            var checksum = 0.0
            let scanSeconds = try Measure.best(5) {
                try vectors.forEachBlock { block in checksum += qc_sum_f32(block.values.baseAddress!, block.values.count) }
            }
            scan[name] = Double(storedBytes) / scanSeconds / 1e9
            delivered[name] = Double(rows * dim * 4) / scanSeconds / 1e9
            report(String(format: "attach .npy -> %@: %.0f MB/s of input (%.0f MB/s written); stored %.4f x raw f16 (%.4f x raw f32); scan %.1f GB/s stored = %.0f%% of 1-thread bandwidth, %.1f GB/s float32 delivered%@",
                         name, attach[name]!, attach[name]! * Double(storedBytes) / Double(npyBytes), overF16[name]!, overF32[name]!, scan[name]!, 100 * scan[name]! / bandwidth1, delivered[name]!, checksum.isFinite ? "" : "!"))
        }
        return Results(
            memoryBandwidth1: bandwidth1, memoryBandwidth2: bandwidth2, diskWriteMBps: disk, npyBytes: npyBytes, jsonlBytes: jsonlBytes,
            jsonlMBps: jsonlMBps, attachMBps: attach, scanGBps: scan, deliveredGBps: delivered, storedOverRawF16: overF16, storedOverRawF32: overF32)
    }

    /// A float16 Gaussian matrix and a JSONL corpus with one short record per row.
    private func writeInputs(npy: URL, jsonl: URL) throws {
        if FileIO.size(npy) == 128 + rows * dim * 2 && FileIO.size(jsonl) > 0 { return }
        var writer = try NpyWriter(url: npy, dtype: .float16, shape: [rows, dim])
        var random = SeededRandom(seed: 1)
        let blockRows = 4096
        var floats = [Float](repeating: 0, count: blockRows * dim)
        var halves = [UInt16](repeating: 0, count: blockRows * dim)
        var written = 0
        while written < rows {
            let count = min(blockRows, rows - written)
            for i in 0..<count * dim {
                // A cheap approximately Gaussian value: the sum of four uniforms, centred.
                let u = random.next()
                floats[i] = (Float(u & 0xFFFF) + Float((u >> 16) & 0xFFFF) + Float((u >> 32) & 0xFFFF) + Float(u >> 48)) / 65536 - 2
            }
            qc_f32_to_f16(floats, &halves, count * dim)
            try halves.withUnsafeBytes { try writer.append(UnsafeRawBufferPointer(rebasing: $0[0..<count * dim * 2])) }
            written += count
        }
        try writer.finish()
        var text = ""
        text.reserveCapacity(rows * 120)
        for r in 0..<rows {
            text += "{\"id\": \(r), \"domain\": \"d\(r % 7)\", \"text\": \"synthetic benchmark document number \(r) with a few more words of text\"}\n"
        }
        try Data(text.utf8).write(to: jsonl)
    }
}

enum FileIO {
    static func size(_ url: URL) -> Int {
        (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
    }
}
