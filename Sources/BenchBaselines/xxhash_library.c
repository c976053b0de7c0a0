// libxxhash's XXH64, for comparing with quadcat's own xxHash64 (CKernels/xxhash64.c).
#include <xxhash.h>
#include "BenchBaselines.h"

uint64_t baseline_library_xxh64(const void *data, size_t len, uint64_t seed) { return XXH64(data, len, seed); }
