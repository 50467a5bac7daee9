/*
 * tests/unit/test_ls.c - `ls` rows: the block they come in (lsrows.c) and
 * the model's listing (model.c), which walks descriptor tables and takes
 * a socket's owners from its reference count instead of an index.
 *
 * What could go wrong with that walk, and is checked here: a socket held
 * by several processes (fork, sendfd, also to a process on another host),
 * or twice by one process, listed once with each name once; sockets no
 * descriptor holds (children not yet accepted, orphans in FIN-WAIT-2,
 * TIME-WAIT) still listed, with "-"; unbound sockets left out; holes in a
 * descriptor table; a failed allocation at any point returning ENOMEM and
 * changing nothing.  The rows must be one block: free(rows) and nothing
 * else (the sanitizer build checks for leaks).
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

#include "scenario/lsrows.h"
#include "scenario/model.h"
#include "scenario/print.h"
#include "socktab/sock.h"
#include "alloc.h"

/* ---- sc_lsrows_pack ------------------------------------------------------ */

static void test_pack(void **state)
{
	sc_lsrow in[5], *out = NULL;
	char a[8] = "liz,tim", b[8] = "bob";

	(void)state;
	memset(in, 0, sizeof(in));
	for (int i = 0; i < 5; i++)
		in[i].kind = (sc_kind)(i % 4);
	in[0].owners = a;
	in[1].owners = a;     /* consecutive: one copy */
	in[2].owners = NULL;  /* nobody */
	in[3].owners = "";
	in[4].owners = b;
	strcpy(in[4].state, "LISTEN");
	assert_int_equal(sc_lsrows_pack(in, 5, &out), 0);
	assert_non_null(out);
	/* the input is untouched, the copies live after the last row */
	assert_ptr_equal(in[0].owners, a);
	assert_string_equal(out[0].owners, "liz,tim");
	assert_ptr_equal(out[0].owners, (const char *)(out + 5));
	assert_ptr_equal(out[1].owners, out[0].owners);
	assert_string_equal(out[2].owners, "-");
	assert_string_equal(out[3].owners, "-");
	assert_string_equal(out[4].owners, "bob");
	assert_ptr_equal(out[4].owners, out[0].owners + 8);
	assert_string_equal(out[4].state, "LISTEN");
	for (int i = 0; i < 5; i++)
		assert_int_equal(out[i].kind, (sc_kind)(i % 4));
	/* scribbling over the input does not reach the copies */
	strcpy(a, "xxxxxxx");
	assert_string_equal(out[1].owners, "liz,tim");
	free(out);

	out = in;
	assert_int_equal(sc_lsrows_pack(in, 0, &out), 0);
	assert_null(out);
}

/* ---- the model's ls ------------------------------------------------------ */

typedef struct env {
	sc_backend *b;
	char msg[256];
} env;

static int setup(void **state)
{
	env *e = calloc(1, sizeof(*e));
	sc_backend_config cfg = { .seed = 1, .explain = false, .pcap = NULL };

	assert_non_null(e);
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

static int call_err(sc_result *r)
{
	int err = r->kind == SC_R_ERR ? r->err : 0;

	sc_result_clear(r);
	return err;
}

static int new_proc(env *e, const char *name, const char *host)
{
	int p = e->b->ops->proc(e->b, name, host, 1000, 0, e->msg, sizeof(e->msg));

	assert_true(p >= 0);
	return p;
}

static int sock(env *e, int p, sc_kind k)
{
	sc_result r;

	e->b->ops->socket(e->b, p, k, &r);
	int fd = r.fd;
	assert_int_equal(call_err(&r), 0);
	return fd;
}

static sc_sockaddr v4(uint16_t port)
{
	sc_sockaddr a;

	memset(&a, 0, sizeof(a));
	a.sa.family = ST_AF_INET;
	a.sa.addr = st_addr_v4(0x7f000001u);
	a.sa.port = port;
	return a;
}

static int do_bind(env *e, int p, int fd, uint16_t port)
{
	sc_result r;
	sc_sockaddr a = v4(port);

	e->b->ops->bind(e->b, p, fd, &a, &r);
	return call_err(&r);
}

static int do_connect(env *e, int p, int fd, uint16_t port)
{
	sc_result r;
	sc_sockaddr a = v4(port);

	e->b->ops->connect(e->b, p, fd, &a, false, &r);
	return call_err(&r);
}

static int do_sendfd(env *e, int p, int fd, int to)
{
	sc_result r;

	e->b->ops->sendfd(e->b, p, fd, to, &r);
	int nfd = r.fd;
	assert_int_equal(call_err(&r), 0);
	return nfd;
}

static int cmp_line(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The host's rows as printed ("proto state local peer owners"), one per
 * line, sorted; ephemeral ports are shown as "E". */
static char *ls_text(env *e, const char *host, size_t *nrows)
{
	sc_lsrow *rows = NULL;
	size_t n = 0, used = 0;

	assert_int_equal(e->b->ops->ls(e->b, host, &rows, &n), 0);
	char **lines = calloc(n + 1, sizeof(*lines));
	assert_non_null(lines);
	for (size_t i = 0; i < n; i++) {
		sc_buf f[5];
		char *l = malloc(512);

		assert_non_null(l);
		memset(f, 0, sizeof(f));
		sc_fmt_lsrow_fields(&rows[i], f);
		snprintf(l, 512, "%s %s %s %s %s", sc_buf_str(&f[0]), sc_buf_str(&f[1]), sc_buf_str(&f[2]),
			 sc_buf_str(&f[3]), sc_buf_str(&f[4]));
		for (int k = 0; k < 5; k++)
			sc_buf_free(&f[k]);
		for (char *c = strstr(l, ":"); c != NULL; c = strstr(c + 1, ":")) {
			unsigned port = (unsigned)atoi(c + 1);

			if (port >= 32768) {  /* ephemeral: "E" and the digits removed */
				size_t digits = strspn(c + 1, "0123456789");
				c[1] = 'E';
				memmove(c + 2, c + 1 + digits, strlen(c + 1 + digits) + 1);
			}
		}
		lines[i] = l;
	}
	qsort(lines, n, sizeof(*lines), cmp_line);
	char *out = calloc(1, n * 512 + 1);
	assert_non_null(out);
	for (size_t i = 0; i < n; i++) {
		used += (size_t)sprintf(out + used, "%s\n", lines[i]);
		free(lines[i]);
	}
	free(lines);
	free(rows);   /* everything: the owner lists are in the same block */
	if (nrows)
		*nrows = n;
	return out;
}

static void expect_ls(env *e, const char *host, const char *want)
{
	char *got = ls_text(e, host, NULL);

	assert_string_equal(got, want);
	free(got);
}

/* Owners through fork, sendfd (to itself, to another host), exit. */
static void test_shared_owners(void **state)
{
	env *e = *state;

	assert_int_equal(e->b->ops->host(e->b, "far", e->msg, sizeof(e->msg)), 0);
	int liz = new_proc(e, "liz", "local");
	int tim = new_proc(e, "tim", "local");
	int zed = new_proc(e, "zed", "far");
	int l = sock(e, liz, SC_TCP4);
	assert_int_equal(do_bind(e, liz, l, 8080), 0);
	sc_result r;
	e->b->ops->listen(e->b, liz, l, 8, &r);
	assert_int_equal(call_err(&r), 0);
	int u = sock(e, tim, SC_UDP4);
	assert_int_equal(do_bind(e, tim, u, 5353), 0);
	(void)sock(e, tim, SC_TCP4);   /* unbound: not listed */
	int kid = -1;
	e->b->ops->fork(e->b, liz, "kid", &kid, &r);
	assert_int_equal(call_err(&r), 0);
	(void)do_sendfd(e, tim, u, tim);  /* tim holds u twice: named once */
	(void)do_sendfd(e, tim, u, zed);  /* a process of another host */
	expect_ls(e, "local",
		  "tcp4 LISTEN 127.0.0.1:8080 * kid,liz\n"
		  "udp4 UNCONN 127.0.0.1:5353 * tim,zed\n");
	expect_ls(e, "far", "");
	e->b->ops->exit(e->b, liz, &r);
	sc_result_clear(&r);
	e->b->ops->exit(e->b, zed, &r);
	sc_result_clear(&r);
	expect_ls(e, "local",
		  "tcp4 LISTEN 127.0.0.1:8080 * kid\n"
		  "udp4 UNCONN 127.0.0.1:5353 * tim\n");
}

/* Sockets no descriptor holds: a child not yet accepted, an orphan in
 * FIN-WAIT-2, TIME-WAIT; they are found although the tables miss them. */
static void test_unheld(void **state)
{
	env *e = *state;
	sc_result r;
	int srv = new_proc(e, "srv", "local");
	int cli = new_proc(e, "cli", "local");
	int l = sock(e, srv, SC_TCP4);
	assert_int_equal(do_bind(e, srv, l, 9000), 0);
	e->b->ops->listen(e->b, srv, l, 8, &r);
	assert_int_equal(call_err(&r), 0);
	int c1 = sock(e, cli, SC_TCP4);
	assert_int_equal(do_connect(e, cli, c1, 9000), 0);
	expect_ls(e, "local",
		  "tcp4 ESTAB 127.0.0.1:9000 127.0.0.1:E -\n"
		  "tcp4 ESTAB 127.0.0.1:E 127.0.0.1:9000 cli\n"
		  "tcp4 LISTEN 127.0.0.1:9000 * srv\n");
	e->b->ops->accept(e->b, srv, l, &r);
	int a1 = r.fd;
	assert_int_equal(call_err(&r), 0);
	e->b->ops->close(e->b, cli, c1, &r);   /* cli: FIN-WAIT-2, an orphan */
	assert_int_equal(call_err(&r), 0);
	expect_ls(e, "local",
		  "tcp4 CLOSE-WAIT 127.0.0.1:9000 127.0.0.1:E srv\n"
		  "tcp4 FIN-WAIT-2 127.0.0.1:E 127.0.0.1:9000 -\n"
		  "tcp4 LISTEN 127.0.0.1:9000 * srv\n");
	e->b->ops->close(e->b, srv, a1, &r);
	assert_int_equal(call_err(&r), 0);
	expect_ls(e, "local",
		  "tcp4 LISTEN 127.0.0.1:9000 * srv\n"
		  "tcp4 TIME-WAIT 127.0.0.1:E 127.0.0.1:9000 -\n");
	e->b->ops->sleep(e->b, 61000000000ull);
	expect_ls(e, "local", "tcp4 LISTEN 127.0.0.1:9000 * srv\n");
	e->b->ops->exit(e->b, srv, &r);
	sc_result_clear(&r);
	expect_ls(e, "local", "");
}

/* Many sockets over several descriptor tables, with holes (closed
 * descriptors) and a few shared sockets among them: every socket once. */
static void test_many(void **state)
{
	env *e = *state;
	enum { PROCS = 4, PER = 900 };
	int p[PROCS], fds[PROCS][PER];
	sc_result r;

	for (int i = 0; i < PROCS; i++) {
		char name[16];

		snprintf(name, sizeof(name), "p%d", i);
		p[i] = new_proc(e, name, "local");
		for (int k = 0; k < PER; k++) {
			fds[i][k] = sock(e, p[i], (k & 1) ? SC_UDP4 : SC_TCP4);
			assert_int_equal(do_bind(e, p[i], fds[i][k], (uint16_t)(1024 + i * PER + k)), 0);
		}
	}
	/* holes: every 7th descriptor of p1 closed */
	size_t closed = 0;
	for (int k = 0; k < PER; k += 7, closed++) {
		e->b->ops->close(e->b, p[1], fds[1][k], &r);
		assert_int_equal(call_err(&r), 0);
	}
	/* p0's sockets 0, 100, 200 also go to p3 (and 0 to p2 as well) */
	for (int k = 0; k < 300; k += 100)
		(void)do_sendfd(e, p[0], fds[0][k], p[3]);
	(void)do_sendfd(e, p[0], fds[0][0], p[2]);
	size_t n = 0;
	char *t = ls_text(e, "local", &n);
	assert_int_equal(n, (size_t)PROCS * PER - closed);
	assert_non_null(strstr(t, "tcp4 BOUND 127.0.0.1:1024 * p0,p2,p3\n"));
	assert_non_null(strstr(t, "tcp4 BOUND 127.0.0.1:1124 * p0,p3\n"));
	assert_non_null(strstr(t, "tcp4 BOUND 127.0.0.1:1224 * p0,p3\n"));
	assert_non_null(strstr(t, "udp4 UNCONN 127.0.0.1:1025 * p0\n"));
	assert_null(strstr(t, "127.0.0.1:1924 "));   /* p1's first, closed */
	assert_non_null(strstr(t, "udp4 UNCONN 127.0.0.1:1925 * p1\n"));
	assert_non_null(strstr(t, "udp4 UNCONN 127.0.0.1:4623 * p3\n"));
	free(t);
	/* each process's name is in the block once, shared by its rows */
	sc_lsrow *rows = NULL;
	assert_int_equal(e->b->ops->ls(e->b, "local", &rows, &n), 0);
	const char *p1 = NULL;
	size_t held_by_p1 = 0;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(rows[i].owners, "p1") != 0)
			continue;
		if (p1 == NULL)
			p1 = rows[i].owners;
		assert_ptr_equal(rows[i].owners, p1);
		held_by_p1++;
	}
	assert_int_equal(held_by_p1, PER - closed);
	assert_true(p1 >= (const char *)(rows + n));   /* after the last row */
	free(rows);
}

/* A failed allocation anywhere in ls: ENOMEM, nothing leaked, and the
 * next ls is whole. */
static void test_alloc_failures(void **state)
{
	env *e = *state;
	sc_result r;
	int a = new_proc(e, "a", "local");
	int l = sock(e, a, SC_TCP4);
	assert_int_equal(do_bind(e, a, l, 7000), 0);
	e->b->ops->listen(e->b, a, l, 8, &r);
	assert_int_equal(call_err(&r), 0);
	int c = sock(e, a, SC_TCP4);
	assert_int_equal(do_connect(e, a, c, 7000), 0);   /* child unheld */
	int b = -1;
	e->b->ops->fork(e->b, a, "b", &b, &r);         /* all shared */
	assert_int_equal(call_err(&r), 0);
	char *want = ls_text(e, "local", NULL);
	int failed = 0;
	for (uint64_t k = 1; k < 64; k++) {
		sc_lsrow *rows = NULL;
		size_t n = 0;

		st_alloc_fail_at(k);
		int rc = e->b->ops->ls(e->b, "local", &rows, &n);
		uint64_t seen = st_alloc_fail_at(0);
		if (rc == 0) {
			/* no allocation failed: k is past the last one */
			assert_true(seen < k);
			free(rows);
			break;
		}
		assert_int_equal(rc, -ENOMEM);
		failed++;
		char *again = ls_text(e, "local", NULL);
		assert_string_equal(again, want);
		free(again);
	}
	assert_int_equal(failed, 3);   /* the tables' list, the block, the shared list */
	free(want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pack),
		cmocka_unit_test_setup_teardown(test_shared_owners, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unheld, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alloc_failures, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
