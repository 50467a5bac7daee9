/*
 * fuzz/fuzz_scenario.c - scenario text through the parser and, when it
 * parses, through a whole run on the model backend.
 *
 * The scenario language is socktab's user interface: files come from
 * users, from `socktab fuzz`'s generator and from other tools.  Whatever
 * the bytes, sc_parse must return 0 or -EINVAL with at least one
 * FILE:LINE:COLUMN diagnostic (never crash, leak, or read outside the
 * input), and a script that parses must run to the end on the model --
 * every statement, whatever it does to the simulated hosts -- with exit
 * status 0, 1 or 2 (a world statement the model refuses, e.g. a 65th
 * host).  The transcript goes to /dev/null; which of the three output
 * modes (transcript, --json, --annotate) and whether --explain is on is
 * chosen from the input's length, so that every printer is exercised.
 *
 * Bounded so that one input runs in milliseconds: at most MAX_STMTS
 * statements are run (longer scripts are only parsed), and sleeps are the
 * model's virtual time, which costs nothing unless timers are pending --
 * and every TCP timer gives up after a bounded number of retries.
 */
#include "fuzz.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario/ast.h"
#include "scenario/model.h"
#include "scenario/run.h"

enum { MAX_STMTS = 400 };

static FILE *devnull(void)
{
	static FILE *f;

	if (!f) {
		f = fopen("/dev/null", "w");
		if (!f)
			abort();
	}
	return f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	sc_script *s = NULL;
	sc_diags d;

	memset(&d, 0, sizeof(d));
	int rc = sc_parse("fuzz.scn", (const char *)data, size, &s, &d);
	if (rc == -EINVAL) {
		if (d.n == 0 || s != NULL) {
			fprintf(stderr, "fuzz_scenario: -EINVAL without a diagnostic\n");
			abort();
		}
		sc_diags_print(&d, "fuzz.scn", devnull());
		return 0;
	}
	if (rc != 0) {
		fprintf(stderr, "fuzz_scenario: sc_parse returned %d\n", rc);
		abort();
	}
	if (!s) {
		fprintf(stderr, "fuzz_scenario: sc_parse returned 0 without a script\n");
		abort();
	}
	if (s->nstmts <= MAX_STMTS) {
		sc_backend_config cfg = { .seed = size, .explain = size & 1, .pcap = NULL };
		char msg[256];
		sc_backend *b = sc_model_new(&cfg, msg, sizeof(msg));
		if (!b) {
			fprintf(stderr, "fuzz_scenario: no model backend: %s\n", msg);
			abort();
		}
		sc_run_opts o = {
			.mode = (sc_mode)((size >> 1) % 3),
			.explain = size & 1,
			.out = devnull(),
			.err = devnull(),
		};
		sc_run_stats st;
		int status = sc_run(s, b, &o, &st);
		b->ops->destroy(b);
		if (status != 0 && status != 1 && status != 2) {
			fprintf(stderr, "fuzz_scenario: sc_run exit status %d\n", status);
			abort();
		}
		if (st.held + st.failed != st.expectations || st.executed > s->nstmts) {
			fprintf(stderr, "fuzz_scenario: inconsistent counts: %zu run of %zu, %zu "
					"expectations, %zu held, %zu failed\n",
				st.executed, s->nstmts, st.expectations, st.held, st.failed);
			abort();
		}
	}
	sc_script_free(s);
	return 0;
}
