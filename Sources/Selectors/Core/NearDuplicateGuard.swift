import CKernels
import Foundation

/// The near-duplicate guard (`--dedup COLUMN:COSINE`): refuses a row whose vector has cosine at least
/// `threshold` with a row already admitted.
///
/// Admitted rows are kept as unit Float32 vectors in one contiguous matrix, so checking a block of
/// candidates is one product of the block with every admitted row (BLAS sgemm on both cores), plus the
/// block's own Gram matrix for the candidates admitted before it in the same block; nothing loops
/// over pairs. A Float32 cosine within ``band`` of the threshold is recomputed in Double from the
/// stored rows, so the decision is the exact one for every pair that could be close.
///
/// Rows without a usable, finite, non-zero vector in the guard's column cannot be compared: they are
/// admitted unchecked and counted (``unchecked``).
public final class NearDuplicateGuard: SelectionGuard {
    /// The column the cosines are taken in.
    public let source: any VectorSource
    /// Cosine at or above which a row is refused, in (0, 1].
    public let threshold: Double
    public private(set) var refused = 0
    /// Rows admitted without a check (no usable, finite, non-zero vector).
    public private(set) var unchecked = 0
    /// Pairs whose Float32 cosine fell within ``band`` of the threshold and were recomputed in Double.
    public private(set) var exactChecks = 0
    /// The first few refusals: the refused row, the admitted row it is too close to, their cosine.
    public private(set) var examples: [(row: Int, member: Int, cosine: Double)] = []
    /// Wall time spent deciding, in seconds.
    public private(set) var seconds = 0.0

    /// Float32 cosines closer than this to the threshold are decided in Double.
    public static let band: Float = 1e-3

    private let dimension: Int
    /// Unit vectors of the admitted rows that have one, `memberCount x dimension`.
    private var members: UnsafeMutablePointer<Float>
    private var capacity: Int
    private var memberRows: [Int] = []
    private var decided: RowMask
    private var admittedRows: RowMask

    /// - Parameter expectedMembers: a capacity hint (the budget), so the member matrix grows at most once.
    public init(source: any VectorSource, threshold: Double, expectedMembers: Int = 1024) throws {
        guard threshold > 0, threshold <= 1, threshold.isFinite else {
            throw SelectorError("the near-duplicate threshold must be a cosine in (0, 1], got \(threshold)")
        }
        guard source.dimension > 0 else { throw SelectorError("the near-duplicate guard's column has dimension 0") }
        self.source = source
        self.threshold = threshold
        dimension = source.dimension
        capacity = max(16, min(expectedMembers, 1 << 20))
        members = .allocate(capacity: capacity * dimension)
        decided = RowMask(count: source.rowCount, allSet: false)
        admittedRows = RowMask(count: source.rowCount, allSet: false)
    }

    deinit { members.deallocate() }

    /// Rows admitted so far that carry a vector (the rows every check compares against).
    public var memberCount: Int { memberRows.count }

    public func admit(_ row: Int) throws -> Bool {
        try admit(inOrder: [row], limit: 1).count == 1
    }

    // MARK: Greedy selectors: one row at a time, with rows anticipated

    /// Rows compared with the first `checked` members ahead of their turn, and a member each reaches
    /// the threshold with, if any (members never leave, so that stays true).
    private var ahead: [Int: (checked: Int, clash: (member: Int, cosine: Double)?)] = [:]
    /// How many anticipated rows a miss takes along (0: none), adapted to how often that pays.
    private var lookahead = 64
    private var lastLookahead = 0
    private var hitsSinceLookahead = 0
    private var missesWithoutLookahead = 0
    /// Questions answered from rows anticipated earlier, and rows anticipated.
    public private(set) var anticipationHits = 0
    public private(set) var anticipatedRows = 0

    /// ``admit(_:)`` for a selector that commits one row at a time and can say which rows it expects
    /// to ask about next (a lazy greedy's best remaining candidates, in order).
    ///
    /// One row against every member is a matrix-vector product, bound by memory bandwidth. So when the
    /// guard has not seen `row` ahead, it compares it together with the first rows of `next` it has
    /// not seen, in one matrix product, and keeps their results: a later question about one of them
    /// then needs only the members admitted since. How many rows it takes along doubles while they
    /// keep being asked about and halves (down to none, retried now and then) when they are not.
    /// The decisions are exactly those of ``admit(_:)``.
    public func admit(_ row: Int, anticipating next: [Int]) throws -> Bool {
        guard row >= 0 && row < source.rowCount else { throw SelectorError("row \(row) is outside the guard's column (0..<\(source.rowCount))") }
        if decided.contains(row) { return admittedRows.contains(row) }
        let start = ContinuousClock.now
        defer { seconds += Self.seconds(since: start) }
        let d = dimension
        if let entry = ahead.removeValue(forKey: row) {
            anticipationHits += 1
            hitsSinceLookahead += 1
            decided.insert(row)
            if let clash = entry.clash {
                refuse(row, member: clash.member, cosine: clash.cosine)
                return false
            }
            let unit = UnsafeMutablePointer<Float>.allocate(capacity: d)
            defer { unit.deallocate() }
            _ = try unitVectors([row], into: unit)
            if let (member, cosine) = try closestMemberAtThreshold([row], unit: unit, hasVector: [true], from: entry.checked)[0] {
                refuse(row, member: member, cosine: cosine)
                return false
            }
            append(unit, row: row)
            admittedRows.insert(row)
            return true
        }
        adaptLookahead()
        var batch = [row]
        for r in next where batch.count <= lookahead && r != row && r >= 0 && r < source.rowCount && !decided.contains(r) && ahead[r] == nil {
            batch.append(r)
        }
        lastLookahead = batch.count - 1
        guard batch.count > 1 else {
            var admitted: [Int] = []
            try decide([row], limit: 1, into: &admitted)
            return !admitted.isEmpty
        }
        let unit = UnsafeMutablePointer<Float>.allocate(capacity: batch.count * d)
        defer { unit.deallocate() }
        let hasVector = try unitVectors(batch, into: unit)
        let clashes = try closestMemberAtThreshold(batch, unit: unit, hasVector: hasVector, from: 0)
        for i in 1..<batch.count where hasVector[i] { ahead[batch[i]] = (memberRows.count, clashes[i]) }
        anticipatedRows += batch.count - 1
        decided.insert(row)
        if !hasVector[0] {
            unchecked += 1
        } else if let (member, cosine) = clashes[0] {
            refuse(row, member: member, cosine: cosine)
            return false
        } else {
            append(unit, row: row)
        }
        admittedRows.insert(row)
        return true
    }

    /// After a miss: more rows next time if the last ones were asked about often enough (one in
    /// eight pays for the matrix product), fewer if not; none for a while when that does not pay.
    private func adaptLookahead() {
        if lastLookahead > 0 {
            lookahead = hitsSinceLookahead * 8 >= lastLookahead ? min(512, max(16, 2 * lookahead)) : lookahead / 2
            if lookahead < 8 { lookahead = 0 }
        } else if lookahead == 0 {
            missesWithoutLookahead += 1
            if missesWithoutLookahead >= 256 {
                missesWithoutLookahead = 0
                lookahead = 16
            }
        }
        hitsSinceLookahead = 0
    }

    private static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    }

    // MARK: Ranked selectors: blocks of rows in order

    public func admit(inOrder rows: [Int], limit: Int) throws -> [Int] {
        let start = ContinuousClock.now
        defer { seconds += Self.seconds(since: start) }
        var admitted: [Int] = []
        var next = 0
        while next < rows.count && admitted.count < limit {
            // Blocks a little longer than what is still needed: refusals are rare, and every row of a
            // block is compared with the admitted rows even if the limit is reached before it.
            let needed = limit - admitted.count
            let size = min(rows.count - next, max(16, min(512, needed + needed / 8 + 8)))
            let block = Array(rows[next..<next + size])
            next += size
            try decide(block, limit: needed, into: &admitted)
        }
        return admitted
    }

    // MARK: One block

    private func decide(_ block: [Int], limit: Int, into admitted: inout [Int]) throws {
        for row in block where row < 0 || row >= source.rowCount {
            throw SelectorError("row \(row) is outside the guard's column (0..<\(source.rowCount))")
        }
        let b = block.count, d = dimension
        let unit = UnsafeMutablePointer<Float>.allocate(capacity: b * d)
        defer { unit.deallocate() }
        let hasVector = try unitVectors(block, into: unit)
        let closeMember = try closestMemberAtThreshold(block, unit: unit, hasVector: hasVector, from: 0)

        // The block's Gram matrix, for candidates admitted earlier in the same block.
        let gram = UnsafeMutablePointer<Float>.allocate(capacity: b * b)
        defer { gram.deallocate() }
        if b > 1 { BLAS.gemm(transposeB: true, m: b, n: b, k: d, a: unit, lda: d, b: unit, ldb: d, c: gram, ldc: b) }

        var admittedInBlock: [Int] = []
        let start = admitted.count
        for i in 0..<b where admitted.count - start < limit {
            let row = block[i]
            if decided.contains(row) {
                // Asked again: the earlier decision stands.
                if admittedRows.contains(row) { admitted.append(row) }
                continue
            }
            decided.insert(row)
            if !hasVector[i] {
                unchecked += 1
                admittedRows.insert(row)
                admitted.append(row)
                continue
            }
            if let (member, cosine) = closeMember[i] {
                refuse(row, member: member, cosine: cosine)
                continue
            }
            var clash: (Int, Double)? = nil
            for j in admittedInBlock {
                if let cosine = try reaches(gram[i * b + j], block[i], block[j]) {
                    clash = (block[j], cosine)
                    break
                }
            }
            if let (member, cosine) = clash {
                refuse(row, member: member, cosine: cosine)
                continue
            }
            admittedInBlock.append(i)
            append(unit + i * d, row: row)
            admittedRows.insert(row)
            admitted.append(row)
        }
    }

    private func refuse(_ row: Int, member: Int, cosine: Double) {
        refused += 1
        if examples.count < 5 { examples.append((row, member, cosine)) }
    }

    /// For each candidate with a vector, a member (admitted before the block, from member `first` on)
    /// whose cosine with it reaches the threshold, if any: the block times the member matrix, in column
    /// chunks.
    private func closestMemberAtThreshold(
        _ block: [Int], unit: UnsafePointer<Float>, hasVector: [Bool], from start: Int
    ) throws -> [(member: Int, cosine: Double)?] {
        let b = block.count, d = dimension, m = memberRows.count
        var found = [(member: Int, cosine: Double)?](repeating: nil, count: b)
        guard m > start else { return found }
        let chunk = max(256, (16 << 20) / b)
        let products = UnsafeMutablePointer<Float>.allocate(capacity: b * min(chunk, m - start))
        defer { products.deallocate() }
        let low = Float(threshold) - Self.band
        var first = start
        while first < m {
            let count = min(chunk, m - first)
            if b == 1 {
                BLAS.gemv(rows: count, columns: d, a: members + first * d, lda: d, x: unit, y: products)
            } else {
                BLAS.gemm(transposeB: true, m: b, n: count, k: d, a: unit, lda: d, b: members + first * d, ldb: d, c: products, ldc: count)
            }
            for i in 0..<b where hasVector[i] && found[i] == nil {
                let row = products + i * count
                for j in 0..<count where row[j] >= low {
                    if let cosine = try reaches(row[j], block[i], memberRows[first + j]) {
                        found[i] = (memberRows[first + j], cosine)
                        break
                    }
                }
            }
            first += count
        }
        return found
    }

    /// The cosine of rows a and b when it reaches the threshold, else nil; `approximate` is their
    /// Float32 cosine, decided in Double when it lies within the band.
    private func reaches(_ approximate: Float, _ a: Int, _ b: Int) throws -> Double? {
        let t = Float(threshold)
        if approximate < t - Self.band { return nil }
        if approximate >= t + Self.band { return Double(approximate) }
        exactChecks += 1
        let cosine = try exactCosine(a, b)
        return cosine >= threshold ? cosine : nil
    }

    /// cos(row a, row b) from the stored rows, in Double.
    func exactCosine(_ a: Int, _ b: Int) throws -> Double {
        let d = dimension
        let wide = UnsafeMutablePointer<Double>.allocate(capacity: 2 * d)
        defer { wide.deallocate() }
        try widen([a, b], into: wide)
        var dot = 0.0, aa = 0.0, bb = 0.0
        for j in 0..<d {
            dot += wide[j] * wide[d + j]
            aa += wide[j] * wide[j]
            bb += wide[d + j] * wide[d + j]
        }
        return max(-1, min(1, dot / (aa * bb).squareRoot()))
    }

    // MARK: Vectors

    /// Writes the unit vector of each row into `out` (rows.count x dimension) and says which rows have
    /// one (usable, finite, non-zero); the others get zeros.
    private func unitVectors(_ rows: [Int], into out: UnsafeMutablePointer<Float>) throws -> [Bool] {
        let d = dimension
        let wide = UnsafeMutablePointer<Double>.allocate(capacity: rows.count * d)
        defer { wide.deallocate() }
        try widen(rows, into: wide)
        var hasVector = [Bool](repeating: false, count: rows.count)
        for (i, row) in rows.enumerated() {
            let x = wide + i * d, u = out + i * d
            var squares = 0.0
            for j in 0..<d { squares += x[j] * x[j] }
            let norm = squares.squareRoot()
            guard source.isUsable(row), norm > 0, norm.isFinite else {
                u.update(repeating: 0, count: d)
                continue
            }
            for j in 0..<d { u[j] = Float(x[j] / norm) }
            hasVector[i] = true
        }
        return hasVector
    }

    /// The stored rows as Double, row after row.
    private func widen(_ rows: [Int], into out: UnsafeMutablePointer<Double>) throws {
        let d = dimension
        try rows.withUnsafeBufferPointer { list in
            try source.withRowPointers(list) { pointers, format in
                let scratch = UnsafeMutablePointer<Float>.allocate(capacity: d)
                defer { scratch.deallocate() }
                for i in 0..<rows.count {
                    let values: UnsafePointer<Float>
                    switch format {
                    case .float32: values = pointers[i].assumingMemoryBound(to: Float.self)
                    case .float16:
                        qc_f16_to_f32(pointers[i].assumingMemoryBound(to: UInt16.self), scratch, d)
                        values = UnsafePointer(scratch)
                    }
                    for j in 0..<d { out[i * d + j] = Double(values[j]) }
                }
            }
        }
    }

    private func append(_ unit: UnsafePointer<Float>, row: Int) {
        let d = dimension
        if memberRows.count == capacity {
            let grown = UnsafeMutablePointer<Float>.allocate(capacity: 2 * capacity * d)
            grown.update(from: members, count: capacity * d)
            members.deallocate()
            members = grown
            capacity *= 2
        }
        (members + memberRows.count * d).update(from: unit, count: d)
        memberRows.append(row)
    }
}
