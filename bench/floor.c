/*
 * bench/floor.c - `socktab bench machine`: what one random cache-line
 * read costs on this machine, at the working sets of the other tables.
 *
 * Why it exists: at a million sockets every table an operation touches is
 * far beyond the caches, so the flatness targets (1M costs at most 1.5x
 * 1k) and the 10M lookup rate are bounded by the memory system, not by
 * the library.  A report that says so must measure it in the same run,
 * on the same machine, under the same load; this workload does.
 *
 * The working set for N sockets is N * (sizeof(st_sock) + FLOOR_INDEX_BYTES):
 * the caller's records plus the library's 4-tuple index, i.e. what an
 * established lookup can land on (the `memory` workload measures the
 * real figure; the bind tables are of the same order, and what decides
 * the price of a line is which cache level or TLB reach the set falls
 * in, which a factor below two does not change).  Over that many bytes,
 * cut into 64-byte lines:
 *
 *   dependent-*    a pointer chase through one random cycle over every
 *                  line (Sattolo's algorithm: a uniformly random cyclic
 *                  permutation, so the chase cannot fall into a short
 *                  loop that stays in cache): each read's address comes
 *                  from the previous read, nothing overlaps, and ns/op is
 *                  the latency of one random line;
 *   independent-*  reads of random lines whose addresses are known in
 *                  advance, each prefetched FLOOR_PF_DIST reads ahead (as
 *                  the batched lookup does): as many misses in flight as
 *                  the core allows, and M lines/s is the throughput one
 *                  core gets from the memory system;
 *   *-4k / *-thp   the region mapped with 4 KiB pages (MADV_NOHUGEPAGE)
 *                  or with transparent huge pages asked for
 *                  (MADV_HUGEPAGE); the share the kernel really backed
 *                  with huge pages is reported beside the figure, since
 *                  the request is advice.
 *
 * Measured honestly: every page is written before the clock starts (the
 * lines are initialised in order, then permuted); the chase is checked to
 * be one cycle through all lines (walked completely where that takes
 * under a second, FLOOR_CHECK_LINES); the independent reads sum each
 * line's own index and must equal the sum of the indices drawn, which both
 * checks that the right lines were read and keeps the compiler from
 * dropping the loads; the chase's end pointer is checked and stored to a
 * volatile sink.  Each figure is the fastest of FLOOR_REPS repetitions, in
 * CPU time of the thread, as in the other workloads.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* MADV_HUGEPAGE; the build defines it already */
#endif
#include "floor.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "socktab/socktab.h"

enum {
	FLOOR_LINE = 64,
	/* The library's established index per socket, rounded up to the
	 * order it has had (lookup-established reports the real figure as
	 * its bytes_per_socket): being some bytes off moves the working set
	 * by a fraction of the record, not to another cache level. */
	FLOOR_INDEX_BYTES = 32,
	FLOOR_MIN_LINES = 64,          /* a working set of at least 4 KiB */
	FLOOR_REPS = 3,                /* the fastest repetition is reported */
	FLOOR_CHASE_STEPS = 1 << 21,   /* dependent reads per repetition */
	FLOOR_READS = 1 << 23,         /* independent reads per repetition */
	FLOOR_PF_DIST = 32,            /* reads in flight ahead (power of two) */
	FLOOR_CHECK_LINES = 1 << 22,   /* full-cycle check up to 256 MiB */
};

#define FLOOR_HUGE_ALIGN ((size_t)2 << 20)

/* One cache line of the working set.  Invariant after setup: the `next`
 * pointers form a single cycle through all lines; `self` is the line's
 * own index. */
typedef struct floor_line {
	struct floor_line *next;
	uint64_t self;
	uint64_t pad[(FLOOR_LINE - 16) / 8];
} floor_line;

_Static_assert(sizeof(floor_line) == FLOOR_LINE, "one line per element");
_Static_assert((FLOOR_PF_DIST & (FLOOR_PF_DIST - 1)) == 0, "ring index by mask");

/* Where the chase's end pointer goes, so that the loop has an effect. */
static volatile uintptr_t floor_sink;

/* ---- regions --------------------------------------------------------- */

int st_bench_map(st_bench_region *r, size_t size, bool huge)
{
	if (!r || size == 0 || size > SIZE_MAX - 2 * FLOOR_HUGE_ALIGN)
		return -EINVAL;
	size_t body = (size + FLOOR_HUGE_ALIGN - 1) & ~(FLOOR_HUGE_ALIGN - 1);
	/* One extra huge page of slack so that the body can start on a 2 MiB
	 * boundary: a huge page can only back an aligned 2 MiB range. */
	size_t len = body + FLOOR_HUGE_ALIGN;
	void *base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		return -ENOMEM;
	uintptr_t a = ((uintptr_t)base + FLOOR_HUGE_ALIGN - 1) & ~(uintptr_t)(FLOOR_HUGE_ALIGN - 1);
	/* Advice only: a kernel without THP refuses MADV_HUGEPAGE (EINVAL),
	 * and then the region has 4 KiB pages, which st_bench_huge_share
	 * reports as a share of 0. */
	(void)madvise((void *)a, body, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	r->mem = (void *)a;
	r->size = size;
	r->base = base;
	r->len = len;
	return 0;
}

void st_bench_unmap(st_bench_region *r)
{
	if (r && r->base)
		munmap(r->base, r->len);
	if (r)
		memset(r, 0, sizeof(*r));
}

double st_bench_huge_share(const void *mem, size_t size)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	if (!f || size == 0) {
		if (f)
			fclose(f);
		return -1.0;
	}
	uintptr_t lo = (uintptr_t)mem, hi = lo + size;
	unsigned long long huge_kb = 0;
	bool inside = false, seen = false;
	char line[512];
	while (fgets(line, sizeof(line), f)) {
		uintptr_t s, e;
		unsigned long long kb;
		/* A mapping's header line starts "start-end perms"; the
		 * attribute lines that follow start with a field name. */
		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " ", &s, &e) == 2) {
			inside = s < hi && e > lo;
			seen = seen || inside;
		} else if (inside && sscanf(line, "AnonHugePages: %llu kB", &kb) == 1) {
			huge_kb += kb;
		}
	}
	fclose(f);
	if (!seen)
		return -1.0;
	double share = (double)huge_kb * 1024.0 / (double)size;
	return share > 1.0 ? 1.0 : share;
}

/* ---- the measurement --------------------------------------------------- */

static uint64_t floor_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t floor_wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* splitmix64: a fresh 64-bit value per call, good in every bit. */
static uint64_t floor_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A value in [0, n) from 64 random bits (multiply-high: the bias is
 * n / 2^64, nothing at these sizes, and there is no division). */
static size_t floor_below(uint64_t r, size_t n)
{
	return (size_t)(((unsigned __int128)r * n) >> 64);
}

size_t st_bench_machine_bytes(size_t sockets)
{
	size_t per = sizeof(st_sock) + FLOOR_INDEX_BYTES;
	if (sockets > SIZE_MAX / per)
		return SIZE_MAX;
	size_t lines = (sockets * per + FLOOR_LINE - 1) / FLOOR_LINE;
	if (lines < FLOOR_MIN_LINES)
		lines = FLOOR_MIN_LINES;
	return lines * FLOOR_LINE;
}

/* Write every line in order (this also faults every page in), then
 * permute the next pointers into one cycle: Sattolo's variant of the
 * Fisher-Yates shuffle draws j from [0, i) rather than [0, i], which is
 * exactly what makes the permutation a single n-cycle. */
static void build_cycle(floor_line *l, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++) {
		l[i].next = &l[i];
		l[i].self = i;
		memset(l[i].pad, 0, sizeof(l[i].pad));
	}
	uint64_t s = seed;
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = floor_below(floor_rand(&s), i);
		floor_line *t = l[i].next;
		l[i].next = l[j].next;
		l[j].next = t;
	}
}

/* Walk the whole cycle once: it must come back to the start after exactly
 * n steps and not before. */
static bool check_cycle(const floor_line *l, size_t n)
{
	const floor_line *p = l;
	for (size_t k = 1; k <= n; k++) {
		p = p->next;
		if (p < l || p >= l + n)
			return false;
		if (p == l)
			return k == n;
	}
	return false;
}

static const floor_line *chase(const floor_line *p, size_t steps)
{
	for (size_t k = 0; k < steps; k++)
		p = p->next;
	return p;
}

/* FLOOR_READS reads of random lines, each prefetched FLOOR_PF_DIST reads
 * before it is loaded.  Returns false when the lines read were not the
 * lines drawn. */
static bool independent(const floor_line *l, size_t n, uint64_t *seed)
{
	size_t ring[FLOOR_PF_DIST];
	uint64_t sum = 0, want = 0;
	for (size_t k = 0; k < FLOOR_PF_DIST; k++) {
		ring[k] = floor_below(floor_rand(seed), n);
		__builtin_prefetch(&l[ring[k]]);
	}
	for (size_t k = 0; k < FLOOR_READS; k++) {
		size_t slot = k & (FLOOR_PF_DIST - 1);
		size_t j = ring[slot];
		sum += l[j].self;
		want += j;
		size_t nj = floor_below(floor_rand(seed), n);
		ring[slot] = nj;
		__builtin_prefetch(&l[nj]);
	}
	return sum == want;
}

typedef struct floor_result {
	const char *variant;
	uint64_t ops;
	uint64_t cpu_ns;   /* fastest repetition */
	uint64_t wall_ns;  /* its wall-clock time */
	double huge_share;
	int pf_dist;       /* 0 for the chase */
} floor_result;

static void keep_best(floor_result *r, uint64_t c0, uint64_t c1, uint64_t w0, uint64_t w1)
{
	if (!r->cpu_ns || c1 - c0 < r->cpu_ns) {
		r->cpu_ns = c1 - c0 ? c1 - c0 : 1;
		r->wall_ns = w1 - w0;
	}
}

static void emit_floor(FILE *out, bool json, bool *header, size_t sockets, size_t bytes,
		       const floor_result *r)
{
	double ns = (double)r->cpu_ns / (double)r->ops;
	double mops = (double)r->ops / ((double)r->cpu_ns / 1e9) / 1e6;
	if (json) {
		fprintf(out,
			"{\"workload\":\"machine\",\"variant\":\"%s\",\"sockets\":%zu,\"bytes\":%zu,"
			"\"ops\":%" PRIu64 ",\"seconds\":%.6f,\"ns_per_op\":%.2f,\"mops_per_s\":%.3f,"
			"\"bytes_per_socket\":%.1f,\"record_bytes\":%zu,\"index_bytes\":%d,"
			"\"huge_share\":%.3f,"
			"\"prefetch_distance\":%d,\"wall_seconds\":%.6f}\n",
			r->variant, sockets, bytes, r->ops, (double)r->cpu_ns / 1e9, ns, mops,
			(double)bytes / (double)sockets, sizeof(st_sock), FLOOR_INDEX_BYTES,
			r->huge_share, r->pf_dist,
			(double)r->wall_ns / 1e9);
	} else {
		if (!*header) {
			fprintf(out, "%-18s %-16s %9s %12s %10s %12s %7s\n", "workload", "variant",
				"sockets", "bytes", "ns/line", "M lines/s", "huge");
			*header = true;
		}
		char huge[16];
		if (r->huge_share < 0)
			snprintf(huge, sizeof(huge), "?");
		else
			snprintf(huge, sizeof(huge), "%.0f%%", r->huge_share * 100.0);
		fprintf(out, "%-18s %-16s %9zu %12zu %10.2f %12.1f %7s\n", "machine", r->variant,
			sockets, bytes, ns, mops, huge);
	}
	fflush(out);
}

/* Physical memory not in use, in bytes (0 if unknown). */
static size_t avail_bytes(void)
{
	long pages = sysconf(_SC_AVPHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
	return pages > 0 && psz > 0 ? (size_t)pages * (size_t)psz : 0;
}

/* Both measurements over one region of `bytes` bytes. */
static int measure(FILE *out, bool json, bool *header, size_t sockets, size_t bytes, bool huge)
{
	st_bench_region reg;
	int err = st_bench_map(&reg, bytes, huge);
	if (err)
		return err;
	floor_line *l = reg.mem;
	size_t n = bytes / FLOOR_LINE;
	build_cycle(l, n, 0x5eed0000u + n);
	double share = st_bench_huge_share(reg.mem, bytes);
	/* Check the cycle where a full walk is cheap (it also warms the
	 * caches and the TLB for the small sets); elsewhere warm with one
	 * repetition's worth of steps. */
	const floor_line *p = l;
	if (n <= FLOOR_CHECK_LINES) {
		if (!check_cycle(l, n)) {
			st_bench_unmap(&reg);
			fprintf(stderr, "socktab bench: machine: the chase over %zu lines is not one "
					"cycle\n", n);
			return -EPROTO;
		}
	} else {
		p = chase(p, FLOOR_CHASE_STEPS);
	}

	floor_result dep = {huge ? "dependent-thp" : "dependent-4k", FLOOR_CHASE_STEPS, 0, 0, share,
			    0};
	for (int rep = 0; rep < FLOOR_REPS; rep++) {
		uint64_t w0 = floor_wall_ns(), c0 = floor_cpu_ns();
		p = chase(p, FLOOR_CHASE_STEPS);
		uint64_t c1 = floor_cpu_ns(), w1 = floor_wall_ns();
		keep_best(&dep, c0, c1, w0, w1);
	}
	if (p < l || p >= l + n) {
		st_bench_unmap(&reg);
		fprintf(stderr, "socktab bench: machine: the chase left the working set\n");
		return -EPROTO;
	}
	floor_sink = (uintptr_t)p;

	floor_result ind = {huge ? "independent-thp" : "independent-4k", FLOOR_READS, 0, 0, share,
			    FLOOR_PF_DIST};
	uint64_t seed = 0xf1005eedu + n;
	for (int rep = 0; rep < FLOOR_REPS; rep++) {
		uint64_t w0 = floor_wall_ns(), c0 = floor_cpu_ns();
		bool ok = independent(l, n, &seed);
		uint64_t c1 = floor_cpu_ns(), w1 = floor_wall_ns();
		if (!ok) {
			st_bench_unmap(&reg);
			fprintf(stderr, "socktab bench: machine: independent reads read the wrong "
					"lines\n");
			return -EPROTO;
		}
		keep_best(&ind, c0, c1, w0, w1);
	}
	st_bench_unmap(&reg);
	emit_floor(out, json, header, sockets, bytes, &dep);
	emit_floor(out, json, header, sockets, bytes, &ind);
	return 0;
}

int st_bench_machine(FILE *out, bool json, bool *header, size_t sockets)
{
	if (!out || !header || sockets == 0)
		return -EINVAL;
	size_t bytes = st_bench_machine_bytes(sockets);
	size_t avail = avail_bytes();
	/* Touching more than the free memory would only measure swapping or
	 * meet the OOM killer, and the machine is shared: leave half. */
	if (bytes == SIZE_MAX || (avail && bytes > avail / 2)) {
		fprintf(stderr, "socktab bench: machine: %zu sockets need %zu bytes, more than "
				"half of the free memory (%zu)\n", sockets, bytes, avail);
		return -ENOMEM;
	}
	int err = measure(out, json, header, sockets, bytes, false);
	if (!err)
		err = measure(out, json, header, sockets, bytes, true);
	return err;
}
