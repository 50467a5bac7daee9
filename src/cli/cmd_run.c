/*
 * src/cli/cmd_run.c - `socktab run`: parse scenarios, run them, report.
 *
 * Every file is parsed before any runs, so a malformed file among several
 * runs nothing at all (exit 2, messages FILE:LINE:COLUMN on stderr).  Each
 * file then runs on a fresh backend -- the model, or with --kernel the
 * Linux replay -- so files cannot influence each other.
 *
 * Exit status over several files: 2 if any file was malformed or failed
 * fatally, else 1 if any expectation failed, else 77 if every file was
 * skipped (the kernel replay is impossible here), else 0.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "kernel/kernel.h"
#include "scenario/ast.h"
#include "scenario/model.h"
#include "scenario/run.h"

static const char run_usage[] =
	"usage: socktab run [OPTIONS] FILE...\n"
	"\n"
	"Runs each scenario FILE ('-' for standard input) and prints every statement\n"
	"followed by '=> RESULT'.  A failed expectation adds a line starting with\n"
	"'!! FAIL'.  Every file is parsed first: if one is malformed, nothing runs.\n"
	"\n"
	"Options:\n"
	"  --explain      print why each call answered as it did ('    # ...' lines)\n"
	"  --json         print one JSON object per statement, then a summary object\n"
	"  --annotate     print the scenario back with each operation's actual result\n"
	"                 as its expectation (held expectations are kept as written);\n"
	"                 one FILE only\n"
	"  --pcap FILE    write the model's packets to FILE (pcap); one FILE only\n"
	"  --seed N       seed of the model's hashes (default 0)\n"
	"  --kernel       run on the real Linux kernel (network namespaces) instead\n"
	"                 of the model; needs root or unprivileged user namespaces\n"
	"  --help         this text\n"
	"\n"
	"Exit status: 0 every expectation held, 1 at least one failed, 2 a malformed\n"
	"file, a failed world statement or bad usage, 77 the kernel replay was\n"
	"skipped (not possible on this machine).\n";

struct run_args {
	bool explain, json, annotate, kernel;
	const char *pcap;
	uint64_t seed;
	char **files;
	int nfiles;
};

static int parse_seed(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s[0] == '\0' || s[0] == '-' || s[0] == '+' || s[0] == ' ')
		return -EINVAL;
	/* decimal, or hexadecimal with 0x; never octal (a leading 0 is decimal) */
	errno = 0;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		v = strtoull(s + 2, &end, 16);
	else
		v = strtoull(s, &end, 10);
	if (end == s || (s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && end == s + 2))
		return -EINVAL;
	if (errno != 0 || *end != '\0')
		return -EINVAL;
	*out = v;
	return 0;
}

/* --opt VALUE or --opt=VALUE; returns the value or NULL (usage error). */
static const char *opt_value(int argc, char **argv, int *i, const char *name)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n) == 0 && argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (*i + 1 >= argc)
		return NULL;
	return argv[++*i];
}

static int parse_args(int argc, char **argv, struct run_args *a, bool *help)
{
	bool dashdash = false;
	int stdin_count = 0;

	memset(a, 0, sizeof(*a));
	*help = false;
	a->files = calloc((size_t)argc + 1, sizeof(*a->files));
	if (a->files == NULL) {
		fprintf(stderr, "socktab run: out of memory\n");
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (dashdash || arg[0] != '-' || strcmp(arg, "-") == 0) {
			if (strcmp(arg, "-") == 0 && ++stdin_count > 1)
				return cli_usage_error("run", "standard input ('-') can be read only once");
			a->files[a->nfiles++] = argv[i];
		} else if (strcmp(arg, "--") == 0) {
			dashdash = true;
		} else if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			*help = true;
			return 0;
		} else if (strcmp(arg, "--explain") == 0) {
			a->explain = true;
		} else if (strcmp(arg, "--json") == 0) {
			a->json = true;
		} else if (strcmp(arg, "--annotate") == 0) {
			a->annotate = true;
		} else if (strcmp(arg, "--kernel") == 0) {
			a->kernel = true;
		} else if (strncmp(arg, "--pcap", 6) == 0 && (arg[6] == '\0' || arg[6] == '=')) {
			a->pcap = opt_value(argc, argv, &i, "--pcap");
			if (a->pcap == NULL || a->pcap[0] == '\0')
				return cli_usage_error("run", "--pcap needs a file name");
		} else if (strncmp(arg, "--seed", 6) == 0 && (arg[6] == '\0' || arg[6] == '=')) {
			const char *v = opt_value(argc, argv, &i, "--seed");

			if (v == NULL)
				return cli_usage_error("run", "--seed needs a number");
			if (parse_seed(v, &a->seed) != 0)
				return cli_usage_error("run", "bad seed '%s' (a number from 0 to 2^64-1)", v);
		} else {
			return cli_usage_error("run", "unknown option '%s'", arg);
		}
	}
	if (a->nfiles == 0)
		return cli_usage_error("run", "no scenario file given");
	if (a->json && a->annotate)
		return cli_usage_error("run", "--json and --annotate cannot be combined");
	if (a->annotate && a->nfiles > 1)
		return cli_usage_error("run", "--annotate takes exactly one file");
	if (a->pcap && a->nfiles > 1)
		return cli_usage_error("run", "--pcap takes exactly one file");
	if (a->pcap && a->kernel)
		return cli_usage_error("run", "--pcap works with the model only, not with --kernel");
	return 0;
}

/* Runs one parsed script on a fresh backend.  Returns the exit status. */
static int run_script(const sc_script *s, const struct run_args *a)
{
	sc_backend_config cfg = { .seed = a->seed, .explain = a->explain, .pcap = a->pcap };
	sc_run_opts o = {
		.mode = a->json ? SC_MODE_JSON : a->annotate ? SC_MODE_ANNOTATE : SC_MODE_TRANSCRIPT,
		.explain = a->explain,
		.out = stdout,
		.err = stderr,
	};
	char msg[512] = "";
	sc_backend *b;
	int status;

	if (a->kernel) {
		int skip = 0;

		b = kr_backend_new(&cfg, msg, sizeof(msg), &skip);
		if (b == NULL) {
			fprintf(stderr, "%s: %s%s\n", s->file, skip ? "skipped: " : "",
				msg[0] ? msg : "cannot start the kernel replay");
			return skip ? SC_SKIP : 2;
		}
	} else {
		b = sc_model_new(&cfg, msg, sizeof(msg));
		if (b == NULL) {
			fprintf(stderr, "%s: %s\n", s->file, msg[0] ? msg : "cannot create the model");
			return 2;
		}
	}
	status = sc_run(s, b, &o, NULL);
	b->ops->destroy(b);
	return status;
}

static int combine(int worst, int st, bool first)
{
	if (first)
		return st;
	if (worst == 2 || st == 2)
		return 2;
	if (worst == 1 || st == 1)
		return 1;
	if (worst == SC_SKIP && st == SC_SKIP)
		return SC_SKIP;
	return 0;
}

static int run_main(int argc, char **argv)
{
	struct run_args a;
	sc_script **scripts;
	bool help, bad = false;
	int status = 0, rc;

	rc = parse_args(argc, argv, &a, &help);
	if (rc != 0 || help) {
		if (help)
			fputs(run_usage, stdout);
		free(a.files);
		return rc;
	}
	scripts = calloc((size_t)a.nfiles, sizeof(*scripts));
	if (scripts == NULL) {
		free(a.files);
		fprintf(stderr, "socktab run: out of memory\n");
		return 2;
	}
	for (int i = 0; i < a.nfiles; i++) {
		sc_diags d;

		if (sc_parse_file(a.files[i], &scripts[i], &d) != 0) {
			sc_diags_print(&d, a.files[i], stderr);
			bad = true;
		}
	}
	if (!bad) {
		for (int i = 0; i < a.nfiles; i++) {
			if (i > 0 && !a.json)
				fputc('\n', stdout);
			status = combine(status, run_script(scripts[i], &a), i == 0);
		}
	} else {
		status = 2;
	}
	for (int i = 0; i < a.nfiles; i++)
		sc_script_free(scripts[i]);
	free(scripts);
	free(a.files);
	return status;
}

int cli_run_text(const char *name, const char *text, size_t len, bool explain)
{
	struct run_args a = { .explain = explain };
	sc_script *s;
	sc_diags d;
	int status;

	if (sc_parse(name, text, len, &s, &d) != 0) {
		sc_diags_print(&d, name, stderr);
		return 2;
	}
	status = run_script(s, &a);
	sc_script_free(s);
	return status;
}

static const cli_cmd cmd_run = {
	.name = "run",
	.summary = "run scenario files on the model (or the kernel) and check them",
	.usage = run_usage,
	.main = run_main,
};

CLI_COMMAND(cmd_run)
