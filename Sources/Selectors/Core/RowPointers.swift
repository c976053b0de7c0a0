import CKernels

/// The element type of rows handed out by ``VectorSource/withRowPointers(_:_:)``: the types the
/// product kernels read in place.
public enum RowFormat: Sendable {
    case float32
    case float16

    /// The CKernels constant (`QC_ROW_F32`, `QC_ROW_F16`).
    public var kernelFormat: Int32 {
        switch self {
        case .float32: Int32(QC_ROW_F32)
        case .float16: Int32(QC_ROW_F16)
        }
    }
}

extension VectorSource {
    /// Default random access: the rows gathered into a Float32 copy (in memory sources override it to
    /// hand out their own storage).
    public func withRowPointers<R>(
        _ rows: UnsafeBufferPointer<Int>, _ body: (UnsafeBufferPointer<UnsafeRawPointer>, RowFormat) throws -> R
    ) throws -> R {
        let gathered = try gather(rows: Array(rows))
        return try gathered.values.withUnsafeBufferPointer { values in
            let d = dimension
            let pointers = (0..<rows.count).map { UnsafeRawPointer(values.baseAddress! + $0 * d) }
            return try pointers.withUnsafeBufferPointer { try body($0, .float32) }
        }
    }
}

extension Matrix {
    public func withRowPointers<R>(
        _ rows: UnsafeBufferPointer<Int>, _ body: (UnsafeBufferPointer<UnsafeRawPointer>, RowFormat) throws -> R
    ) throws -> R {
        try values.withUnsafeBufferPointer { values in
            let pointers = rows.map { r -> UnsafeRawPointer in
                precondition(r >= 0 && r < self.rows, "row \(r) out of range 0..<\(self.rows)")
                return UnsafeRawPointer(values.baseAddress! + r * columns)
            }
            return try pointers.withUnsafeBufferPointer { try body($0, .float32) }
        }
    }
}

extension MaskedMatrix {
    public func withRowPointers<R>(
        _ rows: UnsafeBufferPointer<Int>, _ body: (UnsafeBufferPointer<UnsafeRawPointer>, RowFormat) throws -> R
    ) throws -> R {
        try matrix.withRowPointers(rows, body)
    }
}
