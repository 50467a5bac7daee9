/*
 * test_connect.c - connect() and disconnect for TCP and UDP
 * (linux-semantics.md sections 5 and 6, C-T1..C-T11, C-U1..C-U6, B-N1;
 * experiments X11, X12, X13, X21, X27, X28, E12, E19a).
 *
 * What is checked is the table side: the errno, the source address and
 * port connect() chooses, the 4-tuple uniqueness rule, what happens to an
 * automatically taken port and an unlocked address on failure and on
 * AF_UNSPEC, and what later binds and lookups see.  Handshakes are the
 * stack's business; st_connect leaves a TCP socket in SYN-SENT and the
 * tests move it on with st_set_state where that matters.
 */
#include "helpers.h"

static st_sock *tcp_listener(h_env *e, const char *ep)
{
	st_sock *l = h_tcp4(e);
	H_RC(e, h_bind(e, l, ep), 0);
	H_RC(e, h_listen(e, l), 0);
	return l;
}

static const char *peername(const st_sock *sk, char *buf, size_t len)
{
	st_sockaddr sa;
	if (st_getpeername(sk, &sa) != 0) {
		snprintf(buf, len, "ENOTCONN");
		return buf;
	}
	return h_fmt_sa(&sa, buf, len);
}

#define H_PEER(e, sk, want)                                                                  \
	do {                                                                                 \
		char pb_[96];                                                                \
		H_ASSERT((e), strcmp(peername((sk), pb_, sizeof pb_), (want)) == 0,          \
			 "getpeername(%s) is %s, expected %s", h_skdesc((e), (sk)), pb_, (want)); \
	} while (0)

/* connect with an explicit addrlen and sockaddr (for the argument checks) */
static int connect_sa(h_env *e, st_sock *sk, const st_sockaddr *sa, int len)
{
	char b[96];
	int rc;
	memset(&e->ex, 0, sizeof e->ex);
	rc = st_connect(e->net, sk, sa, len, NULL, &e->ex);
	e->ex_valid = true;
	snprintf(e->last, sizeof e->last, "st_connect(%s, %s, addrlen %d) = %s", h_skdesc(e, sk),
		 h_fmt_sa(sa, b, sizeof b), len, h_rc(rc));
	h_check(e);
	return rc;
}

/* ------------------------------------------------------------------ */
/* C-T1 / C-T2: arguments and state                                      */
/* ------------------------------------------------------------------ */

static void test_ct1_arguments(void **st)
{
	h_env e;
	st_sock *s4, *s6;
	st_sockaddr sa;
	(void)st;
	h_env_init(&e, 4, "C-T1 address length and family checks");
	s4 = h_tcp4(&e);
	s6 = h_tcp6(&e);
	sa = h_parse(&e, "127.0.0.1:8080");
	H_RC(&e, connect_sa(&e, s4, &sa, 1), -EINVAL);
	H_RC(&e, connect_sa(&e, s4, &sa, 15), -EINVAL);
	H_ASSERT(&e, e.ex.rule == ST_RULE_ARG_LEN, "rule %d", (int)e.ex.rule);
	sa.family = ST_AF_INET6;
	H_RC(&e, connect_sa(&e, s4, &sa, 16), -EAFNOSUPPORT);
	sa = h_parse(&e, "[::1]:8080");
	H_RC(&e, connect_sa(&e, s6, &sa, 23), -EINVAL);
	sa = h_parse(&e, "127.0.0.1:8080");
	H_RC(&e, connect_sa(&e, s6, &sa, 16), -EINVAL); /* < 24 comes first */
	sa.family = ST_AF_INET;
	H_RC(&e, connect_sa(&e, s6, &sa, 28), -EAFNOSUPPORT);
	H_ASSERT(&e, s4->state == ST_CLOSE && s4->lport == 0 && s6->lport == 0,
		 "failed connects leave the sockets unbound");
	/* AF_UNSPEC with a 2-byte address is a disconnect. */
	memset(&sa, 0, sizeof sa);
	H_RC(&e, connect_sa(&e, s4, &sa, 2), 0);
	h_env_done(&e);
}

static void test_ct2_state(void **st)
{
	h_env e;
	st_sock *l, *c;
	(void)st;
	h_env_init(&e, 4, "C-T2/X12 EALREADY, EISCONN, listen on a connected socket");
	l = tcp_listener(&e, "127.0.0.1:8080");
	c = h_tcp4(&e);
	H_RC(&e, h_connect(&e, c, "127.0.0.1:8080"), 0);
	H_ASSERT(&e, c->state == ST_SYN_SENT, "state %d", (int)c->state);
	H_RC(&e, h_connect(&e, c, "127.0.0.1:8080"), -EALREADY);
	H_RC(&e, h_set_state(&e, c, ST_ESTABLISHED), 0);
	H_RC(&e, h_connect(&e, c, "127.0.0.1:8080"), -EISCONN);
	H_RC(&e, h_connect(&e, c, "127.0.0.2:9"), -EISCONN);
	H_ASSERT(&e, e.ex.rule == ST_RULE_BAD_STATE, "rule %d", (int)e.ex.rule);
	H_RC(&e, h_listen(&e, c), -EINVAL);
	H_RC(&e, h_connect(&e, l, "127.0.0.1:9"), -EISCONN);
	H_RC(&e, h_bind(&e, c, "127.0.0.1:0"), -EINVAL);
	h_env_done(&e);
}

/* ------------------------------------------------------------------ */
/* C-T3..C-T6: destinations and the source address                        */
/* ------------------------------------------------------------------ */

static void test_ct3_this_host(void **st)
{
	h_env e;
	st_sock *a, *b, *c;
	(void)st;
	h_env_init(&e, 4, "C-T3/X12 destination 0.0.0.0 / :: means this host");
	a = h_tcp4(&e);
	H_RC(&e, h_connect(&e, a, "0.0.0.0:7011"), 0);
	H_PEER(&e, a, "127.0.0.1:7011");
	b = h_tcp4(&e);
	H_RC(&e, h_bind(&e, b, "127.0.0.5:0"), 0);
	H_RC(&e, h_connect(&e, b, "0.0.0.0:7011"), 0);
	H_PEER(&e, b, "127.0.0.5:7011");
	c = h_tcp6(&e);
	H_RC(&e, h_connect(&e, c, "[::]:7011"), 0);
	H_PEER(&e, c, "[::1]:7011");
	h_env_done(&e);
}

static void test_ct4_ct5_unreachable(void **st)
{
	static const struct {
		int family;
		const char *bind;   /* NULL: unbound */
		unsigned flags;
		const char *dst;
		int want;
	} cases[] = {
		{ST_AF_INET, NULL, 0, "127.255.255.255:80", -ENETUNREACH},
		{ST_AF_INET, NULL, 0, "255.255.255.255:80", -ENETUNREACH},
		{ST_AF_INET, NULL, 0, "224.0.0.1:80", -ENETUNREACH},
		{ST_AF_INET, NULL, 0, "192.0.2.1:80", -ENETUNREACH},
		{ST_AF_INET6, "[::1]:0", 0, "[::ffff:127.0.0.1]:80", -ENETUNREACH},
		{ST_AF_INET6, "[::ffff:127.0.0.1]:0", 0, "[::1]:80", -EAFNOSUPPORT},
		{ST_AF_INET6, NULL, H_V6ONLY, "[::ffff:127.0.0.1]:80", -ENETUNREACH},
		{ST_AF_INET6, NULL, 0, "[ff02::1]:80", -ENETUNREACH},
		{ST_AF_INET6, NULL, 0, "[fe80::1]:80", -EINVAL},
		{ST_AF_INET6, NULL, 0, "[::ffff:127.0.0.1]:80", 0},
	};
	(void)st;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		h_env e;
		st_sock *s;
		h_env_init(&e, 2, "C-T4/C-T5/X12");
		h_ctx(&e, "C-T4/C-T5/X12 case %zu: %s socket%s%s%s -> %s", i,
		      h_family_name(cases[i].family), cases[i].bind ? " bound " : "",
		      cases[i].bind ? cases[i].bind : "", cases[i].flags ? " v6only" : "",
		      cases[i].dst);
		s = h_sock(&e, ST_TCP, cases[i].family, H_UID);
		h_flags(&e, s, cases[i].flags);
		if (cases[i].bind)
			H_RC(&e, h_bind(&e, s, cases[i].bind), 0);
		uint16_t before = s->lport;
		H_RC(&e, h_connect(&e, s, cases[i].dst), cases[i].want);
		if (cases[i].want) {
			H_ASSERT(&e, s->state == ST_CLOSE && s->lport == before,
				 "a refused connect changes nothing (port %u -> %u)", before, s->lport);
			H_ASSERT(&e, e.ex.err == cases[i].want && e.ex.rule != ST_RULE_NONE,
				 "explain: err %s rule %d", h_rc(e.ex.err), (int)e.ex.rule);
		}
		h_env_done(&e);
	}
}

/* C-T5 and E20: a link-local destination needs a scope or a bound device,
 * and the scope id binds the socket to that device (TCP keeps it after
 * AF_UNSPEC, UDP clears it). */
static void test_ct5_scope(void **st)
{
	h_env e;
	st_sock *a, *b, *c, *u, *p;
	int d0, d1;
	st_sockaddr sa;
	char want[96], nm[96];
	(void)st;
	h_env_init(&e, 8, "C-T5/E20 link-local destinations: the scope id binds the device");
	d1 = h_device(&e, "d1", NULL, 0, "fe80::2", 64);
	d0 = h_device(&e, "d0", NULL, 0, "fe80::1", 64);
	a = h_tcp6(&e);
	sa = h_parse(&e, "[fe80::2]:22000");
	sa.scope_id = (uint32_t)d0;
	H_RC(&e, connect_sa(&e, a, &sa, ST_SOCKADDR_IN6_LEN), 0);
	snprintf(want, sizeof want, "[fe80::1%%%d]:%u", d0, a->lport);
	H_ASSERT(&e, strcmp(h_sockname(a, nm, sizeof nm), want) == 0 && a->lport,
		 "sockname %s, expected %s (d0's link-local address)", nm, want);
	H_OPT(&e, a, ST_SO_BINDTODEVICE, (uint32_t)d0);
	H_RC(&e, h_disconnect(&e, a), 0);
	H_OPT(&e, a, ST_SO_BINDTODEVICE, (uint32_t)d0);
	/* E20b: a bound socket moves to d0 at connect, so a socket on d1
	 * can bind its port. */
	b = h_tcp6(&e);
	H_RC(&e, h_bind(&e, b, "[::]:22001"), 0);
	H_RC(&e, connect_sa(&e, b, &sa, ST_SOCKADDR_IN6_LEN), 0);
	p = h_tcp6(&e);
	H_RC(&e, h_setopt(&e, p, ST_SO_BINDTODEVICE, (uint32_t)d1), 0);
	H_RC(&e, h_bind(&e, p, "[::]:22001"), 0);
	/* E20d: bound to lo, scope d0: EINVAL; no scope, no device: EINVAL. */
	c = h_tcp6(&e);
	H_RC(&e, h_setopt(&e, c, ST_SO_BINDTODEVICE, ST_IFINDEX_LO), 0);
	H_RC(&e, connect_sa(&e, c, &sa, ST_SOCKADDR_IN6_LEN), -EINVAL);
	H_OPT(&e, c, ST_SO_BINDTODEVICE, ST_IFINDEX_LO);
	st_sock *n = h_tcp6(&e);
	H_RC(&e, connect_sa(&e, n, &sa, ST_SOCKADDR_IN6_LEN_RFC2133), -EINVAL);
	/* E20c: UDP, cleared by AF_UNSPEC. */
	u = h_udp6(&e);
	sa.port = 9;
	H_RC(&e, connect_sa(&e, u, &sa, ST_SOCKADDR_IN6_LEN), 0);
	H_OPT(&e, u, ST_SO_BINDTODEVICE, (uint32_t)d0);
	snprintf(want, sizeof want, "[fe80::1%%%d]:%u", d0, u->lport);
	H_NAME(&e, u, want);
	H_RC(&e, h_disconnect(&e, u), 0);
	H_OPT(&e, u, ST_SO_BINDTODEVICE, 0);
	h_env_done(&e);
}

/* C-T6, E19a: the source of an unbound socket is the route's preferred
 * source: 127.0.0.1 for every 127/8 destination. */
static void test_ct6_source_address(void **st)
{
	h_env e;
	st_sock *s[3];
	static const char *const dsts[] = {"127.0.0.2:21900", "127.9.9.9:21900", "127.0.0.1:21900"};
	(void)st;
	h_env_init(&e, 8, "C-T6/E19a an unbound socket's source for 127/8 is 127.0.0.1");
	for (int i = 0; i < 3; i++) {
		char nm[96];
		s[i] = h_tcp4(&e);
		H_RC(&e, h_connect(&e, s[i], dsts[i]), 0);
		h_sockname(s[i], nm, sizeof nm);
		H_ASSERT(&e, strncmp(nm, "127.0.0.1:", 10) == 0, "connect %s: sockname %s", dsts[i], nm);
		H_ASSERT(&e, s[i]->flags & ST_F_ASSIGNED_SRC, "the source was chosen by connect");
		st_sock *u = h_udp4(&e);
		H_RC(&e, h_connect(&e, u, dsts[i]), 0);
		h_sockname(u, nm, sizeof nm);
		H_ASSERT(&e, strncmp(nm, "127.0.0.1:", 10) == 0, "UDP connect %s: sockname %s",
			 dsts[i], nm);
	}
	h_env_done(&e);
}

/* X13: a socket bound to 0.0.0.0:P that connects moves to the source's
 * bind bucket: 127.0.0.2:P becomes bindable, 127.0.0.1:P does not;
 * AF_UNSPEC puts it back on 0.0.0.0. */
static void test_ct6_rehash_to_source(void **st)
{
	h_env e;
	st_sock *c, *x, *y;
	(void)st;
	h_env_init(&e, 6, "X13 connect of a 0.0.0.0-bound TCP socket re-hashes it to 127.0.0.1");
	c = h_tcp4(&e);
	H_RC(&e, h_bind(&e, c, "0.0.0.0:7101"), 0);
	H_RC(&e, h_connect(&e, c, "127.0.0.1:8080"), 0);
	H_NAME(&e, c, "127.0.0.1:7101");
	x = h_tcp4(&e);
	H_RC(&e, h_bind(&e, x, "127.0.0.2:7101"), 0);
	y = h_tcp4(&e);
	H_RC(&e, h_bind(&e, y, "127.0.0.1:7101"), -EADDRINUSE);
	H_ASSERT(&e, e.ex.conflict == c, "the conflict is the connected socket");
	h_close(&e, x);
	H_RC(&e, h_disconnect(&e, c), 0);
	H_NAME(&e, c, "0.0.0.0:7101");
	H_RC(&e, h_bind(&e, y, "127.0.0.2:7101"), -EADDRINUSE);
	h_env_done(&e);
}

/* ------------------------------------------------------------------ */
/* C-T7 / X21 / X28: bound sockets and 4-tuple uniqueness                */
/* ------------------------------------------------------------------ */

static void test_ct7_tuple_uniqueness(void **st)
{
	h_env e;
	st_sock *a, *b, *r[3];
	(void)st;
	h_env_init(&e, 8, "C-T7/X21 bound sockets: only the 4-tuple must be unique");
	a = h_tcp4(&e);
	b = h_tcp4(&e);
	h_flags(&e, a, H_RA);
	h_flags(&e, b, H_RA);
	H_RC(&e, h_bind(&e, a, "127.0.0.1:5800"), 0);
	H_RC(&e, h_bind(&e, b, "127.0.0.1:5800"), 0);
	H_RC(&e, h_connect(&e, a, "127.0.0.2:8080"), 0);
	H_RC(&e, h_connect(&e, b, "127.0.0.2:8080"), -EADDRNOTAVAIL);
	H_ASSERT(&e, e.ex.rule == ST_RULE_TUPLE_IN_USE && e.ex.conflict == a,
		 "explain: rule %d conflict %s", (int)e.ex.rule, h_who(&e, e.ex.conflict));
	H_ASSERT(&e, b->state == ST_CLOSE && b->lport == 5800, "B keeps its port and state");
	H_RC(&e, h_connect(&e, b, "127.0.0.2:8081"), 0);
	/* Three RP sockets. */
	for (int i = 0; i < 3; i++) {
		r[i] = h_tcp4(&e);
		h_flags(&e, r[i], H_RP);
		H_RC(&e, h_bind(&e, r[i], "127.0.0.1:5801"), 0);
	}
	H_RC(&e, h_connect(&e, r[0], "127.0.0.3:1"), 0);
	H_RC(&e, h_connect(&e, r[1], "127.0.0.3:2"), 0);
	H_RC(&e, h_connect(&e, r[2], "127.0.0.3:1"), -EADDRNOTAVAIL);
	H_NAME(&e, r[2], "127.0.0.1:5801");
	h_env_done(&e);
}

/* X28: a port held by a listener is usable as the source of a socket that
 * bound it before with SO_REUSEADDR. */
static void test_x28_connect_from_listener_port(void **st)
{
	h_env e;
	st_sock *a, *b, *l;
	(void)st;
	h_env_init(&e, 4, "X28 connect from a listener's port");
	a = h_tcp4(&e);
	b = h_tcp4(&e);
	h_flags(&e, a, H_RA);
	h_flags(&e, b, H_RA);
	H_RC(&e, h_bind(&e, a, "127.0.0.1:7801"), 0);
	H_RC(&e, h_bind(&e, b, "127.0.0.1:7801"), 0);
	H_RC(&e, h_listen(&e, b), 0);
	l = tcp_listener(&e, "127.0.0.1:7802");
	(void)l;
	H_RC(&e, h_connect(&e, a, "127.0.0.1:7802"), 0);
	H_NAME(&e, a, "127.0.0.1:7801");
	/* A client can still reach B, and A's segments reach A. */
	H_LOOKUP(&e, ST_TCP, "127.0.0.9:4000", "127.0.0.1:7801", b);
	H_LOOKUP(&e, ST_TCP, "127.0.0.1:7802", "127.0.0.1:7801", a);
	h_env_done(&e);
}

/* C-T8: self-connect. */
static void test_ct8_self_connect(void **st)
{
	h_env e;
	st_sock *s;
	char a[96], b[96];
	(void)st;
	h_env_init(&e, 2, "C-T8/X12 bind and connect to the same 127.0.0.1:7010");
	s = h_tcp4(&e);
	H_RC(&e, h_bind(&e, s, "127.0.0.1:7010"), 0);
	H_RC(&e, h_connect(&e, s, "127.0.0.1:7010"), 0);
	H_ASSERT(&e, strcmp(h_sockname(s, a, sizeof a), peername(s, b, sizeof b)) == 0,
		 "sockname %s = peername %s", a, b);
	H_LOOKUP(&e, ST_TCP, "127.0.0.1:7010", "127.0.0.1:7010", s);
	h_env_done(&e);
}

/* ------------------------------------------------------------------ */
/* Ephemeral ports (P-T7..P-T13) as connect() sees them                  */
/* ------------------------------------------------------------------ */

static void test_pt8_connect_even_ports(void **st)
{
	enum { N = 200 };
	h_env e;
	uint16_t ports[N];
	(void)st;
	h_env_init(&e, N + 1, "P-T8/X10 connect from unbound sockets: even ports, 2..16 apart");
	tcp_listener(&e, "127.0.0.1:8080");
	for (int i = 0; i < N; i++) {
		st_sock *c = h_tcp4(&e);
		H_RC(&e, h_connect(&e, c, "127.0.0.1:8080"), 0);
		ports[i] = c->lport;
		H_ASSERT(&e, c->lport >= 32768 && c->lport <= 60999 && !(c->lport & 1),
			 "connect #%d got port %u", i, c->lport);
		H_ASSERT(&e, c->flags & ST_F_CONNECT_BIND, "the port comes from connect()");
	}
	/* Consecutive connects to one destination: the perturbation table
	 * moves the start by max(i, random(0..7) * 2) + 2. */
	for (int i = 1; i < N; i++) {
		int d = (int)ports[i] - (int)ports[i - 1];
		H_ASSERT(&e, d >= 2 && d <= 16 && !(d & 1), "delta %d between connects %d and %d",
			 d, i - 1, i);
	}
	h_env_done(&e);
}

/* X11/P-T10/P-T11: one-port range 40000. */
static void test_x11_connect_only_ports(void **st)
{
	h_env e;
	st_sock *c1, *c2, *c3, *np, *ra, *c4, *c5;
	(void)st;
	h_env_init(&e, 10, "X11 connect exhaustion with range 40000-40000");
	h_sysctl(&e, "net.ipv4.ip_local_port_range", "40000 40000");
	c1 = h_tcp4(&e);
	H_RC(&e, h_connect(&e, c1, "127.0.0.1:8080"), 0);
	H_PORT(&e, c1, 40000);
	c2 = h_tcp4(&e);
	H_RC(&e, h_connect(&e, c2, "127.0.0.1:8080"), -EADDRNOTAVAIL);
	H_NAME(&e, c2, "0.0.0.0:0");
	H_ASSERT(&e, e.ex.rule == ST_RULE_PORT_EXHAUSTED, "rule %d", (int)e.ex.rule);
	c3 = h_tcp4(&e);
	H_RC(&e, h_connect(&e, c3, "127.0.0.1:8081"), 0);
	H_PORT(&e, c3, 40000);
	/* B-N1: IP_BIND_ADDRESS_NO_PORT takes no port at bind. */
	np = h_tcp4(&e);
	H_RC(&e, h_setopt(&e, np, ST_IP_BIND_ADDRESS_NO_PORT, 1), 0);
	H_RC(&e, h_bind(&e, np, "127.0.0.2:0"), 0);
	H_NAME(&e, np, "127.0.0.2:0");
	H_RC(&e, h_connect(&e, np, "127.0.0.1:8080"), 0);
	H_NAME(&e, np, "127.0.0.2:40000");
	/* An explicit bind of the port hides it from connect()... */
	ra = h_tcp4(&e);
	h_flags(&e, ra, H_RA);
	H_RC(&e, h_bind(&e, ra, "127.0.0.3:40000"), 0);
	c4 = h_tcp4(&e);
	H_RC(&e, h_connect(&e, c4, "127.0.0.1:8082"), -EADDRNOTAVAIL);
	/* ...until the binder goes (6.18, P-T11). */
	h_close(&e, ra);
	c5 = h_tcp4(&e);
	H_RC(&e, h_connect(&e, c5, "127.0.0.1:8082"), 0);
	H_PORT(&e, c5, 40000);
	h_env_done(&e);
}

/* X21: two NO_PORT sockets on one address connect to two destinations:
 * with a one-port range both get it. */
static void test_bn1_no_port_share(void **st)
{
	h_env e;
	st_sock *a, *b, *c;
	(void)st;
	h_env_init(&e, 4, "B-N1/X21 NO_PORT sockets share a port toward different destinations");
	h_sysctl(&e, "net.ipv4.ip_local_port_range", "40000 40000");
	a = h_tcp4(&e);
	b = h_tcp4(&e);
	c = h_tcp4(&e);
	for (int i = 0; i < 3; i++) {
		st_sock *s = i == 0 ? a : i == 1 ? b : c;
		H_RC(&e, h_setopt(&e, s, ST_IP_BIND_ADDRESS_NO_PORT, 1), 0);
		H_RC(&e, h_bind(&e, s, "127.0.0.7:0"), 0);
		H_PORT(&e, s, 0);
	}
	H_RC(&e, h_connect(&e, a, "127.0.0.1:8080"), 0);
	H_RC(&e, h_connect(&e, b, "127.0.0.1:8081"), 0);
	H_NAME(&e, a, "127.0.0.7:40000");
	H_NAME(&e, b, "127.0.0.7:40000");
	H_RC(&e, h_connect(&e, c, "127.0.0.1:8080"), -EADDRNOTAVAIL);
	H_NAME(&e, c, "127.0.0.7:0");
	/* An explicit port with NO_PORT binds normally. */
	st_sock *d = h_tcp4(&e);
	H_RC(&e, h_setopt(&e, d, ST_IP_BIND_ADDRESS_NO_PORT, 1), 0);
	H_RC(&e, h_bind(&e, d, "127.0.0.7:5555"), 0);
	H_PORT(&e, d, 5555);
	h_env_done(&e);
}

/* ------------------------------------------------------------------ */
/* C-T9 / C-T10 / C-T11: failure and AF_UNSPEC                           */
/* ------------------------------------------------------------------ */

static void test_ct9_refused_releases_auto_port(void **st)
{
	h_env e;
	st_sock *a, *b, *x, *y;
	uint16_t pa, pb;
	(void)st;
	h_env_init(&e, 10, "C-T9/X21/E21 a refused connect releases an automatic port");
	a = h_tcp4(&e);
	H_RC(&e, h_connect(&e, a, "127.0.0.1:7020"), 0);
	pa = a->lport;
	H_RC(&e, st_connect_failed(e.net, a), 0);
	h_check(&e);
	H_ASSERT(&e, a->state == ST_CLOSE && a->lport == 0 && h_port(a) == pa,
		 "getsockname keeps the stale port %u (shows %u)", pa, h_port(a));
	/* E21a: the RST alone keeps the source address; the disconnect that
	 * connect() does when it reports the failure resets it. */
	char ep[64];
	snprintf(ep, sizeof ep, "127.0.0.1:%u", pa);
	H_NAME(&e, a, ep);
	x = h_tcp4(&e);
	H_RC(&e, h_bind(&e, x, ep), 0);
	H_RC(&e, h_disconnect(&e, a), 0);
	snprintf(ep, sizeof ep, "0.0.0.0:%u", pa);
	H_NAME(&e, a, ep);
	snprintf(ep, sizeof ep, "127.0.0.1:%u", pa);
	/* bind(127.0.0.1, 0) is not a locked port either. */
	b = h_tcp4(&e);
	H_RC(&e, h_bind(&e, b, "127.0.0.1:0"), 0);
	pb = b->lport;
	H_RC(&e, h_connect(&e, b, "127.0.0.1:7020"), 0);
	H_RC(&e, st_connect_failed(e.net, b), 0);
	y = h_tcp4(&e);
	snprintf(ep, sizeof ep, "127.0.0.1:%u", pb);
	H_RC(&e, h_bind(&e, y, ep), 0);
	snprintf(ep, sizeof ep, "127.0.0.1:%u", pb);
	H_NAME(&e, b, ep); /* locked address, stale port */
	H_ASSERT(&e, b->lport == 0, "the port is released");
	/* An explicit port is kept; the socket can connect again. */
	st_sock *c = h_tcp4(&e);
	H_RC(&e, h_bind(&e, c, "127.0.0.1:7021"), 0);
	H_RC(&e, h_connect(&e, c, "127.0.0.1:7020"), 0);
	H_RC(&e, st_connect_failed(e.net, c), 0);
	H_NAME(&e, c, "127.0.0.1:7021");
	/* E21b: bound 0.0.0.0:P: after the RST 127.0.0.1:P, still holding
	 * the port there; after the disconnect 0.0.0.0:P. */
	st_sock *w = h_tcp4(&e);
	H_RC(&e, h_bind(&e, w, "0.0.0.0:22100"), 0);
	H_RC(&e, h_connect(&e, w, "127.0.0.1:9"), 0);
	H_RC(&e, st_connect_failed(e.net, w), 0);
	H_NAME(&e, w, "127.0.0.1:22100");
	st_sock *q = h_tcp4(&e);
	H_RC(&e, h_bind(&e, q, "127.0.0.1:22100"), -EADDRINUSE);
	H_RC(&e, h_disconnect(&e, w), 0);
	H_NAME(&e, w, "0.0.0.0:22100");
	H_RC(&e, st_connect_failed(e.net, c), -EINVAL); /* not connecting */
	H_RC(&e, h_connect(&e, c, "127.0.0.1:7020"), 0);
	h_env_done(&e);
}

static void test_ct11_tcp_disconnect(void **st)
{
	h_env e;
	st_sock *a, *l;
	uint16_t p;
	(void)st;
	h_env_init(&e, 4, "C-T11/X13 TCP AF_UNSPEC");
	a = h_tcp4(&e);
	H_RC(&e, h_connect(&e, a, "127.0.0.1:7030"), 0);
	H_RC(&e, h_set_state(&e, a, ST_ESTABLISHED), 0);
	p = a->lport;
	H_RC(&e, h_disconnect(&e, a), 0);
	H_ASSERT(&e, a->state == ST_CLOSE && a->lport == 0 && h_port(a) == p,
		 "autobound: port released, stale %u shown (shows %u)", p, h_port(a));
	char ep[64];
	snprintf(ep, sizeof ep, "0.0.0.0:%u", p);
	H_NAME(&e, a, ep);
	H_LOOKUP(&e, ST_TCP, "127.0.0.1:7030", "127.0.0.1:0", NULL);
	H_RC(&e, h_connect(&e, a, "127.0.0.1:7030"), 0);
	H_ASSERT(&e, a->lport != 0, "reconnect takes a new port");
	/* X13: AF_UNSPEC on a listener stops it; listen again works. */
	l = tcp_listener(&e, "127.0.0.1:7031");
	H_RC(&e, h_disconnect(&e, l), 0);
	H_LOOKUP(&e, ST_TCP, "127.0.0.9:1", "127.0.0.1:7031", NULL);
	H_NAME(&e, l, "127.0.0.1:7031");
	H_RC(&e, h_listen(&e, l), 0);
	H_LOOKUP(&e, ST_TCP, "127.0.0.9:1", "127.0.0.1:7031", l);
	h_env_done(&e);
}

/* E12: the address after AF_UNSPEC, AF_INET6 sockets.  A bind to
 * ::ffff:0.0.0.0 locks the address (every IPv6 address type but ANY
 * does), so the source connect() chose stays; :: and unbound sockets go
 * back to ::.  Probes: which binds of 127.0.0.2:P, [::1]:P, 127.0.0.1:P
 * then succeed. */
static void e12_case(int proto, const char *bind, const char *dst, const char *want_name,
		     int want_port_kind /* 0 none, 1 stale, 2 kept */, const int probe_rc[3])
{
	h_env e;
	st_sock *s;
	h_env_init(&e, 8, "E12");
	h_ctx(&e, "E12 %s6 bind %s, connect %s, AF_UNSPEC: expect %s", h_proto_name(proto),
	      bind ? bind : "(none)", dst, want_name);
	s = h_sock(&e, proto, ST_AF_INET6, H_UID);
	if (bind)
		H_RC(&e, h_bind(&e, s, bind), 0);
	H_RC(&e, h_connect(&e, s, dst), 0);
	uint16_t port = s->lport;
	char nm[96];
	H_ASSERT(&e, strncmp(h_sockname(s, nm, sizeof nm), "[::ffff:127.0.0.1]:", 19) == 0,
		 "after connect: %s", nm);
	H_RC(&e, h_disconnect(&e, s), 0);
	h_sockname(s, nm, sizeof nm);
	char want[96];
	snprintf(want, sizeof want, "%s:%u", want_name, want_port_kind ? port : 0);
	H_ASSERT(&e, strcmp(nm, want) == 0, "after AF_UNSPEC: %s, expected %s", nm, want);
	H_ASSERT(&e, (want_port_kind == 2) == (s->lport == port), "port kept: %u", s->lport);
	static const char *const probes[3] = {"127.0.0.2", "::1", "127.0.0.1"};
	for (int i = 0; i < 3; i++) {
		char ep[64];
		st_sock *p = h_sock(&e, proto, i == 1 ? ST_AF_INET6 : ST_AF_INET, H_UID);
		snprintf(ep, sizeof ep, i == 1 ? "[%s]:%u" : "%s:%u", probes[i], port);
		H_RC(&e, h_bind(&e, p, ep), probe_rc[i]);
		h_close(&e, p);
	}
	h_env_done(&e);
}

static void test_e12_v6_disconnect_address(void **st)
{
	static const int mapped_locked[3] = {0, 0, -EADDRINUSE};
	static const int dual_any[3] = {-EADDRINUSE, -EADDRINUSE, -EADDRINUSE};
	static const int released[3] = {0, 0, 0};
	(void)st;
	/* E12a */
	e12_case(ST_TCP, "[::ffff:0.0.0.0]:21201", "[::ffff:127.0.0.1]:21200",
		 "[::ffff:127.0.0.1]", 2, mapped_locked);
	/* E12b: port released, stale shown, address kept */
	e12_case(ST_TCP, "[::ffff:0.0.0.0]:0", "[::ffff:127.0.0.1]:21200", "[::ffff:127.0.0.1]", 1,
		 released);
	/* E12c */
	e12_case(ST_TCP, "[::]:21203", "[::ffff:127.0.0.1]:21200", "[::]", 2, dual_any);
	/* E12d */
	e12_case(ST_TCP, NULL, "[::ffff:127.0.0.1]:21200", "[::]", 1, released);
	/* E12f/g/h/i: UDP */
	e12_case(ST_UDP, "[::ffff:0.0.0.0]:21206", "[::ffff:127.0.0.1]:9", "[::ffff:127.0.0.1]", 2,
		 mapped_locked);
	e12_case(ST_UDP, "[::ffff:0.0.0.0]:0", "[::ffff:127.0.0.1]:9", "[::ffff:127.0.0.1]", 0,
		 released);
	e12_case(ST_UDP, "[::]:21208", "[::ffff:127.0.0.1]:9", "[::]", 2, dual_any);
	e12_case(ST_UDP, NULL, "[::ffff:127.0.0.1]:9", "[::]", 0, released);
}

/* E12j: a ::ffff:0.0.0.0 listener after AF_UNSPEC keeps its address. */
static void test_e12j_v4mapped_listener(void **st)
{
	h_env e;
	st_sock *l, *p;
	(void)st;
	h_env_init(&e, 4, "E12j [::ffff:0.0.0.0] listener, AF_UNSPEC, listen again");
	l = h_tcp6(&e);
	H_RC(&e, h_bind(&e, l, "[::ffff:0.0.0.0]:21210"), 0);
	H_RC(&e, h_listen(&e, l), 0);
	H_RC(&e, h_disconnect(&e, l), 0);
	H_NAME(&e, l, "[::ffff:0.0.0.0]:21210");
	p = h_tcp4(&e);
	H_RC(&e, h_bind(&e, p, "127.0.0.2:21210"), -EADDRINUSE);
	h_close(&e, p);
	p = h_tcp6(&e);
	H_RC(&e, h_bind(&e, p, "[::1]:21210"), 0);
	h_close(&e, p);
	H_RC(&e, h_listen(&e, l), 0);
	h_env_done(&e);
}

/* ------------------------------------------------------------------ */
/* UDP connect: C-U1..C-U6                                               */
/* ------------------------------------------------------------------ */

static void test_cu1_cu3_udp_connect(void **st)
{
	h_env e;
	st_sock *u, *v, *w;
	(void)st;
	h_env_init(&e, 6, "C-U1/C-U3/X13 UDP connect: repeatable, no uniqueness, source kept");
	u = h_udp4(&e);
	H_RC(&e, h_connect(&e, u, "127.0.0.1:10"), 0);
	char nm[96];
	h_sockname(u, nm, sizeof nm);
	H_ASSERT(&e, strncmp(nm, "127.0.0.1:", 10) == 0 && u->lport, "sockname %s", nm);
	uint16_t p = u->lport;
	H_RC(&e, h_connect(&e, u, "127.0.0.2:10"), 0);
	H_ASSERT(&e, u->lport == p && strcmp(h_sockname(u, nm, sizeof nm), "127.0.0.1:") > 0,
		 "the source stays 127.0.0.1 (%s)", nm);
	H_PEER(&e, u, "127.0.0.2:10");
	/* Two sockets may share a 4-tuple. */
	v = h_udp4(&e);
	w = h_udp4(&e);
	h_flags(&e, v, H_RA);
	h_flags(&e, w, H_RA);
	H_RC(&e, h_bind(&e, v, "127.0.0.1:7110"), 0);
	H_RC(&e, h_bind(&e, w, "127.0.0.1:7110"), 0);
	H_RC(&e, h_connect(&e, v, "127.0.0.2:9"), 0);
	H_RC(&e, h_connect(&e, w, "127.0.0.2:9"), 0);
	/* 0.0.0.0 means this host. */
	st_sock *z = h_udp4(&e);
	H_RC(&e, h_connect(&e, z, "0.0.0.0:9"), 0);
	H_PEER(&e, z, "127.0.0.1:9");
	h_env_done(&e);
}

static void test_cu2_autobind_eagain(void **st)
{
	h_env e;
	st_sock *a, *b;
	(void)st;
	h_env_init(&e, 4, "C-U2/X11 UDP connect autobind with no free port: EAGAIN");
	h_sysctl(&e, "net.ipv4.ip_local_port_range", "40000 40000");
	a = h_udp4(&e);
	H_RC(&e, h_bind(&e, a, "0.0.0.0:0"), 0);
	H_PORT(&e, a, 40000);
	b = h_udp4(&e);
	H_RC(&e, h_connect(&e, b, "127.0.0.1:9"), -EAGAIN);
	H_ASSERT(&e, b->lport == 0 && b->state == ST_CLOSE, "nothing taken");
	/* A route failure after the autobind keeps the port (Linux does). */
	h_close(&e, a);
	H_RC(&e, h_connect(&e, b, "127.255.255.255:9"), -EACCES);
	H_ASSERT(&e, b->lport == 40000 && b->state == ST_CLOSE, "autobound port kept: %u", b->lport);
	h_env_done(&e);
}

static void test_cu4_cu5_errors(void **st)
{
	h_env e;
	st_sock *u, *v6only, *dual;
	st_sockaddr sa;
	(void)st;
	h_env_init(&e, 4, "C-U4/C-U5/X13 broadcast needs SO_BROADCAST; families");
	u = h_udp4(&e);
	H_RC(&e, h_connect(&e, u, "127.255.255.255:9"), -EACCES);
	H_ASSERT(&e, e.ex.rule == ST_RULE_BROADCAST_DENIED, "rule %d", (int)e.ex.rule);
	H_RC(&e, h_setopt(&e, u, ST_SO_BROADCAST, 1), 0);
	H_RC(&e, h_connect(&e, u, "127.255.255.255:9"), 0);
	v6only = h_udp6(&e);
	h_flags(&e, v6only, H_V6ONLY);
	H_RC(&e, h_connect(&e, v6only, "[::ffff:127.0.0.1]:9"), -ENETUNREACH);
	sa = h_parse(&e, "127.0.0.1:9");
	H_RC(&e, connect_sa(&e, v6only, &sa, ST_SOCKADDR_IN_LEN), -EAFNOSUPPORT);
	dual = h_udp6(&e);
	H_RC(&e, connect_sa(&e, dual, &sa, ST_SOCKADDR_IN_LEN), 0);
	char nm[96];
	H_ASSERT(&e, strncmp(h_sockname(dual, nm, sizeof nm), "[::ffff:127.0.0.1]:", 19) == 0,
		 "dual-stack with an AF_INET sockaddr: sockname %s", nm);
	h_env_done(&e);
}

static void test_cu6_udp_disconnect(void **st)
{
	h_env e;
	st_sock *a, *b, *c, *d;
	(void)st;
	h_env_init(&e, 8, "C-U6/X13/X27 UDP AF_UNSPEC");
	/* Autobound: loses address and port. */
	a = h_udp4(&e);
	H_RC(&e, h_connect(&e, a, "127.0.0.1:10"), 0);
	H_RC(&e, h_disconnect(&e, a), 0);
	H_NAME(&e, a, "0.0.0.0:0");
	char pb[96];
	H_ASSERT(&e, strcmp(peername(a, pb, sizeof pb), "ENOTCONN") == 0, "getpeername %s", pb);
	/* Bound 0.0.0.0:7111: back to 0.0.0.0:7111. */
	b = h_udp4(&e);
	H_RC(&e, h_bind(&e, b, "0.0.0.0:7111"), 0);
	H_RC(&e, h_connect(&e, b, "127.0.0.1:10"), 0);
	H_NAME(&e, b, "127.0.0.1:7111");
	H_RC(&e, h_disconnect(&e, b), 0);
	H_NAME(&e, b, "0.0.0.0:7111");
	/* Bound 127.0.0.1:0: address kept, port lost. */
	c = h_udp4(&e);
	H_RC(&e, h_bind(&e, c, "127.0.0.1:0"), 0);
	H_RC(&e, h_connect(&e, c, "127.0.0.2:10"), 0);
	H_RC(&e, h_disconnect(&e, c), 0);
	H_NAME(&e, c, "127.0.0.1:0");
	/* X27: the device binding is cleared (UDP) / kept (TCP). */
	d = h_udp4(&e);
	H_RC(&e, h_setopt(&e, d, ST_SO_BINDTODEVICE, ST_IFINDEX_LO), 0);
	H_RC(&e, h_bind(&e, d, "127.0.0.1:7112"), 0);
	H_RC(&e, h_connect(&e, d, "127.0.0.1:10"), 0);
	H_RC(&e, h_disconnect(&e, d), 0);
	H_OPT(&e, d, ST_SO_BINDTODEVICE, 0);
	H_NAME(&e, d, "127.0.0.1:7112");
	st_sock *t = h_tcp4(&e);
	H_RC(&e, h_setopt(&e, t, ST_SO_BINDTODEVICE, ST_IFINDEX_LO), 0);
	H_RC(&e, h_connect(&e, t, "127.0.0.1:7030"), 0);
	H_RC(&e, h_disconnect(&e, t), 0);
	H_OPT(&e, t, ST_SO_BINDTODEVICE, ST_IFINDEX_LO);
	/* UDP bind(0) then AF_UNSPEC without connect: the unlocked port goes. */
	st_sock *f = h_udp4(&e);
	H_RC(&e, h_bind(&e, f, "0.0.0.0:0"), 0);
	H_RC(&e, h_disconnect(&e, f), 0);
	H_NAME(&e, f, "0.0.0.0:0");
	h_env_done(&e);
}

/* B-U5/X8: connect re-hashes; disconnect restores 0.0.0.0 without a check,
 * so two overlapping sockets can then coexist. */
static void test_bu5_disconnect_no_recheck(void **st)
{
	h_env e;
	st_sock *a, *b;
	(void)st;
	h_env_init(&e, 4, "B-U5/X8 UDP: disconnect restores the wildcard without a re-check");
	a = h_udp4(&e);
	H_RC(&e, h_bind(&e, a, "0.0.0.0:7120"), 0);
	H_RC(&e, h_connect(&e, a, "127.0.0.1:10"), 0);
	b = h_udp4(&e);
	H_RC(&e, h_bind(&e, b, "127.0.0.2:7120"), 0);
	H_RC(&e, h_disconnect(&e, a), 0);
	H_NAME(&e, a, "0.0.0.0:7120");
	H_NAME(&e, b, "127.0.0.2:7120");
	/* Both receive what matches them: b is exact for 127.0.0.2. */
	H_LOOKUP(&e, ST_UDP, "127.0.0.9:1", "127.0.0.2:7120", b);
	H_LOOKUP(&e, ST_UDP, "127.0.0.9:1", "127.0.0.1:7120", a);
	h_env_done(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ct1_arguments),
		cmocka_unit_test(test_ct2_state),
		cmocka_unit_test(test_ct3_this_host),
		cmocka_unit_test(test_ct4_ct5_unreachable),
		cmocka_unit_test(test_ct5_scope),
		cmocka_unit_test(test_ct6_source_address),
		cmocka_unit_test(test_ct6_rehash_to_source),
		cmocka_unit_test(test_ct7_tuple_uniqueness),
		cmocka_unit_test(test_x28_connect_from_listener_port),
		cmocka_unit_test(test_ct8_self_connect),
		cmocka_unit_test(test_pt8_connect_even_ports),
		cmocka_unit_test(test_x11_connect_only_ports),
		cmocka_unit_test(test_bn1_no_port_share),
		cmocka_unit_test(test_ct9_refused_releases_auto_port),
		cmocka_unit_test(test_ct11_tcp_disconnect),
		cmocka_unit_test(test_e12_v6_disconnect_address),
		cmocka_unit_test(test_e12j_v4mapped_listener),
		cmocka_unit_test(test_cu1_cu3_udp_connect),
		cmocka_unit_test(test_cu2_autobind_eagain),
		cmocka_unit_test(test_cu4_cu5_errors),
		cmocka_unit_test(test_cu6_udp_disconnect),
		cmocka_unit_test(test_bu5_disconnect_no_recheck),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
