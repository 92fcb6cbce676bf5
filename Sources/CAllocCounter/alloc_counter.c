// Counts heap allocations for nabla-allocations (never linked into nabla itself).
//
// On glibc, an executable that defines malloc, calloc, realloc and free takes them over
// for the whole process, the Swift runtime included (ELF symbol interposition); each
// wrapper counts and calls glibc's allocator through its exported __libc_* names, so
// memory from either side can be freed by the other. memalign-family calls are not
// wrapped: they go to glibc directly (the Swift runtime uses them only for alignments
// over 16 bytes) and are not counted.
#include "alloc_counter.h"
#include <stddef.h>
#include <stdlib.h>  // defines __GLIBC__ where it is glibc

#if defined(__linux__) && defined(__GLIBC__)
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);

// Per thread, and a plain increment: the program counts what its main thread does.
static _Thread_local unsigned long count;

void *malloc(size_t n) {
    count += 1;
    return __libc_malloc(n);
}

void *calloc(size_t k, size_t n) {
    count += 1;
    return __libc_calloc(k, n);
}

void *realloc(void *p, size_t n) {
    count += 1;
    return __libc_realloc(p, n);
}

void free(void *p) { __libc_free(p); }

unsigned long nabla_allocations(void) { return count; }
int nabla_allocations_counted(void) { return 1; }
#else
unsigned long nabla_allocations(void) { return 0; }
int nabla_allocations_counted(void) { return 0; }
#endif
