import CKernels

/// Consecutive rows of a ``MatrixFile`` as stored (little-endian elements, row-major).
///
/// The bytes are only valid during the callback that receives the block.
public struct MatrixBlock {
    /// Row number of the block's first row in the file.
    public let firstRow: Int
    public let rowCount: Int
    public let dimension: Int
    public let elementType: ElementType
    /// `rowCount * dimension * elementType.byteWidth` bytes.
    public let bytes: UnsafeRawBufferPointer

    public init(firstRow: Int, rowCount: Int, dimension: Int, elementType: ElementType, bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count == rowCount * dimension * elementType.byteWidth, "block of \(bytes.count) bytes does not hold \(rowCount) x \(dimension) \(elementType.rawValue)")
        self.firstRow = firstRow
        self.rowCount = rowCount
        self.dimension = dimension
        self.elementType = elementType
        self.bytes = bytes
    }

    /// Absolute row numbers (ascending) of the rows holding a NaN or an infinity.
    ///
    /// One SIMD pass over the block when every value is finite; after a hit the scan resumes at the next row.
    public func nonFiniteRows() -> [Int] {
        var rows: [Int] = []
        let total = rowCount * dimension
        guard total > 0, let base = bytes.baseAddress else { return rows }
        var start = 0  // element index where the scan resumes
        while start < total {
            let hit: Int
            switch elementType {
            case .float32:
                hit = qc_first_nonfinite_f32(base.assumingMemoryBound(to: Float.self) + start, total - start)
            case .float16:
                hit = qc_first_nonfinite_f16(base.assumingMemoryBound(to: UInt16.self) + start, total - start)
            case .bfloat16:
                hit = qc_first_nonfinite_bf16(base.assumingMemoryBound(to: UInt16.self) + start, total - start)
            }
            guard hit >= 0 else { break }
            let row = (start + hit) / dimension
            rows.append(firstRow + row)
            start = (row + 1) * dimension
        }
        return rows
    }

    /// Converts the block to `Float` (exactly; f16 and bf16 widen without rounding) into `destination`,
    /// which must hold `rowCount * dimension` values.
    public func copyFloats(into destination: UnsafeMutableBufferPointer<Float>) {
        let total = rowCount * dimension
        precondition(destination.count >= total, "destination holds \(destination.count) values, block has \(total)")
        guard total > 0, let base = bytes.baseAddress, let out = destination.baseAddress else { return }
        switch elementType {
        case .float32:
            UnsafeMutableRawPointer(out).copyMemory(from: base, byteCount: total * 4)
        case .float16:
            qc_f16_to_f32(base.assumingMemoryBound(to: UInt16.self), out, total)
        case .bfloat16:
            qc_bf16_to_f32(base.assumingMemoryBound(to: UInt16.self), out, total)
        }
    }
}
