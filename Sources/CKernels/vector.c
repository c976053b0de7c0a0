// Small vector helpers that need SIMD but are not BLAS-shaped.
#include <math.h>
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
    for (size_t t = 0; t < m; t++) {
        float s = horizontal_sum(acc[t]);
        for (size_t k = j; k < dim; k++) s += row[k] * v[t][k];
        out[t] = s;
    }
}
#endif

void qc_dot_rows_vectors(const float *rows, size_t n, size_t dim, const float *vectors, size_t m, float *out) {
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
