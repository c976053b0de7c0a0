/// The parsed header of a NumPy `.npy` file (format versions 1.0, 2.0 and 3.0).
///
/// Layout: the magic `\x93NUMPY`, major and minor version bytes, the header length (little-endian u16 for
/// version 1, u32 for 2 and 3), then the header: a Python dict literal with the keys `descr`,
/// `fortran_order` and `shape`, padded with spaces and a newline. Version 3 only differs in allowing UTF-8
/// in the header. The data follows the header directly.
struct NpyHeader {
    static let magic: [UInt8] = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]  // "\x93NUMPY"
    /// NumPy itself refuses headers over 10 000 bytes unless asked; structured dtypes can exceed that, so
    /// allow more, but not without bound.
    static let maxHeaderLength = 1 << 20

    var major: Int
    var minor: Int
    var elementType: ElementType
    var shape: [Int]
    var dataOffset: Int

    static let remedyForDtype = "Save a float16 or float32 array in C order, for example "
        + "np.save(path, np.ascontiguousarray(a, dtype=np.float16))."

    /// Parses and validates the header of `file` (shape and dtype; not the file length).
    static func read(_ file: ReadOnlyFile) throws(IngestError) -> NpyHeader {
        let path = file.path
        let prefix = try file.readBytes(count: 12, at: 0)
        guard prefix.count >= 10, Array(prefix[0..<6]) == magic else {
            throw IngestError(file: path, location: "header", problem: "not a .npy file (bad magic bytes)",
                              remedy: "Write the file with numpy.save.")
        }
        let major = Int(prefix[6])
        let minor = Int(prefix[7])
        guard (1...3).contains(major), minor == 0 else {
            throw IngestError(
                file: path, location: "header",
                problem: "unsupported .npy format version \(major).\(minor) (supported: 1.0, 2.0, 3.0)",
                remedy: "Re-save the array with numpy.save from a NumPy release that writes version 1.0 to 3.0.")
        }
        let lengthFieldSize = major == 1 ? 2 : 4
        guard prefix.count >= 8 + lengthFieldSize else {
            throw truncatedHeader(path, fileSize: file.size)
        }
        var headerLength = 0
        for i in 0..<lengthFieldSize { headerLength |= Int(prefix[8 + i]) << (8 * i) }
        let headerStart = 8 + lengthFieldSize
        guard headerLength <= maxHeaderLength else {
            throw IngestError(file: path, location: "header",
                              problem: "header length field says \(headerLength) bytes (at most \(maxHeaderLength) accepted)",
                              remedy: "The file is corrupt or not a plain float array; re-save it with numpy.save.")
        }
        let headerBytes = try file.readBytes(count: headerLength, at: headerStart)
        guard headerBytes.count == headerLength else { throw truncatedHeader(path, fileSize: file.size) }
        if major < 3, let bad = headerBytes.firstIndex(where: { $0 >= 0x80 }) {
            throw IngestError(file: path, location: "byte \(headerStart + bad)",
                              problem: "non-ASCII byte in a version \(major).0 header (only version 3.0 allows UTF-8)",
                              remedy: "Re-save the array with numpy.save.")
        }

        let literal: PythonLiteral
        do {
            literal = try PythonLiteralParser.parse(headerBytes)
        } catch {
            throw IngestError(file: path, location: "byte \(headerStart + error.offset)",
                              problem: "malformed .npy header: \(error.message)",
                              remedy: "The header must be a Python dict literal as numpy.save writes it; re-save the array.")
        }
        guard case .dict(let entries) = literal else {
            throw IngestError(file: path, location: "header", problem: "the header is \(literal.repr), not a dict",
                              remedy: "Re-save the array with numpy.save.")
        }
        var descr: PythonLiteral?
        var fortranOrder: PythonLiteral?
        var shapeLiteral: PythonLiteral?
        for (key, value) in entries {
            switch key {
            case "descr": descr = value
            case "fortran_order": fortranOrder = value
            case "shape": shapeLiteral = value
            default:
                throw IngestError(file: path, location: "header", problem: "unexpected key '\(key)' in the header",
                                  remedy: "A .npy header holds exactly 'descr', 'fortran_order' and 'shape'; re-save the array with numpy.save.")
            }
        }
        guard let descr, let fortranOrder, let shapeLiteral else {
            let missing = [("descr", descr), ("fortran_order", fortranOrder), ("shape", shapeLiteral)]
                .filter { $0.1 == nil }.map { "'\($0.0)'" }.joined(separator: ", ")
            throw IngestError(file: path, location: "header", problem: "the header lacks \(missing)",
                              remedy: "Re-save the array with numpy.save.")
        }

        let elementType = try elementType(of: descr, path: path)
        guard case .bool(let fortran) = fortranOrder else {
            throw IngestError(file: path, location: "header", problem: "'fortran_order' is \(fortranOrder.repr), not True or False",
                              remedy: "Re-save the array with numpy.save.")
        }
        guard case .tuple(let dims) = shapeLiteral else {
            throw IngestError(file: path, location: "header", problem: "'shape' is \(shapeLiteral.repr), not a tuple",
                              remedy: "Re-save the array with numpy.save.")
        }
        var shape: [Int] = []
        for dim in dims {
            guard case .integer(let n) = dim, n >= 0 else {
                throw IngestError(file: path, location: "header", problem: "'shape' \(shapeLiteral.repr) holds \(dim.repr), not a size",
                                  remedy: "Re-save the array with numpy.save.")
            }
            shape.append(n)
        }
        guard shape.count == 1 || shape.count == 2 else {
            let what = shape.isEmpty ? "a 0-d (scalar) array" : "a \(shape.count)-d array of shape \(shapeLiteral.repr)"
            throw IngestError(file: path, location: "header", problem: "\(what); only 1-d and 2-d arrays can be read",
                              remedy: "Save one row per example: np.save(path, a.reshape(len(a), -1)).")
        }
        if fortran {
            throw IngestError(file: path, location: "header",
                              problem: "the array is stored in Fortran (column-major) order; only C (row-major) order can be read",
                              remedy: "Save it in C order: np.save(path, np.ascontiguousarray(a)).")
        }
        return NpyHeader(major: major, minor: minor, elementType: elementType, shape: shape,
                         dataOffset: headerStart + headerLength)
    }

    private static func truncatedHeader(_ path: String, fileSize: Int) -> IngestError {
        IngestError(file: path, location: "header", problem: "the file ends inside its .npy header (\(fileSize) bytes in all)",
                    remedy: "The file was truncated; re-create or re-copy it.")
    }

    private static func elementType(of descr: PythonLiteral, path: String) throws(IngestError) -> ElementType {
        switch descr {
        case .string("<f4"): return .float32
        case .string("<f2"): return .float16
        case .string(let code):
            throw IngestError(file: path, location: "header",
                              problem: "dtype '\(code)' is \(describe(dtype: code)); only float16 ('<f2') and float32 ('<f4') can be read",
                              remedy: remedyForDtype)
        case .list(let fields):
            let names = fields.compactMap { field -> String? in
                guard case .tuple(let parts) = field, case .string(let name)? = parts.first else { return nil }
                return "'\(name)'"
            }
            throw IngestError(file: path, location: "header",
                              problem: "structured dtype with fields \(names.joined(separator: ", ")); only plain float16 or float32 arrays can be read",
                              remedy: "Save one field as its own array, for example np.save(path, np.ascontiguousarray(a['grad'], dtype=np.float16)).")
        default:
            throw IngestError(file: path, location: "header", problem: "'descr' is \(descr.repr), not a dtype string",
                              remedy: remedyForDtype)
        }
    }

    /// A plain-language name for a NumPy dtype string such as `<f8` or `|O`.
    static func describe(dtype code: String) -> String {
        let bytes = Array(code.utf8)
        guard bytes.count >= 2 else { return "not a NumPy dtype" }
        let order: String
        var rest = bytes[...]
        switch bytes[0] {
        case UInt8(ascii: "<"): order = "little-endian"; rest = bytes.dropFirst()
        case UInt8(ascii: ">"): order = "big-endian"; rest = bytes.dropFirst()
        case UInt8(ascii: "="): order = "native-order"; rest = bytes.dropFirst()
        case UInt8(ascii: "|"): order = ""; rest = bytes.dropFirst()
        default: order = ""
        }
        guard let kind = rest.first else { return "not a NumPy dtype" }
        let size = Int(String(decoding: rest.dropFirst(), as: UTF8.self))
        let prefix = order.isEmpty ? "" : order + " "
        switch kind {
        case UInt8(ascii: "f"):
            if let size { return prefix + "float\(size * 8)" }
        case UInt8(ascii: "i"): if let size { return prefix + "int\(size * 8) (integers)" }
        case UInt8(ascii: "u"): if let size { return prefix + "uint\(size * 8) (unsigned integers)" }
        case UInt8(ascii: "b"): return "bool"
        case UInt8(ascii: "c"): if let size { return prefix + "complex\(size * 8)" }
        case UInt8(ascii: "O"): return "object (pickled Python objects)"
        case UInt8(ascii: "U"): return "a Unicode string type"
        case UInt8(ascii: "S"), UInt8(ascii: "a"): return "a byte string type"
        case UInt8(ascii: "V"): return "raw void bytes"
        case UInt8(ascii: "M"): return "datetime64"
        case UInt8(ascii: "m"): return "timedelta64"
        default: break
        }
        return "an unsupported dtype"
    }
}
