// Counts the heap allocations the calling thread makes between two calls, by
// interposing malloc and its relatives in the test executable (glibc only).
#ifndef KILN_ALLOCATION_COUNTER_H
#define KILN_ALLOCATION_COUNTER_H

#include <stdbool.h>

/// Whether allocations can be counted here (Linux with glibc).
bool kiln_allocation_counting_supported(void);

/// Starts counting the calling thread's allocations from 0.
void kiln_allocation_counting_begin(void);

/// Stops counting and returns how many allocations the calling thread made since `begin`.
long kiln_allocation_counting_end(void);

#endif
