/*
 * tests/unit/test_tcp_stream.c - the simulated TCP moving real amounts of
 * data: segmentation by MSS over a link (1460) and over loopback, the
 * receive window closing when the reader stops and reopening when it
 * reads (zero-window probes), bytes arriving intact and in order, and a
 * connection over a delayed link completing only when time passes.
 * Driven through the sim and stack APIs directly, with virtual time.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"

typedef struct pair {
	sim_world *w;
	sim_host *a, *b;
	stk_sock *l, *c, *s;   /* listener (b), client (a), accepted (b) */
} pair;

static const st_cred cred = { 1000, 0 };

static void setup_pair(pair *p, uint64_t delay_ns, bool loopback)
{
	memset(p, 0, sizeof(*p));
	assert_int_equal(sim_world_new(&p->w, 7), 0);
	assert_int_equal(sim_host_add(p->w, "a", &p->a), 0);
	uint32_t dst = 0x7f000001;
	if (loopback) {
		p->b = p->a;
	} else {
		assert_int_equal(sim_host_add(p->w, "b", &p->b), 0);
		st_addr aa = st_addr_v4(0x0a000001), ba = st_addr_v4(0x0a000002);
		assert_int_equal(sim_link(p->w, p->a, &aa, ST_AF_INET, 24, p->b, &ba, ST_AF_INET, 24,
					  delay_ns), 0);
		dst = 0x0a000002;
	}
	st_sockaddr la = st_sockaddr_in(dst, 9000);
	assert_int_equal(stk_socket(sim_host_stack(p->b), ST_TCP, ST_AF_INET, &cred, &p->l), 0);
	assert_int_equal(stk_bind(p->l, &la, &cred, NULL), 0);
	assert_int_equal(stk_listen(p->l, 16, &cred, NULL), 0);
	assert_int_equal(stk_socket(sim_host_stack(p->a), ST_TCP, ST_AF_INET, &cred, &p->c), 0);
	assert_int_equal(stk_connect(p->c, &la, &cred, NULL), -EINPROGRESS);
	sim_settle(p->w);
	if (delay_ns && !loopback) {
		/* Nothing crosses the link before time passes. */
		assert_true(stk_connect_pending(p->c));
		sim_run_until(p->w, sim_now(p->w) + 3 * delay_ns);
	}
	assert_false(stk_connect_pending(p->c));
	assert_int_equal(stk_connect(p->c, &la, &cred, NULL), 0);
	st_sockaddr peer;
	assert_int_equal(stk_accept(p->l, &p->s, &peer), 0);
}

static void teardown_pair(pair *p)
{
	stk_release(p->c);
	stk_release(p->s);
	stk_release(p->l);
	sim_run_until(p->w, sim_now(p->w) + 120ull * 1000000000ull);
	/* Everything closed, TIME_WAIT expired: the stacks are empty. */
	assert_int_equal(stk_sock_count(sim_host_stack(p->a)), 0);
	assert_int_equal(stk_sock_count(sim_host_stack(p->b)), 0);
	sim_world_free(p->w);
}

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 131u + (i >> 11));
}

/* Send `total` bytes from c to s while the reader takes at most `chunk`
 * bytes per round; time advances `step` per round. */
static void stream(pair *p, size_t total, size_t chunk, uint64_t step)
{
	uint8_t *out = malloc(total), *in = malloc(total);
	assert_non_null(out);
	assert_non_null(in);
	for (size_t i = 0; i < total; i++)
		out[i] = pattern(i);
	size_t sent = 0, got = 0;
	int rounds = 0;
	while (got < total) {
		assert_true(++rounds < 100000);
		if (sent < total) {
			size_t n = total - sent < 65536 ? total - sent : 65536;
			int r = stk_send(p->c, out + sent, n);
			if (r == 0)
				sent += n;
			else
				assert_int_equal(r, -EAGAIN);
		}
		sim_settle(p->w);
		size_t n = 0;
		int r = stk_recv(p->s, in + got, chunk < total - got ? chunk : total - got, &n, NULL);
		if (r == 0) {
			assert_true(n > 0);
			got += n;
		} else {
			assert_int_equal(r, -EAGAIN);
		}
		sim_run_until(p->w, sim_now(p->w) + step);
	}
	assert_memory_equal(in, out, total);
	free(out);
	free(in);
}

static void test_link_bulk(void **state)
{
	(void)state;
	pair p;
	setup_pair(&p, 5000000ull, false);   /* 5 ms each way */
	stream(&p, 3u << 20, 1u << 20, 10000000ull);
	teardown_pair(&p);
}

static void test_loopback_bulk(void **state)
{
	(void)state;
	pair p;
	setup_pair(&p, 0, true);
	stream(&p, 2u << 20, 300000, 1000000ull);
	teardown_pair(&p);
}

/* The reader stops: the window closes (the sender keeps its data), then
 * reading reopens it and everything arrives. */
static void test_zero_window(void **state)
{
	(void)state;
	pair p;
	setup_pair(&p, 1000000ull, false);
	size_t total = 600000;
	uint8_t *out = malloc(total);
	for (size_t i = 0; i < total; i++)
		out[i] = pattern(i);
	assert_int_equal(stk_send(p.c, out, total), 0);
	/* Ten seconds without reading: only the receive buffer's worth can
	 * have arrived; the rest waits behind a zero window. */
	sim_run_until(p.w, sim_now(p.w) + 10ull * 1000000000ull);
	uint8_t *in = malloc(total);
	size_t got = 0, n;
	while (stk_recv(p.s, in + got, total - got, &n, NULL) == 0 && n)
		got += n;
	assert_true(got > 0);
	assert_true(got <= 131072);
	/* Reading opened the window; the probes and updates carry the rest. */
	for (int i = 0; i < 200 && got < total; i++) {
		sim_run_until(p.w, sim_now(p.w) + 500000000ull);
		while (stk_recv(p.s, in + got, total - got, &n, NULL) == 0 && n)
			got += n;
	}
	assert_int_equal(got, total);
	assert_memory_equal(in, out, total);
	free(in);
	free(out);
	teardown_pair(&p);
}

/* Half-close: the client shuts down writing, still reads the answer. */
static void test_half_close(void **state)
{
	(void)state;
	pair p;
	setup_pair(&p, 0, true);
	assert_int_equal(stk_send(p.c, (const uint8_t *)"question", 8), 0);
	assert_int_equal(stk_shutdown(p.c, STK_SHUT_WR), 0);
	sim_settle(p.w);
	uint8_t buf[32];
	size_t n;
	assert_int_equal(stk_recv(p.s, buf, sizeof(buf), &n, NULL), 0);
	assert_int_equal(n, 8);
	assert_int_equal(stk_recv(p.s, buf, sizeof(buf), &n, NULL), 0);
	assert_int_equal(n, 0);   /* end of stream */
	assert_string_equal(stk_state_name(p.s), "CLOSE-WAIT");
	assert_string_equal(stk_state_name(p.c), "FIN-WAIT-2");
	assert_int_equal(stk_send(p.s, (const uint8_t *)"answer", 6), 0);
	sim_settle(p.w);
	assert_int_equal(stk_recv(p.c, buf, sizeof(buf), &n, NULL), 0);
	assert_int_equal(n, 6);
	assert_int_equal(stk_send(p.c, (const uint8_t *)"x", 1), -EPIPE);
	teardown_pair(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_link_bulk),
		cmocka_unit_test(test_loopback_bulk),
		cmocka_unit_test(test_zero_window),
		cmocka_unit_test(test_half_close),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
