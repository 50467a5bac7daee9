/*
 * test_full_alloc_walk.c - every allocation of a whole scenario run, made
 * to fail in turn (issue 6: "a failed call must lose nothing").
 *
 * The core's own walk (test_full_failwalk.c) fails the allocations of
 * library calls.  This one fails the allocations of everything a scenario
 * run does on the model backend -- the simulated world (hosts, processes,
 * descriptor tables, packets in flight), the stack (sockets, queues,
 * datagrams, TIME_WAIT records) and the core below them -- since all of
 * them allocate through st_malloc (src/core/alloc.h), whose countdown
 * st_alloc_fail_at() arms.
 *
 * For each scenario a clean run first records, after every statement, the
 * outcome and the `ls` rows of every host.  Then for N = 1, 2, ... a fresh
 * run fails the Nth allocation counted from the backend's creation, until
 * an N is past the last allocation.  After every statement of every run,
 * st_net_check() must pass on every host.  The statement in which the
 * failure happened must then show one of these, and the walk counts which:
 *
 *   enomem   the call returned ENOMEM (or ENOBUFS), and the `ls` rows of
 *            every host are exactly those before the call;
 *   lost     the failed allocation was on a packet's path (the copy put on
 *            a link, a datagram queued for a socket, the socket a SYN
 *            creates, a segment's room in the receive queue or its
 *            TIME_WAIT record): the whole run, from the start, prints
 *            exactly what a run prints in which that packet is lost on
 *            the wire (sim_fault_drop_packet) and no allocation fails;
 *   fatal    a world statement (host, addr, link, proc, sysctl), an `ls`,
 *            or the backend's creation failed with an out-of-memory
 *            message: the run stops there, as `socktab run` does (exit 2);
 *   absorbed nothing visible changed: the run prints exactly what the
 *            clean run prints (an explanation left out, a spare record).
 *
 * Statements before the failing one must print what the clean run
 * printed.  Every run is torn down with failures disarmed, so that the
 * sanitizer build (build-asan, CI tier 2) reports any leak a failure path
 * causes, and any crash is a crash of this test.
 *
 * Runs use --explain's code paths (the backend collects explanations), but
 * the compared text leaves explanations out: their words may change with
 * the code, their allocations are what is exercised here.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"
#include "scenario/ast.h"
#include "scenario/model.h"
#include "scenario/print.h"
#include "scenario/run.h"
#include "sim/sim.h"
#include "socktab/socktab.h"

/* ------------------------------------------------------------------ */
/* The scenarios                                                        */
/* ------------------------------------------------------------------ */

/* The first example of the language's specification, verbatim. */
static const char SPEC_FIRST[] =
	"proc liz\n"
	"proc tim\n"
	"liz: s1 = socket tcp4\n"
	"liz: bind s1 127.0.0.1:8080             => ok\n"
	"liz: listen s1                          => ok\n"
	"liz: s2 = socket udp4\n"
	"liz: bind s2 127.0.0.1:8080             => ok\n"
	"tim: c = socket tcp4\n"
	"tim: connect c 127.0.0.1:8080           => ok\n"
	"liz: a = accept s1                      => ok 127.0.0.1:*\n"
	"liz: exit\n"
	"tim: c2 = socket tcp4\n"
	"tim: connect c2 127.0.0.1:8080          => ECONNREFUSED\n";

/* UDP: datagrams both ways, IPv4 and IPv6, connect and disconnect-free
 * re-sends, a connected socket learning ECONNREFUSED from ICMP, an
 * autobind by sendto. */
static const char UDP[] =
	"sysctl net.ipv4.ip_local_port_range 40000 40009\n"
	"proc liz\n"
	"proc tim\n"
	"liz: s = socket udp4\n"
	"liz: bind s 127.0.0.1:5300              => ok\n"
	"tim: c = socket udp4\n"
	"tim: sendto c 127.0.0.1:5300 \"one\"      => ok\n"
	"tim: sendto c 127.0.0.1:5300 \"\\x00\\xff\" => ok\n"
	"liz: recvfrom s                         => \"one\" from 127.0.0.1:*\n"
	"liz: recvfrom s                         => \"\\x00\\xff\" from 127.0.0.1:*\n"
	"liz: recvfrom s                         => EAGAIN\n"
	"tim: connect c 127.0.0.1:5300           => ok\n"
	"tim: send c \"two\"                       => ok\n"
	"liz: recv s                             => \"two\"\n"
	"liz: r = socket udp6\n"
	"liz: setsockopt r SO_REUSEADDR 1        => ok\n"
	"liz: bind r [::1]:5300                  => ok\n"
	"tim: d = socket udp6\n"
	"tim: sendto d [::1]:5300 \"six\"          => ok\n"
	"liz: recvfrom r                         => \"six\" from [::1]:*\n"
	"tim: connect d [::1]:5399               => ok\n"
	"tim: send d \"nobody\"                    => ok\n"
	"tim: send d \"again\"                     => ECONNREFUSED\n"
	"liz: close s                            => ok\n"
	"ls\n"
	"| udp4 ESTAB  127.0.0.1:*    127.0.0.1:5300 tim\n"
	"| udp6 UNCONN [::1]:5300     *              liz\n"
	"| udp6 ESTAB  [::1]:*        [::1]:5399     tim\n";

/* TCP with fork, sendfd, data, half close, TIME_WAIT taken over from a
 * socket its process still holds, expiry, and a listener closed with a
 * connection nobody accepted. */
static const char FORK_TW[] =
	"proc liz\n"
	"proc tim\n"
	"liz: l = socket tcp4\n"
	"liz: setsockopt l SO_REUSEADDR 1        => ok\n"
	"liz: bind l 127.0.0.1:7000              => ok\n"
	"liz: listen l 8                         => ok\n"
	"liz: fork kid                           => ok\n"
	"liz: sendfd l tim                       => ok\n"
	"liz: close l                            => ok\n"
	"tim: c = socket tcp4\n"
	"tim: bind c 127.0.0.1:7001              => ok\n"
	"tim: connect c 127.0.0.1:7000           => ok\n"
	"kid: a = accept l                       => ok 127.0.0.1:7001\n"
	"kid: send a \"ping\"                      => ok\n"
	"tim: recv c                             => \"ping\"\n"
	"tim: send c \"pong\"                      => ok\n"
	"kid: recv a                             => \"pong\"\n"
	"tim: shutdown c wr                      => ok\n"
	"kid: recv a                             => \"\"\n"
	"kid: close a                            => ok\n"
	"ls\n"
	"tim: c2 = socket tcp4\n"
	"tim: connect c2 127.0.0.1:7000          => ok\n"
	"kid: exit                               => ok\n"
	"tim: close l                            => ok\n"
	"tim: recv c2                            => ECONNRESET\n"
	"tim: x = socket tcp4\n"
	"tim: bind x 127.0.0.1:7001              => EADDRINUSE\n"
	"ls\n"
	"sleep 61s\n"
	"ls\n"
	"tim: close c                            => ok\n"
	"tim: bind x 127.0.0.1:7001              => ok\n"
	"ls\n"
	"| tcp4 BOUND 127.0.0.1:7001 * tim\n";

/* Two hosts over a link with a delay: packets spend time in flight, a
 * lost SYN is retransmitted a second later. */
static const char LINKED[] =
	"host a\n"
	"host b\n"
	"link a:10.0.0.1/24 b:10.0.0.2/24 delay=5ms\n"
	"addr b fd00::2/64\n"
	"proc srv@b\n"
	"proc cli@a\n"
	"srv: l = socket tcp4\n"
	"srv: bind l 0.0.0.0:8080                => ok\n"
	"srv: listen l                           => ok\n"
	"cli: c = socket tcp4\n"
	"cli: connect c 10.0.0.2:8080            => ok\n"
	"sleep 10ms\n"
	"srv: a = accept l                       => ok 10.0.0.1:*\n"
	"cli: send c \"hello\"                     => ok\n"
	"sleep 20ms\n"
	"srv: recv a                             => \"hello\"\n"
	"srv: u = socket udp4\n"
	"srv: bind u 10.0.0.2:5353               => ok\n"
	"cli: v = socket udp4\n"
	"cli: sendto v 10.0.0.2:5353 \"q\"         => ok\n"
	"sleep 20ms\n"
	"srv: recvfrom u                         => \"q\" from 10.0.0.1:*\n"
	"cli: close c                            => ok\n"
	"sleep 20ms\n"
	"srv: recv a                             => \"\"\n"
	"srv: close a                            => ok\n"
	"sleep 1s\n"
	"ls a\n"
	"| udp4 UNCONN    0.0.0.0:*  *           cli\n"
	"| tcp4 TIME-WAIT 10.0.0.1:* 10.0.0.2:8080 -\n"
	"ls b\n"
	"| tcp4 LISTEN 0.0.0.0:8080  * srv\n"
	"| udp4 UNCONN 10.0.0.2:5353 * srv\n";

/* ------------------------------------------------------------------ */
/* Text of a run                                                        */
/* ------------------------------------------------------------------ */

struct text {
	char *p;
	size_t len, cap;
};

static void tput(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tput(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->p ? t->p + t->len : NULL, t->p ? t->cap - t->len : 0, fmt, ap);
		va_end(ap);
		assert_true(n >= 0);
		if (t->p && t->len + (size_t)n < t->cap)
			break;
		size_t nc = t->cap ? t->cap * 2 : 1024;
		while (nc < t->len + (size_t)n + 1)
			nc *= 2;
		t->p = realloc(t->p, nc);
		assert_non_null(t->p);
		t->cap = nc;
	}
	t->len += (size_t)n;
}

static int cmp_line(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One `ls` row as text: what the transcript shows. */
static void row_text(const sc_lsrow *row, char *buf, size_t len)
{
	sc_buf f[5];

	memset(f, 0, sizeof(f));
	sc_fmt_lsrow_fields(row, f);
	snprintf(buf, len, "%s %s %s %s %s", sc_buf_str(&f[0]), sc_buf_str(&f[1]), sc_buf_str(&f[2]),
		 sc_buf_str(&f[3]), sc_buf_str(&f[4]));
	for (int k = 0; k < 5; k++)
		sc_buf_free(&f[k]);
}

/*
 * Everything observable about the tables: the sorted `ls` rows of every
 * host the backend has.  Taken with failures disarmed.  Also checks every
 * table invariant of every host.
 */
static void snapshot(sc_backend *b, const sc_script *s, struct text *t, const char *where)
{
	for (uint32_t h = 0; h < s->nhosts; h++) {
		st_net *net = sc_model_host_net(b, s->hosts[h].name);
		sc_lsrow *rows = NULL;
		size_t n = 0;
		char msg[512];

		if (!net)
			continue;
		if (st_net_check(net, msg, sizeof(msg)) != 0)
			fail_msg("%s: st_net_check on host %s: %s", where, s->hosts[h].name, msg);
		assert_int_equal(b->ops->ls(b, s->hosts[h].name, &rows, &n), 0);
		char **lines = calloc(n + 1, sizeof(*lines));
		assert_non_null(lines);
		for (size_t i = 0; i < n; i++) {
			lines[i] = malloc(512);
			assert_non_null(lines[i]);
			row_text(&rows[i], lines[i], 512);
		}
		qsort(lines, n, sizeof(*lines), cmp_line);
		tput(t, "  [%s]\n", s->hosts[h].name);
		for (size_t i = 0; i < n; i++) {
			tput(t, "  | %s\n", lines[i]);
			free(lines[i]);
		}
		free(lines);
		free(rows);
	}
}

static void outcome_text(const sc_outcome *o, struct text *t)
{
	sc_buf b;

	memset(&b, 0, sizeof(b));
	switch (o->kind) {
	case SC_O_NONE:
		tput(t, "-\n");
		break;
	case SC_O_RESULT:
		sc_fmt_result(&b, &o->res);
		tput(t, "=> %s%s\n", sc_buf_str(&b), o->synthetic ? " (runner)" : "");
		break;
	case SC_O_LS:
		for (size_t i = 0; i < o->nrows; i++) {
			char line[512];

			row_text(&o->rows[i], line, sizeof(line));
			tput(t, "| %s\n", line);
		}
		break;
	case SC_O_FATAL:
		tput(t, "FATAL %s\n", o->msg);
		break;
	}
	sc_buf_free(&b);
}

/* ------------------------------------------------------------------ */
/* One run                                                              */
/* ------------------------------------------------------------------ */

enum how { H_NONE, H_ENOMEM, H_LOST, H_FATAL, H_ABSORBED, H_COUNT_ };

struct run {
	struct text *stmt;    /* per statement: outcome, then the tables */
	size_t nrun;          /* statements run (a fatal one included)   */
	bool fired;           /* the armed allocation failed             */
	bool at_creation;     /* ... while the backend was created       */
	size_t fail_stmt;     /* ... in this statement                   */
	uint64_t pk_upto;     /* packets sent up to the end of fail_stmt */
	enum how how;         /* what the failing statement showed       */
	char why[512];        /* when it showed none of the allowed ones */
	uint64_t allocs;      /* allocations counted (clean run)         */
	size_t unheld;        /* expectations that did not hold          */
};

static void run_free(struct run *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(r->stmt[i].p);
	free(r->stmt);
	memset(r, 0, sizeof(*r));
}

static bool is_oom_msg(const char *m)
{
	return strstr(m, "ENOMEM") || strstr(m, "out of memory") || strstr(m, "Cannot allocate memory");
}

/*
 * Runs script s on a fresh model backend.  fail_n: the allocation to fail,
 * counted from the start of the backend's creation (0: none).  drop_k:
 * the packet to lose, counted likewise (0: none).
 */
static void run_once(const sc_script *s, uint64_t fail_n, uint64_t drop_k, struct run *out)
{
	sc_backend_config cfg = { .seed = 7, .explain = true, .pcap = NULL };
	char msg[256] = "";
	uint64_t remaining = fail_n, pk = 0;

	memset(out, 0, sizeof(*out));
	out->stmt = calloc(s->nstmts + 1, sizeof(*out->stmt));
	assert_non_null(out->stmt);
	st_alloc_fail_at(remaining);
	sim_fault_drop_packet(drop_k);
	sc_backend *b = sc_model_new(&cfg, msg, sizeof(msg));
	uint64_t seen = st_alloc_fail_at(0);
	out->allocs += seen;
	if (remaining && seen >= remaining) {
		out->fired = out->at_creation = true;
		if (!b) {
			out->how = is_oom_msg(msg) ? H_FATAL : H_NONE;
			snprintf(out->why, sizeof(out->why), "backend creation failed: %s", msg);
			sim_fault_drop_packet(0);
			return;
		}
		out->how = H_ABSORBED;   /* confirmed against the clean run */
	} else if (remaining) {
		remaining -= seen;
	}
	assert_non_null(b);
	sc_runner *r = sc_runner_new(s, b);
	assert_non_null(r);
	for (size_t i = 0; i < s->nstmts; i++) {
		const sc_stmt *st = &s->stmts[i];
		struct text pre = { 0 };
		sc_outcome o;
		char where[96];

		snprintf(where, sizeof(where), "fail %llu drop %llu, line %u", (unsigned long long)fail_n,
			 (unsigned long long)drop_k, st->loc.line);
		snapshot(b, s, &pre, where);
		bool armed = remaining && !out->fired;
		st_alloc_fail_at(armed ? remaining : 0); /* also restarts the count */
		sc_runner_step(r, i, &o);
		seen = st_alloc_fail_at(0);
		out->allocs += seen;
		if (!drop_k) /* (reading the count would disarm the drop) */
			pk += sim_fault_drop_packet(0);
		outcome_text(&o, &out->stmt[i]);
		if (!sc_outcome_held(st, &o))
			out->unheld++;
		struct text post = { 0 };
		snapshot(b, s, &post, where);
		tput(&out->stmt[i], "%s", post.p ? post.p : "");
		out->nrun = i + 1;
		if (armed && seen >= remaining) {
			out->fired = true;
			out->fail_stmt = i;
			out->pk_upto = pk;
			if (o.kind == SC_O_FATAL) {
				out->how = is_oom_msg(o.msg) ? H_FATAL : H_NONE;
				snprintf(out->why, sizeof(out->why), "fatal: %s", o.msg);
			} else if (o.kind == SC_O_RESULT && !o.synthetic && o.res.kind == SC_R_ERR &&
				   (o.res.err == ENOMEM || o.res.err == ENOBUFS)) {
				bool same = (pre.p == NULL && post.p == NULL) ||
					    (pre.p && post.p && strcmp(pre.p, post.p) == 0);
				out->how = same ? H_ENOMEM : H_NONE;
				snprintf(out->why, sizeof(out->why),
					 "ENOMEM, but the tables changed:\nbefore:\n%s\nafter:\n%s",
					 pre.p ? pre.p : "", post.p ? post.p : "");
			} else {
				out->how = H_LOST; /* to be confirmed: absorbed or lost */
			}
		} else if (armed) {
			remaining -= seen;
		}
		free(pre.p);
		free(post.p);
		bool stop = o.kind == SC_O_FATAL;
		sc_outcome_clear(&o);
		if (stop)
			break;
	}
	sc_runner_free(r);
	b->ops->destroy(b);
	sim_fault_drop_packet(0);
}

static bool same_text(const struct run *a, const struct run *b, size_t from)
{
	if (a->nrun != b->nrun)
		return false;
	for (size_t i = from; i < a->nrun; i++) {
		const char *x = a->stmt[i].p ? a->stmt[i].p : "";
		const char *y = b->stmt[i].p ? b->stmt[i].p : "";
		if (strcmp(x, y) != 0)
			return false;
	}
	return true;
}

static void print_diff(const sc_script *s, const struct run *a, const struct run *b)
{
	size_t n = a->nrun > b->nrun ? a->nrun : b->nrun;

	for (size_t i = 0; i < n; i++) {
		const char *x = i < a->nrun && a->stmt[i].p ? a->stmt[i].p : "(not run)\n";
		const char *y = i < b->nrun && b->stmt[i].p ? b->stmt[i].p : "(not run)\n";
		if (strcmp(x, y) != 0) {
			print_message("  line %u: %.*s\n  expected:\n%s  got:\n%s", s->stmts[i].loc.line,
				      (int)s->stmts[i].text_len, sc_stmt_text(s, &s->stmts[i]), x, y);
			return;
		}
	}
}

/* ------------------------------------------------------------------ */
/* The walk                                                             */
/* ------------------------------------------------------------------ */

static void walk(const char *name, const char *text)
{
	sc_script *s = NULL;
	sc_diags d;
	struct run clean, fail, drop;
	unsigned count[H_COUNT_] = { 0 };
	unsigned drop_runs = 0;

	memset(&d, 0, sizeof(d));
	assert_int_equal(sc_parse(name, text, strlen(text), &s, &d), 0);

	run_once(s, 0, 0, &clean);
	assert_int_equal(clean.nrun, s->nstmts);
	if (clean.unheld) {
		for (size_t i = 0; i < s->nstmts; i++)
			print_message("%u: %s", s->stmts[i].loc.line, clean.stmt[i].p);
		fail_msg("%s: %zu expectations failed in the clean run", name, clean.unheld);
	}
	for (size_t i = 0; i < s->nstmts; i++)
		assert_null(strstr(clean.stmt[i].p, "FATAL"));
	uint64_t total = clean.allocs;
	assert_true(total > 0);

	for (uint64_t n = 1;; n++) {
		run_once(s, n, 0, &fail);
		if (!fail.fired) {
			/* Past the last allocation: the run must be the clean one. */
			if (!same_text(&clean, &fail, 0)) {
				print_diff(s, &clean, &fail);
				fail_msg("%s: allocation %llu never failed, yet the run differs", name,
					 (unsigned long long)n);
			}
			assert_true(n > total);
			run_free(&fail, s->nstmts + 1);
			break;
		}
		const char *at = fail.at_creation ? "the backend's creation" : "";
		char stmtbuf[160] = "";
		if (!fail.at_creation) {
			const sc_stmt *st = &s->stmts[fail.fail_stmt];
			snprintf(stmtbuf, sizeof(stmtbuf), "line %u `%.*s`", st->loc.line, (int)st->text_len,
				 sc_stmt_text(s, st));
			at = stmtbuf;
			/* Before the failing statement the run is the clean run. */
			for (size_t i = 0; i < fail.fail_stmt; i++)
				if (strcmp(clean.stmt[i].p, fail.stmt[i].p) != 0) {
					print_diff(s, &clean, &fail);
					fail_msg("%s: allocation %llu: a statement before %s changed", name,
						 (unsigned long long)n, at);
				}
		}
		if (fail.how == H_LOST || fail.how == H_ABSORBED) {
			if (same_text(&clean, &fail, 0)) {
				fail.how = H_ABSORBED;
			} else if (fail.how == H_ABSORBED) {
				print_diff(s, &clean, &fail);
				fail_msg("%s: allocation %llu failed in %s, which went on as if nothing "
					 "happened, but the run differs", name, (unsigned long long)n, at);
			} else {
				/* Which lost packet does this look like?  The packet
				 * was sent before the end of the failing statement;
				 * the latest ones are the likeliest. */
				bool found = false;
				for (uint64_t k = fail.pk_upto; k >= 1 && !found; k--) {
					run_once(s, 0, k, &drop);
					drop_runs++;
					found = same_text(&drop, &fail, 0);
					if (!found && getenv("WALK_DEBUG")) {
						print_message("drop %llu vs failing:\n", (unsigned long long)k);
						print_diff(s, &drop, &fail);
					}
					run_free(&drop, s->nstmts + 1);
				}
				if (!found) {
					print_diff(s, &clean, &fail);
					fail_msg("%s: allocation %llu failed in %s: not ENOMEM, and the run "
						 "is not that of any lost packet (1..%llu)", name,
						 (unsigned long long)n, at, (unsigned long long)fail.pk_upto);
				}
			}
		}
		if (fail.how == H_NONE)
			fail_msg("%s: allocation %llu failed in %s: %s", name, (unsigned long long)n, at,
				 fail.why);
		count[fail.how]++;
		run_free(&fail, s->nstmts + 1);
	}
	print_message("%s: %zu statements, %llu allocations: %u enomem, %u lost, %u fatal, %u absorbed "
		      "(%u lost-packet runs to match)\n",
		      name, s->nstmts, (unsigned long long)total, count[H_ENOMEM], count[H_LOST],
		      count[H_FATAL], count[H_ABSORBED], drop_runs);
	/* The walk must have reached the kinds of failure it is about. */
	assert_true(count[H_ENOMEM] > 0);
	assert_true(count[H_FATAL] > 0);
	assert_true(count[H_LOST] > 0);
	run_free(&clean, s->nstmts + 1);
	sc_script_free(s);
	st_alloc_fail_at(0);
}

static void test_spec_first_example(void **state)
{
	(void)state;
	walk("spec-first.scn", SPEC_FIRST);
}

static void test_udp(void **state)
{
	(void)state;
	walk("udp.scn", UDP);
}

static void test_fork_sendfd_timewait(void **state)
{
	(void)state;
	walk("fork-tw.scn", FORK_TW);
}

static void test_linked_hosts(void **state)
{
	(void)state;
	walk("linked.scn", LINKED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_first_example),
		cmocka_unit_test(test_udp),
		cmocka_unit_test(test_fork_sendfd_timewait),
		cmocka_unit_test(test_linked_hosts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
