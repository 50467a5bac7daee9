/*
 * src/sim/sim.h - a simulated world: hosts, links, processes, and time.
 *
 * The world is what a scenario runs in when it does not run on Linux.  Each
 * host is one network stack (src/stack) with its own tables; hosts talk
 * over point-to-point links that carry real packets in wire format after a
 * delay, and each host hands its own loopback traffic back to itself.
 * Processes hold sockets through descriptor tables, which is what makes
 * fork and SCM_RIGHTS sharing -- and the lifetime rule "a socket lives while
 * any process holds it" -- work.
 *
 * Time is virtual and only moves when asked: sim_settle() delivers what is
 * due now (a loopback handshake completes within one statement, as on
 * Linux), sim_run_until() lets time pass (links' delays, retransmissions,
 * TIME_WAIT).  Events due at the same instant run in the order they were
 * scheduled, so a run is a pure function of the scenario and the seed.
 */
#ifndef SOCKTAB_SIM_SIM_H
#define SOCKTAB_SIM_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stack/stack.h"

typedef struct sim_world sim_world;
typedef struct sim_host sim_host;
typedef struct sim_proc sim_proc;

/* Limits: hosts per world, links per host, descriptors per process
 * (the default RLIMIT_NOFILE soft limit, 1024, as a shell gives),
 * processes.  At least the scenario language's own limits (ast.h:
 * SC_MAX_HOSTS, SC_MAX_LINKS_PER_HOST, SC_MAX_PROCS), so that a file the
 * parser accepts never meets a smaller limit here. */
enum { SIM_MAX_HOSTS = 64, SIM_MAX_DEVS = 64, SIM_DEFAULT_NOFILE = 1024, SIM_MAX_PROCS = 4096 };

int sim_world_new(sim_world **out, uint64_t seed);
void sim_world_free(sim_world *w);
/* Capture every packet put on any device (loopback included). */
int sim_world_pcap(sim_world *w, const char *path);
/* Where the stacks' demux explanations go (NULL: nowhere). */
void sim_world_trace(sim_world *w, void (*fn)(void *ctx, const char *text), void *ctx);

uint64_t sim_now(const sim_world *w);
/* Run every event due at the current time, including those they schedule. */
void sim_settle(sim_world *w);
/* Let time pass to t, running events in order. */
void sim_run_until(sim_world *w, uint64_t t);
/* Run the next event, whenever it is due; false when there is none. */
bool sim_step(sim_world *w);
/* Run the next event if it is due at or before t; false otherwise. */
bool sim_step_until(sim_world *w, uint64_t t);

/* Hosts.  "local" is not created implicitly here; the model does that. */
int sim_host_add(sim_world *w, const char *name, sim_host **out); /* -EEXIST, -ENOSPC */
sim_host *sim_host_find(sim_world *w, const char *name);
const char *sim_host_name(const sim_host *h);
stk_stack *sim_host_stack(sim_host *h);
st_net *sim_host_net(sim_host *h);
/* A local address on the host's lo (as `ip addr add ... dev lo`). */
int sim_host_addr(sim_host *h, const st_addr *a, int family, int prefix_len);
/* A point-to-point link: each side gets the next ethN and its address. */
int sim_link(sim_world *w, sim_host *a, const st_addr *aa, int afam, int aplen, sim_host *b,
	     const st_addr *ba, int bfam, int bplen, uint64_t delay_ns);

/* Processes and their descriptor tables. */
int sim_proc_new(sim_world *w, const char *name, sim_host *h, uint32_t uid, uint32_t caps,
		 sim_proc **out);
const char *sim_proc_name(const sim_proc *p);
sim_host *sim_proc_host(sim_proc *p);
st_cred sim_proc_cred(const sim_proc *p);
bool sim_proc_alive(const sim_proc *p);
/* Installs a reference the caller already holds: the lowest free
 * descriptor, or -EMFILE (the reference is then still the caller's). */
int sim_fd_install(sim_proc *p, stk_sock *sk);
stk_sock *sim_fd_get(sim_proc *p, int fd);    /* NULL: EBADF */
/* Would sim_fd_install succeed (a descriptor below the limit is free)? */
bool sim_fd_room(sim_proc *p);
/* Make sure the next sim_fd_install succeeds: 0, -EMFILE (no descriptor
 * below the limit is free), -ENOMEM (the table cannot grow) or -EBADF. */
int sim_fd_reserve(sim_proc *p);
int sim_fd_close(sim_proc *p, int fd);        /* 0 or -EBADF */
void sim_proc_set_nofile(sim_proc *p, int limit);
int sim_proc_fork(sim_proc *p, const char *child, sim_proc **out);
void sim_proc_exit(sim_proc *p);
/* Test hook: the packet numbered `n` from now (1 = the next one any
 * device of any world transmits) is lost; 0 disables.  Returns how many
 * packets were transmitted since the last call. */
uint64_t sim_fault_drop_packet(uint64_t n);

/* Every (process, descriptor) pair holding a socket, for owner lists. */
void sim_foreach_fd(sim_world *w, void (*fn)(sim_proc *p, int fd, stk_sock *sk, void *ctx), void *ctx);
/* Every live process's descriptor table whole: fds[0..nfds), NULL where a
 * descriptor is free, valid until the process opens or closes one.  For
 * walks over many sockets (ls) that read the socket records ahead of the
 * one they are at, which one callback per descriptor does not allow. */
void sim_foreach_fdtable(sim_world *w,
			 void (*fn)(sim_proc *p, stk_sock *const *fds, int nfds, void *ctx),
			 void *ctx);

#endif
