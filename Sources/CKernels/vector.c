// Small vector helpers that need SIMD but are not BLAS-shaped.
#include <math.h>
#include <stdlib.h>
#include "CKernels.h"
#include "dispatch.h"

#if QC_X86
QC_AVX2 static double sum_squares_avx2(const float *x, size_t n) {
    __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
        __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
        a0 = _mm256_fmadd_pd(lo, lo, a0);
        a1 = _mm256_fmadd_pd(hi, hi, a1);
    }
    double lanes[4];
    _mm256_storeu_pd(lanes, _mm256_add_pd(a0, a1));
    double s = lanes[0] + lanes[1] + lanes[2] + lanes[3];
    for (; i < n; i++) s += (double)x[i] * x[i];
    return s;
}

QC_AVX2 static double sum_avx2(const float *x, size_t n) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_add_ps(a0, _mm256_loadu_ps(x + i));
        a1 = _mm256_add_ps(a1, _mm256_loadu_ps(x + i + 8));
        a2 = _mm256_add_ps(a2, _mm256_loadu_ps(x + i + 16));
        a3 = _mm256_add_ps(a3, _mm256_loadu_ps(x + i + 24));
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    double s = 0;
    for (int k = 0; k < 8; k++) s += lanes[k];
    for (; i < n; i++) s += x[i];
    return s;
}

QC_AVX2 static float horizontal_sum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

/// One dot product's end: the 8 lanes summed, then the scalar tail from `j` (shared by every path, so
/// each rounds the same way).
QC_AVX2 static float finish_dot(__m256 acc, const float *row, const float *v, size_t j, size_t dim) {
    float s = horizontal_sum(acc);
    for (size_t k = j; k < dim; k++) s += row[k] * v[k];
    return s;
}

/// Dots of one row with up to 8 vectors, the row's chunks loaded once. Always eight accumulators (the
/// missing vectors repeat the last one), so the loop has a fixed shape the compiler keeps in registers.
QC_AVX2 static void row_dots_avx2(const float *row, size_t dim, const float *vectors, size_t m, float *out) {
    const float *v[8];
    for (size_t t = 0; t < 8; t++) v[t] = vectors + (t < m ? t : m - 1) * dim;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    size_t j = 0;
    for (; j + 8 <= dim; j += 8) {
        __m256 x = _mm256_loadu_ps(row + j);
        a0 = _mm256_fmadd_ps(x, _mm256_loadu_ps(v[0] + j), a0);
        a1 = _mm256_fmadd_ps(x, _mm256_loadu_ps(v[1] + j), a1);
        a2 = _mm256_fmadd_ps(x, _mm256_loadu_ps(v[2] + j), a2);
        a3 = _mm256_fmadd_ps(x, _mm256_loadu_ps(v[3] + j), a3);
        a4 = _mm256_fmadd_ps(x, _mm256_loadu_ps(v[4] + j), a4);
        a5 = _mm256_fmadd_ps(x, _mm256_loadu_ps(v[5] + j), a5);
        a6 = _mm256_fmadd_ps(x, _mm256_loadu_ps(v[6] + j), a6);
        a7 = _mm256_fmadd_ps(x, _mm256_loadu_ps(v[7] + j), a7);
    }
    __m256 acc[8] = {a0, a1, a2, a3, a4, a5, a6, a7};
    for (size_t t = 0; t < m; t++) out[t] = finish_dot(acc[t], row, v[t], j, dim);
}

enum { PAIR_VECTORS = 6, FEW_VECTORS = 2 * PAIR_VECTORS };

/// Two rows against up to six vectors over the whole dimension, the twelve accumulators in registers
/// (two row loads and six vector loads feed twelve FMAs). Each (row, vector) accumulator sees the
/// FMAs of `row_dots_avx2` in the same order, so the bits are the same.
QC_AVX2 static void pair_dots_avx2(const float *r0, const float *r1, size_t dim, const float *vectors, size_t m,
                                   float *out0, float *out1) {
    const float *v[PAIR_VECTORS];
    for (size_t t = 0; t < PAIR_VECTORS; t++) v[t] = vectors + (t < m ? t : m - 1) * dim;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;
    __m256 b0 = a0, b1 = a0, b2 = a0, b3 = a0, b4 = a0, b5 = a0;
    size_t j = 0;
    for (; j + 8 <= dim; j += 8) {
        __m256 x = _mm256_loadu_ps(r0 + j), y = _mm256_loadu_ps(r1 + j), w;
        w = _mm256_loadu_ps(v[0] + j); a0 = _mm256_fmadd_ps(x, w, a0); b0 = _mm256_fmadd_ps(y, w, b0);
        w = _mm256_loadu_ps(v[1] + j); a1 = _mm256_fmadd_ps(x, w, a1); b1 = _mm256_fmadd_ps(y, w, b1);
        w = _mm256_loadu_ps(v[2] + j); a2 = _mm256_fmadd_ps(x, w, a2); b2 = _mm256_fmadd_ps(y, w, b2);
        w = _mm256_loadu_ps(v[3] + j); a3 = _mm256_fmadd_ps(x, w, a3); b3 = _mm256_fmadd_ps(y, w, b3);
        w = _mm256_loadu_ps(v[4] + j); a4 = _mm256_fmadd_ps(x, w, a4); b4 = _mm256_fmadd_ps(y, w, b4);
        w = _mm256_loadu_ps(v[5] + j); a5 = _mm256_fmadd_ps(x, w, a5); b5 = _mm256_fmadd_ps(y, w, b5);
    }
    __m256 acc0[PAIR_VECTORS] = {a0, a1, a2, a3, a4, a5}, acc1[PAIR_VECTORS] = {b0, b1, b2, b3, b4, b5};
    for (size_t t = 0; t < m && t < PAIR_VECTORS; t++) {
        out0[t] = finish_dot(acc0[t], r0, v[t], j, dim);
        out1[t] = finish_dot(acc1[t], r1, v[t], j, dim);
    }
}

/// Many rows against at most FEW_VECTORS vectors (k-means++ trials, k-means|| rounds): rows in pairs,
/// the vectors (a few KB per dimension block) staying in L1 while the rows stream past once.
QC_AVX2 static void dot_rows_few_vectors_avx2(const float *rows, size_t n, size_t dim, const float *vectors, size_t m,
                                              float *out) {
    size_t i = 0;
    for (; i + 2 <= n; i += 2) {
        const float *r0 = rows + i * dim, *r1 = r0 + dim;
        for (size_t t0 = 0; t0 < m; t0 += PAIR_VECTORS)
            pair_dots_avx2(r0, r1, dim, vectors + t0 * dim, m - t0, out + i * m + t0, out + (i + 1) * m + t0);
    }
    for (; i < n; i++)
        for (size_t t0 = 0; t0 < m; t0 += 8)
            row_dots_avx2(rows + i * dim, dim, vectors + t0 * dim, m - t0 < 8 ? m - t0 : 8, out + i * m + t0);
}

// Blocked dots for many rows: when the m vectors outgrow L2 (32 x 32768 floats is 4 MB), a row-at-a-time
// loop streams every vector from memory once per row. Here a block of rows walks the dimension in
// chunks, so each chunk of the vectors is read once per block and reused by all its rows from L1.
// Bit-identity with row_dots_avx2: every (row, vector) pair keeps its own 8-lane accumulator, saved
// between chunks, so each lane sees the same FMAs in the same order over j; the horizontal sum and the
// scalar tail are the same code. Only the loop order around those sequences changes.
enum { BLOCK_ROWS = 16, CHUNK = 512, TILE_ROWS = 4, TILE_VECTORS = 3 };

/// A register tile: TILE_ROWS rows x TILE_VECTORS vectors over `len` floats (a multiple of 8) starting
/// at column j0. Edge tiles repeat the last row or vector; the repeats load, compute and store the
/// same value into the same accumulator, so they are harmless.
QC_AVX2 static void dot_tile_avx2(const float *const row[TILE_ROWS], const float *const vec[TILE_VECTORS],
                                  size_t j0, size_t len, __m256 *const acc[TILE_ROWS][TILE_VECTORS]) {
    __m256 a[TILE_ROWS][TILE_VECTORS];
    for (int r = 0; r < TILE_ROWS; r++)
        for (int t = 0; t < TILE_VECTORS; t++) a[r][t] = *acc[r][t];
    for (size_t j = j0; j < j0 + len; j += 8) {
        __m256 v[TILE_VECTORS];
        for (int t = 0; t < TILE_VECTORS; t++) v[t] = _mm256_loadu_ps(vec[t] + j);
        for (int r = 0; r < TILE_ROWS; r++) {
            __m256 x = _mm256_loadu_ps(row[r] + j);
            for (int t = 0; t < TILE_VECTORS; t++) a[r][t] = _mm256_fmadd_ps(x, v[t], a[r][t]);
        }
    }
    for (int r = 0; r < TILE_ROWS; r++)
        for (int t = 0; t < TILE_VECTORS; t++) *acc[r][t] = a[r][t];
}

/// Rows [0, nb) of one block against all m vectors; `acc` holds nb x m accumulators.
QC_AVX2 static void block_dots_avx2(const float *rows, size_t nb, size_t dim, const float *vectors, size_t m,
                                    __m256 *acc, float *out) {
    size_t body = dim & ~(size_t)7;
    for (size_t p = 0; p < nb * m; p++) acc[p] = _mm256_setzero_ps();
    for (size_t j0 = 0; j0 < body; j0 += CHUNK) {
        size_t len = body - j0 < CHUNK ? body - j0 : CHUNK;
        for (size_t t0 = 0; t0 < m; t0 += TILE_VECTORS) {
            const float *vec[TILE_VECTORS];
            size_t tv[TILE_VECTORS];
            for (int t = 0; t < TILE_VECTORS; t++) {
                tv[t] = t0 + t < m ? t0 + t : m - 1;
                vec[t] = vectors + tv[t] * dim;
            }
            for (size_t r0 = 0; r0 < nb; r0 += TILE_ROWS) {
                const float *row[TILE_ROWS];
                __m256 *tile_acc[TILE_ROWS][TILE_VECTORS];
                for (int r = 0; r < TILE_ROWS; r++) {
                    size_t i = r0 + r < nb ? r0 + r : nb - 1;
                    row[r] = rows + i * dim;
                    for (int t = 0; t < TILE_VECTORS; t++) tile_acc[r][t] = acc + i * m + tv[t];
                }
                dot_tile_avx2(row, vec, j0, len, tile_acc);
            }
        }
    }
    for (size_t i = 0; i < nb; i++)
        for (size_t t = 0; t < m; t++) {
            out[i * m + t] = finish_dot(acc[i * m + t], rows + i * dim, vectors + t * dim, body, dim);
        }
}

/// The blocked path, or 0 when it does not pay or memory is short. With fewer rows than a tile the
/// repeated rows waste work, which pays only when the vectors come from beyond L2 (measured: 2 rows x
/// 8 x 1024 is faster row at a time, 2 rows x 520 x 8192 blocked).
QC_AVX2 static int dot_rows_vectors_blocked_avx2(const float *rows, size_t n, size_t dim, const float *vectors,
                                                 size_t m, float *out) {
    size_t min_rows = m * dim * sizeof(float) > ((size_t)256 << 10) ? 2 : TILE_ROWS;
    if (n < min_rows || m == 0) return 0;
    __m256 *acc = aligned_alloc(sizeof(__m256), BLOCK_ROWS * m * sizeof(__m256));
    if (!acc) return 0;
    for (size_t i0 = 0; i0 < n; i0 += BLOCK_ROWS) {
        size_t nb = n - i0 < BLOCK_ROWS ? n - i0 : BLOCK_ROWS;
        block_dots_avx2(rows + i0 * dim, nb, dim, vectors, m, acc, out + i0 * m);
    }
    free(acc);
    return 1;
}
#endif

void qc_dot_rows_vectors(const float *rows, size_t n, size_t dim, const float *vectors, size_t m, float *out) {
#if QC_X86
    // Few vectors that fit L1 beside the rows: pairs of rows against them (measured faster up to
    // about 24 KB of vectors; beyond, the blocked path's chunks win).
    if (qc_has_avx2() && n >= 2 && m <= FEW_VECTORS && m * dim * sizeof(float) <= ((size_t)24 << 10)) {
        dot_rows_few_vectors_avx2(rows, n, dim, vectors, m, out);
        return;
    }
    if (qc_has_avx2() && dot_rows_vectors_blocked_avx2(rows, n, dim, vectors, m, out)) return;
#endif
    for (size_t i = 0; i < n; i++) {
        const float *row = rows + i * dim;
        for (size_t t0 = 0; t0 < m; t0 += 8) {
            size_t count = m - t0 < 8 ? m - t0 : 8;
#if QC_X86
            if (qc_has_avx2()) { row_dots_avx2(row, dim, vectors + t0 * dim, count, out + i * m + t0); continue; }
#endif
            for (size_t t = 0; t < count; t++) {
                float s = 0;
                for (size_t k = 0; k < dim; k++) s += row[k] * vectors[(t0 + t) * dim + k];
                out[i * m + t0 + t] = s;
            }
        }
    }
}

static double sum_squares(const float *x, size_t n) {
#if QC_X86
    if (qc_has_avx2()) return sum_squares_avx2(x, n);
#endif
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return s;
}

void qc_row_norms_f32(const float *src, size_t rows, size_t dim, float *norms) {
    for (size_t r = 0; r < rows; r++) norms[r] = (float)sqrt(sum_squares(src + r * dim, dim));
}

double qc_sum_f32(const float *src, size_t n) {
#if QC_X86
    if (qc_has_avx2()) return sum_avx2(src, n);
#endif
    double s = 0;
    for (size_t i = 0; i < n; i++) s += src[i];
    return s;
}
