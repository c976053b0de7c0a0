// The exact nearest centroid of each row of a block from approximate GEMM scores (KMeans, Quad).
#include <float.h>
#include <math.h>
#include "CKernels.h"
#include "dispatch.h"

#if QC_X86
QC_AVX2 static float max_avx2(const float *s, size_t k) {
    __m256 m0 = _mm256_set1_ps(-INFINITY), m1 = m0;
    size_t j = 0;
    for (; j + 16 <= k; j += 16) {
        m0 = _mm256_max_ps(m0, _mm256_loadu_ps(s + j));
        m1 = _mm256_max_ps(m1, _mm256_loadu_ps(s + j + 8));
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, _mm256_max_ps(m0, m1));
    float m = lanes[0];
    for (int t = 1; t < 8; t++) m = lanes[t] > m ? lanes[t] : m;
    for (; j < k; j++) m = s[j] > m ? s[j] : m;
    return m;
}
#endif

static float max_plain(const float *s, size_t k) {
    float m = -INFINITY;
    for (size_t j = 0; j < k; j++) m = s[j] > m ? s[j] : m;
    return m;
}

void qc_nearest_refine(const float *rows, size_t n, size_t dim, const float *centroids, const float *centroid_norms2,
                       size_t k, float max_centroid_norm, const float *scores, int64_t *labels, float *distances) {
    // Rounding bound of a float dot product of length dim (any summation order, with or without FMA):
    // |fl(x.c) - x.c| <= gamma |x| |c|. The GEMM's score and the reference distance each round the dot
    // product and one addition of the norm; the margin is twice the sum of both bounds.
    const double u = (double)FLT_EPSILON / 2;
    const double gamma = dim * u / (1 - dim * u);
    float max_norm2 = 0;
    for (size_t j = 0; j < k; j++) max_norm2 = centroid_norms2[j] > max_norm2 ? centroid_norms2[j] : max_norm2;
    for (size_t i = 0; i < n; i++) {
        const float *row = rows + i * dim;
        const float *s = scores + i * k;
        double x2 = 0;
        for (size_t t = 0; t < dim; t++) x2 += (double)row[t] * row[t];
        double xc = sqrt(x2) * max_centroid_norm;
        double margin = 2 * (4 * gamma * xc + 4 * u * (max_norm2 + 2 * xc)) + FLT_MIN;
#if QC_X86
        float top = qc_has_avx2() ? max_avx2(s, k) : max_plain(s, k);
#else
        float top = max_plain(s, k);
#endif
        float threshold = (float)((double)top - margin);
        int64_t best = 0;
        float best_distance = INFINITY;
        for (size_t j = 0; j < k; j++) {
            if (!(s[j] >= threshold)) continue;
            float p;
            qc_dot_rows_vectors(row, 1, dim, centroids + j * dim, 1, &p);
            float d = centroid_norms2[j] - 2 * p;
            if (d < best_distance) { best_distance = d; best = (int64_t)j; }
        }
        if (best_distance == INFINITY) {
            // Non-finite scores (a non-finite row): the reference scan over every centroid.
            for (size_t j = 0; j < k; j++) {
                float p;
                qc_dot_rows_vectors(row, 1, dim, centroids + j * dim, 1, &p);
                float d = centroid_norms2[j] - 2 * p;
                if (d < best_distance) { best_distance = d; best = (int64_t)j; }
            }
        }
        labels[i] = best;
        float total = (float)x2 + best_distance;
        distances[i] = total > 0 ? total : 0;
    }
}
