/// The header of a safetensors file: an 8-byte little-endian header size, then a JSON object mapping
/// tensor names to `{"dtype", "shape", "data_offsets": [begin, end]}` (offsets relative to the first byte
/// after the header), plus an optional `"__metadata__"` object.
struct SafetensorsHeader {
    struct Tensor {
        var name: String
        var dtype: String
        var shape: [Int]
        /// Absolute file offsets of the tensor's bytes.
        var begin: Int
        var end: Int
    }

    /// The header may not exceed this (the same limit as the reference implementation).
    static let maxHeaderSize = 100_000_000

    /// Tensors in header order.
    var tensors: [Tensor]

    /// Byte width of each safetensors dtype; unknown dtypes have no entry.
    static let dtypeWidths: [String: Int] = [
        "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "F8_E8M0": 1,
        "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
        "I32": 4, "U32": 4, "F32": 4,
        "I64": 8, "U64": 8, "F64": 8, "C64": 8,
    ]

    /// Parses and checks the header: its size, JSON validity, every tensor's fields, that each tensor's
    /// byte range matches its shape and lies inside the file.
    static func read(_ file: ReadOnlyFile) throws(IngestError) -> SafetensorsHeader {
        let path = file.path
        let sizeBytes = try file.readBytes(count: 8, at: 0)
        guard sizeBytes.count == 8 else {
            throw IngestError(file: path, location: "header", problem: "the file is \(file.size) bytes, too short for a safetensors header",
                              remedy: "The file was truncated; re-create or re-copy it.")
        }
        var headerSize: UInt64 = 0
        for i in 0..<8 { headerSize |= UInt64(sizeBytes[i]) << (8 * UInt64(i)) }
        guard headerSize <= UInt64(maxHeaderSize) else {
            throw IngestError(file: path, location: "header",
                              problem: "the header size field says \(headerSize) bytes, more than the \(maxHeaderSize)-byte limit",
                              remedy: "The file is corrupt or not a safetensors file; re-save it with safetensors.")
        }
        guard Int(headerSize) <= file.size - 8 else {
            throw IngestError(file: path, location: "header",
                              problem: "the header size field says \(headerSize) bytes, but only \(file.size - 8) bytes follow it",
                              remedy: "The file was truncated or is corrupt; re-create or re-copy it.")
        }
        let dataStart = 8 + Int(headerSize)
        let dataSize = file.size - dataStart
        let headerBytes = try file.readBytes(count: Int(headerSize), at: 8)
        guard headerBytes.count == Int(headerSize) else {
            throw IngestError(file: path, location: "header", problem: "the file ends inside its header",
                              remedy: "The file was truncated; re-create or re-copy it.")
        }
        let parsed = headerBytes.withUnsafeBytes { raw in
            Result { () throws(JSONSyntaxError) -> JSONValue in try JSONValue.parse(raw, endName: "the end of the header") }
        }
        let root: JSONValue
        do {
            root = try parsed.get()
        } catch {
            throw IngestError(file: path, location: "byte \(8 + error.offset)",
                              problem: "the safetensors header is not valid JSON: \(error.message)",
                              remedy: "The file is corrupt; re-save it with safetensors.")
        }
        guard case .object(let members) = root else {
            throw IngestError(file: path, location: "header", problem: "the header is \(root.brief), not a JSON object",
                              remedy: "The file is corrupt; re-save it with safetensors.")
        }

        var tensors: [Tensor] = []
        for (name, value) in members {
            if name == "__metadata__" {
                guard case .object = value else {
                    throw IngestError(file: path, location: "header", problem: "\"__metadata__\" is \(value.brief), not an object",
                                      remedy: "The file is corrupt; re-save it with safetensors.")
                }
                continue
            }
            let location = "tensor '\(name)'"
            func bad(_ problem: String) -> IngestError {
                IngestError(file: path, location: location, problem: problem, remedy: "The file is corrupt; re-save it with safetensors.")
            }
            guard case .object(let fields) = value else { throw bad("the entry is \(value.brief), not an object") }
            func field(_ key: String) -> JSONValue? { fields.first { $0.key == key }?.value }
            guard case .string(let dtype)? = field("dtype") else {
                throw bad("\"dtype\" is \(field("dtype")?.brief ?? "missing"), not a string such as \"F16\"")
            }
            let shapeField = field("shape")
            guard case .array(let dims)? = shapeField, dims.allSatisfy({ $0.nonNegativeInt != nil }) else {
                throw bad("\"shape\" is \(shapeField?.brief ?? "missing"), not a list of sizes")
            }
            let shape = dims.compactMap(\.nonNegativeInt)
            guard case .array(let offsets)? = field("data_offsets"), offsets.count == 2,
                  let begin = offsets[0].nonNegativeInt, let end = offsets[1].nonNegativeInt, begin <= end else {
                throw bad("\"data_offsets\" is \(field("data_offsets")?.brief ?? "missing"), not [begin, end] with begin <= end")
            }
            guard end <= dataSize else {
                throw bad("data_offsets [\(begin), \(end)] run past the end of the file: \(dataSize) data bytes follow the header")
            }
            if let width = dtypeWidths[dtype] {
                var count = width
                for d in shape {
                    let (product, overflow) = count.multipliedReportingOverflow(by: d)
                    guard !overflow else { throw bad("shape \(dims.map(\.brief)) is too large") }
                    count = product
                }
                guard count == end - begin else {
                    throw bad("shape [\(shape.map(String.init).joined(separator: ", "))] of \(dtype) needs \(count) bytes, but data_offsets [\(begin), \(end)] span \(end - begin)")
                }
            }
            tensors.append(Tensor(name: name, dtype: dtype, shape: shape, begin: dataStart + begin, end: dataStart + end))
        }
        return SafetensorsHeader(tensors: tensors)
    }

    /// "'a' (F16 [10, 4]), 'b' (I64 [10])" for messages.
    var listing: String {
        tensors.map { "'\($0.name)' (\($0.dtype) [\($0.shape.map(String.init).joined(separator: ", "))])" }.joined(separator: ", ")
    }

    /// A plain-language name for a safetensors dtype.
    static func describe(dtype: String) -> String {
        switch dtype {
        case "F64": "float64"
        case "I64": "int64 (integers)"
        case "I32": "int32 (integers)"
        case "I16": "int16 (integers)"
        case "I8": "int8 (integers)"
        case "U8", "U16", "U32", "U64": "unsigned integers"
        case "BOOL": "booleans"
        case "F8_E5M2", "F8_E4M3", "F8_E8M0": "8-bit floats"
        case "C64": "complex64"
        default: "an unknown dtype"
        }
    }
}
