import CKernels
import Foundation

extension SPICE {
    /// The greedy's arithmetic: the directions b of M_S^{-1} = I - B B^T, the running sum of the
    /// picked rows, and the two operations on them, both over rows read in place from the store:
    /// refreshing candidates (bringing q up to date, blocked) and committing a pick (a new direction).
    ///
    /// Threads: work large enough to pay for it is split over two fixed halves (rows or directions)
    /// run on the available cores; the split never changes a bit of the results, because every
    /// product follows the canonical chain of `qc_dot_block_f64` and every sum a fixed order.
    final class Refresher {
        /// The most candidates refreshed together.
        static let maxBatch = 512
        /// A refresh checks whether it can give up at every 64th direction: often enough to skip most
        /// of a hopeless candidate's backlog, rarely enough that a candidate given up has made real
        /// progress before it is popped again.
        static let checkEvery = 64
        /// Kernel work (multiply-adds) below which splitting over threads costs more than it saves.
        static let parallelWork = 1 << 19

        let source: any VectorSource
        let d: Int
        /// The directions b, one per row, `directionCount` of them, room for `capacity`.
        private let directions: UnsafeMutablePointer<Double>
        private(set) var directionCount = 0
        private let capacity: Int
        /// The sum of the picked rows, and its norm.
        private let sum: UnsafeMutablePointer<Double>
        private(set) var sumNorm = 0.0

        private(set) var evaluations = 0
        private(set) var products = 0
        private(set) var abandoned = 0

        init(source: any VectorSource, dimension: Int, capacity: Int) {
            self.source = source
            d = dimension
            self.capacity = capacity
            directions = .allocate(capacity: max(1, capacity * dimension))
            sum = .allocate(capacity: max(1, dimension))
            sum.initialize(repeating: 0, count: max(1, dimension))
        }

        deinit {
            directions.deallocate()
            sum.deallocate()
        }

        /// The outcome of refreshing one candidate.
        struct Refreshed {
            var gain: Double
            var penalty: Double
            /// False when the refresh was given up part-way.
            var complete: Bool
        }

        /// Brings q up to date with every direction for each candidate of `batch` and returns their
        /// gains and penalties (in batch order).
        ///
        /// Directions are taken in runs that end at multiples of ``checkEvery``; each run meets every
        /// candidate that still needs it in one kernel call, and q takes the squares in ascending
        /// order. With a `rival` (the best exact pick of the step so far), a candidate is given up at
        /// a run's end as soon as its gain from the directions applied so far cannot beat the rival:
        /// q only decreases, so that partial gain still bounds its final total, and it goes back to
        /// the heap with q and `applied` where they got to.
        func refresh(_ batch: [Int], state: State, rival: Pick?) throws -> [Refreshed] {
            let n = directionCount
            let m = batch.count
            value.removeAll(keepingCapacity: true)
            next.removeAll(keepingCapacity: true)
            active.removeAll(keepingCapacity: true)
            rowList.removeAll(keepingCapacity: true)
            for c in batch {
                value.append(state.q[c])
                next.append(state.applied[c])
                active.append(true)
                rowList.append(state.rowId[c])
            }
            var hValues: [Double] = []
            try rowList.withUnsafeBufferPointer { rowList in
                try source.withRowPointers(rowList) { pointers, format in
                    var start = (next.min() ?? n) / Self.checkEvery * Self.checkEvery
                    // Without a rival nothing can be given up: one run to the end.
                    while start < n {
                        let end = rival == nil ? n : min(n, start + Self.checkEvery)
                        applyRun(from: start, to: end, pointers: pointers, format: format)
                        if let rival, end < n {
                            for i in 0..<m where active[i] && next[i] == end
                                && !state.before(log1p(state.alpha * value[i]), batch[i], rival.total, rival.position)
                            {
                                active[i] = false
                            }
                        }
                        start = end
                    }
                    if state.penalised {
                        let complete = (0..<m).filter { active[$0] }
                        hValues = [Double](repeating: 0, count: m)
                        if !complete.isEmpty {
                            let selected: [UnsafeRawPointer?] = complete.map { pointers[$0] }
                            var h = [Double](repeating: 0, count: complete.count)
                            qc_dot_block_f64(selected, format.kernelFormat, complete.count, sum, 1, d, &h, 1)
                            for (k, i) in complete.enumerated() { hValues[i] = h[k] }
                            products += complete.count
                        }
                    }
                }
            }
            var out: [Refreshed] = []
            out.reserveCapacity(m)
            for (i, c) in batch.enumerated() {
                products += next[i] - state.applied[c]
                state.q[c] = value[i]
                state.applied[c] = next[i]
                evaluations += 1
                if !active[i] {
                    abandoned += 1
                    out.append(Refreshed(gain: state.gain(c), penalty: 0, complete: false))
                } else {
                    out.append(Refreshed(gain: state.gain(c), penalty: state.penalised ? state.penalty(c, h: hValues[i]) : 0, complete: true))
                }
            }
            return out
        }

        // Scratch of `refresh`, kept between calls (a lazy run makes millions of them).
        private var value: [Double] = []
        private var next: [Int] = []
        private var active: [Bool] = []
        private var rowList: [Int] = []
        private var members: [Int] = []
        private var selected: [UnsafeRawPointer] = []
        private var runProducts: [Double] = []

        /// Applies directions [start, end) to every active batch member that needs them: the members
        /// that need the whole run share one kernel call; a member whose backlog starts inside the run
        /// (its first run only) gets its own. q takes the squares in ascending order.
        private func applyRun(from start: Int, to end: Int, pointers: UnsafeBufferPointer<UnsafeRawPointer>, format: RowFormat) {
            members.removeAll(keepingCapacity: true)
            for i in 0..<next.count where active[i] && next[i] <= start { members.append(i) }
            if !members.isEmpty { apply(members, from: start, to: end, pointers: pointers, format: format) }
            for i in 0..<next.count where active[i] && next[i] > start && next[i] < end {
                members.removeAll(keepingCapacity: true)
                members.append(i)
                apply(members, from: next[i], to: end, pointers: pointers, format: format)
            }
        }

        private func apply(_ group: [Int], from: Int, to end: Int, pointers: UnsafeBufferPointer<UnsafeRawPointer>, format: RowFormat) {
            let count = end - from
            let needed = group.count * count
            if runProducts.count < needed { runProducts = [Double](repeating: 0, count: needed) }
            selected.removeAll(keepingCapacity: true)
            for i in group { selected.append(pointers[i]) }
            computeProducts(from: from, count: count, format: format)
            for (k, i) in group.enumerated() {
                var v = value[i]
                for t in 0..<count {
                    let p = runProducts[k * count + t]
                    v = max(0, v - p * p)
                }
                value[i] = v
                next[i] = end
            }
        }

        /// runProducts[i * count + t] = selected[i] . b_(from + t), split over two threads when large.
        private func computeProducts(from: Int, count: Int, format: RowFormat) {
            let r = selected.count
            let base = UnsafePointer(directions + from * d)
            let dim = d
            selected.withUnsafeBufferPointer { rowPointers in
                runProducts.withUnsafeMutableBufferPointer { target in
                    let shared = SharedBuffers(rows: rowPointers.baseAddress!, out: target.baseAddress!, directions: base)
                    let work = r * count * dim
                    if work < Self.parallelWork {
                        qc_dot_block_f64(shared.rows, format.kernelFormat, r, base, count, dim, shared.out, count)
                    } else if r >= 2 {
                        let half = r / 2
                        DispatchQueue.concurrentPerform(iterations: 2) { part in
                            let first = part == 0 ? 0 : half, rowsHere = part == 0 ? half : r - half
                            qc_dot_block_f64(shared.rows + first, format.kernelFormat, rowsHere, shared.directions, count, dim, shared.out + first * count, count)
                        }
                    } else {
                        let half = count / 2
                        DispatchQueue.concurrentPerform(iterations: 2) { part in
                            let first = part == 0 ? 0 : half, countHere = part == 0 ? half : count - half
                            qc_dot_block_f64(shared.rows, format.kernelFormat, 1, shared.directions + first * dim, countHere, dim, shared.out + first, count)
                        }
                    }
                }
            }
        }

        /// Adds candidate c to S: appends its direction b = sqrt(alpha / (1 + alpha q)) (g - B (B^T g))
        /// when q > 0, and adds g to the running sum.
        ///
        /// B^T g and B (B^T g) come from one pass over the directions (`qc_project_out_f64`), the
        /// directions split in two fixed halves whose contributions are added in a fixed order.
        func commit(_ c: Int, state: State) throws {
            let n = directionCount
            let qc = state.q[c]
            let dim = d
            try [state.rowId[c]].withUnsafeBufferPointer { row in
                try source.withRowPointers(row) { pointers, format in
                    let g = pointers[0]
                    let gValues = UnsafeMutablePointer<Double>.allocate(capacity: dim)
                    defer { gValues.deallocate() }
                    widen(g, format: format, into: gValues)
                    if qc > 0 && n < capacity {
                        let u = directions + n * dim
                        let half = n / 2
                        let partA = UnsafeMutablePointer<Double>.allocate(capacity: dim)
                        let partB = UnsafeMutablePointer<Double>.allocate(capacity: dim)
                        let coefficients = UnsafeMutablePointer<Double>.allocate(capacity: max(1, n))
                        defer {
                            partA.deallocate()
                            partB.deallocate()
                            coefficients.deallocate()
                        }
                        partA.initialize(repeating: 0, count: dim)
                        partB.initialize(repeating: 0, count: dim)
                        let shared = CommitBuffers(g: g, directions: UnsafePointer(directions), coefficients: coefficients, a: partA, b: partB)
                        let kernelFormat = format.kernelFormat
                        let run: @Sendable (Int) -> Void = { part in
                            let first = part == 0 ? 0 : half, count = part == 0 ? half : n - half
                            qc_project_out_f64(shared.g, kernelFormat, shared.directions + first * dim, count, dim, shared.coefficients + first, part == 0 ? shared.a : shared.b)
                        }
                        if n * dim >= Self.parallelWork {
                            DispatchQueue.concurrentPerform(iterations: 2, execute: run)
                        } else {
                            run(0)
                            run(1)
                        }
                        let scale = (state.alpha / (1 + state.alpha * qc)).squareRoot()
                        for j in 0..<dim { u[j] = ((gValues[j] + partA[j]) + partB[j]) * scale }
                        directionCount = n + 1
                        products += n
                    }
                    var squares = 0.0
                    for j in 0..<dim {
                        sum[j] += gValues[j]
                        squares += sum[j] * sum[j]
                    }
                    sumNorm = squares.squareRoot()
                }
            }
        }

        /// The row as Float64.
        private func widen(_ row: UnsafeRawPointer, format: RowFormat, into out: UnsafeMutablePointer<Double>) {
            switch format {
            case .float32:
                let x = row.assumingMemoryBound(to: Float.self)
                for j in 0..<d { out[j] = Double(x[j]) }
            case .float16:
                let scratch = UnsafeMutablePointer<Float>.allocate(capacity: d)
                defer { scratch.deallocate() }
                qc_f16_to_f32(row.assumingMemoryBound(to: UInt16.self), scratch, d)
                for j in 0..<d { out[j] = Double(scratch[j]) }
            }
        }
    }

    /// Pointers shared read-only (rows) or by disjoint parts (out) with the worker threads.
    private struct SharedBuffers: @unchecked Sendable {
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
        let g: UnsafeRawPointer
        let directions: UnsafePointer<Double>
        let coefficients: UnsafeMutablePointer<Double>
        let a: UnsafeMutablePointer<Double>
        let b: UnsafeMutablePointer<Double>
    }
}
