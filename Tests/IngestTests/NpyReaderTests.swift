import CKernels
import Foundation
import Ingest
import Testing
import TestSupport

/// A .npy file built byte by byte, so that headers can lie, use any version and any dtype.
private func npy(descr: String = "<f4", fortran: Bool = false, shape: String, major: UInt8 = 1,
                 data: [UInt8], dict: String? = nil) -> [UInt8] {
    let text = dict ?? "{'descr': '\(descr)', 'fortran_order': \(fortran ? "True" : "False"), 'shape': \(shape), }"
    let lengthSize = major == 1 ? 2 : 4
    var header = Array(text.utf8)
    while (10 + lengthSize - 2 + header.count + 1) % 64 != 0 { header.append(0x20) }
    header.append(0x0a)
    var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [major, 0]
    for i in 0..<lengthSize { bytes.append(UInt8(truncatingIfNeeded: header.count >> (8 * i))) }
    return bytes + header + data
}

private func bytes<T>(of values: [T]) -> [UInt8] { values.withUnsafeBytes { Array($0) } }

private func f16Bits(_ values: [Float]) -> [UInt16] {
    var out = [UInt16](repeating: 0, count: values.count)
    qc_f32_to_f16(values, &out, values.count)
    return out
}

/// The error a throwing call raised, if it was an IngestError.
private func ingestError(_ body: () throws -> Void) -> IngestError? {
    do { try body() } catch let error as IngestError { return error } catch { return nil }
    return nil
}

/// All values of a matrix file, converted to Float, read block by block.
private func allFloats(_ file: MatrixFile, rowsPerBlock: Int = 2) throws -> [Float] {
    var out = [Float](repeating: .nan, count: file.rowCount * file.dimension)
    var expectedFirst = 0
    try out.withUnsafeMutableBufferPointer { all in
        try file.forEachBlock(rowsPerBlock: rowsPerBlock) { block in
            #expect(block.firstRow == expectedFirst)
            #expect(block.rowCount <= rowsPerBlock)
            expectedFirst += block.rowCount
            let start = block.firstRow * file.dimension
            block.copyFloats(into: UnsafeMutableBufferPointer(rebasing: all[start..<start + block.rowCount * file.dimension]))
        }
    }
    #expect(expectedFirst == file.rowCount)
    return out
}

private let pythonWithNumpy = Python.has("numpy")

private func python(_ script: String) throws -> String { try Python.output(script) }

@Suite struct NpyReaderTests {
    /// Values that float16 represents exactly.
    let values: [Float] = (0..<12).map { Float($0) * 0.25 - 1.5 }

    @Test(arguments: [UInt8(1), 2, 3])
    func readsFloat32MatrixOfEveryVersion(major: UInt8) throws {
        let dir = TemporaryDirectory("ingest")
        let data = bytes(of: values)
        let url = try dir.file("m.npy", npy(descr: "<f4", shape: "(3, 4)", major: major, data: data))
        let m = try MatrixFile.open(url)
        #expect(m.format == .npy(major: Int(major), minor: 0))
        #expect(m.rowCount == 3 && m.dimension == 4 && m.elementType == .float32 && m.rowByteCount == 16)
        #expect(m.dataOffset % 64 == 0 && m.dataOffset > 0)
        #expect(try allFloats(m) == values)
        var raw = [UInt8](repeating: 0, count: 32)
        try raw.withUnsafeMutableBytes { try m.readRows(1..<3, into: $0) }
        #expect(raw == Array(data[16..<48]))
    }

    @Test func readsFloat16MatrixBytesVerbatim() throws {
        let dir = TemporaryDirectory("ingest")
        let bits = f16Bits(values)
        let url = try dir.file("h.npy", npy(descr: "<f2", shape: "(4, 3)", data: bytes(of: bits)))
        let m = try MatrixFile.open(url)
        #expect(m.rowCount == 4 && m.dimension == 3 && m.elementType == .float16 && m.rowByteCount == 6)
        #expect(try allFloats(m, rowsPerBlock: 3) == values)
        var raw = [UInt16](repeating: 0, count: 12)
        try raw.withUnsafeMutableBytes { try m.readRows(0..<4, into: $0) }
        #expect(raw == bits)
    }

    @Test func oneDimensionalArrayIsAColumn() throws {
        let dir = TemporaryDirectory("ingest")
        let url = try dir.file("v.npy", npy(descr: "<f2", shape: "(12,)", major: 2, data: bytes(of: f16Bits(values))))
        let m = try MatrixFile.open(url)
        #expect(m.rowCount == 12 && m.dimension == 1)
        #expect(try allFloats(m, rowsPerBlock: 5) == values)
    }

    @Test func acceptsKeysInAnyOrderAndPython2Longs() throws {
        let dir = TemporaryDirectory("ingest")
        let dict = "{'shape': (3L, 4L), \"fortran_order\": False, 'descr': '<f4'}"
        let m = try MatrixFile.open(try dir.file("k.npy", npy(shape: "", data: bytes(of: values), dict: dict)))
        #expect(m.rowCount == 3 && m.dimension == 4)
        #expect(try allFloats(m) == values)
    }

    @Test func emptyMatrixHasNoBlocks() throws {
        let dir = TemporaryDirectory("ingest")
        let m = try MatrixFile.open(try dir.file("e.npy", npy(shape: "(0, 8)", data: [])))
        #expect(m.rowCount == 0 && m.dimension == 8)
        var calls = 0
        try m.forEachBlock(rowsPerBlock: 4) { _ in calls += 1 }
        #expect(calls == 0)
    }

    @Test func formatIsDetectedByContentNotName() throws {
        let dir = TemporaryDirectory("ingest")
        let m = try MatrixFile.open(try dir.file("gradients.bin", npy(shape: "(3, 4)", data: bytes(of: values))))
        #expect(m.rowCount == 3)
    }

    @Test func truncatedDataNamesFirstMissingRow() throws {
        let dir = TemporaryDirectory("ingest")
        let full = npy(shape: "(3, 4)", data: bytes(of: values))
        let url = try dir.file("t.npy", Array(full.dropLast(20)))  // row 1 incomplete, row 2 gone
        let error = try #require(ingestError { _ = try MatrixFile.open(url) })
        #expect(error.file == url.path)
        #expect(error.location == "row 1")
        #expect(error.problem.contains("needs 48 data bytes"))
        #expect(error.problem.contains("holds 28"))
        #expect(error.description.hasPrefix("\(url.path): row 1: the file is shorter than its header says"))
    }

    @Test func headerClaimingTooFewRowsReportsTrailingBytes() throws {
        let dir = TemporaryDirectory("ingest")
        let file = npy(shape: "(2, 4)", data: bytes(of: values))  // 3 rows of data
        let url = try dir.file("long.npy", file)
        let error = try #require(ingestError { _ = try MatrixFile.open(url) })
        #expect(error.location == "byte \(file.count - 16)")
        #expect(error.problem.contains("16 more bytes follow the last row"))
    }

    @Test func headerClaimingTooManyRows() throws {
        let dir = TemporaryDirectory("ingest")
        let url = try dir.file("short.npy", npy(shape: "(5, 4)", data: bytes(of: values)))
        let error = try #require(ingestError { _ = try MatrixFile.open(url) })
        #expect(error.location == "row 3")
        #expect(error.problem.contains("needs 80 data bytes"))
        #expect(error.problem.contains("holds 48"))
    }

    @Test(arguments: [
        ("<f8", "float64"), (">f4", "big-endian float32"), ("<i8", "int64"), ("|O", "object"),
        ("|u1", "uint8"), ("<c8", "complex64"), ("<U10", "Unicode"), ("|b1", "bool"), (">f2", "big-endian float16"),
    ])
    func refusesOtherDtypes(descr: String, named: String) throws {
        let dir = TemporaryDirectory("ingest")
        let url = try dir.file("d.npy", npy(descr: descr, shape: "(3, 4)", data: bytes(of: values)))
        let error = try #require(ingestError { _ = try MatrixFile.open(url) })
        #expect(error.location == "header")
        #expect(error.problem.contains("'\(descr)'"))
        #expect(error.problem.contains(named))
        #expect(error.remedy.contains("np.ascontiguousarray(a, dtype=np.float16)"))
    }

    @Test func refusesStructuredDtypeNamingFields() throws {
        let dir = TemporaryDirectory("ingest")
        let dict = "{'descr': [('grad', '<f4'), ('id', '<i8')], 'fortran_order': False, 'shape': (2,), }"
        let url = try dir.file("s.npy", npy(shape: "", data: [UInt8](repeating: 0, count: 24), dict: dict))
        let error = try #require(ingestError { _ = try MatrixFile.open(url) })
        #expect(error.problem.contains("structured dtype with fields 'grad', 'id'"))
    }

    @Test func refusesFortranOrder() throws {
        let dir = TemporaryDirectory("ingest")
        let url = try dir.file("f.npy", npy(fortran: true, shape: "(3, 4)", data: bytes(of: values)))
        let error = try #require(ingestError { _ = try MatrixFile.open(url) })
        #expect(error.problem.contains("Fortran (column-major) order"))
        #expect(error.remedy.contains("np.ascontiguousarray"))
    }

    @Test(arguments: ["()", "(2, 3, 2)"])
    func refusesShapesThatAreNotOneOrTwoD(shape: String) throws {
        let dir = TemporaryDirectory("ingest")
        let url = try dir.file("x.npy", npy(shape: shape, data: bytes(of: shape == "()" ? [values[0]] : values)))
        let error = try #require(ingestError { _ = try MatrixFile.open(url) })
        #expect(error.problem.contains(shape == "()" ? "0-d (scalar) array" : "3-d array of shape (2, 3, 2)"))
    }

    @Test func refusesBadMagicAndVersion() throws {
        let dir = TemporaryDirectory("ingest")
        var file = npy(shape: "(3, 4)", data: bytes(of: values))
        file[1] = UInt8(ascii: "n")
        let badMagic = try #require(ingestError { _ = try MatrixFile.open(try dir.file("m.npy", file)) })
        #expect(badMagic.problem.contains("not a .npy or .safetensors file (starts with bytes 93 6E 55 4D 50 59 01 00)"))

        var v4 = npy(shape: "(3, 4)", major: 2, data: bytes(of: values))
        v4[6] = 4
        let badVersion = try #require(ingestError { _ = try MatrixFile.open(try dir.file("v.npy", v4)) })
        #expect(badVersion.problem == "unsupported .npy format version 4.0 (supported: 1.0, 2.0, 3.0)")

        let empty = try #require(ingestError { _ = try MatrixFile.open(try dir.file("empty.npy", [])) })
        #expect(empty.problem == "the file is empty")

        let zip = try #require(ingestError { _ = try MatrixFile.open(try dir.file("a.npz", [0x50, 0x4b, 0x03, 0x04, 0, 0, 0, 0, 0])) })
        #expect(zip.problem.contains(".npz"))

        let missing = try #require(ingestError { _ = try MatrixFile.open(dir.url.appendingPathComponent("nope.npy")) })
        #expect(missing.problem.contains("cannot open the file"))
        #expect(missing.remedy == "Check the path.")
    }

    @Test func refusesMalformedHeaders() throws {
        let dir = TemporaryDirectory("ingest")
        let cases: [(String, String)] = [
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4) ", "expected ',' or '}'"),
            ("{'descr': '<f4', 'fortran_order': False}", "lacks 'shape'"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), 'extra': 1}", "unexpected key 'extra'"),
            ("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (3, 4)}", "key 'descr' appears twice"),
            ("{'descr': '<f4', 'fortran_order': 0, 'shape': (3, 4)}", "'fortran_order' is 0"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (3, -4)}", "holds -4"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': [3, 4]}", "not a tuple"),
            ("['descr', '<f4']", "not a dict"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4)} junk", "after the end of the literal"),
        ]
        for (dict, expected) in cases {
            let url = try dir.file("h.npy", npy(shape: "", data: bytes(of: values), dict: dict))
            let error = try #require(ingestError { _ = try MatrixFile.open(url) }, "\(dict)")
            #expect(error.problem.contains(expected), "\(dict): \(error)")
        }
    }

    @Test func refusesHeaderLongerThanFile() throws {
        let dir = TemporaryDirectory("ingest")
        let file = npy(shape: "(3, 4)", data: [])
        let error = try #require(ingestError { _ = try MatrixFile.open(try dir.file("h.npy", Array(file.prefix(40)))) })
        #expect(error.problem.contains("ends inside its .npy header"))
    }

    @Test func refusesTensorNameForNpy() throws {
        let dir = TemporaryDirectory("ingest")
        let url = try dir.file("m.npy", npy(shape: "(3, 4)", data: bytes(of: values)))
        let error = try #require(ingestError { _ = try MatrixFile.open(url, tensor: "grads") })
        #expect(error.problem.contains("a .npy file holds a single array"))
    }

    @Test func fileShrinkingAfterOpenIsAnErrorNamingTheRow() throws {
        let dir = TemporaryDirectory("ingest")
        let url = try dir.file("s.npy", npy(shape: "(3, 4)", data: bytes(of: values)))
        let m = try MatrixFile.open(url)
        let handle = try FileHandle(forWritingTo: url)
        try handle.truncate(atOffset: UInt64(m.dataOffset + 20))
        try handle.close()
        let error = try #require(ingestError { _ = try allFloats(m, rowsPerBlock: 3) })
        #expect(error.location == "row 1")
        #expect(error.problem.contains("shrunk since it was opened"))
    }

    @Test(.enabled(if: pythonWithNumpy))
    func readsFilesWrittenByNumpy() throws {
        let dir = TemporaryDirectory("ingest")
        let f4 = dir.url.appendingPathComponent("np32.npy").path
        let f2 = dir.url.appendingPathComponent("np16.npy").path
        let v1 = dir.url.appendingPathComponent("np1d.npy").path
        let v3 = dir.url.appendingPathComponent("npv3.npy").path
        _ = try python("""
            import numpy as np
            a = (np.arange(35, dtype=np.float64).reshape(5, 7) * 0.125 - 2).astype(np.float32)
            np.save('\(f4)', a)
            np.save('\(f2)', a.astype(np.float16))
            np.save('\(v1)', a[:, 0].copy())
            np.lib.format.write_array(open('\(v3)', 'wb'), a, version=(3, 0))
            """)
        let expected: [Float] = (0..<35).map { Float($0) * 0.125 - 2 }
        let m32 = try MatrixFile.open(URL(fileURLWithPath: f4))
        #expect(m32.format == .npy(major: 1, minor: 0) && m32.rowCount == 5 && m32.dimension == 7 && m32.elementType == .float32)
        #expect(try allFloats(m32) == expected)
        let m16 = try MatrixFile.open(URL(fileURLWithPath: f2))
        #expect(m16.elementType == .float16)
        #expect(try allFloats(m16, rowsPerBlock: 4) == expected)
        let column = try MatrixFile.open(URL(fileURLWithPath: v1))
        #expect(column.rowCount == 5 && column.dimension == 1)
        #expect(try allFloats(column) == stride(from: 0, to: 35, by: 7).map { expected[$0] })
        let m3 = try MatrixFile.open(URL(fileURLWithPath: v3))
        #expect(m3.format == .npy(major: 3, minor: 0))
        #expect(try allFloats(m3) == expected)
    }
}
