extension SPICE {
    /// Float32 dot products whose rounding does not depend on how they are batched.
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
        private static func load(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
            UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
        }

        @inline(__always)
        private static func reduce(_ v: SIMD8<Float>) -> Float {
            let four = v.lowHalf + v.highHalf
            let two = four.lowHalf + four.highHalf
            return two[0] + two[1]
        }

        /// a . b over `n` elements.
        @inline(__always)
        static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
            let chunks = n & ~7
            var acc = SIMD8<Float>()
            var c = 0
            while c < chunks {
                acc += load(a + c) * load(b + c)
                c += 8
            }
            var s = reduce(acc)
            while c < n {
                s += a[c] * b[c]
                c += 1
            }
            return s
        }

        /// (a . b0, a . b1, a . b2, a . b3), each bit-identical to ``dot(_:_:_:)``.
        @inline(__always)
        static func dot4(
            _ a: UnsafePointer<Float>,
            _ b0: UnsafePointer<Float>, _ b1: UnsafePointer<Float>,
            _ b2: UnsafePointer<Float>, _ b3: UnsafePointer<Float>, _ n: Int
        ) -> SIMD4<Float> {
            let chunks = n & ~7
            var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>(), acc2 = SIMD8<Float>(), acc3 = SIMD8<Float>()
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
                let x = a[c]
                s0 += x * b0[c]
                s1 += x * b1[c]
                s2 += x * b2[c]
                s3 += x * b3[c]
                c += 1
            }
            return SIMD4(s0, s1, s2, s3)
        }

        /// (a0 . b0, a1 . b1, a2 . b2, a3 . b3), each bit-identical to ``dot(_:_:_:)``: four
        /// independent products interleaved, so that single products do not wait on one
        /// accumulator's latency.
        @inline(__always)
        static func dotPairs4(
            _ a0: UnsafePointer<Float>, _ b0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ b1: UnsafePointer<Float>,
            _ a2: UnsafePointer<Float>, _ b2: UnsafePointer<Float>, _ a3: UnsafePointer<Float>, _ b3: UnsafePointer<Float>,
            _ n: Int
        ) -> SIMD4<Float> {
            let chunks = n & ~7
            var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>(), acc2 = SIMD8<Float>(), acc3 = SIMD8<Float>()
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
                s0 += a0[c] * b0[c]
                s1 += a1[c] * b1[c]
                s2 += a2[c] * b2[c]
                s3 += a3[c] * b3[c]
                c += 1
            }
            return SIMD4(s0, s1, s2, s3)
        }

        /// y -= c0 b0 + c1 b1 + c2 b2 + c3 b3, subtracting the four terms in that order per element.
        @inline(__always)
        static func subtract4(
            _ y: UnsafeMutablePointer<Float>, _ c: SIMD4<Float>,
            _ b0: UnsafePointer<Float>, _ b1: UnsafePointer<Float>,
            _ b2: UnsafePointer<Float>, _ b3: UnsafePointer<Float>, _ n: Int
        ) {
            let chunks = n & ~7
            let c0 = SIMD8(repeating: c[0]), c1 = SIMD8(repeating: c[1])
            let c2 = SIMD8(repeating: c[2]), c3 = SIMD8(repeating: c[3])
            var j = 0
            while j < chunks {
                var v = load(y + j)
                v -= c0 * load(b0 + j)
                v -= c1 * load(b1 + j)
                v -= c2 * load(b2 + j)
                v -= c3 * load(b3 + j)
                UnsafeMutableRawPointer(y + j).storeBytes(of: v, as: SIMD8<Float>.self)
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
        static func subtract(_ y: UnsafeMutablePointer<Float>, _ c: Float, _ b: UnsafePointer<Float>, _ n: Int) {
            for j in 0..<n { y[j] -= c * b[j] }
        }
    }
}
