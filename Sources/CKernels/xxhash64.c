// xxHash64 (Yann Collet), bit-compatible with the reference implementation; used for chunk checksums.
#include <string.h>
#include "CKernels.h"

static const uint64_t P1 = 0x9E3779B185EBCA87ULL, P2 = 0xC2B2AE3D27D4EB4FULL, P3 = 0x165667B19E3779F9ULL,
                      P4 = 0x85EBCA77C2B2AE63ULL, P5 = 0x27D4EB2F165667C5ULL;

static inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
static inline uint64_t read64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static inline uint32_t read32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t round64(uint64_t acc, uint64_t input) { acc += input * P2; acc = rotl(acc, 31); return acc * P1; }
static inline uint64_t merge64(uint64_t acc, uint64_t val) { acc ^= round64(0, val); return acc * P1 + P4; }

void qc_xxh64_init(qc_xxh64_state *s, uint64_t seed) {
    memset(s, 0, sizeof(*s));
    s->seed = seed;
    s->v[0] = seed + P1 + P2;
    s->v[1] = seed + P2;
    s->v[2] = seed;
    s->v[3] = seed - P1;
}

static const uint8_t *consume_stripes(uint64_t v[4], const uint8_t *p, const uint8_t *limit) {
    uint64_t v1 = v[0], v2 = v[1], v3 = v[2], v4 = v[3];
    while (p + 32 <= limit) {
        v1 = round64(v1, read64(p));
        v2 = round64(v2, read64(p + 8));
        v3 = round64(v3, read64(p + 16));
        v4 = round64(v4, read64(p + 24));
        p += 32;
    }
    v[0] = v1; v[1] = v2; v[2] = v3; v[3] = v4;
    return p;
}

void qc_xxh64_update(qc_xxh64_state *s, const void *data, size_t len) {
    const uint8_t *p = (const uint8_t *)data, *end = p + len;
    s->total_len += len;
    if (s->buffered + len < 32) {
        memcpy(s->buffer + s->buffered, p, len);
        s->buffered += (uint32_t)len;
        return;
    }
    if (s->buffered) {
        size_t fill = 32 - s->buffered;
        memcpy(s->buffer + s->buffered, p, fill);
        consume_stripes(s->v, s->buffer, s->buffer + 32);
        p += fill;
        s->buffered = 0;
    }
    p = consume_stripes(s->v, p, end);
    if (p < end) {
        memcpy(s->buffer, p, (size_t)(end - p));
        s->buffered = (uint32_t)(end - p);
    }
}

uint64_t qc_xxh64_digest(const qc_xxh64_state *s) {
    uint64_t h;
    if (s->total_len >= 32) {
        h = rotl(s->v[0], 1) + rotl(s->v[1], 7) + rotl(s->v[2], 12) + rotl(s->v[3], 18);
        for (int i = 0; i < 4; i++) h = merge64(h, s->v[i]);
    } else {
        h = s->seed + P5;
    }
    h += s->total_len;
    const uint8_t *p = s->buffer, *end = s->buffer + s->buffered;
    while (p + 8 <= end) { h ^= round64(0, read64(p)); h = rotl(h, 27) * P1 + P4; p += 8; }
    if (p + 4 <= end) { h ^= (uint64_t)read32(p) * P1; h = rotl(h, 23) * P2 + P3; p += 4; }
    while (p < end) { h ^= (*p) * P5; h = rotl(h, 11) * P1; p++; }
    h ^= h >> 33; h *= P2; h ^= h >> 29; h *= P3; h ^= h >> 32;
    return h;
}

uint64_t qc_xxh64(const void *data, size_t len, uint64_t seed) {
    qc_xxh64_state s;
    qc_xxh64_init(&s, seed);
    qc_xxh64_update(&s, data, len);
    return qc_xxh64_digest(&s);
}
