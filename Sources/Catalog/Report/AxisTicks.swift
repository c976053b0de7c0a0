import Foundation

/// A linear map from data values to SVG coordinates.
struct LinearScale {
    var lower: Double, upper: Double
    var start: Double, end: Double

    func callAsFunction(_ value: Double) -> Double {
        upper == lower ? (start + end) / 2 : start + (value - lower) / (upper - lower) * (end - start)
    }
}

/// "Nice" axis ticks (steps of 1, 2 or 5 times a power of ten) and their labels.
struct AxisTicks {
    var lower: Double
    var upper: Double
    var step: Double
    var values: [Double]

    /// Ticks covering `lower...upper` with about `count` intervals; the range is widened to the ticks.
    /// `integers`: steps of at least 1 (for counts of steps, rounds, picks).
    init(_ lower: Double, _ upper: Double, count: Int = 5, integers: Bool = false) {
        var lo = lower.isFinite ? lower : 0, hi = upper.isFinite ? upper : 1
        if hi < lo { swap(&lo, &hi) }
        if hi == lo {
            let pad = lo == 0 ? 1 : abs(lo) * 0.1
            lo -= pad
            hi += pad
        }
        let rough = (hi - lo) / Double(max(1, count))
        let magnitude = pow(10, floor(log10(rough)))
        let normalized = rough / magnitude
        var step = (normalized < 1.5 ? 1 : normalized < 3 ? 2 : normalized < 7 ? 5 : 10) * magnitude
        if integers { step = max(1, step) }
        let first = floor(lo / step + 1e-9) * step, last = ceil(hi / step - 1e-9) * step
        self.lower = first
        self.upper = last
        self.step = step
        let n = Int(((last - first) / step).rounded())
        values = (0...n).map { first + Double($0) * step }
    }

    /// A tick label with as many decimals as the step needs.
    func label(_ value: Double) -> String { Self.format(value, step: step) }

    static func format(_ value: Double, step: Double) -> String {
        let v = abs(value) < step * 1e-9 ? 0 : value
        if abs(v) >= 1e6 || (step < 1e-4 && v != 0) { return String(format: "%.3g", v) }
        let decimals = max(0, min(6, Int(-floor(log10(step) + 1e-9))))
        if decimals == 0 { return grouped(Int(v.rounded())) }
        return String(format: "%.\(decimals)f", v)
    }

    /// An integer with thousands separators: 13,500.
    static func grouped(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out += "," }
            out.append(c)
        }
        return value < 0 ? "-" + out : out
    }
}
