/*
 * src/cli/cmd_diff.c - `socktab diff FILE...`: the model against Linux.
 *
 * Each file runs on both backends in lockstep, statement by statement;
 * the first statement whose outcomes differ (after the two documented
 * normalizations of diff.h) is printed with both results and the model's
 * explanation of its answer, which is usually where the bug is.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/diffrun.h"
#include "cli/steer.h"
#include "kernel/kernel.h"
#include "scenario/model.h"
#include "scenario/print.h"

static const char diff_usage[] =
	"usage: socktab diff [--seed N] [--quiet] [--jobs J] FILE...\n"
	"\n"
	"Runs each scenario FILE on the model and on the real Linux kernel (network\n"
	"namespaces) and compares them statement by statement.  Prints the first\n"
	"statement where they differ, with both results and the model's explanation.\n"
	"Expectations are not needed and not checked (`socktab run` checks them);\n"
	"one that lists alternatives says which differences are Linux's chance.\n"
	"--jobs J runs J files at a time (outputs still in the order of the files).\n"
	"\n"
	"Normalized (see docs/conformance.md): ephemeral ports -- the kernel runs\n"
	"each statement first and the model takes the port Linux chose if Linux's\n"
	"search could have chosen it (else that is the divergence); ports that\n"
	"still differ are paired one-to-one, in range, same parity -- and results\n"
	"whose expectation lists alternatives (`=> A | B`: the SO_REUSEPORT member\n"
	"Linux picks by hash).\n"
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

/*
 * --jobs J: the files run in J worker processes at a time (each file is
 * its own pair of worlds, so they do not meet), their outputs kept apart
 * and printed in the order of the files.  Scenarios that sleep for real
 * (TIME_WAIT's 60 s) then overlap instead of adding up.  The status is
 * the worst one: 2, then 1, then 77, then 0.
 */
typedef struct diff_job {
	pid_t pid;
	int fd;              /* the worker's output, or -1 */
	char *out;
	size_t len, cap;
	int status;
	bool done;
} diff_job;

static int diff_parallel(sc_script **scripts, int nfiles, uint64_t seed, bool quiet, int jobs)
{
	diff_job *j = calloc((size_t)nfiles, sizeof(*j));
	if (!j)
		return 2;
	int next = 0, running = 0, printed = 0, worst = 0;
	fflush(stdout);
	fflush(stderr);
	while (printed < nfiles) {
		while (running < jobs && next < nfiles) {
			diff_job *d = &j[next];
			int pfd[2];
			d->fd = -1;
			d->status = 2;
			if (pipe(pfd) == 0) {
				d->pid = fork();
				if (d->pid == 0) {
					close(pfd[0]);
					if (dup2(pfd[1], STDOUT_FILENO) < 0 || dup2(pfd[1], STDERR_FILENO) < 0)
						_exit(2);
					close(pfd[1]);
					int st = cli_diff_script(scripts[next], seed, stdout, quiet, NULL);
					fflush(stdout);
					fflush(stderr);
					_exit(st);
				}
				close(pfd[1]);
				if (d->pid > 0) {
					d->fd = pfd[0];
					running++;
				} else {
					close(pfd[0]);
				}
			}
			if (d->fd < 0)
				d->done = true;   /* could not start: status 2 */
			next++;
		}
		struct pollfd pf[64];
		int map[64], m = 0;
		for (int i = 0; i < next && m < 64; i++)
			if (!j[i].done && j[i].fd >= 0) {
				pf[m].fd = j[i].fd;
				pf[m].events = POLLIN;
				map[m++] = i;
			}
		if (m > 0 && poll(pf, (nfds_t)m, -1) < 0 && errno != EINTR)
			break;
		for (int k = 0; k < m; k++) {
			if (!pf[k].revents)
				continue;
			diff_job *d = &j[map[k]];
			if (d->len + 4096 > d->cap) {
				size_t nc = d->cap ? d->cap * 2 : 8192;
				char *o = realloc(d->out, nc);
				if (!o)
					continue;
				d->out = o;
				d->cap = nc;
			}
			ssize_t r = read(d->fd, d->out + d->len, d->cap - d->len);
			if (r > 0) {
				d->len += (size_t)r;
				continue;
			}
			if (r < 0 && errno == EINTR)
				continue;
			close(d->fd);
			d->fd = -1;
			int ws = 0;
			while (waitpid(d->pid, &ws, 0) < 0 && errno == EINTR)
				;
			d->status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 2;
			d->done = true;
			running--;
		}
		while (printed < nfiles && j[printed].done) {
			diff_job *d = &j[printed];
			if (d->len)
				fwrite(d->out, 1, d->len, stdout);
			fflush(stdout);
			int st = d->status;
			int rank = st == 2 ? 3 : st == 1 ? 2 : st == SC_SKIP ? 1 : 0;
			int wrank = worst == 2 ? 3 : worst == 1 ? 2 : worst == SC_SKIP ? 1 : 0;
			if (rank > wrank)
				worst = st;
			printed++;
		}
	}
	for (int i = 0; i < nfiles; i++) {
		if (j[i].fd >= 0)
			close(j[i].fd);
		free(j[i].out);
	}
	free(j);
	return worst;
}

static int diff_main(int argc, char **argv)
{
	uint64_t seed = 0;
	bool quiet = false;
	int jobs = 1;
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
		if (strcmp(a, "--jobs") == 0) {
			const char *v = first + 1 < argc ? argv[++first] : NULL;
			char *end;
			errno = 0;
			long j = v ? strtol(v, &end, 10) : 0;
			if (!v || errno || *end || j < 1 || j > 64)
				return cli_usage_error("diff", "--jobs needs a number from 1 to 64");
			jobs = (int)j;
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
	if (!bad && jobs > 1 && nfiles > 1) {
		status = diff_parallel(scripts, nfiles, seed, quiet, jobs);
	} else {
		for (int i = 0; i < nfiles && !bad; i++) {
			int st = cli_diff_script(scripts[i], seed, stdout, quiet, NULL);
			if (st == 2 || st == SC_SKIP) {
				status = st;
				break;
			}
			if (st > status)
				status = st;
		}
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
