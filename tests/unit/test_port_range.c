/*
 * test_port_range.c - IP_LOCAL_PORT_RANGE, the per-socket ephemeral range
 * (linux-semantics.md P-5, P-T12; kernel experiment E13 on 6.18 with the
 * netns range 20000-30000, and the selftest ip_local_port_range).
 *
 * The option value is hi << 16 | lo.  Each bound that lies inside the
 * netns range replaces that bound (the lower one first, then the upper
 * one against the new lower); a bound outside is ignored; 0 is "unset";
 * lo > hi (both set) is EINVAL and leaves the old value.  TCP bind(0)
 * keeps its odd-first parity and even rounding inside the socket range;
 * TCP connect() with the option set at all -- even when both bounds were
 * ignored -- steps by one port and does not round (E13n).  UDP bind(0)
 * uses every port of the range.
 */
#include "helpers.h"

#define RANGE(lo, hi) (((uint32_t)(hi) << 16) | (uint32_t)(lo))

static void netns_range(h_env *e)
{
	h_sysctl(e, "net.ipv4.ip_local_port_range", "20000 30000");
}

/* n sockets bind(127.0.0.1:0) with the option; ports[i] = port or 0 for
 * a refusal, whose errno must be EADDRINUSE. */
static void bind0(h_env *e, int proto, uint32_t opt, int n, unsigned *ports)
{
	for (int i = 0; i < n; i++) {
		st_sock *s = h_sock(e, proto, ST_AF_INET, H_UID);
		H_RC(e, h_setopt(e, s, ST_IP_LOCAL_PORT_RANGE, opt), 0);
		int rc = h_bind(e, s, "127.0.0.1:0");
		H_ASSERT(e, rc == 0 || rc == -EADDRINUSE, "bind #%d: %s", i, h_rc(rc));
		ports[i] = rc == 0 ? s->lport : 0;
	}
}

/* n unbound TCP sockets connect to 127.0.0.1:8080 with the option. */
static void connect_n(h_env *e, uint32_t opt, int n, unsigned *ports)
{
	for (int i = 0; i < n; i++) {
		st_sock *s = h_tcp4(e);
		if (opt)
			H_RC(e, h_setopt(e, s, ST_IP_LOCAL_PORT_RANGE, opt), 0);
		int rc = h_connect(e, s, "127.0.0.1:8080");
		H_ASSERT(e, rc == 0 || rc == -EADDRNOTAVAIL, "connect #%d: %s", i, h_rc(rc));
		ports[i] = rc == 0 ? s->lport : 0;
	}
}

static const char *ports_str(const unsigned *p, int n)
{
	static char b[1024];
	size_t used = 0;
	for (int i = 0; i < n && used < sizeof b - 16; i++)
		used += (size_t)snprintf(b + used, sizeof b - used, "%s%u", i ? "," : "", p[i]);
	return b;
}

/* ------------------------------------------------------------------ */
/* The option itself                                                     */
/* ------------------------------------------------------------------ */

static void test_option_values(void **st)
{
	h_env e;
	st_sock *s, *s6, *u, *b;
	(void)st;
	h_env_init(&e, 6, "E13a IP_LOCAL_PORT_RANGE values");
	s = h_tcp4(&e);
	H_OPT(&e, s, ST_IP_LOCAL_PORT_RANGE, 0);
	H_RC(&e, h_setopt(&e, s, ST_IP_LOCAL_PORT_RANGE, RANGE(25000, 25009)), 0);
	H_OPT(&e, s, ST_IP_LOCAL_PORT_RANGE, RANGE(25000, 25009));
	H_ASSERT(&e, RANGE(25000, 25009) == 1639014824u, "the value E13a read back");
	H_RC(&e, h_setopt(&e, s, ST_IP_LOCAL_PORT_RANGE, RANGE(25009, 25000)), -EINVAL);
	H_OPT(&e, s, ST_IP_LOCAL_PORT_RANGE, RANGE(25000, 25009));
	H_RC(&e, h_setopt(&e, s, ST_IP_LOCAL_PORT_RANGE, RANGE(25000, 0)), 0);
	H_OPT(&e, s, ST_IP_LOCAL_PORT_RANGE, 25000);
	H_RC(&e, h_setopt(&e, s, ST_IP_LOCAL_PORT_RANGE, RANGE(0, 25000)), 0);
	H_RC(&e, h_setopt(&e, s, ST_IP_LOCAL_PORT_RANGE, RANGE(1000, 2000)), 0);
	H_OPT(&e, s, ST_IP_LOCAL_PORT_RANGE, 131073000u);
	H_RC(&e, h_setopt(&e, s, ST_IP_LOCAL_PORT_RANGE, 0), 0);
	H_OPT(&e, s, ST_IP_LOCAL_PORT_RANGE, 0);
	s6 = h_tcp6(&e);
	H_RC(&e, h_setopt(&e, s6, ST_IP_LOCAL_PORT_RANGE, RANGE(25000, 25009)), 0);
	H_OPT(&e, s6, ST_IP_LOCAL_PORT_RANGE, RANGE(25000, 25009));
	u = h_udp4(&e);
	H_RC(&e, h_setopt(&e, u, ST_IP_LOCAL_PORT_RANGE, RANGE(25000, 25009)), 0);
	/* Allowed on a bound socket; its port does not move. */
	b = h_tcp4(&e);
	H_RC(&e, h_bind(&e, b, "127.0.0.1:0"), 0);
	uint16_t p = b->lport;
	H_RC(&e, h_setopt(&e, b, ST_IP_LOCAL_PORT_RANGE, RANGE(25000, 25009)), 0);
	H_ASSERT(&e, b->lport == p, "the bound port stays");
	h_env_done(&e);
}

/* ------------------------------------------------------------------ */
/* TCP bind(0)                                                           */
/* ------------------------------------------------------------------ */

/* E13b: ten ports: five odd first (random order), then the five even;
 * the eleventh: EADDRINUSE. */
static void test_e13b_ten_ports(void **st)
{
	h_env e;
	unsigned p[11];
	(void)st;
	h_env_init(&e, 12, "E13b range 25000-25009: TCP bind(0) x11");
	netns_range(&e);
	bind0(&e, ST_TCP, RANGE(25000, 25009), 11, p);
	bool seen[10] = {false};
	for (int i = 0; i < 10; i++) {
		H_ASSERT(&e, p[i] >= 25000 && p[i] <= 25009 && !seen[p[i] - 25000], "bind #%d: %u (%s)",
			 i, p[i], ports_str(p, 11));
		seen[p[i] - 25000] = true;
		H_ASSERT(&e, (p[i] & 1) == (i < 5), "bind #%d got %u: odd ports first (%s)", i, p[i],
			 ports_str(p, 11));
	}
	H_ASSERT(&e, p[10] == 0, "the 11th bind must fail (%s)", ports_str(p, 11));
	h_env_done(&e);
}

/* E13c: three ports, rounded down to two for TCP: 25001, 25000, then
 * EADDRINUSE. E13e: one port. */
static void test_e13c_e13e_small_ranges(void **st)
{
	h_env e;
	unsigned p[4];
	(void)st;
	h_env_init(&e, 8, "E13c range 25000-25002: TCP bind(0): 25001, 25000, EADDRINUSE");
	netns_range(&e);
	bind0(&e, ST_TCP, RANGE(25000, 25002), 4, p);
	H_ASSERT(&e, p[0] == 25001 && p[1] == 25000 && p[2] == 0 && p[3] == 0, "got %s",
		 ports_str(p, 4));
	h_ctx(&e, "E13e range 25000-25000: one port");
	bind0(&e, ST_TCP, RANGE(26000, 26000), 2, p);
	H_ASSERT(&e, p[0] == 26000 && p[1] == 0, "got %s", ports_str(p, 2));
	h_env_done(&e);
}

/* E13f-h: one bound outside the netns range is ignored. */
static void test_e13fgh_half_ranges(void **st)
{
	static const struct {
		uint32_t opt;
		unsigned lo, hi;
		int n;
	} cases[] = {
		{RANGE(29995, 0), 29995, 30000, 6},     /* E13f */
		{RANGE(0, 20003), 20000, 20003, 4},     /* E13g */
		{RANGE(10000, 20003), 20000, 20003, 4}, /* E13h */
	};
	(void)st;
	for (size_t c = 0; c < 3; c++) {
		h_env e;
		unsigned p[8];
		h_env_init(&e, 10, "E13f-h");
		h_ctx(&e, "E13f-h option %u-%u: every port of [%u, %u], then EADDRINUSE",
		      cases[c].opt & 0xffff, cases[c].opt >> 16, cases[c].lo, cases[c].hi);
		netns_range(&e);
		bind0(&e, ST_TCP, cases[c].opt, cases[c].n + 1, p);
		unsigned mask = 0;
		for (int i = 0; i < cases[c].n; i++) {
			H_ASSERT(&e, p[i] >= cases[c].lo && p[i] <= cases[c].hi, "got %s",
				 ports_str(p, cases[c].n + 1));
			mask |= 1u << (p[i] - cases[c].lo);
		}
		H_ASSERT(&e, mask == (1u << cases[c].n) - 1 && p[cases[c].n] == 0,
			 "got %s", ports_str(p, cases[c].n + 1));
		h_env_done(&e);
	}
}

/* E13j: both bounds outside: the netns range, odd ports first. */
static void test_e13j_outside_ignored_for_bind(void **st)
{
	h_env e;
	unsigned p[40];
	(void)st;
	h_env_init(&e, 41, "E13j option 1000-2000 (outside 20000-30000): bind(0) odd, in range");
	netns_range(&e);
	bind0(&e, ST_TCP, RANGE(1000, 2000), 40, p);
	for (int i = 0; i < 40; i++)
		H_ASSERT(&e, p[i] >= 20000 && p[i] <= 30000 && (p[i] & 1), "bind #%d: %u", i, p[i]);
	h_env_done(&e);
}

/* E13d: UDP uses every port, the highest included. */
static void test_e13d_udp(void **st)
{
	h_env e;
	unsigned p[4];
	(void)st;
	h_env_init(&e, 6, "E13d range 25000-25002: UDP bind(0) gets all three");
	netns_range(&e);
	bind0(&e, ST_UDP, RANGE(25000, 25002), 4, p);
	unsigned mask = 0;
	for (int i = 0; i < 3; i++) {
		H_ASSERT(&e, p[i] >= 25000 && p[i] <= 25002, "got %s", ports_str(p, 4));
		mask |= 1u << (p[i] - 25000);
	}
	H_ASSERT(&e, mask == 7 && p[3] == 0, "got %s", ports_str(p, 4));
	/* UDP connect autobinds inside the option's range too. */
	st_sock *u = h_udp4(&e);
	H_RC(&e, h_setopt(&e, u, ST_IP_LOCAL_PORT_RANGE, RANGE(26000, 26000)), 0);
	H_RC(&e, h_connect(&e, u, "127.0.0.1:9"), 0);
	H_PORT(&e, u, 26000);
	h_env_done(&e);
}

/* ------------------------------------------------------------------ */
/* TCP connect                                                           */
/* ------------------------------------------------------------------ */

/* E13k/l/p: no rounding with the option: every port, the highest too. */
static void test_e13klp_connect_every_port(void **st)
{
	static const struct {
		uint32_t opt;
		unsigned lo, hi;
	} cases[] = {
		{RANGE(25000, 25002), 25000, 25002}, /* E13k */
		{RANGE(25000, 25003), 25000, 25003}, /* E13l */
		{RANGE(29990, 40000), 29990, 30000}, /* E13p */
	};
	(void)st;
	for (size_t c = 0; c < 3; c++) {
		h_env e;
		unsigned p[16] = {0};
		int n = (int)(cases[c].hi - cases[c].lo + 1);
		h_env_init(&e, n + 3, "E13k/l/p");
		h_ctx(&e, "E13k/l/p connect with option %u-%u: all of [%u, %u], then EADDRNOTAVAIL",
		      cases[c].opt & 0xffff, cases[c].opt >> 16, cases[c].lo, cases[c].hi);
		netns_range(&e);
		connect_n(&e, cases[c].opt, n + 1, p);
		unsigned mask = 0;
		for (int i = 0; i < n; i++) {
			H_ASSERT(&e, p[i] >= cases[c].lo && p[i] <= cases[c].hi, "got %s",
				 ports_str(p, n + 1));
			mask |= 1u << (p[i] - cases[c].lo);
		}
		H_ASSERT(&e, mask == (1u << n) - 1 && p[n] == 0, "got %s", ports_str(p, n + 1));
		h_env_done(&e);
	}
}

/* E13m/n/o: parity of 100 connects: both with the option (inside or
 * ignored), only even without it. */
static void parity(uint32_t opt, unsigned lo, unsigned hi, bool both)
{
	h_env e;
	unsigned p[100];
	h_env_init(&e, 101, "E13m/n/o connect parity");
	h_ctx(&e, "E13m/n/o connect x100 with option %u-%u: %s", opt & 0xffff, opt >> 16,
	      both ? "both parities" : "even only");
	netns_range(&e);
	connect_n(&e, opt, 100, p);
	int odd = 0;
	for (int i = 0; i < 100; i++) {
		H_ASSERT(&e, p[i] >= lo && p[i] <= hi, "connect #%d: %u", i, p[i]);
		odd += p[i] & 1;
	}
	if (both)
		H_ASSERT(&e, odd > 20 && odd < 80, "%d odd of 100; expected both parities", odd);
	else
		H_ASSERT(&e, odd == 0, "%d odd of 100; expected none", odd);
	h_env_done(&e);
}

static void test_e13mno_connect_parity(void **st)
{
	(void)st;
	parity(RANGE(25000, 25999), 25000, 25999, true); /* E13m: 45 odd */
	parity(RANGE(1000, 2000), 20000, 30000, true);   /* E13n: 58 odd */
	parity(0, 20000, 30000, false);                  /* E13o: 0 odd */
}

/* E13q: IP_BIND_ADDRESS_NO_PORT + the option: connect picks from it. */
static void test_e13q_no_port(void **st)
{
	h_env e;
	(void)st;
	h_env_init(&e, 4, "E13q NO_PORT bind + option 25000-25009: connect inside");
	netns_range(&e);
	for (int i = 0; i < 3; i++) {
		st_sock *s = h_tcp4(&e);
		H_RC(&e, h_setopt(&e, s, ST_IP_LOCAL_PORT_RANGE, RANGE(25000, 25009)), 0);
		H_RC(&e, h_setopt(&e, s, ST_IP_BIND_ADDRESS_NO_PORT, 1), 0);
		H_RC(&e, h_bind(&e, s, "127.0.0.1:0"), 0);
		H_PORT(&e, s, 0);
		H_RC(&e, h_connect(&e, s, "127.0.0.1:8080"), 0);
		H_ASSERT(&e, s->lport >= 25000 && s->lport <= 25009, "port %u", s->lport);
	}
	h_env_done(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_option_values),
		cmocka_unit_test(test_e13b_ten_ports),
		cmocka_unit_test(test_e13c_e13e_small_ranges),
		cmocka_unit_test(test_e13fgh_half_ranges),
		cmocka_unit_test(test_e13j_outside_ignored_for_bind),
		cmocka_unit_test(test_e13d_udp),
		cmocka_unit_test(test_e13klp_connect_every_port),
		cmocka_unit_test(test_e13mno_connect_parity),
		cmocka_unit_test(test_e13q_no_port),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
