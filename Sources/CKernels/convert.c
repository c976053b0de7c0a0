// float16 / bfloat16 <-> float32 conversion.
#include <string.h>
#include "CKernels.h"
#include "dispatch.h"

static inline uint32_t bits_of(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float float_of(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

static inline float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu;
    if (exponent == 0) {
        if (mantissa == 0) return float_of(sign);
        int shift = -1;
        do { shift++; mantissa <<= 1; } while (!(mantissa & 0x400u));
        mantissa &= 0x3ffu;
        return float_of(sign | ((uint32_t)(127 - 15 - shift) << 23) | (mantissa << 13));
    }
    if (exponent == 31) return float_of(sign | 0x7f800000u | (mantissa << 13));
    return float_of(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

// Round-to-nearest-even float -> half (F. Giesen's float_to_half_fast3_rtne).
static inline uint16_t float_to_half(float value) {
    const uint32_t f32_infinity = 255u << 23, f16_max = (127u + 16u) << 23;
    const uint32_t denormal_magic = ((127u - 15u) + (23u - 10u) + 1u) << 23;
    uint32_t u = bits_of(value);
    uint32_t sign = u & 0x80000000u;
    u ^= sign;
    uint16_t out;
    if (u >= f16_max) {
        out = (u > f32_infinity) ? 0x7e00 : 0x7c00;
    } else if (u < (113u << 23)) {
        float shifted = float_of(u) + float_of(denormal_magic);
        out = (uint16_t)(bits_of(shifted) - denormal_magic);
    } else {
        uint32_t mantissa_odd = (u >> 13) & 1u;
        u += ((uint32_t)(15 - 127) << 23) + 0xfffu;
        u += mantissa_odd;
        out = (uint16_t)(u >> 13);
    }
    return out | (uint16_t)(sign >> 16);
}

static inline uint16_t float_to_bfloat(float value) {
    uint32_t u = bits_of(value);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

#if QC_X86
QC_AVX2 static void f16_to_f32_avx2(const uint16_t *src, float *dst, size_t n) {
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256 a = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i)));
        __m256 b = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i + 8)));
        __m256 c = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i + 16)));
        __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i + 24)));
        _mm256_storeu_ps(dst + i, a);
        _mm256_storeu_ps(dst + i + 8, b);
        _mm256_storeu_ps(dst + i + 16, c);
        _mm256_storeu_ps(dst + i + 24, d);
    }
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
    for (; i < n; i++) dst[i] = half_to_float(src[i]);
}

QC_AVX2 static void f32_to_f16_avx2(const float *src, uint16_t *dst, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm_storeu_si128((__m128i *)(dst + i), h);
    }
    for (; i < n; i++) dst[i] = float_to_half(src[i]);
}

QC_AVX2 static void bf16_to_f32_avx2(const uint16_t *src, float *dst, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(src + i)));
        _mm256_storeu_si256((__m256i *)(dst + i), _mm256_slli_epi32(wide, 16));
    }
    for (; i < n; i++) dst[i] = float_of((uint32_t)src[i] << 16);
}
#endif

void qc_f16_to_f32(const uint16_t *src, float *dst, size_t n) {
#if QC_X86
    if (qc_has_avx2()) { f16_to_f32_avx2(src, dst, n); return; }
#endif
    for (size_t i = 0; i < n; i++) dst[i] = half_to_float(src[i]);
}

void qc_f32_to_f16(const float *src, uint16_t *dst, size_t n) {
#if QC_X86
    if (qc_has_avx2()) { f32_to_f16_avx2(src, dst, n); return; }
#endif
    for (size_t i = 0; i < n; i++) dst[i] = float_to_half(src[i]);
}

void qc_bf16_to_f32(const uint16_t *src, float *dst, size_t n) {
#if QC_X86
    if (qc_has_avx2()) { bf16_to_f32_avx2(src, dst, n); return; }
#endif
    for (size_t i = 0; i < n; i++) dst[i] = float_of((uint32_t)src[i] << 16);
}

void qc_f32_to_bf16(const float *src, uint16_t *dst, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = float_to_bfloat(src[i]);
}
