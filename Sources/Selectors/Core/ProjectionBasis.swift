import CKernels
import Foundation

/// The arithmetic of the greedy log-det selectors (SPICE, DPP): a growing set of Float64 directions
/// b_t over stacked rows read in place, and the two operations on it.
///
/// - ``refresh(_:values:applied:canStillWin:)`` brings each candidate's value up to date with the
///   directions it has not seen: value -= (x . b_t)^2 for each, in ascending t. SPICE's q = g^T M^{-1} g
///   and the DPP's squared distance to the chosen span both evolve this way, and both only decrease,
///   which is what makes lazy evaluation exact.
/// - ``commit(_:scale:)`` appends the direction scale * (x - sum_t (x . b_t) b_t) of a picked row.
///
/// Every product follows the canonical fused multiply-add chain of `qc_dot_block_f64` (per part; the
/// parts' products combine as fma(f_c, p_c, sum) in part order), and every value takes its squares in
/// ascending direction order, so a value has the same bits however its refreshes were batched, split
/// over threads or interrupted: a lazy and a plain greedy pick identical sequences, on any machine.
/// Work large enough to pay for it runs on two fixed halves (rows or directions) on all cores.
public final class ProjectionBasis {
    /// A refresh checks whether a candidate can still win at every 64th direction: often enough to
    /// skip most of a hopeless candidate's backlog, rarely enough that a candidate given up has made
    /// real progress before it is looked at again.
    public static let checkEvery = 64
    /// Kernel work (multiply-adds) below which splitting over threads costs more than it saves.
    static let parallelWork = 1 << 19

    public let rows: StackedRows
    /// Length of every direction (the stacked dimension).
    public var dimension: Int { rows.dimension }
    private let directions: UnsafeMutablePointer<Double>
    public private(set) var count = 0
    public let capacity: Int

    /// Refreshes run, products computed, refreshes given up part-way (diagnostics).
    public private(set) var evaluations = 0
    public private(set) var products = 0
    public private(set) var abandoned = 0

    /// Room for `capacity` directions of the stacked dimension (capacity x dimension Float64).
    public init(rows: StackedRows, capacity: Int) {
        self.rows = rows
        self.capacity = capacity
        directions = .allocate(capacity: max(1, capacity * rows.dimension))
    }

    deinit { directions.deallocate() }

    /// Brings `values[i]` (of candidate row `rowIds[i]`, up to date with the first `applied[i]`
    /// directions) up to date with every direction, in runs ending at multiples of ``checkEvery``; each
    /// run meets every candidate that still needs it in one blocked kernel call. With `canStillWin`, a
    /// candidate is given up at a run's end as soon as `canStillWin(i, value)` is false (its value
    /// only decreases, so it could not win later either); it keeps the value and `applied` it reached.
    ///
    /// - Returns: whether each candidate was brought fully up to date.
    public func refresh(
        _ rowIds: [Int], values: inout [Double], applied: inout [Int], canStillWin: ((Int, Double) -> Bool)?
    ) throws -> [Bool] {
        let n = count, m = rowIds.count
        var active = [Bool](repeating: true, count: m)
        let before = applied
        try withPointers(rowIds) { pointers, format in
            var start = (applied.min() ?? n) / Self.checkEvery * Self.checkEvery
            // With nothing to give up for, one run to the end.
            while start < n {
                let end = canStillWin == nil ? n : min(n, start + Self.checkEvery)
                var whole: [Int] = []
                for i in 0..<m where active[i] && applied[i] <= start { whole.append(i) }
                if !whole.isEmpty { try apply(whole, from: start, to: end, rowIds: rowIds, pointers: pointers, format: format, values: &values, applied: &applied) }
                // A candidate whose backlog begins inside the run (its first run only) goes alone.
                for i in 0..<m where active[i] && applied[i] > start && applied[i] < end {
                    try apply([i], from: applied[i], to: end, rowIds: rowIds, pointers: pointers, format: format, values: &values, applied: &applied)
                }
                if let canStillWin, end < n {
                    for i in 0..<m where active[i] && applied[i] == end && !canStillWin(i, values[i]) { active[i] = false }
                }
                start = end
            }
        }
        for i in 0..<m {
            products += applied[i] - before[i]
            evaluations += 1
            if !active[i] { abandoned += 1 }
        }
        return active
    }

    /// x_i . v for each row, for a vector v of the stacked dimension (SPICE's running sum).
    public func products(_ rowIds: [Int], with vector: UnsafePointer<Double>) throws -> [Double] {
        var out = [Double](repeating: 0, count: rowIds.count)
        try withPointers(rowIds) { pointers, format in
            var part = [Double](repeating: 0, count: rowIds.count)
            for c in rows.parts.indices {
                let selected: [UnsafeRawPointer?] = (0..<rowIds.count).map { pointers[c][$0] }
                qc_dot_block_f64(selected, format[c].kernelFormat, rowIds.count, vector + rows.offsets[c], dimension, 1, rows.parts[c].dimension, &part, 1)
                for i in rowIds.indices { out[i] = fma(rows.factor(c, rowIds[i]), part[i], out[i]) }
            }
        }
        products += rowIds.count
        return out
    }

    /// Appends the direction scale * u, u = x - sum_t (x . b_t) b_t for x the stacked row `row` (one pass
    /// over the directions, in two fixed halves whose contributions add in a fixed order); a nil scale
    /// normalises u to unit length (Gram-Schmidt). Nothing is appended when there is no room.
    public func commit(_ row: Int, scale: Double?) throws {
        guard count < capacity else { return }
        let d = dimension, n = count
        let x = UnsafeMutablePointer<Double>.allocate(capacity: max(1, d))
        let partA = UnsafeMutablePointer<Double>.allocate(capacity: max(1, d))
        let partB = UnsafeMutablePointer<Double>.allocate(capacity: max(1, d))
        let coefficients = UnsafeMutablePointer<Double>.allocate(capacity: max(1, n))
        defer {
            x.deallocate()
            partA.deallocate()
            partB.deallocate()
            coefficients.deallocate()
        }
        try rows.widened(row, into: x)
        partA.initialize(repeating: 0, count: d)
        partB.initialize(repeating: 0, count: d)
        let half = n / 2
        let shared = CommitBuffers(x: x, directions: UnsafePointer(directions), coefficients: coefficients, a: partA, b: partB)
        let run: @Sendable (Int) -> Void = { part in
            let first = part == 0 ? 0 : half, size = part == 0 ? half : n - half
            qc_project_out_f64(
                shared.x, Int32(QC_ROW_F64), shared.directions + first * d, size, d, shared.coefficients + first, part == 0 ? shared.a : shared.b)
        }
        if n * d >= Self.parallelWork {
            DispatchQueue.concurrentPerform(iterations: 2, execute: run)
        } else {
            run(0)
            run(1)
        }
        let u = directions + n * d
        for j in 0..<d { u[j] = (x[j] + partA[j]) + partB[j] }
        var factor = scale ?? 1
        if scale == nil {
            var squares = 0.0
            for j in 0..<d { squares = fma(u[j], u[j], squares) }
            factor = squares > 0 ? 1 / squares.squareRoot() : 0
        }
        for j in 0..<d { u[j] *= factor }
        count = n + 1
        products += n
    }

    // MARK: Internals

    /// Applies directions [from, end) to the given candidates and brings their `applied` to `end`.
    private func apply(
        _ group: [Int], from: Int, to end: Int, rowIds: [Int], pointers: [[UnsafeRawPointer]], format: [RowFormat],
        values: inout [Double], applied: inout [Int]
    ) throws {
        let count = end - from
        var combined = [Double](repeating: 0, count: group.count * count)
        var part = [Double](repeating: 0, count: group.count * count)
        for c in rows.parts.indices {
            let selected = group.map { pointers[c][$0] }
            kernel(selected, format: format[c], directions: directions + from * dimension + rows.offsets[c], count: count, length: rows.parts[c].dimension, into: &part)
            for (k, i) in group.enumerated() {
                let f = rows.factor(c, rowIds[i])
                for t in 0..<count { combined[k * count + t] = fma(f, part[k * count + t], combined[k * count + t]) }
            }
        }
        for (k, i) in group.enumerated() {
            var v = values[i]
            for t in 0..<count {
                let p = combined[k * count + t]
                v = max(0, v - p * p)
            }
            values[i] = v
            applied[i] = end
        }
    }

    /// out[i * count + t] = rows[i] . directions[t] (stride `dimension`), on two threads when large.
    private func kernel(
        _ selected: [UnsafeRawPointer], format: RowFormat, directions base: UnsafePointer<Double>, count: Int, length: Int,
        into out: inout [Double]
    ) {
        let r = selected.count, stride = dimension
        selected.withUnsafeBufferPointer { rowPointers in
            out.withUnsafeMutableBufferPointer { target in
                let shared = KernelBuffers(rows: rowPointers.baseAddress!, out: target.baseAddress!, directions: base)
                let kernelFormat = format.kernelFormat
                if r * count * length < Self.parallelWork {
                    qc_dot_block_f64(shared.rows, kernelFormat, r, base, stride, count, length, shared.out, count)
                } else if r >= 2 {
                    let half = r / 2
                    DispatchQueue.concurrentPerform(iterations: 2) { part in
                        let first = part == 0 ? 0 : half, rowsHere = part == 0 ? half : r - half
                        qc_dot_block_f64(shared.rows + first, kernelFormat, rowsHere, shared.directions, stride, count, length, shared.out + first * count, count)
                    }
                } else {
                    let half = count / 2
                    DispatchQueue.concurrentPerform(iterations: 2) { part in
                        let first = part == 0 ? 0 : half, countHere = part == 0 ? half : count - half
                        qc_dot_block_f64(shared.rows, kernelFormat, 1, shared.directions + first * stride, stride, countHere, length, shared.out + first, count)
                    }
                }
            }
        }
    }

    /// Calls `body` with the rows' pointers for every part (pointers[c][i]) and each part's format.
    private func withPointers(_ rowIds: [Int], _ body: ([[UnsafeRawPointer]], [RowFormat]) throws -> Void) throws {
        func nest(_ c: Int, _ pointers: [[UnsafeRawPointer]], _ formats: [RowFormat]) throws {
            if c == rows.parts.count { return try body(pointers, formats) }
            try rowIds.withUnsafeBufferPointer { list in
                try rows.parts[c].withRowPointers(list) { here, format in
                    try nest(c + 1, pointers + [Array(here)], formats + [format])
                }
            }
        }
        try nest(0, [], [])
    }
}

/// Pointers shared read-only (rows, directions) or by disjoint parts (out) with the worker threads.
private struct KernelBuffers: @unchecked Sendable {
    /// The row pointers as the C kernels take them (`const void *const *`).
    let rows: UnsafePointer<UnsafeRawPointer?>
    let out: UnsafeMutablePointer<Double>
    let directions: UnsafePointer<Double>

    init(rows: UnsafePointer<UnsafeRawPointer>, out: UnsafeMutablePointer<Double>, directions: UnsafePointer<Double>) {
        self.rows = UnsafeRawPointer(rows).assumingMemoryBound(to: UnsafeRawPointer?.self)
        self.out = out
        self.directions = directions
    }
}

private struct CommitBuffers: @unchecked Sendable {
    let x: UnsafeRawPointer
    let directions: UnsafePointer<Double>
    let coefficients: UnsafeMutablePointer<Double>
    let a: UnsafeMutablePointer<Double>
    let b: UnsafeMutablePointer<Double>

    init(x: UnsafeMutablePointer<Double>, directions: UnsafePointer<Double>, coefficients: UnsafeMutablePointer<Double>,
         a: UnsafeMutablePointer<Double>, b: UnsafeMutablePointer<Double>) {
        self.x = UnsafeRawPointer(x)
        self.directions = directions
        self.coefficients = coefficients
        self.a = a
        self.b = b
    }
}
