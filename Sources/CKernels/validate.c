// Finding NaN and infinity in stored precisions without converting.
#include <stddef.h>
#include <string.h>
#include "CKernels.h"
#include "dispatch.h"

#if QC_X86
QC_AVX2 static ptrdiff_t first_nonfinite_f32_avx2(const float *src, size_t n) {
    const __m256i mask = _mm256_set1_epi32(0x7f800000);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i v = _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(src + i)), mask);
        if (_mm256_movemask_epi8(_mm256_cmpeq_epi32(v, mask))) break;
    }
    for (; i < n; i++) {
        uint32_t u; memcpy(&u, src + i, 4);
        if ((u & 0x7f800000u) == 0x7f800000u) return (ptrdiff_t)i;
    }
    return -1;
}

QC_AVX2 static ptrdiff_t first_nonfinite_u16_avx2(const uint16_t *src, size_t n, uint16_t exponent_mask) {
    const __m256i mask = _mm256_set1_epi16((short)exponent_mask);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i v = _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(src + i)), mask);
        if (_mm256_movemask_epi8(_mm256_cmpeq_epi16(v, mask))) break;
    }
    for (; i < n; i++) if ((src[i] & exponent_mask) == exponent_mask) return (ptrdiff_t)i;
    return -1;
}
#endif

ptrdiff_t qc_first_nonfinite_f32(const float *src, size_t n) {
#if QC_X86
    if (qc_has_avx2()) return first_nonfinite_f32_avx2(src, n);
#endif
    for (size_t i = 0; i < n; i++) {
        uint32_t u; memcpy(&u, src + i, 4);
        if ((u & 0x7f800000u) == 0x7f800000u) return (ptrdiff_t)i;
    }
    return -1;
}

static ptrdiff_t first_nonfinite_u16(const uint16_t *src, size_t n, uint16_t exponent_mask) {
#if QC_X86
    if (qc_has_avx2()) return first_nonfinite_u16_avx2(src, n, exponent_mask);
#endif
    for (size_t i = 0; i < n; i++) if ((src[i] & exponent_mask) == exponent_mask) return (ptrdiff_t)i;
    return -1;
}

ptrdiff_t qc_first_nonfinite_f16(const uint16_t *src, size_t n) { return first_nonfinite_u16(src, n, 0x7c00); }
ptrdiff_t qc_first_nonfinite_bf16(const uint16_t *src, size_t n) { return first_nonfinite_u16(src, n, 0x7f80); }
