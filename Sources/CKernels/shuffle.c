// Blosc-style byte shuffle: group byte b of every element together so that LZ4 sees long runs of
// similar bytes (sign/exponent bytes of floats).
#include "CKernels.h"

void qc_byte_shuffle(const uint8_t *src, uint8_t *dst, size_t n, size_t elem_size) {
    for (size_t b = 0; b < elem_size; b++) {
        uint8_t *plane = dst + b * n;
        const uint8_t *in = src + b;
        for (size_t i = 0; i < n; i++) plane[i] = in[i * elem_size];
    }
}

void qc_byte_unshuffle(const uint8_t *src, uint8_t *dst, size_t n, size_t elem_size) {
    for (size_t b = 0; b < elem_size; b++) {
        const uint8_t *plane = src + b * n;
        uint8_t *out = dst + b;
        for (size_t i = 0; i < n; i++) out[i * elem_size] = plane[i];
    }
}
