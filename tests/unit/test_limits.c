/*
 * test_limits.c - the descriptor limit of a process (`proc ... nofile=N`,
 * RLIMIT_NOFILE) from the parser through the runner to the model, and
 * what happens on a backend that cannot set it.
 *
 * A process has descriptors 0-2 taken (stdin, stdout, stderr), so with
 * nofile=N its sockets get 3..N-1; one more socket, accepted connection
 * or SCM_RIGHTS descriptor is EMFILE, exactly where Linux says it.  The
 * limit is checked before anything is created: a refused accept leaves
 * the connection queued for a later accept, a refused sendfd leaves the
 * sender's socket as it was.
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

#include "scenario/ast.h"
#include "scenario/model.h"
#include "scenario/run.h"
#include "sim/sim.h"

static sc_script *parse_ok(const char *text)
{
	sc_script *s = NULL;
	sc_diags d;

	memset(&d, 0, sizeof(d));
	int rc = sc_parse("t.scn", text, strlen(text), &s, &d);
	if (rc != 0)
		fail_msg("parse failed: %s", d.n ? d.d[0].msg : "?");
	return s;
}

static void parse_err(const char *text, uint32_t line, uint32_t col, const char *msg)
{
	sc_script *s = NULL;
	sc_diags d;

	memset(&d, 0, sizeof(d));
	assert_int_equal(sc_parse("t.scn", text, strlen(text), &s, &d), -EINVAL);
	assert_null(s);
	assert_true(d.n >= 1);
	if (d.d[0].loc.line != line || d.d[0].loc.col != col || strcmp(d.d[0].msg, msg) != 0)
		fail_msg("wanted %u:%u: %s\n   got %u:%u: %s", line, col, msg, d.d[0].loc.line,
			 d.d[0].loc.col, d.d[0].msg);
}

static void test_parse_nofile(void **state)
{
	(void)state;
	sc_script *s = parse_ok("proc liz nofile=5 uid=7\n"
				"proc tim\n"
				"liz: fork kid\n"
				"proc max nofile=1048576\n");
	assert_int_equal(s->nprocs, 4);
	assert_string_equal(s->procs[0].name, "liz");
	assert_int_equal(s->procs[0].nofile, 5);
	assert_int_equal(s->procs[0].uid, 7);
	assert_int_equal(s->procs[1].nofile, 0);   /* the backend's default */
	assert_string_equal(s->procs[2].name, "kid");
	assert_int_equal(s->procs[2].nofile, 5);   /* inherited by fork */
	assert_int_equal(s->procs[3].nofile, 1048576);
	sc_script_free(s);

	parse_err("proc a nofile=2\n", 1, 15, "nofile 2 is out of range (3..1048576)");
	parse_err("proc a nofile=0\n", 1, 15, "nofile 0 is out of range (3..1048576)");
	parse_err("proc a nofile=1048577\n", 1, 15, "nofile 1048577 is out of range (3..1048576)");
	parse_err("proc a nofile=99999999999999999999\n", 1, 15,
		  "nofile 99999999999999999999 is out of range (3..1048576)");
	parse_err("proc a nofile=-4\n", 1, 15, "bad nofile '-4': expected a decimal number");
	parse_err("proc a nofile=lots\n", 1, 15, "bad nofile 'lots': expected a decimal number");
	parse_err("proc a nofile=4 nofile=5\n", 1, 17, "option 'nofile' given twice");
	parse_err("proc a nofile=\n", 1, 15, "missing value after 'nofile='");
}

/* Runs text on the model; returns the exit status, the transcript in out. */
static int run_text(const char *text, bool drop_nofile_op, char *out, size_t outlen, char *err,
		    size_t errlen)
{
	sc_script *s = parse_ok(text);
	sc_backend_config cfg = { .seed = 1 };
	char msg[256];
	sc_backend *b = sc_model_new(&cfg, msg, sizeof(msg));
	assert_non_null(b);
	const sc_backend_ops *orig = b->ops;
	sc_backend_ops ops = *orig;
	if (drop_nofile_op) {
		ops.nofile = NULL;   /* a backend that cannot set the limit */
		b->ops = &ops;
	}
	FILE *fo = fmemopen(out, outlen, "w");
	FILE *fe = fmemopen(err, errlen, "w");
	assert_non_null(fo);
	assert_non_null(fe);
	sc_run_opts o = { .mode = SC_MODE_TRANSCRIPT, .out = fo, .err = fe };
	int status = sc_run(s, b, &o, NULL);
	fclose(fo);
	fclose(fe);
	b->ops = orig;
	b->ops->destroy(b);
	sc_script_free(s);
	return status;
}

static const char EMFILE_SCN[] =
	"proc liz nofile=5\n"
	"proc tim nofile=4\n"
	"liz: a = socket tcp4                    => ok\n"
	"liz: b = socket tcp4                    => ok\n"
	"liz: c = socket tcp4                    => EMFILE\n"
	"liz: close b                            => ok\n"
	"liz: l = socket tcp4                    => ok\n"
	"liz: bind l 127.0.0.1:9000              => ok\n"
	"liz: listen l                           => ok\n"
	"tim: x = socket tcp4                    => ok\n"
	"tim: y = socket udp4                    => EMFILE\n"
	"tim: connect x 127.0.0.1:9000           => ok\n"
	/* refused before the connection is taken: it stays queued */
	"liz: s = accept l                       => EMFILE\n"
	"ls\n"
	"| tcp4 LISTEN 127.0.0.1:9000 * liz\n"
	"| tcp4 ESTAB 127.0.0.1:* 127.0.0.1:9000 tim\n"
	"| tcp4 ESTAB 127.0.0.1:9000 127.0.0.1:* -\n"
	"liz: close a                            => ok\n"
	"liz: s2 = accept l                      => ok 127.0.0.1:*\n"
	"liz: fork kid                           => ok\n"
	"kid: z = socket udp4                    => EMFILE\n"
	/* tim's 3 is taken by x, its limit is 4: no room */
	"liz: sendfd s2 tim                      => EMFILE\n"
	"tim: close x                            => ok\n"
	/* the parser counts s2 as tim's since the first sendfd; at run time
	 * that descriptor never existed */
	"tim: close s2                           => EBADF\n"
	"liz: sendfd s2 tim                      => ok\n"
	"ls\n"
	"| tcp4 LISTEN 127.0.0.1:9000 * kid,liz\n"
	"| tcp4 CLOSE-WAIT 127.0.0.1:9000 127.0.0.1:* kid,liz,tim\n"
	"| tcp4 FIN-WAIT-2 127.0.0.1:* 127.0.0.1:9000 -\n";

static void test_emfile_on_the_model(void **state)
{
	(void)state;
	static char out[16384], err[1024];
	int status = run_text(EMFILE_SCN, false, out, sizeof(out), err, sizeof(err));
	if (status != 0)
		fail_msg("status %d\n%s%s", status, out + (strlen(out) > 1500 ? strlen(out) - 1500 : 0), err);
	assert_non_null(strstr(out, "21 expectations: 21 held, 0 failed"));
}

static void test_default_is_1024(void **state)
{
	(void)state;
	/* The language cannot reach it (the parser allows 1000 open
	 * variables per process), so the world is driven directly: 1021
	 * sockets fit in descriptors 3..1023, the next is EMFILE. */
	sim_world *w;
	sim_host *h;
	sim_proc *p;
	assert_int_equal(sim_world_new(&w, 1), 0);
	assert_int_equal(sim_host_add(w, "local", &h), 0);
	assert_int_equal(sim_proc_new(w, "liz", h, 1000, 0, &p), 0);
	st_cred c = sim_proc_cred(p);
	for (int i = 3; i < SIM_DEFAULT_NOFILE; i++) {
		stk_sock *sk;
		assert_int_equal(sim_fd_reserve(p), 0);
		assert_int_equal(stk_socket(sim_host_stack(h), ST_UDP, ST_AF_INET, &c, &sk), 0);
		assert_int_equal(sim_fd_install(p, sk), i);
	}
	assert_int_equal(sim_fd_reserve(p), -EMFILE);
	assert_false(sim_fd_room(p));
	assert_int_equal(sim_fd_close(p, 500), 0);
	assert_int_equal(sim_fd_reserve(p), 0);
	sim_world_free(w);
}

static void test_backend_without_nofile_skips(void **state)
{
	(void)state;
	static char out[4096], err[1024];
	int status = run_text("proc liz nofile=8\nliz: s = socket tcp4 => ok\n", true, out, sizeof(out),
			      err, sizeof(err));
	assert_int_equal(status, SC_SKIP);
	assert_non_null(strstr(err, "t.scn:1:1: skipped: proc: this backend cannot limit descriptors"));
	/* Nothing ran after it. */
	assert_null(strstr(out, "socket tcp4"));
	/* Without nofile= the same backend runs the file. */
	status = run_text("proc liz\nliz: s = socket tcp4 => ok\n", true, out, sizeof(out), err, sizeof(err));
	assert_int_equal(status, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_nofile),
		cmocka_unit_test(test_emfile_on_the_model),
		cmocka_unit_test(test_default_is_1024),
		cmocka_unit_test(test_backend_without_nofile_skips),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
