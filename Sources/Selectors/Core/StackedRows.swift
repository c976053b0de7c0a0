import CKernels

/// Candidate vectors made of stored rows, read in place: row i is the concatenation over parts c of
/// factor(c, i) * (row i of part c). SPICE uses one part with factor 1 (a gradient column); the DPP
/// uses the unit gradient trajectory, one part per checkpoint with factor sqrt(w_c) / ||g(i, c)||.
public struct StackedRows: @unchecked Sendable {
    /// The stored columns side by side (same row count).
    public let parts: [any VectorSource]
    /// Where each part starts in a stacked vector.
    public let offsets: [Int]
    /// Length of a stacked vector (the sum of the parts' dimensions).
    public let dimension: Int
    /// factor(c, i) per part, one per row; nil when every factor is 1.
    public let factors: [[Double]]?

    public init(parts: [any VectorSource], factors: [[Double]]? = nil) {
        precondition(!parts.isEmpty, "stacked rows need at least one part")
        precondition(parts.allSatisfy { $0.rowCount == parts[0].rowCount }, "every part needs the same rows")
        precondition(factors.map { $0.count == parts.count && $0.allSatisfy { $0.count == parts[0].rowCount } } ?? true, "one factor per part and row")
        self.parts = parts
        var offsets: [Int] = []
        var total = 0
        for part in parts {
            offsets.append(total)
            total += part.dimension
        }
        self.offsets = offsets
        dimension = total
        self.factors = factors
    }

    public var rowCount: Int { parts[0].rowCount }

    @inline(__always)
    func factor(_ c: Int, _ row: Int) -> Double { factors?[c][row] ?? 1 }

    /// Row `row` as Float64 (factors applied).
    func widened(_ row: Int, into out: UnsafeMutablePointer<Double>) throws {
        for (c, part) in parts.enumerated() {
            let d = part.dimension, f = factor(c, row), target = out + offsets[c]
            try [row].withUnsafeBufferPointer { list in
                try part.withRowPointers(list) { pointers, format in
                    switch format {
                    case .float32:
                        let x = pointers[0].assumingMemoryBound(to: Float.self)
                        for j in 0..<d { target[j] = f * Double(x[j]) }
                    case .float16:
                        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(1, d))
                        defer { scratch.deallocate() }
                        qc_f16_to_f32(pointers[0].assumingMemoryBound(to: UInt16.self), scratch, d)
                        for j in 0..<d { target[j] = f * Double(scratch[j]) }
                    }
                }
            }
        }
    }
}
