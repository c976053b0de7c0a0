extension SPICE {
    /// Dot products of Float32 gradient rows with Float64 vectors (the directions b and the running
    /// sum), accumulated in Float64, whose rounding does not depend on how they are batched.
    ///
    /// Float64 because q = ||g||^2 - sum_t (g . b_t)^2 cancels: once the picks span the space, q is
    /// about 1 while ||g||^2 can be 1e6 or more, and Float32 products lose q entirely (every gain
    /// reads 0 and the greedy degenerates to row order).
    ///
    /// The lazy greedy refreshes a candidate against several new directions at once, the plain greedy
    /// refreshes all candidates against one direction; both must produce bit-identical values so that
    /// the two give the same sequence even when two gains are a rounding error apart. BLAS does not
    /// promise that (its kernels block rows and columns differently by shape), so every product here
    /// runs the same chain of operations whatever the batch: one 8-lane accumulator over the
    /// 8-element chunks in ascending order, a fixed pairwise reduction, then the scalar tail. The
    /// batched kernels only share the loads.
    enum Dots {
        @inline(__always)
        private static func load(_ p: UnsafePointer<Float>) -> SIMD8<Double> {
            SIMD8<Double>(UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self))
        }

        @inline(__always)
        private static func load(_ p: UnsafePointer<Double>) -> SIMD8<Double> {
            UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Double>.self)
        }

        @inline(__always)
        private static func reduce(_ v: SIMD8<Double>) -> Double {
            let four = v.lowHalf + v.highHalf
            let two = four.lowHalf + four.highHalf
            return two[0] + two[1]
        }

        /// a . b over `n` elements.
        @inline(__always)
        static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Double>, _ n: Int) -> Double {
            let chunks = n & ~7
            var acc = SIMD8<Double>()
            var c = 0
            while c < chunks {
                acc += load(a + c) * load(b + c)
                c += 8
            }
            var s = reduce(acc)
            while c < n {
                s += Double(a[c]) * b[c]
                c += 1
            }
            return s
        }

        /// a . a over `n` elements, with the same chain of operations as ``dot(_:_:_:)``.
        @inline(__always)
        static func squaredNorm(_ a: UnsafePointer<Float>, _ n: Int) -> Double {
            let chunks = n & ~7
            var acc = SIMD8<Double>()
            var c = 0
            while c < chunks {
                let x = load(a + c)
                acc += x * x
                c += 8
            }
            var s = reduce(acc)
            while c < n {
                s += Double(a[c]) * Double(a[c])
                c += 1
            }
            return s
        }

        /// (a . b0, a . b1, a . b2, a . b3), each bit-identical to ``dot(_:_:_:)``.
        @inline(__always)
        static func dot4(
            _ a: UnsafePointer<Float>,
            _ b0: UnsafePointer<Double>, _ b1: UnsafePointer<Double>,
            _ b2: UnsafePointer<Double>, _ b3: UnsafePointer<Double>, _ n: Int
        ) -> SIMD4<Double> {
            let chunks = n & ~7
            var acc0 = SIMD8<Double>(), acc1 = SIMD8<Double>(), acc2 = SIMD8<Double>(), acc3 = SIMD8<Double>()
            var c = 0
            while c < chunks {
                let x = load(a + c)
                acc0 += x * load(b0 + c)
                acc1 += x * load(b1 + c)
                acc2 += x * load(b2 + c)
                acc3 += x * load(b3 + c)
                c += 8
            }
            var s0 = reduce(acc0), s1 = reduce(acc1), s2 = reduce(acc2), s3 = reduce(acc3)
            while c < n {
                let x = Double(a[c])
                s0 += x * b0[c]
                s1 += x * b1[c]
                s2 += x * b2[c]
                s3 += x * b3[c]
                c += 1
            }
            return SIMD4(s0, s1, s2, s3)
        }

        /// (a0 . b, a1 . b, a2 . b, a3 . b), each bit-identical to ``dot(_:_:_:)``.
        @inline(__always)
        static func dot4(
            _ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ a2: UnsafePointer<Float>, _ a3: UnsafePointer<Float>,
            _ b: UnsafePointer<Double>, _ n: Int
        ) -> SIMD4<Double> {
            let chunks = n & ~7
            var acc0 = SIMD8<Double>(), acc1 = SIMD8<Double>(), acc2 = SIMD8<Double>(), acc3 = SIMD8<Double>()
            var c = 0
            while c < chunks {
                let y = load(b + c)
                acc0 += load(a0 + c) * y
                acc1 += load(a1 + c) * y
                acc2 += load(a2 + c) * y
                acc3 += load(a3 + c) * y
                c += 8
            }
            var s0 = reduce(acc0), s1 = reduce(acc1), s2 = reduce(acc2), s3 = reduce(acc3)
            while c < n {
                let y = b[c]
                s0 += Double(a0[c]) * y
                s1 += Double(a1[c]) * y
                s2 += Double(a2[c]) * y
                s3 += Double(a3[c]) * y
                c += 1
            }
            return SIMD4(s0, s1, s2, s3)
        }

        /// (a0 . b0, a1 . b1, a2 . b2, a3 . b3), each bit-identical to ``dot(_:_:_:)``: four
        /// independent products interleaved, so that single products do not wait on one
        /// accumulator's latency.
        @inline(__always)
        static func dotPairs4(
            _ a0: UnsafePointer<Float>, _ b0: UnsafePointer<Double>, _ a1: UnsafePointer<Float>, _ b1: UnsafePointer<Double>,
            _ a2: UnsafePointer<Float>, _ b2: UnsafePointer<Double>, _ a3: UnsafePointer<Float>, _ b3: UnsafePointer<Double>,
            _ n: Int
        ) -> SIMD4<Double> {
            let chunks = n & ~7
            var acc0 = SIMD8<Double>(), acc1 = SIMD8<Double>(), acc2 = SIMD8<Double>(), acc3 = SIMD8<Double>()
            var c = 0
            while c < chunks {
                acc0 += load(a0 + c) * load(b0 + c)
                acc1 += load(a1 + c) * load(b1 + c)
                acc2 += load(a2 + c) * load(b2 + c)
                acc3 += load(a3 + c) * load(b3 + c)
                c += 8
            }
            var s0 = reduce(acc0), s1 = reduce(acc1), s2 = reduce(acc2), s3 = reduce(acc3)
            while c < n {
                s0 += Double(a0[c]) * b0[c]
                s1 += Double(a1[c]) * b1[c]
                s2 += Double(a2[c]) * b2[c]
                s3 += Double(a3[c]) * b3[c]
                c += 1
            }
            return SIMD4(s0, s1, s2, s3)
        }

        /// y -= c0 b0 + c1 b1 + c2 b2 + c3 b3, subtracting the four terms in that order per element.
        @inline(__always)
        static func subtract4(
            _ y: UnsafeMutablePointer<Double>, _ c: SIMD4<Double>,
            _ b0: UnsafePointer<Double>, _ b1: UnsafePointer<Double>,
            _ b2: UnsafePointer<Double>, _ b3: UnsafePointer<Double>, _ n: Int
        ) {
            let chunks = n & ~7
            let c0 = SIMD8(repeating: c[0]), c1 = SIMD8(repeating: c[1])
            let c2 = SIMD8(repeating: c[2]), c3 = SIMD8(repeating: c[3])
            var j = 0
            while j < chunks {
                var v = load(UnsafePointer(y + j))
                v -= c0 * load(b0 + j)
                v -= c1 * load(b1 + j)
                v -= c2 * load(b2 + j)
                v -= c3 * load(b3 + j)
                UnsafeMutableRawPointer(y + j).storeBytes(of: v, as: SIMD8<Double>.self)
                j += 8
            }
            while j < n {
                var v = y[j]
                v -= c[0] * b0[j]
                v -= c[1] * b1[j]
                v -= c[2] * b2[j]
                v -= c[3] * b3[j]
                y[j] = v
                j += 1
            }
        }

        /// y -= c b.
        @inline(__always)
        static func subtract(_ y: UnsafeMutablePointer<Double>, _ c: Double, _ b: UnsafePointer<Double>, _ n: Int) {
            for j in 0..<n { y[j] -= c * b[j] }
        }
    }
}
