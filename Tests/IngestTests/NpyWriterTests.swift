import CKernels
import Foundation
import Ingest
import Testing
import TestSupport

private let pythonWithNumpy = Python.has("numpy")

/// Runs a Python script; returns its standard output and whether it exited 0.
private func python(_ script: String) throws -> (output: String, ok: Bool) {
    let result = Python.run(script)
    return (result.stdout, result.status == 0)
}

private func ingestError(_ body: () throws -> Void) -> IngestError? {
    do { try body() } catch let error as IngestError { return error } catch { return nil }
    return nil
}

private func readBytes(_ file: MatrixFile) throws -> [UInt8] {
    var raw = [UInt8](repeating: 0, count: file.rowCount * file.rowByteCount)
    try raw.withUnsafeMutableBytes { try file.readRows(0..<file.rowCount, into: $0) }
    return raw
}

@Suite struct NpyWriterTests {
    let floats: [Float] = (0..<15).map { Float($0) / 8 - 1 }

    @Test func roundTripsFloat32ThroughMatrixFile() throws {
        let dir = TemporaryDirectory("ingest")
        let url = dir.url.appendingPathComponent("m.npy")
        try NpyWriter.write(url: url, floats: floats, rows: 5, columns: 3)
        let m = try MatrixFile.open(url)
        #expect(m.format == .npy(major: 1, minor: 0))
        #expect(m.rowCount == 5 && m.dimension == 3 && m.elementType == .float32)
        #expect(m.dataOffset == 128 || m.dataOffset == 64)
        #expect(m.dataOffset % 64 == 0)
        #expect(try readBytes(m) == floats.withUnsafeBytes { Array($0) })
        let header = try Data(contentsOf: url).prefix(m.dataOffset)
        #expect(String(decoding: header.dropFirst(10), as: UTF8.self).hasPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (5, 3), }"))
        #expect(header.last == 0x0a)
    }

    @Test func streamsRowsInPiecesOfAnySize() throws {
        let dir = TemporaryDirectory("ingest")
        let url = dir.url.appendingPathComponent("h.npy")
        var bits = [UInt16](repeating: 0, count: 3000 * 700)
        for i in bits.indices { bits[i] = UInt16(truncatingIfNeeded: i &* 2_654_435_761 >> 7) & 0x7bff }
        var writer = try NpyWriter(url: url, dtype: .float16, shape: [3000, 700])
        try bits.withUnsafeBytes { all in
            var offset = 0
            var piece = 1
            while offset < all.count {
                let n = min(piece, all.count - offset)
                try writer.append(UnsafeRawBufferPointer(rebasing: all[offset..<offset + n]))
                offset += n
                piece = piece * 3 + 1  // odd sizes, some larger than the writer's staging buffer
            }
        }
        #expect(writer.writtenByteCount == writer.expectedByteCount)
        try writer.finish()
        let m = try MatrixFile.open(url)
        #expect(m.rowCount == 3000 && m.dimension == 700 && m.elementType == .float16)
        #expect(try readBytes(m) == bits.withUnsafeBytes { Array($0) })
    }

    @Test func oneDimensionalShapes() throws {
        let dir = TemporaryDirectory("ingest")
        let url = dir.url.appendingPathComponent("v.npy")
        try NpyWriter.write(url: url, floats: floats)
        let m = try MatrixFile.open(url)
        #expect(m.rowCount == 15 && m.dimension == 1)
        let text = String(decoding: try Data(contentsOf: url).prefix(m.dataOffset), as: UTF8.self)
        #expect(text.contains("'shape': (15,)"))

        let ids = dir.url.appendingPathComponent("ids.npy")
        try NpyWriter.write(url: ids, int64s: [3, -1, 1 << 40])
        // The matrix reader refuses integers, naming the dtype.
        let error = try #require(ingestError { _ = try MatrixFile.open(ids) })
        #expect(error.problem.contains("'<i8' is little-endian int64"))
        let data = try Data(contentsOf: ids)
        #expect(data.count % 8 == 0 && (data.count - 24) % 64 == 0)
        #expect(Array(data.suffix(24)) == [Int64(3), -1, 1 << 40].withUnsafeBytes { Array($0) })
    }

    @Test func finishRefusesMissingBytesAndAppendRefusesExtra() throws {
        let dir = TemporaryDirectory("ingest")
        let url = dir.url.appendingPathComponent("short.npy")
        var writer = try NpyWriter(url: url, dtype: .float32, shape: [2, 3])
        try floats.withUnsafeBytes { try writer.append(UnsafeRawBufferPointer(rebasing: $0[0..<16])) }
        let short = try #require(ingestError { try writer.finish() })
        #expect(short.problem == "only 16 of the 24 data bytes of shape [2, 3] were written")
        let extra = try #require(ingestError { try floats.withUnsafeBytes { try writer.append(UnsafeRawBufferPointer(rebasing: $0[0..<12])) } })
        #expect(extra.problem.contains("would exceed the 24 data bytes"))
        try floats.withUnsafeBytes { try writer.append(UnsafeRawBufferPointer(rebasing: $0[16..<24])) }
        try writer.finish()
        #expect(try MatrixFile.open(url).rowCount == 2)
    }

    @Test func unwritableLocationIsAnError() throws {
        let error = try #require(ingestError {
            _ = try NpyWriter(url: URL(fileURLWithPath: "/nonexistent-dir-\(UUID().uuidString)/x.npy"), dtype: .float32, shape: [1])
        })
        #expect(error.problem.contains("cannot create the file"))
    }

    @Test(.enabled(if: pythonWithNumpy))
    func numpyReadsWrittenFiles() throws {
        let dir = TemporaryDirectory("ingest")
        let f4 = dir.url.appendingPathComponent("f4.npy")
        let f2 = dir.url.appendingPathComponent("f2.npy")
        let i8 = dir.url.appendingPathComponent("i8.npy")
        let v = dir.url.appendingPathComponent("v.npy")
        try NpyWriter.write(url: f4, floats: floats, rows: 5, columns: 3)
        var half = [UInt16](repeating: 0, count: floats.count)
        qc_f32_to_f16(floats, &half, floats.count)
        try NpyWriter.write(url: f2, float16Bits: half, rows: 3, columns: 5)
        try NpyWriter.write(url: i8, int64s: [0, -5, 1 << 50, Int64.max])
        try NpyWriter.write(url: v, floats: [])
        let result = try python("""
            import numpy as np
            expected = (np.arange(15, dtype=np.float64) / 8 - 1)
            a = np.load('\(f4.path)')
            assert a.dtype == np.float32 and a.shape == (5, 3) and a.flags.c_contiguous, (a.dtype, a.shape)
            assert (a == expected.reshape(5, 3)).all()
            h = np.load('\(f2.path)')
            assert h.dtype == np.float16 and h.shape == (3, 5) and (h == expected.reshape(3, 5)).all()
            i = np.load('\(i8.path)')
            assert i.dtype == np.int64 and i.tolist() == [0, -5, 1 << 50, 2**63 - 1]
            e = np.load('\(v.path)')
            assert e.dtype == np.float32 and e.shape == (0,)
            print('ok')
            """)
        #expect(result.ok)
        #expect(result.output == "ok\n")
    }
}
