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
#endif

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
