/*
 * src/cli/diffrun.h - one scenario on the model and on Linux in lockstep
 * (cmd_diff.c), shared by `socktab diff` and `socktab fuzz`.
 */
#ifndef SOCKTAB_CLI_DIFFRUN_H
#define SOCKTAB_CLI_DIFFRUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "scenario/ast.h"
#include "scenario/diff.h"

typedef struct sc_diff_stats {
	size_t statements;     /* compared */
	size_t by_expect;      /* accepted by a multi-alternative expectation */
	size_t pairs;          /* port pairings of two different numbers */
	size_t steered;        /* automatic ports the model took from Linux */
} sc_diff_stats;

/* 0 agree, 1 the first divergence was printed to `out`, 2 error,
 * SC_SKIP (77) the kernel replay is impossible here. */
int cli_diff_script(const sc_script *s, uint64_t seed, FILE *out, bool quiet, sc_diff_stats *stats);

#endif
