/*
 * test_run.c - the scenario runner against a scripted fake backend.
 *
 * The fake backend (below) answers each call with the next entry of a
 * script the test writes, and logs every call with the process id and
 * descriptor it received.  That separates what the runner owns from what
 * a backend owns: these tests check the transcript text, expectation
 * matching (alternatives, `*` ports, data escapes, ls rows as a set),
 * descriptor bookkeeping across fork/sendfd/close and failed creations,
 * fatal and skipped world statements, --json (checked by a small JSON
 * validator) and the --annotate round trip.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario/ast.h"
#include "scenario/lsrows.h"
#include "scenario/match.h"
#include "scenario/names.h"
#include "scenario/print.h"
#include "scenario/run.h"

/* ---- the fake backend ------------------------------------------------- */

typedef struct fake {
	sc_backend base;
	const char *const *script;  /* one entry per call, NULL-terminated */
	size_t next;
	char log[16384];
	size_t loglen;
	int next_fd, next_pid;
	int world_calls;
	int fail_world_at;          /* 1-based world call that fails, or 0 */
	int fail_rc;
	sc_lsrow rows[16];
	char owners[16][256];       /* rows[i].owners points at owners[i] */
	size_t nrows;
	int destroyed;
} fake;

static fake *F(sc_backend *b)
{
	return (fake *)b;
}

static void logf_(fake *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(fake *f, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(f->log + f->loglen, sizeof(f->log) - f->loglen, fmt, ap);
	va_end(ap);
	if (n > 0)
		f->loglen += (size_t)n;
	if (f->loglen >= sizeof(f->log))
		f->loglen = sizeof(f->log) - 1;
}

static void parse_sa(const char *text, sc_sockaddr *out)
{
	memset(out, 0, sizeof(*out));
	if (st_sockaddr_parse(text, &out->sa) != 0)
		fail_msg("fake: bad address in script: %s", text);
}

/* Spec forms: "ok", "ok ADDR", "err NAME", "addr ADDR", "data BYTES",
 * "from ADDR BYTES", "int N", "pair A B", "str S", "errname 0|NAME";
 * a suffix " ## TEXT" becomes the explanation. */
static void answer(fake *f, sc_result *r, bool gives_fd)
{
	const char *spec = f->script ? f->script[f->next] : NULL;
	char buf[256], *expl, *arg;

	memset(r, 0, sizeof(*r));
	if (spec == NULL) {
		logf_(f, "  (out of script)\n");
		r->kind = SC_R_ERR;
		r->err = EIO;
		return;
	}
	f->next++;
	snprintf(buf, sizeof(buf), "%s", spec);
	expl = strstr(buf, " ## ");
	if (expl != NULL) {
		*expl = '\0';
		r->explain = strdup(expl + 4);
	}
	arg = strchr(buf, ' ');
	if (arg != NULL)
		*arg++ = '\0';
	if (strcmp(buf, "ok") == 0) {
		r->kind = arg ? SC_R_OK_ADDR : SC_R_OK;
		if (arg)
			parse_sa(arg, &r->addr);
		if (gives_fd)
			r->fd = f->next_fd++;
	} else if (strcmp(buf, "err") == 0) {
		r->kind = SC_R_ERR;
		r->err = sc_errno_lookup(arg, strlen(arg));
	} else if (strcmp(buf, "addr") == 0) {
		r->kind = SC_R_ADDR;
		parse_sa(arg, &r->addr);
	} else if (strcmp(buf, "data") == 0 || strcmp(buf, "from") == 0) {
		const char *d = arg ? arg : "";

		r->kind = SC_R_DATA;
		if (buf[0] == 'f') {
			char *sp = strchr(arg, ' ');

			*sp = '\0';
			parse_sa(arg, &r->addr);
			d = sp + 1;
			r->kind = SC_R_DATA_FROM;
		}
		r->len = strlen(d);
		if (r->len > 0) {
			r->data = malloc(r->len);
			memcpy(r->data, d, r->len);
		}
	} else if (strcmp(buf, "int") == 0) {
		r->kind = SC_R_INT;
		r->ival = atoll(arg);
	} else if (strcmp(buf, "pair") == 0) {
		r->kind = SC_R_LINGER;
		sscanf(arg, "%" SCNd64 " %" SCNd64, &r->ival, &r->ival2);
	} else if (strcmp(buf, "str") == 0) {
		r->kind = SC_R_STR;
		snprintf(r->str, sizeof(r->str), "%s", arg ? arg : "");
	} else if (strcmp(buf, "errname") == 0) {
		r->kind = SC_R_ERRNAME;
		r->err = strcmp(arg, "0") == 0 ? 0 : sc_errno_lookup(arg, strlen(arg));
	} else {
		fail_msg("fake: bad script entry %s", spec);
	}
}

static int world(fake *f, char *msg, size_t len)
{
	f->world_calls++;
	if (f->world_calls == f->fail_world_at) {
		snprintf(msg, len, "scripted failure");
		return f->fail_rc;
	}
	return 0;
}

static int f_host(sc_backend *b, const char *name, char *msg, size_t len)
{
	logf_(F(b), "host %s\n", name);
	return world(F(b), msg, len);
}

static int f_addr(sc_backend *b, const char *host, const st_addr *a, int family, int plen,
		  char *msg, size_t len)
{
	char t[64];

	st_addr_format(a, family, t, sizeof(t));
	logf_(F(b), "addr %s %s/%d\n", host, t, plen);
	return world(F(b), msg, len);
}

static int f_link(sc_backend *b, const char *h1, const st_addr *a1, int f1, int p1, const char *h2,
		  const st_addr *a2, int f2, int p2, uint64_t delay, char *msg, size_t len)
{
	char t1[64], t2[64];

	st_addr_format(a1, f1, t1, sizeof(t1));
	st_addr_format(a2, f2, t2, sizeof(t2));
	logf_(F(b), "link %s:%s/%d %s:%s/%d %llu\n", h1, t1, p1, h2, t2, p2, (unsigned long long)delay);
	return world(F(b), msg, len);
}

static int f_sysctl(sc_backend *b, const char *host, const char *key, const char *const *v, int n,
		    char *msg, size_t len)
{
	logf_(F(b), "sysctl %s %s", host, key);
	for (int i = 0; i < n; i++)
		logf_(F(b), " [%s]", v[i]);
	logf_(F(b), "\n");
	return world(F(b), msg, len);
}

static int f_proc(sc_backend *b, const char *name, const char *host, uint32_t uid, uint32_t caps,
		  char *msg, size_t len)
{
	int rc;

	logf_(F(b), "proc %s@%s uid=%u caps=%u -> %d\n", name, host, uid, caps, F(b)->next_pid);
	rc = world(F(b), msg, len);
	return rc != 0 ? rc : F(b)->next_pid++;
}

#define OP(name, ...)                                                   \
	static void f_##name(sc_backend *b, int p, int fd, sc_result *r) \
	{                                                               \
		logf_(F(b), #name " p%d fd%d\n", p, fd);                \
		answer(F(b), r, __VA_ARGS__);                           \
	}

OP(accept, true)
OP(recv, false)
OP(recvfrom, false)
OP(getsockname, false)
OP(getpeername, false)
OP(close, false)

static void f_socket(sc_backend *b, int p, sc_kind k, sc_result *r)
{
	logf_(F(b), "socket p%d %s\n", p, sc_kind_name(k));
	answer(F(b), r, true);
}

static void f_setsockopt(sc_backend *b, int p, int fd, sc_opt o, const sc_optval *v, sc_result *r)
{
	logf_(F(b), "setsockopt p%d fd%d %s %lld,%lld,%s\n", p, fd, sc_opt_name(o), (long long)v->i,
	      (long long)v->i2, v->str);
	answer(F(b), r, false);
}

static void f_getsockopt(sc_backend *b, int p, int fd, sc_opt o, sc_result *r)
{
	logf_(F(b), "getsockopt p%d fd%d %s\n", p, fd, sc_opt_name(o));
	answer(F(b), r, false);
}

static void log_sa(fake *f, const sc_sockaddr *a)
{
	sc_buf b = { 0 };

	sc_fmt_sockaddr(&b, a);
	logf_(f, " %s", sc_buf_str(&b));
	sc_buf_free(&b);
}

static void f_bind(sc_backend *b, int p, int fd, const sc_sockaddr *a, sc_result *r)
{
	logf_(F(b), "bind p%d fd%d", p, fd);
	log_sa(F(b), a);
	logf_(F(b), "\n");
	answer(F(b), r, false);
}

static void f_listen(sc_backend *b, int p, int fd, int backlog, sc_result *r)
{
	logf_(F(b), "listen p%d fd%d %d\n", p, fd, backlog);
	answer(F(b), r, false);
}

static void f_connect(sc_backend *b, int p, int fd, const sc_sockaddr *a, bool nb, sc_result *r)
{
	logf_(F(b), "connect p%d fd%d", p, fd);
	log_sa(F(b), a);
	logf_(F(b), "%s\n", nb ? " nonblock" : "");
	answer(F(b), r, false);
}

static void f_send(sc_backend *b, int p, int fd, const uint8_t *d, size_t n, sc_result *r)
{
	logf_(F(b), "send p%d fd%d %zu:%.*s\n", p, fd, n, (int)n, d ? (const char *)d : "");
	answer(F(b), r, false);
}

static void f_sendto(sc_backend *b, int p, int fd, const sc_sockaddr *a, const uint8_t *d, size_t n,
		     sc_result *r)
{
	logf_(F(b), "sendto p%d fd%d", p, fd);
	log_sa(F(b), a);
	logf_(F(b), " %zu:%.*s\n", n, (int)n, d ? (const char *)d : "");
	answer(F(b), r, false);
}

static void f_shutdown(sc_backend *b, int p, int fd, sc_shut h, sc_result *r)
{
	logf_(F(b), "shutdown p%d fd%d %s\n", p, fd, sc_shut_name(h));
	answer(F(b), r, false);
}

static void f_fork(sc_backend *b, int p, const char *child, int *out, sc_result *r)
{
	logf_(F(b), "fork p%d %s -> %d\n", p, child, F(b)->next_pid);
	answer(F(b), r, false);
	if (r->kind == SC_R_OK)
		*out = F(b)->next_pid++;
}

static void f_sendfd(sc_backend *b, int p, int fd, int to, sc_result *r)
{
	logf_(F(b), "sendfd p%d fd%d to p%d\n", p, fd, to);
	answer(F(b), r, true);
}

static void f_exit(sc_backend *b, int p, sc_result *r)
{
	logf_(F(b), "exit p%d\n", p);
	answer(F(b), r, false);
}

static void f_sleep(sc_backend *b, uint64_t ns)
{
	logf_(F(b), "sleep %llu\n", (unsigned long long)ns);
}

static int f_ls(sc_backend *b, const char *host, sc_lsrow **rows, size_t *n)
{
	fake *f = F(b);

	logf_(f, "ls %s\n", host);
	if (f->fail_world_at == -1)
		return -SC_ESKIP;
	/* as a backend must: rows and owner lists in one block */
	assert_int_equal(sc_lsrows_pack(f->rows, f->nrows, rows), 0);
	*n = f->nrows;
	return 0;
}

static void f_destroy(sc_backend *b)
{
	F(b)->destroyed++;
}

static const sc_backend_ops fake_ops = {
	.name = "fake",
	.host = f_host, .addr = f_addr, .link = f_link, .sysctl = f_sysctl, .proc = f_proc,
	.socket = f_socket, .setsockopt = f_setsockopt, .getsockopt = f_getsockopt,
	.bind = f_bind, .listen = f_listen, .connect = f_connect, .accept = f_accept,
	.send = f_send, .sendto = f_sendto, .recv = f_recv, .recvfrom = f_recvfrom,
	.getsockname = f_getsockname, .getpeername = f_getpeername, .shutdown = f_shutdown,
	.close = f_close, .fork = f_fork, .sendfd = f_sendfd, .exit = f_exit,
	.sleep = f_sleep, .ls = f_ls, .destroy = f_destroy,
};

static void fake_init(fake *f, const char *const *script)
{
	memset(f, 0, sizeof(*f));
	f->base.ops = &fake_ops;
	f->script = script;
	f->next_fd = 3;
}

static void add_row(fake *f, sc_kind k, const char *state, const char *local, const char *peer,
		    const char *owners)
{
	char *o = f->owners[f->nrows];
	sc_lsrow *r = &f->rows[f->nrows++];

	memset(r, 0, sizeof(*r));
	r->kind = k;
	snprintf(r->state, sizeof(r->state), "%s", state);
	parse_sa(local, &r->local);
	if (peer != NULL)
		parse_sa(peer, &r->peer);
	snprintf(o, sizeof(f->owners[0]), "%s", owners);
	r->owners = o;
}

/* ---- running ------------------------------------------------------------ */

struct outcome {
	int status;
	char *out, *err;
	sc_run_stats st;
};

static void run_text(const char *src, fake *f, sc_mode mode, bool explain, struct outcome *oc)
{
	sc_script *s;
	sc_diags d;
	size_t ol, el;
	FILE *out, *err;
	sc_run_opts o;

	if (sc_parse("t.scn", src, strlen(src), &s, &d) != 0) {
		for (uint32_t i = 0; i < d.n; i++)
			print_error("%u:%u: %s\n", d.d[i].loc.line, d.d[i].loc.col, d.d[i].msg);
		fail_msg("scenario did not parse:\n%s", src);
	}
	out = open_memstream(&oc->out, &ol);
	err = open_memstream(&oc->err, &el);
	assert_non_null(out);
	assert_non_null(err);
	o = (sc_run_opts){ .mode = mode, .explain = explain, .out = out, .err = err };
	oc->status = sc_run(s, &f->base, &o, &oc->st);
	fclose(out);
	fclose(err);
	sc_script_free(s);
}

static void outcome_free(struct outcome *oc)
{
	free(oc->out);
	free(oc->err);
}

static void assert_text(const char *got, const char *want)
{
	if (strcmp(got, want) != 0)
		fail_msg("output differs.\n--- wanted:\n%s--- got:\n%s---", want, got);
}

/* ---- tests ----------------------------------------------------------------- */

static void test_transcript(void **state)
{
	static const char *const script[] = {
		"ok", "ok", "ok ## bound because nothing else is there\nsecond line", "err EADDRINUSE",
		"data hi\n\x01", NULL,
	};
	fake f;
	struct outcome oc;

	(void)state;
	fake_init(&f, script);
	run_text("# comment lines are not echoed\n"
		 "proc liz\n"
		 "sleep 2ms\n"
		 "liz: s = socket tcp4\n"
		 "liz: t = socket tcp4   # note\n"
		 "liz: bind s 127.0.0.1:80 => ok\n"
		 "liz: bind t 127.0.0.1:80 => ok | EACCES\n"
		 "liz: recv s => \"hi\\n\\x01\"\n",
		 &f, SC_MODE_TRANSCRIPT, true, &oc);
	assert_int_equal(oc.status, 1);
	assert_text(oc.out,
		    "proc liz\n"
		    "sleep 2ms\n"
		    "liz: s = socket tcp4                    => ok\n"
		    "liz: t = socket tcp4                    => ok\n"
		    "liz: bind s 127.0.0.1:80                => ok\n"
		    "    # bound because nothing else is there\n"
		    "    # second line\n"
		    "liz: bind t 127.0.0.1:80                => EADDRINUSE\n"
		    "!! FAIL t.scn:7: expected ok | EACCES, got EADDRINUSE\n"
		    "liz: recv s                             => \"hi\\n\\x01\"\n"
		    "# t.scn: 7 statements, 3 expectations: 2 held, 1 failed\n");
	assert_text(oc.err, "");
	assert_int_equal(oc.st.executed, 7);
	assert_int_equal(oc.st.failed, 1);
	assert_text(f.log,
		    "proc liz@local uid=1000 caps=0 -> 0\n"
		    "sleep 2000000\n"
		    "socket p0 tcp4\n"
		    "socket p0 tcp4\n"
		    "bind p0 fd3 127.0.0.1:80\n"
		    "bind p0 fd4 127.0.0.1:80\n"
		    "recv p0 fd3\n");
	outcome_free(&oc);

	/* without --explain the explanation is not printed; long statements
	 * push `=>` one blank after the text */
	fake_init(&f, script);
	run_text("proc a_rather_long_process_name\n"
		 "a_rather_long_process_name: s = socket tcp4\n",
		 &f, SC_MODE_TRANSCRIPT, false, &oc);
	assert_int_equal(oc.status, 0);
	assert_text(oc.out,
		    "proc a_rather_long_process_name\n"
		    "a_rather_long_process_name: s = socket tcp4 => ok\n"
		    "# t.scn: 2 statements, 0 expectations: 0 held, 0 failed\n");
	outcome_free(&oc);
}

struct mcase {
	const char *expect;     /* the expectation as written */
	const char *verb;       /* statement, with socket s open */
	const char *result;     /* the fake's answer */
	bool held;
};

static void test_matching(void **state)
{
	static const struct mcase cases[] = {
		{ "ok", "bind s 127.0.0.1:1", "ok", true },
		{ "ok", "bind s 127.0.0.1:1", "err EADDRINUSE", false },
		{ "EADDRINUSE | ok", "bind s 127.0.0.1:1", "err EADDRINUSE", true },
		{ "EACCES | EPERM", "bind s 127.0.0.1:1", "err EADDRINUSE", false },
		{ "ok 127.0.0.1:*", "a = accept s", "ok 127.0.0.1:40000", true },
		{ "ok 127.0.0.1:*", "a = accept s", "ok 127.0.0.2:40000", false },
		{ "ok 127.0.0.1:40001", "a = accept s", "ok 127.0.0.1:40000", false },
		{ "ok", "a = accept s", "ok 127.0.0.1:40000", true },
		{ "ok [::1]:*", "a = accept s", "ok 127.0.0.1:40000", false },
		{ "ok [::ffff:127.0.0.1]:*", "a = accept s", "ok [::ffff:127.0.0.1]:1", true },
		{ "ok [::ffff:127.0.0.1]:*", "a = accept s", "ok 127.0.0.1:1", false },
		{ "EAGAIN | ok 127.0.0.1:*", "a = accept s", "err EAGAIN", true },
		{ "[fe80::1%2]:80", "getsockname s", "addr [fe80::1]:80", false },
		{ "[::]:80", "getsockname s", "addr [::]:80", true },
		{ "0.0.0.0:*", "getsockname s", "addr 0.0.0.0:5", true },
		{ "\"a\\x00b\"", "recv s", "data a", false },
		{ "\"\"", "recv s", "data ", true },
		{ "\"tab\\there\"", "recv s", "data tab\there", true },
		{ "\"x\" from 127.0.0.1:*", "recvfrom s", "from 127.0.0.1:9 x", true },
		{ "\"x\" from 127.0.0.1:8", "recvfrom s", "from 127.0.0.1:9 x", false },
		{ "\"y\" from 127.0.0.1:9", "recvfrom s", "from 127.0.0.1:9 x", false },
		{ "\"x\"", "recvfrom s", "from 127.0.0.1:9 x", true },
		{ "1", "getsockopt s SO_REUSEADDR", "int 1", true },
		{ "0", "getsockopt s SO_REUSEADDR", "int 1", false },
		{ "-1", "getsockopt s SO_REUSEADDR", "int -1", true },
		{ "1,0", "getsockopt s SO_LINGER", "pair 1 0", true },
		{ "1,5", "getsockopt s SO_LINGER", "pair 1 0", false },
		{ "\"lo\"", "getsockopt s SO_BINDTODEVICE", "str lo", true },
		{ "\"\"", "getsockopt s SO_BINDTODEVICE", "str lo", false },
		{ "0", "getsockopt s SO_ERROR", "errname 0", true },
		{ "ECONNREFUSED", "getsockopt s SO_ERROR", "errname ECONNREFUSED", true },
		{ "0", "getsockopt s SO_ERROR", "errname ECONNREFUSED", false },
		{ "40000,40009", "getsockopt s IP_LOCAL_PORT_RANGE", "pair 40000 40009", true },
	};
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *script[] = { "ok", cases[i].result, NULL };
		char src[512];
		fake f;
		struct outcome oc;

		fake_init(&f, script);
		snprintf(src, sizeof(src), "proc p\np: s = socket tcp4\np: %s => %s\n", cases[i].verb,
			 cases[i].expect);
		run_text(src, &f, SC_MODE_TRANSCRIPT, false, &oc);
		if (oc.status != (cases[i].held ? 0 : 1)) {
			print_error("case %zu: '%s' against '%s': status %d\n%s", i, cases[i].expect,
				    cases[i].result, oc.status, oc.out);
			bad++;
		}
		/* the FAIL line quotes the expectation as written and the result as printed */
		if (!cases[i].held && strstr(oc.out, "!! FAIL t.scn:3: expected ") == NULL) {
			print_error("case %zu: no FAIL line\n%s", i, oc.out);
			bad++;
		}
		outcome_free(&oc);
	}
	assert_int_equal(bad, 0);
}

static void test_ls_sets(void **state)
{
	static const char src[] =
		"proc liz\nproc tim\n"
		"ls\n"
		"| udp4  UNCONN 127.0.0.1:8080   *   liz\n"
		"|tcp4 ESTAB 127.0.0.1:*   127.0.0.1:8080 tim\n"
		"| tcp4 LISTEN 127.0.0.1:8080 * tim,liz\n"
		"| tcp4 ESTAB 127.0.0.1:8080 127.0.0.1:* liz\n";
	fake f;
	struct outcome oc;

	(void)state;
	/* rows listed in another order, owners unsorted: they match */
	fake_init(&f, NULL);
	add_row(&f, SC_TCP4, "ESTAB", "127.0.0.1:8080", "127.0.0.1:40000", "liz");
	add_row(&f, SC_TCP4, "LISTEN", "127.0.0.1:8080", NULL, "tim,liz");
	add_row(&f, SC_TCP4, "ESTAB", "127.0.0.1:40000", "127.0.0.1:8080", "tim");
	add_row(&f, SC_UDP4, "UNCONN", "127.0.0.1:8080", NULL, "liz");
	run_text(src, &f, SC_MODE_TRANSCRIPT, false, &oc);
	assert_int_equal(oc.status, 0);
	/* printed sorted, aligned, owners sorted */
	assert_text(oc.out,
		    "proc liz\nproc tim\nls\n"
		    "| tcp4 LISTEN 127.0.0.1:8080  *               liz,tim\n"
		    "| tcp4 ESTAB  127.0.0.1:8080  127.0.0.1:40000 liz\n"
		    "| tcp4 ESTAB  127.0.0.1:40000 127.0.0.1:8080  tim\n"
		    "| udp4 UNCONN 127.0.0.1:8080  *               liz\n"
		    "# t.scn: 3 statements, 1 expectation: 1 held, 0 failed\n");
	outcome_free(&oc);

	/* one row more, one row different */
	fake_init(&f, NULL);
	add_row(&f, SC_TCP4, "ESTAB", "127.0.0.1:8080", "127.0.0.1:40000", "liz");
	add_row(&f, SC_TCP4, "LISTEN", "127.0.0.1:8080", NULL, "liz");
	add_row(&f, SC_TCP4, "ESTAB", "127.0.0.1:40000", "127.0.0.1:8080", "tim");
	add_row(&f, SC_UDP4, "UNCONN", "127.0.0.1:8080", NULL, "liz");
	add_row(&f, SC_UDP6, "UNCONN", "[::]:53", NULL, "-");
	run_text(src, &f, SC_MODE_TRANSCRIPT, false, &oc);
	assert_int_equal(oc.status, 1);
	assert_non_null(strstr(oc.out,
			       "!! FAIL t.scn:3: ls rows differ (4 expected, 5 listed)\n"
			       "!!   missing    | tcp4 LISTEN 127.0.0.1:8080 * tim,liz\n"
			       "!!   unexpected | tcp4 LISTEN 127.0.0.1:8080 * liz\n"
			       "!!   unexpected | udp6 UNCONN [::]:53        * -\n"));
	outcome_free(&oc);

	/* duplicates are a multiset: two identical rows need two patterns */
	fake_init(&f, NULL);
	add_row(&f, SC_UDP4, "UNCONN", "0.0.0.0:53", NULL, "liz");
	add_row(&f, SC_UDP4, "UNCONN", "0.0.0.0:53", NULL, "liz");
	run_text("proc liz\nls\n| udp4 UNCONN 0.0.0.0:53 * liz\n", &f, SC_MODE_TRANSCRIPT, false, &oc);
	assert_int_equal(oc.status, 1);
	outcome_free(&oc);
	fake_init(&f, NULL);
	add_row(&f, SC_UDP4, "UNCONN", "0.0.0.0:53", NULL, "liz");
	add_row(&f, SC_UDP4, "UNCONN", "0.0.0.0:53", NULL, "liz");
	run_text("proc liz\nls\n| udp4 UNCONN 0.0.0.0:53 * liz\n| udp4 UNCONN 0.0.0.0:* * liz\n", &f,
		 SC_MODE_TRANSCRIPT, false, &oc);
	assert_int_equal(oc.status, 0);
	outcome_free(&oc);
	/* no expected rows: ls is no test, and an empty table prints nothing */
	fake_init(&f, NULL);
	run_text("ls\n", &f, SC_MODE_TRANSCRIPT, false, &oc);
	assert_int_equal(oc.status, 0);
	assert_text(oc.out, "ls\n# t.scn: 1 statement, 0 expectations: 0 held, 0 failed\n");
	outcome_free(&oc);
}

/* Wildcard patterns that only a full matching pairs right: pattern B
 * (local :5000, peer *) and A (local *, peer :80) against rows (5000, 80)
 * and (5000, 81).  Taking rows greedily in written order gives B the first
 * row and leaves A, which matches only that row, without one; the
 * matching must move B to the second row. */
static void test_ls_bipartite(void **state)
{
	sc_lspat pats[2];
	sc_lsrow rows[2];
	long p2r[2];
	bool used[2];

	(void)state;
	memset(pats, 0, sizeof(pats));
	memset(rows, 0, sizeof(rows));
	for (int i = 0; i < 2; i++) {
		pats[i].kind = SC_TCP4;
		strcpy(pats[i].state, "ESTAB");
		strcpy(pats[i].owners, "liz");
		pats[i].has_peer = true;
		rows[i].kind = SC_TCP4;
		strcpy(rows[i].state, "ESTAB");
		rows[i].owners = "liz";
	}
	/* B: local 127.0.0.1:5000, peer 127.0.0.1:* */
	parse_sa("127.0.0.1:5000", &pats[0].local.sa);
	parse_sa("127.0.0.1:0", &pats[0].peer.sa);
	pats[0].peer.any_port = true;
	/* A: local 127.0.0.1:*, peer 127.0.0.1:80 */
	parse_sa("127.0.0.1:0", &pats[1].local.sa);
	pats[1].local.any_port = true;
	parse_sa("127.0.0.1:80", &pats[1].peer.sa);
	parse_sa("127.0.0.1:5000", &rows[0].local);
	parse_sa("127.0.0.1:80", &rows[0].peer);
	parse_sa("127.0.0.1:5000", &rows[1].local);
	parse_sa("127.0.0.1:81", &rows[1].peer);
	assert_true(sc_ls_match(pats, 2, rows, 2, p2r, used));
	assert_int_equal(p2r[0], 1);
	assert_int_equal(p2r[1], 0);
	/* and a real mismatch is reported as one */
	parse_sa("127.0.0.1:82", &rows[0].peer);
	assert_false(sc_ls_match(pats, 2, rows, 2, p2r, used));
}

static void test_descriptors(void **state)
{
	static const char *const script[] = {
		"ok",                 /* liz: s = socket        -> fd 3 */
		"err EAGAIN",         /* liz: c = accept s      (no fd) */
		"ok",                 /* liz: fork kid          -> pid 2 */
		"ok",                 /* kid: close s           (fd 3)  */
		"ok",                 /* liz: sendfd s tim      -> tim fd 4 */
		"ok",                 /* tim: close s           (fd 4)  */
		"err ENOMEM",         /* liz: fork kid2         fails   */
		"ok",                 /* liz: close s           (fd 3)  */
		"ok",                 /* liz: s = socket        -> fd 5 */
		"ok",                 /* liz: bind s            (fd 5)  */
		NULL,
	};
	fake f;
	struct outcome oc;

	(void)state;
	fake_init(&f, script);
	run_text("proc liz\nproc tim\n"
		 "liz: s = socket udp4\n"
		 "liz: c = accept s => EAGAIN\n"
		 "liz: recv c => EBADF\n"             /* runner's own answer */
		 "liz: fork kid\n"
		 "kid: close s\n"
		 "kid: recv c => EBADF\n"             /* the child copied "no socket" */
		 "liz: close c\n"
		 "liz: sendfd s tim\n"
		 "tim: close s\n"
		 "liz: fork kid2\n"
		 "kid2: recv s => ESRCH\n"            /* the fork failed */
		 "kid2: exit => ESRCH\n"
		 "liz: close s\n"
		 "liz: s = socket udp4\n"
		 "liz: bind s 127.0.0.1:5\n",
		 &f, SC_MODE_TRANSCRIPT, true, &oc);
	assert_int_equal(oc.status, 0);
	assert_text(f.log,
		    "proc liz@local uid=1000 caps=0 -> 0\n"
		    "proc tim@local uid=1000 caps=0 -> 1\n"
		    "socket p0 udp4\n"
		    "accept p0 fd3\n"
		    "fork p0 kid -> 2\n"
		    "close p2 fd3\n"
		    "sendfd p0 fd3 to p1\n"
		    "close p1 fd4\n"
		    "fork p0 kid2 -> 3\n"
		    "close p0 fd3\n"
		    "socket p0 udp4\n"
		    "bind p0 fd5 127.0.0.1:5\n");
	assert_non_null(strstr(oc.out, "liz: close c                            => EBADF\n"
				       "    # 'c' holds no socket: the call that should have created it failed\n"));
	assert_non_null(strstr(oc.out, "    # process 'kid2' does not exist: the fork that should have created it failed\n"));
	outcome_free(&oc);
}

static void test_world_calls_and_fatal(void **state)
{
	static const char src[] =
		"host far\n"
		"addr far 10.1.1.1/24\n"
		"link far:10.0.0.1/30 local:10.0.0.2/30 delay=1.5ms\n"
		"sysctl far net.ipv4.ip_local_port_range 40000 40009\n"
		"proc liz@far uid=0\n"
		"proc tim caps=net_bind_service\n"
		"ls far\n";
	fake f;
	struct outcome oc;

	(void)state;
	fake_init(&f, NULL);
	run_text(src, &f, SC_MODE_TRANSCRIPT, false, &oc);
	assert_int_equal(oc.status, 0);
	assert_text(f.log,
		    "host far\n"
		    "addr far 10.1.1.1/24\n"
		    "link far:10.0.0.1/30 local:10.0.0.2/30 1500000\n"
		    "sysctl far net.ipv4.ip_local_port_range [40000] [40009]\n"
		    "proc liz@far uid=0 caps=7 -> 0\n"
		    "proc tim@local uid=1000 caps=1 -> 1\n"
		    "ls far\n");
	outcome_free(&oc);

	/* the 4th world call fails: exit 2, FILE:LINE:COL on stderr, nothing after runs */
	fake_init(&f, NULL);
	f.fail_world_at = 4;
	f.fail_rc = -EINVAL;
	run_text(src, &f, SC_MODE_TRANSCRIPT, false, &oc);
	assert_int_equal(oc.status, 2);
	assert_text(oc.err, "t.scn:4:1: sysctl: scripted failure\n");
	assert_null(strstr(f.log, "proc"));
	assert_non_null(strstr(oc.out, "(stopped by an error)"));
	outcome_free(&oc);

	/* SC_ESKIP: exit 77 */
	fake_init(&f, NULL);
	f.fail_world_at = 5;
	f.fail_rc = -SC_ESKIP;
	run_text(src, &f, SC_MODE_TRANSCRIPT, false, &oc);
	assert_int_equal(oc.status, SC_SKIP);
	assert_text(oc.err, "t.scn:5:1: skipped: proc: scripted failure\n");
	outcome_free(&oc);

	/* ls asking for a skip */
	fake_init(&f, NULL);
	f.fail_world_at = -1;
	run_text("ls\n", &f, SC_MODE_TRANSCRIPT, false, &oc);
	assert_int_equal(oc.status, SC_SKIP);
	assert_text(oc.err, "t.scn:1:1: skipped: ls: not possible here\n");
	outcome_free(&oc);
}

/* ---- a small JSON validator (RFC 8259 grammar, no extensions) ------------ */

static const char *jws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

static const char *jvalue(const char *p, int depth);

static const char *jstring(const char *p)
{
	if (*p++ != '"')
		return NULL;
	while (*p != '"') {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20)
			return NULL;
		if (c == '\\') {
			p++;
			if (*p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!isxdigit((unsigned char)p[i]))
						return NULL;
				p += 5;
				continue;
			}
			if (!strchr("\"\\/bfnrt", *p) || *p == '\0')
				return NULL;
		}
		p++;
	}
	return p + 1;
}

static const char *jnumber(const char *p)
{
	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (isdigit((unsigned char)*p))
			p++;
	else
		return NULL;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return NULL;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!isdigit((unsigned char)*p))
			return NULL;
		while (isdigit((unsigned char)*p))
			p++;
	}
	return p;
}

static const char *jvalue(const char *p, int depth)
{
	if (depth > 32)
		return NULL;
	p = jws(p);
	if (*p == '{' || *p == '[') {
		char close = *p == '{' ? '}' : ']';
		bool obj = *p == '{';

		p = jws(p + 1);
		if (*p == close)
			return p + 1;
		for (;;) {
			if (obj) {
				p = jstring(jws(p));
				if (p == NULL)
					return NULL;
				p = jws(p);
				if (*p++ != ':')
					return NULL;
			}
			p = jvalue(p, depth + 1);
			if (p == NULL)
				return NULL;
			p = jws(p);
			if (*p == close)
				return p + 1;
			if (*p++ != ',')
				return NULL;
		}
	}
	if (*p == '"')
		return jstring(p);
	if (strncmp(p, "true", 4) == 0)
		return p + 4;
	if (strncmp(p, "false", 5) == 0)
		return p + 5;
	if (strncmp(p, "null", 4) == 0)
		return p + 4;
	return jnumber(p);
}

static bool json_line_ok(const char *line)
{
	const char *p = jvalue(line, 0);

	return p != NULL && *jws(p) == '\0' && jws(line)[0] == '{';
}

static void test_json_validator(void **state)
{
	(void)state;
	assert_true(json_line_ok("{\"a\":[1,-2.5e3,true,null,\"x\\u00e9\\n\"],\"b\":{}}"));
	assert_false(json_line_ok("{\"a\":1,}"));
	assert_false(json_line_ok("{\"a\":\"\x01\"}"));
	assert_false(json_line_ok("{\"a\":01}"));
	assert_false(json_line_ok("{\"a\":\"\\x41\"}"));
	assert_false(json_line_ok("{\"a\":1} x"));
}

static void test_json(void **state)
{
	static const char *const script[] = {
		"ok", "ok ## why\tnot \"quoted\"", "data \x01\x7f\"\\", "err EADDRINUSE", NULL,
	};
	fake f;
	struct outcome oc;
	char *line, *save = NULL;
	int n = 0;

	(void)state;
	fake_init(&f, script);
	add_row(&f, SC_TCP4, "LISTEN", "127.0.0.1:80", NULL, "liz");
	run_text("proc liz\n"
		 "liz: s = socket tcp4\n"
		 "liz: bind s 127.0.0.1:80 => ok\n"
		 "liz: recv s\n"
		 "liz: t = socket tcp4 => ok\n"
		 "ls\n"
		 "| tcp4 LISTEN 127.0.0.1:80 * liz\n",
		 &f, SC_MODE_JSON, true, &oc);
	assert_int_equal(oc.status, 1);
	for (line = strtok_r(oc.out, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		if (!json_line_ok(line))
			fail_msg("not a JSON object: %s", line);
		n++;
	}
	assert_int_equal(n, 7); /* 6 statements + summary */
	outcome_free(&oc);

	fake_init(&f, script);
	add_row(&f, SC_TCP4, "LISTEN", "127.0.0.1:80", NULL, "liz");
	run_text("proc liz\n"
		 "liz: s = socket tcp4\n"
		 "liz: bind s 127.0.0.1:80 => ok\n"
		 "liz: recv s\n"
		 "liz: t = socket tcp4 => ok\n"
		 "ls\n"
		 "| tcp4 LISTEN 127.0.0.1:80 * liz\n",
		 &f, SC_MODE_JSON, true, &oc);
	assert_non_null(strstr(oc.out,
			       "{\"file\":\"t.scn\",\"line\":3,\"col\":1,\"kind\":\"op\",\"proc\":\"liz\","
			       "\"verb\":\"bind\",\"args\":\"s 127.0.0.1:80\",\"text\":\"liz: bind s 127.0.0.1:80\","
			       "\"result\":{\"kind\":\"ok\",\"text\":\"ok\"},\"expected\":\"ok\",\"held\":true,"
			       "\"explain\":\"why\\tnot \\\"quoted\\\"\"}\n"));
	assert_non_null(strstr(oc.out, "\"result\":{\"kind\":\"data\",\"text\":\"\\\"\\\\x01\\\\x7f\\\\\\\"\\\\\\\\\\\"\"}"));
	assert_non_null(strstr(oc.out, "\"result\":{\"kind\":\"errno\",\"text\":\"EADDRINUSE\"},\"expected\":\"ok\",\"held\":false"));
	assert_non_null(strstr(oc.out, "\"rows\":[\"tcp4 LISTEN 127.0.0.1:80 * liz\"],\"expected\":[\"tcp4 LISTEN 127.0.0.1:80 * liz\"],\"held\":true"));
	assert_non_null(strstr(oc.out, "{\"summary\":true,\"file\":\"t.scn\",\"statements\":6,\"executed\":6,"
				       "\"expectations\":3,\"held\":2,\"failed\":1,\"status\":1}\n"));
	outcome_free(&oc);

	/* a failed ls names the missing and the unexpected rows */
	fake_init(&f, NULL);
	add_row(&f, SC_TCP4, "LISTEN", "127.0.0.1:80", NULL, "liz");
	run_text("proc liz\nls\n| tcp4 LISTEN 127.0.0.1:81   *   liz\n", &f, SC_MODE_JSON, false, &oc);
	assert_int_equal(oc.status, 1);
	assert_non_null(strstr(oc.out, "\"held\":false,\"missing\":[\"tcp4 LISTEN 127.0.0.1:81   *   liz\"],"
				       "\"unexpected\":[\"tcp4 LISTEN 127.0.0.1:80 * liz\"]}\n"));
	outcome_free(&oc);
}

static void test_annotate_round_trip(void **state)
{
	static const char src[] =
		"# a scenario with stale expectations\n"
		"proc liz\n"
		"\n"
		"liz: s = socket tcp4\n"
		"  liz: bind s 127.0.0.1:80  => EACCES   # wrong\n"
		"liz: t = socket tcp4                => ok | EMFILE\n"
		"liz: a = accept s => ok 127.0.0.1:*\n"
		"liz: recv t\n"
		"ls   # the table\n"
		"| tcp4 LISTEN 127.0.0.1:81 * liz\n"
		"| udp4 UNCONN 127.0.0.1:81 * liz\n"
		"# end\n";
	static const char *const script[] = {
		"ok", "ok", "ok", "ok 127.0.0.1:4242", "data two\nlines\x02", NULL,
	};
	fake f;
	struct outcome oc, again;

	(void)state;
	fake_init(&f, script);
	add_row(&f, SC_TCP4, "LISTEN", "127.0.0.1:80", NULL, "liz");
	run_text(src, &f, SC_MODE_ANNOTATE, false, &oc);
	assert_int_equal(oc.status, 0);
	assert_text(oc.out,
		    "# a scenario with stale expectations\n"
		    "proc liz\n"
		    "\n"
		    "liz: s = socket tcp4                    => ok\n"
		    "  liz: bind s 127.0.0.1:80              => ok  # wrong\n"
		    "liz: t = socket tcp4                    => ok | EMFILE\n"
		    "liz: a = accept s                       => ok 127.0.0.1:*\n"
		    "liz: recv t                             => \"two\\nlines\\x02\"\n"
		    "ls   # the table\n"
		    "| tcp4 LISTEN 127.0.0.1:80 * liz\n"
		    "# end\n");
	/* and the annotated file passes on the same backend */
	fake_init(&f, script);
	add_row(&f, SC_TCP4, "LISTEN", "127.0.0.1:80", NULL, "liz");
	run_text(oc.out, &f, SC_MODE_TRANSCRIPT, false, &again);
	assert_int_equal(again.status, 0);
	assert_int_equal(again.st.expectations, 6);
	assert_int_equal(again.st.held, 6);
	outcome_free(&again);
	outcome_free(&oc);

	/* a fatal run writes no annotation */
	fake_init(&f, script);
	f.fail_world_at = 1;
	f.fail_rc = -EPERM;
	run_text(src, &f, SC_MODE_ANNOTATE, false, &oc);
	assert_int_equal(oc.status, 2);
	assert_text(oc.out, "");
	outcome_free(&oc);
}

static void test_formatting(void **state)
{
	sc_buf b = { 0 };
	sc_result r;
	uint8_t all[256];

	(void)state;
	for (int i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	/* every byte value survives format -> parse */
	sc_fmt_data(&b, all, sizeof(all));
	{
		char *src = malloc(b.len + 64);
		sc_script *s;
		sc_diags d;

		sprintf(src, "proc p\np: s = socket tcp4\np: send s %s\n", sc_buf_str(&b));
		assert_int_equal(sc_parse("t.scn", src, strlen(src), &s, &d), 0);
		assert_int_equal(s->stmts[2].u.io.len, 256);
		assert_memory_equal(s->stmts[2].u.io.data, all, 256);
		sc_script_free(s);
		free(src);
	}
	sc_buf_reset(&b);
	memset(&r, 0, sizeof(r));
	r.kind = SC_R_ERR;
	r.err = 4000;
	sc_fmt_result(&b, &r);
	assert_string_equal(sc_buf_str(&b), "ERRNO_4000");
	sc_buf_reset(&b);
	r.kind = SC_R_ADDR;
	parse_sa("[fe80::1]:8080", &r.addr);
	strcpy(r.addr.ifname, "eth0");
	sc_fmt_result(&b, &r);
	assert_string_equal(sc_buf_str(&b), "[fe80::1%eth0]:8080");
	sc_buf_reset(&b);
	r.addr.sa.family = 0;
	sc_fmt_result(&b, &r);
	assert_string_equal(sc_buf_str(&b), "*");
	sc_buf_reset(&b);
	sc_json_str(&b, "a\xff\xc3\xa9\x01", 5);
	assert_string_equal(sc_buf_str(&b), "\"a\\ufffd\xc3\xa9\\u0001\"");
	sc_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transcript),
		cmocka_unit_test(test_matching),
		cmocka_unit_test(test_ls_sets),
		cmocka_unit_test(test_ls_bipartite),
		cmocka_unit_test(test_descriptors),
		cmocka_unit_test(test_world_calls_and_fatal),
		cmocka_unit_test(test_json_validator),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_annotate_round_trip),
		cmocka_unit_test(test_formatting),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
