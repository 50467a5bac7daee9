/*
 * test_ehash_batch.c - the batched established lookup answers exactly what
 * the single lookup answers, on a table large enough for its pipeline.
 *
 * st_lookup_established_batch (ehash.c) resolves a small index one key at
 * a time and a large one through a three-stage software pipeline whose
 * shortcuts -- an empty slot before the tag is a certain miss, a full home
 * line is handed to the full probe, a candidate whose record does not
 * match (16-bit tag collision, other device) falls back too -- must never
 * change an answer.  The other unit tests use small nets, so this one
 * builds tens of thousands of connections (some bound to one of two
 * devices, pairs of those sharing a 4-tuple), deletes a random
 * third (backward shifts leave runs that cross lines), and compares the
 * batch with st_lookup_established key by key, over hits, misses, device
 * mismatches and batch sizes from 1 to several hundred.
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

enum { NCHILD = 40000, NPKT = 20000, DEV_EVERY = 97 };

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static const st_cred root = { 0, ST_CAP_ALL };

static st_sockaddr remote(size_t i)
{
	return st_sockaddr_in(0x0a000000u + (uint32_t)(i / 50000), (uint16_t)(1024 + i % 50000));
}

static st_pkt pkt_to(uint32_t saddr, uint16_t sport, int ifindex)
{
	st_pkt p;
	memset(&p, 0, sizeof(p));
	p.family = ST_AF_INET;
	p.proto = ST_TCP;
	p.saddr = st_addr_v4(saddr);
	p.sport = sport;
	p.daddr = st_addr_v4(0x7f000001u);
	p.dport = 8080;
	p.ifindex = ifindex;
	return p;
}

/* Compare the batch with single lookups over `n` packets cut into
 * batches of random sizes; returns how many answers were sockets. */
static size_t compare_batches(st_net *net, const st_pkt *pk, size_t n)
{
	const st_pkt **pp = malloc(n * sizeof(*pp));
	st_sock **out = malloc(n * sizeof(*out));
	assert_non_null(pp);
	assert_non_null(out);
	for (size_t i = 0; i < n; i++)
		pp[i] = &pk[i];
	size_t found = 0;
	for (size_t i = 0; i < n;) {
		size_t b = 1 + (size_t)(next() % 400);
		if (b > n - i)
			b = n - i;
		st_lookup_established_batch(net, pp + i, b, out + i);
		i += b;
	}
	for (size_t i = 0; i < n; i++) {
		st_sock *want = st_lookup_established(net, pp[i]);
		if (out[i] != want)
			fail_msg("packet %zu: batch answered %p, single %p", i, (void *)out[i],
				 (void *)want);
		found += want != NULL;
	}
	free(pp);
	free(out);
	return found;
}

static void test_batch_matches_single(void **state)
{
	(void)state;
	st_net *net;
	assert_int_equal(st_net_new(&net, 42, NULL), 0);
	int dev[2];
	assert_int_equal(st_net_add_device(net, "eth0", &dev[0]), 0);
	assert_int_equal(st_net_add_device(net, "eth1", &dev[1]), 0);

	/* Listeners on one port (SO_REUSEPORT, one uid): l[0] without a
	 * device, l[1] on eth0, l[2] on eth1.  Children of l[1] and l[2] are
	 * bound to their device, and each child of l[2] repeats the 4-tuple
	 * of a child of l[1]: Linux lets them share it. */
	st_sock *l = calloc(3, sizeof(*l));
	st_sock *c = calloc(NCHILD, sizeof(*c));
	bool *live = calloc(NCHILD, sizeof(*live));
	assert_true(l && c && live);
	st_sockaddr local = st_sockaddr_in(0x7f000001u, 8080);
	for (int k = 0; k < 3; k++) {
		assert_int_equal(st_sock_init(net, &l[k], ST_TCP, ST_AF_INET, 0), 0);
		assert_int_equal(st_setsockopt(net, &l[k], ST_SO_REUSEPORT, 1, &root), 0);
		if (k > 0)
			assert_int_equal(st_setsockopt(net, &l[k], ST_SO_BINDTODEVICE,
						       (uint32_t)dev[k - 1], &root), 0);
		assert_int_equal(st_bind(net, &l[k], &local, ST_SOCKADDR_IN_LEN, &root, NULL), 0);
		assert_int_equal(st_listen(net, &l[k], &root, NULL), 0);
	}

	for (size_t i = 0; i < NCHILD; i++) {
		int via = i % DEV_EVERY == 1 ? 1 : i % DEV_EVERY == 2 ? 2 : 0;
		st_sockaddr rem = remote(via == 2 ? i - 1 : i);
		assert_int_equal(st_sock_init(net, &c[i], ST_TCP, ST_AF_INET, 0), 0);
		assert_int_equal(st_accept_child(net, &l[via], &c[i], &local, &rem, ST_ESTABLISHED),
				 0);
		live[i] = true;
	}
	char why[256];
	assert_int_equal(st_net_check(net, why, sizeof(why)), 0);

	st_pkt *pk = calloc(NPKT, sizeof(*pk));
	assert_non_null(pk);
	for (int round = 0; round < 3; round++) {
		for (size_t i = 0; i < NPKT; i++) {
			size_t idx = (size_t)(next() % (NCHILD + NCHILD / 4));
			st_sockaddr rem = remote(idx); /* beyond NCHILD: misses */
			uint64_t r = next() % 8;
			int ifx = r == 0 ? dev[0] : r == 1 ? dev[1] : ST_IFINDEX_LO;
			pk[i] = pkt_to(st_addr_get_v4(&rem.addr), rem.port, ifx);
		}
		size_t found = compare_batches(net, pk, NPKT);
		/* Most packets name a live child: the comparison is not one
		 * of NULLs. */
		assert_true(found > NPKT / 3);
		/* A random third of the children goes: backward shifts. */
		for (size_t i = 0; i < NCHILD; i++)
			if (live[i] && next() % 3 == 0) {
				st_close(net, &c[i]);
				live[i] = false;
			}
		assert_int_equal(st_net_check(net, why, sizeof(why)), 0);
	}
	for (size_t i = 0; i < NCHILD; i++)
		if (live[i])
			st_close(net, &c[i]);
	for (int k = 0; k < 3; k++)
		st_close(net, &l[k]);
	st_net_free(net);
	free(pk);
	free(l);
	free(c);
	free(live);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch_matches_single),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
