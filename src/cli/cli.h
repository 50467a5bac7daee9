/*
 * src/cli/cli.h - the `socktab` command: subcommands and what they share.
 *
 * Each subcommand lives in its own file (cmd_run.c, cmd_diff.c, ...) and
 * registers itself with CLI_COMMAND(), a constructor that runs before
 * main(): adding a subcommand is adding one file, with no table to edit.
 * (Every .c file of src/cli is linked straight into the executable, never through
 * a static library, so no registration can be dropped by the linker.)
 *
 * Conventions every subcommand follows: `--help` prints its usage to
 * standard output and exits 0; a usage error prints one line starting
 * with `socktab NAME:` and `see 'socktab help NAME'` to standard error and
 * exits 2; the file name `-` means standard input.
 */
#ifndef SOCKTAB_CLI_H
#define SOCKTAB_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct cli_cmd {
	const char *name;
	const char *summary;    /* one line, for `socktab --help`          */
	const char *usage;      /* full text, for `socktab help NAME`      */
	int (*main)(int argc, char **argv);   /* argv[0] is the command name */
} cli_cmd;

enum { CLI_MAX_COMMANDS = 32 };

void cli_register(const cli_cmd *c);
const cli_cmd *cli_find(const char *name);

#define CLI_COMMAND(var)                                                 \
	static void cli_register_##var(void) __attribute__((constructor)); \
	static void cli_register_##var(void)                                \
	{                                                                   \
		cli_register(&(var));                                       \
	}

/* A usage error of command `cmd`: prints the message and the hint, and
 * returns 2 (the exit status to return). */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The built-in demo scenario (demo.c) and its name in messages. */
extern const char cli_demo_name[];
extern const char cli_demo_text[];

/* Runs scenario text from memory as `socktab run` would (model backend,
 * transcript), with explanations when `explain`.  Returns the exit status. */
int cli_run_text(const char *name, const char *text, size_t len, bool explain);

#endif
