// Baselines for `make bench` only: code quadcat does not use, measured next to what it does use.
#ifndef QUADCAT_BENCHBASELINES_H
#define QUADCAT_BENCHBASELINES_H

#include <stddef.h>
#include <stdint.h>

/// The hand-written SHA-256 that OpenSSL replaced (same digests, no SHA extensions).
typedef struct {
    uint32_t h[8];
    uint64_t total_len;
    uint8_t buffer[64];
    uint32_t buffered;
} baseline_sha256_state;

void baseline_sha256_init(baseline_sha256_state *state);
void baseline_sha256_update(baseline_sha256_state *state, const void *data, size_t len);
void baseline_sha256_final(baseline_sha256_state *state, uint8_t out[32]);

/// libxxhash's XXH64 (the system library), next to quadcat's own `qc_xxh64`.
uint64_t baseline_library_xxh64(const void *data, size_t len, uint64_t seed);

#endif
