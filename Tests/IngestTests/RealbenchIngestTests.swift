import CKernels
import Foundation
import Ingest
import Testing
import TestSupport

private let realbench = Fixtures.realbench

private let pythonWithNumpy = Python.has("numpy")

private func python(_ script: String) throws -> String { try Python.output(script) }

@Suite(.enabled(if: realbench != nil)) struct RealbenchIngestTests {
    @Test(.enabled(if: pythonWithNumpy))
    func gradientsMatchNumpy() throws {
        let url = try #require(realbench).appendingPathComponent("grads_ckpt1.npy")
        let m = try MatrixFile.open(url)
        #expect(m.format == .npy(major: 1, minor: 0))
        #expect(m.rowCount == 12000 && m.dimension == 1024 && m.elementType == .float16)

        // Probe values, one per line as "row column value", and per-row sums in float64, from numpy.
        let probes = [(0, 0), (0, 1), (0, 1023), (1, 5), (4095, 512), (4096, 0), (7777, 77), (11999, 1023)]
        let rows = [0, 1, 6000, 11999]
        let output = try python("""
            import numpy as np
            a = np.load('\(url.path)', mmap_mode='r')
            for r, c in \(probes.map { [$0.0, $0.1] }):
                print(r, c, repr(float(a[r, c])))
            for r in \(rows):
                print('sum', r, repr(float(a[r].astype(np.float64).sum())))
            print('nonfinite', int((~np.isfinite(a)).any(axis=1).sum()))
            """)
        var probeValues: [String: Double] = [:]
        var sums: [Int: Double] = [:]
        var nonFinite = -1
        for line in output.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts[0] == "sum" { sums[Int(parts[1])!] = Double(parts[2])! }
            else if parts[0] == "nonfinite" { nonFinite = Int(parts[1])! }
            else { probeValues["\(parts[0]) \(parts[1])"] = Double(parts[2])! }
        }
        #expect(probeValues.count == probes.count && sums.count == rows.count)

        var found = 0
        var flagged: [Int] = []
        var rowsSeen = 0
        try m.forEachBlock(rowsPerBlock: 1000) { block in
            flagged += block.nonFiniteRows()
            rowsSeen += block.rowCount
            var floats = [Float](repeating: .nan, count: block.rowCount * block.dimension)
            floats.withUnsafeMutableBufferPointer { block.copyFloats(into: $0) }
            for (r, c) in probes where block.firstRow <= r && r < block.firstRow + block.rowCount {
                #expect(Double(floats[(r - block.firstRow) * 1024 + c]) == probeValues["\(r) \(c)"], "row \(r) column \(c)")
                found += 1
            }
            for r in rows where block.firstRow <= r && r < block.firstRow + block.rowCount {
                let sum = floats[(r - block.firstRow) * 1024..<(r - block.firstRow + 1) * 1024].reduce(0.0) { $0 + Double($1) }
                #expect(abs(sum - sums[r]!) <= 1e-9 * max(1, abs(sum)), "row \(r)")
            }
        }
        #expect(found == probes.count && rowsSeen == 12000)
        #expect(flagged.count == nonFinite)
    }

    @Test func corpusHas12000RecordsInIDOrder() throws {
        let url = try #require(realbench).appendingPathComponent("corpus.jsonl")
        let reader = try JSONLReader(url: url)
        var count = 0
        var sha = qc_sha256_state()
        qc_sha256_init(&sha)
        try reader.forEachRecord { r in
            #expect(r.id == String(count), "line \(r.line)")
            #expect(r.line == count + 1)
            #expect(r.raw.first == UInt8(ascii: "{") && r.raw.last == UInt8(ascii: "}"))
            for part in [r.id, r.text] {
                var bytes = Array(part.utf8) + [0]
                qc_sha256_update(&sha, &bytes, bytes.count)
            }
            count += 1
        }
        #expect(count == 12000)
        #expect(reader.bytesRead == reader.fileSize)
        guard pythonWithNumpy else { return }
        // The decoded ids and texts hash the same as Python's json module decodes them.
        var digest = [UInt8](repeating: 0, count: 32)
        qc_sha256_final(&sha, &digest)
        let hex = digest.map { String(format: "%02x", $0) }.joined()
        let expected = try python("""
            import hashlib, json
            h = hashlib.sha256()
            for line in open('\(url.path)', encoding='utf-8'):
                if line.strip():
                    r = json.loads(line)
                    for part in (str(r['id']), r['text']):
                        h.update(part.encode('utf-8') + b'\\0')
            print(h.hexdigest())
            """)
        #expect(hex + "\n" == expected)
    }
}
