/*
 * test_fastpaths.c - the O(1) paths of the port tables give the answers of
 * the reference paths, operation by operation.
 *
 * The core decides bind, bind(0), listen and connect through counters,
 * port sets and bitmap summaries (ports.c, connect.c) so that no call
 * walks the owners of a port or the port range.  Each of those paths has
 * a reference twin that walks as the kernel does (owners one by one,
 * ports one by one); st_ports_reference selects the twins.  This test
 * drives two nets with the same seed through the same random operations
 * -- many sockets crowded onto a 400-port range, so that searches meet
 * held ports, build port sets and reach exhaustion -- one net on the fast
 * paths and one on the reference paths, and requires identical return
 * codes, identical ports and addresses, and st_net_check() == 0 on both
 * after every step.  A difference names the step and the operation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "socktab/socktab.h"
#include "net_internal.h"

enum { NSOCK = 1200, STEPS = 12000 };

typedef struct world {
	st_net *net;
	st_sock sk[NSOCK];
	bool live[NSOCK];
	int dev1;
} world;

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void world_init(world *w)
{
	memset(w, 0, sizeof(*w));
	assert_int_equal(st_net_new(&w->net, 7, NULL), 0);
	assert_int_equal(st_net_add_device(w->net, "eth1", &w->dev1), 0);
	st_addr a = st_addr_v4(0x0a000001);
	assert_int_equal(st_net_add_addr(w->net, w->dev1, &a, ST_AF_INET, 24), 0);
	int fam;
	assert_int_equal(st_addr_parse("2001:db8::1", &a, &fam), 0);
	assert_int_equal(st_net_add_addr(w->net, w->dev1, &a, ST_AF_INET6, 64), 0);
	/* A 400-port range: exhaustion within reach, and searches that meet
	 * more held ports than PSET_BUILD_AFTER, so port sets get built. */
	assert_int_equal(st_net_sysctl_set_text(w->net, "net.ipv4.ip_local_port_range",
						"40000 40399"), 0);
}

static const char *const addrs4[] = {"0.0.0.0", "127.0.0.1", "127.0.0.2", "10.0.0.1"};
static const char *const addrs6[] = {"::", "::1", "::ffff:127.0.0.1", "::ffff:0.0.0.0",
				     "2001:db8::1"};

typedef struct op {
	int kind;          /* 0 open+bind, 1 listen, 2 connect, 3 close, 4 flag, 5 timewait */
	int idx;
	int proto, family;
	uint32_t uid;
	unsigned flags;    /* 1 RA, 2 RP, 4 V6ONLY */
	int dev;           /* 0, lo or eth1 */
	const char *addr;
	uint16_t port;
	int dst;
} op;

static op make_op(uint64_t *s, const world *w)
{
	op o;
	memset(&o, 0, sizeof(o));
	uint64_t r = rnd(s);
	o.idx = (int)(rnd(s) % NSOCK);
	unsigned k = (unsigned)(r % 100);
	o.kind = k < 50 ? 0 : k < 62 ? 1 : k < 80 ? 2 : k < 92 ? 3 : k < 96 ? 4 : 5;
	o.proto = (r >> 8) % 4 == 0 ? ST_UDP : ST_TCP;
	o.family = (r >> 10) % 3 == 0 ? ST_AF_INET6 : ST_AF_INET;
	o.uid = 1000 + (uint32_t)((r >> 12) % 2);
	o.flags = (unsigned)((r >> 14) % 8);
	unsigned d = (unsigned)((r >> 17) % 10);
	o.dev = d == 0 ? ST_IFINDEX_LO : d == 1 ? w->dev1 : 0;
	if (o.family == ST_AF_INET)
		o.addr = addrs4[(r >> 21) % 4];
	else
		o.addr = addrs6[(r >> 21) % 5];
	/* Half bind(0); the rest explicit ports, inside the range or not. */
	unsigned pr = (unsigned)((r >> 24) % 100);
	o.port = pr < 50 ? 0 : (uint16_t)(pr < 80 ? 40000 + (r >> 32) % 400 : 5000 + (r >> 32) % 8);
	o.dst = (int)((r >> 40) % 3);
	return o;
}

static int apply(world *w, const op *o, char *what, size_t len)
{
	static const st_cred cred = {1000, 0};
	st_cred c = cred;
	st_sock *sk = &w->sk[o->idx];
	c.uid = o->uid;
	switch (o->kind) {
	case 0: {
		if (w->live[o->idx])
			st_close(w->net, sk);
		w->live[o->idx] = true;
		int rc = st_sock_init(w->net, sk, o->proto, o->family, o->uid);
		if (rc)
			return rc;
		if (o->flags & 1)
			st_setsockopt(w->net, sk, ST_SO_REUSEADDR, 1, &c);
		if (o->flags & 2)
			st_setsockopt(w->net, sk, ST_SO_REUSEPORT, 1, &c);
		if (o->family == ST_AF_INET6 && (o->flags & 4))
			st_setsockopt(w->net, sk, ST_IPV6_V6ONLY, 1, &c);
		if (o->dev)
			st_setsockopt(w->net, sk, ST_SO_BINDTODEVICE, (uint32_t)o->dev, &c);
		st_sockaddr sa;
		char ep[80];
		if (o->family == ST_AF_INET6)
			snprintf(ep, sizeof(ep), "[%s]:%u", o->addr, o->port);
		else
			snprintf(ep, sizeof(ep), "%s:%u", o->addr, o->port);
		assert_int_equal(st_sockaddr_parse(ep, &sa), 0);
		snprintf(what, len, "bind #%d %s/%s uid %u flags %u dev %d %s", o->idx,
			 o->proto == ST_TCP ? "tcp" : "udp", o->family == ST_AF_INET ? "inet" : "inet6",
			 o->uid, o->flags, o->dev, ep);
		return st_bind(w->net, sk, &sa,
			       o->family == ST_AF_INET ? ST_SOCKADDR_IN_LEN : ST_SOCKADDR_IN6_LEN, &c, NULL);
	}
	case 1:
		snprintf(what, len, "listen #%d", o->idx);
		return w->live[o->idx] ? st_listen(w->net, sk, &c, NULL) : 0;
	case 2: {
		static const char *const d4[] = {"127.0.0.9:80", "127.0.0.9:81", "10.0.0.2:80"};
		static const char *const d6[] = {"[::1]:80", "[::ffff:127.0.0.9]:80", "[2001:db8::2]:80"};
		if (!w->live[o->idx])
			return 0;
		st_sockaddr sa;
		const char *t = sk->family == ST_AF_INET ? d4[o->dst] : d6[o->dst];
		assert_int_equal(st_sockaddr_parse(t, &sa), 0);
		snprintf(what, len, "connect #%d to %s", o->idx, t);
		return st_connect(w->net, sk, &sa,
				  sk->family == ST_AF_INET ? ST_SOCKADDR_IN_LEN : ST_SOCKADDR_IN6_LEN, &c,
				  NULL);
	}
	case 3:
		snprintf(what, len, "close #%d", o->idx);
		if (w->live[o->idx])
			st_close(w->net, sk);
		w->live[o->idx] = false;
		return 0;
	case 4:
		snprintf(what, len, "setsockopt #%d flags %u", o->idx, o->flags);
		if (!w->live[o->idx])
			return 0;
		st_setsockopt(w->net, sk, ST_SO_REUSEADDR, o->flags & 1, &c);
		return st_setsockopt(w->net, sk, ST_SO_REUSEPORT, (o->flags >> 1) & 1, &c);
	default:
		snprintf(what, len, "timewait #%d", o->idx);
		if (!w->live[o->idx] || sk->proto != ST_TCP || sk->state == ST_TIME_WAIT ||
		    sk->state == ST_LISTEN || sk->state == ST_CLOSE)
			return 0;
		return st_timewait(w->net, sk, o->flags & 1);
	}
}

static void check_net(world *w, const char *which, int step, const char *what)
{
	char buf[200];
	if (st_net_check(w->net, buf, sizeof(buf)) != 0)
		fail_msg("step %d (%s), %s net: %s", step, what, which, buf);
}

static void run_both(uint64_t seed)
{
	world *fast = calloc(1, sizeof(world)), *ref = calloc(1, sizeof(world));
	assert_non_null(fast);
	assert_non_null(ref);
	world_init(fast);
	world_init(ref);
	uint64_t s = seed;
	char what[200], what2[200];
	unsigned built = 0;
	for (int step = 0; step < STEPS; step++) {
		op o = make_op(&s, fast);
		st_ports_reference = 0;
		int a = apply(fast, &o, what, sizeof(what));
		st_ports_reference = 1;
		int b = apply(ref, &o, what2, sizeof(what2));
		st_ports_reference = 0;
		if (a != b)
			fail_msg("seed %llu step %d (%s): fast path %d, reference %d",
				 (unsigned long long)seed, step, what, a, b);
		const st_sock *x = &fast->sk[o.idx], *y = &ref->sk[o.idx];
		if (x->lport != y->lport || x->rport != y->rport || x->state != y->state ||
		    !st_addr_equal(&x->laddr, &y->laddr) || x->flags != y->flags)
			fail_msg("seed %llu step %d (%s): fast path port %u state %u, reference port %u "
				 "state %u", (unsigned long long)seed, step, what, x->lport, x->state,
				 y->lport, y->state);
		check_net(fast, "fast", step, what);
		check_net(ref, "reference", step, what);
		if (fast->net->npsets)
			built++;
		/* Now and then let TIME_WAIT expire and start crowding again. */
		if (step % 5000 == 4999) {
			st_net_set_time(fast->net, (uint64_t)(step + 1) * 20000000000ull);
			st_net_set_time(ref->net, (uint64_t)(step + 1) * 20000000000ull);
			assert_int_equal(st_expire_timewait(fast->net, NULL, NULL),
					 st_expire_timewait(ref->net, NULL, NULL));
		}
	}
	/* The test is only worth its name if the fast paths were taken. */
	assert_true(built > 0);
	st_net_free(fast->net);
	st_net_free(ref->net);
	free(fast);
	free(ref);
}

static void test_same_answers_seed1(void **st)
{
	(void)st;
	run_both(0x9e3779b97f4a7c15ULL);
}

static void test_same_answers_seed2(void **st)
{
	(void)st;
	run_both(12345);
}

static void test_same_answers_seed3(void **st)
{
	(void)st;
	run_both(0xdeadbeefcafeULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_answers_seed1),
		cmocka_unit_test(test_same_answers_seed2),
		cmocka_unit_test(test_same_answers_seed3),
	};
	return cmocka_run_group_tests_name("fastpaths", tests, NULL, NULL);
}
