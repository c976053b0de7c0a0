import CKernels
import Foundation

/// LESS (Xia et al. 2024): rank pool rows by the learning-rate-weighted similarity of their gradient
/// trajectory to the target's, and keep the top k.
///
/// score(z) = max over subtasks s of sum_c w_c * mean_{r in s} cos(g(z,c), v(r,c)), with
/// w_c = eta_c / sum(eta) (princeton-nlp/LESS `matching.py`: mean within a subtask, max over subtasks).
/// Because a mean of cosines with fixed g is a cosine-weighted dot product with the mean of the unit
/// target vectors, each checkpoint costs one pass over the pool against S vectors (S = subtasks),
/// instead of the reference's n x m product. Each row's products come from a per-row kernel with a
/// fixed order of operations, so a row's score does not depend on the rows around it (docs/ARCHITECTURE.md, "Rows are scored on their own").
public enum LESS {
    public static let name = "less"
    public static let version = "1"

    /// How a pool gradient is compared with a target gradient.
    public enum Similarity: String, Codable, Sendable, CaseIterable {
        /// Cosine similarity (the paper's method).
        case cosine
        /// Plain inner product (the paper's ablation: no normalisation).
        case innerProduct = "inner-product"
    }

    public struct Parameters: Codable, Sendable, Equatable {
        public var similarity: Similarity

        public init(similarity: Similarity = .cosine) { self.similarity = similarity }

        /// Reads `similarity=cosine|inner-product`.
        public init(_ bag: inout ParameterBag, seed: UInt64) throws {
            let text = try bag.choice("similarity", default: Similarity.cosine.rawValue, allowed: Similarity.allCases.map(\.rawValue))
            self.init(similarity: Similarity(rawValue: text)!)
        }
    }

    /// Scores of every pool row, plus the rows that cannot be scored.
    public struct Scores: Sendable {
        /// score(z) for each pool row; NaN where the row is excluded.
        public var values: [Float]
        /// Rows excluded because a checkpoint has no usable or a zero gradient for them.
        public var excluded: [Int]
    }

    /// Scores all pool rows (see the type's documentation for the formula).
    ///
    /// - Parameter targetSubtasks: subtask index (0-based) of each target row; nil means one subtask.
    public static func scores(
        checkpoints: [CheckpointGradients], targetSubtasks: [Int]?, parameters: Parameters = Parameters(),
        progress: SelectionProgressHandler? = nil
    ) throws -> Scores {
        try checkpoints.validateShapes()
        let weights = try checkpoints.learningRateWeights()
        let n = checkpoints[0].pool.rowCount
        let targetRows = checkpoints[0].target.rows
        guard targetRows > 0 else { throw SelectorError("the target has no rows") }
        let subtasks = try SubtaskGroups(labels: targetSubtasks, targetRows: targetRows)

        var perSubtask = [Float](repeating: 0, count: n * subtasks.count)
        var excluded = RowMask(count: n, allSet: false)
        if let usable = checkpoints.commonUsableRows() {
            for r in 0..<n where !usable.contains(r) { excluded.insert(r) }
        }
        for (c, checkpoint) in checkpoints.enumerated() {
            let directions = subtasks.meanDirections(of: checkpoint.target, normalize: parameters.similarity == .cosine)
            try accumulate(
                pool: checkpoint.pool, next: checkpoints.pool(after: c), directions: directions,
                weight: Float(weights[c]), normalize: parameters.similarity == .cosine, into: &perSubtask, excluded: &excluded
            ) { scanned in
                progress?(SelectionProgress(phase: "scoring", completed: c * n + scanned, total: checkpoints.count * n, unit: "rows"))
            }
        }
        var values = [Float](repeating: .nan, count: n)
        for z in 0..<n where !excluded.contains(z) {
            var best = -Float.infinity
            for s in 0..<subtasks.count { best = max(best, perSubtask[z * subtasks.count + s]) }
            values[z] = best
        }
        return Scores(values: values, excluded: excluded.setRows)
    }

    /// Selects the `budget` highest-scoring rows (ties: lower row first). With a guard, walks the
    /// ranking past the rows it refuses.
    public static func select(
        checkpoints: [CheckpointGradients], targetSubtasks: [Int]?, budget: Int, parameters: Parameters = Parameters(),
        guard selectionGuard: (any SelectionGuard)? = nil, progress: SelectionProgressHandler? = nil
    ) throws -> Selection {
        let start = Date()
        let scored = try scores(checkpoints: checkpoints, targetSubtasks: targetSubtasks, parameters: parameters, progress: progress)
        let scoring = Date().timeIntervalSince(start)
        let picked = try admitted(budget, guard: selectionGuard) { topK(scored.values, k: $0) }
        var diagnostics = Diagnostics()
        // Rows a query left out are not candidates, not unusable ones.
        let unusable = checkpoints[0].pool.candidatesAmong(scored.excluded)
        diagnostics.counters["excludedRows"] = Double(unusable.count)
        diagnostics.counters["checkpoints"] = Double(checkpoints.count)
        diagnostics.counters["subtasks"] = Double(Set(targetSubtasks ?? [0]).count)
        if !unusable.isEmpty {
            let sample = unusable.prefix(5).map(String.init).joined(separator: ", ")
            diagnostics.notes.append("\(unusable.count) rows have no usable or a zero gradient and were never considered (rows \(sample)\(unusable.count > 5 ? ", ..." : ""))")
        }
        if picked.count < budget {
            let why = selectionGuard == nil ? "could be scored" : "could be scored and passed the near-duplicate guard"
            diagnostics.notes.append("only \(picked.count) rows \(why); the subset is smaller than the budget of \(budget)")
        }
        diagnostics.timings["scoring"] = scoring
        diagnostics.timings["topK"] = Date().timeIntervalSince(start) - scoring
        return Selection(members: picked.map { Member(row: $0, score: Double(scored.values[$0])) }, diagnostics: diagnostics)
    }

    /// perSubtask[z, s] += weight * <g_z / ||g_z||, direction_s> for one checkpoint, streamed in blocks.
    private static func accumulate(
        pool: any VectorSource, next: (any VectorSource)?, directions: Matrix, weight: Float, normalize: Bool,
        into perSubtask: inout [Float], excluded: inout RowMask, progress: (Int) -> Void
    ) throws {
        let s = directions.rows, d = directions.columns
        var products = [Float](repeating: 0, count: 0)
        var norms = [Float](repeating: 0, count: 0)
        try directions.values.withUnsafeBufferPointer { dir in
            try pool.forEachBlock(thenPrefetching: next) { block in
                if products.count < block.rowCount * s { products = [Float](repeating: 0, count: block.rowCount * s) }
                if norms.count < block.rowCount { norms = [Float](repeating: 0, count: block.rowCount) }
                // One row at a time against the S directions (not a GEMM over the block), so a row's
                // score does not depend on which rows share its block: a corpus split into shards
                // scores every row exactly as the whole corpus does.
                products.withUnsafeMutableBufferPointer { p in
                    qc_dot_rows_vectors(block.values.baseAddress!, block.rowCount, d, dir.baseAddress!, s, p.baseAddress!)
                }
                qc_row_norms_f32(block.values.baseAddress!, block.rowCount, d, &norms)
                for i in 0..<block.rowCount {
                    let z = block.firstRow + i
                    let norm = norms[i]
                    if norm == 0 || !norm.isFinite { excluded.insert(z); continue }
                    let scale = normalize ? weight / norm : weight
                    for t in 0..<s { perSubtask[z * s + t] += scale * products[i * s + t] }
                }
                progress(block.firstRow + block.rowCount)
            }
        }
    }
}

/// The target rows grouped by subtask label.
struct SubtaskGroups {
    let members: [[Int]]
    var count: Int { members.count }

    init(labels: [Int]?, targetRows: Int) throws {
        guard let labels else {
            members = [Array(0..<targetRows)]
            return
        }
        guard labels.count == targetRows else {
            throw SelectorError("\(labels.count) subtask labels for \(targetRows) target rows")
        }
        guard let maxLabel = labels.max(), labels.allSatisfy({ $0 >= 0 }) else {
            throw SelectorError("subtask labels must be non-negative")
        }
        var groups = [[Int]](repeating: [], count: maxLabel + 1)
        for (r, label) in labels.enumerated() { groups[label].append(r) }
        members = groups.filter { !$0.isEmpty }
    }

    /// Row s: the mean over the subtask's rows of v_r (unit-normalised when `normalize`; a zero row stays zero).
    func meanDirections(of target: Matrix, normalize: Bool) -> Matrix {
        let d = target.columns
        var out = Matrix(rows: count, columns: d)
        var norms = [Float](repeating: 1, count: target.rows)
        if normalize {
            target.values.withUnsafeBufferPointer { qc_row_norms_f32($0.baseAddress!, target.rows, d, &norms) }
        }
        for (s, rows) in members.enumerated() {
            var sum = [Double](repeating: 0, count: d)
            for r in rows {
                let norm = Double(norms[r])
                guard norm > 0 else { continue }
                for j in 0..<d { sum[j] += Double(target.values[r * d + j]) / norm }
            }
            for j in 0..<d { out.values[s * d + j] = Float(sum[j] / Double(rows.count)) }
        }
        return out
    }
}
