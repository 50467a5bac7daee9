/*
 * src/cli/main.c - `socktab`: dispatch to a subcommand, help, version.
 *
 * The subcommands register themselves (cli.h); this file only keeps the
 * registry and answers the questions that are about the command as a
 * whole: `socktab --help`, `socktab help NAME`, `socktab --version`, and
 * `socktab` alone, which runs the built-in demo.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "socktab/socktab.h"

static const cli_cmd *registry[CLI_MAX_COMMANDS];
static int ncommands;

void cli_register(const cli_cmd *c)
{
	if (ncommands < CLI_MAX_COMMANDS)
		registry[ncommands++] = c;
	else
		fprintf(stderr, "socktab: too many subcommands, '%s' ignored\n", c->name);
}

const cli_cmd *cli_find(const char *name)
{
	for (int i = 0; i < ncommands; i++)
		if (strcmp(registry[i]->name, name) == 0)
			return registry[i];
	return NULL;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "socktab%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (cmd)
		fprintf(stderr, "\nsee 'socktab help %s'\n", cmd);
	else
		fprintf(stderr, "\nsee 'socktab --help'\n");
	return 2;
}

static int cmp_cmd(const void *a, const void *b)
{
	return strcmp((*(const cli_cmd *const *)a)->name, (*(const cli_cmd *const *)b)->name);
}

static void help(FILE *f)
{
	fprintf(f,
		"usage: socktab [COMMAND [ARGS...]]\n"
		"\n"
		"socktab rebuilds Linux's socket tables (bind, listen, connect, demux) in user\n"
		"space and runs scenarios against them, or against the real kernel.\n"
		"\n"
		"With no arguments, socktab runs its built-in demo with explanations.\n"
		"\n"
		"Commands:\n");
	qsort(registry, (size_t)ncommands, sizeof(registry[0]), cmp_cmd);
	for (int i = 0; i < ncommands; i++)
		fprintf(f, "  %-10s %s\n", registry[i]->name, registry[i]->summary);
	fprintf(f,
		"  %-10s %s\n"
		"\n"
		"Options:\n"
		"  --help     this text\n"
		"  --version  print the version and exit\n"
		"\n"
		"'socktab help COMMAND' describes one command; 'man socktab' and\n"
		"docs/scenarios.md describe the scenario language.\n",
		"help", "describe a command");
}

static int help_cmd(int argc, char **argv)
{
	const cli_cmd *c;

	if (argc < 2) {
		help(stdout);
		return 0;
	}
	if (argc > 2)
		return cli_usage_error(NULL, "help takes one command name");
	c = cli_find(argv[1]);
	if (c == NULL)
		return cli_usage_error(NULL, "unknown command '%s'", argv[1]);
	fputs(c->usage, stdout);
	return 0;
}

int main(int argc, char **argv)
{
	const cli_cmd *c;

	if (argc < 2)
		return cli_run_text(cli_demo_name, cli_demo_text, strlen(cli_demo_text), true);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		help(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("socktab %s\n", st_version());
		return 0;
	}
	if (strcmp(argv[1], "help") == 0)
		return help_cmd(argc - 1, argv + 1);
	c = cli_find(argv[1]);
	if (c == NULL) {
		if (argv[1][0] == '-')
			return cli_usage_error(NULL, "unknown option '%s'", argv[1]);
		return cli_usage_error(NULL, "unknown command '%s'", argv[1]);
	}
	return c->main(argc - 1, argv + 1);
}
