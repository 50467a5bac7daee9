/*
 * test_full_failwalk.c - allocation-failure walk (issue 2, rule 8: "a call
 * that returns an error, including -ENOMEM, leaves every table exactly as
 * it was").
 *
 * One script of bind / listen / connect / accept / state changes /
 * TIME_WAIT / disconnect / setsockopt / close calls over two dozen TCP and
 * UDP sockets is run first without failures: every call's result and a
 * digest of everything observable after it are recorded, and the number
 * of allocations the script makes is counted (st_alloc_fail_at).  Then,
 * for every N from 1 to that count, a fresh net runs the same script with
 * the Nth allocation failing.  Before each call a snapshot is taken of all
 * that the public API shows: every socket's fields, getsockname /
 * getpeername, a fixed set of TCP and UDP lookups (which socket and which
 * stage), broadcast fan-out, st_net_count.  At the call whose result
 * differs from the clean run:
 *   - the result must be -ENOMEM;
 *   - st_net_check must pass;
 *   - the snapshot must equal the one taken before the call;
 * and the run stops there.  Calls before it must give the clean run's
 * results and digests (a failure that a call absorbed must not leave a
 * visible trace either), and a run in which no call failed must match the
 * clean run throughout.  Every run is torn down (st_close on every socket,
 * st_net_free) with allocation failures disarmed, so that the sanitizer
 * build (build-asan) reports any leak the failure paths cause.
 *
 * The net, its devices and sysctls are set up before the countdown is
 * armed: the walk is about the socket calls.
 */
#include "helpers.h"
#include "net_internal.h" /* sk_rpg, sk_rpi: a socket's SO_REUSEPORT group and slot */
#include "alloc.h" /* st_alloc_fail_at: the core's failure-injection hook */

enum { NS = 32, MAXSTEPS = 200, SNAP = 40000 };

/* ------------------------------------------------------------------ */
/* Snapshots                                                             */
/* ------------------------------------------------------------------ */

struct snap {
	char text[SNAP];
	size_t len;
};

static void sp(struct snap *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sp(struct snap *s, const char *fmt, ...)
{
	va_list ap;
	if (s->len >= sizeof s->text - 1)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(s->text + s->len, sizeof s->text - s->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		s->len += (size_t)n < sizeof s->text - s->len ? (size_t)n : sizeof s->text - s->len - 1;
}

static int sk_index(st_sock *socks, const st_sock *sk)
{
	if (!sk)
		return -1;
	if (sk < socks || sk >= socks + NS)
		return -2;
	return (int)(sk - socks);
}

static void multi_fn(st_sock *sk, void *ctx)
{
	unsigned *mask = ctx;
	(void)sk;
	(*mask)++;
}

static void probe(struct snap *s, st_net *net, st_sock *socks, int proto, const char *from,
		  const char *to)
{
	st_sockaddr a, b;
	st_pkt p;
	st_lookup_explain lex;
	if (st_sockaddr_parse(from, &a) || st_sockaddr_parse(to, &b)) {
		sp(s, "bad probe %s %s\n", from, to);
		return;
	}
	memset(&p, 0, sizeof p);
	p.family = (uint8_t)b.family;
	p.proto = (uint8_t)proto;
	p.ifindex = ST_IFINDEX_LO;
	p.saddr = a.addr;
	p.sport = a.port;
	p.daddr = b.addr;
	p.dport = b.port;
	st_sock *r = proto == ST_TCP ? st_lookup_tcp(net, &p, &lex) : st_lookup_udp(net, &p, &lex);
	sp(s, "%c %s>%s=%d/%d/%u", proto == ST_TCP ? 'T' : 'U', from, to, sk_index(socks, r),
	   (int)lex.stage, lex.group_size);
	if (proto == ST_UDP && st_net_is_bcast_or_mcast(net, &p)) {
		unsigned n = 0;
		sp(s, " multi %d", st_lookup_udp_multi(net, &p, multi_fn, &n));
	}
	sp(s, "\n");
}

/* The ports the script uses: explicit 5000-5007, ephemeral 40000-40015. */
static void take_snapshot(struct snap *s, st_net *net, st_sock *socks, const unsigned char *live)
{
	char a[96], b[96];
	s->len = 0;
	s->text[0] = 0;
	sp(s, "count %zu\n", st_net_count(net));
	for (int i = 0; i < NS; i++) {
		const st_sock *k = &socks[i];
		if (!live[i])
			continue;
		st_sockaddr n, pr;
		st_getsockname(k, &n);
		int prc = st_getpeername(k, &pr);
		int grp = -1;
		if (sk_rpg(k))
			for (int j = 0; j < NS; j++)
				if (live[j] && sk_rpg(&socks[j]) == sk_rpg(k)) {
					grp = j;
					break;
				}
		sp(s, "sk%d p%u f%u st%u fl%#x uid%u dev%d pr%#x stale%u rp%d/%u name %s peer %s\n", i,
		   k->proto, k->family, k->state, (unsigned)k->flags, k->uid, (int)k->dev,
		   k->port_range, k->stale_lport, grp, grp >= 0 ? sk_rpi(k) : 0,
		   h_fmt_sa(&n, a, sizeof a), prc ? "-" : h_fmt_sa(&pr, b, sizeof b));
	}
	static const unsigned lports[] = {5000, 5001, 5002, 5003, 5004, 5005, 5006, 5007};
	char to[64], from[64];
	for (int proto = 0; proto < 2; proto++) {
		int pr = proto ? ST_UDP : ST_TCP;
		for (unsigned i = 0; i < 24; i++) {
			unsigned port = i < 8 ? lports[i] : 40000 + (i - 8);
			snprintf(to, sizeof to, "127.0.0.1:%u", port);
			probe(s, net, socks, pr, "127.0.0.9:999", to);
			snprintf(to, sizeof to, "127.0.0.2:%u", port);
			probe(s, net, socks, pr, "127.0.0.9:999", to);
			snprintf(to, sizeof to, "[::1]:%u", port);
			probe(s, net, socks, pr, "[::1]:999", to);
		}
		for (unsigned port = 40000; port < 40016; port++) {
			snprintf(from, sizeof from, "127.0.0.1:%u", port);
			probe(s, net, socks, pr, from, "127.0.0.1:5000");
			snprintf(to, sizeof to, "127.0.0.1:%u", port);
			probe(s, net, socks, pr, "127.0.0.1:5000", to);
			probe(s, net, socks, pr, "127.0.0.1:5001", to);
			probe(s, net, socks, pr, "127.0.0.1:9", to);
		}
	}
	probe(s, net, socks, ST_UDP, "127.0.0.9:999", "127.255.255.255:5003");
	probe(s, net, socks, ST_UDP, "127.0.0.1:9", "127.0.0.1:5002");
}

static uint64_t digest(const struct snap *s)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < s->len; i++)
		h = (h ^ (unsigned char)s->text[i]) * 1099511628211ull;
	return h;
}

/* ------------------------------------------------------------------ */
/* The run                                                               */
/* ------------------------------------------------------------------ */

struct run {
	st_net *net;
	st_sock socks[NS];
	unsigned char live[NS];
	bool dry;           /* the clean run: record */
	int step;
	/* clean run records */
	int nsteps;
	int rc[MAXSTEPS];
	uint64_t dig[MAXSTEPS];
	const char *what[MAXSTEPS];
	/* faulted run outcome */
	int failed_step;    /* -1: none */
	char msg[2048];     /* first problem found, empty if none */
	struct snap before, after;
};

static struct run clean;

static void fail_run(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail_run(struct run *r, const char *fmt, ...)
{
	va_list ap;
	if (r->msg[0])
		return;
	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof r->msg, fmt, ap);
	va_end(ap);
}

/* Before a call: in a faulted run, the snapshot the call must leave
 * alone if it fails. */
static bool step_begin(struct run *r)
{
	if (r->msg[0] || r->failed_step >= 0)
		return false;
	if (!r->dry)
		take_snapshot(&r->before, r->net, r->socks, r->live);
	return true;
}

/* After a call.  Returns false when the run is over. */
static bool step_end(struct run *r, int rc, const char *what)
{
	int i = r->step++;
	char buf[512];
	if (i >= MAXSTEPS) {
		fail_run(r, "script longer than MAXSTEPS");
		return false;
	}
	if (st_net_check(r->net, buf, sizeof buf) != 0) {
		fail_run(r, "step %d (%s) -> %s: st_net_check: %s", i, what, h_rc(rc), buf);
		return false;
	}
	take_snapshot(&r->after, r->net, r->socks, r->live);
	if (r->dry) {
		r->rc[i] = rc;
		r->dig[i] = digest(&r->after);
		r->what[i] = what;
		r->nsteps = r->step;
		return true;
	}
	if (rc != clean.rc[i]) {
		r->failed_step = i;
		if (rc != -ENOMEM) {
			fail_run(r, "step %d (%s) returned %s; the clean run gave %s; an allocation "
				 "failure may only turn a result into -ENOMEM", i, what, h_rc(rc),
				 h_rc(clean.rc[i]));
			return false;
		}
		if (r->after.len != r->before.len || memcmp(r->after.text, r->before.text, r->after.len)) {
			size_t k = 0;
			while (k < r->after.len && k < r->before.len && r->after.text[k] == r->before.text[k])
				k++;
			size_t from = k > 120 ? k - 120 : 0;
			fail_run(r, "step %d (%s) failed with -ENOMEM but changed what the API shows; "
				 "first difference at byte %zu:\n  before: ...%.240s\n  after:  ...%.240s",
				 i, what, k, r->before.text + from, r->after.text + from);
		}
		return false;
	}
	if (digest(&r->after) != clean.dig[i]) {
		fail_run(r, "step %d (%s) returned %s like the clean run, but what the API shows "
			 "after it differs from the clean run", i, what, h_rc(rc));
		return false;
	}
	return true;
}

#define STEP(r, call)                                          \
	do {                                                   \
		if (!step_begin(r))                            \
			return;                                \
		int rc_ = (call);                              \
		if (!step_end((r), rc_, #call))                \
			return;                                \
	} while (0)

static st_sockaddr EP(const char *text)
{
	st_sockaddr sa;
	memset(&sa, 0, sizeof sa);
	if (st_sockaddr_parse(text, &sa) != 0)
		sa.family = 0xffff; /* makes the step fail visibly in both runs */
	return sa;
}

static int salen(const st_sockaddr *sa)
{
	return sa->family == ST_AF_INET6 ? ST_SOCKADDR_IN6_LEN : ST_SOCKADDR_IN_LEN;
}

static int do_sock(struct run *r, int i, int proto, int family)
{
	int rc = st_sock_init(r->net, &r->socks[i], proto, family, H_UID);
	if (rc == 0)
		r->live[i] = 1;
	return rc;
}

static int do_bind(struct run *r, int i, const char *ep)
{
	st_sockaddr sa = EP(ep);
	st_cred c = h_cred(H_UID, 0);
	st_explain ex;
	return st_bind(r->net, &r->socks[i], &sa, salen(&sa), &c, &ex);
}

static int do_listen(struct run *r, int i)
{
	st_cred c = h_cred(H_UID, 0);
	st_explain ex;
	return st_listen(r->net, &r->socks[i], &c, &ex);
}

static int do_connect(struct run *r, int i, const char *ep)
{
	st_sockaddr sa = EP(ep);
	st_cred c = h_cred(H_UID, 0);
	st_explain ex;
	return st_connect(r->net, &r->socks[i], &sa, salen(&sa), &c, &ex);
}

static int do_opt(struct run *r, int i, st_opt o, uint32_t v)
{
	st_cred c = h_cred(H_UID, ST_CAP_ALL);
	return st_setsockopt(r->net, &r->socks[i], o, v, &c);
}

/* Accept on listener l a child i for local <- the client socket c. */
static int do_accept(struct run *r, int l, int i, int c)
{
	st_sockaddr local, remote;
	st_getsockname(&r->socks[c], &remote);
	st_getpeername(&r->socks[c], &local);
	int rc = st_sock_init(r->net, &r->socks[i], ST_TCP, r->socks[l].family, H_UID);
	if (rc)
		return rc;
	rc = st_accept_child(r->net, &r->socks[l], &r->socks[i], &local, &remote, ST_ESTABLISHED);
	if (rc == 0)
		r->live[i] = 1;
	return rc;
}

static int do_close(struct run *r, int i)
{
	st_close(r->net, &r->socks[i]);
	r->live[i] = 0;
	return 0;
}

static int do_time(struct run *r, uint64_t ms)
{
	st_net_set_time(r->net, ms * 1000000ull);
	return 0;
}

static void tw_gone(st_sock *tw, void *ctx)
{
	struct run *r = ctx;
	int i = sk_index(r->socks, tw);
	if (i >= 0)
		r->live[i] = 0;
}

/* The script.  Socket numbers: TCP 0-11, UDP 12-21, others 22-31.
 * Sockets alone on ports 5005-5007 make the re-hashes of connect and
 * disconnect need new aggregates and chains, so that their failure paths
 * are walked too. */
static void script(struct run *r)
{
	/* TCP listeners */
	STEP(r, do_sock(r, 0, ST_TCP, ST_AF_INET));
	STEP(r, do_opt(r, 0, ST_SO_REUSEADDR, 1));
	STEP(r, do_bind(r, 0, "127.0.0.1:5000"));
	STEP(r, do_listen(r, 0));
	STEP(r, do_sock(r, 1, ST_TCP, ST_AF_INET));
	STEP(r, do_opt(r, 1, ST_SO_REUSEPORT, 1));
	STEP(r, do_bind(r, 1, "0.0.0.0:5001"));
	STEP(r, do_listen(r, 1));
	STEP(r, do_sock(r, 2, ST_TCP, ST_AF_INET));
	STEP(r, do_opt(r, 2, ST_SO_REUSEPORT, 1));
	STEP(r, do_bind(r, 2, "0.0.0.0:5001"));
	STEP(r, do_listen(r, 2));
	STEP(r, do_sock(r, 3, ST_TCP, ST_AF_INET6));
	STEP(r, do_opt(r, 3, ST_SO_REUSEPORT, 1));
	STEP(r, do_bind(r, 3, "[::]:5001"));
	STEP(r, do_listen(r, 3));
	STEP(r, do_opt(r, 2, ST_SO_BINDTODEVICE, ST_IFINDEX_LO));
	/* clients and children */
	STEP(r, do_sock(r, 4, ST_TCP, ST_AF_INET));
	STEP(r, do_connect(r, 4, "127.0.0.1:5000"));
	STEP(r, st_set_state(r->net, &r->socks[4], ST_ESTABLISHED));
	STEP(r, do_accept(r, 0, 22, 4));
	STEP(r, do_sock(r, 5, ST_TCP, ST_AF_INET));
	STEP(r, do_bind(r, 5, "127.0.0.1:0"));
	STEP(r, do_connect(r, 5, "127.0.0.1:5001"));
	STEP(r, do_sock(r, 6, ST_TCP, ST_AF_INET));
	STEP(r, do_opt(r, 6, ST_IP_BIND_ADDRESS_NO_PORT, 1));
	STEP(r, do_bind(r, 6, "127.0.0.2:0"));
	STEP(r, do_connect(r, 6, "127.0.0.1:5000"));
	STEP(r, do_sock(r, 7, ST_TCP, ST_AF_INET6));
	STEP(r, do_connect(r, 7, "[::1]:5001"));
	STEP(r, do_sock(r, 8, ST_TCP, ST_AF_INET));
	STEP(r, do_bind(r, 8, "0.0.0.0:5004"));
	STEP(r, do_connect(r, 8, "127.0.0.1:5001"));
	STEP(r, st_set_state(r->net, &r->socks[8], ST_ESTABLISHED));
	/* a conflict that fails in every run */
	STEP(r, do_sock(r, 9, ST_TCP, ST_AF_INET));
	STEP(r, do_bind(r, 9, "127.0.0.1:5000"));
	/* TIME_WAIT and its take-over */
	STEP(r, do_time(r, 1000));
	STEP(r, st_set_state(r->net, &r->socks[4], ST_FIN_WAIT1));
	STEP(r, st_timewait(r->net, &r->socks[4], true));
	STEP(r, do_close(r, 22));
	STEP(r, do_time(r, 3000));
	STEP(r, do_sock(r, 10, ST_TCP, ST_AF_INET));
	STEP(r, do_connect(r, 10, "127.0.0.1:5000"));
	/* failure, disconnect, listen autobind, unlisten */
	STEP(r, st_connect_failed(r->net, &r->socks[5]));
	STEP(r, st_disconnect(r->net, &r->socks[6]));
	STEP(r, st_disconnect(r->net, &r->socks[8]));
	STEP(r, do_sock(r, 11, ST_TCP, ST_AF_INET));
	STEP(r, do_listen(r, 11));
	STEP(r, st_unlisten(r->net, &r->socks[11]));
	STEP(r, do_opt(r, 0, ST_SO_BINDTODEVICE, ST_IFINDEX_LO));
	STEP(r, do_opt(r, 0, ST_SO_BINDTODEVICE, 0));
	STEP(r, do_opt(r, 0, ST_SO_REUSEPORT, 1));
	STEP(r, do_sock(r, 23, ST_TCP, ST_AF_INET));
	STEP(r, do_opt(r, 23, ST_SO_REUSEPORT, 1));
	STEP(r, do_opt(r, 23, ST_SO_REUSEADDR, 1));
	STEP(r, do_bind(r, 23, "127.0.0.1:5000"));
	STEP(r, do_listen(r, 23));
	/* UDP */
	STEP(r, do_sock(r, 12, ST_UDP, ST_AF_INET));
	STEP(r, do_opt(r, 12, ST_SO_REUSEPORT, 1));
	STEP(r, do_bind(r, 12, "0.0.0.0:5002"));
	STEP(r, do_sock(r, 13, ST_UDP, ST_AF_INET));
	STEP(r, do_opt(r, 13, ST_SO_REUSEPORT, 1));
	STEP(r, do_bind(r, 13, "0.0.0.0:5002"));
	STEP(r, do_sock(r, 14, ST_UDP, ST_AF_INET));
	STEP(r, do_opt(r, 14, ST_SO_REUSEPORT, 1));
	STEP(r, do_bind(r, 14, "0.0.0.0:5002"));
	STEP(r, do_connect(r, 14, "127.0.0.1:9"));
	STEP(r, do_sock(r, 15, ST_UDP, ST_AF_INET));
	STEP(r, do_opt(r, 15, ST_SO_REUSEPORT, 1));
	STEP(r, do_bind(r, 15, "127.0.0.1:5002"));
	STEP(r, do_connect(r, 15, "127.0.0.1:9"));
	STEP(r, do_sock(r, 16, ST_UDP, ST_AF_INET));
	STEP(r, do_opt(r, 16, ST_SO_REUSEPORT, 1));
	STEP(r, do_bind(r, 16, "127.0.0.1:5002"));
	STEP(r, st_disconnect(r->net, &r->socks[14]));
	STEP(r, do_sock(r, 17, ST_UDP, ST_AF_INET6));
	STEP(r, do_opt(r, 17, ST_SO_REUSEADDR, 1));
	STEP(r, do_bind(r, 17, "[::]:5003"));
	STEP(r, do_sock(r, 18, ST_UDP, ST_AF_INET));
	STEP(r, do_opt(r, 18, ST_SO_REUSEADDR, 1));
	STEP(r, do_bind(r, 18, "127.255.255.255:5003"));
	STEP(r, do_sock(r, 19, ST_UDP, ST_AF_INET));
	STEP(r, do_connect(r, 19, "127.0.0.1:5003"));
	STEP(r, st_disconnect(r->net, &r->socks[19]));
	STEP(r, do_sock(r, 20, ST_UDP, ST_AF_INET6));
	STEP(r, do_opt(r, 20, ST_SO_REUSEPORT, 1));
	STEP(r, do_bind(r, 20, "[::1]:5004"));
	STEP(r, do_sock(r, 24, ST_UDP, ST_AF_INET6));
	STEP(r, do_opt(r, 24, ST_SO_REUSEPORT, 1));
	STEP(r, do_bind(r, 24, "[::1]:5004"));
	STEP(r, do_connect(r, 24, "[::1]:9"));
	STEP(r, do_sock(r, 25, ST_UDP, ST_AF_INET6));
	STEP(r, do_opt(r, 25, ST_SO_REUSEPORT, 1));
	STEP(r, do_bind(r, 25, "[::1]:5004"));
	STEP(r, do_opt(r, 13, ST_SO_BINDTODEVICE, ST_IFINDEX_LO));
	STEP(r, do_opt(r, 15, ST_SO_BINDTODEVICE, ST_IFINDEX_LO));
	STEP(r, st_disconnect(r->net, &r->socks[15]));
	STEP(r, do_sock(r, 21, ST_UDP, ST_AF_INET));
	STEP(r, do_bind(r, 21, "0.0.0.0:0"));
	STEP(r, do_connect(r, 21, "127.0.0.2:9"));
	/* alone on their ports: every move allocates */
	STEP(r, do_sock(r, 26, ST_UDP, ST_AF_INET));
	STEP(r, do_bind(r, 26, "0.0.0.0:5005"));
	STEP(r, do_connect(r, 26, "127.0.0.1:9"));
	STEP(r, st_disconnect(r->net, &r->socks[26]));
	STEP(r, do_connect(r, 26, "127.0.0.1:9"));
	STEP(r, do_sock(r, 27, ST_TCP, ST_AF_INET));
	STEP(r, do_bind(r, 27, "0.0.0.0:5006"));
	STEP(r, do_connect(r, 27, "127.0.0.1:5000"));
	STEP(r, st_disconnect(r->net, &r->socks[27]));
	STEP(r, do_connect(r, 27, "127.0.0.1:5000"));
	STEP(r, st_connect_failed(r->net, &r->socks[27]));
	STEP(r, do_sock(r, 28, ST_UDP, ST_AF_INET));
	STEP(r, do_opt(r, 28, ST_SO_BINDTODEVICE, ST_IFINDEX_LO));
	STEP(r, do_bind(r, 28, "127.0.0.2:5007"));
	STEP(r, do_connect(r, 28, "127.0.0.1:9"));
	STEP(r, st_disconnect(r->net, &r->socks[28]));
	STEP(r, do_opt(r, 28, ST_SO_BINDTODEVICE, ST_IFINDEX_LO));
	STEP(r, do_opt(r, 28, ST_SO_BINDTODEVICE, 0));
	STEP(r, do_sock(r, 29, ST_TCP, ST_AF_INET));
	STEP(r, do_opt(r, 29, ST_SO_REUSEPORT, 1));
	STEP(r, do_bind(r, 29, "127.0.0.2:5007"));
	STEP(r, do_listen(r, 29));
	STEP(r, do_opt(r, 29, ST_SO_BINDTODEVICE, ST_IFINDEX_LO));
	STEP(r, st_disconnect(r->net, &r->socks[29]));
	STEP(r, do_sock(r, 30, ST_UDP, ST_AF_INET6));
	STEP(r, do_connect(r, 30, "[::1]:9"));
	STEP(r, do_sock(r, 31, ST_UDP, ST_AF_INET6));
	STEP(r, do_opt(r, 31, ST_SO_REUSEPORT, 1));
	STEP(r, do_bind(r, 31, "[::1]:5006"));
	STEP(r, do_connect(r, 31, "[::1]:9"));
	STEP(r, st_disconnect(r->net, &r->socks[31]));
	/* teardown half of it through the API, the rest in teardown() */
	STEP(r, do_close(r, 1));
	STEP(r, do_close(r, 13));
	STEP(r, do_close(r, 10));
	STEP(r, do_time(r, 70000));
	STEP(r, st_expire_timewait(r->net, tw_gone, r));
	STEP(r, do_close(r, 0));
}

static void setup(struct run *r)
{
	memset(r->socks, 0, sizeof r->socks);
	memset(r->live, 0, sizeof r->live);
	r->step = 0;
	r->failed_step = -1;
	r->msg[0] = 0;
	/* A connect that takes over a TIME_WAIT hands the record back. */
	st_net_ops ops = {tw_gone, r};
	if (st_net_new(&r->net, 1, &ops) != 0 ||
	    st_net_sysctl_set_text(r->net, "net.ipv4.ip_local_port_range", "40000 40015") != 0) {
		fail_run(r, "setup failed");
		return;
	}
}

static void teardown(struct run *r)
{
	st_alloc_fail_at(0);
	if (!r->net)
		return;
	for (int i = 0; i < NS; i++)
		if (r->live[i])
			st_close(r->net, &r->socks[i]);
	if (!r->msg[0] && st_net_count(r->net) != 0)
		fail_run(r, "%zu sockets still hashed after closing all", st_net_count(r->net));
	st_net_free(r->net);
	r->net = NULL;
}

static void test_failwalk(void **st)
{
	(void)st;
	static struct run r;
	memset(&clean, 0, sizeof clean);
	clean.dry = true;
	setup(&clean);
	assert_true(clean.msg[0] == 0);
	st_alloc_fail_at(0);
	script(&clean);
	uint64_t total = st_alloc_fail_at(0);
	if (clean.msg[0])
		fail_msg("clean run: %s", clean.msg);
	teardown(&clean);
	print_message("failwalk: %d calls, %llu allocations\n", clean.nsteps,
		      (unsigned long long)total);
	assert_true(clean.nsteps > 100 && total > 50);
	/* The script must exercise the interesting results, or the walk
	 * proves little. */
	int ok = 0, refused = 0;
	for (int i = 0; i < clean.nsteps; i++) {
		if (clean.rc[i] == 0)
			ok++;
		else
			refused++;
	}
	assert_true(refused >= 1 && ok > 90);

	unsigned failed_calls = 0, absorbed = 0;
	for (uint64_t n = 1; n <= total; n++) {
		memset(&r, 0, sizeof r);
		setup(&r);
		if (r.msg[0])
			fail_msg("N=%llu: %s", (unsigned long long)n, r.msg);
		st_alloc_fail_at(0);
		st_alloc_fail_at(n);
		script(&r);
		uint64_t seen = st_alloc_fail_at(0);
		if (!r.msg[0] && r.failed_step < 0 && r.step != clean.nsteps)
			fail_run(&r, "the run stopped at step %d of %d", r.step, clean.nsteps);
		if (!r.msg[0] && seen < n)
			fail_run(&r, "only %llu allocations happened; the clean run made %llu",
				 (unsigned long long)seen, (unsigned long long)total);
		teardown(&r);
		if (r.msg[0])
			fail_msg("allocation %llu of %llu failing: %s", (unsigned long long)n,
				 (unsigned long long)total, r.msg);
		if (r.failed_step >= 0)
			failed_calls++;
		else
			absorbed++;
	}
	print_message("failwalk: %u runs failed a call with -ENOMEM and changed nothing, "
		      "%u absorbed the failure invisibly\n", failed_calls, absorbed);
	assert_true(failed_calls > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_failwalk),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
