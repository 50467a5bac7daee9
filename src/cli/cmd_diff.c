/*
 * src/cli/cmd_diff.c - `socktab diff FILE...`: the model against Linux.
 *
 * Each file runs on both backends in lockstep, statement by statement;
 * the first statement whose outcomes differ (after the two documented
 * normalizations of diff.h) is printed with both results and the model's
 * explanation of its answer, which is usually where the bug is.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/diffrun.h"
#include "cli/steer.h"
#include "kernel/kernel.h"
#include "scenario/model.h"
#include "scenario/print.h"

static const char diff_usage[] =
	"usage: socktab diff [--seed N] [--quiet] FILE...\n"
	"\n"
	"Runs each scenario FILE on the model and on the real Linux kernel (network\n"
	"namespaces) and compares them statement by statement.  Prints the first\n"
	"statement where they differ, with both results and the model's explanation.\n"
	"Expectations are not needed; where they exist they are also checked.\n"
	"\n"
	"Normalized (see docs/conformance.md): ephemeral port numbers (paired\n"
	"one-to-one, in range, same parity) and results whose expectation lists\n"
	"alternatives (`=> A | B`: the SO_REUSEPORT member Linux picks by hash).\n"
	"\n"
	"Exit status: 0 no difference, 1 a difference, 2 bad usage or a malformed\n"
	"file, 77 the kernel replay is not possible here (skipped).\n";

static void print_stmt(FILE *f, const sc_script *s, const sc_stmt *st)
{
	fprintf(f, "%s:%u: %.*s\n", s->file, st->loc.line, (int)st->text_len,
		s->src + st->line_off + st->text_col);
}

static void print_outcome(FILE *f, const char *who, const sc_outcome *o)
{
	sc_buf b;
	memset(&b, 0, sizeof(b));
	switch (o->kind) {
	case SC_O_RESULT:
		sc_fmt_result(&b, &o->res);
		fprintf(f, "  %-7s => %s\n", who, sc_buf_str(&b));
		break;
	case SC_O_LS:
		fprintf(f, "  %-7s:\n", who);
		for (size_t i = 0; i < o->nrows; i++) {
			sc_buf fl[5];
			memset(fl, 0, sizeof(fl));
			sc_fmt_lsrow_fields(&o->rows[i], fl);
			fprintf(f, "    | %s %s %s %s %s\n", sc_buf_str(&fl[0]), sc_buf_str(&fl[1]),
				sc_buf_str(&fl[2]), sc_buf_str(&fl[3]), sc_buf_str(&fl[4]));
			for (int k = 0; k < 5; k++)
				sc_buf_free(&fl[k]);
		}
		break;
	case SC_O_FATAL:
		fprintf(f, "  %-7s fails: %s\n", who, o->msg);
		break;
	default:
		fprintf(f, "  %-7s ok\n", who);
		break;
	}
	sc_buf_free(&b);
}

int cli_diff_script(const sc_script *s, uint64_t seed, FILE *out, bool quiet, sc_diff_stats *stats)
{
	char msg[256];
	int skip = 0;
	sc_backend_config cfg = { .seed = seed, .explain = true, .pcap = NULL };
	sc_backend *mb = sc_model_new(&cfg, msg, sizeof(msg));
	if (!mb) {
		fprintf(stderr, "socktab diff: model: %s\n", msg);
		return 2;
	}
	sc_backend_config kcfg = { .seed = seed, .explain = false, .pcap = NULL };
	sc_backend *kb = kr_backend_new(&kcfg, msg, sizeof(msg), &skip);
	if (!kb) {
		mb->ops->destroy(mb);
		fprintf(stderr, "socktab diff: kernel: %s\n", msg);
		return skip ? SC_SKIP : 2;
	}
	/* Port steering (steer.c): the kernel runs each statement first and
	 * the model is offered the ports it chose. */
	sc_steer steer;
	memset(&steer, 0, sizeof(steer));
	sc_backend *wm = sc_steer_wrap(mb, false, &steer), *wk = sc_steer_wrap(kb, true, &steer);
	sc_runner *rm = wm ? sc_runner_new(s, wm) : NULL, *rk = wk ? sc_runner_new(s, wk) : NULL;
	sc_portmap *pm = calloc(1, sizeof(*pm));
	int status = 0;
	if (!rm || !rk || !pm) {
		fprintf(stderr, "socktab diff: out of memory\n");
		status = 2;
		goto out;
	}
	if (sc_portmap_init(pm, s)) {
		fprintf(stderr, "socktab diff: out of memory\n");
		status = 2;
		goto out;
	}
	for (size_t i = 0; i < s->nstmts; i++) {
		const sc_stmt *st = &s->stmts[i];
		sc_outcome om, ok;
		sc_steer_begin(&steer);
		sc_runner_step(rk, i, &ok);
		sc_runner_step(rm, i, &om);
		if (ok.kind == SC_O_FATAL && ok.skip) {
			fprintf(stderr, "socktab diff: kernel replay skipped: %s\n", ok.msg);
			sc_outcome_clear(&om);
			sc_outcome_clear(&ok);
			status = SC_SKIP;
			goto out;
		}
		char why[512];
		sc_cmp c = sc_outcome_compare(pm, st, &om, &ok, why, sizeof(why));
		if (steer.refused && c != SC_CMP_DIFFER) {
			/* Linux made a choice the model holds impossible. */
			snprintf(why, sizeof(why), "Linux chose port %u, which the model refuses: %s",
				 steer.refused_port, steer.why);
			c = SC_CMP_DIFFER;
		}
		if (stats) {
			stats->statements++;
			if (c == SC_CMP_BY_EXPECT)
				stats->by_expect++;
		}
		if (c == SC_CMP_DIFFER) {
			fprintf(out, "%s:%u: first divergence (%s)\n", s->file, st->loc.line, why);
			print_stmt(out, s, st);
			print_outcome(out, "model", &om);
			print_outcome(out, "kernel", &ok);
			if (om.kind == SC_O_RESULT && om.res.explain)
				fprintf(out, "  the model's explanation:\n    %s\n", om.res.explain);
			status = 1;
		}
		bool fatal = om.kind == SC_O_FATAL || ok.kind == SC_O_FATAL;
		if (fatal)
			snprintf(msg, sizeof(msg), "%s", om.kind == SC_O_FATAL ? om.msg : ok.msg);
		sc_outcome_clear(&om);
		sc_outcome_clear(&ok);
		if (status)
			goto out;
		if (fatal) {
			fprintf(stderr, "%s:%u: both runs stopped: %s\n", s->file, st->loc.line, msg);
			status = 2;
			goto out;
		}
	}
	if (stats) {
		stats->pairs += pm->pairs;
		stats->steered += steer.taken;
	}
	if (!quiet)
		fprintf(out, "%s: %zu statements, model and kernel agree (%zu ports taken from Linux, "
			     "%u ports paired, %zu hash-dependent results accepted by their expectation)\n",
			s->file, s->nstmts, steer.taken, pm->pairs, stats ? stats->by_expect : (size_t)0);
out:
	if (pm)
		sc_portmap_free(pm);
	free(pm);
	if (rm)
		sc_runner_free(rm);
	if (rk)
		sc_runner_free(rk);
	if (wm)
		wm->ops->destroy(wm);
	if (wk)
		wk->ops->destroy(wk);
	mb->ops->destroy(mb);
	kb->ops->destroy(kb);
	return status;
}

static int diff_main(int argc, char **argv)
{
	uint64_t seed = 0;
	bool quiet = false;
	int first = 1;
	for (; first < argc; first++) {
		const char *a = argv[first];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(diff_usage, stdout);
			return 0;
		}
		if (strcmp(a, "--quiet") == 0) {
			quiet = true;
			continue;
		}
		if (strcmp(a, "--seed") == 0 || strncmp(a, "--seed=", 7) == 0) {
			const char *v = a[6] == '=' ? a + 7 : (first + 1 < argc ? argv[++first] : NULL);
			char *end;
			errno = 0;
			if (!v || !*v || *v == '-')
				return cli_usage_error("diff", "--seed needs a number");
			seed = strtoull(v, &end, 0);
			if (errno || *end)
				return cli_usage_error("diff", "--seed needs a number, not '%s'", v);
			continue;
		}
		if (strcmp(a, "--") == 0) {
			first++;
			break;
		}
		if (a[0] == '-' && a[1])
			return cli_usage_error("diff", "unknown option '%s'", a);
		break;
	}
	if (first >= argc)
		return cli_usage_error("diff", "no scenario file");
	int nfiles = argc - first;
	sc_script **scripts = calloc((size_t)nfiles, sizeof(*scripts));
	if (!scripts)
		return 2;
	bool bad = false;
	for (int i = 0; i < nfiles; i++) {
		sc_diags d;
		if (sc_parse_file(argv[first + i], &scripts[i], &d) != 0) {
			sc_diags_print(&d, argv[first + i], stderr);
			bad = true;
		}
	}
	int status = bad ? 2 : 0;
	for (int i = 0; i < nfiles && !bad; i++) {
		int st = cli_diff_script(scripts[i], seed, stdout, quiet, NULL);
		if (st == 2 || st == SC_SKIP) {
			status = st;
			break;
		}
		if (st > status)
			status = st;
	}
	for (int i = 0; i < nfiles; i++)
		sc_script_free(scripts[i]);
	free(scripts);
	return status;
}

static const cli_cmd cmd_diff = {
	.name = "diff",
	.summary = "run scenarios on the model and on Linux and compare them",
	.usage = diff_usage,
	.main = diff_main,
};

CLI_COMMAND(cmd_diff)
