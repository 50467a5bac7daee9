/*
 * src/kernel/kr.h - what the files of the kernel replay share.
 *
 * The backend (backend.c) is one runner-side object that owns:
 *   - hosts: one network namespace each, held by an open namespace
 *     descriptor (that descriptor, not the name, is what keeps it alive)
 *     and, when running as root, named by a bind mount under /run/netns;
 *   - procs: one worker process each (worker.c), reached through a
 *     control channel (proto.h) and watched through a pidfd;
 *   - a guardian process (guard.c) that undoes all of the above if the
 *     runner dies without doing it itself;
 *   - at most one relay process (relay.c) carrying the packets of
 *     delayed links between TUN devices.
 * netns.c creates and configures namespaces (rtnetlink through libmnl,
 * sysctls); diag.c reads the socket tables (NETLINK_SOCK_DIAG) for `ls`
 * and for the settle rule.
 */
#ifndef SOCKTAB_KERNEL_KR_H
#define SOCKTAB_KERNEL_KR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "scenario/backend.h"

/* Limits (each failure says which one was hit). */
enum {
	KR_MAX_HOSTS = 64,     /* hosts of one scenario, `local` included */
	KR_MAX_PROCS = 4096,   /* processes of one scenario, forks included */
	KR_NAME_MAX = 63,      /* longest host or process name */
	KR_PATH_MAX = 128,     /* /run/netns/st-PID-N-HOST */
	KR_MAX_LINKS = 64,     /* delayed links of one scenario */
};

/* ---- guard.c: undo everything on every exit path --------------------- */

/*
 * A guard is one guardian process plus this process's signal-safe
 * registry.  Paths registered with kr_guard_mount are unmounted and
 * unlinked, processes registered with kr_guard_proc are killed (through
 * their pidfd, so a recycled pid is never hit) when
 *   - kr_guard_stop runs (normal end: by then the backend has already
 *     done it and nothing is left),
 *   - SIGINT, SIGTERM or SIGHUP arrive (a handler does it, then lets the
 *     signal take its default course),
 *   - the process dies any other way (the guardian sees its channel close).
 */
typedef struct kr_guard {
	int chan;   /* to the guardian; -1 when none */
	pid_t pid;  /* the guardian */
} kr_guard;

int kr_guard_start(kr_guard *g, char *msg, size_t msglen);
void kr_guard_stop(kr_guard *g);
/* Register before mounting; returns a slot >= 0 or -errno. */
int kr_guard_mount(kr_guard *g, const char *path);
/* Unmount, unlink and forget the slot. */
void kr_guard_unmount(kr_guard *g, int slot);
/* Forget the slot without touching the path (the mount never happened). */
void kr_guard_drop_mount(kr_guard *g, int slot);
/* Register a process by pidfd.  The descriptor stays the caller's, who
 * must kr_guard_forget the slot before closing it. */
int kr_guard_proc(kr_guard *g, int pidfd);
void kr_guard_forget(kr_guard *g, int slot);

/* ---- netns.c: namespaces, devices, addresses, sysctls ------------------ */

/*
 * Create a network namespace with lo up, without leaving the calling
 * thread in it: *nsfd gets a descriptor of it.  home is the descriptor of
 * the namespace to return to.  Returns 0 or -errno; msg says what failed;
 * -ENOTRECOVERABLE means the thread could not get back home.
 */
int kr_ns_create(int home, int *nsfd, char *msg, size_t msglen);
/* Enter ns / return home.  kr_ns_leave failing leaves the thread stranded:
 * the caller must treat it as fatal for the backend. */
int kr_ns_enter(int nsfd);
int kr_ns_leave(int home);
/* Bind-mount ns at path (creating /run/netns if needed). */
int kr_ns_mount(int nsfd, const char *path);

/* In the current namespace: */
int kr_link_up(const char *ifname);
int kr_addr_add(const char *ifname, int family, const uint8_t addr16[16], int plen);
/* A veth pair: `name` here, `peer` in the namespace peer_nsfd. */
int kr_veth_add(const char *name, const char *peer, int peer_nsfd);
/* A TUN device (no packet info header); returns its descriptor or -errno. */
int kr_tun_open(const char *name);
/* Write /proc/sys/KEY (dots as slashes), values joined by blanks. */
int kr_sysctl_write(const char *key, const char *const *values, int nvalues);

/* ---- relay.c: delayed links ----------------------------------------- */

typedef struct kr_relay {
	int chan;   /* -1 until the first delayed link */
	pid_t pid;
	int pidfd;
	int guard_slot;
} kr_relay;

/* Hand the two TUN descriptors of a link to the relay (starting it on
 * first use).  The relay owns the descriptors from then on. */
int kr_relay_add(kr_relay *r, kr_guard *g, int fd_a, int fd_b, uint64_t delay_ns, char *msg,
		 size_t msglen);
void kr_relay_stop(kr_relay *r, kr_guard *g);

/* ---- diag.c: the kernel's socket tables ------------------------------ */

/* One socket as NETLINK_SOCK_DIAG reports it. */
typedef struct kr_diag_row {
	sc_kind kind;
	uint8_t state;          /* TCP_* of the kernel */
	uint8_t src[16], dst[16];
	uint16_t sport, dport;  /* host order */
	uint32_t ifindex;       /* idiag_if: the bound device */
	uint32_t inode;         /* 0: no file (TIME_WAIT, request, unaccepted child) */
	uint32_t rqueue, wqueue;
} kr_diag_row;

typedef struct kr_diag {
	void *nl;               /* struct mnl_socket *, opened inside the namespace */
	uint32_t seq;
} kr_diag;

/* Open a sock_diag socket in the current namespace. */
int kr_diag_open(kr_diag *d);
void kr_diag_close(kr_diag *d);
/* Dump TCP and UDP, v4 and v6, including bound-but-inactive TCP sockets.
 * *rows is malloc'd (NULL when empty). */
int kr_diag_dump(kr_diag *d, kr_diag_row **rows, size_t *nrows);

#endif
