// Products of Float32/Float16 rows with Float64 vectors, for the greedy selectors' exact updates.
//
// Every product x . y (x a stored row, y a Float64 vector of the same length n) is computed by one
// canonical chain of operations, whatever kernel, tile or batch computes it:
//   acc[l] = fma(x[8c + l], y[8c + l], acc[l]) for chunks c = 0, 1, ... < n / 8, lanes l = 0..7;
//   s = ((acc0 + acc4) + (acc2 + acc6)) + ((acc1 + acc5) + (acc3 + acc7));
//   s = fma(x[j], y[j], s) for the tail j = 8 * (n / 8) ..< n.
// fma rounds once, so the AVX-512, AVX2 and portable paths give identical bits, and a product
// computed alone equals the same product computed inside any tile. That is what lets a lazy greedy
// (refreshing a candidate against many directions at once) and a plain greedy (refreshing every
// candidate against one direction per step) pick identical sequences.
#include <math.h>
#include <string.h>
#include "CKernels.h"
#include "dispatch.h"

// ---------------------------------------------------------------------------------------------
// Portable path (the definition).

static inline double load_x(const void *x, int format, size_t j) {
    if (format == QC_ROW_F64) return ((const double *)x)[j];
    if (format == QC_ROW_F16) {
        float f;
        qc_f16_to_f32((const uint16_t *)x + j, &f, 1);
        return f;
    }
    return ((const float *)x)[j];
}

static double dot_portable(const void *x, int format, const double *y, size_t n) {
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t chunks = n / 8;
    if (format == QC_ROW_F16) {
        float buffer[8];
        for (size_t c = 0; c < chunks; c++) {
            qc_f16_to_f32((const uint16_t *)x + 8 * c, buffer, 8);
            for (int l = 0; l < 8; l++) acc[l] = fma((double)buffer[l], y[8 * c + l], acc[l]);
        }
    } else if (format == QC_ROW_F64) {
        const double *xd = (const double *)x;
        for (size_t c = 0; c < chunks; c++)
            for (int l = 0; l < 8; l++) acc[l] = fma(xd[8 * c + l], y[8 * c + l], acc[l]);
    } else {
        const float *xf = (const float *)x;
        for (size_t c = 0; c < chunks; c++)
            for (int l = 0; l < 8; l++) acc[l] = fma((double)xf[8 * c + l], y[8 * c + l], acc[l]);
    }
    double s = ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
    for (size_t j = 8 * chunks; j < n; j++) s = fma(load_x(x, format, j), y[j], s);
    return s;
}

static void block_portable(const void *const *rows, int format, size_t nrows, const double *dirs, size_t ldd, size_t ndirs,
                           size_t n, double *out, size_t ldo) {
    for (size_t i = 0; i < nrows; i++)
        for (size_t t = 0; t < ndirs; t++) out[i * ldo + t] = dot_portable(rows[i], format, dirs + t * ldd, n);
}

// ---------------------------------------------------------------------------------------------
// AVX-512: tiles of up to 4 rows x 6 vectors, one zmm accumulator (8 lanes) per product.

#if QC_X86
#define QC_AVX512 __attribute__((target("avx512f,avx512dq,avx512vl,f16c,fma")))

QC_AVX512 static inline __m512d load8_avx512(const void *x, int format, size_t j) {
    if (format == QC_ROW_F64) return _mm512_loadu_pd((const double *)x + j);
    if (format == QC_ROW_F16) return _mm512_cvtps_pd(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)x + j))));
    return _mm512_cvtps_pd(_mm256_loadu_ps((const float *)x + j));
}

// R rows x T vectors (R <= 4, T <= 6, compile-time constants after inlining), over elements
// [j0, j1) (a multiple of 8 long): the accumulators start from `acc` (8 lanes per product, row-major
// R x T) and are written back, so a product can be split over element blocks without changing a bit.
QC_AVX512 static inline __attribute__((always_inline)) void tile_avx512(
    int R, int T, const void *const *rows, int format, const double *dirs, size_t ldd, size_t j0, size_t j1, double *acc) {
    __m512d a[4][6];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) a[r][t] = _mm512_loadu_pd(acc + 8 * (r * T + t));
    for (size_t j = j0; j < j1; j += 8) {
        __m512d x[4];
        for (int r = 0; r < R; r++) x[r] = load8_avx512(rows[r], format, j);
        for (int t = 0; t < T; t++) {
            __m512d y = _mm512_loadu_pd(dirs + t * ldd + j);
            for (int r = 0; r < R; r++) a[r][t] = _mm512_fmadd_pd(x[r], y, a[r][t]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) _mm512_storeu_pd(acc + 8 * (r * T + t), a[r][t]);
}

#define TILE512(R, T) case (R) * 8 + (T): tile_avx512(R, T, rows, format, dirs, ldd, j0, j1, acc); break;

QC_AVX512 static void tile_dispatch_avx512(int R, int T, const void *const *rows, int format, const double *dirs,
                                           size_t ldd, size_t j0, size_t j1, double *acc) {
    switch (R * 8 + T) {
        TILE512(1, 1) TILE512(1, 2) TILE512(1, 3) TILE512(1, 4) TILE512(1, 5) TILE512(1, 6)
        TILE512(2, 1) TILE512(2, 2) TILE512(2, 3) TILE512(2, 4) TILE512(2, 5) TILE512(2, 6)
        TILE512(3, 1) TILE512(3, 2) TILE512(3, 3) TILE512(3, 4) TILE512(3, 5) TILE512(3, 6)
        TILE512(4, 1) TILE512(4, 2) TILE512(4, 3) TILE512(4, 4) TILE512(4, 5) TILE512(4, 6)
        default: break;
    }
}

// ---------------------------------------------------------------------------------------------
// AVX2: the 8 lanes as two ymm halves; tiles of up to 2 rows x 3 vectors (12 accumulators).

QC_AVX2 static inline void load8_avx2(const void *x, int format, size_t j, __m256d *lo, __m256d *hi) {
    if (format == QC_ROW_F64) {
        *lo = _mm256_loadu_pd((const double *)x + j);
        *hi = _mm256_loadu_pd((const double *)x + j + 4);
        return;
    }
    __m256 f = format == QC_ROW_F16 ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)x + j)))
                                    : _mm256_loadu_ps((const float *)x + j);
    *lo = _mm256_cvtps_pd(_mm256_castps256_ps128(f));
    *hi = _mm256_cvtps_pd(_mm256_extractf128_ps(f, 1));
}

// R rows x T vectors (R <= 2, T <= 3) over elements [j0, j1) (a multiple of 8 long): the 8-lane
// accumulators of each product (lo then hi half, row-major R x T) start from `acc` and are written
// back, so a product split over element blocks keeps every bit of the canonical chain.
QC_AVX2 static inline __attribute__((always_inline)) void tile_avx2(
    int R, int T, const void *const *rows, int format, const double *dirs, size_t ldd, size_t j0, size_t j1, double *acc) {
    __m256d lo[2][3], hi[2][3];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) {
            lo[r][t] = _mm256_loadu_pd(acc + 8 * (r * T + t));
            hi[r][t] = _mm256_loadu_pd(acc + 8 * (r * T + t) + 4);
        }
    for (size_t j = j0; j < j1; j += 8) {
        __m256d xl[2], xh[2];
        for (int r = 0; r < R; r++) load8_avx2(rows[r], format, j, &xl[r], &xh[r]);
        for (int t = 0; t < T; t++) {
            __m256d yl = _mm256_loadu_pd(dirs + t * ldd + j), yh = _mm256_loadu_pd(dirs + t * ldd + j + 4);
            for (int r = 0; r < R; r++) {
                lo[r][t] = _mm256_fmadd_pd(xl[r], yl, lo[r][t]);
                hi[r][t] = _mm256_fmadd_pd(xh[r], yh, hi[r][t]);
            }
        }
    }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) {
            _mm256_storeu_pd(acc + 8 * (r * T + t), lo[r][t]);
            _mm256_storeu_pd(acc + 8 * (r * T + t) + 4, hi[r][t]);
        }
}

#define TILE256(R, T) case (R) * 8 + (T): tile_avx2(R, T, rows, format, dirs, ldd, j0, j1, acc); break;

QC_AVX2 static void tile_dispatch_avx2(int R, int T, const void *const *rows, int format, const double *dirs,
                                       size_t ldd, size_t j0, size_t j1, double *acc) {
    switch (R * 8 + T) {
        TILE256(1, 1) TILE256(1, 2) TILE256(1, 3)
        TILE256(2, 1) TILE256(2, 2) TILE256(2, 3)
        default: break;
    }
}

// The driver both SIMD paths share, given their tile kernel and its largest tile (rows x vectors).
// Element blocks of 512 keep a tile's vector chunks and its rows' chunks in L1 (on AVX2, 12 KB of
// vectors), so long Float64 vectors (GTP's 32,768-long trajectories) are not streamed from memory once
// per tile; the 8-lane accumulators of every product wait in `lanes` between element blocks, and each
// product is reduced at the end in the canonical order.
typedef void (*tile_kernel)(int R, int T, const void *const *rows, int format, const double *dirs, size_t ldd, size_t j0,
                            size_t j1, double *acc);

static void block_tiled(tile_kernel tile, int max_rows, int max_vectors, const void *const *rows, int format, size_t nrows,
                        const double *dirs, size_t ldd, size_t ndirs, size_t n, double *out, size_t ldo) {
    const size_t kc = 512;
    size_t chunks = n / 8;
    size_t full = 8 * chunks;
    double *lanes = (double *)calloc(nrows * ndirs * 8, sizeof(double));
    if (!lanes) { block_portable(rows, format, nrows, dirs, ldd, ndirs, n, out, ldo); return; }
    for (size_t j0 = 0; j0 < full; j0 += kc) {
        size_t j1 = j0 + kc < full ? j0 + kc : full;
        for (size_t t0 = 0; t0 < ndirs; t0 += max_vectors) {
            int T = (int)(ndirs - t0 < (size_t)max_vectors ? ndirs - t0 : (size_t)max_vectors);
            for (size_t r0 = 0; r0 < nrows; r0 += max_rows) {
                int R = (int)(nrows - r0 < (size_t)max_rows ? nrows - r0 : (size_t)max_rows);
                // Tile (r0, t0)'s accumulators, R x T of 8 lanes, stored contiguously.
                tile(R, T, rows + r0, format, dirs + t0 * ldd, ldd, j0, j1, lanes + 8 * (r0 * ndirs + t0 * R));
            }
        }
    }
    for (size_t t0 = 0; t0 < ndirs; t0 += max_vectors) {
        int T = (int)(ndirs - t0 < (size_t)max_vectors ? ndirs - t0 : (size_t)max_vectors);
        for (size_t r0 = 0; r0 < nrows; r0 += max_rows) {
            int R = (int)(nrows - r0 < (size_t)max_rows ? nrows - r0 : (size_t)max_rows);
            const double *acc = lanes + 8 * (r0 * ndirs + t0 * R);
            for (int r = 0; r < R; r++)
                for (int t = 0; t < T; t++) {
                    const double *a = acc + 8 * (r * T + t);
                    double s = ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]));
                    const void *x = rows[r0 + r];
                    const double *y = dirs + (t0 + t) * ldd;
                    for (size_t j = full; j < n; j++) s = fma(load_x(x, format, j), y[j], s);
                    out[(r0 + r) * ldo + t0 + t] = s;
                }
        }
    }
    free(lanes);
}

static int has_avx512(void) {
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = qc_cpu_has_avx512() && qc_has_avx2();
    }
    return cached && qc_simd_level() > 0;
}
#endif

// ---------------------------------------------------------------------------------------------

void qc_dot_block_f64(const void *const *rows, int format, size_t nrows, const double *dirs, size_t ldd, size_t ndirs,
                      size_t n, double *out, size_t ldo) {
    if (nrows == 0 || ndirs == 0) return;
#if QC_X86
    if (has_avx512()) return block_tiled(tile_dispatch_avx512, 4, 6, rows, format, nrows, dirs, ldd, ndirs, n, out, ldo);
    if (qc_has_avx2()) return block_tiled(tile_dispatch_avx2, 2, 3, rows, format, nrows, dirs, ldd, ndirs, n, out, ldo);
#endif
    block_portable(rows, format, nrows, dirs, ldd, ndirs, n, out, ldo);
}

double qc_dot_f64(const void *row, int format, const double *y, size_t n) {
    double out = 0;
    const void *rows[1] = {row};
    qc_dot_block_f64(rows, format, 1, y, n, 1, n, &out, 1);
    return out;
}

#if QC_X86
QC_AVX512 static void subtract_avx512(double *u, const double *coefficients, const double *dirs, size_t ndirs, size_t n, size_t j0, size_t j1) {
    size_t j = j0;
    for (; j + 8 <= j1; j += 8) {
        __m512d v = _mm512_loadu_pd(u + j);
        for (size_t t = 0; t < ndirs; t++) v = _mm512_fnmadd_pd(_mm512_set1_pd(coefficients[t]), _mm512_loadu_pd(dirs + t * n + j), v);
        _mm512_storeu_pd(u + j, v);
    }
    for (; j < j1; j++)
        for (size_t t = 0; t < ndirs; t++) u[j] = fma(-coefficients[t], dirs[t * n + j], u[j]);
}

QC_AVX2 static void subtract_avx2(double *u, const double *coefficients, const double *dirs, size_t ndirs, size_t n, size_t j0, size_t j1) {
    size_t j = j0;
    for (; j + 4 <= j1; j += 4) {
        __m256d v = _mm256_loadu_pd(u + j);
        for (size_t t = 0; t < ndirs; t++) v = _mm256_fnmadd_pd(_mm256_set1_pd(coefficients[t]), _mm256_loadu_pd(dirs + t * n + j), v);
        _mm256_storeu_pd(u + j, v);
    }
    for (; j < j1; j++)
        for (size_t t = 0; t < ndirs; t++) u[j] = fma(-coefficients[t], dirs[t * n + j], u[j]);
}
#endif

static void subtract_portable(double *u, const double *coefficients, const double *dirs, size_t ndirs, size_t n, size_t j0, size_t j1) {
    for (size_t j = j0; j < j1; j++)
        for (size_t t = 0; t < ndirs; t++) u[j] = fma(-coefficients[t], dirs[t * n + j], u[j]);
}

void qc_subtract_scaled_f64(double *u, const double *coefficients, const double *dirs, size_t ndirs, size_t n, size_t j0, size_t j1) {
    // Per element, the terms are subtracted one at a time in ascending t with one rounding each (fma),
    // so every path gives the same bits; a range of elements lets callers split the work.
#if QC_X86
    if (has_avx512()) return subtract_avx512(u, coefficients, dirs, ndirs, n, j0, j1);
    if (qc_has_avx2()) return subtract_avx2(u, coefficients, dirs, ndirs, n, j0, j1);
#endif
    subtract_portable(u, coefficients, dirs, ndirs, n, j0, j1);
}

void qc_project_out_f64(const void *row, int format, const double *dirs, size_t ndirs, size_t n, double *products,
                        double *u) {
    // One pass over the vectors: each is read once for its product and, while it is in cache, for the
    // subtraction. Products use the canonical chain; u[j] takes -p_t * dirs[t][j] in ascending t.
    for (size_t t = 0; t < ndirs; t++) {
        const double *b = dirs + t * n;
        double p = qc_dot_f64(row, format, b, n);
        products[t] = p;
        qc_subtract_scaled_f64(u, &p, b, 1, n, 0, n);
    }
}
