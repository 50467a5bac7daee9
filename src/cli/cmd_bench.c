/*
 * src/cli/cmd_bench.c - `socktab bench WORKLOAD [--sockets N] [--json]`.
 *
 * The table workloads (bind, connect, lookups, memory) live in
 * bench/workloads.c so that the stand-alone bench program and this command
 * run the same code; this file only parses arguments and adds the
 * workloads that need the whole simulator (bench_sim.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/bench_sim.h"
#include "cli/cli.h"
#ifdef SOCKTAB_HAVE_BENCH
#include "workloads.h"
#endif

static const char bench_usage[] =
	"usage: socktab bench WORKLOAD [--sockets N] [--json]\n"
	"       socktab bench --list\n"
	"\n"
	"Runs one benchmark workload and prints a table, or with --json one JSON\n"
	"object per run (workload, sockets, ops, seconds, ns_per_op,\n"
	"bytes_per_socket, ...).  Without --sockets a workload runs at every size\n"
	"it supports (1k, 10k, 100k, 1M, and 10M where it makes sense).\n"
	"Figures are meant as ratios against a peer measured in the same run:\n"
	"see bench/compare and docs/performance.md.\n";

static void list_all(FILE *out)
{
#ifdef SOCKTAB_HAVE_BENCH
	st_bench_list(out);
#endif
	bench_sim_list(out);
}

static int bench_main(int argc, char **argv)
{
	const char *wl = NULL;
	size_t sockets = 0;
	bool json = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs(bench_usage, stdout);
			return 0;
		} else if (!strcmp(a, "--list")) {
			list_all(stdout);
			return 0;
		} else if (!strcmp(a, "--json")) {
			json = true;
		} else if (!strcmp(a, "--sockets")) {
			char *end;
			if (i + 1 >= argc)
				return cli_usage_error("bench", "--sockets needs a number");
			errno = 0;
			unsigned long long v = strtoull(argv[++i], &end, 10);
			if (errno || *end || v == 0 || argv[i][0] == '-')
				return cli_usage_error("bench", "--sockets needs a positive number, not '%s'", argv[i]);
			sockets = (size_t)v;
		} else if (a[0] == '-') {
			return cli_usage_error("bench", "unknown option '%s'", a);
		} else if (!wl) {
			wl = a;
		} else {
			return cli_usage_error("bench", "one workload at a time ('%s' and '%s')", wl, a);
		}
	}
	if (!wl)
		return cli_usage_error("bench", "which workload? (socktab bench --list)");
	int r = bench_sim_run(wl, sockets, json, stdout);
	if (r != -ENOENT)
		return r ? 1 : 0;
#ifdef SOCKTAB_HAVE_BENCH
	r = st_bench_run(wl, sockets, json, stdout);
	if (r == -ENOENT || r == -EINVAL)
		return cli_usage_error("bench", "unknown workload '%s' (socktab bench --list)", wl);
	return r ? 1 : 0;
#else
	return cli_usage_error("bench", "unknown workload '%s' (this build has no table benchmarks: "
					"configure with -DSOCKTAB_BUILD_BENCH=ON)", wl);
#endif
}

static const cli_cmd cmd_bench = {
	.name = "bench",
	.summary = "benchmarks of the tables and of the simulator",
	.usage = bench_usage,
	.main = bench_main,
};

CLI_COMMAND(cmd_bench)
