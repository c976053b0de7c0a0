import Foundation

/// A histogram: counts of values in equal-width bins over `lower...upper` (the last bin includes
/// `upper`). Charts draw it; its size does not depend on how many values went in.
public struct BinnedCounts: Sendable, Equatable {
    public var lower: Double
    public var upper: Double
    public var counts: [Int]
    /// Values that were NaN or infinite (rows the criterion could not score).
    public var missing: Int

    /// Values counted in bins.
    public var total: Int { counts.reduce(0, +) }

    public var binWidth: Double { (upper - lower) / Double(counts.count) }

    /// Bins `values` into `bins` equal bins over `lower...upper`; values outside go to the end bins.
    public init<S: Sequence>(_ values: S, lower: Double, upper: Double, bins: Int) where S.Element == Double {
        precondition(bins > 0 && upper > lower)
        self.lower = lower
        self.upper = upper
        var counts = [Int](repeating: 0, count: bins)
        var missing = 0
        let scale = Double(bins) / (upper - lower)
        for value in values {
            guard value.isFinite else {
                missing += 1
                continue
            }
            let bin = Int(((value - lower) * scale).rounded(.down))
            counts[min(bins - 1, max(0, bin))] += 1
        }
        self.counts = counts
        self.missing = missing
    }

    /// The range of the finite `values`, widened a little when they are all equal; nil when none is finite.
    public static func range<S: Sequence>(of values: S) -> (lower: Double, upper: Double)? where S.Element == Double {
        var lo = Double.infinity, hi = -Double.infinity
        for value in values where value.isFinite {
            lo = min(lo, value)
            hi = max(hi, value)
        }
        guard lo <= hi else { return nil }
        if lo == hi {
            let pad = lo == 0 ? 0.5 : abs(lo) * 0.01
            return (lo - pad, hi + pad)
        }
        return (lo, hi)
    }
}
