/*
 * src/kernel/backend.c - the scenario backend on the real kernel.
 *
 * This file is the runner's half of a kernel replay: it implements the
 * operations of src/scenario/backend.h by creating namespaces (netns.c),
 * starting worker processes (worker.c) and sending them one request per
 * call over their control channel (proto.h), and it reads `ls` from the
 * kernel's tables (diag.c) joined with the workers' descriptor tables.
 *
 * Processes.  A `proc` is forked from the runner with every signal blocked
 * (so the runner's cleanup handler can never run in the child), asks for
 * SIGKILL when the runner dies (PR_SET_PDEATHSIG), enters its host's
 * namespace, takes its uid (gid = uid, no supplementary groups) keeping
 * exactly the declared capabilities (PR_SET_KEEPCAPS, then capset), closes
 * everything it inherited but its channel, and reports READY.  uid 0 with
 * every capability is left as it is: plain root.  A `fork` is a real
 * fork() inside the worker, so the child has the same descriptors under
 * the same numbers; the runner hands it a fresh channel by SCM_RIGHTS in
 * the request.  `sendfd` takes a duplicate out of the sender and puts it
 * into the receiver, both by SCM_RIGHTS, through the runner, which closes
 * its own copy before answering.  Every process is watched by a pidfd,
 * which is how the runner knows when it has exited and how it (and the
 * guardian, guard.c) kills it without ever risking a recycled pid.
 *
 * Settling.  The model runs the network until nothing is in flight after
 * every statement.  On the kernel, loopback delivery happens in softirq
 * context, normally before the system call returns, but it may be
 * deferred (ksoftirqd, socket backlog).  So after every call the runner
 * takes a digest of every host's socket table (sockets, states, queue
 * lengths) and waits until it stops changing: two consecutive equal
 * digests SETTLE_STEP apart, giving up after SETTLE_MAX.  Packets held by
 * a delayed link are not "in flight at the current time" and are not
 * waited for, as in the model.
 *
 * Failures.  World statements return -errno and a message.  A call whose
 * process is gone (it crashed, was killed, or stopped answering within
 * its deadline) yields ESRCH with an explanation saying so; the process
 * is then forgotten.  A backend whose thread could not return to its own
 * namespace refuses every further statement.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kernel/kernel.h"
#include "kernel/kr.h"
#include "kernel/proto.h"
#include "scenario/lsrows.h"
#include "socktab/sock.h"

/* How long things may take (docs/conformance.md explains each). */
enum {
	CONNECT_TIMEOUT_MS = 5000,     /* blocking connect, plus 4 x the largest link delay */
	CALL_MARGIN_MS = 5000,         /* a worker must answer within its call + this */
	READY_TIMEOUT_MS = 5000,       /* a new process must be set up within this */
	EXIT_TIMEOUT_MS = 5000,        /* a process must be gone within this after `exit` */
	SETTLE_STEP_US = 200,
	SETTLE_BUSY_MS = 50,
	SETTLE_MAX_MS = 100,
};

typedef struct kr_host {
	char name[KR_NAME_MAX + 1];
	int nsfd;
	int mount_slot;        /* guard slot of /run/netns/NAME, -1 if unnamed */
	char nsname[KR_PATH_MAX - (sizeof("/run/netns/") - 1)]; /* its path fits KR_PATH_MAX */
	int nlinks;            /* ethN: next N */
	kr_diag diag;
	st_addr delayed[KR_MAX_LINKS]; /* this host's addresses on delayed links */
	int ndelayed;
} kr_host;

typedef struct kr_proc {
	char name[KR_NAME_MAX + 1];
	int host;
	pid_t pid;
	int pidfd;             /* -1 once gone */
	int chan;              /* -1 once gone */
	int guard_slot;
	bool child;            /* our own child (else a worker's fork) */
	bool alive;
	char gone[96];         /* why it is gone */
} kr_proc;

typedef struct kr_backend {
	sc_backend base;
	sc_backend_config cfg;
	kr_guard guard;
	kr_relay relay;
	int home;              /* the runner's own network namespace */
	bool userns;           /* not root: inside a user namespace of our own */
	bool broken;           /* stranded outside home: refuse everything */
	uint64_t max_delay_ns;
	kr_host hosts[KR_MAX_HOSTS];
	int nhosts;
	kr_proc *procs;
	int nprocs, capprocs;
} kr_backend;

static const sc_backend_ops kr_ops;

/* ---- small helpers ------------------------------------------------------ */

static int find_host(const kr_backend *b, const char *name)
{
	int i;

	if (!name || !name[0])
		name = "local";
	for (i = 0; i < b->nhosts; i++)
		if (strcmp(b->hosts[i].name, name) == 0)
			return i;
	return -1;
}

/* Names become file names (/run/netns) and ls owners: keep them tame. */
static bool name_ok(const char *s)
{
	size_t n = 0;

	if (!s)
		return false;
	for (; s[n]; n++) {
		char c = s[n];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return false;
	}
	return n > 0 && n <= KR_NAME_MAX;
}

static void set_explain(sc_result *r, const char *fmt, const char *a, const char *b2)
{
	char buf[256];

	free(r->explain);
	snprintf(buf, sizeof(buf), fmt, a, b2);
	r->explain = strdup(buf);
}

static void result_err(sc_result *r, int err)
{
	r->kind = SC_R_ERR;
	r->err = err;
}

/* A caller passed no argument where one is required (a caller's bug). */
static void bad_arg(sc_result *r, const char *what)
{
	memset(r, 0, sizeof(*r));
	r->fd = -1;
	result_err(r, EINVAL);
	set_explain(r, "kernel backend: no %s given%s", what, "");
}

static const char *str_or(const char *s, const char *dflt)
{
	return s ? s : dflt;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Run fn-like blocks inside a host's namespace. */
static int enter(kr_backend *b, int h)
{
	if (b->broken)
		return -EIO;
	return kr_ns_enter(b->hosts[h].nsfd);
}

static int leave(kr_backend *b)
{
	int r = kr_ns_leave(b->home);

	if (r < 0)
		b->broken = true;
	return r;
}

/* ---- processes ---------------------------------------------------------- */

static int grow_procs(kr_backend *b)
{
	kr_proc *np;
	int ncap;

	if (b->nprocs < b->capprocs)
		return 0;
	if (b->nprocs >= KR_MAX_PROCS)
		return -ENOSPC;
	ncap = b->capprocs ? 2 * b->capprocs : 16;
	if (ncap > KR_MAX_PROCS)
		ncap = KR_MAX_PROCS;
	np = realloc(b->procs, (size_t)ncap * sizeof(*np));
	if (!np)
		return -ENOMEM;
	b->procs = np;
	b->capprocs = ncap;
	return 0;
}

/* Drop to uid (gid = uid) with exactly `caps`; uid 0 + all caps is root. */
static int set_creds(uint32_t uid, uint32_t caps, const char **where)
{
	struct __user_cap_header_struct hdr;
	struct __user_cap_data_struct data[2];
	static const struct { uint32_t st; int cap; } map[] = {
		{ ST_CAP_NET_BIND_SERVICE, CAP_NET_BIND_SERVICE },
		{ ST_CAP_NET_ADMIN, CAP_NET_ADMIN },
		{ ST_CAP_NET_RAW, CAP_NET_RAW },
	};
	size_t i;

	if (uid == 0 && (caps & ST_CAP_ALL) == ST_CAP_ALL)
		return 0;
	if (uid != 0) {
		*where = "prctl(PR_SET_KEEPCAPS)";
		if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
			return -errno;
		*where = "setgroups";
		if (setgroups(0, NULL) < 0)
			return -errno;
		*where = "setresgid";
		if (setresgid(uid, uid, uid) < 0)
			return -errno;
		*where = "setresuid";
		if (setresuid(uid, uid, uid) < 0)
			return -errno;
	}
	memset(&hdr, 0, sizeof(hdr));
	memset(data, 0, sizeof(data));
	hdr.version = _LINUX_CAPABILITY_VERSION_3;
	hdr.pid = 0;
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (caps & map[i].st) {
			int c = map[i].cap;

			data[c >> 5].effective |= 1u << (c & 31);
			data[c >> 5].permitted |= 1u << (c & 31);
		}
	}
	*where = "capset";
	if (syscall(SYS_capset, &hdr, data) < 0)
		return -errno;
	/* setuid made us non-dumpable; the runner reads our /proc/PID/fd. */
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	return 0;
}

/*
 * The runner holds two descriptors per process (channel, pidfd), more
 * than the usual soft limit of 1,024 allows for a scenario of 4,096
 * processes, so the backend raises its soft limit towards the hard one.
 * Workers put the limit back as the user had it: a scenario process runs
 * out of descriptors (EMFILE) exactly where the user's programs would.
 */
static bool nofile_raised;
static struct rlimit nofile_orig;

static void raise_nofile(void)
{
	struct rlimit rl;
	rlim_t want = 4 * (rlim_t)KR_MAX_PROCS + 1024;

	if (nofile_raised || getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	nofile_orig = rl;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			return;
	}
	nofile_raised = true;
}

/* Where a worker keeps its channel: out of the way of the socket numbers. */
static int chan_slot(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > 200)
		return 200;
	return 3;
}

static _Noreturn void worker_start(int chan, int nsfd, uint32_t uid, uint32_t caps,
				   pid_t parent)
{
	kr_rsp rsp;
	const char *where = NULL;
	int r = 0, at;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	memset(&rsp, 0, sizeof(rsp));
	if (nofile_raised)
		setrlimit(RLIMIT_NOFILE, &nofile_orig);
	at = chan_slot();
	if (setns(nsfd, CLONE_NEWNET) < 0) {
		r = -errno;
		where = "setns";
	}
	if (r == 0)
		r = set_creds(uid, caps, &where);
	kr_child_stdio();
	if (kr_child_reset(chan, at) < 0)
		_exit(1);
	signal(SIGPIPE, SIG_IGN);
	/* Children made by `fork` are reaped by the kernel, never left as zombies. */
	signal(SIGCHLD, SIG_IGN);
	kr_child_unblock();
	rsp.ret = r < 0 ? -1 : 0;
	rsp.err = -r;
	if (where && r < 0)
		snprintf(rsp.where, sizeof(rsp.where), "%s", where);
	if (kr_chan_send(at, &rsp, sizeof(rsp), NULL, 0, -1) < 0 || r < 0)
		_exit(1);
	kr_worker_main(at);
}

/* Forget a process: close its channel, reap it if it is ours. */
static void proc_gone(kr_backend *b, int p, const char *why)
{
	kr_proc *pr = &b->procs[p];

	if (!pr->alive)
		return;
	pr->alive = false;
	if (pr->chan >= 0)
		close(pr->chan);
	pr->chan = -1;
	if (pr->child) {
		int st;

		/* The channel closed: it is exiting or has exited. */
		if (pr->pidfd >= 0) {
			struct pollfd pf = { .fd = pr->pidfd, .events = POLLIN };

			if (poll(&pf, 1, EXIT_TIMEOUT_MS) == 0)
				syscall(SYS_pidfd_send_signal, pr->pidfd, SIGKILL, NULL, 0);
		}
		if (waitpid(pr->pid, &st, 0) == pr->pid && why == NULL) {
			if (WIFSIGNALED(st))
				snprintf(pr->gone, sizeof(pr->gone), "was killed by signal %d",
					 WTERMSIG(st));
			else
				snprintf(pr->gone, sizeof(pr->gone), "exited with status %d",
					 WEXITSTATUS(st));
		}
	}
	if (why)
		snprintf(pr->gone, sizeof(pr->gone), "%s", why);
	else if (!pr->gone[0])
		snprintf(pr->gone, sizeof(pr->gone), "died");
	kr_guard_forget(&b->guard, pr->guard_slot);
	pr->guard_slot = -1;
	if (pr->pidfd >= 0)
		close(pr->pidfd);
	pr->pidfd = -1;
}

/* Kill a process that stopped answering, then forget it. */
static void proc_kill(kr_backend *b, int p, const char *why)
{
	kr_proc *pr = &b->procs[p];

	if (pr->alive && pr->pidfd >= 0)
		syscall(SYS_pidfd_send_signal, pr->pidfd, SIGKILL, NULL, 0);
	proc_gone(b, p, why);
}

/* Register a new process record (pid known, channel open). */
static int proc_add(kr_backend *b, const char *name, int host, pid_t pid, int chan, bool child)
{
	kr_proc *pr;
	int pidfd, r;

	r = grow_procs(b);
	if (r < 0)
		return r;
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return -errno;
	pr = &b->procs[b->nprocs];
	memset(pr, 0, sizeof(*pr));
	snprintf(pr->name, sizeof(pr->name), "%s", name);
	pr->host = host;
	pr->pid = pid;
	pr->pidfd = pidfd;
	pr->chan = chan;
	pr->child = child;
	pr->alive = true;
	pr->guard_slot = kr_guard_proc(&b->guard, pidfd);
	return b->nprocs++;
}

static int kr_proc_op(sc_backend *base, const char *name, const char *host, uint32_t uid,
		      uint32_t caps, char *msg, size_t msglen)
{
	kr_backend *b = (kr_backend *)base;
	int h = find_host(b, host), sv[2], p, r, rfd;
	pid_t pid, self = getpid();
	sigset_t old;
	kr_rsp rsp;
	ssize_t n;

	if (b->broken) {
		snprintf(msg, msglen, "the kernel backend lost its own namespace");
		return -EIO;
	}
	if (!name_ok(name)) {
		snprintf(msg, msglen, "proc %s: the kernel backend needs names of at most %d "
			 "letters, digits, '_' or '-'", str_or(name, "(none)"), KR_NAME_MAX);
		return -EINVAL;
	}
	if (h < 0) {
		snprintf(msg, msglen, "proc %s: no host %s", name, host ? host : "local");
		return -ENOENT;
	}
	if (b->userns && uid != 0) {
		snprintf(msg, msglen, "proc %s: uid %u cannot exist in the user namespace an "
			 "unprivileged replay runs in (only uid 0 is mapped); run as root",
			 name, (unsigned)uid);
		return -SC_ESKIP;
	}
	r = grow_procs(b);
	if (r < 0) {
		snprintf(msg, msglen, "proc %s: too many processes (at most %d)", name,
			 KR_MAX_PROCS);
		return r;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		r = -errno;
		snprintf(msg, msglen, "proc %s: socketpair: %s", name, strerror(-r));
		return r;
	}
	kr_block_signals(&old);
	pid = fork();
	if (pid == 0)
		worker_start(sv[1], b->hosts[h].nsfd, uid, caps, self);
	kr_restore_signals(&old);
	close(sv[1]);
	if (pid < 0) {
		r = -errno;
		close(sv[0]);
		snprintf(msg, msglen, "proc %s: fork: %s", name, strerror(-r));
		return r;
	}
	p = proc_add(b, name, h, pid, sv[0], true);
	if (p < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		close(sv[0]);
		snprintf(msg, msglen, "proc %s: pidfd_open: %s", name, strerror(-p));
		return p;
	}
	n = kr_chan_recv(sv[0], &rsp, sizeof(rsp), &rfd, READY_TIMEOUT_MS);
	if (rfd >= 0)
		close(rfd);
	if (n != (ssize_t)sizeof(rsp) || rsp.ret < 0) {
		if (n == (ssize_t)sizeof(rsp))
			snprintf(msg, msglen, "proc %s: %s: %s", name, rsp.where,
				 strerror(rsp.err));
		else
			snprintf(msg, msglen, "proc %s: the process did not start (%s)", name,
				 n < 0 ? strerror((int)-n) : "it died");
		proc_kill(b, p, "failed to start");
		b->nprocs--;
		return n == (ssize_t)sizeof(rsp) && rsp.err ? -rsp.err : -ECHILD;
	}
	return p;
}

/* ---- calls ---------------------------------------------------------------- */

/*
 * One host's contribution to the settle rule: a digest of its table, and
 * whether a socket is waiting for something loopback or a veth delivers
 * within microseconds or a few milliseconds: a handshake or a close under
 * way (SYN-SENT, SYN-RECV, FIN-WAIT-1, LAST-ACK, CLOSING) or data not yet
 * acknowledged.  Linux acknowledges a FIN with a delayed ACK (the
 * receiver enters "pingpong" mode in tcp_fin), so FIN-WAIT-1 lasts a few
 * milliseconds after a close even on loopback; the model has nothing in
 * flight at that point, so the replay waits for it.  Sockets on a delayed
 * link are left out: what they wait for is genuinely in flight.
 */
static int host_digest(kr_backend *b, int h, uint64_t *digest, bool *busy)
{
	kr_diag_row *rows = NULL;
	size_t n = 0, i, k;
	uint64_t x = 1469598103934665603ull;
	int r = kr_diag_dump(&b->hosts[h].diag, &rows, &n);

	if (r < 0)
		return r;
	for (i = 0; i < n; i++) {
		const kr_diag_row *w = &rows[i];
		uint32_t f[8] = { (uint32_t)w->kind, w->state, w->inode, w->sport, w->dport,
				  w->rqueue, w->wqueue, w->ifindex };
		const unsigned char *p = (const unsigned char *)f;
		bool tcp = w->kind == SC_TCP4 || w->kind == SC_TCP6, delayed = false;
		int j;

		for (k = 0; k < sizeof(f); k++)
			x = (x ^ p[k]) * 1099511628211ull;
		for (k = 0; k < 16; k++)
			x = (x ^ w->src[k] ^ ((uint64_t)w->dst[k] << 8)) * 1099511628211ull;
		for (j = 0; j < b->hosts[h].ndelayed; j++)
			if (memcmp(b->hosts[h].delayed[j].b, w->src, 16) == 0)
				delayed = true;
		if (!tcp || delayed)
			continue;
		switch (w->state) {
		case 2: case 3: case 4: case 9: case 11: case 12:
			*busy = true;
			break;
		case 1: case 8:
			if (w->wqueue)
				*busy = true;
			break;
		default:
			break;
		}
	}
	free(rows);
	*digest = x ^ n;
	return 0;
}

static uint64_t digest_all(kr_backend *b, bool *ok, bool *busy)
{
	uint64_t h = 0;
	int i;

	*ok = true;
	*busy = false;
	for (i = 0; i < b->nhosts; i++) {
		uint64_t d = 0;

		if (host_digest(b, i, &d, busy) < 0)
			*ok = false;
		h = h * 1099511628211ull + d;
	}
	return h;
}

/*
 * Wait until the hosts' tables are quiet (see the top and host_digest):
 * three equal digests SETTLE_STEP_US apart with nothing busy; a busy
 * table is waited for at most SETTLE_BUSY_MS, anything at most
 * SETTLE_MAX_MS.
 */
static void settle(kr_backend *b)
{
	uint64_t start = kr_now_ns(), prev, cur, el;
	int stable = 0;
	bool ok, busy;

	prev = digest_all(b, &ok, &busy);
	if (!ok) {
		/* No table to look at (should not happen): a fixed pause instead. */
		sleep_ns((uint64_t)SETTLE_BUSY_MS * 1000000u);
		return;
	}
	for (;;) {
		sleep_ns((uint64_t)SETTLE_STEP_US * 1000u);
		cur = digest_all(b, &ok, &busy);
		el = kr_now_ns() - start;
		if (cur == prev && (!busy || el >= (uint64_t)SETTLE_BUSY_MS * 1000000u))
			stable++;
		else
			stable = 0;
		prev = cur;
		if (stable >= 2 || el >= (uint64_t)SETTLE_MAX_MS * 1000000u)
			break;
	}
}

/*
 * One request/response with process p.  On success returns 0 with *rsp
 * filled (and *data pointing into a static buffer of rsp->len bytes, *fd
 * a received descriptor or -1).  If the process is gone, fills r with
 * ESRCH and an explanation and returns -1.
 */
static int call(kr_backend *b, int p, kr_req *q, const void *payload, int send_fd, kr_rsp *rsp,
		const unsigned char **data, int *fd, sc_result *r)
{
	static unsigned char buf[KR_MSG_MAX];
	kr_proc *pr;
	int timeout, e;
	ssize_t n;

	*fd = -1;
	memset(r, 0, sizeof(*r));
	r->fd = -1;
	if (p < 0 || p >= b->nprocs) {
		result_err(r, ESRCH);
		set_explain(r, "kernel backend: no such process%s%s", "", "");
		return -1;
	}
	pr = &b->procs[p];
	if (!pr->alive || b->broken) {
		result_err(r, ESRCH);
		set_explain(r, "kernel backend: process %s %s", pr->name,
			    b->broken ? "is unreachable" : pr->gone);
		return -1;
	}
	timeout = CALL_MARGIN_MS + (q->op == KR_OP_CONNECT ? q->timeout_ms : 0);
	e = kr_chan_send(pr->chan, q, sizeof(*q), payload, q->len, send_fd);
	if (e == 0) {
		n = kr_chan_recv(pr->chan, buf, sizeof(buf), fd, timeout);
		if (n == -ETIMEDOUT) {
			proc_kill(b, p, "stopped answering and was killed");
		} else if (n >= (ssize_t)sizeof(*rsp)) {
			memcpy(rsp, buf, sizeof(*rsp));
			if (rsp->len == (size_t)n - sizeof(*rsp)) {
				*data = buf + sizeof(*rsp);
				return 0;
			}
			proc_kill(b, p, "sent a malformed answer and was killed");
		} else {
			proc_gone(b, p, NULL);
		}
	} else {
		proc_gone(b, p, NULL);
	}
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
	result_err(r, ESRCH);
	set_explain(r, "kernel backend: process %s %s", pr->name, pr->gone);
	return -1;
}

/*
 * Calls that put nothing on the network need no settling: the statement
 * before them has settled already.  (fork and sendfd only copy
 * descriptors; they skip it too.)
 */
static bool is_query(uint32_t op)
{
	return op == KR_OP_GETSOCKOPT || op == KR_OP_GETSOCKNAME || op == KR_OP_GETPEERNAME;
}

/* The common shape: one request, then settle, then fill r from rsp. */
static int simple(kr_backend *b, int p, kr_req *q, const void *payload, kr_rsp *rsp,
		  const unsigned char **data, sc_result *r)
{
	int fd, c = call(b, p, q, payload, -1, rsp, data, &fd, r);

	if (fd >= 0)
		close(fd);
	if (!is_query(q->op))
		settle(b);
	if (c < 0)
		return -1;
	if (rsp->ret < 0) {
		result_err(r, rsp->err);
		return -1;
	}
	r->kind = SC_R_OK;
	return 0;
}

static void init_req(kr_req *q, kr_op op, int fd)
{
	memset(q, 0, sizeof(*q));
	q->op = op;
	q->fd = fd;
}

static void kr_socket(sc_backend *base, int p, sc_kind kind, sc_result *r)
{
	kr_req q;
	kr_rsp rsp;
	const unsigned char *d;

	init_req(&q, KR_OP_SOCKET, -1);
	q.arg = (int32_t)kind;
	if (simple((kr_backend *)base, p, &q, NULL, &rsp, &d, r) == 0)
		r->fd = rsp.ret;
}

static void kr_setsockopt(sc_backend *base, int p, int fd, sc_opt opt, const sc_optval *v,
			  sc_result *r)
{
	kr_req q;
	kr_rsp rsp;
	const unsigned char *d;

	if (!v) {
		bad_arg(r, "option value");
		return;
	}
	init_req(&q, KR_OP_SETSOCKOPT, fd);
	q.arg = (int32_t)opt;
	q.val = *v;
	simple((kr_backend *)base, p, &q, NULL, &rsp, &d, r);
}

static void kr_getsockopt(sc_backend *base, int p, int fd, sc_opt opt, sc_result *r)
{
	kr_req q;
	kr_rsp rsp;
	const unsigned char *d;

	init_req(&q, KR_OP_GETSOCKOPT, fd);
	q.arg = (int32_t)opt;
	if (simple((kr_backend *)base, p, &q, NULL, &rsp, &d, r) < 0)
		return;
	r->kind = (sc_rkind)rsp.kind;
	switch (r->kind) {
	case SC_R_ERRNAME:
		r->err = (int)rsp.ival;
		break;
	case SC_R_STR:
		memcpy(r->str, rsp.str, sizeof(r->str));
		r->str[sizeof(r->str) - 1] = 0;
		break;
	default:
		r->ival = rsp.ival;
		r->ival2 = rsp.ival2;
		break;
	}
}

static void kr_bind(sc_backend *base, int p, int fd, const sc_sockaddr *a, sc_result *r)
{
	kr_req q;
	kr_rsp rsp;
	const unsigned char *d;

	if (!a) {
		bad_arg(r, "address");
		return;
	}
	init_req(&q, KR_OP_BIND, fd);
	q.addr = *a;
	simple((kr_backend *)base, p, &q, NULL, &rsp, &d, r);
}

static void kr_listen(sc_backend *base, int p, int fd, int backlog, sc_result *r)
{
	kr_req q;
	kr_rsp rsp;
	const unsigned char *d;

	init_req(&q, KR_OP_LISTEN, fd);
	q.arg = backlog;
	simple((kr_backend *)base, p, &q, NULL, &rsp, &d, r);
}

static int connect_timeout_ms(const kr_backend *b)
{
	uint64_t ms = CONNECT_TIMEOUT_MS + 4 * (b->max_delay_ns / 1000000u);

	return ms > 600000 ? 600000 : (int)ms;
}

static void kr_connect(sc_backend *base, int p, int fd, const sc_sockaddr *a, bool nonblock,
		       sc_result *r)
{
	kr_backend *b = (kr_backend *)base;
	kr_req q;
	kr_rsp rsp;
	const unsigned char *d;

	if (!a) {
		bad_arg(r, "address");
		return;
	}
	init_req(&q, KR_OP_CONNECT, fd);
	q.addr = *a;
	q.arg = nonblock ? 1 : 0;
	q.timeout_ms = connect_timeout_ms(b);
	simple(b, p, &q, NULL, &rsp, &d, r);
}

static void kr_accept(sc_backend *base, int p, int fd, sc_result *r)
{
	kr_req q;
	kr_rsp rsp;
	const unsigned char *d;

	init_req(&q, KR_OP_ACCEPT, fd);
	if (simple((kr_backend *)base, p, &q, NULL, &rsp, &d, r) < 0)
		return;
	r->fd = rsp.ret;
	r->kind = SC_R_OK_ADDR;
	if (rsp.has_addr)
		r->addr = rsp.addr;
}

static void send_common(kr_backend *b, int p, kr_op op, int fd, const sc_sockaddr *a,
			const uint8_t *data, size_t len, sc_result *r)
{
	kr_req q;
	kr_rsp rsp;
	const unsigned char *d;

	if ((!data && len) || (op == KR_OP_SENDTO && !a)) {
		bad_arg(r, !data && len ? "data" : "address");
		return;
	}
	if (len > KR_DATA_MAX) {
		memset(r, 0, sizeof(*r));
		r->fd = -1;
		result_err(r, EMSGSIZE);
		set_explain(r, "kernel backend: at most 65536 bytes per send%s%s", "", "");
		return;
	}
	init_req(&q, op, fd);
	if (a)
		q.addr = *a;
	q.len = (uint32_t)len;
	simple(b, p, &q, data, &rsp, &d, r);
}

static void kr_send(sc_backend *base, int p, int fd, const uint8_t *data, size_t len,
		    sc_result *r)
{
	send_common((kr_backend *)base, p, KR_OP_SEND, fd, NULL, data, len, r);
}

static void kr_sendto(sc_backend *base, int p, int fd, const sc_sockaddr *a, const uint8_t *data,
		      size_t len, sc_result *r)
{
	send_common((kr_backend *)base, p, KR_OP_SENDTO, fd, a, data, len, r);
}

static void recv_common(kr_backend *b, int p, kr_op op, int fd, sc_result *r)
{
	kr_req q;
	kr_rsp rsp;
	const unsigned char *d;

	init_req(&q, op, fd);
	if (simple(b, p, &q, NULL, &rsp, &d, r) < 0)
		return;
	r->kind = SC_R_DATA;
	if (rsp.len) {
		r->data = malloc(rsp.len);
		if (!r->data) {
			result_err(r, ENOMEM);
			set_explain(r, "kernel backend: out of memory%s%s", "", "");
			return;
		}
		memcpy(r->data, d, rsp.len);
	}
	r->len = rsp.len;
	/* TCP reports no source address: then the address has family 0. */
	if (op == KR_OP_RECVFROM) {
		r->kind = SC_R_DATA_FROM;
		if (rsp.has_addr)
			r->addr = rsp.addr;
	}
}

static void kr_recv(sc_backend *base, int p, int fd, sc_result *r)
{
	recv_common((kr_backend *)base, p, KR_OP_RECV, fd, r);
}

static void kr_recvfrom(sc_backend *base, int p, int fd, sc_result *r)
{
	recv_common((kr_backend *)base, p, KR_OP_RECVFROM, fd, r);
}

static void name_common(kr_backend *b, int p, kr_op op, int fd, sc_result *r)
{
	kr_req q;
	kr_rsp rsp;
	const unsigned char *d;

	init_req(&q, op, fd);
	if (simple(b, p, &q, NULL, &rsp, &d, r) < 0)
		return;
	r->kind = SC_R_ADDR;
	r->addr = rsp.addr;
}

static void kr_getsockname(sc_backend *base, int p, int fd, sc_result *r)
{
	name_common((kr_backend *)base, p, KR_OP_GETSOCKNAME, fd, r);
}

static void kr_getpeername(sc_backend *base, int p, int fd, sc_result *r)
{
	name_common((kr_backend *)base, p, KR_OP_GETPEERNAME, fd, r);
}

static void kr_shutdown(sc_backend *base, int p, int fd, sc_shut how, sc_result *r)
{
	kr_req q;
	kr_rsp rsp;
	const unsigned char *d;

	init_req(&q, KR_OP_SHUTDOWN, fd);
	q.arg = (int32_t)how;
	simple((kr_backend *)base, p, &q, NULL, &rsp, &d, r);
}

static void kr_close(sc_backend *base, int p, int fd, sc_result *r)
{
	kr_req q;
	kr_rsp rsp;
	const unsigned char *d;

	init_req(&q, KR_OP_CLOSE, fd);
	simple((kr_backend *)base, p, &q, NULL, &rsp, &d, r);
}

static void kr_fork(sc_backend *base, int p, const char *child, int *child_out, sc_result *r)
{
	kr_backend *b = (kr_backend *)base;
	kr_req q;
	kr_rsp rsp;
	const unsigned char *d;
	int sv[2], fd, c, e;

	if (!child_out) {
		bad_arg(r, "place for the child's id");
		return;
	}
	memset(r, 0, sizeof(*r));
	r->fd = -1;
	if (!name_ok(child)) {
		result_err(r, EINVAL);
		set_explain(r, "kernel backend: process name %s is not usable (at most 63 "
			    "letters, digits, '_' or '-')%s", str_or(child, "(none)"), "");
		return;
	}
	e = grow_procs(b);
	if (e < 0) {
		result_err(r, -e);
		set_explain(r, "kernel backend: too many processes%s%s", "", "");
		return;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		result_err(r, errno);
		set_explain(r, "kernel backend: socketpair failed%s%s", "", "");
		return;
	}
	init_req(&q, KR_OP_FORK, -1);
	c = call(b, p, &q, NULL, sv[1], &rsp, &d, &fd, r);
	close(sv[1]);
	if (fd >= 0)
		close(fd);
	if (c < 0 || rsp.ret < 0) {
		close(sv[0]);
		if (c == 0)
			result_err(r, rsp.err);
		return;
	}
	/*
	 * The child cannot have been reaped yet: it waits for its first
	 * request, and we have sent none, so the pid is still its own.
	 */
	e = proc_add(b, child, b->procs[p].host, (pid_t)rsp.ret, sv[0], false);
	if (e < 0) {
		close(sv[0]); /* the child reads end of file and exits */
		result_err(r, -e);
		set_explain(r, "kernel backend: cannot watch the forked process%s%s", "", "");
		return;
	}
	*child_out = e;
	r->kind = SC_R_OK;
}

static void kr_sendfd(sc_backend *base, int p, int fd, int to, sc_result *r)
{
	kr_backend *b = (kr_backend *)base;
	kr_req q;
	kr_rsp rsp;
	const unsigned char *d;
	int got = -1, c, unused;

	init_req(&q, KR_OP_FDOUT, fd);
	c = call(b, p, &q, NULL, -1, &rsp, &d, &got, r);
	if (c == 0 && rsp.ret < 0) {
		result_err(r, rsp.err);
		c = -1;
	} else if (c == 0 && got < 0) {
		result_err(r, EPROTO);
		set_explain(r, "kernel backend: the descriptor did not arrive%s%s", "", "");
		c = -1;
	}
	if (c == 0) {
		init_req(&q, KR_OP_FDIN, -1);
		c = call(b, to, &q, NULL, got, &rsp, &d, &unused, r);
		if (unused >= 0)
			close(unused);
		if (c == 0 && rsp.ret < 0)
			result_err(r, rsp.err);
		else if (c == 0) {
			r->kind = SC_R_OK;
			r->fd = rsp.ret;
		}
	}
	/* The runner's copy must not count as an owner, nor keep the socket. */
	if (got >= 0)
		close(got);
}

static void kr_exit(sc_backend *base, int p, sc_result *r)
{
	kr_backend *b = (kr_backend *)base;
	kr_req q;
	kr_rsp rsp;
	const unsigned char *d;
	int fd;

	init_req(&q, KR_OP_EXIT, -1);
	if (call(b, p, &q, NULL, -1, &rsp, &d, &fd, r) == 0) {
		kr_proc *pr = &b->procs[p];

		if (fd >= 0)
			close(fd);
		/* Wait until its descriptors are closed: its sockets are released then. */
		if (!pr->child && pr->pidfd >= 0) {
			struct pollfd pf = { .fd = pr->pidfd, .events = POLLIN };

			if (poll(&pf, 1, EXIT_TIMEOUT_MS) == 0)
				syscall(SYS_pidfd_send_signal, pr->pidfd, SIGKILL, NULL, 0);
		}
		proc_gone(b, p, "has exited");
		r->kind = SC_R_OK;
	}
	settle(b);
}

/* ---- world ---------------------------------------------------------------- */

static int host_create(kr_backend *b, const char *name, char *msg, size_t msglen)
{
	static unsigned counter;
	kr_host *h;
	int r;

	if (!name_ok(name)) {
		snprintf(msg, msglen, "host %s: the kernel backend needs names of at most %d "
			 "letters, digits, '_' or '-'", str_or(name, "(none)"), KR_NAME_MAX);
		return -EINVAL;
	}
	if (find_host(b, name) >= 0) {
		snprintf(msg, msglen, "host %s exists already", name);
		return -EEXIST;
	}
	if (b->nhosts == KR_MAX_HOSTS) {
		snprintf(msg, msglen, "host %s: too many hosts (at most %d)", name, KR_MAX_HOSTS);
		return -ENOSPC;
	}
	if (b->broken) {
		snprintf(msg, msglen, "the kernel backend lost its own namespace");
		return -EIO;
	}
	h = &b->hosts[b->nhosts];
	memset(h, 0, sizeof(*h));
	snprintf(h->name, sizeof(h->name), "%s", name);
	h->mount_slot = -1;
	r = kr_ns_create(b->home, &h->nsfd, msg, msglen);
	if (r < 0) {
		if (r == -ENOTRECOVERABLE)
			b->broken = true;
		return r;
	}
	r = kr_ns_enter(h->nsfd);
	if (r == 0) {
		r = kr_diag_open(&h->diag);
		if (leave(b) < 0) {
			snprintf(msg, msglen, "host %s: setns back to the runner's namespace failed",
				 name);
			kr_diag_close(&h->diag);
			close(h->nsfd);
			return -EIO;
		}
	}
	if (r < 0) {
		snprintf(msg, msglen, "host %s: NETLINK_SOCK_DIAG: %s", name, strerror(-r));
		close(h->nsfd);
		return r;
	}
	/* A name under /run/netns, for people (`ip netns exec`); optional. */
	snprintf(h->nsname, sizeof(h->nsname), "st-%ld-%u-%s", (long)getpid(), counter++, name);
	if (!b->userns) {
		char path[KR_PATH_MAX];
		int slot;

		snprintf(path, sizeof(path), "/run/netns/%s", h->nsname);
		slot = kr_guard_mount(&b->guard, path);
		if (slot >= 0) {
			if (kr_ns_mount(h->nsfd, path) == 0)
				h->mount_slot = slot;
			else
				kr_guard_drop_mount(&b->guard, slot);
		}
	}
	b->nhosts++;
	return 0;
}

static int kr_host_op(sc_backend *base, const char *name, char *msg, size_t msglen)
{
	return host_create((kr_backend *)base, name, msg, msglen);
}

static void fmt_cidr(const st_addr *a, int family, int plen, char *buf, size_t len)
{
	char t[ST_ADDR_STRLEN];

	st_addr_format(a, family, t, sizeof(t));
	snprintf(buf, len, "%s/%d", t, plen);
}

static int kr_addr_op(sc_backend *base, const char *host, const st_addr *a, int family,
		      int prefixlen, char *msg, size_t msglen)
{
	kr_backend *b = (kr_backend *)base;
	int h = find_host(b, host), r;
	char cidr[ST_ADDR_STRLEN + 8];

	if (!a) {
		snprintf(msg, msglen, "addr: no address given");
		return -EINVAL;
	}
	fmt_cidr(a, family, prefixlen, cidr, sizeof(cidr));
	if (h < 0) {
		snprintf(msg, msglen, "addr %s %s: no such host", host ? host : "local", cidr);
		return -ENOENT;
	}
	if (family != ST_AF_INET && family != ST_AF_INET6) {
		snprintf(msg, msglen, "addr %s %s: unknown address family", b->hosts[h].name, cidr);
		return -EAFNOSUPPORT;
	}
	r = enter(b, h);
	if (r == 0) {
		r = kr_addr_add("lo", family, a->b, prefixlen);
		if (leave(b) < 0)
			r = -EIO;
	}
	if (r < 0)
		snprintf(msg, msglen, "addr %s %s: %s", b->hosts[h].name, cidr, strerror(-r));
	return r;
}

/* One end of a link, inside host h: a veth end (already created) or a TUN. */
static int link_end(kr_backend *b, int h, const char *ifname, const st_addr *a, int fam,
		    int plen, bool tun, int *tun_fd, const char **step)
{
	int r = enter(b, h), rl;

	if (r < 0) {
		*step = "setns";
		return r;
	}
	if (tun) {
		*step = "opening /dev/net/tun";
		r = kr_tun_open(ifname);
		if (r >= 0) {
			*tun_fd = r;
			r = 0;
		}
	}
	if (r == 0) {
		*step = "bringing the device up";
		r = kr_link_up(ifname);
	}
	if (r == 0) {
		*step = "adding the address";
		r = kr_addr_add(ifname, fam, a->b, plen);
	}
	rl = leave(b);
	if (rl < 0) {
		*step = "setns back";
		r = rl;
	}
	return r;
}

static int kr_link_op(sc_backend *base, const char *host1, const st_addr *a1, int fam1,
		      int plen1, const char *host2, const st_addr *a2, int fam2, int plen2,
		      uint64_t delay_ns, char *msg, size_t msglen)
{
	kr_backend *b = (kr_backend *)base;
	int h1 = find_host(b, host1), h2 = find_host(b, host2), r, fd1 = -1, fd2 = -1;
	char n1[IF_NAMESIZE], n2[IF_NAMESIZE];
	const char *step = "";
	bool tun = delay_ns > 0;

	if (!a1 || !a2) {
		snprintf(msg, msglen, "link: no address given");
		return -EINVAL;
	}
	if (h1 < 0 || h2 < 0) {
		snprintf(msg, msglen, "link: no host %s",
			 str_or(h1 < 0 ? host1 : host2, "local"));
		return -ENOENT;
	}
	if ((fam1 != ST_AF_INET && fam1 != ST_AF_INET6) ||
	    (fam2 != ST_AF_INET && fam2 != ST_AF_INET6)) {
		snprintf(msg, msglen, "link %s-%s: unknown address family", host1, host2);
		return -EAFNOSUPPORT;
	}
	if (b->hosts[h1].nlinks > 999 || b->hosts[h2].nlinks > 999) {
		snprintf(msg, msglen, "link %s-%s: too many links", host1, host2);
		return -ENOSPC;
	}
	if (tun && (b->hosts[h1].ndelayed + 2 > KR_MAX_LINKS ||
		    b->hosts[h2].ndelayed + 2 > KR_MAX_LINKS)) {
		snprintf(msg, msglen, "link %s-%s: too many delayed links (at most %d per host)",
			 host1, host2, KR_MAX_LINKS - 1);
		return -ENOSPC;
	}
	snprintf(n1, sizeof(n1), "eth%d", b->hosts[h1].nlinks);
	snprintf(n2, sizeof(n2), "eth%d", b->hosts[h2].nlinks + (h1 == h2 ? 1 : 0));
	if (!tun) {
		r = enter(b, h1);
		if (r == 0) {
			r = kr_veth_add(n1, n2, b->hosts[h2].nsfd);
			if (leave(b) < 0)
				r = -EIO;
		}
		if (r < 0) {
			snprintf(msg, msglen, "link %s:%s %s:%s: creating the veth pair: %s",
				 b->hosts[h1].name, n1, b->hosts[h2].name, n2, strerror(-r));
			return r;
		}
	}
	r = link_end(b, h1, n1, a1, fam1, plen1, tun, &fd1, &step);
	if (r < 0 && tun && fd1 < 0 && (r == -EACCES || r == -EPERM || r == -ENOENT)) {
		/* No TUN device for us: this machine cannot replay a delayed link. */
		snprintf(msg, msglen, "link %s-%s delay: %s: %s (a delayed link needs TUN "
			 "devices, which need root)", b->hosts[h1].name, b->hosts[h2].name, step,
			 strerror(-r));
		return -SC_ESKIP;
	}
	if (r < 0) {
		snprintf(msg, msglen, "link: %s %s: %s: %s", b->hosts[h1].name, n1, step,
			 strerror(-r));
		goto fail;
	}
	r = link_end(b, h2, n2, a2, fam2, plen2, tun, &fd2, &step);
	if (r < 0) {
		snprintf(msg, msglen, "link: %s %s: %s: %s", b->hosts[h2].name, n2, step,
			 strerror(-r));
		goto fail;
	}
	if (tun) {
		r = kr_relay_add(&b->relay, &b->guard, fd1, fd2, delay_ns, msg, msglen);
		fd1 = fd2 = -1; /* the relay has them (or they are closed) */
		if (r < 0)
			return r;
		if (delay_ns > b->max_delay_ns)
			b->max_delay_ns = delay_ns;
		b->hosts[h1].delayed[b->hosts[h1].ndelayed++] = *a1;
		b->hosts[h2].delayed[b->hosts[h2].ndelayed++] = *a2;
	}
	b->hosts[h1].nlinks++;
	b->hosts[h2].nlinks++;
	return 0;
fail:
	if (fd1 >= 0)
		close(fd1);
	if (fd2 >= 0)
		close(fd2);
	return r;
}

static int kr_sysctl_op(sc_backend *base, const char *host, const char *key,
			const char *const *values, int nvalues, char *msg, size_t msglen)
{
	kr_backend *b = (kr_backend *)base;
	int h = find_host(b, host), r, i;

	if (!key || nvalues < 0 || (nvalues && !values)) {
		snprintf(msg, msglen, "sysctl: no key or values given");
		return -EINVAL;
	}
	for (i = 0; i < nvalues; i++) {
		if (!values[i]) {
			snprintf(msg, msglen, "sysctl %s: value %d missing", key, i + 1);
			return -EINVAL;
		}
	}
	if (h < 0) {
		snprintf(msg, msglen, "sysctl: no host %s", host ? host : "local");
		return -ENOENT;
	}
	r = enter(b, h);
	if (r == 0) {
		r = kr_sysctl_write(key, values, nvalues);
		if (leave(b) < 0)
			r = -EIO;
	}
	if (b->userns && (r == -EPERM || r == -EACCES) && strncmp(key, "net.", 4) == 0) {
		snprintf(msg, msglen, "sysctl %s: %s (not writable from an unprivileged user "
			 "namespace; run as root)", key, strerror(-r));
		return -SC_ESKIP;
	}
	if (r == -EPERM && strncmp(key, "net.", 4) != 0)
		snprintf(msg, msglen, "sysctl %s: only net.* keys, which are per namespace, can "
			 "be set", key);
	else if (r == -ENOENT)
		snprintf(msg, msglen, "sysctl %s: no such key in a network namespace", key);
	else if (r < 0)
		snprintf(msg, msglen, "sysctl %s on %s: %s", key, b->hosts[h].name, strerror(-r));
	return r;
}

static void kr_sleep(sc_backend *base, uint64_t ns)
{
	sleep_ns(ns);
	settle((kr_backend *)base);
}

/* ---- ls ------------------------------------------------------------------- */

/* The longest owner list ls reports, with its NUL (E2BIG beyond): rows
 * point at their lists (backend.h), which are written here first and
 * packed with the rows at the end. */
enum { OWNERS_MAX = 256 };

typedef struct owner_ref {
	uint32_t inode;
	int proc;
} owner_ref;

static int cmp_owner(const void *x, const void *y)
{
	const owner_ref *a = x, *c = y;

	if (a->inode != c->inode)
		return a->inode < c->inode ? -1 : 1;
	return a->proc - c->proc;
}

/* Every (socket inode, process) pair from the processes' /proc/PID/fd. */
static int collect_owners(kr_backend *b, owner_ref **out, size_t *nout)
{
	owner_ref *v = NULL;
	size_t n = 0, cap = 0;
	int p;

	for (p = 0; p < b->nprocs; p++) {
		char path[64];
		DIR *d;
		struct dirent *e;

		if (!b->procs[p].alive)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/fd", (long)b->procs[p].pid);
		d = opendir(path);
		if (!d)
			continue; /* it just exited: it owns nothing */
		while ((e = readdir(d)) != NULL) {
			char link[64];
			unsigned long ino;
			ssize_t l;
			char tail;

			if (e->d_name[0] == '.')
				continue;
			l = readlinkat(dirfd(d), e->d_name, link, sizeof(link) - 1);
			if (l <= 0)
				continue;
			link[l] = 0;
			if (sscanf(link, "socket:[%lu%c", &ino, &tail) != 2 || tail != ']')
				continue;
			if (n == cap) {
				size_t ncap = cap ? 2 * cap : 64;
				owner_ref *nv = realloc(v, ncap * sizeof(*nv));

				if (!nv) {
					closedir(d);
					free(v);
					return -ENOMEM;
				}
				v = nv;
				cap = ncap;
			}
			v[n].inode = (uint32_t)ino;
			v[n].proc = p;
			n++;
		}
		closedir(d);
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_owner);
	*out = v;
	*nout = n;
	return 0;
}

static int cmp_str(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* "liz,tim" (sorted, each once) or "-". */
static int owners_of(kr_backend *b, const owner_ref *refs, size_t nrefs, uint32_t inode,
		     char *buf, size_t len)
{
	const char *names[64];
	size_t lo = 0, hi = nrefs, i, k = 0, used = 0;

	snprintf(buf, len, "-");
	if (!inode)
		return 0;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (refs[mid].inode < inode)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (i = lo; i < nrefs && refs[i].inode == inode; i++) {
		if (k == sizeof(names) / sizeof(names[0]))
			return -E2BIG;
		names[k++] = b->procs[refs[i].proc].name;
	}
	if (!k)
		return 0;
	qsort(names, k, sizeof(names[0]), cmp_str);
	buf[0] = 0;
	for (i = 0; i < k; i++) {
		size_t l = strlen(names[i]);

		if (i && strcmp(names[i], names[i - 1]) == 0)
			continue;
		if (used + l + 2 > len)
			return -E2BIG;
		if (used)
			buf[used++] = ',';
		memcpy(buf + used, names[i], l + 1);
		used += l;
	}
	return 0;
}

static const char *state_name(sc_kind kind, int st)
{
	if (kind == SC_UDP4 || kind == SC_UDP6)
		return st == 1 ? "ESTAB" : "UNCONN";
	switch (st) {
	case 1: return "ESTAB";
	case 2: return "SYN-SENT";
	case 3: return "SYN-RECV";
	case 4: return "FIN-WAIT-1";
	case 5: return "FIN-WAIT-2";
	case 6: return "TIME-WAIT";
	case 7: return "BOUND";       /* TCP_CLOSE, reported for bound-inactive sockets */
	case 8: return "CLOSE-WAIT";
	case 9: return "LAST-ACK";
	case 10: return "LISTEN";
	case 11: return "CLOSING";
	case 12: return "SYN-RECV";   /* TCP_NEW_SYN_RECV: a request socket */
	default: return NULL;
	}
}

/* No peer for listeners, bound-inactive TCP and unconnected UDP. */
static bool has_peer(sc_kind kind, int st)
{
	if (kind == SC_UDP4 || kind == SC_UDP6)
		return st == 1;
	return st != 7 && st != 10;
}

static void row_addr(sc_kind kind, const uint8_t a[16], uint16_t port, uint32_t ifindex,
		     sc_sockaddr *out)
{
	memset(out, 0, sizeof(*out));
	out->sa.family = (kind == SC_TCP4 || kind == SC_UDP4) ? ST_AF_INET : ST_AF_INET6;
	out->sa.port = port;
	memcpy(out->sa.addr.b, a, 16);
	/* A scope shows where getsockname would show one: scoped v6 addresses. */
	if (out->sa.family == ST_AF_INET6 && ifindex && st_addr_needs_scope(&out->sa.addr) &&
	    !if_indextoname(ifindex, out->ifname))
		snprintf(out->ifname, sizeof(out->ifname), "%u", (unsigned)ifindex);
}

static int cmp_sa(const sc_sockaddr *x, const sc_sockaddr *y)
{
	int c;

	if (x->sa.family != y->sa.family)
		return x->sa.family < y->sa.family ? -1 : 1;
	c = memcmp(x->sa.addr.b, y->sa.addr.b, 16);
	if (c)
		return c;
	if (x->sa.port != y->sa.port)
		return x->sa.port < y->sa.port ? -1 : 1;
	return strcmp(x->ifname, y->ifname);
}

static int cmp_row(const void *x, const void *y)
{
	const sc_lsrow *a = x, *c = y;
	int r;

	if (a->kind != c->kind)
		return a->kind < c->kind ? -1 : 1;
	r = cmp_sa(&a->local, &c->local);
	if (r)
		return r;
	r = cmp_sa(&a->peer, &c->peer);
	if (r)
		return r;
	r = strcmp(a->state, c->state);
	return r ? r : strcmp(a->owners, c->owners);
}

static int kr_ls(sc_backend *base, const char *host, sc_lsrow **rows_out, size_t *nrows_out)
{
	kr_backend *b = (kr_backend *)base;
	int h = find_host(b, host), r;
	kr_diag_row *dr = NULL;
	owner_ref *refs = NULL;
	size_t nd = 0, nrefs = 0, i, n = 0;
	sc_lsrow *rows = NULL, *packed = NULL;
	char (*lists)[OWNERS_MAX] = NULL;   /* row i's owner list until packed */

	if (!rows_out || !nrows_out)
		return -EINVAL;
	if (h < 0)
		return -ENOENT;
	if (b->broken)
		return -EIO;
	r = kr_diag_dump(&b->hosts[h].diag, &dr, &nd);
	if (r < 0)
		return r;
	r = collect_owners(b, &refs, &nrefs);
	if (r < 0)
		goto out;
	if (nd) {
		rows = calloc(nd, sizeof(*rows));
		lists = malloc(nd * sizeof(*lists));
		if (!rows || !lists) {
			r = -ENOMEM;
			goto out;
		}
	}
	/* Interface names mean something only inside the host's namespace. */
	r = enter(b, h);
	if (r < 0)
		goto out;
	for (i = 0; i < nd && r == 0; i++) {
		const kr_diag_row *d = &dr[i];
		const char *st = state_name(d->kind, d->state);
		sc_lsrow *w = &rows[n];

		if (!st || (d->sport == 0 && d->state != 6))
			continue; /* not a state of the language, or not bound */
		w->kind = d->kind;
		snprintf(w->state, sizeof(w->state), "%s", st);
		row_addr(d->kind, d->src, d->sport, d->ifindex, &w->local);
		if (has_peer(d->kind, d->state))
			row_addr(d->kind, d->dst, d->dport, d->ifindex, &w->peer);
		r = owners_of(b, refs, nrefs, d->inode, lists[n], sizeof(lists[n]));
		w->owners = lists[n];
		n++;
	}
	if (leave(b) < 0 && r == 0)
		r = -EIO;
	if (r < 0)
		goto out;
	if (n)
		qsort(rows, n, sizeof(*rows), cmp_row);
	r = sc_lsrows_pack(rows, n, &packed);
	if (r < 0)
		goto out;
	*rows_out = packed;
	*nrows_out = n;
out:
	free(lists);
	free(rows);
	free(refs);
	free(dr);
	return r;
}

/* ---- lifetime ------------------------------------------------------------- */

static void kr_destroy(sc_backend *base)
{
	kr_backend *b = (kr_backend *)base;
	uint64_t end;
	int p, h;

	if (!b)
		return;
	/* End of file on every channel: each worker exits by itself. */
	for (p = 0; p < b->nprocs; p++) {
		if (b->procs[p].alive && b->procs[p].chan >= 0) {
			close(b->procs[p].chan);
			b->procs[p].chan = -1;
		}
	}
	end = kr_now_ns() + (uint64_t)EXIT_TIMEOUT_MS * 1000000u;
	for (p = 0; p < b->nprocs; p++) {
		kr_proc *pr = &b->procs[p];
		uint64_t now = kr_now_ns();
		struct pollfd pf;

		if (!pr->alive)
			continue;
		pf.fd = pr->pidfd;
		pf.events = POLLIN;
		if (pr->pidfd >= 0 && poll(&pf, 1, now < end ? (int)((end - now) / 1000000u) : 0) == 0)
			syscall(SYS_pidfd_send_signal, pr->pidfd, SIGKILL, NULL, 0);
		proc_gone(b, p, "was stopped at the end");
	}
	kr_relay_stop(&b->relay, &b->guard);
	for (h = 0; h < b->nhosts; h++) {
		kr_diag_close(&b->hosts[h].diag);
		if (b->hosts[h].nsfd >= 0)
			close(b->hosts[h].nsfd);
		if (b->hosts[h].mount_slot >= 0)
			kr_guard_unmount(&b->guard, b->hosts[h].mount_slot);
	}
	kr_guard_stop(&b->guard);
	if (b->home >= 0)
		close(b->home);
	free(b->procs);
	free(b);
}

static const sc_backend_ops kr_ops = {
	.name = "kernel",
	.host = kr_host_op,
	.addr = kr_addr_op,
	.link = kr_link_op,
	.sysctl = kr_sysctl_op,
	.proc = kr_proc_op,
	.socket = kr_socket,
	.setsockopt = kr_setsockopt,
	.getsockopt = kr_getsockopt,
	.bind = kr_bind,
	.listen = kr_listen,
	.connect = kr_connect,
	.accept = kr_accept,
	.send = kr_send,
	.sendto = kr_sendto,
	.recv = kr_recv,
	.recvfrom = kr_recvfrom,
	.getsockname = kr_getsockname,
	.getpeername = kr_getpeername,
	.shutdown = kr_shutdown,
	.close = kr_close,
	.fork = kr_fork,
	.sendfd = kr_sendfd,
	.exit = kr_exit,
	.sleep = kr_sleep,
	.ls = kr_ls,
	.destroy = kr_destroy,
};

/* Set when this process has moved into a user namespace of its own. */
static bool in_own_userns;

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), e = 0;
	size_t len = strlen(text);

	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len)
		e = -errno;
	close(fd);
	return e;
}

/*
 * Not root: become root of a user namespace of our own (uid 0 -> our uid,
 * nothing else mapped), and leave the machine's network namespace for one
 * owned by that user namespace, because a thread may only setns() between
 * namespaces in which it has CAP_SYS_ADMIN: the runner must be able to
 * come back home after configuring a host.  Both moves are for good.
 */
static int enter_userns(char *msg, size_t msglen)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();
	char map[64];
	int r;

	if (unshare(CLONE_NEWUSER) < 0) {
		r = -errno;
		snprintf(msg, msglen, "the kernel backend needs root or unprivileged user "
			 "namespaces: unshare(CLONE_NEWUSER): %s", strerror(-r));
		return r;
	}
	r = write_file("/proc/self/setgroups", "deny");
	if (r == 0) {
		snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
		r = write_file("/proc/self/uid_map", map);
	}
	if (r == 0) {
		snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
		r = write_file("/proc/self/gid_map", map);
	}
	if (r < 0) {
		snprintf(msg, msglen, "the kernel backend could not map its uid in a user "
			 "namespace: %s", strerror(-r));
		return r;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		r = -errno;
		snprintf(msg, msglen, "the kernel backend needs root or unprivileged network "
			 "namespaces: unshare(CLONE_NEWNET): %s", strerror(-r));
		return r;
	}
	in_own_userns = true;
	return 0;
}

sc_backend *kr_backend_new(const sc_backend_config *cfg, char *msg, size_t msglen, int *skip)
{
	kr_backend *b;
	int r;

	*skip = 0;
#ifndef SOCKTAB_HAVE_LIBMNL
	(void)cfg;
	(void)b;
	(void)r;
	*skip = 1;
	snprintf(msg, msglen, "the kernel backend needs libmnl (Debian: libmnl-dev); this "
		 "socktab was built without it");
	return NULL;
#else
	if (geteuid() != 0 && !in_own_userns) {
		if (enter_userns(msg, msglen) < 0) {
			*skip = 1;
			return NULL;
		}
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		snprintf(msg, msglen, "out of memory");
		return NULL;
	}
	b->base.ops = &kr_ops;
	if (cfg)
		b->cfg = *cfg;
	b->userns = in_own_userns;
	b->relay.chan = -1;
	b->relay.pid = -1;
	b->relay.pidfd = -1;
	b->relay.guard_slot = -1;
	raise_nofile();
	b->guard.chan = -1;
	b->guard.pid = -1;
	b->home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (b->home < 0) {
		snprintf(msg, msglen, "open /proc/thread-self/ns/net: %s", strerror(errno));
		free(b);
		return NULL;
	}
	r = kr_guard_start(&b->guard, msg, msglen);
	if (r < 0) {
		close(b->home);
		free(b);
		return NULL;
	}
	r = host_create(b, "local", msg, msglen);
	if (r < 0) {
		/* Not allowed to make namespaces at all: a skip, not a failure. */
		if (r == -EPERM || r == -EACCES)
			*skip = 1;
		kr_destroy(&b->base);
		return NULL;
	}
	return &b->base;
#endif
}
