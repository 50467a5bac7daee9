/*
 * tests/kernel/kr_test.h - helpers for the kernel-replay tests.
 *
 * The tests drive the backend of src/kernel directly, through the
 * sc_backend_ops table, without the scenario parser or runner: a failure
 * here is a failure of the replay itself.  Helpers wrap one call each,
 * check it with cmocka and print the call that failed with the backend's
 * explanation.  `ls` rows are turned into the transcript's text form
 * ("tcp4 LISTEN 127.0.0.1:8080 * liz") so expectations read like the
 * language, and compared as a set.
 *
 * A test binary exits 77 (ctest's SKIP_RETURN_CODE) when the machine
 * cannot run the backend at all: that is reported as a skip, never a pass.
 */
#ifndef SOCKTAB_TESTS_KERNEL_KR_TEST_H
#define SOCKTAB_TESTS_KERNEL_KR_TEST_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernel/kernel.h"
#include "scenario/backend.h"
#include "socktab/addr.h"
#include "socktab/sock.h"

static sc_backend *kt_b;
static char kt_msg[256];

static inline const sc_backend_ops *kt_ops(void)
{
	return kt_b->ops;
}

/* Create the backend, or exit 77 if this machine cannot have one. */
static inline int kt_setup(void **state)
{
	int skip = 0;
	sc_backend_config cfg;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.seed = 1;
	kt_b = kr_backend_new(&cfg, kt_msg, sizeof(kt_msg), &skip);
	if (!kt_b && skip) {
		fprintf(stderr, "skipped: %s\n", kt_msg);
		exit(77);
	}
	if (!kt_b)
		fprintf(stderr, "kr_backend_new: %s\n", kt_msg);
	assert_non_null(kt_b);
	return 0;
}

static inline int kt_teardown(void **state)
{
	(void)state;
	if (kt_b)
		kt_b->ops->destroy(kt_b);
	kt_b = NULL;
	return 0;
}

/* "127.0.0.1:80", "[::1]:80", "[fe80::1%eth0]:80" */
static inline sc_sockaddr kt_addr(const char *text)
{
	sc_sockaddr a;
	char buf[128];
	char *pct;

	memset(&a, 0, sizeof(a));
	snprintf(buf, sizeof(buf), "%s", text);
	pct = strchr(buf, '%');
	if (pct) {
		char *close = strchr(pct, ']');

		assert_non_null(close);
		snprintf(a.ifname, sizeof(a.ifname), "%.*s", (int)(close - pct - 1), pct + 1);
		memmove(pct, close, strlen(close) + 1);
	}
	if (st_sockaddr_parse(buf, &a.sa) != 0)
		fail_msg("bad address in test: %s", text);
	a.sa.scope_id = 0;
	return a;
}

static inline void kt_fmt(const sc_sockaddr *a, char *buf, size_t len)
{
	char t[ST_ADDR_STRLEN];

	if (a->sa.family == 0) {
		snprintf(buf, len, "*");
		return;
	}
	st_addr_format(&a->sa.addr, a->sa.family, t, sizeof(t));
	if (a->sa.family == ST_AF_INET)
		snprintf(buf, len, "%s:%u", t, a->sa.port);
	else if (a->ifname[0])
		snprintf(buf, len, "[%s%%%s]:%u", t, a->ifname, a->sa.port);
	else
		snprintf(buf, len, "[%s]:%u", t, a->sa.port);
}

static inline void kt_check(sc_result *r, const char *what, int line)
{
	if (r->kind == SC_R_ERR)
		fail_msg("line %d: %s: unexpected error %d (%s)%s%s", line, what, r->err,
			 strerror(r->err), r->explain ? ": " : "", r->explain ? r->explain : "");
}

static inline void kt_check_err(sc_result *r, int err, const char *what, int line)
{
	if (r->kind != SC_R_ERR || r->err != err)
		fail_msg("line %d: %s: expected %s, got %s%s%s", line, what, strerror(err),
			 r->kind == SC_R_ERR ? strerror(r->err) : "success",
			 r->explain ? ": " : "", r->explain ? r->explain : "");
}

#define KT_OK(r, what) kt_check((r), (what), __LINE__)
#define KT_ERR(r, e, what) kt_check_err((r), (e), (what), __LINE__)

static inline int kt_proc(const char *name, const char *host, uint32_t uid, uint32_t caps)
{
	int p = kt_ops()->proc(kt_b, name, host, uid, caps, kt_msg, sizeof(kt_msg));

	if (p < 0)
		fail_msg("proc %s: %d: %s", name, p, kt_msg);
	return p;
}

static inline void kt_world(int r, const char *what)
{
	if (r < 0)
		fail_msg("%s: %d: %s", what, r, kt_msg);
}

static inline int kt_socket(int p, sc_kind k)
{
	sc_result r;
	int fd;

	kt_ops()->socket(kt_b, p, k, &r);
	KT_OK(&r, "socket");
	fd = r.fd;
	assert_true(fd >= 0);
	sc_result_clear(&r);
	return fd;
}

/* Returns the errno (0 = ok) of bind/listen/connect; the result is cleared. */
static inline int kt_bind(int p, int fd, const char *addr)
{
	sc_result r;
	sc_sockaddr a = kt_addr(addr);
	int e;

	kt_ops()->bind(kt_b, p, fd, &a, &r);
	e = r.kind == SC_R_ERR ? r.err : 0;
	sc_result_clear(&r);
	return e;
}

static inline int kt_listen(int p, int fd)
{
	sc_result r;
	int e;

	kt_ops()->listen(kt_b, p, fd, 128, &r);
	e = r.kind == SC_R_ERR ? r.err : 0;
	sc_result_clear(&r);
	return e;
}

static inline int kt_connect(int p, int fd, const char *addr, bool nonblock)
{
	sc_result r;
	sc_sockaddr a = kt_addr(addr);
	int e;

	kt_ops()->connect(kt_b, p, fd, &a, nonblock, &r);
	e = r.kind == SC_R_ERR ? r.err : 0;
	sc_result_clear(&r);
	return e;
}

static inline int kt_close(int p, int fd)
{
	sc_result r;
	int e;

	kt_ops()->close(kt_b, p, fd, &r);
	e = r.kind == SC_R_ERR ? r.err : 0;
	sc_result_clear(&r);
	return e;
}

static inline int kt_send(int p, int fd, const char *data)
{
	sc_result r;
	int e;

	kt_ops()->send(kt_b, p, fd, (const uint8_t *)data, strlen(data), &r);
	e = r.kind == SC_R_ERR ? r.err : 0;
	sc_result_clear(&r);
	return e;
}

/* recv into buf as a C string; returns the errno (0 = data). */
static inline int kt_recv(int p, int fd, char *buf, size_t len)
{
	sc_result r;
	int e;

	kt_ops()->recv(kt_b, p, fd, &r);
	e = r.kind == SC_R_ERR ? r.err : 0;
	buf[0] = 0;
	if (!e) {
		assert_int_equal(r.kind, SC_R_DATA);
		assert_true(r.len < len);
		if (r.len)
			memcpy(buf, r.data, r.len);
		buf[r.len] = 0;
	}
	sc_result_clear(&r);
	return e;
}

static inline char *kt_name(int p, int fd, bool peer, char *buf, size_t len)
{
	sc_result r;

	if (peer)
		kt_ops()->getpeername(kt_b, p, fd, &r);
	else
		kt_ops()->getsockname(kt_b, p, fd, &r);
	KT_OK(&r, peer ? "getpeername" : "getsockname");
	assert_int_equal(r.kind, SC_R_ADDR);
	kt_fmt(&r.addr, buf, len);
	sc_result_clear(&r);
	return buf;
}

static inline const char *kt_kind_name(sc_kind k)
{
	static const char *const n[] = { "tcp4", "tcp6", "udp4", "udp6" };

	return n[k];
}

/* The host's table as text lines, one per row, newline-terminated, sorted. */
static inline char *kt_ls(const char *host)
{
	sc_lsrow *rows = NULL;
	size_t n = 0, i, used = 0, cap = 1;
	char *out;
	int r = kt_ops()->ls(kt_b, host, &rows, &n);

	if (r < 0)
		fail_msg("ls %s: %d", host ? host : "local", r);
	for (i = 0; i < n; i++)
		cap += 256 + 128;
	out = malloc(cap);
	assert_non_null(out);
	out[0] = 0;
	for (i = 0; i < n; i++) {
		char l[80], p[80];

		kt_fmt(&rows[i].local, l, sizeof(l));
		kt_fmt(&rows[i].peer, p, sizeof(p));
		used += (size_t)snprintf(out + used, cap - used, "%s %s %s %s %s\n",
					 kt_kind_name(rows[i].kind), rows[i].state, l, p,
					 rows[i].owners);
	}
	free(rows);
	return out;
}

/* Compare `ls` with expected lines (each "\n"-terminated, any order). */
static inline void kt_ls_expect(const char *host, const char *expected, int line)
{
	char *got = kt_ls(host);
	const char *e = expected;
	size_t ngot = 0, nexp = 0;
	const char *q;

	for (q = got; *q; q++)
		ngot += *q == '\n';
	for (q = expected; *q; q++)
		nexp += *q == '\n';
	while (*e) {
		const char *nl = strchr(e, '\n');
		char want[400];
		const char *hit;
		bool found = false;

		assert_non_null(nl);
		snprintf(want, sizeof(want), "%.*s\n", (int)(nl - e), e);
		for (hit = strstr(got, want); hit; hit = strstr(hit + 1, want)) {
			if (hit == got || hit[-1] == '\n') {
				found = true;
				break;
			}
		}
		if (!found)
			fail_msg("line %d: ls %s: missing row\n  %sgot:\n%s", line,
				 host ? host : "local", want, got);
		e = nl + 1;
	}
	if (ngot != nexp)
		fail_msg("line %d: ls %s: %zu rows, expected %zu; got:\n%sexpected:\n%s", line,
			 host ? host : "local", ngot, nexp, got, expected);
	free(got);
}

#define KT_LS(host, expected) kt_ls_expect((host), (expected), __LINE__)

static inline double kt_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
