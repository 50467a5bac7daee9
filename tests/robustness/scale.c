/*
 * tests/robustness/scale.c - a scenario of a million lines runs, in time
 * proportional to its length.
 *
 * The parser's own test checks that parsing is linear.  This one checks
 * the whole run: the runner's descriptor bookkeeping, the model's process
 * and descriptor tables, the world's timer queue, the stack's socket list
 * and the core's tables must all stay O(1) (or O(log n)) per statement
 * while a long session opens and closes sockets, forks processes and
 * piles up TIME-WAIT records.  A quadratic path anywhere shows as a
 * 1M/100k time ratio near 100 instead of 10.
 *
 * The scenario repeats one round of work: a listener on a fresh port, a
 * connection to it, data both ways, a UDP datagram from a fresh socket,
 * every socket closed again (names are reused, which the language allows
 * after `close`); every 50 rounds a fork whose child exits at once (names
 * are never reused, so a million lines declare ~950 processes); every 100
 * rounds an `ls`; every 1,000 rounds `sleep 61s`, so TIME-WAIT records
 * expire as they would in a long session (up to 1,000 are alive at once).
 * Every result is an expectation, so a run that goes wrong fails (exit 1)
 * instead of merely taking time.
 *
 *   scale                       run 100k and 1M lines, check the ratio
 *   scale --write LINES FILE    write the scenario (for `socktab run`)
 *
 * The ratio bound is 25: linear is 10, n log n about 12; a loaded CI
 * machine adds noise, a quadratic path adds a factor of ten.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "scenario/ast.h"
#include "scenario/model.h"
#include "scenario/run.h"

struct text {
	char *p;
	size_t len, cap;
	size_t lines;
};

static void w(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void w(struct text *t, const char *fmt, ...)
{
	va_list ap;

	if (t->cap - t->len < 256) {
		t->cap = t->cap ? t->cap * 2 : 1 << 20;
		t->p = realloc(t->p, t->cap);
		if (!t->p) {
			perror("scale");
			exit(2);
		}
	}
	va_start(ap, fmt);
	int n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= t->cap - t->len) {
		fprintf(stderr, "scale: line too long\n");
		exit(2);
	}
	t->len += (size_t)n;
	t->lines++;
}

/* `=> EXPECTATION` at column 41, as the transcript aligns it. */
static void op(struct text *t, const char *expect, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void op(struct text *t, const char *expect, const char *fmt, ...)
{
	char code[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(code, sizeof(code), fmt, ap);
	va_end(ap);
	if (expect)
		w(t, "%-39s => %s\n", code, expect);
	else
		w(t, "%s\n", code);
}

static void generate(size_t target, struct text *t)
{
	memset(t, 0, sizeof(*t));
	w(t, "# tests/robustness/scale.c, %zu lines\n", target);
	w(t, "proc liz\n");
	w(t, "proc tim\n");
	op(t, "ok", "liz: u = socket udp4");
	op(t, "ok", "liz: bind u 127.0.0.1:5000");
	for (unsigned r = 0; t->lines < target; r++) {
		unsigned port = 10000 + r % 20000;
		char e[64];

		op(t, "ok", "liz: s = socket tcp4");
		op(t, "ok", "liz: setsockopt s SO_REUSEADDR 1");
		op(t, "ok", "liz: bind s 127.0.0.1:%u", port);
		op(t, "ok", "liz: listen s");
		op(t, "ok", "tim: c = socket tcp4");
		op(t, "ok", "tim: connect c 127.0.0.1:%u", port);
		op(t, "ok 127.0.0.1:*", "liz: a = accept s");
		op(t, "ok", "tim: send c \"ping %u\"", r);
		snprintf(e, sizeof(e), "\"ping %u\"", r);
		op(t, e, "liz: recv a");
		op(t, "ok", "liz: send a \"pong\"");
		op(t, "\"pong\"", "tim: recv c");
		op(t, "ok", "tim: d = socket udp4");
		op(t, "ok", "tim: sendto d 127.0.0.1:5000 \"d%u\"", r);
		snprintf(e, sizeof(e), "\"d%u\" from 127.0.0.1:*", r);
		op(t, e, "liz: recvfrom u");
		if (r % 50 == 0) {
			op(t, "ok", "liz: fork kid%u", r / 50);
			op(t, "ok", "kid%u: exit", r / 50);
		}
		op(t, "ok", "tim: close d");
		op(t, "ok", "tim: close c");
		op(t, "ok", "liz: close a");
		op(t, "ok", "liz: close s");
		if ((r + 1) % 100 == 0)
			w(t, "ls\n");
		if ((r + 1) % 1000 == 0)
			w(t, "sleep 61s\n");
	}
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Parses and runs `lines` lines; returns the CPU seconds of the run. */
static double measure(size_t lines, double *parse_s)
{
	struct text t;
	sc_script *s = NULL;
	sc_diags d;

	generate(lines, &t);
	memset(&d, 0, sizeof(d));
	double t0 = now();
	if (sc_parse("scale.scn", t.p, t.len, &s, &d) != 0) {
		sc_diags_print(&d, "scale.scn", stderr);
		exit(1);
	}
	double t1 = now();
	sc_backend_config cfg = { .seed = 1 };
	char msg[256];
	sc_backend *b = sc_model_new(&cfg, msg, sizeof(msg));
	if (!b) {
		fprintf(stderr, "scale: %s\n", msg);
		exit(1);
	}
	FILE *devnull = fopen("/dev/null", "w");
	if (!devnull) {
		perror("/dev/null");
		exit(1);
	}
	sc_run_opts o = { .mode = SC_MODE_TRANSCRIPT, .out = devnull, .err = stderr };
	sc_run_stats st;
	int status = sc_run(s, b, &o, &st);
	double t2 = now();
	b->ops->destroy(b);
	fclose(devnull);
	printf("%8zu lines: %zu statements, %zu expectations, %zu held; parse %.3f s, run %.3f s\n",
	       t.lines, s->nstmts, st.expectations, st.held, t1 - t0, t2 - t1);
	if (status != 0 || st.executed != s->nstmts || st.held != st.expectations || st.expectations == 0) {
		fprintf(stderr, "scale: the %zu-line run did not hold (status %d, %zu of %zu held)\n", lines,
			status, st.held, st.expectations);
		exit(1);
	}
	sc_script_free(s);
	free(t.p);
	*parse_s = t1 - t0;
	return t2 - t1;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "--write") == 0) {
		struct text t;
		FILE *f = fopen(argv[3], "w");
		generate((size_t)strtoul(argv[2], NULL, 10), &t);
		if (!f || fwrite(t.p, 1, t.len, f) != t.len || fclose(f) != 0) {
			perror(argv[3]);
			return 1;
		}
		free(t.p);
		return 0;
	}
	if (argc != 1) {
		fprintf(stderr, "usage: %s [--write LINES FILE]\n", argv[0]);
		return 2;
	}
	double p1, p2;
	double small = measure(100000, &p1);
	double big = measure(1000000, &p2);
	double ratio = big / (small > 1e-3 ? small : 1e-3);
	printf("run: 1M/100k = %.1f (linear: 10); parse: %.1f\n", ratio, p2 / (p1 > 1e-3 ? p1 : 1e-3));
	if (ratio > 25) {
		fprintf(stderr, "scale: the run is not linear in the scenario's length\n");
		return 1;
	}
	return 0;
}
