/*
 * test_timewait.c - TIME_WAIT (linux-semantics.md section 9, T-1..T-4;
 * experiments X5, X6, X16, E9).
 *
 *   T-1/T-2  st_timewait keeps the 4-tuple and the port; records expire
 *            after exactly 60 s, oldest first;
 *   T-3      a TIME_WAIT owner blocks bind() with the flags of the socket
 *            it came from (accepted children inherit the listener's);
 *   T-4      connect() may take over a TIME_WAIT 4-tuple: at once from a
 *            socket that already has its port (with a peer timestamp),
 *            and from an automatic port only with tcp_tw_reuse 1, or 2 for
 *            loopback, after tcp_tw_reuse_delay (1000 ms, strictly later,
 *            in whole milliseconds).
 *
 * TIME_WAIT records here come from real connections: a listener, an
 * accepted child, a client; whichever closes first is put in TIME_WAIT.
 */
#include "helpers.h"

struct reclaimed {
	st_sock *tw[8];
	int n;
};

static void on_reclaim(st_sock *tw, void *ctx)
{
	struct reclaimed *r = ctx;
	if (r->n < 8)
		r->tw[r->n++] = tw;
}

/* h_env_init with ops that record reclaimed TIME_WAIT records. */
static void env_with_ops(h_env *e, int cap, const char *ctx, struct reclaimed *r)
{
	st_net_ops ops = {on_reclaim, r};
	h_env_init(e, cap, ctx);
	st_net_free(e->net);
	H_ASSERT(e, st_net_new(&e->net, 1, &ops) == 0, "st_net_new");
}

/* A client bound to `cep` (flags) connected to `lep`; returns the client
 * in ESTABLISHED. */
static st_sock *client(h_env *e, const char *cep, unsigned flags, const char *lep)
{
	st_sock *c = h_tcp4(e);
	h_flags(e, c, flags);
	if (cep)
		H_RC(e, h_bind(e, c, cep), 0);
	H_RC(e, h_connect(e, c, lep), 0);
	H_RC(e, h_set_state(e, c, ST_ESTABLISHED), 0);
	return c;
}

static void to_timewait(h_env *e, st_sock *s, bool ts)
{
	H_RC(e, h_set_state(e, s, ST_FIN_WAIT1), 0);
	H_RC(e, h_set_state(e, s, ST_FIN_WAIT2), 0);
	H_RC(e, h_timewait(e, s, ts), 0);
	H_ASSERT(e, s->state == ST_TIME_WAIT, "state %d", (int)s->state);
}

/* ------------------------------------------------------------------ */
/* T-1 / T-2                                                            */
/* ------------------------------------------------------------------ */

static void test_t2_expiry(void **st)
{
	h_env e;
	struct reclaimed r = {{NULL}, 0};
	st_sock *a, *b;
	(void)st;
	h_env_init(&e, 4, "T-2 TIME_WAIT lasts 60 s; expiry is oldest first");
	h_time_ms(&e, 1000);
	a = client(&e, "127.0.0.1:45000", H_NONE, "127.0.0.1:7500");
	to_timewait(&e, a, true);
	h_time_ms(&e, 5000);
	b = client(&e, "127.0.0.1:45001", H_NONE, "127.0.0.1:7500");
	to_timewait(&e, b, true);
	H_LOOKUP(&e, ST_TCP, "127.0.0.1:7500", "127.0.0.1:45000", a);
	H_ASSERT(&e, st_net_count(e.net) == 2, "both records hashed");
	h_time_ms(&e, 60999);
	H_ASSERT(&e, st_expire_timewait(e.net, on_reclaim, &r) == 0 && r.n == 0,
		 "nothing expires before 60 s");
	h_time_ms(&e, 61000);
	H_ASSERT(&e, st_expire_timewait(e.net, on_reclaim, &r) == 1 && r.tw[0] == a,
		 "at 60 s exactly the first record expires");
	h_check(&e);
	H_ASSERT(&e, !(a->flags & (ST_F_HASHED | ST_F_EHASHED)), "the expired record is unhashed");
	H_LOOKUP(&e, ST_TCP, "127.0.0.1:7500", "127.0.0.1:45000", NULL);
	e.live[h_idx(&e, a)] = 0;
	h_time_ms(&e, 70000);
	H_ASSERT(&e, st_expire_timewait(e.net, NULL, NULL) == 1, "then the second");
	e.live[h_idx(&e, b)] = 0;
	H_ASSERT(&e, st_net_count(e.net) == 0, "nothing left");
	h_env_done(&e);
}

static void test_t1_timewait_keeps_port_and_tuple(void **st)
{
	h_env e;
	st_sock *l, *child, *c, *x;
	(void)st;
	h_env_init(&e, 6, "T-1/T-3 server-side active close: TIME_WAIT holds the port");
	l = h_tcp4(&e);
	H_RC(&e, h_bind(&e, l, "127.0.0.1:7500"), 0);
	H_RC(&e, h_listen(&e, l), 0);
	c = client(&e, NULL, H_NONE, "127.0.0.1:7500");
	char cl[64];
	snprintf(cl, sizeof cl, "127.0.0.1:%u", c->lport);
	H_RC(&e, h_accept(&e, l, "127.0.0.1:7500", cl, ST_ESTABLISHED, &child), 0);
	to_timewait(&e, child, true);
	H_ASSERT(&e, child->lport == 7500, "the TIME_WAIT keeps port 7500");
	H_LOOKUP(&e, ST_TCP, cl, "127.0.0.1:7500", child);
	h_close(&e, c);
	h_close(&e, l);
	/* X6: the listener had no SO_REUSEADDR, so neither has the record. */
	x = h_tcp4(&e);
	h_flags(&e, x, H_RA);
	H_RC(&e, h_bind(&e, x, "127.0.0.1:7500"), -EADDRINUSE);
	H_ASSERT(&e, e.ex.conflict == child && e.ex.rule == ST_RULE_TCP_TIMEWAIT,
		 "explain: conflict %s rule %d (%s)", h_who(&e, e.ex.conflict), (int)e.ex.rule,
		 st_rule_name(e.ex.rule));
	H_RC(&e, h_bind(&e, x, "0.0.0.0:7500"), -EADDRINUSE);
	H_RC(&e, h_bind(&e, x, "127.0.0.2:7500"), 0);
	h_env_done(&e);
}

/* X6, listener with RA: its children inherit RA, an RA bind passes. */
static void test_t3_inherited_reuseaddr(void **st)
{
	h_env e;
	st_sock *l, *child, *x, *y;
	(void)st;
	h_env_init(&e, 6, "T-3/X6 a listener with SO_REUSEADDR: RA binds pass its TIME_WAIT");
	l = h_tcp4(&e);
	h_flags(&e, l, H_RA);
	H_RC(&e, h_bind(&e, l, "127.0.0.1:7501"), 0);
	H_RC(&e, h_listen(&e, l), 0);
	H_RC(&e, h_accept(&e, l, "127.0.0.1:7501", "127.0.0.1:50000", ST_ESTABLISHED, &child), 0);
	H_OPT(&e, child, ST_SO_REUSEADDR, 1);
	to_timewait(&e, child, true);
	h_close(&e, l);
	x = h_tcp4(&e);
	H_RC(&e, h_bind(&e, x, "127.0.0.1:7501"), -EADDRINUSE);
	h_flags(&e, x, H_RA);
	H_RC(&e, h_bind(&e, x, "127.0.0.1:7501"), 0);
	y = h_tcp4(&e);
	h_flags(&e, y, H_RA);
	H_RC(&e, h_bind(&e, y, "0.0.0.0:7501"), 0);
	/* The restarted server can listen again (X6: the point of RA). */
	h_close(&e, y);
	H_RC(&e, h_listen(&e, x), 0);
	h_env_done(&e);
}

/* X5: a TIME_WAIT with SO_REUSEPORT lets another uid's RP socket bind. */
static void test_t3_reuseport_timewait_uid(void **st)
{
	h_env e;
	st_sock *c, *x;
	(void)st;
	h_env_init(&e, 4, "T-3/X5 TIME_WAIT owners are exempt from the RP uid test");
	c = client(&e, "127.0.0.1:45002", H_RP, "127.0.0.1:7500");
	to_timewait(&e, c, true);
	x = h_sock(&e, ST_TCP, ST_AF_INET, H_UID + 1);
	h_flags(&e, x, H_RP);
	H_RC(&e, h_bind(&e, x, "127.0.0.1:45002"), 0);
	H_RC(&e, h_listen(&e, x), 0);
	h_env_done(&e);
}

/* ------------------------------------------------------------------ */
/* T-4: take-over by connect                                             */
/* ------------------------------------------------------------------ */

/* X16/E9: a socket that bound the TW's port with RA (the TW's socket had
 * RA too) connects to the same peer: immediate take-over with any
 * tcp_tw_reuse, refused without a peer timestamp. */
static void explicit_takeover(const char *reuse, bool ts, int want)
{
	h_env e;
	struct reclaimed r = {{NULL}, 0};
	st_sock *c, *n;
	env_with_ops(&e, 4, "T-4/X16 explicit port", &r);
	h_ctx(&e, "T-4/X16 explicit bind + connect over a TIME_WAIT, tw_reuse %s, timestamp %s",
	      reuse, ts ? "yes" : "no");
	h_sysctl(&e, "net.ipv4.tcp_tw_reuse", reuse);
	h_time_ms(&e, 10000);
	c = client(&e, "127.0.0.1:45000", H_RA, "127.0.0.1:7500");
	to_timewait(&e, c, ts);
	n = h_tcp4(&e);
	h_flags(&e, n, H_RA);
	H_RC(&e, h_bind(&e, n, "127.0.0.1:45000"), 0);
	H_RC(&e, h_connect(&e, n, "127.0.0.1:7500"), want);
	if (want == 0) {
		H_ASSERT(&e, r.n == 1 && r.tw[0] == c, "the TIME_WAIT record was handed back");
		e.live[h_idx(&e, c)] = 0;
		H_LOOKUP(&e, ST_TCP, "127.0.0.1:7500", "127.0.0.1:45000", n);
	} else {
		H_ASSERT(&e, r.n == 0 && e.ex.rule == ST_RULE_TIMEWAIT_NOT_REUSABLE &&
			 e.ex.conflict == c, "explain: rule %d conflict %s", (int)e.ex.rule,
			 h_who(&e, e.ex.conflict));
		H_LOOKUP(&e, ST_TCP, "127.0.0.1:7500", "127.0.0.1:45000", c);
	}
	h_env_done(&e);
}

static void test_t4_explicit_port(void **st)
{
	(void)st;
	explicit_takeover("0", true, 0);
	explicit_takeover("1", true, 0);
	explicit_takeover("2", true, 0);
	explicit_takeover("2", false, -EADDRNOTAVAIL);
}

/* tcp_timestamps=0: no peer timestamp is recorded, whatever the peer. */
static void test_t4_timestamps_off(void **st)
{
	h_env e;
	st_sock *c, *n;
	(void)st;
	h_env_init(&e, 4, "T-4/X16 net.ipv4.tcp_timestamps=0: never reusable");
	h_sysctl(&e, "net.ipv4.tcp_timestamps", "0");
	c = client(&e, "127.0.0.1:45000", H_RA, "127.0.0.1:7500");
	to_timewait(&e, c, true);
	n = h_tcp4(&e);
	h_flags(&e, n, H_RA);
	H_RC(&e, h_bind(&e, n, "127.0.0.1:45000"), 0);
	H_RC(&e, h_connect(&e, n, "127.0.0.1:7500"), -EADDRNOTAVAIL);
	h_env_done(&e);
}

/* X16, automatic port (range 45000-45000): attempts at +0, +300 ms and
 * +1200 ms after the TIME_WAIT began. */
static void automatic_takeover(const char *reuse, const char *delay, const int want[3])
{
	static const unsigned at[3] = {0, 300, 1200};
	h_env e;
	struct reclaimed r = {{NULL}, 0};
	st_sock *c;
	env_with_ops(&e, 8, "T-4/X16 automatic port", &r);
	h_ctx(&e, "T-4/X16 automatic port over a loopback TIME_WAIT, tw_reuse %s, delay %s ms",
	      reuse, delay);
	h_sysctl(&e, "net.ipv4.ip_local_port_range", "45000 45000");
	h_sysctl(&e, "net.ipv4.tcp_tw_reuse", reuse);
	h_sysctl(&e, "net.ipv4.tcp_tw_reuse_delay", delay);
	h_time_ms(&e, 10000);
	c = client(&e, NULL, H_NONE, "127.0.0.1:7500");
	H_PORT(&e, c, 45000);
	to_timewait(&e, c, true);
	for (int i = 0; i < 3; i++) {
		st_sock *n = h_tcp4(&e);
		h_time_ms(&e, 10000 + at[i]);
		H_RC(&e, h_connect(&e, n, "127.0.0.1:7500"), want[i]);
		if (want[i] == 0) {
			H_PORT(&e, n, 45000);
			H_ASSERT(&e, r.n == 1 && r.tw[0] == c, "the TIME_WAIT was taken over");
			e.live[h_idx(&e, c)] = 0;
			break;
		}
		H_NAME(&e, n, "0.0.0.0:0");
	}
	h_env_done(&e);
}

static void test_t4_automatic_port(void **st)
{
	static const int never[3] = {-EADDRNOTAVAIL, -EADDRNOTAVAIL, -EADDRNOTAVAIL};
	static const int after_1s[3] = {-EADDRNOTAVAIL, -EADDRNOTAVAIL, 0};
	static const int after_100ms[3] = {-EADDRNOTAVAIL, 0, 0};
	(void)st;
	automatic_takeover("0", "1000", never);
	automatic_takeover("1", "1000", after_1s);
	automatic_takeover("2", "1000", after_1s);
	automatic_takeover("2", "100", after_100ms);
}

/* The delay is strict and counted in whole milliseconds (time_after32 on
 * tcp_clock_ms values). */
static void test_t4_delay_boundary(void **st)
{
	h_env e;
	st_sock *c, *n;
	(void)st;
	h_env_init(&e, 8, "T-4 tw_reuse_delay boundary: > 1000 whole ms");
	h_sysctl(&e, "net.ipv4.ip_local_port_range", "45000 45000");
	st_net_set_time(e.net, 10000500000ull); /* 10000.5 ms */
	c = client(&e, NULL, H_NONE, "127.0.0.1:7500");
	to_timewait(&e, c, true);
	n = h_tcp4(&e);
	st_net_set_time(e.net, 11000000000ull); /* 11000 ms: not after */
	H_RC(&e, h_connect(&e, n, "127.0.0.1:7500"), -EADDRNOTAVAIL);
	st_net_set_time(e.net, 11000900000ull); /* 11000.9 ms: still 11000 */
	H_RC(&e, h_connect(&e, n, "127.0.0.1:7500"), -EADDRNOTAVAIL);
	st_net_set_time(e.net, 11001000000ull); /* 11001 ms */
	H_RC(&e, h_connect(&e, n, "127.0.0.1:7500"), 0);
	e.live[h_idx(&e, c)] = 0;
	h_env_done(&e);
}

/* tcp_tw_reuse=2 is for loopback TIME_WAITs only. */
static void nonloopback(const char *reuse, int want)
{
	h_env e;
	st_sock *c, *n;
	int d0;
	h_env_init(&e, 4, "T-4 tw_reuse on a non-loopback TIME_WAIT");
	h_ctx(&e, "T-4 non-loopback TIME_WAIT 10.0.0.1:45000 -> 10.0.0.2:7500, tw_reuse %s", reuse);
	d0 = h_device(&e, "d0", "10.0.0.1", 24, NULL, 0);
	(void)d0;
	h_sysctl(&e, "net.ipv4.ip_local_port_range", "45000 45000");
	h_sysctl(&e, "net.ipv4.tcp_tw_reuse", reuse);
	h_time_ms(&e, 10000);
	c = client(&e, NULL, H_NONE, "10.0.0.2:7500");
	H_NAME(&e, c, "10.0.0.1:45000");
	to_timewait(&e, c, true);
	h_time_ms(&e, 20000);
	n = h_tcp4(&e);
	H_RC(&e, h_connect(&e, n, "10.0.0.2:7500"), want);
	if (want == 0)
		e.live[h_idx(&e, c)] = 0;
	h_env_done(&e);
}

static void test_t4_loopback_only(void **st)
{
	(void)st;
	nonloopback("2", -EADDRNOTAVAIL);
	nonloopback("1", 0);
}

/* The explicit path does not care about tcp_tw_reuse, but the bind
 * before it must pass B-T7: a TIME_WAIT whose socket lacked RA blocks it. */
static void test_t4_bind_must_pass_first(void **st)
{
	h_env e;
	st_sock *c, *n;
	(void)st;
	h_env_init(&e, 4, "T-4/E9a the TIME_WAIT's socket lacked RA: the new RA bind fails");
	c = client(&e, "127.0.0.1:45000", H_NONE, "127.0.0.1:7500");
	to_timewait(&e, c, true);
	n = h_tcp4(&e);
	h_flags(&e, n, H_RA);
	H_RC(&e, h_bind(&e, n, "127.0.0.1:45000"), -EADDRINUSE);
	h_flags(&e, n, H_RP);
	H_RC(&e, h_bind(&e, n, "127.0.0.1:45000"), -EADDRINUSE);
	h_env_done(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_t2_expiry),
		cmocka_unit_test(test_t1_timewait_keeps_port_and_tuple),
		cmocka_unit_test(test_t3_inherited_reuseaddr),
		cmocka_unit_test(test_t3_reuseport_timewait_uid),
		cmocka_unit_test(test_t4_explicit_port),
		cmocka_unit_test(test_t4_timestamps_off),
		cmocka_unit_test(test_t4_automatic_port),
		cmocka_unit_test(test_t4_delay_boundary),
		cmocka_unit_test(test_t4_loopback_only),
		cmocka_unit_test(test_t4_bind_must_pass_first),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
