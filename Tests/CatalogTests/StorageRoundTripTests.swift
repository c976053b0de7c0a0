import CKernels
import Catalog
import Foundation
import Selectors
import Testing
import TestSupport

/// Columns read back exactly as stored, for every precision and codec.
@Suite("Column storage round trips")
struct StorageRoundTripTests {
    private static func catalogWithCorpus(_ dir: TemporaryDirectory, rows: Int) throws -> Catalog {
        let catalog = try Catalog.create(at: dir.file("c.quadcat"))
        try Fixtures.writeCorpus(dir.file("c.jsonl"), rows: rows)
        _ = try catalog.ingest(corpus: "pool", files: [dir.file("c.jsonl")])
        return catalog
    }

    @Test(arguments: StoragePrecision.allCases, CodecPolicy.allCases)
    func valuesReadBackAsStored(precision: StoragePrecision, codec: CodecPolicy) throws {
        let dir = TemporaryDirectory()
        // More rows than one chunk holds at this dimension, so chunk boundaries are crossed.
        let rows = 1500, dim = 1000
        let catalog = try Self.catalogWithCorpus(dir, rows: rows)
        var values = Fixtures.gaussian(rows: rows, dim: dim, seed: 3)
        for j in 0..<dim { values[7 * dim + j] = 0 }  // an all-zero row
        try Fixtures.writeFloat32(values, rows: rows, dim: dim, to: dir.file("g.npy"))
        var request = AttachRequest(corpus: "pool", column: "g", file: dir.file("g.npy"))
        request.checkpoint = 1
        request.learningRate = 1e-5
        request.precision = precision
        request.codec = codec
        let report = try catalog.attach(request)
        #expect(report.rows == rows && report.usableRows == rows)

        let column = try catalog.vectors(corpus: "pool", column: "g", checkpoint: 1)
        let back = try column.materialize()
        #expect(back.rows == rows && back.columns == dim)
        switch precision {
        case .asGiven, .f32:
            #expect(back.values == values)
        case .f16:
            #expect(back.values == Fixtures.roundedThroughFloat16(values))
        case .bf16:
            var bits = [UInt16](repeating: 0, count: values.count)
            var expected = [Float](repeating: 0, count: values.count)
            qc_f32_to_bf16(values, &bits, values.count)
            qc_bf16_to_f32(bits, &expected, values.count)
            #expect(back.values == expected)
        case .int8, .int4:
            let levels: Float = precision == .int8 ? 127 : 7
            for r in 0..<rows {
                let maxAbs = (0..<dim).map { abs(values[r * dim + $0]) }.max()!
                let step = maxAbs / levels
                let worst = (0..<dim).map { abs(back.values[r * dim + $0] - values[r * dim + $0]) }.max()!
                #expect(worst <= step * 0.5001, "row \(r)")
            }
        }
        // Random access agrees with the scan.
        let picks = [rows - 1, 0, 7, 700, 3]
        #expect(try column.gather(rows: picks) == back.rows(picks))

        let storedBytes = try catalog.info().corpora[0].columns[0].storage
        let rawPerElement: Double = switch precision {
        case .asGiven, .f32: 4
        case .f16, .bf16: 2
        case .int8: 1 + 4.0 / Double(dim)
        case .int4: 0.5 + 4.0 / Double(dim)
        }
        // Gaussian values do not compress: whatever the codec, storage stays close to the raw size.
        #expect(Double(storedBytes.storedBytes) <= rawPerElement * Double(rows * dim) * 1.02)
        #expect(try catalog.verify().isHealthy)
    }

    @Test func compressibleColumnsAreCompressedUnderAuto() throws {
        let dir = TemporaryDirectory()
        let rows = 3000, dim = 256
        let catalog = try Self.catalogWithCorpus(dir, rows: rows)
        // Mostly zeros with a few non-zero rows: the auto policy must find this worth compressing.
        var values = [Float](repeating: 0, count: rows * dim)
        for r in stride(from: 0, to: rows, by: 50) { for j in 0..<dim { values[r * dim + j] = Float(j) } }
        try Fixtures.writeFloat32(values, rows: rows, dim: dim, to: dir.file("e.npy"))
        _ = try catalog.attach(AttachRequest(corpus: "pool", column: "e", file: dir.file("e.npy")))
        let info = try catalog.info()
        #expect(info.corpora[0].columns[0].storage.ratio < 0.2)
        #expect(try catalog.vectors(corpus: "pool", column: "e").materialize().values == values)
    }
}
