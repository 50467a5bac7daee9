/*
 * test_port0.c - automatic port selection (linux-semantics.md 3.7):
 * TCP bind(0) / listen() autobind (P-T1..P-T6), TCP connect() (P-T7..
 * P-T13), UDP bind(0) (P-U1..P-U3), against experiments X9, X10, X11 and
 * X23.
 *
 * Sockets that got a port are kept open (so the ports must be distinct)
 * unless said otherwise; they are owned by uid 1000.  Connects go to a
 * listener bound explicitly to a port outside the range under test
 * (127.0.0.1:8080, ...); st_connect does not need the listener, it only
 * makes the scenario realistic.
 */
#include "helpers.h"

#define LOW 32768u
#define HIGH 60999u
#define RANGE_N (HIGH + 1 - LOW) /* 28232 */

enum { PAR_EVEN = 0, PAR_ODD = 1, PAR_ANY = -1 };

static const char *parity_name(int p)
{
	return p == PAR_EVEN ? "even" : p == PAR_ODD ? "odd" : "any";
}

/*
 * Checks a list of ports: each in [lo, hi], of the given parity, all
 * distinct when `distinct`.  `what` names the operation in messages.
 */
static void check_ports(h_env *e, const char *what, const uint16_t *ports, int n, unsigned lo,
			unsigned hi, int parity, bool distinct)
{
	static unsigned char seen[65536];
	memset(seen, 0, sizeof seen);
	for (int i = 0; i < n; i++) {
		unsigned p = ports[i];
		H_ASSERT(e, p >= lo && p <= hi, "%s #%d got port %u, outside [%u, %u]", what, i, p,
			 lo, hi);
		if (parity != PAR_ANY)
			H_ASSERT(e, (int)(p & 1u) == parity, "%s #%d got port %u, expected only %s "
				 "ports", what, i, p, parity_name(parity));
		if (distinct) {
			H_ASSERT(e, !seen[p], "%s #%d got port %u, which an earlier socket (still "
				 "open) already had", what, i, p);
			seen[p] = 1;
		}
	}
}

/* n TCP/UDP sockets (flags set) each bind(ep with port 0); all must
 * succeed; ports returned in `ports`. */
static void bind0_many(h_env *e, int n, int proto, int family, const char *ep, unsigned flags,
		       uint16_t *ports)
{
	for (int i = 0; i < n; i++) {
		st_sock *s = h_sock(e, proto, family, H_UID);
		int rc;
		h_flags(e, s, flags);
		rc = h_bind(e, s, ep);
		H_ASSERT(e, rc == 0, "%s bind(%s) #%d with flags %s returned %s, expected 0",
			 h_proto_name(proto), ep, i, h_flags_name(flags), h_rc(rc));
		ports[i] = h_port(s);
	}
}

/* A listener on ep (explicit port), flags none. */
static st_sock *listener(h_env *e, const char *ep)
{
	st_sock *l = h_tcp4(e);
	H_RC(e, h_bind(e, l, ep), 0);
	H_RC(e, h_listen(e, l), 0);
	return l;
}

/* n unbound TCP sockets connect to dst; all must succeed; local ports
 * returned.  `range_opt` is an IP_LOCAL_PORT_RANGE value or 0. */
static void connect_many(h_env *e, int n, const char *dst, uint32_t range_opt, uint16_t *ports)
{
	for (int i = 0; i < n; i++) {
		st_sock *s = h_tcp4(e);
		int rc;
		if (range_opt)
			H_RC(e, h_setopt(e, s, ST_IP_LOCAL_PORT_RANGE, range_opt), 0);
		rc = h_connect(e, s, dst);
		H_ASSERT(e, rc == 0, "connect #%d to %s from an unbound socket returned %s, "
			 "expected 0", i, dst, h_rc(rc));
		H_ASSERT(e, s->state == ST_SYN_SENT, "connect #%d: state %d, expected SYN_SENT", i,
			 (int)s->state);
		ports[i] = h_port(s);
	}
}

/* ------------------------------------------------------------------ */
/* X10: TCP bind(0) / listen() parity and range                          */
/* ------------------------------------------------------------------ */

static void test_x10_tcp_bind0_default_odd(void **st)
{
	enum { N = 300 };
	uint16_t ports[N];
	h_env e;
	(void)st;
	h_env_init(&e, N, "X10/P-T3 TCP bind(0.0.0.0:0) x300, default range: all odd");
	bind0_many(&e, N, ST_TCP, ST_AF_INET, "0.0.0.0:0", H_NONE, ports);
	check_ports(&e, "TCP bind(0)", ports, N, LOW, HIGH, PAR_ODD, true);
	h_env_done(&e);
}

static void test_x10_tcp_bind0_ra_lower_half(void **st)
{
	enum { N = 300 };
	uint16_t ports[N];
	h_env e;
	(void)st;
	h_env_init(&e, N, "X10/P-T2 TCP RA bind(0) x300: odd, in [32768, 46884)");
	bind0_many(&e, N, ST_TCP, ST_AF_INET, "0.0.0.0:0", H_RA, ports);
	check_ports(&e, "TCP RA bind(0)", ports, N, LOW, 46883, PAR_ODD, true);
	h_env_done(&e);
}

static void test_x10_tcp_bind0_v6_odd(void **st)
{
	enum { N = 100 };
	uint16_t ports[N];
	h_env e;
	(void)st;
	h_env_init(&e, N, "X10/P-T3 TCP bind([::]:0) x100 (range is used for IPv6 too): all odd");
	bind0_many(&e, N, ST_TCP, ST_AF_INET6, "[::]:0", H_NONE, ports);
	check_ports(&e, "TCP6 bind(0)", ports, N, LOW, HIGH, PAR_ODD, true);
	h_env_done(&e);
}

static void test_x10_listen_autobind_odd(void **st)
{
	enum { N = 300 };
	uint16_t ports[N];
	h_env e;
	(void)st;
	h_env_init(&e, N, "X10/L3 listen() autobind x300: all odd");
	for (int i = 0; i < N; i++) {
		st_sock *s = h_tcp4(&e);
		int rc = h_listen(&e, s);
		H_ASSERT(&e, rc == 0, "listen #%d on an unbound socket returned %s", i, h_rc(rc));
		H_ASSERT(&e, s->state == ST_LISTEN, "listen #%d: state %d, expected LISTEN", i,
			 (int)s->state);
		ports[i] = h_port(s);
	}
	check_ports(&e, "listen() autobind", ports, N, LOW, HIGH, PAR_ODD, true);
	h_env_done(&e);
}

static void test_x10_range_32769_61000(void **st)
{
	enum { N = 200 };
	uint16_t ports[N];
	h_env e;
	(void)st;
	h_env_init(&e, 2 * N + 1, "X10 range 32769-61000: bind(0) even, connect odd");
	h_sysctl(&e, "net.ipv4.ip_local_port_range", "32769 61000");
	bind0_many(&e, N, ST_TCP, ST_AF_INET, "0.0.0.0:0", H_NONE, ports);
	check_ports(&e, "TCP bind(0)", ports, N, 32769, 61000, PAR_EVEN, true);

	h_ctx(&e, "X10/P-T8 range 32769-61000: connect x200 all odd");
	listener(&e, "127.0.0.1:8080");
	connect_many(&e, N, "127.0.0.1:8080", 0, ports);
	check_ports(&e, "TCP connect", ports, N, 32769, 61000, PAR_ODD, true);
	h_env_done(&e);
}

/* P-5 / P-T12: IP_LOCAL_PORT_RANGE 40000-40999 */
static void test_x10_ip_local_port_range_option(void **st)
{
	enum { N = 200 };
	const uint32_t opt = (40999u << 16) | 40000u;
	uint16_t ports[N];
	int odd = 0;
	h_env e;
	(void)st;
	h_env_init(&e, 2 * N + 1, "X10/P-T12 IP_LOCAL_PORT_RANGE 40000-40999: bind(0) odd");
	for (int i = 0; i < N; i++) {
		st_sock *s = h_tcp4(&e);
		H_RC(&e, h_setopt(&e, s, ST_IP_LOCAL_PORT_RANGE, opt), 0);
		H_OPT(&e, s, ST_IP_LOCAL_PORT_RANGE, opt);
		H_RC(&e, h_bind(&e, s, "0.0.0.0:0"), 0);
		ports[i] = h_port(s);
	}
	check_ports(&e, "TCP bind(0) with IP_LOCAL_PORT_RANGE", ports, N, 40000, 40999, PAR_ODD,
		    true);

	h_ctx(&e, "X10/P-T12 IP_LOCAL_PORT_RANGE 40000-40999: connect uses both parities");
	listener(&e, "127.0.0.1:8080");
	connect_many(&e, N, "127.0.0.1:8080", opt, ports);
	check_ports(&e, "TCP connect with IP_LOCAL_PORT_RANGE", ports, N, 40000, 40999, PAR_ANY,
		    true);
	for (int i = 0; i < N; i++)
		odd += ports[i] & 1;
	H_ASSERT(&e, odd > 0 && odd < N, "connect with IP_LOCAL_PORT_RANGE gave %d odd ports of "
		 "%d; expected both parities (step 1, P-T12)", odd, N);
	h_env_done(&e);
}

/* ------------------------------------------------------------------ */
/* X10: three-port range 40000-40002                                     */
/* ------------------------------------------------------------------ */

static void test_x10_tcp_bind0_three_port_range(void **st)
{
	static const int want_port[4] = { 40001, 40000, 0, 0 };
	static const int want_rc[4] = { 0, 0, -EADDRINUSE, -EADDRINUSE };
	h_env e;
	(void)st;
	h_env_init(&e, 4, "X10/P-T1 range 40000-40002: TCP bind(0) x4");
	h_sysctl(&e, "net.ipv4.ip_local_port_range", "40000 40002");
	for (int i = 0; i < 4; i++) {
		h_ctx(&e, "X10/P-T1 range 40000-40002: TCP bind(0) #%d", i + 1);
		st_sock *s = h_tcp4(&e);
		H_RC(&e, h_bind(&e, s, "0.0.0.0:0"), want_rc[i]);
		H_PORT(&e, s, (unsigned)want_port[i]);
		if (want_rc[i] != 0)
			H_NAME(&e, s, "0.0.0.0:0");
	}
	h_env_done(&e);
}

static void test_x10_listen_autobind_three_port_range(void **st)
{
	h_env e;
	(void)st;
	h_env_init(&e, 4, "X10/P-T6 range 40000-40002: listen() autobind x3");
	h_sysctl(&e, "net.ipv4.ip_local_port_range", "40000 40002");
	st_sock *a = h_tcp4(&e), *b = h_tcp4(&e), *c = h_tcp4(&e);
	H_RC(&e, h_listen(&e, a), 0);
	H_PORT(&e, a, 40001);
	H_RC(&e, h_listen(&e, b), 0);
	H_PORT(&e, b, 40000);
	H_RC(&e, h_listen(&e, c), -EADDRINUSE);
	H_ASSERT(&e, c->state == ST_CLOSE, "failed listen left state %d, expected CLOSE",
		 (int)c->state);
	H_NAME(&e, c, "0.0.0.0:0");
	h_env_done(&e);
}

static void test_x10_udp_bind0_three_port_range(void **st)
{
	uint16_t ports[3];
	h_env e;
	(void)st;
	h_env_init(&e, 4, "X10/P-U1 range 40000-40002: UDP bind(0) x4");
	h_sysctl(&e, "net.ipv4.ip_local_port_range", "40000 40002");
	bind0_many(&e, 3, ST_UDP, ST_AF_INET, "0.0.0.0:0", H_NONE, ports);
	check_ports(&e, "UDP bind(0)", ports, 3, 40000, 40002, PAR_ANY, true);
	st_sock *d = h_udp4(&e);
	H_RC(&e, h_bind(&e, d, "0.0.0.0:0"), -EADDRINUSE);
	H_NAME(&e, d, "0.0.0.0:0");
	h_env_done(&e);
}

static void test_x10_tcp_connect_three_port_range(void **st)
{
	static const int want_port[4] = { 40000, 40001, 0, 0 };
	static const int want_rc[4] = { 0, 0, -EADDRNOTAVAIL, -EADDRNOTAVAIL };
	h_env e;
	(void)st;
	h_env_init(&e, 5, "X10/P-T8 range 40000-40002: TCP connect x4");
	h_sysctl(&e, "net.ipv4.ip_local_port_range", "40000 40002");
	listener(&e, "127.0.0.1:8080");
	for (int i = 0; i < 4; i++) {
		char want[64];
		h_ctx(&e, "X10/P-T8 range 40000-40002: TCP connect #%d to 127.0.0.1:8080", i + 1);
		st_sock *s = h_tcp4(&e);
		H_RC(&e, h_connect(&e, s, "127.0.0.1:8080"), want_rc[i]);
		if (want_rc[i] == 0)
			snprintf(want, sizeof want, "127.0.0.1:%d", want_port[i]);
		else
			snprintf(want, sizeof want, "0.0.0.0:0"); /* C-T10 */
		H_NAME(&e, s, want);
	}
	h_env_done(&e);
}

/* ------------------------------------------------------------------ */
/* X10 / P-T8 / P-T9: connect() in the default range                      */
/* ------------------------------------------------------------------ */

static void test_x10_tcp_connect_default_even(void **st)
{
	enum { N = 200 };
	uint16_t ports[N];
	h_env e;
	(void)st;
	h_env_init(&e, N + 1, "X10/P-T8 TCP connect x200 to 127.0.0.1:8080: all even, distinct");
	listener(&e, "127.0.0.1:8080");
	connect_many(&e, N, "127.0.0.1:8080", 0, ports);
	check_ports(&e, "TCP connect", ports, N, LOW, HIGH, PAR_EVEN, true);
	for (int i = 1; i < N; i++)
		H_ASSERT(&e, ports[i] != ports[i - 1], "connects #%d and #%d got the same port %u",
			 i - 1, i, (unsigned)ports[i]);
	h_env_done(&e);
}

static void test_pt9_connect_port_deltas(void **st)
{
	enum { N = 200 };
	uint16_t ports[N];
	h_env e;
	(void)st;
	h_env_init(&e, N + 1, "P-T9 consecutive connects to one destination are 2..16 apart");
	listener(&e, "127.0.0.1:8080");
	connect_many(&e, N, "127.0.0.1:8080", 0, ports);
	for (int i = 1; i < N; i++) {
		unsigned d = ((unsigned)ports[i] + RANGE_N - (unsigned)ports[i - 1]) % RANGE_N;
		H_ASSERT(&e, d >= 2 && d <= 16 && d % 2 == 0, "connect #%d got port %u after %u: "
			 "step %u (modulo the range), expected an even step in 2..16", i,
			 (unsigned)ports[i], (unsigned)ports[i - 1], d);
	}
	h_env_done(&e);
}

/* ------------------------------------------------------------------ */
/* P-U1: UDP bind(0) in the default range                                 */
/* ------------------------------------------------------------------ */

static void test_pu1_udp_bind0_default(void **st)
{
	enum { N = 300 };
	uint16_t ports[N];
	int odd = 0;
	h_env e;
	(void)st;
	h_env_init(&e, N, "X10/P-U1 UDP bind(0) x300: in range, distinct, both parities");
	bind0_many(&e, N, ST_UDP, ST_AF_INET, "0.0.0.0:0", H_NONE, ports);
	check_ports(&e, "UDP bind(0)", ports, N, LOW, HIGH, PAR_ANY, true);
	for (int i = 0; i < N; i++)
		odd += ports[i] & 1;
	H_ASSERT(&e, odd > 0 && odd < N, "UDP bind(0) gave %d odd ports of %d; expected both "
		 "parities (uniform choice)", odd, N);
	h_env_done(&e);
}

/* ------------------------------------------------------------------ */
/* X9: TCP bind(0) with a one-port range                                  */
/* ------------------------------------------------------------------ */

static void x9_tcp(bool autobind_reuse)
{
	h_env e;
	h_env_init(&e, 8, autobind_reuse ? "X9 TCP bind(0), range 40000, ip_autobind_reuse=1" :
					   "X9 TCP bind(0), range 40000");
	h_sysctl(&e, "net.ipv4.ip_local_port_range", "40000 40000");
	if (autobind_reuse)
		h_sysctl(&e, "net.ipv4.ip_autobind_reuse", "1");

	st_sock *a = h_tcp4(&e), *b = h_tcp4(&e);
	h_flags(&e, a, H_RP);
	h_flags(&e, b, H_RP);
	H_RC(&e, h_bind(&e, a, "127.0.0.1:0"), 0);
	H_NAME(&e, a, "127.0.0.1:40000");
	/* P-T4: bind(0) never shares with an overlapping owner, even RP */
	H_RC(&e, h_bind(&e, b, "127.0.0.1:0"), -EADDRINUSE);
	H_NAME(&e, b, "0.0.0.0:0");

	st_sock *c = h_tcp4(&e);
	h_flags(&e, c, H_RA);
	H_RC(&e, h_bind(&e, c, "127.0.0.2:0"), 0);
	H_NAME(&e, c, "127.0.0.2:40000");
	st_sock *d = h_tcp4(&e);
	h_flags(&e, d, H_RA);
	H_RC(&e, h_bind(&e, d, "127.0.0.3:0"), 0);
	H_NAME(&e, d, "127.0.0.3:40000");
	st_sock *f = h_tcp4(&e);
	H_RC(&e, h_bind(&e, f, "127.0.0.4:0"), 0);
	H_NAME(&e, f, "127.0.0.4:40000");
	h_env_done(&e);
}

static void test_x9_tcp_one_port_range(void **st)
{
	(void)st;
	x9_tcp(false);
}

static void test_x9_tcp_one_port_range_autobind_reuse(void **st)
{
	(void)st;
	x9_tcp(true);
}

/* ------------------------------------------------------------------ */
/* X11: connect() port exhaustion, range 40000                            */
/* ------------------------------------------------------------------ */

static void test_x11_connect_exhaustion(void **st)
{
	h_env e;
	(void)st;
	h_env_init(&e, 16, "X11 TCP connect exhaustion, range 40000");
	h_sysctl(&e, "net.ipv4.ip_local_port_range", "40000 40000");
	listener(&e, "127.0.0.1:8080");
	listener(&e, "127.0.0.1:8081");
	listener(&e, "127.0.0.1:8082");

	h_ctx(&e, "X11 c1 -> 127.0.0.1:8080");
	st_sock *c1 = h_tcp4(&e);
	H_RC(&e, h_connect(&e, c1, "127.0.0.1:8080"), 0);
	H_NAME(&e, c1, "127.0.0.1:40000");

	h_ctx(&e, "X11 c2 -> same destination (4-tuple taken)");
	st_sock *c2 = h_tcp4(&e);
	H_RC(&e, h_connect(&e, c2, "127.0.0.1:8080"), -EADDRNOTAVAIL);
	H_NAME(&e, c2, "0.0.0.0:0");
	H_ASSERT(&e, c2->state == ST_CLOSE, "c2 state %d after the failed connect, expected "
		 "CLOSE", (int)c2->state);

	h_ctx(&e, "X11 c3 -> another destination shares port 40000");
	st_sock *c3 = h_tcp4(&e);
	H_RC(&e, h_connect(&e, c3, "127.0.0.1:8081"), 0);
	H_NAME(&e, c3, "127.0.0.1:40000");

	h_ctx(&e, "X11 bind(0) and listen() autobind while 40000 is held by connects");
	st_sock *b0 = h_tcp4(&e);
	H_RC(&e, h_bind(&e, b0, "0.0.0.0:0"), -EADDRINUSE);
	st_sock *l0 = h_tcp4(&e);
	H_RC(&e, h_listen(&e, l0), -EADDRINUSE);
	H_NAME(&e, l0, "0.0.0.0:0");

	h_ctx(&e, "X11 IP_BIND_ADDRESS_NO_PORT socket on 127.0.0.2");
	st_sock *np = h_tcp4(&e);
	H_RC(&e, h_setopt(&e, np, ST_IP_BIND_ADDRESS_NO_PORT, 1), 0);
	H_RC(&e, h_bind(&e, np, "127.0.0.2:0"), 0);
	H_NAME(&e, np, "127.0.0.2:0");
	H_RC(&e, h_connect(&e, np, "127.0.0.1:8080"), 0);
	H_NAME(&e, np, "127.0.0.2:40000");

	h_ctx(&e, "X11 an explicit RA bind of 127.0.0.3:40000 hides the port from connect");
	st_sock *binder = h_tcp4(&e);
	h_flags(&e, binder, H_RA);
	H_RC(&e, h_bind(&e, binder, "127.0.0.3:40000"), 0);
	st_sock *c4 = h_tcp4(&e);
	H_RC(&e, h_connect(&e, c4, "127.0.0.1:8082"), -EADDRNOTAVAIL);
	H_NAME(&e, c4, "0.0.0.0:0");

	h_ctx(&e, "X11/P-T11 after closing the binder connect can use 40000 again");
	h_close(&e, binder);
	st_sock *c5 = h_tcp4(&e);
	H_RC(&e, h_connect(&e, c5, "127.0.0.1:8082"), 0);
	H_NAME(&e, c5, "127.0.0.1:40000");
	h_env_done(&e);
}

static void test_x11_udp_autobind_eagain(void **st)
{
	h_env e;
	(void)st;
	h_env_init(&e, 4, "X11/P-U3 UDP connect autobind with the only port busy");
	h_sysctl(&e, "net.ipv4.ip_local_port_range", "40000 40000");
	st_sock *a = h_udp4(&e);
	H_RC(&e, h_bind(&e, a, "0.0.0.0:0"), 0);
	H_NAME(&e, a, "0.0.0.0:40000");
	st_sock *b = h_udp4(&e);
	H_RC(&e, h_connect(&e, b, "127.0.0.1:9999"), -EAGAIN);
	H_NAME(&e, b, "0.0.0.0:0");
	H_ASSERT(&e, b->state == ST_CLOSE, "UDP socket state %d after the failed connect, "
		 "expected CLOSE", (int)b->state);
	st_sock *c = h_udp4(&e);
	H_RC(&e, h_bind(&e, c, "0.0.0.0:0"), -EADDRINUSE);
	h_env_done(&e);
}

/* ------------------------------------------------------------------ */
/* X23: reserved ports are skipped by automatic selection                 */
/* ------------------------------------------------------------------ */

static void test_x23_reserved_port0(void **st)
{
	h_env e;
	(void)st;
	h_env_init(&e, 32, "X23 range 40000-40001, reserved 40000");
	h_sysctl(&e, "net.ipv4.ip_local_port_range", "40000 40001");
	h_sysctl(&e, "net.ipv4.ip_local_reserved_ports", "40000");

	for (int i = 0; i < 10; i++) {
		h_ctx(&e, "X23 TCP bind(0) #%d (closed again)", i + 1);
		st_sock *s = h_tcp4(&e);
		H_RC(&e, h_bind(&e, s, "0.0.0.0:0"), 0);
		H_PORT(&e, s, 40001);
		h_close(&e, s);
	}
	for (int i = 0; i < 10; i++) {
		h_ctx(&e, "X23 UDP bind(0) #%d (closed again)", i + 1);
		st_sock *s = h_udp4(&e);
		H_RC(&e, h_bind(&e, s, "0.0.0.0:0"), 0);
		H_PORT(&e, s, 40001);
		h_close(&e, s);
	}

	h_ctx(&e, "X23 explicit bind of the reserved port, then bind(0)");
	st_sock *r = h_tcp4(&e);
	H_RC(&e, h_bind(&e, r, "0.0.0.0:40000"), 0);
	st_sock *t1 = h_tcp4(&e);
	H_RC(&e, h_bind(&e, t1, "0.0.0.0:0"), 0);
	H_PORT(&e, t1, 40001);
	st_sock *t2 = h_tcp4(&e);
	H_RC(&e, h_bind(&e, t2, "0.0.0.0:0"), -EADDRINUSE);

	h_ctx(&e, "X23/P-U3 UDP bind(0) with 40001 taken");
	st_sock *u1 = h_udp4(&e);
	H_RC(&e, h_bind(&e, u1, "0.0.0.0:40001"), 0);
	st_sock *u2 = h_udp4(&e);
	H_RC(&e, h_bind(&e, u2, "0.0.0.0:0"), -EADDRINUSE);
	h_env_done(&e);
}

static void test_x23_reserved_connect(void **st)
{
	h_env e;
	(void)st;
	h_env_init(&e, 4, "P-T10 connect skips reserved ports (range 40000-40001, reserved 40000)");
	h_sysctl(&e, "net.ipv4.ip_local_port_range", "40000 40001");
	h_sysctl(&e, "net.ipv4.ip_local_reserved_ports", "40000");
	listener(&e, "127.0.0.1:8080");
	st_sock *a = h_tcp4(&e);
	H_RC(&e, h_connect(&e, a, "127.0.0.1:8080"), 0);
	H_NAME(&e, a, "127.0.0.1:40001");
	st_sock *b = h_tcp4(&e);
	H_RC(&e, h_connect(&e, b, "127.0.0.1:8080"), -EADDRNOTAVAIL);
	H_NAME(&e, b, "0.0.0.0:0");
	h_env_done(&e);
}

/* ------------------------------------------------------------------ */

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_x10_tcp_bind0_default_odd),
		cmocka_unit_test(test_x10_tcp_bind0_ra_lower_half),
		cmocka_unit_test(test_x10_tcp_bind0_v6_odd),
		cmocka_unit_test(test_x10_listen_autobind_odd),
		cmocka_unit_test(test_x10_range_32769_61000),
		cmocka_unit_test(test_x10_ip_local_port_range_option),
		cmocka_unit_test(test_x10_tcp_bind0_three_port_range),
		cmocka_unit_test(test_x10_listen_autobind_three_port_range),
		cmocka_unit_test(test_x10_udp_bind0_three_port_range),
		cmocka_unit_test(test_x10_tcp_connect_three_port_range),
		cmocka_unit_test(test_x10_tcp_connect_default_even),
		cmocka_unit_test(test_pt9_connect_port_deltas),
		cmocka_unit_test(test_pu1_udp_bind0_default),
		cmocka_unit_test(test_x9_tcp_one_port_range),
		cmocka_unit_test(test_x9_tcp_one_port_range_autobind_reuse),
		cmocka_unit_test(test_x11_connect_exhaustion),
		cmocka_unit_test(test_x11_udp_autobind_eagain),
		cmocka_unit_test(test_x23_reserved_port0),
		cmocka_unit_test(test_x23_reserved_connect),
	};
	return cmocka_run_group_tests_name("port0", tests, NULL, NULL);
}
