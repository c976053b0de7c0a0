import Foundation

/// A small, fast, seedable generator (xoshiro256**, seeded through SplitMix64).
///
/// Selectors use it instead of the system generator so that a seed gives the same subset on every
/// machine and every Swift version; the sampling helpers below are written out for the same reason
/// (the standard library's shuffle and random(in:) algorithms are not guaranteed to stay the same).
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var s0, s1, s2, s3: UInt64

    public init(seed: UInt64) {
        var x = seed
        func splitMix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitMix(); s1 = splitMix(); s2 = splitMix(); s3 = splitMix()
    }

    /// The generator's four words, to carry a stream across processes (a fit resumed by a merge).
    public var state: [UInt64] { [s0, s1, s2, s3] }

    /// A generator that continues from ``state``.
    public init(state: [UInt64]) {
        precondition(state.count == 4, "a SeededRandom state has four words")
        (s0, s1, s2, s3) = (state[0], state[1], state[2], state[3])
    }

    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = s3 << 45 | s3 >> 19
        return result
    }

    /// A uniform integer in `0..<bound` (Lemire's unbiased multiply-shift method).
    public mutating func nextInt(below bound: Int) -> Int {
        precondition(bound > 0, "bound must be positive")
        let b = UInt64(bound)
        var product = next().multipliedFullWidth(by: b)
        if product.low < b {
            let threshold = (0 &- b) % b
            while product.low < threshold { product = next().multipliedFullWidth(by: b) }
        }
        return Int(product.high)
    }

    /// A uniform double in [0, 1) with 53 random bits.
    public mutating func nextUnitDouble() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// A standard normal variate (Box-Muller; deterministic for a seed).
    public mutating func nextGaussian() -> Double {
        var u = nextUnitDouble()
        while u <= 0 { u = nextUnitDouble() }
        let v = nextUnitDouble()
        return (-2 * log(u)).squareRoot() * cos(2 * Double.pi * v)
    }

    /// Shuffles `array` in place (Fisher-Yates, from the back).
    public mutating func shuffle<T>(_ array: inout [T]) {
        guard array.count > 1 else { return }
        for i in stride(from: array.count - 1, to: 0, by: -1) {
            array.swapAt(i, nextInt(below: i + 1))
        }
    }

    /// `count` distinct values drawn uniformly from `population`, in draw order.
    ///
    /// Uses a partial Fisher-Yates over a sparse swap table, so the cost is O(count) whatever the
    /// population size.
    public mutating func sample(_ count: Int, from population: Int) -> [Int] {
        precondition(count >= 0 && count <= population, "cannot draw \(count) of \(population)")
        var swapped: [Int: Int] = [:]
        var out: [Int] = []
        out.reserveCapacity(count)
        for i in 0..<count {
            let j = i + nextInt(below: population - i)
            let atJ = swapped[j] ?? j
            swapped[j] = swapped[i] ?? i
            out.append(atJ)
        }
        return out
    }
}
