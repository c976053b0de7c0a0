import Foundation

/// A 2-D float matrix in a file: a NumPy `.npy`, or one tensor of a `.safetensors` file. A 1-D array of
/// n elements reads as n x 1.
///
/// Opening reads and checks only the header and the file size; rows are read on demand with `pread`,
/// so memory stays bounded by the caller's buffers whatever the file size.
public final class MatrixFile: @unchecked Sendable {
    /// The container format, with what identifies the matrix inside it.
    public enum Format: Sendable, Equatable {
        case npy(major: Int, minor: Int)
        case safetensors(tensor: String)
    }

    public let url: URL
    public let format: Format
    public let rowCount: Int
    public let dimension: Int
    public let elementType: ElementType
    /// Byte offset of row 0 in the file.
    public let dataOffset: Int
    /// Bytes per row: `dimension * elementType.byteWidth`.
    public var rowByteCount: Int { dimension * elementType.byteWidth }

    private let file: ReadOnlyFile

    private init(url: URL, file: ReadOnlyFile, format: Format, rowCount: Int, dimension: Int, elementType: ElementType, dataOffset: Int) {
        self.url = url
        self.file = file
        self.format = format
        self.rowCount = rowCount
        self.dimension = dimension
        self.elementType = elementType
        self.dataOffset = dataOffset
    }

    /// Opens a `.npy` file or a tensor of a `.safetensors` file; the format is detected from the first
    /// bytes, not the file name. `tensor` names the safetensors tensor to read; it may be omitted when the
    /// file holds exactly one tensor, and must be omitted for `.npy` files.
    public static func open(_ url: URL, tensor: String? = nil) throws -> MatrixFile {
        let path = url.path
        let file = try ReadOnlyFile(path: path)
        let start = try file.readBytes(count: 9, at: 0)
        if start.count >= 6, Array(start[0..<6]) == NpyHeader.magic {
            if let tensor {
                throw IngestError(file: path, problem: "a tensor name ('\(tensor)') was given, but a .npy file holds a single array",
                                  remedy: "Omit the tensor name for .npy files.")
            }
            return try openNpy(url, file)
        }
        if start.count == 9, start[8] == UInt8(ascii: "{") {
            return try openSafetensors(url, file, tensor: tensor)
        }
        throw unrecognised(path, start: start, size: file.size)
    }

    private static func unrecognised(_ path: String, start: [UInt8], size: Int) -> IngestError {
        let remedy = "Give a NumPy .npy file (numpy.save) or a .safetensors file."
        if size == 0 { return IngestError(file: path, problem: "the file is empty", remedy: remedy) }
        let shown = start.prefix(8).map(hex).joined(separator: " ")
        if start.starts(with: [0x50, 0x4b, 0x03, 0x04]) {
            return IngestError(file: path, location: "header", problem: "this is a zip archive (an .npz file?), not a single array",
                               remedy: "Save the array itself: np.save(path, np.load(npz_path)['name']).")
        }
        if start.starts(with: [0x93, 0x4e, 0x55, 0x4d]) || start.starts(with: [0x80]) {
            return IngestError(file: path, location: "header", problem: "unrecognised file format (starts with bytes \(shown)); a pickle or damaged .npy file?",
                               remedy: remedy)
        }
        return IngestError(file: path, location: "header",
                           problem: "not a .npy or .safetensors file (starts with bytes \(shown))", remedy: remedy)
    }

    private static func openNpy(_ url: URL, _ file: ReadOnlyFile) throws -> MatrixFile {
        let header = try NpyHeader.read(file)
        let rows = header.shape[0]
        let dimension = header.shape.count == 2 ? header.shape[1] : 1
        try checkShape(file, rows: rows, dimension: dimension, elementType: header.elementType,
                       dataOffset: header.dataOffset, dataEnd: nil, location: nil, remedy:
                        "The file was truncated or its header does not match its data; re-save the array with numpy.save.")
        return MatrixFile(url: url, file: file, format: .npy(major: header.major, minor: header.minor), rowCount: rows,
                          dimension: dimension, elementType: header.elementType, dataOffset: header.dataOffset)
    }

    private static func openSafetensors(_ url: URL, _ file: ReadOnlyFile, tensor name: String?) throws -> MatrixFile {
        let path = file.path
        let header = try SafetensorsHeader.read(file)
        let chosen: SafetensorsHeader.Tensor
        if let name {
            guard let match = header.tensors.first(where: { $0.name == name }) else {
                throw IngestError(file: path, location: "header",
                                  problem: header.tensors.isEmpty ? "no tensor named '\(name)'; the file holds no tensors"
                                                                  : "no tensor named '\(name)'; the file holds \(header.listing)",
                                  remedy: "Name one of the file's tensors.")
            }
            chosen = match
        } else {
            guard header.tensors.count == 1 else {
                throw IngestError(file: path, location: "header",
                                  problem: header.tensors.isEmpty ? "the file holds no tensors"
                                                                  : "the file holds \(header.tensors.count) tensors: \(header.listing)",
                                  remedy: header.tensors.isEmpty ? "Give a file that holds the matrix." : "Name the tensor to read.")
            }
            chosen = header.tensors[0]
        }
        let location = "tensor '\(chosen.name)'"
        let elementType: ElementType
        switch chosen.dtype {
        case "F32": elementType = .float32
        case "F16": elementType = .float16
        case "BF16": elementType = .bfloat16
        default:
            throw IngestError(file: path, location: location,
                              problem: "dtype \(chosen.dtype) is \(SafetensorsHeader.describe(dtype: chosen.dtype)); only F32, F16 and BF16 can be read",
                              remedy: "Convert the tensor before saving, for example save_file({'\(chosen.name)': t.to(torch.float16).contiguous()}, path).")
        }
        guard chosen.shape.count == 1 || chosen.shape.count == 2 else {
            let shape = "[" + chosen.shape.map(String.init).joined(separator: ", ") + "]"
            throw IngestError(file: path, location: location,
                              problem: chosen.shape.isEmpty ? "the tensor is a scalar; only 1-d and 2-d tensors can be read"
                                                            : "the tensor has \(chosen.shape.count) dimensions \(shape); only 1-d and 2-d tensors can be read",
                              remedy: "Save one row per example: t.reshape(t.shape[0], -1).")
        }
        let rows = chosen.shape[0]
        let dimension = chosen.shape.count == 2 ? chosen.shape[1] : 1
        try checkShape(file, rows: rows, dimension: dimension, elementType: elementType, dataOffset: chosen.begin,
                       dataEnd: chosen.end, location: location, remedy: "The file is corrupt; re-save it with safetensors.")
        return MatrixFile(url: url, file: file, format: .safetensors(tensor: chosen.name), rowCount: rows,
                          dimension: dimension, elementType: elementType, dataOffset: chosen.begin)
    }

    /// The widest vector accepted: one row must fit a chunk buffer comfortably (16M float32 = 64 MiB).
    public static let maximumDimension = 1 << 24

    /// Checks that the rows fit the file exactly: `dataEnd` for a tensor inside a safetensors file (its
    /// range was checked against the shape already), the end of the file for a .npy.
    private static func checkShape(_ file: ReadOnlyFile, rows: Int, dimension: Int, elementType: ElementType,
                                   dataOffset: Int, dataEnd: Int?, location: String?, remedy: String) throws {
        let path = file.path
        guard dimension > 0 else {
            throw IngestError(file: path, location: location ?? "header", problem: "the matrix has \(rows) rows of dimension 0",
                              remedy: "Give a matrix with at least one column.")
        }
        guard dimension <= maximumDimension else {
            throw IngestError(
                file: path, location: location ?? "header",
                problem: "dimension \(dimension) is larger than quadcat's limit of \(maximumDimension) columns",
                remedy: "Project the vectors to a smaller dimension first (LESS uses 8192).")
        }
        let (rowBytes, o1) = dimension.multipliedReportingOverflow(by: elementType.byteWidth)
        let (dataBytes, o2) = rows.multipliedReportingOverflow(by: rowBytes)
        guard !o1, !o2 else {
            throw IngestError(file: path, location: location ?? "header", problem: "shape (\(rows), \(dimension)) is too large",
                              remedy: remedy)
        }
        let end = dataEnd ?? file.size
        let available = end - dataOffset
        let shape = "shape (\(rows), \(dimension)) \(elementType.rawValue) needs \(dataBytes) data bytes"
        if available < dataBytes {
            let firstMissing = available / rowBytes
            throw IngestError(
                file: path, location: location ?? "row \(firstMissing)",
                problem: "the file is shorter than its header says: \(shape) after the \(dataOffset)-byte header, but holds \(available)"
                    + " (rows \(firstMissing) and later are missing or incomplete)",
                remedy: remedy)
        }
        if available > dataBytes {
            throw IngestError(
                file: path, location: location ?? "byte \(dataOffset + dataBytes)",
                problem: "the file is longer than its header says: \(shape), but \(available - dataBytes) more bytes follow the last row",
                remedy: remedy)
        }
    }

    /// Reads rows `rows` verbatim (little-endian element bytes, row-major) into `buffer`, which must hold
    /// at least `rows.count * rowByteCount` bytes.
    ///
    /// Short reads are retried; a file that has become shorter since it was opened is an error naming
    /// the first row that could not be read.
    public func readRows(_ rows: Range<Int>, into buffer: UnsafeMutableRawBufferPointer) throws {
        precondition(rows.lowerBound >= 0 && rows.upperBound <= rowCount, "rows \(rows) outside 0..<\(rowCount)")
        let count = rows.count * rowByteCount
        precondition(buffer.count >= count, "buffer of \(buffer.count) bytes cannot hold \(rows.count) rows of \(rowByteCount) bytes")
        guard count > 0 else { return }
        let offset = dataOffset + rows.lowerBound * rowByteCount
        let got = try file.read(into: buffer.baseAddress!, count: count, at: offset)
        if got < count {
            let firstMissing = rows.lowerBound + got / rowByteCount
            throw IngestError(
                file: file.path, location: "row \(firstMissing)",
                problem: "the file ends at byte \(offset + got) while reading rows \(rows.lowerBound)..<\(rows.upperBound) (\(count) bytes expected from byte \(offset)); it has shrunk since it was opened",
                remedy: "Do not modify the file while it is being read; re-copy it and try again.")
        }
    }

    /// Streams the matrix in order, in blocks of at most `rowsPerBlock` rows read into one reused buffer.
    /// The block is only valid during the call of `body`.
    public func forEachBlock(rowsPerBlock: Int, _ body: (MatrixBlock) throws -> Void) throws {
        precondition(rowsPerBlock > 0, "rowsPerBlock must be positive")
        guard rowCount > 0 else { return }
        let blockRows = min(rowsPerBlock, rowCount)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: blockRows * rowByteCount, alignment: 64)
        defer { buffer.deallocate() }
        file.adviseSequential()
        var first = 0
        while first < rowCount {
            let count = min(blockRows, rowCount - first)
            try readRows(first..<first + count, into: buffer)
            let bytes = UnsafeRawBufferPointer(rebasing: buffer[0..<count * rowByteCount])
            try body(MatrixBlock(firstRow: first, rowCount: count, dimension: dimension, elementType: elementType, bytes: bytes))
            first += count
        }
    }
}
