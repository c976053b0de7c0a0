import CKernels
import Foundation

/// RDS, representation-based data selection (the LESS paper's baseline, Xia et al. 2024 §5): the
/// cosine of each row's embedding with the mean of the target's embeddings, top k. It sees no
/// gradients, so it measures what a plain embedding similarity search gives.
public enum RDS {
    public static let name = "rds"
    public static let version = "1"

    public struct Parameters: Codable, Sendable, Equatable {
        public init() {}
        public init(_ bag: inout ParameterBag, seed: UInt64) throws { self.init() }
    }

    /// cos(e_z, mean of the target embeddings) for every row; NaN for rows without a usable, finite,
    /// non-zero embedding. One streaming pass over the column.
    public static func scores(embeddings: any VectorSource, target: Matrix, progress: SelectionProgressHandler? = nil) throws -> [Float] {
        guard target.columns == embeddings.dimension else {
            throw SelectorError("rds: the target embeddings have dimension \(target.columns), the pool's \(embeddings.dimension)")
        }
        guard target.rows > 0 else { throw SelectorError("rds: the target has no embedding rows") }
        if target.values.withUnsafeBufferPointer({ qc_first_nonfinite_f32($0.baseAddress!, $0.count) }) >= 0 {
            throw SelectorError("rds: the target embeddings contain NaN or infinite values")
        }
        let d = target.columns
        var mean = [Double](repeating: 0, count: d)
        for r in 0..<target.rows { for j in 0..<d { mean[j] += Double(target[r, j]) } }
        let meanNorm = mean.reduce(0) { $0 + $1 * $1 }.squareRoot()
        guard meanNorm > 0 else { throw SelectorError("rds: the mean of the target embeddings is zero") }
        let direction = mean.map { $0 / meanNorm }
        var scores = [Float](repeating: .nan, count: embeddings.rowCount)
        let usable = embeddings.usableRows
        try embeddings.forEachBlock { block in
            for i in 0..<block.rowCount {
                let z = block.firstRow + i
                guard usable?.contains(z) ?? true else { continue }
                let row = block.values.baseAddress! + i * d
                var dot = 0.0, squares = 0.0
                for j in 0..<d {
                    let x = Double(row[j])
                    dot += x * direction[j]
                    squares += x * x
                }
                guard squares > 0, squares.isFinite, dot.isFinite else { continue }
                scores[z] = Float(dot / squares.squareRoot())
            }
            progress?(SelectionProgress(phase: "scoring", completed: block.firstRow + block.rowCount, total: embeddings.rowCount, unit: "rows"))
        }
        return scores
    }

    /// The `budget` rows whose embeddings are closest in angle to the target's mean (ties: lower row);
    /// with a guard, the ranking is walked past the rows it refuses.
    public static func select(
        embeddings: any VectorSource, target: Matrix, budget: Int, parameters: Parameters = Parameters(),
        guard selectionGuard: (any SelectionGuard)? = nil, progress: SelectionProgressHandler? = nil
    ) throws -> Selection {
        let values = try scores(embeddings: embeddings, target: target, progress: progress)
        let picked = try admitted(budget, guard: selectionGuard) { topK(values, k: $0) }
        var diagnostics = Diagnostics()
        let candidates = embeddings.candidateRows
        let unscored = values.indices.count { values[$0].isNaN && (candidates?.contains($0) ?? true) }
        diagnostics.counters["unscoredRows"] = Double(unscored)
        if unscored > 0 { diagnostics.notes.append("\(unscored) rows have no usable, non-zero embedding and were never considered") }
        if picked.count < budget {
            let why = selectionGuard == nil ? "could be scored" : "could be scored and passed the near-duplicate guard"
            diagnostics.notes.append("only \(picked.count) rows \(why); the subset is smaller than the budget of \(budget)")
        }
        return Selection(members: picked.map { Member(row: $0, score: Double(values[$0])) }, diagnostics: diagnostics)
    }
}
