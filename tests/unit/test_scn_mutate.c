/*
 * test_scn_mutate.c - the parser and runner against many damaged scenarios.
 *
 * "Every bad input gets a clear error and never a crash": this test takes a
 * few valid scenarios, damages them with a fixed-seed generator (bytes
 * inserted, deleted or flipped, lines dropped, duplicated or swapped,
 * tokens exchanged between lines), and parses each result.  Then:
 *
 *   - a refused file must carry at least one diagnostic with a position
 *     inside the file and a non-empty message;
 *   - an accepted file must be internally consistent (every index in range,
 *     every source span inside the text), must run on a backend that
 *     answers every verb with something it can print, and its --annotate
 *     output must parse again and pass when run on the same backend.
 *
 * Run under -DSOCKTAB_SANITIZE=ON this is also the memory-safety check of
 * the parser and the runner on hostile input.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario/ast.h"
#include "scenario/run.h"

/* ---- a backend that always answers, in the verb's own form --------------- */

typedef struct echo {
	sc_backend base;
	int next_fd, next_pid;
	uint64_t calls;
} echo;

static echo *E(sc_backend *b)
{
	return (echo *)b;
}

static int e_host(sc_backend *b, const char *n, char *m, size_t l)
{
	(void)b, (void)n, (void)m, (void)l;
	return 0;
}

static int e_addr(sc_backend *b, const char *h, const st_addr *a, int f, int p, char *m, size_t l)
{
	(void)b, (void)h, (void)a, (void)f, (void)p, (void)m, (void)l;
	return 0;
}

static int e_link(sc_backend *b, const char *h1, const st_addr *a1, int f1, int p1, const char *h2,
		  const st_addr *a2, int f2, int p2, uint64_t d, char *m, size_t l)
{
	(void)b, (void)h1, (void)a1, (void)f1, (void)p1, (void)h2, (void)a2, (void)f2, (void)p2;
	(void)d, (void)m, (void)l;
	return 0;
}

static int e_sysctl(sc_backend *b, const char *h, const char *k, const char *const *v, int n,
		    char *m, size_t l)
{
	(void)b, (void)h, (void)k, (void)v, (void)n, (void)m, (void)l;
	return 0;
}

static int e_proc(sc_backend *b, const char *n, const char *h, uint32_t u, uint32_t c, char *m,
		  size_t l)
{
	(void)n, (void)h, (void)u, (void)c, (void)m, (void)l;
	return E(b)->next_pid++;
}

static void ok(sc_backend *b, sc_result *r)
{
	memset(r, 0, sizeof(*r));
	r->kind = SC_R_OK;
	r->fd = E(b)->next_fd++;
	E(b)->calls++;
}

static void e_socket(sc_backend *b, int p, sc_kind k, sc_result *r)
{
	(void)p, (void)k;
	ok(b, r);
}

static void e_setsockopt(sc_backend *b, int p, int fd, sc_opt o, const sc_optval *v, sc_result *r)
{
	(void)p, (void)fd, (void)o, (void)v;
	ok(b, r);
	/* every 3rd call fails, so errno results are annotated too */
	if (E(b)->calls % 3 == 0) {
		r->kind = SC_R_ERR;
		r->err = EINVAL;
	}
}

static void e_getsockopt(sc_backend *b, int p, int fd, sc_opt o, sc_result *r)
{
	(void)p, (void)fd;
	ok(b, r);
	switch (o) {
	case SC_SO_LINGER:
	case SC_IP_LOCAL_PORT_RANGE:
		r->kind = SC_R_LINGER;
		r->ival = 1;
		r->ival2 = 7;
		break;
	case SC_SO_BINDTODEVICE:
		r->kind = SC_R_STR;
		strcpy(r->str, "eth0");
		break;
	case SC_SO_ERROR:
		r->kind = SC_R_ERRNAME;
		r->err = E(b)->calls % 2 ? ECONNREFUSED : 0;
		break;
	default:
		r->kind = SC_R_INT;
		r->ival = -3;
		break;
	}
}

static void e_fd(sc_backend *b, int p, int fd, sc_result *r)
{
	(void)p, (void)fd;
	ok(b, r);
}

static void e_addr_op(sc_backend *b, int p, int fd, const sc_sockaddr *a, sc_result *r)
{
	(void)p, (void)fd, (void)a;
	ok(b, r);
}

static void e_listen(sc_backend *b, int p, int fd, int bl, sc_result *r)
{
	(void)bl;
	e_fd(b, p, fd, r);
}

static void e_connect(sc_backend *b, int p, int fd, const sc_sockaddr *a, bool nb, sc_result *r)
{
	(void)nb;
	e_addr_op(b, p, fd, a, r);
}

static void put_addr(sc_sockaddr *a, uint64_t n)
{
	memset(a, 0, sizeof(*a));
	if (n % 2) {
		a->sa = st_sockaddr_in(0x7f000001, (uint16_t)(40000 + n % 1000));
	} else {
		st_addr six = { { 0xfe, 0x80, [15] = 1 } };

		a->sa = st_sockaddr_in6(&six, (uint16_t)n, 0);
		strcpy(a->ifname, "eth1");
	}
}

static void e_accept(sc_backend *b, int p, int fd, sc_result *r)
{
	e_fd(b, p, fd, r);
	r->kind = SC_R_OK_ADDR;
	put_addr(&r->addr, E(b)->calls);
}

static void e_send(sc_backend *b, int p, int fd, const uint8_t *d, size_t n, sc_result *r)
{
	(void)d, (void)n;
	e_fd(b, p, fd, r);
}

static void e_sendto(sc_backend *b, int p, int fd, const sc_sockaddr *a, const uint8_t *d, size_t n,
		     sc_result *r)
{
	(void)a, (void)d, (void)n;
	e_fd(b, p, fd, r);
}

static void e_data(sc_backend *b, sc_result *r, bool from)
{
	uint64_t n = E(b)->calls;

	r->kind = from ? SC_R_DATA_FROM : SC_R_DATA;
	/* sometimes every byte value, sometimes more than a line can hold */
	r->len = n % 5 == 0 ? 3000 : n % 257;
	if (r->len > 0) {
		r->data = malloc(r->len);
		for (size_t i = 0; i < r->len; i++)
			r->data[i] = (uint8_t)(i * 7 + n);
	}
	if (from)
		put_addr(&r->addr, n);
}

static void e_recv(sc_backend *b, int p, int fd, sc_result *r)
{
	e_fd(b, p, fd, r);
	e_data(b, r, false);
}

static void e_recvfrom(sc_backend *b, int p, int fd, sc_result *r)
{
	e_fd(b, p, fd, r);
	e_data(b, r, true);
}

static void e_name(sc_backend *b, int p, int fd, sc_result *r)
{
	e_fd(b, p, fd, r);
	r->kind = SC_R_ADDR;
	put_addr(&r->addr, E(b)->calls);
}

static void e_shutdown(sc_backend *b, int p, int fd, sc_shut h, sc_result *r)
{
	(void)h;
	e_fd(b, p, fd, r);
}

static void e_fork(sc_backend *b, int p, const char *c, int *out, sc_result *r)
{
	(void)p, (void)c;
	ok(b, r);
	*out = E(b)->next_pid++;
}

static void e_sendfd(sc_backend *b, int p, int fd, int to, sc_result *r)
{
	(void)to;
	e_fd(b, p, fd, r);
}

static void e_exit(sc_backend *b, int p, sc_result *r)
{
	(void)p;
	ok(b, r);
}

static void e_sleep(sc_backend *b, uint64_t ns)
{
	(void)b, (void)ns;
}

static int e_ls(sc_backend *b, const char *host, sc_lsrow **rows, size_t *n)
{
	sc_lsrow *r = calloc(2, sizeof(*r));

	(void)host;
	if (r == NULL)
		return -ENOMEM;
	r[0].kind = SC_TCP6;
	strcpy(r[0].state, "LISTEN");
	put_addr(&r[0].local, E(b)->calls);
	r[0].owners = "";   /* the runner makes it "-" */
	r[1].kind = SC_UDP4;
	strcpy(r[1].state, "UNCONN");
	put_addr(&r[1].local, 1);
	put_addr(&r[1].peer, 3);
	r[1].owners = "-";
	*rows = r;
	*n = 2;
	return 0;
}

static void e_destroy(sc_backend *b)
{
	(void)b;
}

static const sc_backend_ops echo_ops = {
	.name = "echo",
	.host = e_host, .addr = e_addr, .link = e_link, .sysctl = e_sysctl, .proc = e_proc,
	.socket = e_socket, .setsockopt = e_setsockopt, .getsockopt = e_getsockopt,
	.bind = e_addr_op, .listen = e_listen, .connect = e_connect, .accept = e_accept,
	.send = e_send, .sendto = e_sendto, .recv = e_recv, .recvfrom = e_recvfrom,
	.getsockname = e_name, .getpeername = e_name, .shutdown = e_shutdown, .close = e_fd,
	.fork = e_fork, .sendfd = e_sendfd, .exit = e_exit, .sleep = e_sleep, .ls = e_ls,
	.destroy = e_destroy,
};

/* ---- corpus and mutations ------------------------------------------------------ */

static const char *const corpus[] = {
	"proc liz\nproc tim\nliz: s1 = socket tcp4\nliz: bind s1 127.0.0.1:8080             => ok\n"
	"liz: listen s1                          => ok\nliz: s2 = socket udp4\n"
	"tim: c = socket tcp4\ntim: connect c 127.0.0.1:8080           => ok\n"
	"liz: a = accept s1                      => ok 127.0.0.1:*\nls\n"
	"| tcp4 LISTEN 127.0.0.1:8080 * liz\n| tcp4 ESTAB 127.0.0.1:8080 127.0.0.1:* liz\n"
	"liz: exit\ntim: c2 = socket tcp4\ntim: connect c2 127.0.0.1:8080 => ECONNREFUSED\n",

	"host far\naddr far 10.1.1.1/24\nlink far:10.0.0.1/30 local:10.0.0.2/30 delay=1.5ms\n"
	"sysctl far net.ipv4.ip_local_port_range 40000 40009\n"
	"sysctl net.ipv4.ip_local_reserved_ports \"40000,40002-40004\"\n"
	"proc liz@far uid=0\nproc tim caps=net_bind_service,net_raw\n"
	"liz: s = socket tcp6   # comment \"x\"\nliz: setsockopt s SO_LINGER 1,0\n"
	"liz: setsockopt s SO_BINDTODEVICE \"eth0\"\nliz: getsockopt s SO_ERROR => 0 | ECONNRESET\n"
	"liz: bind s [fe80::1%eth0]:80 => ok\nliz: fork kid\nliz: sendfd s tim\n"
	"kid: recvfrom s => \"\\x00\\n\" from [::1]:* | EAGAIN\ntim: getsockname s => [::]:80\n"
	"tim: shutdown s rdwr\nsleep 61s\nls far\n| tcp6 LISTEN [::]:80 * kid,liz,tim\n",

	"proc p\r\np: u = socket udp4\r\np: sendto u 127.0.0.1:9 \"\\x41\\101\\t\"\r\n"
	"p: recv u => \"\" | EAGAIN\r\np: close u => ok\r\np: u = socket udp6\r\n"
	"p: connect u [::1]:9 nonblock => EINPROGRESS | ok\r\np: getsockopt u IP_LOCAL_PORT_RANGE\r\n"
	"p: listen u -5 => EOPNOTSUPP\r\np: send u \"a|b#c\"\r\n",
};

static uint64_t rng_state = 0x5eed5eedULL;

static uint64_t rnd(void)
{
	/* xorshift64*: deterministic across runs and machines */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static const char alphabet[] = " \t\"\\:[]%*|=>#,.-_/@\n\r0123456789abcdefxsEKlo";

/* Applies 1..4 random edits to text (a malloc'd string of *len bytes). */
static char *mutate(const char *src, size_t *len)
{
	size_t cap = strlen(src) * 2 + 64, n = strlen(src);
	char *t = malloc(cap);
	int edits = 1 + (int)(rnd() % 4);

	memcpy(t, src, n);
	for (int e = 0; e < edits; e++) {
		size_t at = n ? rnd() % n : 0;

		switch (rnd() % 7) {
		case 0: /* insert a byte from the alphabet (or any byte, rarely) */
			if (n + 1 >= cap)
				break;
			memmove(t + at + 1, t + at, n - at);
			t[at] = rnd() % 16 ? alphabet[rnd() % (sizeof(alphabet) - 1)] : (char)(rnd() & 0xff);
			n++;
			break;
		case 1: /* delete a byte */
			if (n == 0)
				break;
			memmove(t + at, t + at + 1, n - at - 1);
			n--;
			break;
		case 2: /* flip a bit */
			if (n)
				t[at] ^= (char)(1u << (rnd() % 8));
			break;
		case 3: /* delete from here to the end of the line */
		{
			size_t e2 = at;

			while (e2 < n && t[e2] != '\n')
				e2++;
			memmove(t + at, t + e2, n - e2);
			n -= e2 - at;
			break;
		}
		case 4: /* duplicate a line */
		case 5: /* move a line to the end */
		{
			size_t s0 = at, e2 = at, ln;

			while (s0 > 0 && t[s0 - 1] != '\n')
				s0--;
			while (e2 < n && t[e2] != '\n')
				e2++;
			if (e2 < n)
				e2++;
			ln = e2 - s0;
			if (n + ln >= cap)
				break;
			memcpy(t + n, t + s0, ln);
			if (rnd() % 2 == 0) {
				memmove(t + s0, t + e2, n + ln - e2);
				n -= ln;
			}
			n += ln;
			break;
		}
		default: /* copy a short run from elsewhere */
		{
			size_t from = n ? rnd() % n : 0, k = 1 + rnd() % 8;

			if (from + k > n || n + k >= cap)
				break;
			memmove(t + at + k, t + at, n - at);
			memmove(t + at, t + (from < at ? from : from + k), k);
			n += k;
			break;
		}
		}
	}
	*len = n;
	return t;
}

static void check_script(const sc_script *s)
{
	for (size_t i = 0; i < s->nstmts; i++) {
		const sc_stmt *st = &s->stmts[i];

		assert_true(st->loc.line >= 1 && st->loc.line <= s->nlines);
		assert_true((size_t)st->line_off + st->text_col + st->text_len <= s->srclen);
		assert_true(st->proc < (int32_t)s->nprocs);
		assert_true(st->host < (int32_t)s->nhosts);
		assert_true(st->var < (int32_t)s->nslots);
		assert_true(st->sock < (int32_t)s->nslots);
		if (st->expect.nalts > 0)
			assert_true((size_t)st->expect.text_off + st->expect.text_len <= s->srclen);
		if (st->kind != SC_S_OP)
			continue;
		assert_true(st->proc >= 0);
		if (st->verb == SC_V_FORK) {
			assert_true(st->u.fork.child < (int32_t)s->nprocs);
			for (uint32_t k = 0; k < 2 * st->u.fork.npairs; k++)
				assert_true(st->u.fork.pairs[k] >= 0 && st->u.fork.pairs[k] < (int32_t)s->nslots);
		}
		if (st->verb == SC_V_SENDFD)
			assert_true(st->u.sendfd.to_slot >= 0 && st->u.sendfd.to_slot < (int32_t)s->nslots);
	}
}

static int run_mode(const sc_script *s, sc_mode mode, char **out)
{
	echo b = { .base.ops = &echo_ops, .next_fd = 3 };
	size_t len;
	FILE *f = open_memstream(out, &len);
	FILE *devnull = fopen("/dev/null", "w");
	sc_run_opts o = { .mode = mode, .explain = true, .out = f, .err = devnull };
	int rc;

	assert_non_null(f);
	assert_non_null(devnull);
	rc = sc_run(s, &b.base, &o, NULL);
	fclose(f);
	fclose(devnull);
	return rc;
}

static void test_mutations(void **state)
{
	const int rounds = 50000;
	int accepted = 0, refused = 0;

	(void)state;
	for (int i = 0; i < rounds; i++) {
		size_t len;
		char *text = mutate(corpus[(size_t)i % (sizeof(corpus) / sizeof(corpus[0]))], &len);
		sc_script *s = NULL, *again = NULL;
		sc_diags d;
		int rc = sc_parse("m.scn", text, len, &s, &d);

		if (rc != 0) {
			refused++;
			assert_int_equal(rc, -EINVAL);
			assert_true(d.n >= 1);
			for (uint32_t k = 0; k < d.n; k++) {
				assert_true(d.d[k].msg[0] != '\0');
				assert_true(d.d[k].loc.line >= 1);
				assert_true(d.d[k].loc.col >= 1 && d.d[k].loc.col <= SC_MAX_LINE + 1);
			}
		} else {
			char *out = NULL, *ann = NULL;
			int st;

			accepted++;
			check_script(s);
			st = run_mode(s, SC_MODE_TRANSCRIPT, &out);
			assert_true(st == 0 || st == 1);
			free(out);
			out = NULL;
			st = run_mode(s, SC_MODE_JSON, &out);
			assert_true(st == 0 || st == 1);
			free(out);
			assert_int_equal(run_mode(s, SC_MODE_ANNOTATE, &ann), 0);
			if (sc_parse("ann.scn", ann, strlen(ann), &again, &d) != 0)
				fail_msg("annotated output does not parse: %u:%u: %s\n--- input:\n%.*s\n--- annotated:\n%s",
					 d.d[0].loc.line, d.d[0].loc.col, d.d[0].msg, (int)len, text, ann);
			out = NULL;
			st = run_mode(again, SC_MODE_TRANSCRIPT, &out);
			if (st != 0)
				fail_msg("annotated output does not pass:\n%s\n--- transcript:\n%s", ann, out);
			free(out);
			free(ann);
			sc_script_free(again);
			sc_script_free(s);
		}
		free(text);
	}
	print_message("%d mutants: %d accepted (run, annotated, re-run), %d refused\n", rounds,
		      accepted, refused);
	/* both paths must have been exercised for the test to mean anything */
	assert_true(accepted > rounds / 20);
	assert_true(refused > rounds / 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mutations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
