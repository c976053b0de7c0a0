// Greedy k-means++'s trials (issue 23): each step needs, for every row, min(nearest, d(row, trial)) for a
// handful of trial points. That pass streams every row once per step and is bound by memory, so each
// (row, trial) pair is screened before any float32 product: first on the rows' principal coordinates
// (a lower bound on the distance, a few bytes a row), then on a float16 copy of the rows (half their
// bytes). The float32 distance is computed only where neither screen can prove it no smaller than
// `nearest`, so the result is exactly the float32 one.
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

QC_AVX2 static float lane_sum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)));
}

QC_AVX2 static __m256 half8(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }

/// A group of up to four trials as the eight lanes of a 2 x 4 tile (lane 4r + t; missing trials repeat
/// the last), with everything about them that does not depend on the row, computed once per call.
typedef struct {
    size_t count;
    const float *vectors[SCREEN_TRIALS];
    float norms[SCREEN_TRIALS];
    trial_bound bounds[SCREEN_TRIALS];
    /// The float16 screen's lanes: squared norms and bound terms.
    __m256 norm_lanes, bound_p, bound_q;
    /// The principal screen's lanes (when it runs): coordinates, their squared norms and lengths, and
    /// the float32 distance's error terms.
    const float *coords[SCREEN_TRIALS];
    __m256 coord_norms, coord_lengths, exact_p, exact_q;
} trial_lanes;

/// E_d's per-trial terms: |d - |x - c|^2| <= 1.02 (2.02 dim u |x||c| + 4 u |x||c| + 5 u (|x|^2 + |c|^2)),
/// d the float32 distance the selectors compute (norms rounded, the dot, two additions).
static trial_bound exact_bound_for_trial(float c2, size_t dim) {
    const float u = 0x1p-24f, c = sqrtf(c2);
    return (trial_bound){1.02f * c * (2.02f * (float)dim * u + 4.0f * u), 1.02f * 5.0f * u * c2};
}

QC_AVX2 static trial_lanes lanes_for(const float *trials, const float *trial_norms, size_t dim, const qc_principal_coords *pc,
                                     size_t t0, size_t m) {
    trial_lanes g;
    g.count = m - t0 < SCREEN_TRIALS ? m - t0 : SCREEN_TRIALS;
    float cn[8], bp[8], bq[8], yn[8], ep[8], eq[8];
    for (size_t l = 0; l < 8; l++) {
        size_t t = t0 + (l % 4 < g.count ? l % 4 : g.count - 1);
        trial_bound screen = bound_for_trial(trial_norms[t], dim);
        if (l < SCREEN_TRIALS) {
            g.vectors[l] = trials + t * dim;
            g.norms[l] = trial_norms[t];
            g.bounds[l] = screen;
        }
        cn[l] = trial_norms[t];
        bp[l] = screen.p;
        bq[l] = screen.q;
        if (pc) {
            trial_bound exact = exact_bound_for_trial(trial_norms[t], dim);
            yn[l] = pc->trial_norms[t];
            ep[l] = exact.p;
            eq[l] = exact.q;
            if (l < SCREEN_TRIALS) g.coords[l] = pc->trials + t * pc->p;
        }
    }
    g.norm_lanes = _mm256_loadu_ps(cn);
    g.bound_p = _mm256_loadu_ps(bp);
    g.bound_q = _mm256_loadu_ps(bq);
    if (pc) {
        g.coord_norms = _mm256_loadu_ps(yn);
        g.coord_lengths = _mm256_sqrt_ps(g.coord_norms);
        g.exact_p = _mm256_loadu_ps(ep);
        g.exact_q = _mm256_loadu_ps(eq);
    }
    return g;
}

/// The dots of two rows with four vectors over [0, len) (len a multiple of 8), as eight lanes (4r + t).
/// The rows are float16 (`half`) or float32; each call site passes a constant, so each gets its own loop.
QC_AVX2 __attribute__((always_inline)) static inline __m256 tile_dots(const void *r0, const void *r1, int half, size_t len,
                                                                      const float *const v[SCREEN_TRIALS]) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    for (size_t j = 0; j < len; j += 8) {
        __m256 x = half ? half8((const uint16_t *)r0 + j) : _mm256_loadu_ps((const float *)r0 + j);
        __m256 y = half ? half8((const uint16_t *)r1 + j) : _mm256_loadu_ps((const float *)r1 + j), w;
        w = _mm256_loadu_ps(v[0] + j); a0 = _mm256_fmadd_ps(x, w, a0); b0 = _mm256_fmadd_ps(y, w, b0);
        w = _mm256_loadu_ps(v[1] + j); a1 = _mm256_fmadd_ps(x, w, a1); b1 = _mm256_fmadd_ps(y, w, b1);
        w = _mm256_loadu_ps(v[2] + j); a2 = _mm256_fmadd_ps(x, w, a2); b2 = _mm256_fmadd_ps(y, w, b2);
        w = _mm256_loadu_ps(v[3] + j); a3 = _mm256_fmadd_ps(x, w, a3); b3 = _mm256_fmadd_ps(y, w, b3);
    }
    return lane_sums8(a0, a1, a2, a3, b0, b1, b2, b3);
}

QC_AVX2 static __m256 pair_lanes(float first, float second) { return _mm256_set_m128(_mm_set1_ps(second), _mm_set1_ps(first)); }

/// Two rows (float16) against a group of trials: approximate dots in eight registers, screened eight
/// lanes at a time (lane 4r + t is row r, trial t; lanes in `known` are already settled); each entry is
/// either proven to be `nearest` or computed exactly.
QC_AVX2 static void screen_pair(const float *rows, const uint16_t *half, size_t i, size_t dim, const float *norms,
                                const float *nearest, const trial_lanes *g, int known, float *out, size_t stride) {
    const uint16_t *h0 = half + i * dim, *h1 = h0 + dim;
    size_t body = dim & ~(size_t)7;
    float dots[8];
    _mm256_storeu_ps(dots, tile_dots(h0, h1, 1, body, g->vectors));
    for (size_t j = body; j < dim; j++)
        for (size_t l = 0; l < 8; l++) dots[l] += _cvtsh_ss((l < 4 ? h0 : h1)[j]) * g->vectors[l % 4][j];
    float n0 = norms[i], n1 = norms[i + 1], near0 = nearest[i], near1 = nearest[i + 1];
    __m256 dot = _mm256_loadu_ps(dots);
    __m256 approx = _mm256_add_ps(_mm256_sub_ps(pair_lanes(n0, n1), _mm256_add_ps(dot, dot)), g->norm_lanes);
    __m256 bound = _mm256_add_ps(_mm256_fmadd_ps(pair_lanes(sqrtf(n0), sqrtf(n1)), g->bound_p, g->bound_q),
                                 pair_lanes(bound_for_row(n0), bound_for_row(n1)));
    int settled = known | _mm256_movemask_ps(_mm256_cmp_ps(_mm256_sub_ps(approx, bound), pair_lanes(near0, near1), _CMP_GE_OQ));
    for (size_t t = 0; t < g->count; t++) {
        out[t] = settled >> t & 1 ? near0 : exact_entry(rows + i * dim, dim, n0, near0, g->vectors[t], g->norms[t]);
        out[stride + t] = settled >> (4 + t) & 1 ? near1 : exact_entry(rows + (i + 1) * dim, dim, n1, near1, g->vectors[t], g->norms[t]);
    }
}

/// One row (float16) against a group of trials, for a pair whose other row the first screen settled:
/// the float16 screen of `screen_pair` on one row, lanes in `known` (bit t) already settled.
QC_AVX2 static void screen_row(const float *rows, const uint16_t *half, size_t i, size_t dim, const float *norms,
                               const float *nearest, const trial_lanes *g, int known, float *out) {
    const float *const *v = g->vectors;
    const uint16_t *h = half + i * dim;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    size_t j = 0;
    for (; j + 8 <= dim; j += 8) {
        __m256 x = half8(h + j);
        a0 = _mm256_fmadd_ps(x, _mm256_loadu_ps(v[0] + j), a0);
        a1 = _mm256_fmadd_ps(x, _mm256_loadu_ps(v[1] + j), a1);
        a2 = _mm256_fmadd_ps(x, _mm256_loadu_ps(v[2] + j), a2);
        a3 = _mm256_fmadd_ps(x, _mm256_loadu_ps(v[3] + j), a3);
    }
    __m256 acc[SCREEN_TRIALS] = {a0, a1, a2, a3};
    float norm = norms[i], near = nearest[i], x = sqrtf(norm), r = bound_for_row(norm);
    for (size_t t = 0; t < g->count; t++) {
        if (known >> t & 1) { out[t] = near; continue; }
        float dot = lane_sum(acc[t]);
        for (size_t k = j; k < dim; k++) dot += _cvtsh_ss(h[k]) * v[t][k];
        float approx = (norm - 2.0f * dot) + g->norms[t];
        out[t] = approx - (x * g->bounds[t].p + g->bounds[t].q + r) >= near
            ? near
            : exact_entry(rows + i * dim, dim, norm, near, v[t], g->norms[t]);
    }
}

/// The first screen, on the rows' principal coordinates y = P^T (x - mu) (p of them, P orthonormal):
/// |y_x - y_c| <= |x - c|, so a lower bound on |y_x - y_c| (after the float rounding of y and of its
/// own expansion) that clears `nearest` by the float32 distance's error E_d settles a pair without
/// reading the row. Also settles every lane whose `nearest` is 0 (min(0, d) is 0 for any d >= 0).
/// Returns the settled lanes of rows i, i + 1 against the group (bit 4r + t).
QC_AVX2 static int principal_settled(const qc_principal_coords *pc, size_t i, const float *norms, const float *nearest,
                                     const trial_lanes *g) {
    const float u = 0x1p-24f;
    size_t p = pc->p;
    __m256 dot = tile_dots(pc->rows + i * p, pc->rows + (i + 1) * p, 0, p, g->coords);
    __m256 ya2 = pair_lanes(pc->norms[i], pc->norms[i + 1]);
    __m256 ya = _mm256_sqrt_ps(ya2), yb = g->coord_lengths, sum = _mm256_add_ps(ya, yb);
    // |L - |y~_x - y~_c|^2| <= 2 p u |a||b| (the dot) + 3 u (|a| + |b|)^2 (the squared norms and two
    // additions), taken as 8 u (|a| + |b|)^2 with 5% on top.
    __m256 lb = _mm256_add_ps(_mm256_sub_ps(ya2, _mm256_add_ps(dot, dot)), g->coord_norms);
    __m256 e1 = _mm256_mul_ps(_mm256_set1_ps(1.05f), _mm256_fmadd_ps(_mm256_set1_ps(2.0f * (float)p * u), _mm256_mul_ps(ya, yb),
                                                                    _mm256_mul_ps(_mm256_set1_ps(8.0f * u), _mm256_mul_ps(sum, sum))));
    // Each coordinate of y~ is y rounded once to float: |y~ - y| <= u |y|; `slack` covers the float64 work.
    __m256 lower = _mm256_sub_ps(_mm256_sqrt_ps(_mm256_max_ps(_mm256_sub_ps(lb, e1), _mm256_setzero_ps())),
                                 _mm256_fmadd_ps(_mm256_set1_ps(1.01f * u), sum, _mm256_set1_ps(pc->slack)));
    lower = _mm256_max_ps(lower, _mm256_setzero_ps());
    float n0 = norms[i], n1 = norms[i + 1];
    __m256 ed = _mm256_fmadd_ps(pair_lanes(sqrtf(n0), sqrtf(n1)), g->exact_p,
                                _mm256_add_ps(g->exact_q, pair_lanes(1.02f * 5.0f * u * n0, 1.02f * 5.0f * u * n1)));
    // One part in a million off the bound covers its own float arithmetic.
    __m256 floor = _mm256_sub_ps(_mm256_mul_ps(_mm256_mul_ps(lower, lower), _mm256_set1_ps(1 - 1e-6f)), ed);
    float near0 = nearest[i], near1 = nearest[i + 1];
    int settled = _mm256_movemask_ps(_mm256_cmp_ps(floor, pair_lanes(near0, near1), _CMP_GE_OQ));
    if (near0 == 0) settled |= 0x0f;
    if (near1 == 0) settled |= 0xf0;
    return settled;
}

static void prefetch_row(const uint16_t *half, size_t dim) {
    for (size_t b = 0; b < dim * sizeof(uint16_t); b += 64) __builtin_prefetch((const char *)half + b);
}

enum { MAX_GROUPS = MAX_SCREEN_TRIALS / SCREEN_TRIALS, BATCH_PAIRS = 32 };

QC_AVX2 static void screened_avx2(const float *rows, const uint16_t *half, size_t n, size_t dim, const float *norms,
                                  const float *nearest, const float *trials, const float *trial_norms, size_t m,
                                  const qc_principal_coords *pc, float *out) {
    size_t groups = (m + SCREEN_TRIALS - 1) / SCREEN_TRIALS;
    trial_lanes lanes[MAX_GROUPS];
    for (size_t g = 0; g < groups; g++) lanes[g] = lanes_for(trials, trial_norms, dim, pc, g * SCREEN_TRIALS, m);
    // A batch of pairs through the first screen, the rows it leaves prefetched, then the float16 screen
    // for those: the few rows left are scattered, and each would otherwise wait on memory.
    int known[BATCH_PAIRS][MAX_GROUPS];
    size_t i0 = 0;
    for (; i0 + 2 <= n; i0 += 2 * BATCH_PAIRS) {
        size_t pairs = (n - i0) / 2 < BATCH_PAIRS ? (n - i0) / 2 : BATCH_PAIRS;
        for (size_t q = 0; q < pairs; q++) {
            size_t i = i0 + 2 * q;
            int open = 0;
            for (size_t g = 0; g < groups; g++) {
                int full = (1 << lanes[g].count) - 1;
                known[q][g] = pc ? principal_settled(pc, i, norms, nearest, &lanes[g]) & (full | full << 4) : 0;
                open |= (known[q][g] & full) != full ? 1 : 0;
                open |= (known[q][g] >> 4 & full) != full ? 2 : 0;
            }
            if (pc && open & 1) prefetch_row(half + i * dim, dim);
            if (pc && open & 2) prefetch_row(half + (i + 1) * dim, dim);
        }
        for (size_t q = 0; q < pairs; q++) {
            size_t i = i0 + 2 * q;
            for (size_t g = 0; g < groups; g++) {
                int full = (1 << lanes[g].count) - 1, first = known[q][g] & full, second = known[q][g] >> 4 & full;
                float *tile = out + i * m + g * SCREEN_TRIALS;
                if (first != full && second != full) {
                    screen_pair(rows, half, i, dim, norms, nearest, &lanes[g], known[q][g], tile, m);
                    continue;
                }
                // One row settled (or both): the other alone, if it needs it, through the float16 screen.
                for (size_t r = 0; r < 2; r++) {
                    int own = r == 0 ? first : second;
                    if (own == full) {
                        for (size_t t = 0; t < lanes[g].count; t++) tile[r * m + t] = nearest[i + r];
                    } else {
                        screen_row(rows, half, i + r, dim, norms, nearest, &lanes[g], own, tile + r * m);
                    }
                }
            }
        }
    }
    for (size_t i = n - n % 2; i < n; i++)
        for (size_t t = 0; t < m; t++)
            out[i * m + t] = exact_entry(rows + i * dim, dim, norms[i], nearest[i], trials + t * dim, trial_norms[t]);
}
#endif

void qc_trial_nearest(const float *rows, const uint16_t *half, size_t n, size_t dim, const float *norms,
                      const float *nearest, const float *trials, const float *trial_norms, size_t m,
                      const qc_principal_coords *coords, float *out) {
#if QC_X86
    if (half && m <= MAX_SCREEN_TRIALS && qc_has_avx2()) {
        screened_avx2(rows, half, n, dim, norms, nearest, trials, trial_norms, m,
                      coords && coords->p > 0 && coords->p % 8 == 0 ? coords : NULL, out);
        return;
    }
#endif
    qc_dot_rows_vectors(rows, n, dim, trials, m, out);
    for (size_t i = 0; i < n; i++)
        for (size_t t = 0; t < m; t++)
            out[i * m + t] = nearer(nearest[i], squared_distance(norms[i], out[i * m + t], trial_norms[t]));
}
