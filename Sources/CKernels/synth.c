// Counter-based noise for synthetic benchmark and test data.
//
// Value i of the stream (seed, key) depends on (seed, key, i) only, so rows of a synthetic pool can be
// generated in any order, on any number of threads, and always come out the same.
#include <math.h>
#include "CKernels.h"

static inline uint64_t splitmix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

void qc_fill_noise(uint64_t seed, uint64_t key, float scale, float *out, size_t n) {
    // Irwin-Hall sum of four 16-bit uniforms: mean 2, variance 1/3 in units of 65536; rescaled to
    // mean 0 and standard deviation `scale`. Close to a Gaussian for this purpose, and cheap.
    const uint64_t base = splitmix64(seed ^ splitmix64(key));
    const float factor = scale / (65536.0f * 0.57735026919f);
    for (size_t i = 0; i < n; i++) {
        uint64_t h = splitmix64(base + i * 0xD1B54A32D192ED03ULL);
        int32_t sum = (int32_t)(h & 0xFFFF) + (int32_t)((h >> 16) & 0xFFFF) + (int32_t)((h >> 32) & 0xFFFF) + (int32_t)(h >> 48);
        out[i] = (float)(sum - 131070) * factor;
    }
}

uint64_t qc_mix64(uint64_t a, uint64_t b) { return splitmix64(a ^ splitmix64(b)); }
