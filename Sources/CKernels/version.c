// quadcat's version, from the one place it is written: the VERSION file at the repository root. The
// Python package's version (python/setup.py) and the wheel's name read the same file; the binary takes
// it in here at compile time (C23 #embed, clang 19 or later: Swift 6.1's toolchain and newer), and
// clang names the file in the object's dependencies, so editing VERSION rebuilds this file.
#include "CKernels.h"

#if !defined(__has_embed)
#error "quadcat needs a C compiler with #embed (clang 19 or later, as in Swift 6.1+) to read VERSION"
#elif !__has_embed("../../VERSION")
#error "VERSION is missing from the repository root"
#endif

#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wc23-extensions"
static const char version_file[] = {
#embed "../../VERSION"
    , 0};
#pragma clang diagnostic pop

const char *qc_version_file(void) { return version_file; }
