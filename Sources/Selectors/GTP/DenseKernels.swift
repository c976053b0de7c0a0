extension NNLS {
    /// Small double-precision vector kernels for the NNLS inner loops.
    ///
    /// They are written out (instead of calling BLAS level 1/2) because the NNLS problems of the G target
    /// groups run concurrently on the cores, and OpenBLAS would either spawn its own threads inside them
    /// or serialise the callers on its lock; at the sizes involved (a few thousand elements, in cache)
    /// these loops run at the speed of the arithmetic.
    enum DenseKernels {
        /// sum_i a[i] * b[i].
        @inline(__always)
        static func dot(_ n: Int, _ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>) -> Double {
            let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
            var s0 = SIMD4<Double>(), s1 = SIMD4<Double>()
            var i = 0
            while i + 8 <= n {
                s0 += ra.loadUnaligned(fromByteOffset: i &* 8, as: SIMD4<Double>.self)
                    * rb.loadUnaligned(fromByteOffset: i &* 8, as: SIMD4<Double>.self)
                s1 += ra.loadUnaligned(fromByteOffset: (i &+ 4) &* 8, as: SIMD4<Double>.self)
                    * rb.loadUnaligned(fromByteOffset: (i &+ 4) &* 8, as: SIMD4<Double>.self)
                i &+= 8
            }
            var s = (s0 + s1).sum()
            while i < n {
                s += a[i] * b[i]
                i &+= 1
            }
            return s
        }

        /// y[i] += alpha * x[i].
        @inline(__always)
        static func axpy(_ n: Int, _ alpha: Double, _ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>) {
            let rx = UnsafeRawPointer(x), ry = UnsafeMutableRawPointer(y)
            let a = SIMD4<Double>(repeating: alpha)
            var i = 0
            while i + 4 <= n {
                let v = ry.loadUnaligned(fromByteOffset: i &* 8, as: SIMD4<Double>.self)
                    + a * rx.loadUnaligned(fromByteOffset: i &* 8, as: SIMD4<Double>.self)
                ry.storeBytes(of: v, toByteOffset: i &* 8, as: SIMD4<Double>.self)
                i &+= 4
            }
            while i < n {
                y[i] += alpha * x[i]
                i &+= 1
            }
        }

        /// y[i] -= a0 * r0[i] + a1 * r1[i] + a2 * r2[i] + a3 * r3[i] (four rows per sweep of y).
        @inline(__always)
        static func subtractCombination4(
            _ n: Int, _ a0: Double, _ r0: UnsafePointer<Double>, _ a1: Double, _ r1: UnsafePointer<Double>,
            _ a2: Double, _ r2: UnsafePointer<Double>, _ a3: Double, _ r3: UnsafePointer<Double>,
            _ y: UnsafeMutablePointer<Double>
        ) {
            let p0 = UnsafeRawPointer(r0), p1 = UnsafeRawPointer(r1), p2 = UnsafeRawPointer(r2), p3 = UnsafeRawPointer(r3)
            let ry = UnsafeMutableRawPointer(y)
            let c0 = SIMD4<Double>(repeating: a0), c1 = SIMD4<Double>(repeating: a1)
            let c2 = SIMD4<Double>(repeating: a2), c3 = SIMD4<Double>(repeating: a3)
            var i = 0
            while i + 4 <= n {
                let o = i &* 8
                let v0: SIMD4<Double> = p0.loadUnaligned(fromByteOffset: o, as: SIMD4<Double>.self)
                let v1: SIMD4<Double> = p1.loadUnaligned(fromByteOffset: o, as: SIMD4<Double>.self)
                let v2: SIMD4<Double> = p2.loadUnaligned(fromByteOffset: o, as: SIMD4<Double>.self)
                let v3: SIMD4<Double> = p3.loadUnaligned(fromByteOffset: o, as: SIMD4<Double>.self)
                let t01: SIMD4<Double> = c0 * v0 + c1 * v1
                let t23: SIMD4<Double> = c2 * v2 + c3 * v3
                let current: SIMD4<Double> = ry.loadUnaligned(fromByteOffset: o, as: SIMD4<Double>.self)
                ry.storeBytes(of: current - (t01 + t23), toByteOffset: o, as: SIMD4<Double>.self)
                i &+= 4
            }
            while i < n {
                y[i] -= a0 * r0[i] + a1 * r1[i] + a2 * r2[i] + a3 * r3[i]
                i &+= 1
            }
        }
    }
}
