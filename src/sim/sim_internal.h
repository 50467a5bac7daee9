/*
 * src/sim/sim_internal.h - the world's objects, shared by world.c and proc.c.
 */
#ifndef SOCKTAB_SIM_INTERNAL_H
#define SOCKTAB_SIM_INTERNAL_H

#include "sim/clock.h"
#include "sim/sim.h"

struct sim_pcap;

/* One end of a link: packets sent on `ifindex` arrive at `peer` on
 * `peer_ifindex` after `delay` ns. */
typedef struct sim_dev {
	int ifindex;
	sim_host *peer;
	int peer_ifindex;
	uint64_t delay;
} sim_dev;

struct sim_host {
	char name[64];
	sim_world *world;
	stk_stack *stack;
	sim_dev devs[SIM_MAX_DEVS];
	int ndevs;
	int neth;       /* next ethN number */
};

/* Invariant: fds[i] != NULL exactly for open descriptors, each holding
 * one reference on its socket (stk_hold). */
struct sim_proc {
	char name[64];
	sim_world *world;
	sim_host *host;
	uint32_t uid, caps;
	bool alive;
	int nofile;
	stk_sock **fds;
	int nfds;       /* size of fds[] */
};

struct sim_world {
	sim_clock clock;
	uint64_t seed;
	sim_host *hosts[SIM_MAX_HOSTS];
	int nhosts;
	sim_proc **procs;
	int nprocs, capprocs;
	struct sim_pcap *pcap;
	void (*trace)(void *ctx, const char *text);
	void *trace_ctx;
};

#endif
