#ifndef NABLA_ALLOC_COUNTER_H
#define NABLA_ALLOC_COUNTER_H

/// How many times this thread has called malloc, calloc or realloc. Linked only into
/// nabla-allocations, which so defines malloc and friends in front of glibc's (they count,
/// then call glibc's own __libc_* entry points): bench/graph.sh shows with it how many heap
/// allocations the graph makes per node.
unsigned long nabla_allocations(void);

/// 1 when the counting wrappers are in force (glibc), 0 when this platform has none.
int nabla_allocations_counted(void);

#endif
