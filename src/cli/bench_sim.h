/*
 * src/cli/bench_sim.h - benchmarks of the whole simulator (bench_sim.c).
 */
#ifndef SOCKTAB_CLI_BENCH_SIM_H
#define SOCKTAB_CLI_BENCH_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* 0, a negative errno, or -ENOENT when `workload` is not one of these. */
int bench_sim_run(const char *workload, size_t sockets, bool json, FILE *out);
void bench_sim_list(FILE *out);

#endif
