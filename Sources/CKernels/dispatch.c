#include "CKernels.h"
#include "dispatch.h"

static int forced_portable = 0;

void qc_force_portable(int portable) { forced_portable = portable; }

int qc_has_avx2(void) {
#if QC_X86
    static int cached = -1;
    if (forced_portable) return 0;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    }
    return cached;
#else
    return 0;
#endif
}

int qc_simd_level(void) { return qc_has_avx2(); }

int qc_cpu_has_avx512(void) {
#if QC_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#else
    return 0;
#endif
}
