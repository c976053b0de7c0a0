// Symmetric per-row int8 quantisation (QLESS-style storage precision).
#include <math.h>
#include "CKernels.h"
#include "dispatch.h"

static float row_max_abs(const float *row, size_t dim) {
    float m = 0.0f;
    for (size_t j = 0; j < dim; j++) {
        float a = fabsf(row[j]);
        if (a > m) m = a;
    }
    return m;
}

static inline int8_t quantize_one(float x, float inverse_scale) {
    float q = rintf(x * inverse_scale);
    if (q > 127.0f) q = 127.0f;
    if (q < -127.0f) q = -127.0f;
    return (int8_t)q;
}

void qc_quantize_rows_i8(const float *src, size_t rows, size_t dim, int8_t *dst, float *scales) {
    for (size_t r = 0; r < rows; r++) {
        const float *row = src + r * dim;
        int8_t *out = dst + r * dim;
        float max_abs = row_max_abs(row, dim);
        if (max_abs == 0.0f) {
            scales[r] = 0.0f;
            for (size_t j = 0; j < dim; j++) out[j] = 0;
            continue;
        }
        scales[r] = max_abs / 127.0f;
        float inverse_scale = 127.0f / max_abs;
        for (size_t j = 0; j < dim; j++) out[j] = quantize_one(row[j], inverse_scale);
    }
}

#if QC_X86
QC_AVX2 static void dequantize_row_avx2(const int8_t *src, float scale, size_t dim, float *dst) {
    __m256 s = _mm256_set1_ps(scale);
    size_t j = 0;
    for (; j + 8 <= dim; j += 8) {
        __m256i wide = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(src + j)));
        _mm256_storeu_ps(dst + j, _mm256_mul_ps(_mm256_cvtepi32_ps(wide), s));
    }
    for (; j < dim; j++) dst[j] = (float)src[j] * scale;
}
#endif

void qc_dequantize_rows_i8(const int8_t *src, const float *scales, size_t rows, size_t dim, float *dst) {
    for (size_t r = 0; r < rows; r++) {
#if QC_X86
        if (qc_has_avx2()) { dequantize_row_avx2(src + r * dim, scales[r], dim, dst + r * dim); continue; }
#endif
        for (size_t j = 0; j < dim; j++) dst[r * dim + j] = (float)src[r * dim + j] * scales[r];
    }
}
