// Interposes the allocation functions of the test executable: every call is
// forwarded to glibc's own implementation, and counted when the calling thread
// has asked (thread-local, so tests running on other threads do not count).
#include "AllocationCounter.h"

#include <errno.h>  // also defines __GLIBC__ through <features.h>
#include <stddef.h>

#if defined(__linux__) && defined(__GLIBC__)

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);

static __thread bool counting = false;
static __thread long allocations = 0;

static inline void count(void) {
    if (counting) allocations += 1;
}

void *malloc(size_t size) {
    count();
    return __libc_malloc(size);
}

void *calloc(size_t count_, size_t size) {
    count();
    return __libc_calloc(count_, size);
}

void *realloc(void *pointer, size_t size) {
    count();
    return __libc_realloc(pointer, size);
}

void *memalign(size_t alignment, size_t size) {
    count();
    return __libc_memalign(alignment, size);
}

void *aligned_alloc(size_t alignment, size_t size) {
    count();
    return __libc_memalign(alignment, size);
}

int posix_memalign(void **result, size_t alignment, size_t size) {
    count();
    // A power of two and a multiple of sizeof(void *), as POSIX requires.
    if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment % sizeof(void *) != 0) return EINVAL;
    void *pointer = __libc_memalign(alignment, size);
    if (pointer == NULL) return ENOMEM;
    *result = pointer;
    return 0;
}

bool kiln_allocation_counting_supported(void) { return true; }

void kiln_allocation_counting_begin(void) {
    allocations = 0;
    counting = true;
}

long kiln_allocation_counting_end(void) {
    counting = false;
    return allocations;
}

#else

bool kiln_allocation_counting_supported(void) { return false; }
void kiln_allocation_counting_begin(void) {}
long kiln_allocation_counting_end(void) { return -1; }

#endif
