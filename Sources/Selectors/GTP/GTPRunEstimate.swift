import Foundation

extension GTP {
    /// The whole run's remaining time for GTP's progress line: the iterations still expected times the
    /// mean iteration so far, plus what is left of the current one.
    ///
    /// How many iterations are still expected follows from the residual trace: with the stall rule on,
    /// the pursuit stops once an iteration lowers the relative residual by less than `stall` of it, and
    /// the drops so far shrink roughly geometrically, so the last two drops say when that will happen.
    /// With the stall rule off (or before two iterations are done) the iteration limit bounds it.
    public struct RunEstimate {
        let iterationLimit: Int
        let stall: Double
        private var finished: [Double] = []
        private var started = ContinuousClock.now

        init(parameters: Parameters) {
            iterationLimit = parameters.iterations
            stall = parameters.stall
        }

        mutating func beginIteration() { started = .now }
        mutating func endIteration() { finished.append(GTPTiming.seconds(since: started)) }

        /// Seconds left in the run while iteration `current` (1-based) is under way, given the relative
        /// residuals after each finished iteration; nil before the first iteration has finished.
        func secondsLeft(current: Int, trace: [Double]) -> Double? {
            guard !finished.isEmpty else { return nil }
            let mean = finished.reduce(0, +) / Double(finished.count)
            let inCurrent = max(0, mean - GTPTiming.seconds(since: started))
            return inCurrent + Double(Self.iterationsAfter(current, trace: trace, stall: stall, limit: iterationLimit)) * mean
        }

        /// Iterations expected after `current`: the first m with drop * q^(m+1) < stall, where drop is
        /// the last relative drop of the residual (from 1 before the first iteration) and q the ratio of
        /// the last two drops (0.3 until there are two), capped by the iteration limit.
        public static func iterationsAfter(_ current: Int, trace: [Double], stall: Double, limit: Int) -> Int {
            let cap = max(0, limit - current)
            let residuals = [1.0] + trace
            guard stall > 0, residuals.count >= 2 else { return cap }
            func drop(_ i: Int) -> Double { (residuals[i - 1] - residuals[i]) / residuals[i - 1] }
            let last = drop(residuals.count - 1)
            guard last >= stall else { return 0 }
            let ratio = residuals.count >= 3 ? min(0.9, max(0.01, last / max(drop(residuals.count - 2), .leastNonzeroMagnitude))) : 0.3
            let needed = Int((log(stall / last) / log(ratio)).rounded(.up)) - 1
            return min(cap, max(0, needed))
        }
    }
}
