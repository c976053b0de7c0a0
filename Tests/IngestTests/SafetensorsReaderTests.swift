import CKernels
import Foundation
import Ingest
import Testing
import TestSupport

/// A minimal safetensors writer: tensors laid out back to back in the given order.
private struct SafetensorsFixture {
    struct Tensor {
        var name: String
        var dtype: String
        var shape: [Int]
        var data: [UInt8]
    }
    var tensors: [Tensor] = []
    var metadata = "{\"format\":\"pt\"}"

    /// The header JSON; `offsets` overrides a tensor's data_offsets text.
    func headerJSON(offsets: [String: String] = [:]) -> String {
        var entries = ["\"__metadata__\":\(metadata)"]
        var begin = 0
        for t in tensors {
            let range = offsets[t.name] ?? "[\(begin),\(begin + t.data.count)]"
            entries.append("\"\(t.name)\":{\"dtype\":\"\(t.dtype)\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":\(range)}")
            begin += t.data.count
        }
        return "{" + entries.joined(separator: ",") + "}"
    }

    func bytes(header: String? = nil) -> [UInt8] {
        var json = Array((header ?? headerJSON()).utf8)
        while json.count % 8 != 0 { json.append(0x20) }
        var out: [UInt8] = []
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: UInt64(json.count) >> (8 * UInt64(i)))) }
        out += json
        for t in tensors { out += t.data }
        return out
    }
}

private func bytes<T>(of values: [T]) -> [UInt8] { values.withUnsafeBytes { Array($0) } }

private func ingestError(_ body: () throws -> Void) -> IngestError? {
    do { try body() } catch let error as IngestError { return error } catch { return nil }
    return nil
}

private func allFloats(_ file: MatrixFile, rowsPerBlock: Int) throws -> [Float] {
    var out: [Float] = []
    try file.forEachBlock(rowsPerBlock: rowsPerBlock) { block in
        var floats = [Float](repeating: .nan, count: block.rowCount * block.dimension)
        floats.withUnsafeMutableBufferPointer { block.copyFloats(into: $0) }
        out += floats
    }
    return out
}

@Suite struct SafetensorsReaderTests {
    let values: [Float] = (0..<24).map { Float($0) * 0.5 - 6 }

    var f16: [UInt16] {
        var out = [UInt16](repeating: 0, count: values.count)
        qc_f32_to_f16(values, &out, values.count)
        return out
    }

    var bf16: [UInt16] {
        var out = [UInt16](repeating: 0, count: values.count)
        qc_f32_to_bf16(values, &out, values.count)
        return out
    }

    fileprivate var threeTensors: SafetensorsFixture {
        SafetensorsFixture(tensors: [
            .init(name: "grads", dtype: "F16", shape: [6, 4], data: bytes(of: f16)),
            .init(name: "emb", dtype: "F32", shape: [4, 6], data: bytes(of: values)),
            .init(name: "brain", dtype: "BF16", shape: [24], data: bytes(of: bf16)),
        ])
    }

    @Test func readsEachSupportedDtypeByName() throws {
        let dir = TemporaryDirectory("ingest")
        let fixture = threeTensors
        let file = fixture.bytes()
        let url = try dir.file("model.safetensors", file)
        let headerEnd = 8 + Int(file[0]) + Int(file[1]) << 8

        let grads = try MatrixFile.open(url, tensor: "grads")
        #expect(grads.format == .safetensors(tensor: "grads"))
        #expect(grads.rowCount == 6 && grads.dimension == 4 && grads.elementType == .float16 && grads.rowByteCount == 8)
        #expect(grads.dataOffset == headerEnd)
        #expect(try allFloats(grads, rowsPerBlock: 4) == values)
        var raw = [UInt16](repeating: 0, count: 8)
        try raw.withUnsafeMutableBytes { try grads.readRows(4..<6, into: $0) }
        #expect(raw == Array(f16[16..<24]))

        let emb = try MatrixFile.open(url, tensor: "emb")
        #expect(emb.rowCount == 4 && emb.dimension == 6 && emb.elementType == .float32)
        #expect(emb.dataOffset == headerEnd + 48)
        #expect(try allFloats(emb, rowsPerBlock: 3) == values)

        let brain = try MatrixFile.open(url, tensor: "brain")
        #expect(brain.rowCount == 24 && brain.dimension == 1 && brain.elementType == .bfloat16)
        #expect(brain.dataOffset == headerEnd + 144)
        #expect(try allFloats(brain, rowsPerBlock: 10) == values)
    }

    @Test func singleTensorNeedsNoName() throws {
        let dir = TemporaryDirectory("ingest")
        let fixture = SafetensorsFixture(tensors: [.init(name: "only", dtype: "F32", shape: [3, 8], data: bytes(of: values))])
        let m = try MatrixFile.open(try dir.file("one.st", fixture.bytes()))
        #expect(m.format == .safetensors(tensor: "only"))
        #expect(try allFloats(m, rowsPerBlock: 2) == values)
    }

    @Test func severalTensorsWithoutNameListsThem() throws {
        let dir = TemporaryDirectory("ingest")
        let url = try dir.file("many.safetensors", threeTensors.bytes())
        let error = try #require(ingestError { _ = try MatrixFile.open(url) })
        #expect(error.location == "header")
        #expect(error.problem == "the file holds 3 tensors: 'grads' (F16 [6, 4]), 'emb' (F32 [4, 6]), 'brain' (BF16 [24])")
        #expect(error.remedy == "Name the tensor to read.")
    }

    @Test func unknownTensorListsTheOthers() throws {
        let dir = TemporaryDirectory("ingest")
        let url = try dir.file("many.safetensors", threeTensors.bytes())
        let error = try #require(ingestError { _ = try MatrixFile.open(url, tensor: "weights") })
        #expect(error.problem.hasPrefix("no tensor named 'weights'; the file holds 'grads' (F16 [6, 4])"))
    }

    @Test(arguments: [("I64", 8, "int64"), ("F64", 8, "float64"), ("U8", 1, "unsigned"), ("BOOL", 1, "booleans")])
    func refusesUnsupportedDtype(dtype: String, width: Int, named: String) throws {
        let dir = TemporaryDirectory("ingest")
        let fixture = SafetensorsFixture(tensors: [.init(name: "ids", dtype: dtype, shape: [3, 2], data: [UInt8](repeating: 0, count: 6 * width))])
        let error = try #require(ingestError { _ = try MatrixFile.open(try dir.file("i.safetensors", fixture.bytes())) })
        #expect(error.location == "tensor 'ids'")
        #expect(error.problem.hasPrefix("dtype \(dtype) is "))
        #expect(error.problem.contains(named))
        #expect(error.problem.contains("only F32, F16 and BF16"))
    }

    @Test func refusesThreeDimensionalTensor() throws {
        let dir = TemporaryDirectory("ingest")
        let fixture = SafetensorsFixture(tensors: [.init(name: "t", dtype: "F32", shape: [2, 3, 4], data: bytes(of: values))])
        let error = try #require(ingestError { _ = try MatrixFile.open(try dir.file("3d.safetensors", fixture.bytes())) })
        #expect(error.problem.contains("3 dimensions [2, 3, 4]"))
    }

    @Test func refusesInvalidJSONHeader() throws {
        let dir = TemporaryDirectory("ingest")
        let fixture = threeTensors
        var header = fixture.headerJSON()
        header.removeLast()  // drop the closing brace
        let error = try #require(ingestError { _ = try MatrixFile.open(try dir.file("bad.safetensors", fixture.bytes(header: header))) })
        #expect(error.problem.hasPrefix("the safetensors header is not valid JSON: expected ',' or '}' after object member"))
        // The parser reads through the padding spaces and meets the end of the header where '}' should be.
        #expect(error.location == "byte \(8 + (header.utf8.count + 7) / 8 * 8)")
        #expect(error.problem.hasSuffix("found the end of the header"))

        let dup = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}"
        let dupFixture = SafetensorsFixture(tensors: [.init(name: "a", dtype: "F32", shape: [1], data: [0, 0, 0, 0])])
        let dupError = try #require(ingestError { _ = try MatrixFile.open(try dir.file("dup.safetensors", dupFixture.bytes(header: dup))) })
        #expect(dupError.problem.contains("member name \"a\" appears twice"))

        let notObject = try #require(ingestError { _ = try MatrixFile.open(try dir.file("arr.safetensors", dupFixture.bytes(header: "{\"a\": 5}"))) })
        #expect(notObject.location == "tensor 'a'")
        #expect(notObject.problem.contains("not an object"))
    }

    @Test func refusesBadOffsets() throws {
        let dir = TemporaryDirectory("ingest")
        let fixture = threeTensors
        let cases: [(String, String, String)] = [
            ("emb", "[48,100]", "shape [4, 6] of F32 needs 96 bytes, but data_offsets [48, 100] span 52"),
            ("brain", "[144,20000]", "data_offsets [144, 20000] run past the end of the file: 192 data bytes follow the header"),
            ("grads", "[10,2]", "not [begin, end] with begin <= end"),
            ("grads", "[0]", "not [begin, end]"),
            ("grads", "[-1,47]", "not [begin, end]"),
        ]
        for (name, offsets, expected) in cases {
            let url = try dir.file("o.safetensors", fixture.bytes(header: fixture.headerJSON(offsets: [name: offsets])))
            let error = try #require(ingestError { _ = try MatrixFile.open(url, tensor: "grads") }, "\(offsets)")
            #expect(error.location == "tensor '\(name)'")
            #expect(error.problem.contains(expected), "\(error)")
        }
    }

    @Test func refusesBadHeaderSize() throws {
        let dir = TemporaryDirectory("ingest")
        var file = threeTensors.bytes()
        file.replaceSubrange(0..<8, with: [0, 0, 0, 0, 0, 1, 0, 0])  // 2^40 bytes
        let huge = try #require(ingestError { _ = try MatrixFile.open(try dir.file("h.safetensors", file)) })
        #expect(huge.problem.contains("more than the 100000000-byte limit"))

        file.replaceSubrange(0..<8, with: [0, 0x10, 0, 0, 0, 0, 0, 0])  // 4096 bytes, more than the file holds
        let long = try #require(ingestError { _ = try MatrixFile.open(try dir.file("l.safetensors", file)) })
        #expect(long.problem.contains("says 4096 bytes, but only \(file.count - 8) bytes follow it"))

        let short = try #require(ingestError { _ = try MatrixFile.open(try dir.file("s.safetensors", [1, 0, 0, 0, 0, 0, 0, 0x7b])) })
        #expect(short.problem.contains("too short") || short.problem.contains("not a .npy or .safetensors"))
    }

    @Test func truncatedDataIsReportedAtTheTensor() throws {
        let dir = TemporaryDirectory("ingest")
        let file = threeTensors.bytes()
        let url = try dir.file("t.safetensors", Array(file.dropLast(10)))
        let error = try #require(ingestError { _ = try MatrixFile.open(url, tensor: "grads") })
        #expect(error.location == "tensor 'brain'")
        #expect(error.problem.contains("run past the end of the file"))
    }
}

@Suite struct MatrixBlockTests {
    /// 10 rows x 7 values with NaN in rows 2 and 5 (twice), -inf in row 6, +inf in row 9 (the last value of
    /// the matrix), and the largest finite values elsewhere.
    static let rows = 10, columns = 7
    static let bad: [(row: Int, column: Int, value: Float)] = [
        (2, 0, .nan), (5, 3, .nan), (5, 6, -.nan), (6, 6, -.infinity), (9, 6, .infinity),
    ]
    static let expectedRows = [2, 5, 6, 9]

    static func values(maxFinite: Float) -> [Float] {
        var v = (0..<rows * columns).map { Float($0 % 5) - 2 }
        v[0] = maxFinite
        v[10] = -maxFinite
        for b in bad { v[b.row * columns + b.column] = b.value }
        return v
    }

    @Test(arguments: [1, 2, 3, 4, 7, 10, 64])
    func findsNonFiniteRowsAcrossBlocks(rowsPerBlock: Int) throws {
        let dir = TemporaryDirectory("ingest")
        let f32 = Self.values(maxFinite: .greatestFiniteMagnitude)
        var f16 = [UInt16](repeating: 0, count: f32.count)
        qc_f32_to_f16(Self.values(maxFinite: 65504), &f16, f32.count)
        var bf16 = [UInt16](repeating: 0, count: f32.count)
        qc_f32_to_bf16(Self.values(maxFinite: 3.3895314e38), &bf16, f32.count)
        #expect(f16[0] == 0x7bff && bf16[0] == 0x7f7f)  // largest finite values, which must not be flagged

        let fixture = SafetensorsFixture(tensors: [
            .init(name: "f32", dtype: "F32", shape: [Self.rows, Self.columns], data: bytes(of: f32)),
            .init(name: "f16", dtype: "F16", shape: [Self.rows, Self.columns], data: bytes(of: f16)),
            .init(name: "bf16", dtype: "BF16", shape: [Self.rows, Self.columns], data: bytes(of: bf16)),
        ])
        let url = try dir.file("nan.safetensors", fixture.bytes())
        for name in ["f32", "f16", "bf16"] {
            let m = try MatrixFile.open(url, tensor: name)
            var found: [Int] = []
            var blocks = 0
            try m.forEachBlock(rowsPerBlock: rowsPerBlock) { block in
                blocks += 1
                let rows = block.nonFiniteRows()
                #expect(rows.allSatisfy { $0 >= block.firstRow && $0 < block.firstRow + block.rowCount })
                found += rows
            }
            #expect(found == Self.expectedRows, "\(name), \(rowsPerBlock) rows per block")
            #expect(blocks == (Self.rows + rowsPerBlock - 1) / rowsPerBlock)
        }
    }

    @Test func finiteBlockHasNoNonFiniteRows() {
        let values: [Float] = (0..<4096).map { Float($0) - 2048 }
        values.withUnsafeBytes { raw in
            let block = MatrixBlock(firstRow: 100, rowCount: 64, dimension: 64, elementType: .float32, bytes: raw)
            #expect(block.nonFiniteRows().isEmpty)
        }
    }
}
