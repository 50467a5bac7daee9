/*
 * test_tcp_matrix.c - the TCP conflict rule (linux-semantics.md 3.4, 3.5)
 * against the experiments of section 14:
 *
 *  [X4]  two-socket matrix: 16 RA/RP flag pairs x 4 states of the existing
 *        socket (bound, listening, established, TIME_WAIT) x 4 address
 *        pairs (same, wildcard/specific, specific/wildcard, disjoint) =
 *        256 cases; every successful bind is followed by a successful
 *        listen() of the new socket.
 *  [X5]  different uids, listen() after bind.
 *  B-T3  listeners block SO_REUSEADDR (and selftest reuseaddr_conflict).
 *  [X6]  TIME_WAIT owners with and without RA (B-T7, selftest bind_timewait).
 *  [X8]  the order-dependent fastreuse quirk (B-T9).
 *  [X20] flags changed after bind.
 *
 * How an existing socket E is put into a state:
 *   bound       bind(addr:P)
 *   listening   bind + st_listen
 *   established bind + st_connect to a listener on 127.0.0.1:8080 +
 *               st_set_state(ESTABLISHED) (the core does not simulate the
 *               handshake)
 *   TIME_WAIT   established + st_timewait(peer_ts = true)
 * All sockets are AF_INET TCP; P = 7000 unless said otherwise.
 */
#include "helpers.h"

#define PORT 7000
#define LISTENER "127.0.0.1:8080"

enum { E_BOUND, E_LISTEN, E_ESTAB, E_TIMEWAIT, E_STATES };
static const char *const state_name[E_STATES] = { "bound", "listening", "established",
						   "time-wait" };

/* Flag sets in the doc's column order: none, RA, RP, RA+RP. */
static const unsigned flagset[4] = { H_NONE, H_RA, H_RP, H_RA | H_RP };

/* Address pairs: existing, new. */
struct addr_pair {
	const char *e, *n;
	bool overlap;
	const char *tag;
};
static const struct addr_pair pairs[] = {
	{ "127.0.0.1", "127.0.0.1", true, "same" },
	{ "0.0.0.0", "127.0.0.1", true, "wildcard-then-specific" },
	{ "127.0.0.1", "0.0.0.0", true, "specific-then-wildcard" },
	{ "127.0.0.1", "127.0.0.2", false, "disjoint" },
};
enum { NPAIRS = sizeof pairs / sizeof pairs[0] };

/*
 * [X4], overlapping addresses.  Rows: existing flags (none, RA, RP, RA+RP);
 * columns: new flags in the same order.  '.' = ok, 'X' = EADDRINUSE.
 */
static const char *const x4_bound_estab_tw[4] = {
	"XXXX", /* none  */
	"X.X.", /* RA    */
	"XX..", /* RP    */
	"X...", /* RA+RP */
};
static const char *const x4_listening[4] = {
	"XXXX", /* none  */
	"XXXX", /* RA    */
	"XX..", /* RP    */
	"XX..", /* RA+RP */
};

/* Put `sk`, already flagged, into `state` on ep (helpers for all tests).
 * A listener on 127.0.0.1:8080 is created on demand for connects. */
static st_sock *listener_8080(h_env *e)
{
	st_sock *l = h_tcp4(e);
	H_RC(e, h_bind(e, l, LISTENER), 0);
	H_RC(e, h_listen(e, l), 0);
	return l;
}

static void make_state(h_env *e, st_sock *sk, const char *ep, int state)
{
	H_RC(e, h_bind(e, sk, ep), 0);
	switch (state) {
	case E_BOUND:
		break;
	case E_LISTEN:
		H_RC(e, h_listen(e, sk), 0);
		break;
	case E_ESTAB:
	case E_TIMEWAIT:
		listener_8080(e);
		H_RC(e, h_connect(e, sk, LISTENER), 0);
		H_ASSERT(e, sk->state == ST_SYN_SENT, "after st_connect the state is %d, expected "
			 "SYN_SENT (%d)", (int)sk->state, (int)ST_SYN_SENT);
		H_RC(e, h_set_state(e, sk, ST_ESTABLISHED), 0);
		if (state == E_TIMEWAIT) {
			H_RC(e, h_timewait(e, sk, true), 0);
			H_ASSERT(e, sk->state == ST_TIME_WAIT,
				 "after st_timewait the state is %d, expected TIME_WAIT (%d)",
				 (int)sk->state, (int)ST_TIME_WAIT);
		}
		break;
	}
}

/* ------------------------------------------------------------------ */
/* [X4]                                                                  */
/* ------------------------------------------------------------------ */

struct x4_case {
	int state, pair, ef, nf;
	char name[128];
};
static struct x4_case x4_cases[E_STATES * NPAIRS * 4 * 4];

static void test_x4_case(void **st)
{
	const struct x4_case *c = *st;
	const struct addr_pair *ap = &pairs[c->pair];
	char ep_e[64], ep_n[64];
	bool ok;
	int want, rc;
	st_sock *ex, *nw;
	h_env e;

	if (!ap->overlap)
		ok = true;
	else if (c->state == E_LISTEN)
		ok = x4_listening[c->ef][c->nf] == '.';
	else
		ok = x4_bound_estab_tw[c->ef][c->nf] == '.';
	want = ok ? 0 : -EADDRINUSE;

	h_env_init(&e, 4, c->name);
	h_ep(ep_e, sizeof ep_e, ap->e, PORT);
	h_ep(ep_n, sizeof ep_n, ap->n, PORT);

	h_ctx(&e, "%s: setting up existing socket %s flags %s", c->name, ep_e,
	      h_flags_name(flagset[c->ef]));
	ex = h_tcp4(&e);
	h_flags(&e, ex, flagset[c->ef]);
	make_state(&e, ex, ep_e, c->state);

	h_ctx(&e, "%s: existing %s %s flags %s, new bind %s flags %s", c->name,
	      state_name[c->state], ep_e, h_flags_name(flagset[c->ef]), ep_n,
	      h_flags_name(flagset[c->nf]));
	nw = h_tcp4(&e);
	h_flags(&e, nw, flagset[c->nf]);
	rc = h_bind(&e, nw, ep_n);
	H_ASSERT(&e, rc == want, "new bind returned %s, expected %s", h_rc(rc), h_rc(want));

	if (rc == 0) {
		H_NAME(&e, nw, ep_n);
		rc = h_listen(&e, nw);
		H_ASSERT(&e, rc == 0, "bind was ok but listen() of the new socket returned %s, "
			 "expected 0 (X4: every ok bind is followed by a successful listen)",
			 h_rc(rc));
	} else {
		H_NAME(&e, nw, "0.0.0.0:0");
	}
	h_env_done(&e);
}

/* ------------------------------------------------------------------ */
/* [X5] different uids (existing 1001, new 1002), same address           */
/* ------------------------------------------------------------------ */

#define EP "127.0.0.1:7000"

static void test_x5_bound_rp_vs_rp_other_uid(void **st)
{
	h_env e;
	(void)st;
	h_env_init(&e, 4, "X5 bound RP (uid 1001) vs RP (uid 1002)");
	st_sock *a = h_sock(&e, ST_TCP, ST_AF_INET, 1001);
	st_sock *b = h_sock(&e, ST_TCP, ST_AF_INET, 1002);
	h_flags(&e, a, H_RP);
	h_flags(&e, b, H_RP);
	H_RC(&e, h_bind(&e, a, EP), 0);
	H_RC(&e, h_bind(&e, b, EP), -EADDRINUSE);
	H_NAME(&e, b, "0.0.0.0:0");
	h_env_done(&e);
}

static void x5_bind_ok_old_listen_fails(const char *ctx, unsigned flags)
{
	h_env e;
	h_env_init(&e, 4, ctx);
	st_sock *a = h_sock(&e, ST_TCP, ST_AF_INET, 1001);
	st_sock *b = h_sock(&e, ST_TCP, ST_AF_INET, 1002);
	h_flags(&e, a, flags);
	h_flags(&e, b, flags);
	H_RC(&e, h_bind(&e, a, EP), 0);
	H_RC(&e, h_bind(&e, b, EP), 0);
	/* the new socket listens first: ok; the old one then cannot. */
	H_RC(&e, h_listen(&e, b), 0);
	H_RC(&e, h_listen(&e, a), -EADDRINUSE);
	/* B-L1: the failed listener is back in CLOSE and keeps its port. */
	H_ASSERT(&e, a->state == ST_CLOSE, "socket whose listen failed is in state %d, "
		 "expected CLOSE", (int)a->state);
	H_NAME(&e, a, EP);
	h_env_done(&e);
}

static void test_x5_bound_rarp_vs_rarp_other_uid(void **st)
{
	(void)st;
	x5_bind_ok_old_listen_fails("X5 bound RA+RP (uid 1001) vs RA+RP (uid 1002)", H_RA | H_RP);
}

static void test_x5_bound_ra_vs_ra_other_uid(void **st)
{
	(void)st;
	x5_bind_ok_old_listen_fails("X5 bound RA (uid 1001) vs RA (uid 1002)", H_RA);
}

static void test_x5_listening_any_flags_other_uid(void **st)
{
	(void)st;
	for (int ef = 0; ef < 4; ef++) {
		for (int nf = 0; nf < 4; nf++) {
			char ctx[128];
			h_env e;
			snprintf(ctx, sizeof ctx, "X5 listening %s (uid 1001) vs new %s (uid 1002)",
				 h_flags_name(flagset[ef]), h_flags_name(flagset[nf]));
			h_env_init(&e, 4, ctx);
			st_sock *a = h_sock(&e, ST_TCP, ST_AF_INET, 1001);
			st_sock *b = h_sock(&e, ST_TCP, ST_AF_INET, 1002);
			h_flags(&e, a, flagset[ef]);
			h_flags(&e, b, flagset[nf]);
			H_RC(&e, h_bind(&e, a, EP), 0);
			H_RC(&e, h_listen(&e, a), 0);
			H_RC(&e, h_bind(&e, b, EP), -EADDRINUSE);
			h_env_done(&e);
		}
	}
}

static void test_x5_timewait_rp_vs_rp_other_uid(void **st)
{
	h_env e;
	(void)st;
	h_env_init(&e, 4, "X5 TIME_WAIT RP (uid 1001) vs RP (uid 1002)");
	st_sock *a = h_sock(&e, ST_TCP, ST_AF_INET, 1001);
	h_flags(&e, a, H_RP);
	make_state(&e, a, EP, E_TIMEWAIT);
	st_sock *b = h_sock(&e, ST_TCP, ST_AF_INET, 1002);
	h_flags(&e, b, H_RP);
	H_RC(&e, h_bind(&e, b, EP), 0);
	H_RC(&e, h_listen(&e, b), 0);
	h_env_done(&e);
}

static void test_x5_same_uid_rp_both_listen(void **st)
{
	h_env e;
	(void)st;
	h_env_init(&e, 4, "X5 same uid RP + RP: both listen");
	st_sock *a = h_sock(&e, ST_TCP, ST_AF_INET, 1001);
	st_sock *b = h_sock(&e, ST_TCP, ST_AF_INET, 1001);
	h_flags(&e, a, H_RP);
	h_flags(&e, b, H_RP);
	H_RC(&e, h_bind(&e, a, EP), 0);
	H_RC(&e, h_bind(&e, b, EP), 0);
	H_RC(&e, h_listen(&e, a), 0);
	H_RC(&e, h_listen(&e, b), 0);
	H_ASSERT(&e, a->state == ST_LISTEN && b->state == ST_LISTEN,
		 "states are %d and %d, expected both LISTEN", (int)a->state, (int)b->state);
	h_env_done(&e);
}

/* ------------------------------------------------------------------ */
/* B-T3: listeners block SO_REUSEADDR                                     */
/* ------------------------------------------------------------------ */

static void test_bt3_two_ra_one_address(void **st)
{
	h_env e;
	(void)st;
	h_env_init(&e, 4, "B-T3 two RA sockets on 127.0.0.1:7000");
	st_sock *a = h_tcp4(&e), *b = h_tcp4(&e), *c = h_tcp4(&e);
	h_flags(&e, a, H_RA);
	h_flags(&e, b, H_RA);
	h_flags(&e, c, H_RA);
	H_RC(&e, h_bind(&e, a, EP), 0);
	H_RC(&e, h_bind(&e, b, EP), 0);
	H_RC(&e, h_listen(&e, a), 0);
	H_RC(&e, h_listen(&e, b), -EADDRINUSE);
	/* B-L1: the second stays bound, in CLOSE */
	H_NAME(&e, b, EP);
	H_ASSERT(&e, b->state == ST_CLOSE, "second RA socket is in state %d after its failed "
		 "listen, expected CLOSE", (int)b->state);
	H_ASSERT(&e, (b->flags & ST_F_HASHED) != 0, "second RA socket lost its port after its "
		 "failed listen (ST_F_HASHED clear)");
	/* while a listener exists, a third RA socket cannot even bind */
	H_RC(&e, h_bind(&e, c, EP), -EADDRINUSE);
	H_NAME(&e, c, "0.0.0.0:0");
	h_env_done(&e);
}

/* RA on 0.0.0.0:P and on 127.0.0.1:P: whichever listens first wins. */
static void bt3_wild_and_specific(bool specific_first)
{
	h_env e;
	h_env_init(&e, 4, specific_first ?
		   "B-T3 RA 0.0.0.0 + RA 127.0.0.1, specific listens first" :
		   "B-T3 RA 0.0.0.0 + RA 127.0.0.1, wildcard listens first");
	st_sock *w = h_tcp4(&e), *s = h_tcp4(&e);
	h_flags(&e, w, H_RA);
	h_flags(&e, s, H_RA);
	H_RC(&e, h_bind(&e, w, "0.0.0.0:7000"), 0);
	H_RC(&e, h_bind(&e, s, "127.0.0.1:7000"), 0);
	if (specific_first) {
		H_RC(&e, h_listen(&e, s), 0);
		H_RC(&e, h_listen(&e, w), -EADDRINUSE);
		H_NAME(&e, w, "0.0.0.0:7000");
	} else {
		H_RC(&e, h_listen(&e, w), 0);
		H_RC(&e, h_listen(&e, s), -EADDRINUSE);
		H_NAME(&e, s, "127.0.0.1:7000");
	}
	h_env_done(&e);
}

static void test_bt3_specific_listens_first(void **st)
{
	(void)st;
	bt3_wild_and_specific(true);
}

static void test_bt3_wildcard_listens_first(void **st)
{
	(void)st;
	bt3_wild_and_specific(false);
}

/* Selftest reuseaddr_conflict (13.2). */
static void test_bt3_selftest_reuseaddr_conflict(void **st)
{
	h_env e;
	(void)st;
	h_env_init(&e, 8, "selftest reuseaddr_conflict");
	st_sock *l = h_tcp4(&e);
	h_flags(&e, l, H_RA);
	H_RC(&e, h_bind(&e, l, "127.0.0.1:9999"), 0);
	H_RC(&e, h_listen(&e, l), 0);

	st_sock *w1 = h_tcp4(&e);
	h_flags(&e, w1, H_RA);
	H_RC(&e, h_bind(&e, w1, "0.0.0.0:9999"), -EADDRINUSE);

	st_sock *v6 = h_tcp6(&e);
	h_flags(&e, v6, H_RA | H_V6ONLY);
	H_RC(&e, h_bind(&e, v6, "[::]:9999"), 0);

	st_sock *w2 = h_tcp4(&e);
	h_flags(&e, w2, H_RA);
	H_RC(&e, h_bind(&e, w2, "0.0.0.0:9999"), -EADDRINUSE);

	h_close(&e, v6);
	st_sock *w3 = h_tcp4(&e);
	h_flags(&e, w3, H_RA);
	H_RC(&e, h_bind(&e, w3, "0.0.0.0:9999"), -EADDRINUSE);
	h_env_done(&e);
}

/* ------------------------------------------------------------------ */
/* [X6] / B-T7: TIME_WAIT owners                                          */
/* ------------------------------------------------------------------ */

/*
 * Server-side active close: a listener on 127.0.0.1:7000 with `lflags`
 * accepts one connection (child, inheriting the listener's flags), the
 * listener is closed and the child enters TIME_WAIT.  Returns the child.
 */
static st_sock *server_timewait(h_env *e, unsigned lflags, uint32_t uid)
{
	st_sock *l = h_sock(e, ST_TCP, ST_AF_INET, uid);
	st_sock *child;
	st_sockaddr local, remote;
	int rc;

	h_flags(e, l, lflags);
	H_RC(e, h_bind(e, l, EP), 0);
	H_RC(e, h_listen(e, l), 0);

	child = h_sock(e, ST_TCP, ST_AF_INET, uid);
	local = h_parse(e, EP);
	remote = h_parse(e, "127.0.0.1:50000");
	rc = st_accept_child(e->net, l, child, &local, &remote, ST_ESTABLISHED);
	snprintf(e->last, sizeof e->last, "st_accept_child(listener %s, child %s, %s <- "
		 "127.0.0.1:50000, ESTABLISHED) = %s", h_skdesc(e, l), h_skdesc(e, child), EP,
		 h_rc(rc));
	h_check(e);
	H_ASSERT(e, rc == 0, "st_accept_child returned %s, expected 0", h_rc(rc));
	H_OPT(e, child, ST_SO_REUSEADDR, (lflags & H_RA) ? 1 : 0);
	H_OPT(e, child, ST_SO_REUSEPORT, (lflags & H_RP) ? 1 : 0);
	H_NAME(e, child, EP);

	h_close(e, l);
	H_RC(e, h_timewait(e, child, true), 0);
	return child;
}

/* One probe bind on a fresh socket, closed again afterwards. */
static void probe(h_env *e, const char *ep, unsigned flags, uint32_t uid, int want)
{
	st_sock *p = h_sock(e, ST_TCP, ST_AF_INET, uid);
	int rc;
	h_flags(e, p, flags);
	rc = h_bind(e, p, ep);
	H_ASSERT(e, rc == want, "probe bind %s flags %s uid %u returned %s, expected %s", ep,
		 h_flags_name(flags), (unsigned)uid, h_rc(rc), h_rc(want));
	h_close(e, p);
}

static void test_x6_timewait_listener_without_ra(void **st)
{
	h_env e;
	(void)st;
	h_env_init(&e, 8, "X6 TIME_WAIT child of a listener without RA");
	server_timewait(&e, H_NONE, H_UID);
	probe(&e, "127.0.0.1:7000", H_NONE, H_UID, -EADDRINUSE);
	probe(&e, "127.0.0.1:7000", H_RA, H_UID, -EADDRINUSE);
	probe(&e, "0.0.0.0:7000", H_RA, H_UID, -EADDRINUSE);
	/* control: a disjoint address is free */
	probe(&e, "127.0.0.2:7000", H_NONE, H_UID, 0);
	h_env_done(&e);
}

static void test_x6_timewait_listener_with_ra(void **st)
{
	h_env e;
	(void)st;
	h_env_init(&e, 8, "X6 TIME_WAIT child of a listener with RA");
	server_timewait(&e, H_RA, H_UID);
	probe(&e, "127.0.0.1:7000", H_NONE, H_UID, -EADDRINUSE);
	probe(&e, "127.0.0.1:7000", H_RA, H_UID, 0);
	probe(&e, "0.0.0.0:7000", H_RA, H_UID, 0);
	h_env_done(&e);
}

/* B-T7: a TW without RA blocks everything unless both have RP (TW owners
 * are exempt from the uid test, B-T4). */
static void test_bt7_timewait_rp_only(void **st)
{
	h_env e;
	(void)st;
	h_env_init(&e, 8, "B-T7 TIME_WAIT child of an RP listener (no RA)");
	server_timewait(&e, H_RP, 1001);
	probe(&e, "127.0.0.1:7000", H_RA, 1001, -EADDRINUSE);
	probe(&e, "127.0.0.1:7000", H_RP, 1001, 0);
	probe(&e, "127.0.0.1:7000", H_RP, 1002, 0);
	probe(&e, "0.0.0.0:7000", H_RP, 1002, 0);
	h_env_done(&e);
}

/* Selftest bind_timewait: listener on addr:0 without RA, a client connects,
 * the server side ends in TIME_WAIT, new bind of addr:P without RA fails. */
static void bind_timewait_selftest(const char *laddr)
{
	char ctx[96], ep[64], cname[96];
	st_sockaddr local, remote;
	unsigned port;
	int rc;
	h_env e;

	snprintf(ctx, sizeof ctx, "selftest bind_timewait, listener on %s", laddr);
	h_env_init(&e, 8, ctx);
	st_sock *l = h_tcp4(&e);
	h_ep(ep, sizeof ep, laddr, 0);
	H_RC(&e, h_bind(&e, l, ep), 0);
	H_RC(&e, h_listen(&e, l), 0);
	port = h_port(l);
	H_ASSERT(&e, port != 0, "listener bound to %s has no port", ep);

	st_sock *cl = h_tcp4(&e);
	h_ep(ep, sizeof ep, "127.0.0.1", port);
	H_RC(&e, h_connect(&e, cl, ep), 0);
	H_RC(&e, h_set_state(&e, cl, ST_ESTABLISHED), 0);

	st_sock *child = h_tcp4(&e);
	local = h_parse(&e, ep);
	memset(&remote, 0, sizeof remote);
	st_getsockname(cl, &remote);
	rc = st_accept_child(e.net, l, child, &local, &remote, ST_ESTABLISHED);
	snprintf(e.last, sizeof e.last, "st_accept_child(%s <- %s) = %s", ep,
		 h_fmt_sa(&remote, cname, sizeof cname), h_rc(rc));
	h_check(&e);
	H_ASSERT(&e, rc == 0, "st_accept_child returned %s, expected 0", h_rc(rc));

	/* server closes first: the child ends in TIME_WAIT, then the client
	 * and the listener are closed */
	H_RC(&e, h_timewait(&e, child, true), 0);
	h_close(&e, cl);
	h_close(&e, l);

	h_ep(ep, sizeof ep, laddr, port);
	probe(&e, ep, H_NONE, H_UID, -EADDRINUSE);
	h_env_done(&e);
}

static void test_selftest_bind_timewait_127(void **st)
{
	(void)st;
	bind_timewait_selftest("127.0.0.1");
}

static void test_selftest_bind_timewait_any(void **st)
{
	(void)st;
	bind_timewait_selftest("0.0.0.0");
}

/* ------------------------------------------------------------------ */
/* [X8] the TCP order quirk (B-T9)                                        */
/* ------------------------------------------------------------------ */

static void test_x8_tcp_a_before_b(void **st)
{
	h_env e;
	(void)st;
	h_env_init(&e, 4, "X8 TCP: A 0.0.0.0 RA, B 127.0.0.1 RA+RP, C 127.0.0.1 RP");
	st_sock *a = h_tcp4(&e), *b = h_tcp4(&e), *c = h_tcp4(&e);
	h_flags(&e, a, H_RA);
	h_flags(&e, b, H_RA | H_RP);
	h_flags(&e, c, H_RP);
	H_RC(&e, h_bind(&e, a, "0.0.0.0:7000"), 0);
	H_RC(&e, h_bind(&e, b, "127.0.0.1:7000"), 0);
	H_RC(&e, h_bind(&e, c, "127.0.0.1:7000"), 0);
	H_NAME(&e, c, "127.0.0.1:7000");
	h_env_done(&e);
}

static void test_x8_tcp_b_before_a(void **st)
{
	h_env e;
	(void)st;
	h_env_init(&e, 4, "X8 TCP: B 127.0.0.1 RA+RP, A 0.0.0.0 RA, C 127.0.0.1 RP");
	st_sock *a = h_tcp4(&e), *b = h_tcp4(&e), *c = h_tcp4(&e);
	h_flags(&e, a, H_RA);
	h_flags(&e, b, H_RA | H_RP);
	h_flags(&e, c, H_RP);
	H_RC(&e, h_bind(&e, b, "127.0.0.1:7000"), 0);
	H_RC(&e, h_bind(&e, a, "0.0.0.0:7000"), 0);
	H_RC(&e, h_bind(&e, c, "127.0.0.1:7000"), -EADDRINUSE);
	H_NAME(&e, c, "0.0.0.0:0");
	h_env_done(&e);
}

/* ------------------------------------------------------------------ */
/* [X20] flags after bind                                                 */
/* ------------------------------------------------------------------ */

static void test_x20_v6only_after_bind(void **st)
{
	static const int protos[] = { ST_TCP, ST_UDP };
	(void)st;
	for (int i = 0; i < 2; i++) {
		char ctx[96];
		h_env e;
		snprintf(ctx, sizeof ctx, "X20 IPV6_V6ONLY after bind (%s)",
			 h_proto_name(protos[i]));
		h_env_init(&e, 4, ctx);

		/* control: before bind it can be changed both ways */
		st_sock *u = h_sock(&e, protos[i], ST_AF_INET6, H_UID);
		H_RC(&e, h_setopt(&e, u, ST_IPV6_V6ONLY, 1), 0);
		H_OPT(&e, u, ST_IPV6_V6ONLY, 1);
		H_RC(&e, h_setopt(&e, u, ST_IPV6_V6ONLY, 0), 0);
		H_OPT(&e, u, ST_IPV6_V6ONLY, 0);

		st_sock *s = h_sock(&e, protos[i], ST_AF_INET6, H_UID);
		H_RC(&e, h_bind(&e, s, "[::]:7000"), 0);
		H_OPT(&e, s, ST_IPV6_V6ONLY, 0);
		H_RC(&e, h_setopt(&e, s, ST_IPV6_V6ONLY, 1), -EINVAL);
		H_OPT(&e, s, ST_IPV6_V6ONLY, 0);
		H_RC(&e, h_setopt(&e, s, ST_IPV6_V6ONLY, 0), -EINVAL);

		/* a port taken by bind(::, 0) freezes it as well */
		st_sock *z = h_sock(&e, protos[i], ST_AF_INET6, H_UID);
		H_RC(&e, h_bind(&e, z, "[::]:0"), 0);
		H_RC(&e, h_setopt(&e, z, ST_IPV6_V6ONLY, 1), -EINVAL);
		h_env_done(&e);
	}
}

static void test_x20_v6only_after_listen_autobind(void **st)
{
	h_env e;
	(void)st;
	h_env_init(&e, 2, "X20 IPV6_V6ONLY after listen() autobind");
	st_sock *s = h_tcp6(&e);
	H_RC(&e, h_listen(&e, s), 0);
	H_ASSERT(&e, h_port(s) != 0, "listen() on an unbound socket did not take a port");
	H_RC(&e, h_setopt(&e, s, ST_IPV6_V6ONLY, 1), -EINVAL);
	h_env_done(&e);
}

static void test_x20_reuseport_after_bind(void **st)
{
	h_env e;
	(void)st;
	h_env_init(&e, 4, "X20 SO_REUSEPORT set after bind");
	st_sock *a = h_tcp4(&e), *b = h_tcp4(&e), *c = h_tcp4(&e);
	H_RC(&e, h_bind(&e, a, EP), 0);
	H_RC(&e, h_setopt(&e, a, ST_SO_REUSEPORT, 1), 0);
	H_OPT(&e, a, ST_SO_REUSEPORT, 1);
	h_flags(&e, b, H_RP);
	H_RC(&e, h_bind(&e, b, EP), 0);
	/* a socket without RP is still refused */
	H_RC(&e, h_bind(&e, c, EP), -EADDRINUSE);
	h_env_done(&e);
}

/* Control for the previous test: without the late setsockopt the RP bind
 * is refused (so the flag really is read live). */
static void test_x20_reuseport_not_set_control(void **st)
{
	h_env e;
	(void)st;
	h_env_init(&e, 4, "X20 control: SO_REUSEPORT never set on the first socket");
	st_sock *a = h_tcp4(&e), *b = h_tcp4(&e);
	H_RC(&e, h_bind(&e, a, EP), 0);
	h_flags(&e, b, H_RP);
	H_RC(&e, h_bind(&e, b, EP), -EADDRINUSE);
	h_env_done(&e);
}

/* Section 1 item 4: RA is read live too. */
static void test_x20_reuseaddr_after_bind(void **st)
{
	h_env e;
	(void)st;
	h_env_init(&e, 4, "1.4 SO_REUSEADDR set after bind");
	st_sock *a = h_tcp4(&e), *b = h_tcp4(&e);
	H_RC(&e, h_bind(&e, a, EP), 0);
	H_RC(&e, h_setopt(&e, a, ST_SO_REUSEADDR, 1), 0);
	H_OPT(&e, a, ST_SO_REUSEADDR, 1);
	h_flags(&e, b, H_RA);
	H_RC(&e, h_bind(&e, b, EP), 0);
	h_env_done(&e);
}

static void test_x20_bindv6only_sysctl(void **st)
{
	h_env e;
	(void)st;
	h_env_init(&e, 4, "X20 net.ipv6.bindv6only is the initial V6ONLY");
	st_sock *a = h_tcp6(&e);
	H_OPT(&e, a, ST_IPV6_V6ONLY, 0);
	int one = 1;
	int rc = st_net_sysctl_set(e.net, ST_SYSCTL_IPV6_BINDV6ONLY, &one, 1);
	snprintf(e.last, sizeof e.last, "st_net_sysctl_set(IPV6_BINDV6ONLY, 1) = %s", h_rc(rc));
	H_ASSERT(&e, rc == 0, "setting bindv6only returned %s", h_rc(rc));
	h_check(&e);
	st_sock *b = h_tcp6(&e);
	H_OPT(&e, b, ST_IPV6_V6ONLY, 1);
	st_sock *c = h_udp6(&e);
	H_OPT(&e, c, ST_IPV6_V6ONLY, 1);
	/* existing sockets keep their value */
	H_OPT(&e, a, ST_IPV6_V6ONLY, 0);
	h_env_done(&e);
}

/* ------------------------------------------------------------------ */

int main(void)
{
	h_tests t = { 0 };
	int n = 0;

	for (int s = 0; s < E_STATES; s++)
		for (int p = 0; p < NPAIRS; p++)
			for (int ef = 0; ef < 4; ef++)
				for (int nf = 0; nf < 4; nf++) {
					struct x4_case *c = &x4_cases[n++];
					c->state = s;
					c->pair = p;
					c->ef = ef;
					c->nf = nf;
					snprintf(c->name, sizeof c->name,
						 "X4 %s %s: existing %s:%s, new %s:%s",
						 state_name[s], pairs[p].tag, pairs[p].e,
						 h_flags_name(flagset[ef]), pairs[p].n,
						 h_flags_name(flagset[nf]));
					h_tests_add(&t, c->name, test_x4_case, c);
				}

#define ADD(fn) h_tests_add(&t, #fn, fn, NULL)
	ADD(test_x5_bound_rp_vs_rp_other_uid);
	ADD(test_x5_bound_rarp_vs_rarp_other_uid);
	ADD(test_x5_bound_ra_vs_ra_other_uid);
	ADD(test_x5_listening_any_flags_other_uid);
	ADD(test_x5_timewait_rp_vs_rp_other_uid);
	ADD(test_x5_same_uid_rp_both_listen);
	ADD(test_bt3_two_ra_one_address);
	ADD(test_bt3_specific_listens_first);
	ADD(test_bt3_wildcard_listens_first);
	ADD(test_bt3_selftest_reuseaddr_conflict);
	ADD(test_x6_timewait_listener_without_ra);
	ADD(test_x6_timewait_listener_with_ra);
	ADD(test_bt7_timewait_rp_only);
	ADD(test_selftest_bind_timewait_127);
	ADD(test_selftest_bind_timewait_any);
	ADD(test_x8_tcp_a_before_b);
	ADD(test_x8_tcp_b_before_a);
	ADD(test_x20_v6only_after_bind);
	ADD(test_x20_v6only_after_listen_autobind);
	ADD(test_x20_reuseport_after_bind);
	ADD(test_x20_reuseport_not_set_control);
	ADD(test_x20_reuseaddr_after_bind);
	ADD(test_x20_bindv6only_sysctl);
#undef ADD
	return h_tests_run(&t, "tcp_matrix");
}
