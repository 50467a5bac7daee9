/*
 * bench/workloads.h - the core benchmarks, callable from any program.
 *
 * The workloads live behind two functions so that both the stand-alone
 * program (bench/socktab_bench.c) and the `socktab bench` subcommand can
 * run them without duplicating a line: the caller parses its own command
 * line and hands over a workload name, a socket count and an output mode.
 *
 * Every workload builds its tables from the public API only (the same
 * calls a user makes), checks every answer it times (a bind that should
 * succeed did, a lookup found the socket it should have), and reports per
 * run: sockets in the tables, operations timed, seconds, ns per operation
 * and bytes per socket (RSS growth over the timed phase divided by the
 * sockets; see docs/performance.md for what each workload counts).
 * `machine` is the odd one out: it measures the machine (random line
 * reads over the working set of N sockets, bench/floor.c), not the library.
 */
#ifndef SOCKTAB_BENCH_WORKLOADS_H
#define SOCKTAB_BENCH_WORKLOADS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Run `workload` ("bind-distinct", ..., or "all") with `sockets` sockets,
 * or, when sockets is 0, over the workload's default sizes (1k, 10k, 100k,
 * 1M and, where it makes sense, 10M).  Writes a table to `out`, or with
 * `json` one JSON object per line per run.  Returns 0, -EINVAL for an
 * unknown workload or a size the workload cannot take, -ENOMEM, or
 * -EPROTO when the library gave an answer the workload did not expect
 * (a message on stderr says which).
 */
int st_bench_run(const char *workload, size_t sockets, bool json, FILE *out);

/* One line per workload: name, default sizes, what it measures. */
void st_bench_list(FILE *out);

#ifdef __cplusplus
}
#endif
#endif
