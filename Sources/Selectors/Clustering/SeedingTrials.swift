import CKernels
import Foundation

/// The rows of a greedy k-means++ seeding, read once per step against that step's trial centroids.
///
/// A step's pass streams every row and is bound by memory (at k = 10,000 about 38 MB a step, 10,000
/// steps), so it screens each (row, trial) pair first on the rows' 64 principal coordinates (a lower
/// bound on the distance, 256 bytes a row), then on a float16 copy of the rows (half their bytes), and
/// computes the float32 distance only where neither screen's error bound settles the pair
/// (`qc_trial_nearest`): the same bits as computing every pair.
struct SeedingTrials {
    let data: Matrix
    let rowNorms: [Float]
    /// The first screen's coordinates, when the rows are many and wide enough for it to pay.
    private let principal: PrincipalCoordinates?
    /// The rows as float16, or empty when an element lies beyond float16's range (every pair is then
    /// computed in float32).
    private let half: [UInt16]
    /// One part per core, at least 1,024 rows each; each row's values are its own, so any split gives
    /// the same values.
    private let parts: [Range<Int>]

    init(_ data: Matrix, rowNorms: [Float]) {
        self.data = data
        self.rowNorms = rowNorms
        let largest = data.values.reduce(Float(0)) { max($0, abs($1)) }
        if largest <= 65504 {
            var half = [UInt16](repeating: 0, count: data.values.count)
            qc_f32_to_f16(data.values, &half, data.values.count)
            self.half = half
        } else {
            half = []
        }
        principal = data.columns >= 128 && data.rows >= 2048 && !half.isEmpty ? PrincipalCoordinates(data, p: 64) : nil
        let cores = max(1, min(ProcessInfo.processInfo.activeProcessorCount, data.rows / 1024))
        parts = (0..<cores).map { c in c * data.rows / cores..<(c + 1) * data.rows / cores }
    }

    /// `values[i * m + t] = min(nearest[i], d(row i, row candidates[t]))`, the squared distance
    /// `max(0, |x|^2 - 2 x.c + |c|^2)` in float32, for every row and each of the m candidates.
    func nearest(_ nearest: [Float], candidates: [Int], into values: inout [Float]) {
        let m = candidates.count, dim = data.columns
        let trials = data.rows(candidates)
        let trialNorms = candidates.map { rowNorms[$0] }
        precondition(values.count == data.rows * m, "values holds rows x candidates")
        let trialCoordinates = principal.map { $0.coordinates.rows(candidates) }
        let trialCoordinateNorms = principal.map { p in candidates.map { p.squaredNorms[$0] } }
        data.values.withUnsafeBufferPointer { x in
            half.withUnsafeBufferPointer { h in
                rowNorms.withUnsafeBufferPointer { norms in
                    nearest.withUnsafeBufferPointer { near in
                        values.withUnsafeMutableBufferPointer { out in
                            nonisolated(unsafe) let (x, h, norms, near, out) = (x, h, norms, near, out)
                            DispatchQueue.concurrentPerform(iterations: parts.count) { p in
                                let first = parts[p].lowerBound
                                let call = { (coords: UnsafePointer<qc_principal_coords>?) in
                                    qc_trial_nearest(
                                        x.baseAddress! + first * dim, h.isEmpty ? nil : h.baseAddress! + first * dim, parts[p].count, dim,
                                        norms.baseAddress! + first, near.baseAddress! + first, trials.values, trialNorms, m, coords,
                                        out.baseAddress! + first * m)
                                }
                                guard let principal, let trialCoordinates, let trialCoordinateNorms else { return call(nil) }
                                let width = principal.coordinates.columns
                                principal.coordinates.values.withUnsafeBufferPointer { y in
                                    principal.squaredNorms.withUnsafeBufferPointer { yn in
                                        trialCoordinates.values.withUnsafeBufferPointer { ty in
                                            trialCoordinateNorms.withUnsafeBufferPointer { tyn in
                                                var coords = qc_principal_coords(
                                                    rows: y.baseAddress! + first * width, norms: yn.baseAddress! + first,
                                                    trials: ty.baseAddress!, trial_norms: tyn.baseAddress!, p: width, slack: principal.slack)
                                                call(&coords)
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
