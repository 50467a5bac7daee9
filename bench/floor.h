/*
 * bench/floor.h - the machine's memory floor (`socktab bench machine`) and
 * the page-backed allocations the other workloads share with it.
 *
 * The flatness and throughput targets of issue 5 are bounded by what one
 * random cache-line read costs on the machine running the benchmark, so
 * the report measures that floor in the same run instead of asserting it.
 * bench/floor.c owns the measurement and the one piece of memory handling
 * that both it and lookup-established need: a region mapped on its own,
 * 2 MiB aligned, with 4 KiB pages or with transparent huge pages asked
 * for (MADV_HUGEPAGE), and a way to read back how much of it the kernel
 * really backed with huge pages (the request is advice, not a promise).
 */
#ifndef SOCKTAB_BENCH_FLOOR_H
#define SOCKTAB_BENCH_FLOOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* A private anonymous mapping.  Invariant: mem is 2 MiB aligned and holds
 * at least `size` bytes, zero-filled and not yet touched; base/len are
 * what munmap needs. */
typedef struct st_bench_region {
	void *mem;
	size_t size;
	void *base;
	size_t len;
} st_bench_region;

/* Map `size` bytes (size > 0), with MADV_HUGEPAGE when `huge`, else with
 * MADV_NOHUGEPAGE so that a system whose THP mode is "always" still gives
 * the 4 KiB variant 4 KiB pages.  Returns 0, -EINVAL or -ENOMEM; fills *r
 * only on success. */
int st_bench_map(st_bench_region *r, size_t size, bool huge);

/* Unmap a region filled by st_bench_map (or a zeroed one: nothing). */
void st_bench_unmap(st_bench_region *r);

/* Share (0..1) of [mem, mem+size) backed by transparent huge pages, from
 * /proc/self/smaps; -1 when it cannot be read.  Call after touching. */
double st_bench_huge_share(const void *mem, size_t size);

/*
 * The `machine` workload for the working set of `sockets` sockets:
 * dependent random line reads (latency) and independent ones with
 * software prefetch (throughput), each over 4 KiB and huge pages.  Writes
 * a table to `out` (the header once, tracked by *header) or JSON lines.
 * Returns 0, -EINVAL (sockets 0 or too many), -ENOMEM, or -EPROTO when a
 * check failed (message on stderr).
 */
int st_bench_machine(FILE *out, bool json, bool *header, size_t sockets);

/* Bytes the machine workload reads for `sockets` sockets. */
size_t st_bench_machine_bytes(size_t sockets);

#endif
