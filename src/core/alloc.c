/*
 * alloc.c - the core's only allocator, with a failure-injection countdown.
 *
 * Rule 8 says a failing call changes nothing.  The only way to believe
 * that is to make every allocation inside a call fail in turn and look at
 * the state afterwards, so every allocation in the core comes through
 * here and a test can arm "the Nth allocation from now returns NULL".
 * The counter it hands back (allocations since the last arming) tells the
 * test when N has gone past the last allocation the call makes, which is
 * how an exhaustive "fail each one" loop knows to stop.
 *
 * Deliberately simple: two globals, no locking.  The core is single-
 * threaded per st_net and tests arm the countdown from one thread; making
 * this thread-safe would need atomics and a per-thread notion of "the
 * Nth", which no test wants.  Zero-byte requests are rounded up to one so
 * that NULL always means "failed" (malloc(0) may legally return NULL, and
 * realloc(p, 0) may free p, which would break "a failed realloc leaves the
 * old block intact").
 *
 * st_alloc_attempt is the same countdown for allocations served by an
 * allocator above this one (htab.c's object pool hands out most objects
 * from chunks it already holds): each object counts, and can fail, as if
 * it were a malloc of its own, so that a walk that fails every
 * allocation in turn still reaches every -ENOMEM path of a call.
 */
#include "alloc.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static uint64_t fail_countdown; /* 0 = disarmed; 1 = the next one fails */
static uint64_t alloc_count;    /* attempts since the last st_alloc_fail_at */

/* Counts one attempt; true when this attempt is the one chosen to fail. */
static int should_fail(void)
{
	alloc_count++;
	if (fail_countdown == 0)
		return 0;
	if (--fail_countdown == 0)
		return 1;
	return 0;
}

void *st_malloc(size_t n)
{
	if (should_fail())
		return NULL;
	return malloc(n ? n : 1);
}

void *st_calloc(size_t nmemb, size_t size)
{
	if (should_fail())
		return NULL;
	if (nmemb == 0 || size == 0)
		nmemb = size = 1;
	return calloc(nmemb, size);
}

void *st_realloc(void *p, size_t n)
{
	/* Returning NULL without touching p is exactly realloc's own
	 * failure contract, so callers need no special case for injection. */
	if (should_fail())
		return NULL;
	return realloc(p, n ? n : 1);
}

int st_alloc_attempt(void)
{
	return should_fail();
}

/* Tables that may grow to many megabytes (the 4-tuple index, the keyed
 * table's slots, its object chunks) are read at random: 64-byte lines,
 * and from 2 MiB on, 2 MiB-aligned blocks offered to the kernel for
 * transparent huge pages, so that a read that misses the cache does not
 * also miss the TLB.  madvise is advice: without THP nothing changes. */
void *st_alloc_table(size_t bytes, int zero)
{
	void *p = NULL;
	if (should_fail())
		return NULL;
	size_t align = bytes >= ST_HUGE_PAGE ? ST_HUGE_PAGE : 64;
	if (posix_memalign(&p, align, bytes ? bytes : 1) != 0)
		return NULL;
#ifdef MADV_HUGEPAGE
	if (align == ST_HUGE_PAGE)
		(void)madvise(p, bytes, MADV_HUGEPAGE);
#endif
	if (zero)
		memset(p, 0, bytes);
	return p;
}

void st_free(void *p)
{
	free(p);
}

uint64_t st_alloc_fail_at(uint64_t n)
{
	uint64_t seen = alloc_count;

	alloc_count = 0;
	fail_countdown = n;
	return seen;
}
