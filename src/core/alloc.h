/*
 * alloc.h - the one door through which the core allocates.
 *
 * Every allocation goes through st_malloc/st_calloc/st_realloc so that a
 * test build can make the Nth allocation fail (st_alloc_fail_at) and check
 * that the failing call changed nothing (rule 8: failures change nothing).
 */
#ifndef SOCKTAB_ALLOC_H
#define SOCKTAB_ALLOC_H

#include <stddef.h>
#include <stdint.h>

void *st_malloc(size_t n);
void *st_calloc(size_t nmemb, size_t size);
void *st_realloc(void *p, size_t n);
void st_free(void *p);

/* For allocators layered on these (htab.c's pool): count one allocation
 * attempt that is served without calling malloc; nonzero when the test
 * hook chose this attempt to fail.  Keeps "fail the Nth allocation"
 * exhaustive over every object a call takes, wherever it comes from. */
int st_alloc_attempt(void);

/* A block for a large table, freed with st_free: 64-byte aligned, and
 * from ST_HUGE_PAGE on aligned to it with transparent huge pages
 * requested; zeroed when `zero`.  One allocation for the failure hook. */
#define ST_HUGE_PAGE ((size_t)2 << 20)
void *st_alloc_table(size_t bytes, int zero);

/* Test hook: the allocation numbered `n` from now (1 = the next one) fails;
 * 0 disables.  Returns how many allocations happened since the last call. */
uint64_t st_alloc_fail_at(uint64_t n);

#endif
