/*
 * src/scenario/ast.h - a parsed scenario, ready to run.
 *
 * The parser (lex.c, parse.c) turns the text of a scenario (the language of
 * /work/shared/scenario-language.md, documented in docs/scenarios.md) into
 * an sc_script: a flat array of statements in file order, plus the tables
 * of hosts, processes and *slots* the statements refer to by index.
 *
 * Why names are resolved here and not in the runner: every check the
 * language promises before anything runs (undeclared process, use of a
 * closed variable, use after `exit`, a `fork` child that already exists,
 * `sendfd` to self, ...) needs the same bookkeeping the runner would do.
 * Doing it once, statically, through the linear script means a malformed
 * file runs nothing, and the runner (and every backend, and `socktab diff`)
 * sees only indexes that are known to be valid.
 *
 * A *slot* is one (process, variable name) pair: `liz: s = socket tcp4`
 * creates slot (liz, s); `fork kid` creates (kid, s) for every socket
 * variable liz holds at that point; `sendfd s tim` creates (tim, s).  A
 * slot keeps its index if its name is bound again after `close` (that is
 * allowed; binding a name that is still open is not).  At run time the
 * runner keeps one file descriptor per slot (the backend's fd, or -1 when
 * the call that should have produced it failed), so the run is O(1) per
 * statement whatever the number of names.
 *
 * Every statement, expectation alternative and `ls` row carries its line
 * and column (1-based; the column counts bytes), so that every message,
 * at parse time or run time, reads FILE:LINE:COLUMN.
 *
 * Memory: a script owns a copy of its source text (statements point into
 * it by offset, for the transcript and --annotate) and one arena that
 * holds every name, string and argument payload; sc_script_free() releases
 * everything at once.  Pointers inside an sc_stmt point into that arena
 * and live as long as the script.
 */
#ifndef SOCKTAB_SCENARIO_AST_H
#define SOCKTAB_SCENARIO_AST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "scenario/backend.h"

/*
 * Limits.  Each one, when exceeded, is a parse error naming the limit.
 * They exist so that a hostile or runaway file gets a clear message, not
 * an allocation failure or a kernel replay that runs out of namespaces.
 */
enum {
	SC_MAX_LINE = 4096,            /* bytes per line, without the newline  */
	SC_MAX_FILE = 256 << 20,       /* bytes per file (256 MiB)             */
	SC_MAX_STMTS = 2000000,        /* statements per file                  */
	SC_MAX_HOSTS = 64,             /* including `local`                    */
	SC_MAX_PROCS = 4096,           /* including `fork` children            */
	SC_MAX_VARS_PER_PROC = 1000,   /* open socket variables per process
	                                * (fits the usual RLIMIT_NOFILE 1024
	                                * of a replayed process)               */
	SC_MAX_NAME = 31,              /* bytes in a host/process/variable name */
	SC_MAX_ALTS = 16,              /* alternatives in one expectation      */
	SC_MAX_LS_ROWS = 4096,         /* expected `|` rows after one `ls`     */
	SC_MAX_SYSCTL_VALUES = 4,      /* values after a sysctl key            */
	SC_MAX_ERRORS = 10,            /* parse errors reported per file       */
	SC_MAX_LINKS_PER_HOST = 64,    /* eth0 .. eth63                        */
	SC_MIN_NOFILE = 3,             /* `proc ... nofile=N`: 0-2 are stdio    */
	SC_MAX_NOFILE = 1048576,       /* ... up to Linux's fs.nr_open default  */
};

/* Total virtual time all `sleep`s of a file may add up to (~146 years). */
#define SC_MAX_TOTAL_SLEEP_NS (UINT64_C(1) << 62)

/* A position in the source: 1-based line and byte column.  0:0 = none. */
typedef struct sc_loc {
	uint32_t line;
	uint32_t col;
} sc_loc;

/* The verbs of `PROC: [VAR =] VERB ARGS...`. */
typedef enum sc_verb {
	SC_V_SOCKET,
	SC_V_SETSOCKOPT,
	SC_V_GETSOCKOPT,
	SC_V_BIND,
	SC_V_LISTEN,
	SC_V_CONNECT,
	SC_V_ACCEPT,
	SC_V_SEND,
	SC_V_SENDTO,
	SC_V_RECV,
	SC_V_RECVFROM,
	SC_V_GETSOCKNAME,
	SC_V_GETPEERNAME,
	SC_V_SHUTDOWN,
	SC_V_CLOSE,
	SC_V_FORK,
	SC_V_SENDFD,
	SC_V_EXIT,
	SC_V_COUNT_
} sc_verb;

/* Statement kinds: the world, the two global statements, operations. */
typedef enum sc_skind {
	SC_S_HOST,    /* host NAME                                  */
	SC_S_ADDR,    /* addr HOST CIDR                             */
	SC_S_LINK,    /* link HOST:CIDR HOST:CIDR [delay=DURATION]  */
	SC_S_SYSCTL,  /* sysctl [HOST] KEY VALUE...                 */
	SC_S_PROC,    /* proc NAME[@HOST] [uid=N] [caps=CAP,...] [nofile=N] */
	SC_S_SLEEP,   /* sleep DURATION                             */
	SC_S_LS,      /* ls [HOST], then optional `| ...` rows      */
	SC_S_OP,      /* PROC: [VAR =] VERB ARGS... [=> EXPECTATION] */
} sc_skind;

/*
 * An address in an expectation: an sc_sockaddr whose port may be `*`.
 * (Arguments use a plain sc_sockaddr; `*` is refused there.)
 */
typedef struct sc_addrpat {
	sc_sockaddr sa;
	bool any_port;      /* written `:*` */
} sc_addrpat;

/* One alternative of `=> A | B | ...`. */
typedef enum sc_ekind {
	SC_E_OK,        /* ok                                   */
	SC_E_OK_ADDR,   /* ok ADDR                              */
	SC_E_ERR,       /* EADDRINUSE (err > 0)                 */
	SC_E_ADDR,      /* ADDR                                 */
	SC_E_DATA,      /* "DATA" (recv; also SO_BINDTODEVICE)  */
	SC_E_DATA_FROM, /* "DATA" from ADDR                     */
	SC_E_INT,       /* 1 (getsockopt; SO_ERROR `0`)         */
	SC_E_LINGER,    /* 1,0 (getsockopt SO_LINGER)           */
} sc_ekind;

typedef struct sc_alt {
	sc_ekind kind;
	sc_loc loc;
	int err;                /* SC_E_ERR                              */
	sc_addrpat addr;        /* SC_E_OK_ADDR, SC_E_ADDR, SC_E_DATA_FROM */
	const uint8_t *data;    /* SC_E_DATA, SC_E_DATA_FROM (arena)     */
	size_t len;
	int64_t i, i2;          /* SC_E_INT (i), SC_E_LINGER (i, i2)     */
} sc_alt;

/* `=> ...`.  nalts == 0: the statement has no expectation. */
typedef struct sc_expect {
	const sc_alt *alts;
	uint32_t nalts;
	sc_loc loc;             /* of the `=>`                           */
	uint32_t text_off;      /* the expectation as written (after
	                         * `=>`, trimmed), offset in script->src */
	uint32_t text_len;
} sc_expect;

/*
 * One expected `ls` row: `| PROTO STATE LOCAL PEER OWNERS`.
 * Invariant: owners is sorted and comma-separated without blanks, or "-",
 * so two rows compare with strcmp on it.
 */
typedef struct sc_lspat {
	sc_loc loc;
	sc_kind kind;
	char state[12];
	sc_addrpat local;
	bool has_peer;          /* false: written `*`                    */
	sc_addrpat peer;
	char owners[256];
	uint32_t text_off;      /* the row as written, without the `|`   */
	uint32_t text_len;
} sc_lspat;

/* `HOST:CIDR` of a link, or the CIDR of `addr`. */
typedef struct sc_cidr {
	int32_t host;           /* index into script->hosts */
	st_addr a;
	int family;             /* ST_AF_INET / ST_AF_INET6 */
	int plen;
	sc_loc loc;
} sc_cidr;

/* Payload of a `link`. */
typedef struct sc_linkarg {
	sc_cidr end[2];
	uint64_t delay_ns;
	int ifindex[2];         /* eth<N> each end gets: N, in declaration order */
} sc_linkarg;

/* Payload of a `sysctl`: strings as written (unquoted). */
typedef struct sc_sysctlarg {
	const char *key;
	const char *const *values;
	int nvalues;
} sc_sysctlarg;

/* Payload of an `ls`. */
typedef struct sc_lsarg {
	const sc_lspat *rows;   /* expected rows, in file order          */
	uint32_t nrows;
	bool has_rows;          /* at least one `|` row followed         */
	uint32_t last_line;     /* last line of the rows (== loc.line if none) */
} sc_lsarg;

/*
 * One statement.  Which union member is meaningful:
 *   SC_S_HOST   -> host (the new host)
 *   SC_S_ADDR   -> host, u.cidr
 *   SC_S_LINK   -> u.link
 *   SC_S_SYSCTL -> host, u.sysctl
 *   SC_S_PROC   -> proc (the new process; its host, uid, caps in procs[])
 *   SC_S_SLEEP  -> u.sleep_ns
 *   SC_S_LS     -> host, u.ls
 *   SC_S_OP     -> proc, verb, var, sock and, by verb:
 *     SOCKET      u.kind
 *     SET/GETSOCKOPT u.opt (value NULL for getsockopt)
 *     BIND        u.io.addr
 *     CONNECT     u.io.addr, u.io.nonblock
 *     LISTEN      u.backlog (128 when not written)
 *     SEND        u.io.data/len
 *     SENDTO      u.io.addr, u.io.data/len
 *     SHUTDOWN    u.shut
 *     FORK        u.fork
 *     SENDFD      u.sendfd
 *     others      nothing
 */
typedef struct sc_stmt {
	sc_skind kind;
	sc_verb verb;           /* SC_S_OP only                          */
	sc_loc loc;             /* first character of the statement      */
	int32_t proc;           /* SC_S_OP: acting process; SC_S_PROC: new */
	int32_t host;           /* see above; -1 when unused             */
	int32_t var;            /* slot bound by `VAR =` (socket, accept), else -1 */
	int32_t sock;           /* slot of the socket operand, else -1   */

	/* Source spans (offsets into script->src, lengths in bytes). */
	uint32_t line_off;      /* start of the statement's line         */
	uint32_t text_len;      /* the code, from loc to the end of the
	                         * last argument: no expectation, no comment,
	                         * no trailing blanks                     */
	uint16_t text_col;      /* byte offset of the code in its line (loc.col - 1) */
	uint16_t verb_col;      /* byte offset of the verb (or keyword: host, ls...) */
	uint16_t args_col;      /* byte offset of the first argument (== end if none) */
	uint16_t comment_col;   /* byte offset of `#`, or 0 if no comment */
	uint16_t comment_len;

	sc_expect expect;

	union {
		sc_cidr *cidr;                          /* ADDR    */
		const sc_linkarg *link;                 /* LINK    */
		const sc_sysctlarg *sysctl;             /* SYSCTL  */
		uint64_t sleep_ns;                      /* SLEEP   */
		sc_lsarg *ls;                           /* LS      */
		sc_kind kind;                           /* SOCKET  */
		struct {
			sc_opt opt;
			const sc_optval *val;           /* NULL for getsockopt */
		} opt;
		struct {
			const sc_sockaddr *addr;        /* BIND, CONNECT, SENDTO */
			const uint8_t *data;            /* SEND, SENDTO (arena; may be NULL if len 0) */
			uint32_t len;
			bool nonblock;                  /* CONNECT */
		} io;
		int backlog;                            /* LISTEN  */
		sc_shut shut;                           /* SHUTDOWN */
		struct {
			int32_t child;                  /* index into procs */
			/* (parent slot, child slot) pairs, 2*npairs entries:
			 * the parent's open variables at this point. */
			const int32_t *pairs;
			uint32_t npairs;
		} fork;
		struct {
			int32_t to;                     /* receiving process */
			int32_t to_slot;                /* (to, same name)   */
		} sendfd;
	} u;
} sc_stmt;

typedef struct sc_host {
	const char *name;
	sc_loc loc;             /* 0:0 for `local`                       */
	uint32_t nlinks;        /* links declared so far (eth0..)        */
} sc_host;

typedef struct sc_proc {
	const char *name;
	int32_t host;
	uint32_t uid;
	uint32_t caps;          /* ST_CAP_* of socktab/sock.h; uid 0: ST_CAP_ALL */
	int32_t parent;         /* forked from (index), or -1 for `proc` */
	sc_loc loc;             /* where it was declared (proc or fork)  */
	uint32_t nofile;        /* RLIMIT_NOFILE (`nofile=N`), inherited by
	                         * fork children; 0 = the backend's default
	                         * (1024, as a shell gives)               */
} sc_proc;

/* One (process, variable) pair; see the essay above. */
typedef struct sc_slot {
	int32_t proc;
	const char *name;
} sc_slot;

typedef struct sc_arena sc_arena;

typedef struct sc_script {
	char *file;             /* as given ("-" for stdin)              */
	char *src;              /* the whole text, NUL-terminated copy   */
	size_t srclen;
	uint32_t nlines;

	sc_stmt *stmts;
	size_t nstmts;
	sc_host *hosts;         /* hosts[0] is `local`                   */
	uint32_t nhosts;
	sc_proc *procs;
	uint32_t nprocs;
	sc_slot *slots;
	uint32_t nslots;

	sc_arena *arena;
} sc_script;

/* Parse diagnostics: the first SC_MAX_ERRORS errors, in file order. */
typedef struct sc_diag {
	sc_loc loc;             /* 0:0 for an error about the whole file */
	char msg[240];
} sc_diag;

typedef struct sc_diags {
	sc_diag d[SC_MAX_ERRORS];
	uint32_t n;
	uint32_t dropped;       /* further errors not recorded           */
} sc_diags;

/*
 * Parse `len` bytes of `src` (copied; need not be NUL-terminated).  `file`
 * names the source in messages.  Returns 0 and *out, or -EINVAL with at
 * least one diagnostic in *diags (*out untouched), or -ENOMEM.
 */
int sc_parse(const char *file, const char *src, size_t len, sc_script **out, sc_diags *diags);

/* Reads `path` ("-" = standard input) and parses it.  An unreadable or too
 * large file is a diagnostic at 0:0.  Same returns as sc_parse. */
int sc_parse_file(const char *path, sc_script **out, sc_diags *diags);

void sc_script_free(sc_script *s);

/* Prints each diagnostic as `FILE:LINE:COLUMN: message` (or `FILE: message`
 * for 0:0), then `FILE: N more errors not shown` if some were dropped. */
void sc_diags_print(const sc_diags *d, const char *file, FILE *f);

/* Names as the language writes them. */
const char *sc_verb_name(sc_verb v);          /* "socket", ...          */
const char *sc_kind_name(sc_kind k);          /* "tcp4", ...            */
const char *sc_opt_name(sc_opt o);            /* "SO_REUSEADDR", ...    */
const char *sc_shut_name(sc_shut h);          /* "rd", "wr", "rdwr"     */

/* The statement's code / comment as written (not NUL-terminated). */
static inline const char *sc_stmt_text(const sc_script *s, const sc_stmt *st)
{
	return s->src + st->line_off + st->text_col;
}

#endif
