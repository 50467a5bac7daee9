/*
 * test_udp_bind.c - the UDP conflict rule (linux-semantics.md 3.6) and
 * UDP port 0 (3.7, P-U2) against the experiments of section 14:
 *
 *  [X7]  matrix: existing socket bound or connected x 4 address pairs
 *        (same, wildcard/specific, specific/wildcard, disjoint) x 16
 *        RA/RP flag pairs = 128 cases, plus different uids (B-U3).
 *  B-U2  RA sockets share an address with no uid check.
 *  [X8]  the scan-order quirk (B-U4).
 *  B-U5  a connected wildcard socket covers only its route source.
 *  [X9]  bind(0) with a one-port range (40000).
 *  [X27] two RA bind(127.0.0.1, 0) share 40000; a plain bind(0) fails.
 *
 * All sockets are AF_INET UDP owned by uid 1000 unless said otherwise;
 * P = 7000; a connected socket is connected to 127.0.0.1:9999.
 */
#include "helpers.h"

#define PORT 7000
#define PEER "127.0.0.1:9999"

enum { E_BOUND, E_CONNECTED, E_STATES };
static const char *const state_name[E_STATES] = { "bound", "connected" };

static const unsigned flagset[4] = { H_NONE, H_RA, H_RP, H_RA | H_RP };

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

/* [X7], overlapping addresses: rows existing flags (none, RA, RP, RA+RP),
 * columns new flags in the same order; '.' ok, 'X' EADDRINUSE. */
static const char *const x7_matrix[4] = {
	"XXXX", /* none  */
	"X.X.", /* RA    */
	"XX..", /* RP    */
	"X...", /* RA+RP */
};

struct x7_case {
	int state, pair, ef, nf;
	char name[128];
};
static struct x7_case x7_cases[E_STATES * NPAIRS * 16];

static void test_x7_case(void **st)
{
	const struct x7_case *c = *st;
	const struct addr_pair *ap = &pairs[c->pair];
	char ep_e[64], ep_n[64];
	int want, rc;
	h_env e;

	want = (!ap->overlap || x7_matrix[c->ef][c->nf] == '.') ? 0 : -EADDRINUSE;
	h_env_init(&e, 4, c->name);
	h_ep(ep_e, sizeof ep_e, ap->e, PORT);
	h_ep(ep_n, sizeof ep_n, ap->n, PORT);

	h_ctx(&e, "%s: setting up existing socket", c->name);
	st_sock *ex = h_udp4(&e);
	h_flags(&e, ex, flagset[c->ef]);
	H_RC(&e, h_bind(&e, ex, ep_e), 0);
	if (c->state == E_CONNECTED) {
		H_RC(&e, h_connect(&e, ex, PEER), 0);
		H_ASSERT(&e, ex->state == ST_ESTABLISHED, "connected UDP socket is in state %d, "
			 "expected ESTABLISHED", (int)ex->state);
	}

	h_ctx(&e, "%s: existing %s %s flags %s, new bind %s flags %s", c->name,
	      state_name[c->state], ep_e, h_flags_name(flagset[c->ef]), ep_n,
	      h_flags_name(flagset[c->nf]));
	st_sock *nw = h_udp4(&e);
	h_flags(&e, nw, flagset[c->nf]);
	rc = h_bind(&e, nw, ep_n);
	H_ASSERT(&e, rc == want, "new bind returned %s, expected %s", h_rc(rc), h_rc(want));
	H_NAME(&e, nw, rc == 0 ? ep_n : "0.0.0.0:0");
	h_env_done(&e);
}

/* ------------------------------------------------------------------ */
/* B-U3 / X7: different uids (1001 existing, 1002 new), 127.0.0.1:P      */
/* ------------------------------------------------------------------ */

static void x7_uid_case(const char *ctx, unsigned flags, int want)
{
	h_env e;
	h_env_init(&e, 4, ctx);
	st_sock *a = h_sock(&e, ST_UDP, ST_AF_INET, 1001);
	st_sock *b = h_sock(&e, ST_UDP, ST_AF_INET, 1002);
	h_flags(&e, a, flags);
	h_flags(&e, b, flags);
	H_RC(&e, h_bind(&e, a, "127.0.0.1:7000"), 0);
	H_RC(&e, h_bind(&e, b, "127.0.0.1:7000"), want);
	H_NAME(&e, a, "127.0.0.1:7000");
	H_NAME(&e, b, want == 0 ? "127.0.0.1:7000" : "0.0.0.0:0");
	h_env_done(&e);
}

static void test_x7_uid_rp(void **st)
{
	(void)st;
	x7_uid_case("X7 UDP RP uid 1001 vs RP uid 1002", H_RP, -EADDRINUSE);
}

static void test_x7_uid_rarp(void **st)
{
	(void)st;
	x7_uid_case("X7 UDP RA+RP uid 1001 vs RA+RP uid 1002", H_RA | H_RP, 0);
}

static void test_x7_uid_ra(void **st)
{
	(void)st;
	x7_uid_case("X7 UDP RA uid 1001 vs RA uid 1002", H_RA, 0);
}

static void test_x7_uid_rp_same_uid_control(void **st)
{
	h_env e;
	(void)st;
	h_env_init(&e, 4, "X7 UDP RP + RP, same uid 1001 (control)");
	st_sock *a = h_sock(&e, ST_UDP, ST_AF_INET, 1001);
	st_sock *b = h_sock(&e, ST_UDP, ST_AF_INET, 1001);
	h_flags(&e, a, H_RP);
	h_flags(&e, b, H_RP);
	H_RC(&e, h_bind(&e, a, "127.0.0.1:7000"), 0);
	H_RC(&e, h_bind(&e, b, "127.0.0.1:7000"), 0);
	h_env_done(&e);
}

/* B-U2: RA duplicates, no uid check; a plain socket is still refused. */
static void test_bu2_ra_duplicates_any_uid(void **st)
{
	h_env e;
	(void)st;
	h_env_init(&e, 8, "B-U2 three UDP RA sockets on 127.0.0.1:7000, uids 1001-1003");
	for (uint32_t uid = 1001; uid <= 1003; uid++) {
		st_sock *s = h_sock(&e, ST_UDP, ST_AF_INET, uid);
		h_flags(&e, s, H_RA);
		H_RC(&e, h_bind(&e, s, "127.0.0.1:7000"), 0);
		H_NAME(&e, s, "127.0.0.1:7000");
	}
	st_sock *p = h_udp4(&e);
	H_RC(&e, h_bind(&e, p, "127.0.0.1:7000"), -EADDRINUSE);
	st_sock *w = h_udp4(&e);
	H_RC(&e, h_bind(&e, w, "0.0.0.0:7000"), -EADDRINUSE);
	st_sock *r = h_sock(&e, ST_UDP, ST_AF_INET, 1004);
	h_flags(&e, r, H_RA);
	H_RC(&e, h_bind(&e, r, "0.0.0.0:7000"), 0);
	h_env_done(&e);
}

/* ------------------------------------------------------------------ */
/* [X8] UDP scan-order quirk (B-U4)                                       */
/* ------------------------------------------------------------------ */

static void test_x8_udp_a_before_b(void **st)
{
	h_env e;
	(void)st;
	h_env_init(&e, 4, "X8 UDP: A 0.0.0.0 RA, B 127.0.0.1 RA+RP, C 127.0.0.1 RP");
	st_sock *a = h_udp4(&e), *b = h_udp4(&e), *c = h_udp4(&e);
	h_flags(&e, a, H_RA);
	h_flags(&e, b, H_RA | H_RP);
	h_flags(&e, c, H_RP);
	H_RC(&e, h_bind(&e, a, "0.0.0.0:7000"), 0);
	H_RC(&e, h_bind(&e, b, "127.0.0.1:7000"), 0);
	H_RC(&e, h_bind(&e, c, "127.0.0.1:7000"), 0);
	H_NAME(&e, c, "127.0.0.1:7000");
	h_env_done(&e);
}

static void test_x8_udp_b_before_a(void **st)
{
	h_env e;
	(void)st;
	h_env_init(&e, 4, "X8 UDP: B 127.0.0.1 RA+RP, A 0.0.0.0 RA, C 127.0.0.1 RP");
	st_sock *a = h_udp4(&e), *b = h_udp4(&e), *c = h_udp4(&e);
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
/* B-U5: connected wildcard socket                                        */
/* ------------------------------------------------------------------ */

static void test_bu5_connected_wildcard(void **st)
{
	h_env e;
	(void)st;
	h_env_init(&e, 4, "B-U5 UDP 0.0.0.0:7000 connected to 127.0.0.1");
	st_sock *w = h_udp4(&e);
	H_RC(&e, h_bind(&e, w, "0.0.0.0:7000"), 0);
	H_RC(&e, h_connect(&e, w, PEER), 0);
	H_NAME(&e, w, "127.0.0.1:7000");

	st_sock *b2 = h_udp4(&e);
	H_RC(&e, h_bind(&e, b2, "127.0.0.2:7000"), 0);
	st_sock *b1 = h_udp4(&e);
	H_RC(&e, h_bind(&e, b1, "127.0.0.1:7000"), -EADDRINUSE);
	H_NAME(&e, b1, "0.0.0.0:0");

	/* disconnect restores 0.0.0.0 without re-checking: w and b2 now
	 * overlap and both stay bound (the tables must stay consistent) */
	H_RC(&e, h_disconnect(&e, w), 0);
	H_NAME(&e, w, "0.0.0.0:7000");
	H_NAME(&e, b2, "127.0.0.2:7000");
	st_sockaddr peer;
	int rc = st_getpeername(w, &peer);
	H_ASSERT(&e, rc == -ENOTCONN, "getpeername after disconnect returned %s, expected "
		 "-ENOTCONN", h_rc(rc));
	h_env_done(&e);
}

/* ------------------------------------------------------------------ */
/* [X9] / [X27]: UDP bind(0) with a one-port range                        */
/* ------------------------------------------------------------------ */

static void test_x9_udp_one_port_range(void **st)
{
	h_env e;
	(void)st;
	h_env_init(&e, 8, "X9 UDP bind(0), range 40000-40000");
	h_sysctl(&e, "net.ipv4.ip_local_port_range", "40000 40000");

	st_sock *a = h_udp4(&e), *b = h_udp4(&e);
	h_flags(&e, a, H_RP);
	h_flags(&e, b, H_RP);
	H_RC(&e, h_bind(&e, a, "127.0.0.1:0"), 0);
	H_NAME(&e, a, "127.0.0.1:40000");
	/* P-U2: the second RP socket (same uid) shares the port */
	H_RC(&e, h_bind(&e, b, "127.0.0.1:0"), 0);
	H_NAME(&e, b, "127.0.0.1:40000");

	st_sock *c = h_udp4(&e);
	h_flags(&e, c, H_RA);
	H_RC(&e, h_bind(&e, c, "127.0.0.2:0"), 0);
	H_NAME(&e, c, "127.0.0.2:40000");

	st_sock *d = h_udp4(&e);
	h_flags(&e, d, H_RA);
	H_RC(&e, h_bind(&e, d, "127.0.0.3:0"), 0);
	H_NAME(&e, d, "127.0.0.3:40000");

	st_sock *f = h_udp4(&e);
	H_RC(&e, h_bind(&e, f, "127.0.0.4:0"), 0);
	H_NAME(&e, f, "127.0.0.4:40000");

	/* control: an overlapping plain socket finds no port */
	st_sock *g = h_udp4(&e);
	H_RC(&e, h_bind(&e, g, "0.0.0.0:0"), -EADDRINUSE);
	H_NAME(&e, g, "0.0.0.0:0");
	h_env_done(&e);
}

static void test_x27_udp_ra_share_port0(void **st)
{
	h_env e;
	(void)st;
	h_env_init(&e, 8, "X27 two UDP RA bind(127.0.0.1, 0), range 40000-40000");
	h_sysctl(&e, "net.ipv4.ip_local_port_range", "40000 40000");
	st_sock *a = h_udp4(&e), *b = h_udp4(&e);
	h_flags(&e, a, H_RA);
	h_flags(&e, b, H_RA);
	H_RC(&e, h_bind(&e, a, "127.0.0.1:0"), 0);
	H_NAME(&e, a, "127.0.0.1:40000");
	H_RC(&e, h_bind(&e, b, "127.0.0.1:0"), 0);
	H_NAME(&e, b, "127.0.0.1:40000");

	st_sock *p = h_udp4(&e);
	H_RC(&e, h_bind(&e, p, "0.0.0.0:0"), -EADDRINUSE);
	H_NAME(&e, p, "0.0.0.0:0");
	st_sock *q = h_udp4(&e);
	H_RC(&e, h_bind(&e, q, "127.0.0.1:0"), -EADDRINUSE);
	H_NAME(&e, q, "0.0.0.0:0");
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
					struct x7_case *c = &x7_cases[n++];
					c->state = s;
					c->pair = p;
					c->ef = ef;
					c->nf = nf;
					snprintf(c->name, sizeof c->name,
						 "X7 UDP %s %s: existing %s:%s, new %s:%s",
						 state_name[s], pairs[p].tag, pairs[p].e,
						 h_flags_name(flagset[ef]), pairs[p].n,
						 h_flags_name(flagset[nf]));
					h_tests_add(&t, c->name, test_x7_case, c);
				}

#define ADD(fn) h_tests_add(&t, #fn, fn, NULL)
	ADD(test_x7_uid_rp);
	ADD(test_x7_uid_rarp);
	ADD(test_x7_uid_ra);
	ADD(test_x7_uid_rp_same_uid_control);
	ADD(test_bu2_ra_duplicates_any_uid);
	ADD(test_x8_udp_a_before_b);
	ADD(test_x8_udp_b_before_a);
	ADD(test_bu5_connected_wildcard);
	ADD(test_x9_udp_one_port_range);
	ADD(test_x27_udp_ra_share_port0);
#undef ADD
	return h_tests_run(&t, "udp_bind");
}
