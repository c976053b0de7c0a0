// File-system calls that need GNU extensions Swift's Glibc module does not expose.
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/mman.h>
#include "CKernels.h"

int qc_start_writeback(int fd, int64_t offset, int64_t length) {
#ifdef __linux__
    return sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE);
#else
    (void)fd; (void)offset; (void)length;
    return 0;
#endif
}

void *qc_map_readonly(int fd, size_t length, int populate) {
    int flags = MAP_SHARED;
#ifdef MAP_POPULATE
    if (populate) flags |= MAP_POPULATE;
#else
    (void)populate;
#endif
    void *p = mmap(NULL, length, PROT_READ, flags, fd, 0);
    if (p == MAP_FAILED) return NULL;
#ifdef MADV_SEQUENTIAL
    madvise(p, length, MADV_SEQUENTIAL);
#endif
    return p;
}

int qc_unmap(void *address, size_t length) { return munmap(address, length); }
