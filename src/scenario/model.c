/*
 * src/scenario/model.c - the model backend: scenarios on the simulated
 * world (src/sim) instead of the Linux kernel.
 *
 * This file is only a translation layer, and it is kept that way on
 * purpose: every answer comes from the stack and the core tables, so the
 * same code that the unit tests check is what a scenario exercises.  What
 * it adds is what a system call adds around the protocol code:
 *
 *   - descriptors: a socket variable is a descriptor of one process;
 *   - blocking: connect() without `nonblock` lets simulated time pass
 *     until the handshake is over, as the calling thread would sleep in
 *     the kernel, but at most as long as the kernel replay waits (5 s
 *     plus four times the longest link delay; then it gives up as the
 *     replay does).  Every other call is non-blocking, as on the replay:
 *     accept, recv and send (EAGAIN on a connecting socket);
 *   - "after every statement the network runs until nothing more is in
 *     flight at the current time" (sim_settle);
 *   - explanations: the core's st_explain for a refused call (rule and
 *     conflicting socket, with its owners) and the stacks' demux traces
 *     for the packets the statement caused, joined into plain words.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "scenario/model.h"
#include "sim/sim.h"
#include "alloc.h"

typedef struct model {
	sc_backend base;
	sim_world *w;
	sim_proc **procs;     /* by backend process id */
	int nprocs, capprocs;
	bool explain;
	uint64_t max_delay;   /* the longest link delay, ns (connect's wait) */
	stk_stack *hint_stack; /* where a port hint was given (diff), or NULL */
	char *trace;          /* explanation being collected, malloc'd */
	size_t tlen, tcap;
} model;

static model *M(sc_backend *b)
{
	return (model *)b;
}

/* ---- explanations ------------------------------------------------------- */

static void tappend(model *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tappend(model *m, const char *fmt, ...)
{
	if (!m->explain)
		return;
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	size_t k = (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1;
	if (m->tlen + k + 2 > m->tcap) {
		size_t nc = m->tcap ? m->tcap * 2 : 512;
		while (nc < m->tlen + k + 2)
			nc *= 2;
		char *t = st_realloc(m->trace, nc);
		if (!t)
			return;
		m->trace = t;
		m->tcap = nc;
	}
	if (m->tlen)
		m->trace[m->tlen++] = '\n';
	memcpy(m->trace + m->tlen, buf, k);
	m->tlen += k;
	m->trace[m->tlen] = 0;
}

static void on_trace(void *ctx, const char *text)
{
	tappend(ctx, "%s", text);
}

static void begin(model *m, sc_result *r)
{
	memset(r, 0, sizeof(*r));
	r->kind = SC_R_OK;
	r->fd = -1;
	m->tlen = 0;
	if (m->trace)
		m->trace[0] = 0;
}

static void finish(model *m, sc_result *r)
{
	sim_settle(m->w);
	if (m->explain && m->tlen) {
		/* Best effort: without memory the result stands unexplained. */
		r->explain = st_malloc(m->tlen + 1);
		if (r->explain)
			memcpy(r->explain, m->trace, m->tlen + 1);
	}
	m->tlen = 0;
}

static void set_err(sc_result *r, int err)
{
	if (err < 0)
		err = -err;
	if (err == 0) {
		r->kind = SC_R_OK;
		return;
	}
	r->kind = SC_R_ERR;
	r->err = err;
}

struct owners_ctx {
	const st_sock *sk;
	char *buf;
	size_t len;
	const char *names[64];
	int n;
};

static void collect_owner(sim_proc *p, int fd, stk_sock *sk, void *ctx)
{
	(void)fd;
	struct owners_ctx *o = ctx;
	if (stk_core(sk) != o->sk || o->n >= 64)
		return;
	for (int i = 0; i < o->n; i++)
		if (strcmp(o->names[i], sim_proc_name(p)) == 0)
			return;
	o->names[o->n++] = sim_proc_name(p);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void owners_of(model *m, const st_sock *sk, char *buf, size_t len)
{
	struct owners_ctx o = { .sk = sk };
	sim_foreach_fd(m->w, collect_owner, &o);
	qsort(o.names, (size_t)o.n, sizeof(o.names[0]), cmp_str);
	buf[0] = 0;
	if (o.n == 0) {
		snprintf(buf, len, "-");
		return;
	}
	size_t used = 0;
	for (int i = 0; i < o.n && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? "," : "", o.names[i]);
}

static const char *kind_word(const st_sock *sk)
{
	if (sk->proto == ST_TCP)
		return sk->family == ST_AF_INET ? "tcp4" : "tcp6";
	return sk->family == ST_AF_INET ? "udp4" : "udp6";
}

static void describe_sock(model *m, const st_sock *sk, char *buf, size_t len)
{
	st_sockaddr sa;
	st_getsockname(sk, &sa);
	char a[ST_SOCKADDR_STRLEN];
	st_sockaddr_format(&sa, a, sizeof(a));
	char own[256];
	owners_of(m, sk, own, sizeof(own));
	const char *state = stk_state_name(stk_sock_of(sk));
	char flags[64] = "";
	size_t fl = 0;
	if (sk->flags & ST_F_REUSEADDR)
		fl += (size_t)snprintf(flags + fl, sizeof(flags) - fl, " SO_REUSEADDR");
	if (sk->flags & ST_F_REUSEPORT)
		fl += (size_t)snprintf(flags + fl, sizeof(flags) - fl, " SO_REUSEPORT");
	if (sk->family == ST_AF_INET6 && (sk->flags & ST_F_V6ONLY))
		snprintf(flags + fl, sizeof(flags) - fl, " IPV6_V6ONLY");
	snprintf(buf, len, "%s %s %s (uid %u%s%s) held by %s", kind_word(sk), state ? state : "CLOSED",
		 a, sk->uid, fl ? "," : "", flags, own);
}

static void explain_call(model *m, const st_explain *ex, int err)
{
	if (!m->explain || err == 0 || !ex || ex->rule == ST_RULE_NONE)
		return;
	char line[768];
	int n = snprintf(line, sizeof(line), "%s: %s", st_rule_name(ex->rule),
			 ex->text[0] ? ex->text : st_strerror_name(err));
	if (ex->conflict && n > 0 && (size_t)n < sizeof(line)) {
		char who[384];
		describe_sock(m, ex->conflict, who, sizeof(who));
		snprintf(line + n, sizeof(line) - (size_t)n, "; conflicts with %s", who);
	}
	tappend(m, "%s", line);
}

/* ---- addresses ----------------------------------------------------------- */

static int to_st(model *m, sim_proc *p, const sc_sockaddr *a, st_sockaddr *out)
{
	(void)m;
	*out = a->sa;
	out->scope_id = 0;
	if (a->ifname[0]) {
		int idx = st_net_device_index(sim_host_net(sim_proc_host(p)), a->ifname);
		if (idx < 0)
			return -ENODEV;
		out->scope_id = (uint32_t)idx;
	}
	return 0;
}

static void to_sc(sim_proc *p, const st_sockaddr *sa, sc_sockaddr *out)
{
	sc_sockaddr_from_net(sim_host_net(sim_proc_host(p)), sa, out);
}

/* ---- world ----------------------------------------------------------------- */

/* An errno for a world statement's message: the name where the core knows
 * it, else the C library's words (never just "E?"). */
static const char *errtext(int err)
{
	const char *name = st_strerror_name(err);
	return strcmp(name, "E?") != 0 ? name : strerror(err < 0 ? -err : err);
}

static int m_host(sc_backend *b, const char *name, char *msg, size_t msglen)
{
	model *m = M(b);
	if (sim_host_find(m->w, name))
		return 0;   /* `local` exists from the start */
	int err = sim_host_add(m->w, name, NULL);
	if (err)
		snprintf(msg, msglen, "cannot create host %s: %s", name, errtext(err));
	return err;
}

static sim_host *host_or_local(model *m, const char *name)
{
	return sim_host_find(m->w, name && name[0] ? name : "local");
}

static int m_addr(sc_backend *b, const char *host, const st_addr *a, int family, int plen,
		  char *msg, size_t msglen)
{
	sim_host *h = host_or_local(M(b), host);
	if (!h) {
		snprintf(msg, msglen, "no host %s", host);
		return -ENOENT;
	}
	int err = sim_host_addr(h, a, family, plen);
	if (err)
		snprintf(msg, msglen, "cannot add the address to %s: %s", host, errtext(err));
	return err;
}

static int m_link(sc_backend *b, const char *h1, const st_addr *a1, int f1, int p1, const char *h2,
		  const st_addr *a2, int f2, int p2, uint64_t delay, char *msg, size_t msglen)
{
	model *m = M(b);
	sim_host *x = host_or_local(m, h1), *y = host_or_local(m, h2);
	if (!x || !y) {
		snprintf(msg, msglen, "no host %s", !x ? h1 : h2);
		return -ENOENT;
	}
	int err = sim_link(m->w, x, a1, f1, p1, y, a2, f2, p2, delay);
	if (!err && delay > m->max_delay)
		m->max_delay = delay;
	if (err)
		snprintf(msg, msglen, "cannot create the link %s-%s: %s", h1, h2, errtext(err));
	return err;
}

static int m_sysctl(sc_backend *b, const char *host, const char *key, const char *const *values,
		    int nvalues, char *msg, size_t msglen)
{
	sim_host *h = host_or_local(M(b), host);
	if (!h) {
		snprintf(msg, msglen, "no host %s", host);
		return -ENOENT;
	}
	char val[256];
	size_t used = 0;
	val[0] = 0;
	for (int i = 0; i < nvalues && used < sizeof(val); i++)
		used += (size_t)snprintf(val + used, sizeof(val) - used, "%s%s", i ? " " : "", values[i]);
	int err = st_net_sysctl_set_text(sim_host_net(h), key, val);
	if (err)
		snprintf(msg, msglen, "sysctl %s %s: %s", key, val, errtext(err));
	return err;
}

/* Room for one more process id, made before the world creates the
 * process, so that a failure here leaves no process behind. */
static int reserve_proc(model *m)
{
	if (m->nprocs == m->capprocs) {
		int nc = m->capprocs ? m->capprocs * 2 : 16;
		sim_proc **np = st_realloc(m->procs, (size_t)nc * sizeof(*np));
		if (!np)
			return -ENOMEM;
		m->procs = np;
		m->capprocs = nc;
	}
	return 0;
}

/* Needs reserve_proc() first. */
static int add_proc(model *m, sim_proc *p)
{
	m->procs[m->nprocs] = p;
	return m->nprocs++;
}

static int m_proc(sc_backend *b, const char *name, const char *host, uint32_t uid, uint32_t caps,
		  char *msg, size_t msglen)
{
	model *m = M(b);
	sim_host *h = host_or_local(m, host);
	if (!h) {
		snprintf(msg, msglen, "no host %s", host);
		return -ENOENT;
	}
	sim_proc *p;
	int err = reserve_proc(m);
	if (!err)
		err = sim_proc_new(m->w, name, h, uid, caps, &p);
	if (!err)
		err = add_proc(m, p);
	if (err < 0)
		snprintf(msg, msglen, "cannot create process %s: %s", name, errtext(err));
	return err;
}

/* ---- calls ----------------------------------------------------------------- */

static sim_proc *proc_of(model *m, int p)
{
	return p >= 0 && p < m->nprocs ? m->procs[p] : NULL;
}

/* The socket behind (process, fd), or an EBADF result. */
static stk_sock *sock_of(model *m, int p, int fd, sc_result *r)
{
	sim_proc *pr = proc_of(m, p);
	stk_sock *sk = pr ? sim_fd_get(pr, fd) : NULL;
	if (!sk)
		set_err(r, EBADF);
	return sk;
}

static void m_socket(sc_backend *b, int p, sc_kind kind, sc_result *r)
{
	model *m = M(b);
	begin(m, r);
	sim_proc *pr = proc_of(m, p);
	if (!pr) {
		set_err(r, ESRCH);
		return;
	}
	int proto = kind == SC_TCP4 || kind == SC_TCP6 ? ST_TCP : ST_UDP;
	int fam = kind == SC_TCP4 || kind == SC_UDP4 ? ST_AF_INET : ST_AF_INET6;
	st_cred c = sim_proc_cred(pr);
	stk_sock *sk;
	/* The descriptor first, as socket(2) does: EMFILE (or ENOMEM) before
	 * any socket exists, and then installing it cannot fail. */
	int err = sim_fd_reserve(pr);
	if (!err)
		err = stk_socket(sim_host_stack(sim_proc_host(pr)), proto, fam, &c, &sk);
	if (err) {
		set_err(r, err);
		finish(m, r);
		return;
	}
	r->fd = sim_fd_install(pr, sk);
	finish(m, r);
}

static int map_opt(sc_opt o, stk_opt *out)
{
	static const stk_opt map[SC_OPT_COUNT_] = {
		[SC_SO_REUSEADDR] = STK_SO_REUSEADDR,
		[SC_SO_REUSEPORT] = STK_SO_REUSEPORT,
		[SC_IPV6_V6ONLY] = STK_IPV6_V6ONLY,
		[SC_SO_BROADCAST] = STK_SO_BROADCAST,
		[SC_SO_BINDTODEVICE] = STK_SO_BINDTODEVICE,
		[SC_IP_FREEBIND] = STK_IP_FREEBIND,
		[SC_IP_TRANSPARENT] = STK_IP_TRANSPARENT,
		[SC_IP_BIND_ADDRESS_NO_PORT] = STK_IP_BIND_ADDRESS_NO_PORT,
		[SC_SO_LINGER] = STK_SO_LINGER,
		[SC_SO_ERROR] = STK_SO_ERROR,
		[SC_IP_LOCAL_PORT_RANGE] = STK_IP_LOCAL_PORT_RANGE,
	};
	if ((unsigned)o >= SC_OPT_COUNT_)
		return -ENOPROTOOPT;
	*out = map[o];
	return 0;
}

static void m_setsockopt(sc_backend *b, int p, int fd, sc_opt opt, const sc_optval *v, sc_result *r)
{
	model *m = M(b);
	begin(m, r);
	stk_sock *sk = sock_of(m, p, fd, r);
	if (!sk)
		return;
	stk_opt so;
	int err = map_opt(opt, &so);
	stk_optval val = { v->i, v->i2 };
	if (!err && opt == SC_SO_BINDTODEVICE) {
		val.i = 0;
		if (v->str[0]) {
			int idx = st_net_device_index(stk_stack_net(stk_sock_stack(sk)), v->str);
			if (idx < 0)
				err = -ENODEV;
			else
				val.i = idx;
		}
	}
	if (!err) {
		st_cred c = sim_proc_cred(proc_of(m, p));
		err = stk_setsockopt(sk, so, &val, &c);
	}
	set_err(r, err);
	finish(m, r);
}

static void m_getsockopt(sc_backend *b, int p, int fd, sc_opt opt, sc_result *r)
{
	model *m = M(b);
	begin(m, r);
	stk_sock *sk = sock_of(m, p, fd, r);
	if (!sk)
		return;
	stk_opt so;
	stk_optval v;
	int err = map_opt(opt, &so);
	if (!err)
		err = stk_getsockopt(sk, so, &v);
	if (err) {
		set_err(r, err);
		finish(m, r);
		return;
	}
	switch (opt) {
	case SC_SO_LINGER:
		r->kind = SC_R_LINGER;
		r->ival = v.i;
		r->ival2 = v.i2;
		break;
	case SC_SO_ERROR:
		r->kind = SC_R_ERRNAME;
		r->err = (int)v.i;
		break;
	case SC_SO_BINDTODEVICE: {
		r->kind = SC_R_STR;
		const char *n = v.i ? st_net_device_name(stk_stack_net(stk_sock_stack(sk)), (int)v.i) : "";
		snprintf(r->str, sizeof(r->str), "%s", n ? n : "");
		break;
	}
	case SC_IP_LOCAL_PORT_RANGE:
		r->kind = SC_R_LINGER;   /* printed "lo,hi" */
		r->ival = v.i;
		r->ival2 = v.i2;
		break;
	default:
		r->kind = SC_R_INT;
		r->ival = v.i;
		break;
	}
	finish(m, r);
}

static void m_bind(sc_backend *b, int p, int fd, const sc_sockaddr *a, sc_result *r)
{
	model *m = M(b);
	begin(m, r);
	stk_sock *sk = sock_of(m, p, fd, r);
	if (!sk)
		return;
	st_sockaddr sa;
	int err = to_st(m, proc_of(m, p), a, &sa);
	st_explain ex;
	memset(&ex, 0, sizeof(ex));
	if (!err) {
		st_cred c = sim_proc_cred(proc_of(m, p));
		err = stk_bind(sk, &sa, &c, &ex);
	}
	set_err(r, err);
	explain_call(m, &ex, err);
	finish(m, r);
}

static void m_listen(sc_backend *b, int p, int fd, int backlog, sc_result *r)
{
	model *m = M(b);
	begin(m, r);
	stk_sock *sk = sock_of(m, p, fd, r);
	if (!sk)
		return;
	st_explain ex;
	memset(&ex, 0, sizeof(ex));
	st_cred c = sim_proc_cred(proc_of(m, p));
	int err = stk_listen(sk, backlog, &c, &ex);
	set_err(r, err);
	explain_call(m, &ex, err);
	finish(m, r);
}

/*
 * A blocking connect() waits as long as the kernel replay lets it: 5 s
 * plus four times the longest link delay (docs/conformance.md), after
 * which the replay aborts the attempt with connect(AF_UNSPEC) and reports
 * ETIMEDOUT.  The model does the same, so that both runs stand at the
 * same point in time afterwards (Linux itself would retry the SYN for
 * about two minutes, which neither run waits for).  Returns true when the
 * wait ran out.
 */
enum { CONNECT_WAIT_NS = 5000000000u };

static bool wait_connected_bounded(model *m, stk_sock *sk)
{
	sim_settle(m->w);
	uint64_t end = sim_now(m->w) + CONNECT_WAIT_NS + 4 * m->max_delay;
	while (stk_connect_pending(sk)) {
		if (!sim_step_until(m->w, end)) {
			sim_run_until(m->w, end);
			return stk_connect_pending(sk);
		}
	}
	return false;
}

static void m_connect(sc_backend *b, int p, int fd, const sc_sockaddr *a, bool nonblock, sc_result *r)
{
	model *m = M(b);
	begin(m, r);
	stk_sock *sk = sock_of(m, p, fd, r);
	if (!sk)
		return;
	st_sockaddr sa;
	int err = to_st(m, proc_of(m, p), a, &sa);
	st_explain ex;
	memset(&ex, 0, sizeof(ex));
	st_cred c = sim_proc_cred(proc_of(m, p));
	if (!err)
		err = stk_connect(sk, &sa, &c, &ex);
	explain_call(m, &ex, err);
	if ((err == -EINPROGRESS || err == -EALREADY) && !nonblock) {
		if (wait_connected_bounded(m, sk)) {
			st_sockaddr unspec;
			memset(&unspec, 0, sizeof(unspec));
			unspec.family = ST_AF_UNSPEC;
			stk_connect(sk, &unspec, &c, NULL);
			err = -ETIMEDOUT;
			unsigned long long ms = (CONNECT_WAIT_NS + 4 * m->max_delay) / 1000000u;
			tappend(m, "no answer within %llu ms: the attempt is given up "
				   "(connect(AF_UNSPEC)), as the kernel replay does", ms);
		} else {
			err = stk_connect(sk, &sa, &c, &ex);
			if (err == -EALREADY)
				err = 0;
		}
	}
	set_err(r, err);
	finish(m, r);
}

static void m_accept(sc_backend *b, int p, int fd, sc_result *r)
{
	model *m = M(b);
	begin(m, r);
	stk_sock *sk = sock_of(m, p, fd, r);
	if (!sk)
		return;
	sim_proc *pr = proc_of(m, p);
	/* accept() needs a free descriptor before it takes a connection;
	 * reserving it also makes the install below certain to succeed. */
	int err = sim_fd_reserve(pr);
	if (err) {
		set_err(r, err);
		finish(m, r);
		return;
	}
	stk_sock *child;
	st_sockaddr peer;
	err = stk_accept(sk, &child, &peer);
	if (err) {
		set_err(r, err);
		finish(m, r);
		return;
	}
	int nfd = sim_fd_install(pr, child);
	r->kind = SC_R_OK_ADDR;
	r->fd = nfd;
	to_sc(pr, &peer, &r->addr);
	if (m->explain) {
		char who[384];
		describe_sock(m, stk_core(child), who, sizeof(who));
		tappend(m, "accepted the connection %s", who);
	}
	finish(m, r);
}

static void m_send(sc_backend *b, int p, int fd, const uint8_t *data, size_t len, sc_result *r)
{
	model *m = M(b);
	begin(m, r);
	stk_sock *sk = sock_of(m, p, fd, r);
	if (!sk)
		return;
	/* Never waits for a handshake: a send on a connecting socket says
	 * EAGAIN, as the kernel replay's MSG_DONTWAIT send does. */
	set_err(r, stk_send(sk, data, len));
	finish(m, r);
}

static void m_sendto(sc_backend *b, int p, int fd, const sc_sockaddr *a, const uint8_t *data,
		     size_t len, sc_result *r)
{
	model *m = M(b);
	begin(m, r);
	stk_sock *sk = sock_of(m, p, fd, r);
	if (!sk)
		return;
	st_sockaddr sa;
	int err = to_st(m, proc_of(m, p), a, &sa);
	if (!err) {
		st_cred c = sim_proc_cred(proc_of(m, p));
		err = stk_sendto(sk, &sa, data, len, &c);
	}
	set_err(r, err);
	finish(m, r);
}

enum { RECV_MAX = 65536 };

static void do_recv(model *m, int p, int fd, bool from, sc_result *r)
{
	begin(m, r);
	stk_sock *sk = sock_of(m, p, fd, r);
	if (!sk)
		return;
	uint8_t *buf = st_malloc(RECV_MAX);
	if (!buf) {
		set_err(r, ENOMEM);
		finish(m, r);
		return;
	}
	size_t n = 0;
	st_sockaddr src;
	memset(&src, 0, sizeof(src));
	int err = stk_recv(sk, buf, RECV_MAX, &n, &src);
	if (err) {
		st_free(buf);
		set_err(r, err);
		finish(m, r);
		return;
	}
	r->kind = from ? SC_R_DATA_FROM : SC_R_DATA;
	r->data = buf;
	r->len = n;
	if (from)
		to_sc(proc_of(m, p), &src, &r->addr);
	finish(m, r);
}

static void m_recv(sc_backend *b, int p, int fd, sc_result *r)
{
	do_recv(M(b), p, fd, false, r);
}

static void m_recvfrom(sc_backend *b, int p, int fd, sc_result *r)
{
	do_recv(M(b), p, fd, true, r);
}

static void m_getsockname(sc_backend *b, int p, int fd, sc_result *r)
{
	model *m = M(b);
	begin(m, r);
	stk_sock *sk = sock_of(m, p, fd, r);
	if (!sk)
		return;
	st_sockaddr sa;
	stk_getsockname(sk, &sa);
	r->kind = SC_R_ADDR;
	to_sc(proc_of(m, p), &sa, &r->addr);
	finish(m, r);
}

static void m_getpeername(sc_backend *b, int p, int fd, sc_result *r)
{
	model *m = M(b);
	begin(m, r);
	stk_sock *sk = sock_of(m, p, fd, r);
	if (!sk)
		return;
	st_sockaddr sa;
	int err = stk_getpeername(sk, &sa);
	if (err) {
		set_err(r, err);
	} else {
		r->kind = SC_R_ADDR;
		to_sc(proc_of(m, p), &sa, &r->addr);
	}
	finish(m, r);
}

static void m_shutdown(sc_backend *b, int p, int fd, sc_shut how, sc_result *r)
{
	model *m = M(b);
	begin(m, r);
	stk_sock *sk = sock_of(m, p, fd, r);
	if (!sk)
		return;
	stk_shut h = how == SC_SHUT_RD ? STK_SHUT_RD : how == SC_SHUT_WR ? STK_SHUT_WR : STK_SHUT_RDWR;
	set_err(r, stk_shutdown(sk, h));
	finish(m, r);
}

static void m_close(sc_backend *b, int p, int fd, sc_result *r)
{
	model *m = M(b);
	begin(m, r);
	sim_proc *pr = proc_of(m, p);
	set_err(r, pr ? sim_fd_close(pr, fd) : -ESRCH);
	finish(m, r);
}

static void m_fork(sc_backend *b, int p, const char *child, int *child_out, sc_result *r)
{
	model *m = M(b);
	begin(m, r);
	sim_proc *pr = proc_of(m, p), *c;
	int err = pr ? reserve_proc(m) : -ESRCH;
	if (!err)
		err = sim_proc_fork(pr, child, &c);
	if (!err)
		*child_out = add_proc(m, c);
	set_err(r, err);
	finish(m, r);
}

static void m_sendfd(sc_backend *b, int p, int fd, int to, sc_result *r)
{
	model *m = M(b);
	begin(m, r);
	stk_sock *sk = sock_of(m, p, fd, r);
	if (!sk)
		return;
	sim_proc *dst = proc_of(m, to);
	if (!dst || !sim_proc_alive(dst)) {
		set_err(r, ECONNREFUSED);
		finish(m, r);
		return;
	}
	int err = sim_fd_reserve(dst);
	if (err) {
		set_err(r, err);
	} else {
		stk_hold(sk);
		r->fd = sim_fd_install(dst, sk);
	}
	finish(m, r);
}

static void m_exit(sc_backend *b, int p, sc_result *r)
{
	model *m = M(b);
	begin(m, r);
	sim_proc *pr = proc_of(m, p);
	if (pr)
		sim_proc_exit(pr);
	finish(m, r);
}

static void m_sleep(sc_backend *b, uint64_t ns)
{
	model *m = M(b);
	uint64_t now = sim_now(m->w);
	uint64_t until = ns > UINT64_MAX - now ? UINT64_MAX : now + ns;
	sim_run_until(m->w, until);
	m->tlen = 0;
}

/*
 * ls: one row per bound socket of the host's stack, with the names of the
 * processes that hold a descriptor to it.
 *
 * Shaped for a million sockets at under 0.1 us each (issue 5), where a
 * single cache miss per socket or a page fault per 40 rows is already a
 * large part of the budget:
 *   - the walk goes through the descriptor tables, not the stack's list
 *     of sockets.  The tables are arrays, so the socket records can be
 *     fetched ahead of the one being listed; the list is a chain of
 *     dependent loads, one miss per socket whatever the CPU does;
 *   - a socket found in process P's table with one reference
 *     (stk_sock_refs) is held by P alone: its owner list is P's name,
 *     with no lookup.  The few with more references (fork, sendfd) are
 *     gathered, sorted by socket and joined afterwards;
 *   - sockets no descriptor holds (orphans, TIME-WAIT, children not yet
 *     accepted: no references) are then found on the stack's list, walked
 *     only when the tables did not account for every socket of the stack
 *     (stk_sock_count);
 *   - one block, sized before the walk: the rows (112 bytes each), each
 *     process's name once, then room for the joined lists (bounded by one
 *     name per descriptor; pages never written cost nothing), on huge
 *     pages where the kernel has them (ls_huge_pages).  A row points at
 *     its owners' string: no per-row formatting.
 * The walk relies on stk_sock_refs counting exactly the descriptors of
 * live processes (socket.c says it does); were it ever wrong, a socket
 * would be listed twice or not at all, and more rows than the stack has
 * sockets is reported as EIO rather than written past the block.
 * Rows come out in descriptor order, then the shared sockets, then the
 * unheld ones; the contract promises no order (the runner sorts).
 */
typedef struct ls_table {
	stk_sock *const *fds;
	int nfds;
	const char *name;      /* the process's, in the world */
	const char *owners;    /* its copy in the block */
} ls_table;

typedef struct ls_shared {
	stk_sock *sk;
	const char *name;
} ls_shared;

struct ls_ctx {
	stk_stack *st;
	st_net *net;
	ls_table *tabs;
	size_t ntabs, captabs;
	ls_shared *sh;
	size_t nsh, capsh;
	sc_lsrow *rows;
	size_t n, cap;
	int err;
};

static void ls_table_add(sim_proc *p, stk_sock *const *fds, int nfds, void *ctx)
{
	struct ls_ctx *c = ctx;
	if (c->err)
		return;
	if (c->ntabs == c->captabs) {
		size_t nc = c->captabs ? 2 * c->captabs : 16;
		ls_table *nt = st_realloc(c->tabs, nc * sizeof(*nt));
		if (!nt) {
			c->err = -ENOMEM;
			return;
		}
		c->tabs = nt;
		c->captabs = nc;
	}
	ls_table *t = &c->tabs[c->ntabs++];
	t->fds = fds;
	t->nfds = nfds;
	t->name = sim_proc_name(p);
	t->owners = NULL;
}

static void ls_fill(struct ls_ctx *c, stk_sock *sk, const char *state, const char *owners)
{
	if (c->n == c->cap) {   /* more rows than sockets: the counts lie */
		c->err = -EIO;
		return;
	}
	const st_sock *core = stk_core(sk);
	sc_lsrow *row = &c->rows[c->n++];
	memset(row, 0, sizeof(*row));
	if (core->proto == ST_TCP)
		row->kind = core->family == ST_AF_INET ? SC_TCP4 : SC_TCP6;
	else
		row->kind = core->family == ST_AF_INET ? SC_UDP4 : SC_UDP6;
	memcpy(row->state, state, strnlen(state, sizeof(row->state) - 1));
	st_sockaddr sa;
	st_getsockname(core, &sa);
	sc_sockaddr_from_net(c->net, &sa, &row->local);
	/* The table's peer, as sock_diag reports it: every state but CLOSE and
	 * LISTEN has one, even where getpeername() would say ENOTCONN (a
	 * connected UDP socket whose peer port is 0). */
	if (core->state != ST_CLOSE && core->state != ST_LISTEN) {
		memset(&sa, 0, sizeof(sa));
		sa.family = core->family;
		sa.addr = core->raddr;
		sa.port = core->rport;
		if (core->family == ST_AF_INET6 && core->dev && st_addr_needs_scope(&core->raddr))
			sa.scope_id = (uint32_t)core->dev;   /* as getpeername */
		sc_sockaddr_from_net(c->net, &sa, &row->peer);
	}
	row->owners = owners;
}

static int ls_share(struct ls_ctx *c, stk_sock *sk, const char *name)
{
	if (c->nsh == c->capsh) {
		size_t nc = c->capsh ? 2 * c->capsh : 64;
		ls_shared *ns = st_realloc(c->sh, nc * sizeof(*ns));
		if (!ns)
			return -ENOMEM;
		c->sh = ns;
		c->capsh = nc;
	}
	c->sh[c->nsh].sk = sk;
	c->sh[c->nsh].name = name;
	c->nsh++;
	return 0;
}

/* How far ahead of the descriptor being listed its socket record, then
 * the table record behind it, are fetched: far enough to cover a miss to
 * memory, near enough to stay in L1. */
enum { LS_AHEAD = 16 };

/* Rows of the sockets table t holds alone; the shared ones go to c->sh.
 * Returns how many sockets of the stack it met, bound or not. */
static size_t ls_walk_table(struct ls_ctx *c, const ls_table *t)
{
	stk_sock *const *fds = t->fds;
	int nfds = t->nfds;
	size_t met = 0;
	for (int i = 0; i < nfds; i++) {
		/* Two lines each: records are 16-byte aligned, so the fields
		 * read here (a socket's first 40 bytes, a record's first 56)
		 * often straddle a line boundary. */
		if (i + LS_AHEAD < nfds && fds[i + LS_AHEAD]) {
			__builtin_prefetch(fds[i + LS_AHEAD]);
			__builtin_prefetch((const char *)fds[i + LS_AHEAD] + 40);
		}
		if (i + LS_AHEAD / 2 < nfds && fds[i + LS_AHEAD / 2]) {
			const char *rec = (const char *)stk_core(fds[i + LS_AHEAD / 2]);
			__builtin_prefetch(rec);
			__builtin_prefetch(rec + 56);
		}
		stk_sock *sk = fds[i];
		if (!sk || stk_sock_stack(sk) != c->st)
			continue;
		if (stk_sock_refs(sk) > 1) {
			if (ls_share(c, sk, t->name)) {
				c->err = -ENOMEM;
				return met;
			}
			continue;
		}
		met++;
		const char *state = stk_state_name(sk);
		if (state)
			ls_fill(c, sk, state, t->owners);
	}
	return met;
}

static int cmp_shared(const void *a, const void *b)
{
	const ls_shared *x = a, *y = b;
	if (x->sk != y->sk)
		return (uintptr_t)x->sk < (uintptr_t)y->sk ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Rows of the sockets several descriptors hold, their lists written at
 * `pool`.  Returns how many sockets it met. */
static size_t ls_walk_shared(struct ls_ctx *c, char *pool)
{
	size_t met = 0;
	if (c->nsh)   /* qsort's base may not be NULL, even for 0 items */
		qsort(c->sh, c->nsh, sizeof(*c->sh), cmp_shared);
	for (size_t i = 0, j; i < c->nsh; i = j) {
		stk_sock *sk = c->sh[i].sk;
		char *list = pool;
		for (j = i; j < c->nsh && c->sh[j].sk == sk; j++) {
			if (j > i && strcmp(c->sh[j - 1].name, c->sh[j].name) == 0)
				continue;   /* one process holding two descriptors */
			size_t l = strlen(c->sh[j].name);
			if (pool != list)
				*pool++ = ',';
			memcpy(pool, c->sh[j].name, l);
			pool += l;
		}
		*pool++ = '\0';
		met++;
		const char *state = stk_state_name(sk);
		if (state)
			ls_fill(c, sk, state, list);
		else
			pool = list;   /* not listed: the room is free again */
	}
	return met;
}

static void ls_unheld(stk_sock *sk, void *ctx)
{
	struct ls_ctx *c = ctx;
	if (stk_sock_refs(sk) == 0)
		ls_fill(c, sk, stk_state_name(sk), "-");
}

/*
 * A large block of rows is fresh memory every time (malloc maps it anew),
 * and with 4 KiB pages the first write to each page is a fault: one per 36
 * rows, which measured at 40-500 ns per row on a loaded 2-core VM -- more
 * than the rest of the listing.  Asking for transparent huge pages on the
 * block's 2 MiB-aligned interior makes that one fault per 18,000 rows
 * (the kernel still zeroes the memory).  Only advice: where THP is off or
 * no huge page is free, nothing changes but the time.  The range belongs
 * to this block until free(), which unmaps it (blocks this large are
 * mmapped by malloc; were it heap memory, the advice would only let the
 * heap use huge pages there).
 */
static void ls_huge_pages(void *blk, size_t size)
{
#ifdef MADV_HUGEPAGE
	const uintptr_t huge = (uintptr_t)2 << 20;
	uintptr_t lo = ((uintptr_t)blk + huge - 1) & ~(huge - 1);
	uintptr_t hi = ((uintptr_t)blk + size) & ~(huge - 1);
	if (size >= 4 * huge && hi > lo)
		(void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#else
	(void)blk;
	(void)size;
#endif
}

static int m_ls(sc_backend *b, const char *host, sc_lsrow **rows, size_t *nrows)
{
	model *m = M(b);
	sim_host *h = host_or_local(m, host);
	if (!h)
		return -ENOENT;
	struct ls_ctx c = { .st = sim_host_stack(h) };
	c.net = stk_stack_net(c.st);
	size_t nsocks = stk_sock_count(c.st);
	if (nsocks == 0) {
		*rows = NULL;
		*nrows = 0;
		return 0;
	}
	sim_foreach_fdtable(m->w, ls_table_add, &c);
	if (c.err) {
		st_free(c.tabs);
		return c.err;
	}
	/* The block: rows, names, then room for the joined lists. */
	size_t names = 0, lists = 0;
	for (size_t k = 0; k < c.ntabs; k++) {
		size_t l = strlen(c.tabs[k].name) + 1;
		names += l;
		lists += (size_t)c.tabs[k].nfds * l;
	}
	size_t size = nsocks * sizeof(sc_lsrow) + names + lists;
	sc_lsrow *blk = st_malloc(size);
	if (!blk) {
		st_free(c.tabs);
		return -ENOMEM;
	}
	ls_huge_pages(blk, size);
	c.rows = blk;
	c.cap = nsocks;
	char *pool = (char *)(blk + nsocks);
	size_t met = 0;
	for (size_t k = 0; k < c.ntabs && !c.err; k++) {
		size_t l = strlen(c.tabs[k].name) + 1;
		memcpy(pool, c.tabs[k].name, l);
		c.tabs[k].owners = pool;
		pool += l;
		met += ls_walk_table(&c, &c.tabs[k]);
	}
	if (!c.err)
		met += ls_walk_shared(&c, pool);
	if (!c.err && met < nsocks)
		stk_foreach(c.st, ls_unheld, &c);
	st_free(c.tabs);
	st_free(c.sh);
	if (c.err) {
		st_free(blk);
		return c.err;
	}
	if (c.n == 0) {
		st_free(blk);
		blk = NULL;
	}
	*rows = blk;
	*nrows = c.n;
	return 0;
}

/* `proc ... nofile=N`: the process's RLIMIT_NOFILE (sim/proc.c answers
 * EMFILE once descriptors 3..N-1 are taken; fork copies the limit). */
static int m_nofile(sc_backend *b, int p, int limit, char *msg, size_t msglen)
{
	sim_proc *pr = proc_of(M(b), p);
	if (!pr || limit < 3) {
		snprintf(msg, msglen, "no process %d, or a limit below 3 (%d)", p, limit);
		return -EINVAL;
	}
	sim_proc_set_nofile(pr, limit);
	return 0;
}

static void m_destroy(sc_backend *b)
{
	model *m = M(b);
	sim_world_free(m->w);
	st_free(m->procs);
	st_free(m->trace);
	st_free(m);
}

static const sc_backend_ops model_ops = {
	.name = "model",
	.host = m_host,
	.addr = m_addr,
	.link = m_link,
	.sysctl = m_sysctl,
	.proc = m_proc,
	.socket = m_socket,
	.setsockopt = m_setsockopt,
	.getsockopt = m_getsockopt,
	.bind = m_bind,
	.listen = m_listen,
	.connect = m_connect,
	.accept = m_accept,
	.send = m_send,
	.sendto = m_sendto,
	.recv = m_recv,
	.recvfrom = m_recvfrom,
	.getsockname = m_getsockname,
	.getpeername = m_getpeername,
	.shutdown = m_shutdown,
	.close = m_close,
	.fork = m_fork,
	.sendfd = m_sendfd,
	.exit = m_exit,
	.sleep = m_sleep,
	.ls = m_ls,
	.destroy = m_destroy,
	.nofile = m_nofile,
};

void sc_model_port_hint(sc_backend *b, int p, int fd, uint16_t port)
{
	if (!b || b->ops != &model_ops)
		return;
	model *m = M(b);
	sim_proc *pr = proc_of(m, p);
	stk_sock *sk = pr ? sim_fd_get(pr, fd) : NULL;
	if (m->hint_stack)
		stk_port_hint_done(m->hint_stack, NULL);
	m->hint_stack = sk && port ? stk_sock_stack(sk) : NULL;
	if (m->hint_stack)
		stk_port_hint(m->hint_stack, port);
}

int sc_model_port_hint_done(sc_backend *b, const char **why)
{
	if (why)
		*why = NULL;
	if (!b || b->ops != &model_ops || !M(b)->hint_stack)
		return 0;
	model *m = M(b);
	int r = stk_port_hint_done(m->hint_stack, why);
	m->hint_stack = NULL;
	return r;
}

st_net *sc_model_host_net(sc_backend *b, const char *host)
{
	if (!b || b->ops != &model_ops)
		return NULL;
	sim_host *h = sim_host_find(M(b)->w, host);
	return h ? sim_host_net(h) : NULL;
}

void sc_sockaddr_from_net(st_net *net, const st_sockaddr *sa, sc_sockaddr *out)
{
	memset(out, 0, sizeof(*out));
	out->sa = *sa;
	if (sa->family == ST_AF_INET6 && sa->scope_id) {
		const char *n = st_net_device_name(net, (int)sa->scope_id);
		if (n)
			snprintf(out->ifname, sizeof(out->ifname), "%s", n);
	}
	out->sa.scope_id = 0;
}

sc_backend *sc_model_new(const sc_backend_config *cfg, char *msg, size_t msglen)
{
	model *m = st_calloc(1, sizeof(*m));
	if (!m) {
		snprintf(msg, msglen, "out of memory");
		return NULL;
	}
	m->base.ops = &model_ops;
	m->explain = cfg && cfg->explain;
	int err = sim_world_new(&m->w, cfg ? cfg->seed : 0);
	if (!err)
		err = sim_host_add(m->w, "local", NULL);
	if (!err && cfg && cfg->pcap) {
		err = sim_world_pcap(m->w, cfg->pcap);
		if (err) {
			snprintf(msg, msglen, "cannot write %s: %s", cfg->pcap, strerror(-err));
			sim_world_free(m->w);
			st_free(m);
			return NULL;
		}
	}
	if (err) {
		snprintf(msg, msglen, "cannot create the simulated world: %s", errtext(err));
		sim_world_free(m->w);
		st_free(m);
		return NULL;
	}
	if (m->explain)
		sim_world_trace(m->w, on_trace, m);
	return &m->base;
}
