// Greedy k-means++'s trials (issue 23): each step needs, for every row, min(nearest, d(row, trial)) for a
// handful of trial points. That pass streams every row once per step and is bound by memory, so the
// rows are screened on a float16 copy (half the bytes) and the float32 distance is computed only where
// the screen cannot prove it is no smaller than `nearest` (about 0.1-0.2% of pairs on real embeddings).
// The result is exactly the float32 one.
#include <math.h>
#include <stdint.h>
#include "CKernels.h"
#include "dispatch.h"

// The distance below must round like the Swift expression it replaced, `max(0, norm - 2 * dot + trialNorm)`:
// two separate roundings, no fused multiply-add.
#pragma STDC FP_CONTRACT OFF

/// Swift's `max(0, (norm - 2 * dot) + trialNorm)`: `y >= x ? y : x`, so -0 stays -0 and NaN becomes 0.
static float squared_distance(float norm, float dot, float trial_norm) {
    float d = (norm - 2.0f * dot) + trial_norm;
    return d >= 0 ? d : 0;
}

/// Swift's `min(nearest, d)`: `y < x ? y : x`.
static float nearer(float nearest, float d) { return d < nearest ? d : nearest; }

static float exact_entry(const float *row, size_t dim, float norm, float nearest, const float *trial, float trial_norm) {
    float dot;
    qc_dot_rows_vectors(row, 1, dim, trial, 1, &dot);
    return nearer(nearest, squared_distance(norm, dot, trial_norm));
}

#if QC_X86
enum { SCREEN_TRIALS = 4, MAX_SCREEN_TRIALS = 64 };

/// The screen's error bound |d - d~| between the float32 distance and the one from float16 rows, as
/// x P_t + Q_t + R_x for a row of length x: float16 rounding moves each element by at most 2^-11 of
/// itself (2^-25 below the normal range), each dot product rounds by at most dim x 2^-24 of
/// sum |x_i c_i| <= |x||c|, and each of the two additions by 2^-24 of its magnitude, x^2 + c^2 + 2|x||c|.
/// One percent on top covers the squared lengths' own rounding and the bound's.
typedef struct { float p, q; } trial_bound;

static trial_bound bound_for_trial(float c2, size_t dim) {
    const float u = 0x1p-24f, c = sqrtf(c2);
    float dot = 0x1p-11f + 2.01f * (float)dim * u;
    return (trial_bound){1.01f * c * (2.0f * dot + 8.04f * u), 1.01f * (2.0f * 0x1p-25f * sqrtf((float)dim) * c + 4.0f * u * c2)};
}

static float bound_for_row(float x2) { return 1.01f * 4.0f * 0x1p-24f * x2; }

/// The lane sums of eight accumulators, in order (any order of additions will do for the screen).
QC_AVX2 static __m256 lane_sums8(__m256 v0, __m256 v1, __m256 v2, __m256 v3, __m256 v4, __m256 v5, __m256 v6, __m256 v7) {
    __m256 s0 = _mm256_hadd_ps(_mm256_hadd_ps(v0, v1), _mm256_hadd_ps(v2, v3));
    __m256 s1 = _mm256_hadd_ps(_mm256_hadd_ps(v4, v5), _mm256_hadd_ps(v6, v7));
    return _mm256_add_ps(_mm256_permute2f128_ps(s0, s1, 0x20), _mm256_permute2f128_ps(s0, s1, 0x31));
}

QC_AVX2 static __m256 half8(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }

/// Two rows (float16) against up to four trials: approximate dots in eight registers, screened eight
/// lanes at a time (lane 4r + t is row r, trial t); each entry is either proven to be `nearest` or
/// computed exactly.
QC_AVX2 static void screen_pair(const float *rows, const uint16_t *half, size_t i, size_t dim, const float *norms,
                                const float *nearest, const float *trials, const float *trial_norms,
                                const trial_bound *bounds, size_t m, float *out, size_t stride) {
    size_t count = m < SCREEN_TRIALS ? m : SCREEN_TRIALS;
    const float *v[SCREEN_TRIALS];
    for (size_t t = 0; t < SCREEN_TRIALS; t++) v[t] = trials + (t < count ? t : count - 1) * dim;
    const uint16_t *h0 = half + i * dim, *h1 = h0 + dim;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    size_t j = 0;
    for (; j + 8 <= dim; j += 8) {
        __m256 x = half8(h0 + j), y = half8(h1 + j), w;
        w = _mm256_loadu_ps(v[0] + j); a0 = _mm256_fmadd_ps(x, w, a0); b0 = _mm256_fmadd_ps(y, w, b0);
        w = _mm256_loadu_ps(v[1] + j); a1 = _mm256_fmadd_ps(x, w, a1); b1 = _mm256_fmadd_ps(y, w, b1);
        w = _mm256_loadu_ps(v[2] + j); a2 = _mm256_fmadd_ps(x, w, a2); b2 = _mm256_fmadd_ps(y, w, b2);
        w = _mm256_loadu_ps(v[3] + j); a3 = _mm256_fmadd_ps(x, w, a3); b3 = _mm256_fmadd_ps(y, w, b3);
    }
    float dots[8];
    _mm256_storeu_ps(dots, lane_sums8(a0, a1, a2, a3, b0, b1, b2, b3));
    for (; j < dim; j++)
        for (size_t l = 0; l < 8; l++) dots[l] += _cvtsh_ss((l < 4 ? h0 : h1)[j]) * v[l % 4][j];
    float n0 = norms[i], n1 = norms[i + 1], near0 = nearest[i], near1 = nearest[i + 1];
    float x0 = sqrtf(n0), x1 = sqrtf(n1), r0 = bound_for_row(n0), r1 = bound_for_row(n1);
    const trial_bound *tb = bounds;
    size_t last = count - 1;
    __m256 norm = _mm256_setr_ps(n0, n0, n0, n0, n1, n1, n1, n1);
    __m256 c2 = _mm256_setr_ps(trial_norms[0], trial_norms[1 < count ? 1 : last], trial_norms[2 < count ? 2 : last],
                               trial_norms[last], trial_norms[0], trial_norms[1 < count ? 1 : last],
                               trial_norms[2 < count ? 2 : last], trial_norms[last]);
    __m256 p = _mm256_setr_ps(tb[0].p, tb[1 < count ? 1 : last].p, tb[2 < count ? 2 : last].p, tb[last].p, tb[0].p,
                              tb[1 < count ? 1 : last].p, tb[2 < count ? 2 : last].p, tb[last].p);
    __m256 q = _mm256_setr_ps(tb[0].q, tb[1 < count ? 1 : last].q, tb[2 < count ? 2 : last].q, tb[last].q, tb[0].q,
                              tb[1 < count ? 1 : last].q, tb[2 < count ? 2 : last].q, tb[last].q);
    __m256 dot = _mm256_loadu_ps(dots);
    __m256 approx = _mm256_add_ps(_mm256_sub_ps(norm, _mm256_add_ps(dot, dot)), c2);
    __m256 bound = _mm256_add_ps(_mm256_fmadd_ps(_mm256_setr_ps(x0, x0, x0, x0, x1, x1, x1, x1), p, q),
                                 _mm256_setr_ps(r0, r0, r0, r0, r1, r1, r1, r1));
    __m256 near = _mm256_setr_ps(near0, near0, near0, near0, near1, near1, near1, near1);
    int settled = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_sub_ps(approx, bound), near, _CMP_GE_OQ));
    for (size_t t = 0; t < count; t++) {
        out[t] = settled >> t & 1 ? near0 : exact_entry(rows + i * dim, dim, n0, near0, v[t], trial_norms[t]);
        out[stride + t] = settled >> (4 + t) & 1 ? near1 : exact_entry(rows + (i + 1) * dim, dim, n1, near1, v[t], trial_norms[t]);
    }
}

QC_AVX2 static void screened_avx2(const float *rows, const uint16_t *half, size_t n, size_t dim, const float *norms,
                                  const float *nearest, const float *trials, const float *trial_norms, size_t m,
                                  float *out) {
    trial_bound bounds[MAX_SCREEN_TRIALS];
    for (size_t t = 0; t < m; t++) bounds[t] = bound_for_trial(trial_norms[t], dim);
    size_t i = 0;
    for (; i + 2 <= n; i += 2)
        for (size_t t0 = 0; t0 < m; t0 += SCREEN_TRIALS)
            screen_pair(rows, half, i, dim, norms, nearest, trials + t0 * dim, trial_norms + t0, bounds + t0, m - t0,
                        out + i * m + t0, m);
    for (; i < n; i++)
        for (size_t t = 0; t < m; t++)
            out[i * m + t] = exact_entry(rows + i * dim, dim, norms[i], nearest[i], trials + t * dim, trial_norms[t]);
}
#endif

void qc_trial_nearest(const float *rows, const uint16_t *half, size_t n, size_t dim, const float *norms,
                      const float *nearest, const float *trials, const float *trial_norms, size_t m, float *out) {
#if QC_X86
    if (half && m <= MAX_SCREEN_TRIALS && qc_has_avx2()) {
        screened_avx2(rows, half, n, dim, norms, nearest, trials, trial_norms, m, out);
        return;
    }
#endif
    qc_dot_rows_vectors(rows, n, dim, trials, m, out);
    for (size_t i = 0; i < n; i++)
        for (size_t t = 0; t < m; t++)
            out[i * m + t] = nearer(nearest[i], squared_distance(norms[i], out[i * m + t], trial_norms[t]));
}
