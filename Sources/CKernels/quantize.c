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

// MARK: - int4

static inline int8_t nibble_value(uint8_t nibble) { return (int8_t)((int8_t)(nibble << 4) >> 4); }

void qc_quantize_rows_i4(const float *src, size_t rows, size_t dim, uint8_t *dst, float *scales) {
    size_t row_bytes = (dim + 1) / 2;
    for (size_t r = 0; r < rows; r++) {
        const float *row = src + r * dim;
        uint8_t *out = dst + r * row_bytes;
        float max_abs = row_max_abs(row, dim);
        for (size_t b = 0; b < row_bytes; b++) out[b] = 0;
        if (max_abs == 0.0f) { scales[r] = 0.0f; continue; }
        scales[r] = max_abs / 7.0f;
        float inverse_scale = 7.0f / max_abs;
        for (size_t j = 0; j < dim; j++) {
            float q = rintf(row[j] * inverse_scale);
            if (q > 7.0f) q = 7.0f;
            if (q < -7.0f) q = -7.0f;
            uint8_t nibble = (uint8_t)((int8_t)q) & 0x0f;
            out[j / 2] |= (j & 1) ? (uint8_t)(nibble << 4) : nibble;
        }
    }
}

#if QC_X86
QC_AVX2 static void dequantize_row_i4_avx2(const uint8_t *src, float scale, size_t dim, float *dst) {
    __m256 s = _mm256_set1_ps(scale);
    const __m128i low_mask = _mm_set1_epi8(0x0f);
    size_t j = 0;
    for (; j + 16 <= dim; j += 16) {
        // Eight bytes hold 16 values.
        __m128i packed = _mm_loadl_epi64((const __m128i *)(src + j / 2));
        __m128i lo = _mm_and_si128(packed, low_mask);
        __m128i hi = _mm_and_si128(_mm_srli_epi16(packed, 4), low_mask);
        __m128i bytes = _mm_unpacklo_epi8(lo, hi);                       // 16 nibbles in element order
        __m128i shifted = _mm_slli_epi16(bytes, 4);                     // nibble to the top of each byte
        shifted = _mm_and_si128(shifted, _mm_set1_epi8((char)0xf0));
        __m256i wide = _mm256_cvtepi8_epi32(shifted);                   // elements 0..7, value * 16
        __m256i wide2 = _mm256_cvtepi8_epi32(_mm_srli_si128(shifted, 8)); // elements 8..15
        __m256 scaled = _mm256_mul_ps(s, _mm256_set1_ps(1.0f / 16.0f));
        _mm256_storeu_ps(dst + j, _mm256_mul_ps(_mm256_cvtepi32_ps(wide), scaled));
        _mm256_storeu_ps(dst + j + 8, _mm256_mul_ps(_mm256_cvtepi32_ps(wide2), scaled));
    }
    for (; j < dim; j++) {
        uint8_t byte = src[j / 2];
        dst[j] = (float)nibble_value((j & 1) ? (byte >> 4) : (byte & 0x0f)) * scale;
    }
}
#endif

void qc_dequantize_rows_i4(const uint8_t *src, const float *scales, size_t rows, size_t dim, float *dst) {
    size_t row_bytes = (dim + 1) / 2;
    for (size_t r = 0; r < rows; r++) {
#if QC_X86
        if (qc_has_avx2()) { dequantize_row_i4_avx2(src + r * row_bytes, scales[r], dim, dst + r * dim); continue; }
#endif
        for (size_t j = 0; j < dim; j++) {
            uint8_t byte = src[r * row_bytes + j / 2];
            dst[r * dim + j] = (float)nibble_value((j & 1) ? (byte >> 4) : (byte & 0x0f)) * scales[r];
        }
    }
}
