import Foundation
import Selectors

/// `quadcat-bench guard`: the near-duplicate guard at the reference budget (5% of the LESS paper's 270,000-row pool: 13,500
/// members), against a straightforward pairwise loop in the same process.
///
///     quadcat-bench guard [--members 13500] [--dim 384] [--rows N] [--threshold 0.95] [--baseline-members N]
///
/// Candidates are Gaussian rows, 2% of them near copies of an earlier row (cosine about 0.999), walked
/// in row order until `members` are admitted: as a ranked selector walks its ranking (blocks of
/// candidates against every member, one sgemm each) and as a greedy one commits picks (one row at a
/// time). The baseline checks each candidate against each member with one dot product per pair (unit
/// vectors precomputed, BLAS sdot), over the first `baseline-members` members (default all), and the
/// guard's time over the same walk is reported beside it. All three admit the same rows.
struct GuardBench {
    var members = 13_500
    var dimension = 384
    var rows: Int?
    var threshold = 0.95
    var baselineMembers: Int?

    func run() throws {
        let n = rows ?? members + members / 10
        var random = SeededRandom(seed: 20_261_128)
        var data = Matrix(rows: n, columns: dimension)
        var copies = 0
        for r in 0..<n {
            if r > 0 && random.nextInt(below: 50) == 0 {
                let original = random.nextInt(below: r)
                for j in 0..<dimension { data[r, j] = data[original, j] + Float(0.03 * random.nextGaussian()) }
                copies += 1
            } else {
                for j in 0..<dimension { data[r, j] = Float(random.nextGaussian()) }
            }
        }
        let order = Array(0..<n)
        report("guard: \(n) candidate rows x \(dimension), \(copies) near copies, threshold \(threshold), walk until \(members) members")

        var batched: [Int] = []
        let blocked = try NearDuplicateGuard(source: data, threshold: threshold, expectedMembers: members)
        let batchedSeconds = try Measure.once { batched = try blocked.admit(inOrder: order, limit: members) }
        report(String(format: "  ranked walk (blocks x members, sgemm): %8.3f s, %d admitted, %d refused", batchedSeconds, batched.count, blocked.refused))

        var single: [Int] = []
        let oneByOne = try NearDuplicateGuard(source: data, threshold: threshold, expectedMembers: members)
        let singleSeconds = try Measure.once {
            for r in order where single.count < members { if try oneByOne.admit(r) { single.append(r) } }
        }
        report(String(format: "  greedy commits (one row at a time, sgemv): %8.3f s, same rows: %@", singleSeconds, single == batched ? "yes" : "NO"))

        let limit = min(baselineMembers ?? members, members)
        var unit = data
        for r in 0..<n {
            let norm = (0..<dimension).reduce(0.0) { $0 + Double(unit[r, $1]) * Double(unit[r, $1]) }.squareRoot()
            for j in 0..<dimension { unit[r, j] = Float(Double(unit[r, j]) / norm) }
        }
        var kept: [Int] = []
        let baselineSeconds = Measure.once {
            unit.values.withUnsafeBufferPointer { values in
                let base = values.baseAddress!
                for r in order where kept.count < limit {
                    let close = kept.contains { BLAS.dot(dimension, base + r * dimension, base + $0 * dimension) >= Float(threshold) }
                    if !close { kept.append(r) }
                }
            }
        }
        let prefixGuard = try NearDuplicateGuard(source: data, threshold: threshold, expectedMembers: limit)
        var prefix: [Int] = []
        let prefixSeconds = try Measure.once { prefix = try prefixGuard.admit(inOrder: order, limit: limit) }
        report(String(
            format: "  pairwise loop (sdot per pair) to %d members: %8.3f s; the guard over the same walk %.3f s: %.0fx faster; same rows: %@",
            limit, baselineSeconds, prefixSeconds, baselineSeconds / prefixSeconds, prefix == kept ? "yes" : "NO"))
    }
}
