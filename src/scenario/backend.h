/*
 * src/scenario/backend.h - what a scenario runs on.
 *
 * A scenario is executed twice in this project: in the model (the simulated
 * hosts of src/sim over the stack of src/stack over the tables of src/core)
 * and on the real Linux kernel (src/kernel: network namespaces, real
 * processes, real system calls).  The runner (run.c) must not know which:
 * it resolves names, checks expectations and prints the transcript, and
 * hands every statement to a backend through the table of operations below.
 * `socktab diff` runs two backends side by side on the same statements.
 *
 * The contract is deliberately at the level of system calls, not of the
 * scenario's words:
 *   - processes are small integers the backend hands out (proc()),
 *   - sockets are file descriptors *inside a process*, as on Linux: fork
 *     copies a process's descriptor numbers, sendfd gives the receiver a
 *     new number.  The runner maps (process, variable) -> fd.
 *   - errors are positive errno values in sc_result.err; addresses are
 *     st_sockaddr plus the interface name of the scope, because interface
 *     indexes differ between model and kernel while names do not.
 *
 * World statements (host, addr, link, sysctl, proc) return 0 or a negative
 * errno with a message in `msg`; the runner treats such a failure as fatal
 * for the scenario (exit 2 for the model; for the kernel, a setup failure
 * such as missing privileges is a skip, see SC_SKIP).
 *
 * Results own nothing the caller must free except `data` and `explain`,
 * which are malloc'd by the backend and released with sc_result_clear().
 */
#ifndef SOCKTAB_SCENARIO_BACKEND_H
#define SOCKTAB_SCENARIO_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "socktab/addr.h"

/* Socket kinds of the language. */
typedef enum sc_kind { SC_TCP4, SC_TCP6, SC_UDP4, SC_UDP6 } sc_kind;

/* An endpoint as the language writes it: the scope is an interface name. */
typedef struct sc_sockaddr {
	st_sockaddr sa;     /* family ST_AF_INET / ST_AF_INET6; scope_id unused */
	char ifname[16];    /* "" = no scope */
} sc_sockaddr;

/* Socket options of the language (setsockopt/getsockopt). */
typedef enum sc_opt {
	SC_SO_REUSEADDR,
	SC_SO_REUSEPORT,
	SC_IPV6_V6ONLY,
	SC_SO_BROADCAST,
	SC_SO_BINDTODEVICE,       /* value: interface name, "" to clear */
	SC_IP_FREEBIND,
	SC_IP_TRANSPARENT,
	SC_IP_BIND_ADDRESS_NO_PORT,
	SC_SO_LINGER,             /* value: on,seconds */
	SC_SO_ERROR,              /* read only */
	SC_IP_LOCAL_PORT_RANGE,   /* extension: value lo,hi (hi<<16|lo on Linux) */
	SC_OPT_COUNT_
} sc_opt;

typedef struct sc_optval {
	int64_t i;          /* integer options; SO_LINGER: on */
	int64_t i2;         /* SO_LINGER: seconds; IP_LOCAL_PORT_RANGE: hi */
	char str[16];       /* SO_BINDTODEVICE */
} sc_optval;

typedef enum sc_shut { SC_SHUT_RD, SC_SHUT_WR, SC_SHUT_RDWR } sc_shut;

/* What a call produced.  `kind` says which fields are meaningful. */
typedef enum sc_rkind {
	SC_R_OK,        /* "ok" */
	SC_R_OK_ADDR,   /* "ok ADDR" (accept: the peer) */
	SC_R_ERR,       /* "EADDRINUSE" (err > 0) */
	SC_R_ADDR,      /* "ADDR" (getsockname, getpeername) */
	SC_R_DATA,      /* "\"DATA\"" (recv; "" at end of stream) */
	SC_R_DATA_FROM, /* "\"DATA\" from ADDR" (recvfrom) */
	SC_R_INT,       /* "1" (getsockopt of an integer option) */
	SC_R_LINGER,    /* "1,0" */
	SC_R_STR,       /* "\"eth0\"" (SO_BINDTODEVICE) */
	SC_R_ERRNAME,   /* "0" or "ECONNREFUSED" (SO_ERROR; err holds it) */
} sc_rkind;

typedef struct sc_result {
	sc_rkind kind;
	int err;              /* SC_R_ERR / SC_R_ERRNAME: positive errno     */
	int fd;               /* socket/accept/sendfd: the new descriptor    */
	sc_sockaddr addr;     /* OK_ADDR, ADDR, DATA_FROM                    */
	uint8_t *data;        /* DATA, DATA_FROM (malloc'd, may be NULL if 0) */
	size_t len;
	int64_t ival, ival2;  /* INT, LINGER                                 */
	char str[16];         /* STR                                         */
	char *explain;        /* malloc'd plain-words explanation, or NULL   */
} sc_result;

void sc_result_clear(sc_result *r);

/*
 * One line of `ls`.
 *
 * Why `owners` is a pointer and not an array: a listing of a million
 * sockets is a million rows in fresh memory, and an inline owner list of
 * 256 bytes made each row 384 bytes, so that page faults alone cost more
 * than the whole listing may (issue 5: 0.1 us per socket).  Owner strings
 * are few -- mostly one per process -- and shared by every row of the same
 * owner set.  They live in the same malloc'd block as the rows, after the
 * last one (or are string literals), so free(rows) still releases
 * everything and a row array is self-contained: sc_lsrows_pack()
 * (lsrows.h) builds such a block.
 *
 * Invariant: owners is never NULL, is "liz,tim" (names sorted, each once,
 * comma-separated, no blanks) or "-", and points into the block of its
 * row array or to a string literal; copying rows out of their block keeps
 * the pointers valid only as long as the block lives.
 */
typedef struct sc_lsrow {
	sc_kind kind;
	char state[12];       /* "LISTEN", "ESTAB", ..., "BOUND", "UNCONN"   */
	sc_sockaddr local;
	sc_sockaddr peer;     /* sa.family == 0: no peer ("*")               */
	const char *owners;   /* see above                                   */
} sc_lsrow;

/* Exit-status meaning of a fatal world error on the kernel backend. */
enum { SC_SKIP = 77 };

/*
 * A world operation (host, addr, link, sysctl, proc) or ls returns
 * -SC_ESKIP -- not an errno value -- when this environment cannot provide
 * what the statement needs (no privileges for a uid, no TUN device, built
 * without libmnl for ls, ...).  The runner then stops, prints the message
 * as `FILE:LINE:COL: skipped: MESSAGE` and exits SC_SKIP; any other
 * negative return is a fatal error of the scenario (exit 2).  (Added for
 * the runner, src/scenario/run.c.)
 */
enum { SC_ESKIP = 7700 };

typedef struct sc_backend sc_backend;

typedef struct sc_backend_ops {
	const char *name; /* "model" or "kernel" */

	/* World.  `msg` gets a one-line reason on failure (msglen >= 128). */
	int (*host)(sc_backend *b, const char *name, char *msg, size_t msglen);
	int (*addr)(sc_backend *b, const char *host, const st_addr *a, int family,
		    int prefixlen, char *msg, size_t msglen);
	int (*link)(sc_backend *b, const char *host1, const st_addr *a1, int fam1, int plen1,
		    const char *host2, const st_addr *a2, int fam2, int plen2,
		    uint64_t delay_ns, char *msg, size_t msglen);
	/* values as written, e.g. {"40000","40009"} */
	int (*sysctl)(sc_backend *b, const char *host, const char *key,
		      const char *const *values, int nvalues, char *msg, size_t msglen);
	/* Returns a process id >= 0.  caps: bit set of ST_CAP_* (socktab/sock.h). */
	int (*proc)(sc_backend *b, const char *name, const char *host, uint32_t uid,
		    uint32_t caps, char *msg, size_t msglen);

	/* Calls by process `p`.  Each fills *r (kind SC_R_ERR on failure). */
	void (*socket)(sc_backend *b, int p, sc_kind kind, sc_result *r);
	void (*setsockopt)(sc_backend *b, int p, int fd, sc_opt opt, const sc_optval *v, sc_result *r);
	void (*getsockopt)(sc_backend *b, int p, int fd, sc_opt opt, sc_result *r);
	void (*bind)(sc_backend *b, int p, int fd, const sc_sockaddr *a, sc_result *r);
	void (*listen)(sc_backend *b, int p, int fd, int backlog, sc_result *r);
	void (*connect)(sc_backend *b, int p, int fd, const sc_sockaddr *a, bool nonblock,
			sc_result *r);
	void (*accept)(sc_backend *b, int p, int fd, sc_result *r);
	void (*send)(sc_backend *b, int p, int fd, const uint8_t *data, size_t len, sc_result *r);
	void (*sendto)(sc_backend *b, int p, int fd, const sc_sockaddr *a, const uint8_t *data,
		       size_t len, sc_result *r);
	void (*recv)(sc_backend *b, int p, int fd, sc_result *r);
	void (*recvfrom)(sc_backend *b, int p, int fd, sc_result *r);
	void (*getsockname)(sc_backend *b, int p, int fd, sc_result *r);
	void (*getpeername)(sc_backend *b, int p, int fd, sc_result *r);
	void (*shutdown)(sc_backend *b, int p, int fd, sc_shut how, sc_result *r);
	void (*close)(sc_backend *b, int p, int fd, sc_result *r);
	/* fork: the new process gets id *child_out and the name `child`. */
	void (*fork)(sc_backend *b, int p, const char *child, int *child_out, sc_result *r);
	void (*sendfd)(sc_backend *b, int p, int fd, int to, sc_result *r);
	void (*exit)(sc_backend *b, int p, sc_result *r);

	/* Global statements. */
	void (*sleep)(sc_backend *b, uint64_t ns);
	/* Rows of the host's table (unbound sockets omitted), malloc'd array. */
	int (*ls)(sc_backend *b, const char *host, sc_lsrow **rows, size_t *nrows);

	void (*destroy)(sc_backend *b);

	/*
	 * Optional (added for `proc ... nofile=N`): process p's descriptor
	 * limit, as setrlimit(RLIMIT_NOFILE) with soft = hard = limit, set
	 * right after proc() created it; fork children inherit it.  A socket,
	 * accept or sendfd that would need descriptor `limit` or above gets
	 * EMFILE.  0 or a negative errno / -SC_ESKIP with a message, like the
	 * world operations.  NULL: the runner skips a scenario that needs it.
	 */
	int (*nofile)(sc_backend *b, int p, int limit, char *msg, size_t msglen);
} sc_backend_ops;

struct sc_backend {
	const sc_backend_ops *ops;
};

/* Options every backend accepts at creation. */
typedef struct sc_backend_config {
	uint64_t seed;        /* --seed: keys of the model's hashes */
	bool explain;         /* fill sc_result.explain */
	const char *pcap;     /* --pcap FILE (model only), or NULL */
} sc_backend_config;

#endif
