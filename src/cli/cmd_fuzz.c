/*
 * src/cli/cmd_fuzz.c - `socktab fuzz`: random scenarios, model against Linux.
 *
 * Each generated scenario (src/scenario/gen.c) is run by the same lockstep
 * comparison as `socktab diff`.  On the first divergence the scenario is
 * shrunk -- statements are dropped one at a time, keeping every drop after
 * which the file still parses and the runs still diverge -- and the
 * minimal file is written out, so the report is a test case.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/diffrun.h"
#include "scenario/gen.h"

static const char fuzz_usage[] =
	"usage: socktab fuzz [--seed S] [--count N] [--jobs J] [--out DIR] [--print]\n"
	"\n"
	"Generates N random scenarios (seeds S, S+1, ...; default S=1, N=100) and runs\n"
	"each on the model and on the Linux kernel, comparing them as `socktab diff`\n"
	"does.  On a divergence the scenario is shrunk to a minimal one, written to\n"
	"DIR/fuzz-SEED.scn (default: the current directory), its first divergence is\n"
	"printed, and the exit status is 1.  Otherwise prints how many scenarios and\n"
	"statements were compared and exits 0.  --jobs J runs J scenarios at a time\n"
	"(J processes, each taking every Jth seed; the first divergence found stops\n"
	"them all).  --print writes the scenario for seed S to standard output and\n"
	"exits (nothing runs).\n"
	"\n"
	"Exit status: 0 no divergence, 1 a divergence, 2 bad usage, 77 the kernel\n"
	"replay is not possible here.\n";

/* Runs text as a scenario; 0/1/2/77 as cli_diff_script, 3 when it does not parse. */
static int diff_text(const char *text, size_t len, FILE *out, bool quiet, sc_diff_stats *st)
{
	sc_script *s;
	sc_diags d;
	if (sc_parse("fuzz.scn", text, len, &s, &d) != 0)
		return 3;
	int r = cli_diff_script(s, 0, out, quiet, st);
	sc_script_free(s);
	return r;
}

/* Split into lines (pointers into a private copy). */
typedef struct lines {
	char *copy;
	char **l;
	size_t n;
} lines;

static int split(const char *text, lines *ls)
{
	ls->copy = strdup(text);
	size_t n = 1;
	for (const char *p = text; *p; p++)
		n += *p == '\n';
	ls->l = calloc(n, sizeof(char *));
	if (!ls->copy || !ls->l) {
		free(ls->copy);
		free(ls->l);
		return -ENOMEM;
	}
	ls->n = 0;
	char *save = NULL;
	for (char *t = strtok_r(ls->copy, "\n", &save); t; t = strtok_r(NULL, "\n", &save))
		ls->l[ls->n++] = t;
	return 0;
}

static char *join(const lines *ls, const bool *keep, size_t *len)
{
	size_t total = 1;
	for (size_t i = 0; i < ls->n; i++)
		if (keep[i])
			total += strlen(ls->l[i]) + 1;
	char *t = malloc(total);
	if (!t)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < ls->n; i++) {
		if (!keep[i])
			continue;
		size_t m = strlen(ls->l[i]);
		memcpy(t + k, ls->l[i], m);
		k += m;
		t[k++] = '\n';
	}
	t[k] = 0;
	*len = k;
	return t;
}

/* Does the scenario made of the kept lines still diverge? */
static bool still_diverges(const lines *ls, const bool *keep, FILE *devnull)
{
	size_t len;
	char *t = join(ls, keep, &len);
	int r = t ? diff_text(t, len, devnull, true, NULL) : 2;
	free(t);
	return r == 1;
}

/*
 * Shrinking, in the manner of delta debugging: try to drop runs of lines
 * (half of what is left, then quarters, ... then single lines), keeping
 * every drop after which the file still parses and still diverges, and
 * repeat the single-line pass while it helps.  Runs first, because a
 * scenario that diverges only after a 5 s connect timeout costs 5 s per
 * attempt.  Line 1 (the seed comment) always stays.
 */
static char *shrink(const char *text)
{
	lines ls;
	if (split(text, &ls))
		return NULL;
	bool *keep = malloc(ls.n ? ls.n : 1);
	size_t *idx = malloc((ls.n ? ls.n : 1) * sizeof(size_t));
	FILE *devnull = fopen("/dev/null", "w");
	if (!keep || !idx || !devnull) {
		free(keep);
		free(idx);
		if (devnull)
			fclose(devnull);
		free(ls.copy);
		free(ls.l);
		return NULL;
	}
	memset(keep, 1, ls.n);
	size_t m = 0;   /* idx[0..m): the kept lines that may still go */
	for (size_t i = 1; i < ls.n; i++)
		idx[m++] = i;
	for (size_t chunk = m / 2 ? m / 2 : 1;; chunk = chunk / 2 ? chunk / 2 : 1) {
		bool changed = false;
		/* From the end: later lines use names earlier ones create. */
		for (size_t end = m; end > 0;) {
			size_t from = end > chunk ? end - chunk : 0;
			for (size_t k = from; k < end; k++)
				keep[idx[k]] = false;
			if (still_diverges(&ls, keep, devnull)) {
				memmove(&idx[from], &idx[end], (m - end) * sizeof(size_t));
				m -= end - from;
				changed = true;
			} else {
				for (size_t k = from; k < end; k++)
					keep[idx[k]] = true;
			}
			end = from;
		}
		if (chunk == 1 && !changed)
			break;
	}
	fclose(devnull);
	size_t len;
	char *t = join(&ls, keep, &len);
	free(keep);
	free(idx);
	free(ls.copy);
	free(ls.l);
	return t;
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;
	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	*v = strtoull(s, &end, 0);
	return errno || *end ? -EINVAL : 0;
}

/* One worker's share: seeds seed + k*step for k = 0, 1, ... below
 * seed + count.  Returns 0, 1 (a divergence, shrunk and written), 2 or
 * SC_SKIP; *done counts the scenarios compared. */
static int fuzz_seeds(uint64_t seed, uint64_t count, uint64_t step, const char *dir,
		      sc_diff_stats *st, uint64_t *done)
{
	FILE *devnull = fopen("/dev/null", "w");
	if (!devnull)
		return 2;
	*done = 0;
	for (uint64_t n = 0; n < count; n += step) {
		uint64_t sd = seed + n;
		size_t len;
		char *t = sc_gen_scenario(sd, &len);
		if (!t) {
			fclose(devnull);
			return 2;
		}
		/* The first run's report is kept: if the divergence depends on
		 * timing, the shrunk file may not show it again. */
		char *rep = NULL;
		size_t replen = 0;
		FILE *mem = open_memstream(&rep, &replen);
		int r = diff_text(t, len, mem ? mem : devnull, true, st);
		if (mem)
			fclose(mem);
		if (r != 1) {
			free(rep);
			rep = NULL;
		}
		if (r == 3) {
			fprintf(stderr, "socktab fuzz: seed %llu: the generator wrote a scenario that does "
					"not parse (a generator bug); see `socktab fuzz --print --seed %llu`\n",
				(unsigned long long)sd, (unsigned long long)sd);
			free(t);
			fclose(devnull);
			return 2;
		}
		if (r == SC_SKIP || r == 2) {
			free(t);
			fclose(devnull);
			return r;
		}
		++*done;
		if (r == 1) {
			fprintf(stdout, "socktab fuzz: seed %llu diverges:\n%s", (unsigned long long)sd,
				rep ? rep : "");
			fprintf(stdout, "socktab fuzz: shrinking seed %llu...\n", (unsigned long long)sd);
			free(rep);
			fflush(stdout);
			char *m = shrink(t);
			const char *keep = m ? m : t;
			char path[4096];
			snprintf(path, sizeof(path), "%s/fuzz-%llu.scn", dir, (unsigned long long)sd);
			FILE *f = fopen(path, "w");
			if (f) {
				fputs(keep, f);
				fclose(f);
				fprintf(stdout, "socktab fuzz: minimal scenario written to %s\n", path);
			} else {
				fprintf(stderr, "socktab fuzz: cannot write %s: %s\n", path, strerror(errno));
			}
			if (diff_text(keep, strlen(keep), stdout, true, NULL) == 0)
				fprintf(stdout, "socktab fuzz: the written scenario did not diverge when run "
						"again: the divergence depends on timing\n");
			fflush(stdout);
			free(m);
			free(t);
			fclose(devnull);
			return 1;
		}
		free(t);
	}
	fclose(devnull);
	return 0;
}

/* What a worker process reports to the parent through its pipe. */
typedef struct fuzz_report {
	int status;
	uint64_t done;
	sc_diff_stats st;
} fuzz_report;

/*
 * --jobs N: N worker processes take every Nth seed.  The replay spends
 * most of its time waiting for the kernel (settling, process start-up),
 * so workers overlap well even on two cores.  The first worker to find a
 * divergence shrinks it; the others are stopped (SIGTERM, which the
 * kernel backend turns into a clean-up of its namespaces and processes).
 */
static int fuzz_parallel(uint64_t seed, uint64_t count, int jobs, const char *dir,
			 sc_diff_stats *st, uint64_t *done)
{
	pid_t pid[64];
	int rfd[64];
	int n = 0, status = 0;
	fflush(stdout);
	fflush(stderr);
	for (int k = 0; k < jobs && (uint64_t)k < count; k++) {
		int pfd[2];
		if (pipe(pfd) < 0)
			break;
		pid_t c = fork();
		if (c < 0) {
			close(pfd[0]);
			close(pfd[1]);
			break;
		}
		if (c == 0) {
			for (int j = 0; j < n; j++)
				close(rfd[j]);
			close(pfd[0]);
			fuzz_report rep;
			memset(&rep, 0, sizeof(rep));
			rep.status = fuzz_seeds(seed + (uint64_t)k, count - (uint64_t)k, (uint64_t)jobs, dir,
						&rep.st, &rep.done);
			ssize_t w = write(pfd[1], &rep, sizeof(rep));
			fflush(stdout);
			_exit(w == (ssize_t)sizeof(rep) ? 0 : 3);
		}
		close(pfd[1]);
		pid[n] = c;
		rfd[n] = pfd[0];
		n++;
	}
	if (n == 0)
		return 2;
	int left = n;
	bool stopping = false;
	bool *open_ = calloc((size_t)n, sizeof(bool));
	if (!open_)
		stopping = true;
	for (int j = 0; j < n && open_; j++)
		open_[j] = true;
	while (left > 0 && open_) {
		struct pollfd pf[64];
		int map[64], m = 0;
		for (int j = 0; j < n; j++)
			if (open_[j]) {
				pf[m].fd = rfd[j];
				pf[m].events = POLLIN;
				map[m++] = j;
			}
		if (poll(pf, (nfds_t)m, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < m; i++) {
			if (!pf[i].revents)
				continue;
			int j = map[i];
			fuzz_report rep;
			ssize_t r = read(rfd[j], &rep, sizeof(rep));
			open_[j] = false;
			left--;
			if (r != (ssize_t)sizeof(rep)) {
				/* Stopped by us, or died: only the first matters. */
				if (!stopping && status == 0)
					status = 2;
				continue;
			}
			*done += rep.done;
			st->statements += rep.st.statements;
			st->by_expect += rep.st.by_expect;
			st->pairs += rep.st.pairs;
			st->steered += rep.st.steered;
			if (rep.status != 0 && !stopping) {
				status = rep.status;
				stopping = true;
				for (int q = 0; q < n; q++)
					if (open_[q])
						kill(pid[q], SIGTERM);
			}
		}
	}
	free(open_);
	for (int j = 0; j < n; j++) {
		close(rfd[j]);
		while (waitpid(pid[j], NULL, 0) < 0 && errno == EINTR)
			;
	}
	return status;
}

static int fuzz_main(int argc, char **argv)
{
	uint64_t seed = 1, count = 100, jobs = 1;
	const char *dir = ".";
	bool print = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(fuzz_usage, stdout);
			return 0;
		} else if (strcmp(a, "--seed") == 0) {
			if (parse_u64(i + 1 < argc ? argv[++i] : NULL, &seed))
				return cli_usage_error("fuzz", "--seed needs a number");
		} else if (strcmp(a, "--count") == 0) {
			if (parse_u64(i + 1 < argc ? argv[++i] : NULL, &count) || count == 0)
				return cli_usage_error("fuzz", "--count needs a positive number");
		} else if (strcmp(a, "--jobs") == 0) {
			if (parse_u64(i + 1 < argc ? argv[++i] : NULL, &jobs) || jobs == 0 || jobs > 64)
				return cli_usage_error("fuzz", "--jobs needs a number from 1 to 64");
		} else if (strcmp(a, "--out") == 0) {
			if (i + 1 >= argc)
				return cli_usage_error("fuzz", "--out needs a directory");
			dir = argv[++i];
		} else if (strcmp(a, "--print") == 0) {
			print = true;
		} else {
			return cli_usage_error("fuzz", "unknown argument '%s'", a);
		}
	}
	if (print) {
		size_t len;
		char *t = sc_gen_scenario(seed, &len);
		if (!t)
			return 2;
		fwrite(t, 1, len, stdout);
		free(t);
		return 0;
	}
	sc_diff_stats st;
	memset(&st, 0, sizeof(st));
	uint64_t done = 0;
	int r = jobs > 1 ? fuzz_parallel(seed, count, (int)jobs, dir, &st, &done)
			 : fuzz_seeds(seed, count, 1, dir, &st, &done);
	if (r != 0)
		return r;
	printf("socktab fuzz: %llu scenarios, %zu statements compared, no divergence "
	       "(%zu ports taken from Linux, %zu ports paired, %zu hash-dependent results accepted)\n",
	       (unsigned long long)done, st.statements, st.steered, st.pairs, st.by_expect);
	return 0;
}

static const cli_cmd cmd_fuzz = {
	.name = "fuzz",
	.summary = "random scenarios on the model and on Linux, shrunk on divergence",
	.usage = fuzz_usage,
	.main = fuzz_main,
};

CLI_COMMAND(cmd_fuzz)
