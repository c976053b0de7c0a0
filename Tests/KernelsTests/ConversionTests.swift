import CKernels
import Foundation
import Testing

/// Every kernel is checked on both the SIMD and the portable path against Swift's own conversions.
@Suite("Precision conversion, quantisation, validation and shuffle kernels", .serialized)
struct ConversionTests {
    static let paths: [Int32] = [0, 1]

    private func withPath<T>(_ portable: Int32, _ body: () -> T) -> T {
        qc_force_portable(portable)
        defer { qc_force_portable(0) }
        return body()
    }

    @Test(arguments: paths)
    func halfToFloatIsExactForAllHalves(portable: Int32) {
        let halves = (0...UInt16.max).map { $0 }
        var floats = [Float](repeating: 0, count: halves.count)
        withPath(portable) { qc_f16_to_f32(halves, &floats, halves.count) }
        for (bits, value) in zip(halves, floats) {
            let expected = Float(Float16(bitPattern: bits))
            if expected.isNaN { #expect(value.isNaN) } else { #expect(value.bitPattern == expected.bitPattern, "half 0x\(String(bits, radix: 16))") }
        }
    }

    @Test(arguments: paths)
    func floatToHalfRoundsToNearestEven(portable: Int32) {
        var generator = SeededGenerator(seed: 1)
        var values: [Float] = (0..<200_000).map { _ in
            Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &generator))
        }.filter { !$0.isNaN }
        values += [0, -0, 65504, 65519.99, 65520, 1e-8, 5.96e-8, 2.98e-8, 2.9802322e-08, .infinity, -.infinity, 1e30]
        var halves = [UInt16](repeating: 0, count: values.count)
        withPath(portable) { qc_f32_to_f16(values, &halves, values.count) }
        for (value, bits) in zip(values, halves) {
            #expect(bits == Float16(value).bitPattern, "value \(value)")
        }
    }

    @Test(arguments: paths)
    func bfloat16RoundTripsAndRounds(portable: Int32) {
        let values: [Float] = [0, 1, -1, 1.00390625, 1.0078125, 3.14159, -2.5e-30, 1e38, .infinity]
        var packed = [UInt16](repeating: 0, count: values.count)
        var unpacked = [Float](repeating: 0, count: values.count)
        withPath(portable) {
            qc_f32_to_bf16(values, &packed, values.count)
            qc_bf16_to_f32(packed, &unpacked, values.count)
        }
        for (value, back) in zip(values, unpacked) {
            // bfloat16 keeps 8 bits of mantissa: relative error at most 2^-8.
            #expect(abs(back - value) <= abs(value) * 0.00390625 || back == value)
        }
        // 1 + 2^-8 is exactly half-way between 1 and 1 + 2^-7: ties go to the even mantissa (1).
        #expect(unpacked[3] == 1)
        #expect(unpacked[4] == 1.0078125)
    }

    @Test(arguments: paths)
    func int8QuantisationErrorIsWithinHalfAStep(portable: Int32) {
        var generator = SeededGenerator(seed: 2)
        let rows = 37, dim = 29
        var source = (0..<rows * dim).map { _ in Float.random(in: -3...3, using: &generator) }
        for j in 0..<dim { source[5 * dim + j] = 0 }  // an all-zero row
        var codes = [Int8](repeating: 0, count: rows * dim)
        var scales = [Float](repeating: 0, count: rows)
        var restored = [Float](repeating: 0, count: rows * dim)
        withPath(portable) {
            qc_quantize_rows_i8(source, rows, dim, &codes, &scales)
            qc_dequantize_rows_i8(codes, scales, rows, dim, &restored)
        }
        #expect(scales[5] == 0)
        for r in 0..<rows {
            let maxAbs = (0..<dim).map { abs(source[r * dim + $0]) }.max()!
            #expect(scales[r] == maxAbs / 127)
            for j in 0..<dim {
                #expect(abs(restored[r * dim + j] - source[r * dim + j]) <= scales[r] * 0.5001)
            }
        }
    }

    @Test(arguments: [1, 2, 15, 16, 17, 33, 64, 101])
    func int4QuantisationIsWithinHalfAStepAndBothPathsAgree(dim: Int) {
        var generator = SeededGenerator(seed: UInt64(dim))
        let rows = 9
        var source = (0..<rows * dim).map { _ in Float.random(in: -2...2, using: &generator) }
        for j in 0..<dim { source[2 * dim + j] = 0 }
        let rowBytes = (dim + 1) / 2
        var codes = [UInt8](repeating: 0, count: rows * rowBytes)
        var scales = [Float](repeating: 0, count: rows)
        qc_quantize_rows_i4(source, rows, dim, &codes, &scales)
        var simd = [Float](repeating: 0, count: rows * dim)
        var portable = [Float](repeating: 0, count: rows * dim)
        withPath(0) { qc_dequantize_rows_i4(codes, scales, rows, dim, &simd) }
        withPath(1) { qc_dequantize_rows_i4(codes, scales, rows, dim, &portable) }
        #expect(simd == portable)
        for r in 0..<rows {
            let maxAbs = (0..<dim).map { abs(source[r * dim + $0]) }.max()!
            #expect(scales[r] == maxAbs / 7)
            for j in 0..<dim { #expect(abs(simd[r * dim + j] - source[r * dim + j]) <= scales[r] * 0.5001) }
        }
    }

    @Test(arguments: paths)
    func firstNonFiniteFindsTheFirstBadElement(portable: Int32) {
        for badIndex in [0, 7, 8, 15, 16, 100, 999] {
            for bad in [Float.nan, .infinity, -.infinity] {
                var values = [Float](repeating: 1.5, count: 1000)
                values[badIndex] = bad
                if badIndex + 3 < values.count { values[badIndex + 3] = .nan }
                var halves = [UInt16](repeating: 0, count: 1000)
                var bfloats = [UInt16](repeating: 0, count: 1000)
                qc_f32_to_f16(values, &halves, 1000)
                qc_f32_to_bf16(values, &bfloats, 1000)
                withPath(portable) {
                    #expect(qc_first_nonfinite_f32(values, 1000) == badIndex)
                    #expect(qc_first_nonfinite_f16(halves, 1000) == badIndex)
                    #expect(qc_first_nonfinite_bf16(bfloats, 1000) == badIndex)
                }
            }
        }
        let clean = [Float](repeating: 65504, count: 33)
        #expect(qc_first_nonfinite_f32(clean, 33) == -1)
    }

    @Test func byteShuffleRoundTrips() {
        var generator = SeededGenerator(seed: 3)
        for elementSize in [1, 2, 4, 8] {
            let count = 1001
            let bytes = (0..<count * elementSize).map { _ in UInt8.random(in: 0...255, using: &generator) }
            var shuffled = [UInt8](repeating: 0, count: bytes.count)
            var restored = [UInt8](repeating: 0, count: bytes.count)
            qc_byte_shuffle(bytes, &shuffled, count, elementSize)
            qc_byte_unshuffle(shuffled, &restored, count, elementSize)
            #expect(restored == bytes)
            if elementSize > 1 { #expect(shuffled[1] == bytes[elementSize]) }
        }
    }

    @Test func rowNormsAndSumMatchNaiveLoops() {
        var generator = SeededGenerator(seed: 4)
        let rows = 9, dim = 101
        let values = (0..<rows * dim).map { _ in Float.random(in: -1...1, using: &generator) }
        var norms = [Float](repeating: 0, count: rows)
        qc_row_norms_f32(values, rows, dim, &norms)
        for r in 0..<rows {
            let naive = (0..<dim).reduce(0.0) { $0 + Double(values[r * dim + $1]) * Double(values[r * dim + $1]) }.squareRoot()
            #expect(abs(Double(norms[r]) - naive) < 1e-6 * naive)
        }
        let naiveSum = values.reduce(0.0) { $0 + Double($1) }
        #expect(abs(qc_sum_f32(values, values.count) - naiveSum) < 1e-3)
    }
}

/// SplitMix64: a small deterministic generator for reproducible test data.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
