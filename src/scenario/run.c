/*
 * src/scenario/run.c - see run.h.
 *
 * The runner is deliberately thin: names were resolved by the parser, so a
 * statement becomes one backend call with arguments taken straight from the
 * AST, plus the bookkeeping of descriptors (socket/accept/sendfd store the
 * new fd in their slot, fork copies the parent's slots to the child's,
 * close forgets the slot).  Everything the user reads is produced by
 * sc_run from outcomes, through print.c, so the transcript, --json and
 * --annotate cannot spell a result differently.
 */
#define _POSIX_C_SOURCE 200809L
#include "scenario/run.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "scenario/lsrows.h"
#include "scenario/match.h"
#include "scenario/names.h"
#include "scenario/print.h"

struct sc_runner {
	const sc_script *s;
	sc_backend *b;
	int *pid;               /* per process: backend id, -1 = none */
	int *fd;                /* per slot: descriptor, -1 = none     */
};

sc_runner *sc_runner_new(const sc_script *s, sc_backend *b)
{
	sc_runner *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->s = s;
	r->b = b;
	r->pid = malloc((s->nprocs + 1) * sizeof(*r->pid));
	r->fd = malloc((s->nslots + 1) * sizeof(*r->fd));
	if (r->pid == NULL || r->fd == NULL) {
		sc_runner_free(r);
		return NULL;
	}
	for (uint32_t i = 0; i < s->nprocs; i++)
		r->pid[i] = -1;
	for (uint32_t i = 0; i < s->nslots; i++)
		r->fd[i] = -1;
	return r;
}

void sc_runner_free(sc_runner *r)
{
	if (r == NULL)
		return;
	free(r->pid);
	free(r->fd);
	free(r);
}

void sc_outcome_clear(sc_outcome *o)
{
	sc_result_clear(&o->res);
	free(o->rows);
	memset(o, 0, sizeof(*o));
}

static void synth(sc_outcome *o, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void synth(sc_outcome *o, int err, const char *fmt, ...)
{
	va_list ap;
	char buf[256];

	o->kind = SC_O_RESULT;
	o->synthetic = true;
	o->res.kind = SC_R_ERR;
	o->res.err = err;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	o->res.explain = strdup(buf); /* NULL on failure: no explanation */
}

static void fatal(sc_outcome *o, int rc, const char *what, const char *msg)
{
	o->kind = SC_O_FATAL;
	o->skip = rc == -SC_ESKIP;
	if (msg != NULL && msg[0] != '\0')
		snprintf(o->msg, sizeof(o->msg), "%s: %s", what, msg);
	else if (o->skip)
		snprintf(o->msg, sizeof(o->msg), "%s: not possible here", what);
	else
		snprintf(o->msg, sizeof(o->msg), "%s: %s", what, strerror(rc < 0 ? -rc : rc));
}

/* ls rows: owners sorted (the contract says they are; made certain), rows
 * sorted so that two backends list one table in one order.  A row points
 * at its owner list in the backend's block (backend.h), so lists are only
 * checked in place; a backend that breaks the contract pays for a copy of
 * its rows with repaired lists (lsrows.h). */
static int cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "-", or names sorted (strcmp order), none empty. */
static bool owners_normal(const char *o)
{
	const char *prev = NULL;
	size_t prevlen = 0;

	if (o == NULL || o[0] == '\0')
		return false;
	if (strcmp(o, "-") == 0)
		return true;
	for (;;) {
		const char *comma = strchr(o, ',');
		size_t l = comma != NULL ? (size_t)(comma - o) : strlen(o);

		if (l == 0)
			return false;
		if (prev != NULL) {
			int c = memcmp(prev, o, prevlen < l ? prevlen : l);

			if (c > 0 || (c == 0 && prevlen > l))
				return false;
		}
		if (comma == NULL)
			return true;
		prev = o;
		prevlen = l;
		o = comma + 1;
	}
}

/* The names of `o` sorted, malloc'd; "-" when it names nobody. */
static char *owners_sorted(const char *o)
{
	size_t len = strlen(o), n = 0, used = 0;
	char *tmp = malloc(len + 1), *out = malloc(len + 2), **names = NULL, *save = NULL, *tok;

	if (tmp != NULL)
		names = malloc((len / 2 + 1) * sizeof(*names));
	if (tmp == NULL || out == NULL || names == NULL) {
		free(tmp);
		free(out);
		free(names);
		return NULL;
	}
	memcpy(tmp, o, len + 1);
	for (tok = strtok_r(tmp, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save))
		names[n++] = tok;
	if (n > 1)
		qsort(names, n, sizeof(names[0]), cmp_cstr);
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(names[i]);

		if (i > 0)
			out[used++] = ',';
		memcpy(out + used, names[i], l);
		used += l;
	}
	if (n == 0)
		out[used++] = '-';
	out[used] = '\0';
	free(names);
	free(tmp);
	return out;
}

/* Replaces *rows with a copy whose owner lists are normal.  0 or -ENOMEM
 * (*rows unchanged). */
static int normalise_owners(sc_lsrow **rows, size_t n)
{
	sc_lsrow *tmp = malloc(n * sizeof(*tmp)), *packed = NULL;
	char **fixed = calloc(n, sizeof(*fixed));
	int rc = (tmp != NULL && fixed != NULL) ? 0 : -ENOMEM;

	for (size_t i = 0; i < n && rc == 0; i++) {
		tmp[i] = (*rows)[i];
		if (tmp[i].owners == NULL || owners_normal(tmp[i].owners))
			continue;   /* NULL: the pack makes it "-" */
		fixed[i] = owners_sorted(tmp[i].owners);
		if (fixed[i] == NULL)
			rc = -ENOMEM;
		tmp[i].owners = fixed[i];
	}
	if (rc == 0)
		rc = sc_lsrows_pack(tmp, n, &packed);
	if (rc == 0) {
		free(*rows);
		*rows = packed;
	}
	for (size_t i = 0; fixed != NULL && i < n; i++)
		free(fixed[i]);
	free(fixed);
	free(tmp);
	return rc;
}

static int cmp_sockaddr(const sc_sockaddr *a, const sc_sockaddr *b)
{
	int c;

	if (a->sa.family != b->sa.family)
		return a->sa.family < b->sa.family ? -1 : 1;
	c = memcmp(a->sa.addr.b, b->sa.addr.b, 16);
	if (c != 0)
		return c;
	if (a->sa.port != b->sa.port)
		return a->sa.port < b->sa.port ? -1 : 1;
	return strncmp(a->ifname, b->ifname, sizeof(a->ifname));
}

static int cmp_row(const void *pa, const void *pb)
{
	const sc_lsrow *a = pa, *b = pb;
	int c;

	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	if ((c = cmp_sockaddr(&a->local, &b->local)) != 0)
		return c;
	if ((c = cmp_sockaddr(&a->peer, &b->peer)) != 0)
		return c;
	if ((c = strncmp(a->state, b->state, sizeof(a->state))) != 0)
		return c;
	return strcmp(a->owners, b->owners);
}

static void step_ls(sc_runner *r, const sc_stmt *st, sc_outcome *o)
{
	const char *host = r->s->hosts[st->host].name;
	sc_lsrow *rows = NULL;
	size_t n = 0;
	int rc;

	if (r->b->ops->ls == NULL) {
		fatal(o, -SC_ESKIP, "ls", "this backend cannot list sockets");
		return;
	}
	rc = r->b->ops->ls(r->b, host, &rows, &n);
	if (rc != 0) {
		free(rows);
		fatal(o, rc, "ls", NULL);
		return;
	}
	bool normal = true;
	for (size_t i = 0; i < n; i++) {
		rows[i].state[sizeof(rows[i].state) - 1] = '\0';
		normal = normal && owners_normal(rows[i].owners);
	}
	if (!normal && (rc = normalise_owners(&rows, n)) != 0) {
		free(rows);
		fatal(o, rc, "ls", NULL);
		return;
	}
	if (n > 1)
		qsort(rows, n, sizeof(*rows), cmp_row);
	o->kind = SC_O_LS;
	o->rows = rows;
	o->nrows = n;
}

static void step_world(sc_runner *r, const sc_stmt *st, sc_outcome *o)
{
	const sc_script *s = r->s;
	const sc_backend_ops *ops = r->b->ops;
	char msg[256] = "";
	int rc = 0;

	o->kind = SC_O_NONE;
	switch (st->kind) {
	case SC_S_HOST:
		rc = ops->host ? ops->host(r->b, s->hosts[st->host].name, msg, sizeof(msg)) : -SC_ESKIP;
		if (rc != 0)
			fatal(o, rc, "host", msg);
		break;
	case SC_S_ADDR: {
		const sc_cidr *c = st->u.cidr;

		rc = ops->addr ? ops->addr(r->b, s->hosts[c->host].name, &c->a, c->family, c->plen, msg,
					   sizeof(msg))
			       : -SC_ESKIP;
		if (rc != 0)
			fatal(o, rc, "addr", msg);
		break;
	}
	case SC_S_LINK: {
		const sc_linkarg *l = st->u.link;

		rc = ops->link ? ops->link(r->b, s->hosts[l->end[0].host].name, &l->end[0].a,
					   l->end[0].family, l->end[0].plen,
					   s->hosts[l->end[1].host].name, &l->end[1].a,
					   l->end[1].family, l->end[1].plen, l->delay_ns, msg,
					   sizeof(msg))
			       : -SC_ESKIP;
		if (rc != 0)
			fatal(o, rc, "link", msg);
		break;
	}
	case SC_S_SYSCTL: {
		const sc_sysctlarg *a = st->u.sysctl;

		rc = ops->sysctl ? ops->sysctl(r->b, s->hosts[st->host].name, a->key, a->values,
					       a->nvalues, msg, sizeof(msg))
				 : -SC_ESKIP;
		if (rc != 0)
			fatal(o, rc, "sysctl", msg);
		break;
	}
	case SC_S_PROC: {
		const sc_proc *p = &s->procs[st->proc];

		rc = ops->proc ? ops->proc(r->b, p->name, s->hosts[p->host].name, p->uid, p->caps, msg,
					   sizeof(msg))
			       : -SC_ESKIP;
		if (rc < 0) {
			fatal(o, rc, "proc", msg);
			break;
		}
		r->pid[st->proc] = rc;
		if (p->nofile) {
			int pid = rc;

			rc = ops->nofile ? ops->nofile(r->b, pid, (int)p->nofile, msg, sizeof(msg))
					 : -SC_ESKIP;
			if (rc != 0)
				fatal(o, rc, "proc", ops->nofile ? msg : "this backend cannot limit descriptors (nofile=)");
		}
		break;
	}
	case SC_S_SLEEP:
		if (ops->sleep)
			ops->sleep(r->b, st->u.sleep_ns);
		break;
	case SC_S_LS:
		step_ls(r, st, o);
		break;
	case SC_S_OP:
		break;
	}
}

#define CALL(fn, ...)                                                                            \
	do {                                                                                     \
		if (ops->fn == NULL)                                                              \
			synth(o, ENOSYS, "the %s backend does not implement %s", ops->name, #fn); \
		else                                                                             \
			ops->fn(__VA_ARGS__);                                                    \
	} while (0)

static void step_op(sc_runner *r, const sc_stmt *st, sc_outcome *o)
{
	const sc_script *s = r->s;
	const sc_backend_ops *ops = r->b->ops;
	sc_backend *b = r->b;
	sc_result *res = &o->res;
	int p = r->pid[st->proc];
	int fd = -1;

	o->kind = SC_O_RESULT;
	res->fd = -1;
	if (p < 0) {
		synth(o, ESRCH, "process '%s' does not exist: the fork that should have created it failed",
		      s->procs[st->proc].name);
		goto after;
	}
	if (st->sock >= 0) {
		fd = r->fd[st->sock];
		if (fd < 0) {
			synth(o, EBADF, "'%s' holds no socket: the call that should have created it failed",
			      s->slots[st->sock].name);
			goto after;
		}
	}
	switch (st->verb) {
	case SC_V_SOCKET:
		CALL(socket, b, p, st->u.kind, res);
		break;
	case SC_V_SETSOCKOPT:
		CALL(setsockopt, b, p, fd, st->u.opt.opt, st->u.opt.val, res);
		break;
	case SC_V_GETSOCKOPT:
		CALL(getsockopt, b, p, fd, st->u.opt.opt, res);
		break;
	case SC_V_BIND:
		CALL(bind, b, p, fd, st->u.io.addr, res);
		break;
	case SC_V_LISTEN:
		CALL(listen, b, p, fd, st->u.backlog, res);
		break;
	case SC_V_CONNECT:
		CALL(connect, b, p, fd, st->u.io.addr, st->u.io.nonblock, res);
		break;
	case SC_V_ACCEPT:
		CALL(accept, b, p, fd, res);
		break;
	case SC_V_SEND:
		CALL(send, b, p, fd, st->u.io.data, st->u.io.len, res);
		break;
	case SC_V_SENDTO:
		CALL(sendto, b, p, fd, st->u.io.addr, st->u.io.data, st->u.io.len, res);
		break;
	case SC_V_RECV:
		CALL(recv, b, p, fd, res);
		break;
	case SC_V_RECVFROM:
		CALL(recvfrom, b, p, fd, res);
		break;
	case SC_V_GETSOCKNAME:
		CALL(getsockname, b, p, fd, res);
		break;
	case SC_V_GETPEERNAME:
		CALL(getpeername, b, p, fd, res);
		break;
	case SC_V_SHUTDOWN:
		CALL(shutdown, b, p, fd, st->u.shut, res);
		break;
	case SC_V_CLOSE:
		CALL(close, b, p, fd, res);
		break;
	case SC_V_FORK: {
		int child = -1;

		CALL(fork, b, p, s->procs[st->u.fork.child].name, &child, res);
		if (!o->synthetic && (res->kind == SC_R_OK || res->kind == SC_R_OK_ADDR) && child >= 0)
			r->pid[st->u.fork.child] = child;
		break;
	}
	case SC_V_SENDFD: {
		int to = r->pid[st->u.sendfd.to];

		if (to < 0) {
			synth(o, ESRCH, "process '%s' does not exist: the fork that should have created it failed",
			      s->procs[st->u.sendfd.to].name);
			break;
		}
		CALL(sendfd, b, p, fd, to, res);
		break;
	}
	case SC_V_EXIT:
		CALL(exit, b, p, res);
		break;
	case SC_V_COUNT_:
		break;
	}
after:
	/* Descriptor bookkeeping, whatever the result. */
	switch (st->verb) {
	case SC_V_SOCKET:
	case SC_V_ACCEPT:
		r->fd[st->var] = (!o->synthetic && (res->kind == SC_R_OK || res->kind == SC_R_OK_ADDR))
					 ? res->fd
					 : -1;
		break;
	case SC_V_CLOSE:
		r->fd[st->sock] = -1;
		break;
	case SC_V_FORK:
		for (uint32_t i = 0; i < st->u.fork.npairs; i++)
			r->fd[st->u.fork.pairs[2 * i + 1]] =
				r->pid[st->u.fork.child] >= 0 ? r->fd[st->u.fork.pairs[2 * i]] : -1;
		break;
	case SC_V_SENDFD:
		r->fd[st->u.sendfd.to_slot] = (!o->synthetic && res->kind == SC_R_OK) ? res->fd : -1;
		break;
	default:
		break;
	}
}

void sc_runner_step(sc_runner *r, size_t i, sc_outcome *o)
{
	const sc_stmt *st = &r->s->stmts[i];

	memset(o, 0, sizeof(*o));
	if (st->kind == SC_S_OP)
		step_op(r, st, o);
	else
		step_world(r, st, o);
}

bool sc_stmt_has_expect(const sc_stmt *st)
{
	if (st->kind == SC_S_LS)
		return st->u.ls->has_rows;
	return st->kind == SC_S_OP && st->expect.nalts > 0;
}

bool sc_outcome_held(const sc_stmt *st, const sc_outcome *o)
{
	if (!sc_stmt_has_expect(st))
		return true;
	if (st->kind == SC_S_LS) {
		long *p2r;
		bool *used, ok;

		if (o->kind != SC_O_LS)
			return false;
		p2r = malloc((st->u.ls->nrows + 1) * sizeof(*p2r));
		used = malloc(o->nrows + 1);
		ok = p2r && used &&
		     sc_ls_match(st->u.ls->rows, st->u.ls->nrows, o->rows, o->nrows, p2r, used);
		free(p2r);
		free(used);
		return ok;
	}
	return o->kind == SC_O_RESULT && sc_expect_match(&st->expect, &o->res);
}

/* ---- output -------------------------------------------------------------- */

struct out {
	const sc_script *s;
	const sc_run_opts *o;
	sc_buf line;            /* the line being built  */
	sc_buf tmp;
	sc_buf fields[5];
	/* --annotate: per statement, the new text (offset into ann) or keep */
	size_t *ann_off;
	sc_buf ann;
	bool oom;
};

enum { ANN_KEEP = 0 }; /* ann_off value: keep what the file says */

static void flush(struct out *w, sc_buf *b)
{
	if (b->oom)
		w->oom = true;
	else if (b->len > 0)
		fwrite(b->p, 1, b->len, w->o->out);
	sc_buf_reset(b);
}

static void stmt_code(struct out *w, const sc_stmt *st, sc_buf *b)
{
	sc_buf_put(b, sc_stmt_text(w->s, st), st->text_len);
}

static void expect_text(const sc_script *s, const sc_stmt *st, sc_buf *b)
{
	sc_buf_put(b, s->src + st->expect.text_off, st->expect.text_len);
}

/* Explanation lines, `    # ` + each line of text. */
static void put_explain(sc_buf *b, const char *text)
{
	const char *p = text;

	while (p != NULL && *p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);

		sc_buf_puts(b, "    # ");
		sc_buf_put(b, p, n);
		sc_buf_putc(b, '\n');
		p = nl ? nl + 1 : NULL;
	}
}

/* Formats the rows of an outcome into b as `| ...` lines. */
static void put_rows(struct out *w, sc_buf *b, const char *prefix, const sc_lsrow *rows, size_t n,
		     const bool *only_unused)
{
	sc_buf *f = calloc(n * 5 + 1, sizeof(*f));
	size_t k = 0;

	if (f == NULL) {
		w->oom = true;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (only_unused != NULL && only_unused[i])
			continue;
		sc_fmt_lsrow_fields(&rows[i], &f[k * 5]);
		k++;
	}
	sc_fmt_rows(b, prefix, f, k);
	for (size_t i = 0; i < k * 5; i++)
		sc_buf_free(&f[i]);
	free(f);
}

static void ls_diff(struct out *w, const sc_stmt *st, const sc_outcome *o, sc_buf *b)
{
	const sc_lsarg *ls = st->u.ls;
	long *p2r = malloc((ls->nrows + 1) * sizeof(*p2r));
	bool *used = malloc(o->nrows + 1);

	if (p2r == NULL || used == NULL) {
		free(p2r);
		free(used);
		w->oom = true;
		return;
	}
	sc_ls_match(ls->rows, ls->nrows, o->rows, o->nrows, p2r, used);
	sc_buf_printf(b, "!! FAIL %s:%u: ls rows differ (%u expected, %zu listed)\n", w->s->file,
		      st->loc.line, ls->nrows, o->nrows);
	for (uint32_t i = 0; i < ls->nrows; i++)
		if (p2r[i] < 0) {
			sc_buf_puts(b, "!!   missing    | ");
			sc_buf_put(b, w->s->src + ls->rows[i].text_off, ls->rows[i].text_len);
			sc_buf_putc(b, '\n');
		}
	put_rows(w, b, "!!   unexpected ", o->rows, o->nrows, used);
	free(p2r);
	free(used);
}

static void transcript(struct out *w, const sc_stmt *st, const sc_outcome *o, bool held)
{
	sc_buf *b = &w->line;

	stmt_code(w, st, b);
	if (o->kind == SC_O_RESULT) {
		size_t rstart;

		sc_buf_pad(b, SC_RESULT_COL > b->len ? SC_RESULT_COL : b->len + 1);
		sc_buf_puts(b, "=> ");
		rstart = b->len;
		sc_fmt_result(b, &o->res);
		if (!held) {
			/* copied aside first: appending b to itself could move it */
			sc_buf_reset(&w->tmp);
			sc_buf_put(&w->tmp, b->p + rstart, b->len - rstart);
			sc_buf_printf(b, "\n!! FAIL %s:%u: expected ", w->s->file, st->loc.line);
			expect_text(w->s, st, b);
			sc_buf_puts(b, ", got ");
			sc_buf_puts(b, sc_buf_str(&w->tmp));
		}
		sc_buf_putc(b, '\n');
		if (w->o->explain && o->res.explain != NULL)
			put_explain(b, o->res.explain);
	} else if (o->kind == SC_O_LS) {
		sc_buf_putc(b, '\n');
		put_rows(w, b, "", o->rows, o->nrows, NULL);
		if (!held)
			ls_diff(w, st, o, b);
	} else {
		sc_buf_putc(b, '\n');
	}
	flush(w, b);
}

/* One row as a single-spaced string "tcp4 LISTEN 127.0.0.1:80 * liz". */
static void json_row(struct out *w, const sc_lsrow *row, sc_buf *b)
{
	sc_buf *t = &w->tmp;

	sc_buf_reset(t);
	for (int k = 0; k < 5; k++)
		sc_buf_reset(&w->fields[k]);
	sc_fmt_lsrow_fields(row, w->fields);
	for (int k = 0; k < 5; k++) {
		if (k > 0)
			sc_buf_putc(t, ' ');
		sc_buf_puts(t, sc_buf_str(&w->fields[k]));
	}
	sc_json_str(b, sc_buf_str(t), t->len);
}

/* ,"missing":[expected rows as written],"unexpected":[rows] */
static void json_ls_diff(struct out *w, const sc_stmt *st, const sc_outcome *o, sc_buf *b)
{
	const sc_lsarg *ls = st->u.ls;
	long *p2r = malloc((ls->nrows + 1) * sizeof(*p2r));
	bool *used = malloc(o->nrows + 1);
	bool first = true;

	if (p2r == NULL || used == NULL) {
		free(p2r);
		free(used);
		w->oom = true;
		return;
	}
	sc_ls_match(ls->rows, ls->nrows, o->rows, o->nrows, p2r, used);
	sc_buf_puts(b, ",\"missing\":[");
	for (uint32_t i = 0; i < ls->nrows; i++) {
		if (p2r[i] >= 0)
			continue;
		if (!first)
			sc_buf_putc(b, ',');
		first = false;
		sc_json_str(b, w->s->src + ls->rows[i].text_off, ls->rows[i].text_len);
	}
	sc_buf_puts(b, "],\"unexpected\":[");
	first = true;
	for (size_t j = 0; j < o->nrows; j++) {
		if (used[j])
			continue;
		if (!first)
			sc_buf_putc(b, ',');
		first = false;
		json_row(w, &o->rows[j], b);
	}
	sc_buf_putc(b, ']');
	free(p2r);
	free(used);
}

static void json_stmt(struct out *w, const sc_stmt *st, const sc_outcome *o, bool held)
{
	const sc_script *s = w->s;
	sc_buf *b = &w->line, *t = &w->tmp;
	const char *line = s->src + st->line_off;
	size_t code_end = st->text_col + st->text_len;
	static const char *const kinds[] = {
		[SC_S_HOST] = "host", [SC_S_ADDR] = "addr", [SC_S_LINK] = "link",
		[SC_S_SYSCTL] = "sysctl", [SC_S_PROC] = "proc", [SC_S_SLEEP] = "sleep",
		[SC_S_LS] = "ls", [SC_S_OP] = "op",
	};

	sc_buf_puts(b, "{\"file\":");
	sc_json_str(b, s->file, strlen(s->file));
	sc_buf_printf(b, ",\"line\":%u,\"col\":%u,\"kind\":\"%s\",\"proc\":", st->loc.line,
		      st->loc.col, kinds[st->kind]);
	if (st->kind == SC_S_OP)
		sc_json_str(b, s->procs[st->proc].name, strlen(s->procs[st->proc].name));
	else
		sc_buf_puts(b, "null");
	sc_buf_puts(b, ",\"verb\":");
	if (st->kind == SC_S_OP)
		sc_json_str(b, sc_verb_name(st->verb), strlen(sc_verb_name(st->verb)));
	else
		sc_json_str(b, kinds[st->kind], strlen(kinds[st->kind]));
	sc_buf_puts(b, ",\"args\":");
	sc_json_str(b, line + st->args_col, code_end > st->args_col ? code_end - st->args_col : 0);
	sc_buf_puts(b, ",\"text\":");
	sc_json_str(b, sc_stmt_text(s, st), st->text_len);
	if (o->kind == SC_O_RESULT) {
		sc_buf_reset(t);
		sc_fmt_result(t, &o->res);
		sc_buf_printf(b, ",\"result\":{\"kind\":\"%s\",\"text\":",
			      o->res.kind == SC_R_ERR ? "errno" : sc_rkind_word(o->res.kind));
		sc_json_str(b, sc_buf_str(t), t->len);
		sc_buf_putc(b, '}');
		if (o->synthetic)
			sc_buf_puts(b, ",\"synthetic\":true");
	} else if (o->kind == SC_O_LS) {
		sc_buf_puts(b, ",\"rows\":[");
		for (size_t i = 0; i < o->nrows; i++) {
			if (i > 0)
				sc_buf_putc(b, ',');
			json_row(w, &o->rows[i], b);
		}
		sc_buf_putc(b, ']');
	}
	sc_buf_puts(b, ",\"expected\":");
	if (st->kind == SC_S_OP && st->expect.nalts > 0) {
		sc_json_str(b, s->src + st->expect.text_off, st->expect.text_len);
	} else if (st->kind == SC_S_LS && st->u.ls->has_rows) {
		sc_buf_putc(b, '[');
		for (uint32_t i = 0; i < st->u.ls->nrows; i++) {
			if (i > 0)
				sc_buf_putc(b, ',');
			sc_json_str(b, s->src + st->u.ls->rows[i].text_off, st->u.ls->rows[i].text_len);
		}
		sc_buf_putc(b, ']');
	} else {
		sc_buf_puts(b, "null");
	}
	sc_buf_puts(b, ",\"held\":");
	sc_buf_puts(b, sc_stmt_has_expect(st) ? (held ? "true" : "false") : "null");
	if (st->kind == SC_S_LS && o->kind == SC_O_LS && !held)
		json_ls_diff(w, st, o, b);
	if (w->o->explain && o->kind == SC_O_RESULT && o->res.explain != NULL) {
		sc_buf_puts(b, ",\"explain\":");
		sc_json_str(b, o->res.explain, strlen(o->res.explain));
	}
	sc_buf_puts(b, "}\n");
	flush(w, b);
}

/* Remember what --annotate will write for statement i. */
static void annotate_note(struct out *w, size_t i, const sc_stmt *st, const sc_outcome *o,
			  bool held)
{
	w->ann_off[i] = ANN_KEEP;
	if (held && sc_stmt_has_expect(st))
		return; /* an expectation that holds is kept as written */
	if (o->kind == SC_O_RESULT) {
		w->ann_off[i] = w->ann.len + 1;
		sc_fmt_result(&w->ann, &o->res);
		sc_buf_putc(&w->ann, '\0');
	} else if (o->kind == SC_O_LS) {
		w->ann_off[i] = w->ann.len + 1;
		put_rows(w, &w->ann, "", o->rows, o->nrows, NULL);
		sc_buf_putc(&w->ann, '\0');
	}
}

/*
 * A result too long to be an expectation within SC_MAX_LINE (a big recv):
 * the line keeps its code and comment and says why it has no expectation,
 * so the annotated file still parses.
 */
static void annotate_too_long(sc_buf *b, const char *text, const sc_stmt *st)
{
	static const char note[] = "# (--annotate: the result is too long for one line)";
	size_t code = (size_t)st->text_col + st->text_len;

	sc_buf_reset(b);
	sc_buf_put(b, text, code);
	if (st->comment_len > 0 && code + 2 + st->comment_len <= SC_MAX_LINE) {
		sc_buf_puts(b, "  ");
		sc_buf_put(b, text + st->comment_col, st->comment_len);
	} else if (code + 2 + sizeof(note) - 1 <= SC_MAX_LINE) {
		sc_buf_puts(b, "  ");
		sc_buf_puts(b, note);
	}
}

static void annotate_write(struct out *w)
{
	const sc_script *s = w->s;
	sc_buf *b = &w->line;
	size_t off = 0, k = 0;
	uint32_t lineno = 0, skip_to = 0;

	while (off < s->srclen) {
		const char *nl = memchr(s->src + off, '\n', s->srclen - off);
		size_t end = nl ? (size_t)(nl - s->src) : s->srclen;
		size_t len = end - off;
		const char *text = s->src + off;

		lineno++;
		if (len > 0 && text[len - 1] == '\r')
			len--;
		if (k < s->nstmts && s->stmts[k].loc.line == lineno) {
			const sc_stmt *st = &s->stmts[k];
			size_t a = w->ann_off[k];

			if (st->kind == SC_S_OP) {
				sc_buf_put(b, text, st->text_col + st->text_len);
				sc_buf_pad(b, SC_RESULT_COL > b->len ? SC_RESULT_COL : b->len + 1);
				sc_buf_puts(b, "=> ");
				if (a != ANN_KEEP)
					sc_buf_puts(b, w->ann.p + a - 1);
				else if (st->expect.nalts > 0)
					expect_text(s, st, b);
				if (st->comment_len > 0) {
					sc_buf_puts(b, "  ");
					sc_buf_put(b, text + st->comment_col, st->comment_len);
				}
				if (b->len > SC_MAX_LINE)
					annotate_too_long(b, text, st);
				sc_buf_putc(b, '\n');
			} else {
				sc_buf_put(b, text, len);
				sc_buf_putc(b, '\n');
				if (st->kind == SC_S_LS && a != ANN_KEEP) {
					sc_buf_puts(b, w->ann.p + a - 1);
					skip_to = st->u.ls->last_line;
				}
			}
			k++;
		} else if (lineno > skip_to) {
			sc_buf_put(b, text, len);
			sc_buf_putc(b, '\n');
		}
		flush(w, b);
		off = end + 1;
	}
}

int sc_run(const sc_script *s, sc_backend *b, const sc_run_opts *o, sc_run_stats *stats)
{
	struct out w;
	sc_runner *r = sc_runner_new(s, b);
	sc_run_stats st = { 0 };
	int status = 0;

	memset(&w, 0, sizeof(w));
	w.s = s;
	w.o = o;
	if (r == NULL)
		goto oom;
	if (o->mode == SC_MODE_ANNOTATE) {
		w.ann_off = calloc(s->nstmts + 1, sizeof(*w.ann_off));
		if (w.ann_off == NULL)
			goto oom;
	}
	for (size_t i = 0; i < s->nstmts; i++) {
		const sc_stmt *stmt = &s->stmts[i];
		sc_outcome oc;
		bool held;

		sc_runner_step(r, i, &oc);
		if (oc.kind == SC_O_FATAL) {
			fprintf(o->err, "%s:%u:%u: %s%s\n", s->file, stmt->loc.line, stmt->loc.col,
				oc.skip ? "skipped: " : "", oc.msg);
			if (o->mode == SC_MODE_JSON) {
				sc_buf_puts(&w.line, "{\"file\":");
				sc_json_str(&w.line, s->file, strlen(s->file));
				sc_buf_printf(&w.line, ",\"line\":%u,\"col\":%u,\"fatal\":", stmt->loc.line,
					      stmt->loc.col);
				sc_json_str(&w.line, oc.msg, strlen(oc.msg));
				sc_buf_printf(&w.line, ",\"skip\":%s}\n", oc.skip ? "true" : "false");
				flush(&w, &w.line);
			}
			status = oc.skip ? SC_SKIP : 2;
			sc_outcome_clear(&oc);
			break;
		}
		st.executed++;
		held = sc_outcome_held(stmt, &oc);
		if (sc_stmt_has_expect(stmt)) {
			st.expectations++;
			if (held)
				st.held++;
			else
				st.failed++;
		}
		switch (o->mode) {
		case SC_MODE_TRANSCRIPT:
			transcript(&w, stmt, &oc, held);
			break;
		case SC_MODE_JSON:
			json_stmt(&w, stmt, &oc, held);
			break;
		case SC_MODE_ANNOTATE:
			annotate_note(&w, i, stmt, &oc, held);
			break;
		}
		sc_outcome_clear(&oc);
		if (w.oom || w.ann.oom)
			goto oom;
	}
	if (status == 0)
		status = st.failed > 0 ? 1 : 0;
	if (o->mode == SC_MODE_TRANSCRIPT) {
		sc_buf_printf(&w.line, "# %s: %zu statement%s, %zu expectation%s: %zu held, %zu failed%s\n",
			      s->file, st.executed, st.executed == 1 ? "" : "s", st.expectations,
			      st.expectations == 1 ? "" : "s", st.held, st.failed,
			      status == 2 ? " (stopped by an error)" : status == SC_SKIP ? " (skipped)" : "");
		flush(&w, &w.line);
	} else if (o->mode == SC_MODE_JSON) {
		sc_buf_puts(&w.line, "{\"summary\":true,\"file\":");
		sc_json_str(&w.line, s->file, strlen(s->file));
		sc_buf_printf(&w.line,
			      ",\"statements\":%zu,\"executed\":%zu,\"expectations\":%zu,\"held\":%zu,"
			      "\"failed\":%zu,\"status\":%d}\n",
			      s->nstmts, st.executed, st.expectations, st.held, st.failed, status);
		flush(&w, &w.line);
	} else if (status == 0 || status == 1) {
		annotate_write(&w);
		status = 0;
	}
	if (w.oom)
		goto oom;
	goto done;
oom:
	fprintf(o->err, "%s: out of memory\n", s->file);
	status = 2;
done:
	fflush(o->out);
	sc_runner_free(r);
	sc_buf_free(&w.line);
	sc_buf_free(&w.tmp);
	sc_buf_free(&w.ann);
	for (int k = 0; k < 5; k++)
		sc_buf_free(&w.fields[k]);
	free(w.ann_off);
	if (stats != NULL)
		*stats = st;
	return status;
}
