/*
 * bench/socktab_bench.c - the stand-alone benchmark program.
 *
 *   socktab_bench [WORKLOAD|all|list] [--sockets N] [--json]
 *
 * A thin command line over bench/workloads.c, which `socktab bench`
 * calls the same way; keeping the parsing here and the workloads there
 * means the two front ends cannot drift apart in what they measure.
 * N accepts a plain number or a k/M suffix (10k, 1M).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workloads.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: socktab_bench [WORKLOAD|all|list] [--sockets N] [--json]\n"
		   "  N: a count, optionally with k or M (1k = 1000); default: the\n"
		   "     workload's own sizes (1k, 10k, 100k, 1M, and 10M where useful)\n"
		   "workloads:\n");
	st_bench_list(f);
}

/* "1000", "10k", "1M" -> count; false on anything else. */
static bool parse_count(const char *s, size_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || s[0] == '-')
		return false;
	unsigned long long mul = 1;
	if (*end == 'k' || *end == 'K')
		mul = 1000, end++;
	else if (*end == 'm' || *end == 'M')
		mul = 1000000, end++;
	if (*end || v == 0 || v > 100000000ULL / mul)
		return false;
	*out = (size_t)(v * mul);
	return true;
}

int main(int argc, char **argv)
{
	const char *workload = NULL;
	size_t sockets = 0;
	bool json = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "--sockets") == 0 || strcmp(argv[i], "-n") == 0) {
			if (i + 1 >= argc || !parse_count(argv[i + 1], &sockets)) {
				fprintf(stderr, "socktab_bench: --sockets needs a count from 1 to 100M\n");
				return 2;
			}
			i++;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (argv[i][0] == '-' || workload) {
			usage(stderr);
			return 2;
		} else {
			workload = argv[i];
		}
	}
	if (!workload || strcmp(workload, "list") == 0) {
		if (!workload) {
			usage(stderr);
			return 2;
		}
		st_bench_list(stdout);
		return 0;
	}
	int err = st_bench_run(workload, sockets, json, stdout);
	return err ? 1 : 0;
}
