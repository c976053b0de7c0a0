// Internal: run-time CPU feature dispatch shared by the kernel files.
#ifndef QUADCAT_CKERNELS_DISPATCH_H
#define QUADCAT_CKERNELS_DISPATCH_H

#if defined(__x86_64__) || defined(__i386__)
#define QC_X86 1
#include <immintrin.h>
#define QC_AVX2 __attribute__((target("avx2,fma,f16c")))
#else
#define QC_X86 0
#endif

/// 1 when AVX2, FMA and F16C are all available (checked once).
int qc_has_avx2(void);

#endif
