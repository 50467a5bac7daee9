/*
 * src/scenario/run.h - executing a parsed scenario on a backend.
 *
 * Two layers:
 *
 *   sc_runner  executes one statement at a time and returns its outcome.
 *              It owns the run-time half of name resolution: the backend's
 *              id of each process and the file descriptor of each slot
 *              (ast.h), and nothing else, so `socktab diff` can drive two
 *              runners (model, kernel) over one script in lock step.
 *
 *   sc_run     the `socktab run` loop over a whole script: runs every
 *              statement, checks expectations (match.c), and writes the
 *              transcript, the --json lines or the --annotate'd file.
 *
 * Results the runner makes up itself (`synthetic`): when a statement uses a
 * variable whose creating call failed at run time (`c = accept s` printed
 * EAGAIN, then `recv c`), the runner answers EBADF without asking the
 * backend, as Linux would for a descriptor that was never opened; when a
 * process whose `fork` failed is used, ESRCH.  Both backends therefore
 * print the same thing for the same failure.
 *
 * Transcript format (stable; tests and docs rely on it):
 *   every statement as written; each operation padded to column 40 and
 *   followed by `=> RESULT`; `ls` followed by its rows as `| ...` lines;
 *   a failed expectation adds the line
 *       !! FAIL FILE:LINE: expected EXPECTATION, got RESULT
 *   (for ls: `!! FAIL FILE:LINE: ls rows differ` and one `!!   missing | ...`
 *   or `!!   unexpected | ...` line per differing row); with --explain each
 *   explanation follows as `    # TEXT` lines; at the end
 *       # FILE: N statements, E expectations: H held, F failed
 */
#ifndef SOCKTAB_SCENARIO_RUN_H
#define SOCKTAB_SCENARIO_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "scenario/ast.h"

typedef struct sc_runner sc_runner;

typedef enum sc_okind {
	SC_O_NONE,      /* a world statement or sleep that succeeded      */
	SC_O_RESULT,    /* an operation: res                              */
	SC_O_LS,        /* rows                                           */
	SC_O_FATAL,     /* a world statement failed: msg, skip            */
} sc_okind;

typedef struct sc_outcome {
	sc_okind kind;
	sc_result res;
	bool synthetic;         /* res was made by the runner, see above  */
	sc_lsrow *rows;         /* sorted; owners sorted; malloc'd        */
	size_t nrows;
	bool skip;              /* SC_O_FATAL because of -SC_ESKIP        */
	char msg[256];
} sc_outcome;

/* NULL on allocation failure.  The script and backend must outlive it. */
sc_runner *sc_runner_new(const sc_script *s, sc_backend *b);
void sc_runner_free(sc_runner *r);
/* Executes statement i (statements must be run in order, each once).
 * *o is overwritten; release it with sc_outcome_clear. */
void sc_runner_step(sc_runner *r, size_t i, sc_outcome *o);
void sc_outcome_clear(sc_outcome *o);

/* Whether statement st's expectation held for outcome o.  A statement
 * without an expectation (or ls without rows) always holds. */
bool sc_outcome_held(const sc_stmt *st, const sc_outcome *o);
bool sc_stmt_has_expect(const sc_stmt *st);

typedef enum sc_mode {
	SC_MODE_TRANSCRIPT,
	SC_MODE_JSON,
	SC_MODE_ANNOTATE,
} sc_mode;

typedef struct sc_run_opts {
	sc_mode mode;
	bool explain;           /* print explanations (transcript, json)  */
	FILE *out;              /* transcript / json / annotated file     */
	FILE *err;              /* fatal errors                            */
} sc_run_opts;

typedef struct sc_run_stats {
	size_t executed;        /* statements run                          */
	size_t expectations;    /* of those, with an expectation           */
	size_t held, failed;
} sc_run_stats;

/* Exit status: 0 every expectation held, 1 one failed, 2 a fatal world
 * error (or out of memory), SC_SKIP a skip.  With SC_MODE_ANNOTATE the
 * annotated file is written only when the run completed, and the status
 * is 0 (the annotation is the product), or 2 / SC_SKIP. */
int sc_run(const sc_script *s, sc_backend *b, const sc_run_opts *o, sc_run_stats *stats);

/* Column where `=> RESULT` starts (0-based) in transcripts and annotations. */
enum { SC_RESULT_COL = 40 };

#endif
