/*
 * tests/unit/test_model.c - the model backend driven directly, statement by
 * statement, as the runner would: the seed articles' key experiments over
 * the simulated stack (TCP handshake, refusal, accept queue, data, FIN and
 * TIME_WAIT, UDP and ICMP, simultaneous open, self-connect, sharing by
 * fork and SCM_RIGHTS, `ls`).  Each expectation here is what Linux 6.x
 * answers (checked with the kernel replay of the same scenarios).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario/backend.h"
#include "scenario/model.h"
#include "socktab/sock.h"

typedef struct env {
	sc_backend *b;
	char msg[256];
} env;

static sc_sockaddr v4(const char *a, uint16_t port)
{
	sc_sockaddr s;
	memset(&s, 0, sizeof(s));
	int fam;
	assert_int_equal(st_addr_parse(a, &s.sa.addr, &fam), 0);
	s.sa.family = (uint16_t)fam;
	s.sa.port = port;
	return s;
}

static int new_proc(env *e, const char *name, const char *host, uint32_t uid)
{
	int p = e->b->ops->proc(e->b, name, host, uid, uid == 0 ? ST_CAP_ALL : 0, e->msg, sizeof(e->msg));
	assert_true(p >= 0);
	return p;
}

static int sock(env *e, int p, sc_kind k)
{
	sc_result r;
	e->b->ops->socket(e->b, p, k, &r);
	assert_int_equal(r.kind, SC_R_OK);
	int fd = r.fd;
	sc_result_clear(&r);
	return fd;
}

/* Result as an errno (0 = ok of any kind). */
static int call_err(sc_result *r)
{
	int e = r->kind == SC_R_ERR ? r->err : 0;
	sc_result_clear(r);
	return e;
}

static int do_bind(env *e, int p, int fd, const char *a, uint16_t port)
{
	sc_result r;
	sc_sockaddr s = v4(a, port);
	e->b->ops->bind(e->b, p, fd, &s, &r);
	return call_err(&r);
}

static int do_listen(env *e, int p, int fd, int backlog)
{
	sc_result r;
	e->b->ops->listen(e->b, p, fd, backlog, &r);
	return call_err(&r);
}

static int do_connect(env *e, int p, int fd, const char *a, uint16_t port, bool nonblock)
{
	sc_result r;
	sc_sockaddr s = v4(a, port);
	e->b->ops->connect(e->b, p, fd, &s, nonblock, &r);
	return call_err(&r);
}

static int do_accept(env *e, int p, int fd, int *nfd)
{
	sc_result r;
	e->b->ops->accept(e->b, p, fd, &r);
	if (r.kind == SC_R_OK_ADDR)
		*nfd = r.fd;
	return call_err(&r);
}

static int do_send(env *e, int p, int fd, const char *s)
{
	sc_result r;
	e->b->ops->send(e->b, p, fd, (const uint8_t *)s, strlen(s), &r);
	return call_err(&r);
}

static int do_sendto(env *e, int p, int fd, const char *a, uint16_t port, const char *s)
{
	sc_result r;
	sc_sockaddr to = v4(a, port);
	e->b->ops->sendto(e->b, p, fd, &to, (const uint8_t *)s, strlen(s), &r);
	return call_err(&r);
}

/* recv: returns the errno, or 0 with the data copied into buf. */
static int do_recv(env *e, int p, int fd, char *buf, size_t cap)
{
	sc_result r;
	e->b->ops->recv(e->b, p, fd, &r);
	if (r.kind == SC_R_DATA) {
		assert_true(r.len < cap);
		memcpy(buf, r.data, r.len);
		buf[r.len] = 0;
	}
	return call_err(&r);
}

static int do_close(env *e, int p, int fd)
{
	sc_result r;
	e->b->ops->close(e->b, p, fd, &r);
	return call_err(&r);
}

static int do_setopt(env *e, int p, int fd, sc_opt o, int64_t v)
{
	sc_result r;
	sc_optval val;
	memset(&val, 0, sizeof(val));
	val.i = v;
	e->b->ops->setsockopt(e->b, p, fd, o, &val, &r);
	return call_err(&r);
}

/* The ls rows of a host as "proto state local peer owners" lines, sorted. */
static char *ls_text(env *e, const char *host)
{
	sc_lsrow *rows = NULL;
	size_t n = 0;
	assert_int_equal(e->b->ops->ls(e->b, host, &rows, &n), 0);
	char **lines = calloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		static const char *const k[] = { "tcp4", "tcp6", "udp4", "udp6" };
		char l[ST_SOCKADDR_STRLEN], pr[ST_SOCKADDR_STRLEN];
		st_sockaddr_format(&rows[i].local.sa, l, sizeof(l));
		if (rows[i].peer.sa.family)
			st_sockaddr_format(&rows[i].peer.sa, pr, sizeof(pr));
		else
			strcpy(pr, "*");
		lines[i] = malloc(512);
		snprintf(lines[i], 512, "%s %s %s %s %s", k[rows[i].kind], rows[i].state, l, pr,
			 rows[i].owners);
	}
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (strcmp(lines[i], lines[j]) > 0) {
				char *t = lines[i];
				lines[i] = lines[j];
				lines[j] = t;
			}
	size_t cap = 1 + n * 512;
	char *out = calloc(1, cap);
	for (size_t i = 0; i < n; i++) {
		strcat(out, lines[i]);
		strcat(out, "\n");
		free(lines[i]);
	}
	free(lines);
	free(rows);
	return out;
}

static int setup(void **state)
{
	env *e = calloc(1, sizeof(*e));
	sc_backend_config cfg = { .seed = 1, .explain = true, .pcap = NULL };
	e->b = sc_model_new(&cfg, e->msg, sizeof(e->msg));
	assert_non_null(e->b);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	env *e = *state;
	e->b->ops->destroy(e->b);
	free(e);
	return 0;
}

/* The spec's first example: TCP and UDP on one port, accept, refusal after exit. */
static void test_first_article(void **state)
{
	env *e = *state;
	int liz = new_proc(e, "liz", "local", 1000);
	int tim = new_proc(e, "tim", "local", 1000);
	int s1 = sock(e, liz, SC_TCP4);
	assert_int_equal(do_bind(e, liz, s1, "127.0.0.1", 8080), 0);
	assert_int_equal(do_listen(e, liz, s1, 128), 0);
	int s2 = sock(e, liz, SC_UDP4);
	assert_int_equal(do_bind(e, liz, s2, "127.0.0.1", 8080), 0);
	int c = sock(e, tim, SC_TCP4);
	assert_int_equal(do_connect(e, tim, c, "127.0.0.1", 8080, false), 0);
	int a = -1;
	assert_int_equal(do_accept(e, liz, s1, &a), 0);
	assert_true(a >= 0);
	char *t = ls_text(e, "local");
	/* The client's ephemeral port is unpredictable: check the shape. */
	assert_non_null(strstr(t, "tcp4 LISTEN 127.0.0.1:8080 * liz\n"));
	assert_non_null(strstr(t, "udp4 UNCONN 127.0.0.1:8080 * liz\n"));
	assert_non_null(strstr(t, "tcp4 ESTAB 127.0.0.1:8080 127.0.0.1:"));
	free(t);
	/* Data both ways. */
	assert_int_equal(do_send(e, tim, c, "timmy\n"), 0);
	char buf[128];
	assert_int_equal(do_recv(e, liz, a, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "timmy\n");
	assert_int_equal(do_recv(e, liz, a, buf, sizeof(buf)), EAGAIN);
	sc_result r;
	e->b->ops->exit(e->b, liz, &r);
	sc_result_clear(&r);
	/* The accepted connection got a FIN: tim reads end of stream. */
	assert_int_equal(do_recv(e, tim, c, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	int c2 = sock(e, tim, SC_TCP4);
	assert_int_equal(do_connect(e, tim, c2, "127.0.0.1", 8080, false), ECONNREFUSED);
	/* liz closed first and tim has not: her orphan waits in FIN-WAIT-2,
	 * tim's side in CLOSE-WAIT.  Once tim closes, liz's side is TIME-WAIT. */
	t = ls_text(e, "local");
	assert_non_null(strstr(t, "tcp4 FIN-WAIT-2 127.0.0.1:8080 127.0.0.1:"));
	assert_non_null(strstr(t, "tcp4 CLOSE-WAIT 127.0.0.1:"));
	free(t);
	assert_int_equal(do_close(e, tim, c), 0);
	t = ls_text(e, "local");
	assert_non_null(strstr(t, "tcp4 TIME-WAIT 127.0.0.1:8080 127.0.0.1:"));
	assert_null(strstr(t, "CLOSE-WAIT"));
	free(t);
	/* 60 s later the TIME-WAIT record is gone. */
	e->b->ops->sleep(e->b, 60000000000ull);
	t = ls_text(e, "local");
	assert_null(strstr(t, "TIME-WAIT"));
	free(t);
}

/* The accept queue holds backlog + 1; the next SYN is dropped and the
 * client stays in SYN-SENT (non-blocking connect). */
static void test_accept_queue_full(void **state)
{
	env *e = *state;
	int srv = new_proc(e, "srv", "local", 1000);
	int cli = new_proc(e, "cli", "local", 1000);
	int l = sock(e, srv, SC_TCP4);
	assert_int_equal(do_bind(e, srv, l, "127.0.0.1", 9000), 0);
	assert_int_equal(do_listen(e, srv, l, 1), 0);
	int c[3];
	for (int i = 0; i < 3; i++) {
		c[i] = sock(e, cli, SC_TCP4);
		assert_int_equal(do_connect(e, cli, c[i], "127.0.0.1", 9000, true), EINPROGRESS);
	}
	char *t = ls_text(e, "local");
	assert_non_null(strstr(t, "SYN-SENT"));
	free(t);
	/* The first two completed: a second connect reports 0 once, then EISCONN. */
	assert_int_equal(do_connect(e, cli, c[0], "127.0.0.1", 9000, true), 0);
	assert_int_equal(do_connect(e, cli, c[0], "127.0.0.1", 9000, true), EISCONN);
	assert_int_equal(do_connect(e, cli, c[2], "127.0.0.1", 9000, true), EALREADY);
	/* Accept one: the retransmitted SYN (1 s later) gets in. */
	int a = -1;
	assert_int_equal(do_accept(e, srv, l, &a), 0);
	e->b->ops->sleep(e->b, 1500000000ull);
	assert_int_equal(do_connect(e, cli, c[2], "127.0.0.1", 9000, true), 0);
}

/* Closing a listener resets the connections nobody accepted. */
static void test_listener_close_resets(void **state)
{
	env *e = *state;
	int p = new_proc(e, "p", "local", 1000);
	int l = sock(e, p, SC_TCP4);
	assert_int_equal(do_bind(e, p, l, "127.0.0.1", 9001), 0);
	assert_int_equal(do_listen(e, p, l, 8), 0);
	int c = sock(e, p, SC_TCP4);
	assert_int_equal(do_connect(e, p, c, "127.0.0.1", 9001, false), 0);
	assert_int_equal(do_close(e, p, l), 0);
	char buf[16];
	assert_int_equal(do_recv(e, p, c, buf, sizeof(buf)), ECONNRESET);
	assert_int_equal(do_recv(e, p, c, buf, sizeof(buf)), 0);
	assert_int_equal(do_send(e, p, c, "x"), EPIPE);
}

/* Unread data on close: RST instead of FIN. */
static void test_close_unread_rst(void **state)
{
	env *e = *state;
	int p = new_proc(e, "p", "local", 1000);
	int l = sock(e, p, SC_TCP4);
	assert_int_equal(do_bind(e, p, l, "127.0.0.1", 9002), 0);
	assert_int_equal(do_listen(e, p, l, 8), 0);
	int c = sock(e, p, SC_TCP4);
	assert_int_equal(do_connect(e, p, c, "127.0.0.1", 9002, false), 0);
	int a = -1;
	assert_int_equal(do_accept(e, p, l, &a), 0);
	assert_int_equal(do_send(e, p, c, "unread"), 0);
	assert_int_equal(do_close(e, p, a), 0);
	char buf[16];
	assert_int_equal(do_recv(e, p, c, buf, sizeof(buf)), ECONNRESET);
	char *t = ls_text(e, "local");
	assert_null(strstr(t, "TIME-WAIT"));
	free(t);
}

/* UDP: datagrams keep boundaries; a connected sender learns ECONNREFUSED
 * once from ICMP port unreachable. */
static void test_udp(void **state)
{
	env *e = *state;
	int p = new_proc(e, "p", "local", 1000);
	int u = sock(e, p, SC_UDP4);
	assert_int_equal(do_bind(e, p, u, "127.0.0.1", 5000), 0);
	int v = sock(e, p, SC_UDP4);
	assert_int_equal(do_sendto(e, p, v, "127.0.0.1", 5000, "one"), 0);
	assert_int_equal(do_sendto(e, p, v, "127.0.0.1", 5000, "two"), 0);
	char buf[16];
	assert_int_equal(do_recv(e, p, u, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "one");
	assert_int_equal(do_recv(e, p, u, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "two");
	assert_int_equal(do_recv(e, p, u, buf, sizeof(buf)), EAGAIN);
	int w = sock(e, p, SC_UDP4);
	assert_int_equal(do_connect(e, p, w, "127.0.0.1", 5999, false), 0);
	assert_int_equal(do_send(e, p, w, "lost"), 0);
	assert_int_equal(do_send(e, p, w, "again"), ECONNREFUSED);
	assert_int_equal(do_send(e, p, w, "third"), 0);
	int x = sock(e, p, SC_UDP4);
	assert_int_equal(do_send(e, p, x, "x"), EDESTADDRREQ);
}

/* The fourth article: a socket connecting to itself, and "I love you.". */
static void test_self_connect(void **state)
{
	env *e = *state;
	int p = new_proc(e, "p", "local", 1000);
	int s = sock(e, p, SC_TCP4);
	assert_int_equal(do_bind(e, p, s, "127.0.0.1", 50000), 0);
	assert_int_equal(do_connect(e, p, s, "127.0.0.1", 50000, false), 0);
	assert_int_equal(do_send(e, p, s, "I love you."), 0);
	char buf[32];
	assert_int_equal(do_recv(e, p, s, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "I love you.");
	char *t = ls_text(e, "local");
	assert_string_equal(t, "tcp4 ESTAB 127.0.0.1:50000 127.0.0.1:50000 p\n");
	free(t);
}

/* Simultaneous open between two hosts over a link with a delay. */
static void test_simultaneous_open(void **state)
{
	env *e = *state;
	char *msg = e->msg;
	assert_int_equal(e->b->ops->host(e->b, "a", msg, 256), 0);
	assert_int_equal(e->b->ops->host(e->b, "b", msg, 256), 0);
	st_addr aa, ba;
	int fam;
	st_addr_parse("10.0.0.1", &aa, &fam);
	st_addr_parse("10.0.0.2", &ba, &fam);
	assert_int_equal(e->b->ops->link(e->b, "a", &aa, ST_AF_INET, 24, "b", &ba, ST_AF_INET, 24,
					 50000000ull, msg, 256), 0);
	int pa = new_proc(e, "pa", "a", 1000);
	int pb = new_proc(e, "pb", "b", 1000);
	int sa = sock(e, pa, SC_TCP4), sb = sock(e, pb, SC_TCP4);
	assert_int_equal(do_bind(e, pa, sa, "10.0.0.1", 7000), 0);
	assert_int_equal(do_bind(e, pb, sb, "10.0.0.2", 7001), 0);
	assert_int_equal(do_connect(e, pa, sa, "10.0.0.2", 7001, true), EINPROGRESS);
	assert_int_equal(do_connect(e, pb, sb, "10.0.0.1", 7000, true), EINPROGRESS);
	e->b->ops->sleep(e->b, 200000000ull);
	assert_int_equal(do_connect(e, pa, sa, "10.0.0.2", 7001, true), 0);
	assert_int_equal(do_connect(e, pb, sb, "10.0.0.1", 7000, true), 0);
	assert_int_equal(do_send(e, pa, sa, "hello"), 0);
	e->b->ops->sleep(e->b, 100000000ull);
	char buf[16];
	assert_int_equal(do_recv(e, pb, sb, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "hello");
	char *t = ls_text(e, "a");
	assert_string_equal(t, "tcp4 ESTAB 10.0.0.1:7000 10.0.0.2:7001 pa\n");
	free(t);
}

/* A listener shared by fork: the parent's exit does not close it. */
static void test_fork_sharing(void **state)
{
	env *e = *state;
	int p = new_proc(e, "parent", "local", 1000);
	int l = sock(e, p, SC_TCP4);
	assert_int_equal(do_bind(e, p, l, "0.0.0.0", 9100), 0);
	assert_int_equal(do_listen(e, p, l, 8), 0);
	sc_result r;
	int child = -1;
	e->b->ops->fork(e->b, p, "child", &child, &r);
	assert_int_equal(call_err(&r), 0);
	char *t = ls_text(e, "local");
	assert_string_equal(t, "tcp4 LISTEN 0.0.0.0:9100 * child,parent\n");
	free(t);
	e->b->ops->exit(e->b, p, &r);
	sc_result_clear(&r);
	int q = new_proc(e, "q", "local", 1000);
	e->b->ops->sendfd(e->b, child, l, q, &r);
	int qfd = r.fd;
	assert_int_equal(call_err(&r), 0);
	t = ls_text(e, "local");
	assert_string_equal(t, "tcp4 LISTEN 0.0.0.0:9100 * child,q\n");
	free(t);
	int c = sock(e, q, SC_TCP4);
	assert_int_equal(do_connect(e, q, c, "127.0.0.1", 9100, false), 0);
	int a = -1;
	assert_int_equal(do_accept(e, q, qfd, &a), 0);
}

/* TIME_WAIT holds the port against a bind without SO_REUSEADDR, for 60 s. */
static void test_timewait_bind(void **state)
{
	env *e = *state;
	int p = new_proc(e, "p", "local", 1000);
	int l = sock(e, p, SC_TCP4);
	/* The server sets SO_REUSEADDR; accepted sockets (and so their
	 * TIME_WAIT records) inherit it, which is what lets a restarted
	 * server with SO_REUSEADDR bind again (B-T7 needs it on both). */
	assert_int_equal(do_setopt(e, p, l, SC_SO_REUSEADDR, 1), 0);
	assert_int_equal(do_bind(e, p, l, "127.0.0.1", 9200), 0);
	assert_int_equal(do_listen(e, p, l, 8), 0);
	int c = sock(e, p, SC_TCP4);
	assert_int_equal(do_connect(e, p, c, "127.0.0.1", 9200, false), 0);
	int a = -1;
	assert_int_equal(do_accept(e, p, l, &a), 0);
	assert_int_equal(do_close(e, p, a), 0);   /* server closes first */
	assert_int_equal(do_close(e, p, c), 0);
	assert_int_equal(do_close(e, p, l), 0);
	int l2 = sock(e, p, SC_TCP4);
	assert_int_equal(do_bind(e, p, l2, "127.0.0.1", 9200), EADDRINUSE);
	assert_int_equal(do_setopt(e, p, l2, SC_SO_REUSEADDR, 1), 0);
	assert_int_equal(do_bind(e, p, l2, "127.0.0.1", 9200), 0);
	int l3 = sock(e, p, SC_TCP4);
	e->b->ops->sleep(e->b, 61000000000ull);
	assert_int_equal(do_close(e, p, l2), 0);
	assert_int_equal(do_bind(e, p, l3, "127.0.0.1", 9200), 0);
	char *t = ls_text(e, "local");
	assert_string_equal(t, "tcp4 BOUND 127.0.0.1:9200 * p\n");
	free(t);
}

/* A connection to a host over a link with nothing listening: RST. */
static void test_refused_over_link(void **state)
{
	env *e = *state;
	char *msg = e->msg;
	assert_int_equal(e->b->ops->host(e->b, "x", msg, 256), 0);
	st_addr a1, a2;
	int fam;
	st_addr_parse("192.168.1.1", &a1, &fam);
	st_addr_parse("192.168.1.2", &a2, &fam);
	assert_int_equal(e->b->ops->link(e->b, "local", &a1, ST_AF_INET, 24, "x", &a2, ST_AF_INET, 24,
					 10000000ull, msg, 256), 0);
	int p = new_proc(e, "p", "local", 1000);
	int c = sock(e, p, SC_TCP4);
	assert_int_equal(do_connect(e, p, c, "192.168.1.2", 80, false), ECONNREFUSED);
	assert_int_equal(do_connect(e, p, c, "192.168.1.9", 80, true), EINPROGRESS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_first_article, setup, teardown),
		cmocka_unit_test_setup_teardown(test_accept_queue_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listener_close_resets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_unread_rst, setup, teardown),
		cmocka_unit_test_setup_teardown(test_udp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_self_connect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_simultaneous_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fork_sharing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timewait_bind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_over_link, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
