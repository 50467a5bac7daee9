/*
 * src/scenario/parse.c - scenario text -> sc_script, with every static check.
 *
 * The parser reads the file line by line (lex.c tokenizes a line) and keeps
 * the state a run would have, statically: which hosts and processes exist,
 * which processes have exited, and which socket variables each process
 * holds open.  That lets it refuse, before anything runs, every statement
 * that could only be a mistake: a verb on a variable that was never bound
 * or was closed, a process used after `exit`, a `fork` child whose name is
 * taken, `sendfd` to oneself, an expectation the verb can never print.
 *
 * Choices the language leaves open (documented in docs/scenarios.md):
 *   - Re-binding a name is allowed once it is closed (`close s` then
 *     `s = socket udp4`), but binding a name that is still open is an
 *     error: it would leak the old socket silently.  `exit` closes all.
 *   - A variable whose creating call fails at run time (`c = accept s`
 *     printing EAGAIN) still counts as bound: the parser cannot know the
 *     result; the runner answers EBADF for it (see run.c).
 *   - `sendfd s tim` gives tim the name `s`; it is an error if tim already
 *     holds an open `s`.
 *   - Expected `ls` rows must directly follow their `ls` line.
 *
 * Errors: the first SC_MAX_ERRORS are recorded, the rest counted.  After an
 * error the parser skips to the next line; names the bad line was about to
 * declare (a process, a host, `VAR =`, a fork child) are declared anyway,
 * so one typo does not cascade into "unknown variable" on every later line.
 *
 * Cost: every name is resolved through one hash probe (symtab.c); `fork`
 * walks the parent's open variables (at most SC_MAX_VARS_PER_PROC); `exit`
 * walks the process's open variables.  So parsing is linear in the file.
 */
#define _POSIX_C_SOURCE 200809L
#include "scenario/ast.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "scenario/arena.h"
#include "scenario/lex.h"
#include "scenario/names.h"
#include "scenario/symtab.h"
#include "socktab/sock.h"

/* Parse-time state of a process. */
struct pproc {
	uint32_t sym;
	bool exited;
	uint32_t exit_line;
	int32_t open_head;      /* first open slot (list through pslot), -1 */
	uint32_t nopen;
};

/* Parse-time state of a slot.  Invariant: open <=> on its proc's list. */
struct pslot {
	uint32_t sym;
	bool open;
	uint32_t line;          /* where last opened, or closed          */
	int32_t prev, next;
};

struct pstate {
	sc_script *s;
	sc_diags *d;
	sc_symtab *syms;
	sc_imap host_of;        /* sym -> host */
	sc_imap proc_of;        /* sym -> proc */
	sc_imap slot_of;        /* proc << 32 | sym -> slot */
	struct pproc *pp;
	struct pslot *psl;
	size_t stmts_cap, hosts_cap, procs_cap, slots_cap;
	sc_line *line;
	uint32_t lineno;
	uint32_t line_off;
	int64_t ls_stmt;        /* ls statement taking `|` rows, or -1 */
	sc_lspat *rows;
	size_t nrows, rows_cap;
	uint64_t total_sleep;
	int nomem;
	bool stop;              /* a limit was hit: stop reading the file */
};

/* ---- diagnostics --------------------------------------------------------- */

static void diag_add(sc_diags *d, uint32_t line, uint32_t col, const char *fmt, va_list ap)
{
	sc_diag *g;

	if (d->n >= SC_MAX_ERRORS) {
		d->dropped++;
		return;
	}
	g = &d->d[d->n++];
	g->loc.line = line;
	g->loc.col = col;
	vsnprintf(g->msg, sizeof(g->msg), fmt, ap);
}

static void diag_file(sc_diags *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_add(d, 0, 0, fmt, ap);
	va_end(ap);
}

/* An error at 0-based column col0 of the current line.  Returns -EINVAL. */
static int perr(struct pstate *ps, uint32_t col0, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_add(ps->d, ps->lineno, col0 + 1, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int nomem(struct pstate *ps)
{
	ps->nomem = 1;
	ps->stop = true;
	return -ENOMEM;
}

void sc_diags_print(const sc_diags *d, const char *file, FILE *f)
{
	for (uint32_t i = 0; i < d->n; i++) {
		if (d->d[i].loc.line == 0)
			fprintf(f, "%s: %s\n", file, d->d[i].msg);
		else
			fprintf(f, "%s:%u:%u: %s\n", file, d->d[i].loc.line, d->d[i].loc.col,
				d->d[i].msg);
	}
	if (d->dropped > 0)
		fprintf(f, "%s: %u more error%s not shown\n", file, d->dropped,
			d->dropped == 1 ? "" : "s");
}

/* ---- growable arrays ------------------------------------------------------ */

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t nc;
	void *np;

	if (need <= *cap)
		return 0;
	nc = *cap ? *cap : 16;
	while (nc < need)
		nc *= 2;
	np = realloc(*p, nc * elem);
	if (np == NULL)
		return -ENOMEM;
	*p = np;
	*cap = nc;
	return 0;
}

/* ---- tokens ---------------------------------------------------------------- */

static const char *ttext(const struct pstate *ps, const sc_tok *t)
{
	return ps->line->text + t->col;
}

static bool tok_is(const struct pstate *ps, const sc_tok *t, const char *w)
{
	return t->kind == SC_T_WORD && t->len == strlen(w) && memcmp(ttext(ps, t), w, t->len) == 0;
}

/* Short printable form of a token for messages: at most 40 bytes. */
static int tshow_len(const sc_tok *t)
{
	return t->len > 40 ? 40 : (int)t->len;
}

static const char *tkind_word(sc_tokkind k)
{
	switch (k) {
	case SC_T_STRING: return "a string";
	case SC_T_ARROW: return "'=>'";
	case SC_T_EQ: return "'='";
	case SC_T_PIPE: return "'|'";
	default: return "a word";
	}
}

/* ---- small value parsers ------------------------------------------------- */

static bool is_ident_start(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool is_ident_char(char c)
{
	return is_ident_start(c) || (c >= '0' && c <= '9') || c == '-';
}

/* Checks a name of n bytes at col0; `what` is "process", "host", ... */
static int check_ident(struct pstate *ps, const char *w, size_t n, uint32_t col0, const char *what)
{
	if (n == 0)
		return perr(ps, col0, "missing %s name", what);
	if (!is_ident_start(w[0]))
		return perr(ps, col0, "bad %s name '%.*s': a name starts with a letter or '_'", what,
			    (int)(n > 40 ? 40 : n), w);
	for (size_t i = 1; i < n; i++)
		if (!is_ident_char(w[i]))
			return perr(ps, col0 + (uint32_t)i,
				    "bad %s name '%.*s': a name has letters, digits, '_' and '-'", what,
				    (int)(n > 40 ? 40 : n), w);
	if (n > SC_MAX_NAME)
		return perr(ps, col0, "%s name '%.*s...' is longer than %d bytes", what, 20, w,
			    SC_MAX_NAME);
	return 0;
}

/*
 * A decimal integer in [min, max].  `what` names it in messages
 * ("port", "uid", ...).
 */
static int parse_int(struct pstate *ps, const char *w, size_t n, uint32_t col0, int64_t min,
		     int64_t max, const char *what, int64_t *out)
{
	bool neg = false;
	size_t i = 0;
	uint64_t v = 0;

	if (n > 0 && w[0] == '-' && min < 0) {
		neg = true;
		i = 1;
	}
	if (i == n)
		return perr(ps, col0, "missing %s", what);
	for (; i < n; i++) {
		if (w[i] < '0' || w[i] > '9')
			return perr(ps, col0, "bad %s '%.*s': expected a decimal number", what,
				    (int)(n > 40 ? 40 : n), w);
		if (v > (UINT64_C(1) << 40))
			return perr(ps, col0, "%s %.*s is out of range (%lld..%lld)", what,
				    (int)(n > 40 ? 40 : n), w, (long long)min, (long long)max);
		v = v * 10 + (uint64_t)(w[i] - '0');
	}
	if ((!neg && (v > (uint64_t)max || (min > 0 && v < (uint64_t)min))) ||
	    (neg && (min >= 0 || v > (uint64_t)-(min + 1) + 1)))
		return perr(ps, col0, "%s %.*s is out of range (%lld..%lld)", what,
			    (int)(n > 40 ? 40 : n), w, (long long)min, (long long)max);
	*out = neg ? -(int64_t)v : (int64_t)v;
	return 0;
}

/* Two integers written `A,B`. */
static int parse_pair(struct pstate *ps, const char *w, size_t n, uint32_t col0, int64_t min,
		      int64_t max, const char *what, int64_t *a, int64_t *b)
{
	const char *comma = memchr(w, ',', n);
	size_t k;

	if (comma == NULL)
		return perr(ps, col0, "bad %s '%.*s': expected two numbers A,B", what,
			    (int)(n > 40 ? 40 : n), w);
	k = (size_t)(comma - w);
	if (parse_int(ps, w, k, col0, min, max, what, a) != 0)
		return -EINVAL;
	return parse_int(ps, comma + 1, n - k - 1, col0 + (uint32_t)k + 1, min, max, what, b);
}

/* DURATION: digits[.digits](ns|us|ms|s|min|h), exact in nanoseconds. */
static int parse_duration(struct pstate *ps, const char *w, size_t n, uint32_t col0, uint64_t *out)
{
	static const struct {
		const char *unit;
		uint64_t ns;
	} units[] = {
		{ "ns", 1 }, { "us", 1000 }, { "ms", 1000000 }, { "s", 1000000000 },
		{ "min", UINT64_C(60000000000) }, { "h", UINT64_C(3600000000000) },
	};
	size_t i = 0, ui;
	uint64_t ip = 0, frac = 0, fdiv = 1, mul = 0, v;
	bool digits = false;

	while (i < n && w[i] >= '0' && w[i] <= '9') {
		if (ip > UINT64_C(1) << 40)
			return perr(ps, col0, "duration '%.*s' is too long", (int)(n > 40 ? 40 : n), w);
		ip = ip * 10 + (uint64_t)(w[i++] - '0');
		digits = true;
	}
	if (i < n && w[i] == '.') {
		i++;
		while (i < n && w[i] >= '0' && w[i] <= '9') {
			if (fdiv >= UINT64_C(1000000000000))
				return perr(ps, col0, "duration '%.*s' has too many decimals",
					    (int)(n > 40 ? 40 : n), w);
			frac = frac * 10 + (uint64_t)(w[i++] - '0');
			fdiv *= 10;
			digits = true;
		}
	}
	if (!digits)
		return perr(ps, col0, "bad duration '%.*s': write e.g. 61s, 200ms, 1.5s",
			    (int)(n > 40 ? 40 : n), w);
	for (ui = 0; ui < sizeof(units) / sizeof(units[0]); ui++)
		if (strlen(units[ui].unit) == n - i && memcmp(w + i, units[ui].unit, n - i) == 0)
			mul = units[ui].ns;
	if (mul == 0)
		return perr(ps, col0 + (uint32_t)i,
			    i == n ? "duration '%.*s' needs a unit (ns, us, ms, s, min, h)"
				   : "bad duration unit in '%.*s' (ns, us, ms, s, min, h)",
			    (int)(n > 40 ? 40 : n), w);
	if (ip > SC_MAX_TOTAL_SLEEP_NS / mul)
		return perr(ps, col0, "duration '%.*s' is too long", (int)(n > 40 ? 40 : n), w);
	v = ip * mul;
	/* frac/fdiv of a unit must be a whole number of nanoseconds: reduce
	 * mul/fdiv by their gcd, then fdiv' must divide frac. */
	if (frac != 0) {
		uint64_t g = mul, h = fdiv, t;

		while (h != 0) {
			t = g % h;
			g = h;
			h = t;
		}
		if (frac % (fdiv / g) != 0)
			return perr(ps, col0, "duration '%.*s' is finer than a nanosecond",
				    (int)(n > 40 ? 40 : n), w);
		v += frac / (fdiv / g) * (mul / g);
	}
	*out = v;
	return 0;
}

/* An interface name: 1..15 bytes of [A-Za-z0-9_.-]. */
static int check_ifname(struct pstate *ps, const char *w, size_t n, uint32_t col0)
{
	if (n == 0)
		return perr(ps, col0, "missing interface name");
	if (n > 15)
		return perr(ps, col0, "interface name '%.*s' is longer than 15 bytes",
			    (int)(n > 40 ? 40 : n), w);
	for (size_t i = 0; i < n; i++)
		if (!is_ident_char(w[i]) && w[i] != '.')
			return perr(ps, col0 + (uint32_t)i, "bad interface name '%.*s'", (int)n, w);
	return 0;
}

/* An IP address without port: v4 dotted quad or v6 (no brackets). */
static int parse_ip(struct pstate *ps, const char *w, size_t n, uint32_t col0, bool v6,
		    st_addr *a)
{
	char buf[64];
	unsigned char bin[16];

	if (n == 0)
		return perr(ps, col0, "missing address");
	if (n >= sizeof(buf))
		return perr(ps, col0, "bad %s address '%.*s'", v6 ? "IPv6" : "IPv4", 40, w);
	memcpy(buf, w, n);
	buf[n] = '\0';
	if (!v6) {
		if (inet_pton(AF_INET, buf, bin) != 1)
			return perr(ps, col0, "bad IPv4 address '%s'", buf);
		*a = st_addr_v4(((uint32_t)bin[0] << 24) | ((uint32_t)bin[1] << 16) |
				((uint32_t)bin[2] << 8) | bin[3]);
		return 0;
	}
	if (inet_pton(AF_INET6, buf, bin) != 1)
		return perr(ps, col0, "bad IPv6 address '%s'", buf);
	memcpy(a->b, bin, 16);
	return 0;
}

/*
 * ADDR:PORT, [ADDR6]:PORT, [ADDR6%IFNAME]:PORT.  `star` allows port `*`.
 */
static int parse_sockaddr(struct pstate *ps, const char *w, size_t n, uint32_t col0, bool star,
			  sc_addrpat *out)
{
	sc_addrpat r;
	const char *pp;
	size_t plen;
	int64_t port;

	memset(&r, 0, sizeof(r));
	if (n > 0 && w[0] == '[') {
		const char *close = memchr(w, ']', n);
		const char *pct;
		size_t in;

		if (close == NULL)
			return perr(ps, col0, "missing ']' in address '%.*s'", (int)(n > 40 ? 40 : n), w);
		in = (size_t)(close - w) - 1;
		pct = memchr(w + 1, '%', in);
		if (pct != NULL) {
			size_t alen = (size_t)(pct - w) - 1;
			size_t slen = in - alen - 1;

			if (parse_ip(ps, w + 1, alen, col0 + 1, true, &r.sa.sa.addr) != 0)
				return -EINVAL;
			if (check_ifname(ps, pct + 1, slen, col0 + 2 + (uint32_t)alen) != 0)
				return -EINVAL;
			memcpy(r.sa.ifname, pct + 1, slen);
		} else if (parse_ip(ps, w + 1, in, col0 + 1, true, &r.sa.sa.addr) != 0) {
			return -EINVAL;
		}
		r.sa.sa.family = ST_AF_INET6;
		pp = close + 1;
		plen = n - (size_t)(pp - w);
		if (plen == 0 || pp[0] != ':')
			return perr(ps, col0 + (uint32_t)(pp - w), "missing ':PORT' after ']'");
	} else {
		const char *colon = NULL;

		for (size_t i = n; i > 0; i--)
			if (w[i - 1] == ':') {
				colon = w + i - 1;
				break;
			}
		if (colon == NULL)
			return perr(ps, col0, "bad address '%.*s': write ADDR:PORT or [ADDR6]:PORT",
				    (int)(n > 40 ? 40 : n), w);
		if (memchr(w, ':', (size_t)(colon - w)) != NULL)
			return perr(ps, col0, "an IPv6 address is written in brackets: [ADDR]:PORT");
		if (memchr(w, '%', (size_t)(colon - w)) != NULL)
			return perr(ps, col0 + (uint32_t)((const char *)memchr(w, '%', n) - w),
				    "a scope (%%IFNAME) is only valid on an IPv6 address: [fe80::1%%eth0]:PORT");
		if (parse_ip(ps, w, (size_t)(colon - w), col0, false, &r.sa.sa.addr) != 0)
			return -EINVAL;
		r.sa.sa.family = ST_AF_INET;
		pp = colon;
		plen = n - (size_t)(pp - w);
	}
	/* pp points at ':' */
	pp++;
	plen--;
	col0 += (uint32_t)(pp - w);
	if (plen == 1 && pp[0] == '*') {
		if (!star)
			return perr(ps, col0, "port '*' (any port) is only allowed in an expectation");
		r.any_port = true;
	} else {
		if (plen == 0)
			return perr(ps, col0, "missing port after ':'");
		if (parse_int(ps, pp, plen, col0, 0, 65535, "port", &port) != 0)
			return -EINVAL;
		r.sa.sa.port = (uint16_t)port;
	}
	*out = r;
	return 0;
}

/* ADDR/PREFIX, v4 or v6, no brackets needed (accepted). */
static int parse_cidr(struct pstate *ps, const char *w, size_t n, uint32_t col0, sc_cidr *c)
{
	const char *slash = memchr(w, '/', n);
	size_t alen;
	int64_t plen;
	bool v6;
	const char *a = w;

	if (slash == NULL)
		return perr(ps, col0 + (uint32_t)n, "missing /PREFIX (write e.g. 10.1.1.1/24 or fd00::1/64)");
	alen = (size_t)(slash - w);
	if (alen >= 2 && a[0] == '[' && a[alen - 1] == ']') {
		a++;
		alen -= 2;
		col0++;
	}
	if (memchr(a, '%', alen) != NULL)
		return perr(ps, col0, "an address with a scope cannot be a local address");
	v6 = memchr(a, ':', alen) != NULL;
	if (parse_ip(ps, a, alen, col0, v6, &c->a) != 0)
		return -EINVAL;
	col0 += (uint32_t)(slash - a) + 1;
	if (parse_int(ps, slash + 1, n - (size_t)(slash - w) - 1, col0 - (a != w ? 1 : 0), 0,
		      v6 ? 128 : 32, "prefix length", &plen) != 0)
		return -EINVAL;
	c->family = v6 ? ST_AF_INET6 : ST_AF_INET;
	c->plen = (int)plen;
	return 0;
}

/* ---- names ------------------------------------------------------------------ */

static int intern(struct pstate *ps, const char *w, size_t n, uint32_t *sym)
{
	if (sc_sym_intern(ps->syms, w, n, sym) != 0)
		return nomem(ps);
	return 0;
}

static int32_t host_lookup(struct pstate *ps, const char *w, size_t n)
{
	uint32_t sym;

	if (intern(ps, w, n, &sym) != 0)
		return -1;
	return sc_imap_get(&ps->host_of, sym);
}

/* Resolve a host name that must exist. */
static int resolve_host(struct pstate *ps, const char *w, size_t n, uint32_t col0, int32_t *out)
{
	int32_t h;

	if (check_ident(ps, w, n, col0, "host") != 0)
		return -EINVAL;
	h = host_lookup(ps, w, n);
	if (ps->nomem)
		return -ENOMEM;
	if (h < 0)
		return perr(ps, col0, "unknown host '%.*s' (declare it with 'host %.*s')", (int)n, w,
			    (int)n, w);
	*out = h;
	return 0;
}

static int add_host(struct pstate *ps, const char *w, size_t n, sc_loc loc, int32_t *out)
{
	sc_script *s = ps->s;
	uint32_t sym;
	sc_host *h;

	if (intern(ps, w, n, &sym) != 0)
		return -ENOMEM;
	if (grow((void **)&s->hosts, &ps->hosts_cap, s->nhosts + 1, sizeof(*s->hosts)) != 0)
		return nomem(ps);
	if (sc_imap_put(&ps->host_of, sym, (int32_t)s->nhosts) != 0)
		return nomem(ps);
	h = &s->hosts[s->nhosts];
	memset(h, 0, sizeof(*h));
	h->name = sc_sym_name(ps->syms, sym);
	h->loc = loc;
	*out = (int32_t)s->nhosts++;
	return 0;
}

static int add_proc(struct pstate *ps, uint32_t sym, int32_t host, uint32_t uid, uint32_t caps,
		    int32_t parent, sc_loc loc, int32_t *out)
{
	sc_script *s = ps->s;
	size_t cap = ps->procs_cap;
	sc_proc *p;

	if (grow((void **)&s->procs, &ps->procs_cap, s->nprocs + 1, sizeof(*s->procs)) != 0)
		return nomem(ps);
	if (ps->procs_cap != cap) {
		/* pp grows in step with procs. */
		struct pproc *np = realloc(ps->pp, ps->procs_cap * sizeof(*np));

		if (np == NULL)
			return nomem(ps);
		ps->pp = np;
	}
	if (sc_imap_put(&ps->proc_of, sym, (int32_t)s->nprocs) != 0)
		return nomem(ps);
	p = &s->procs[s->nprocs];
	p->name = sc_sym_name(ps->syms, sym);
	p->host = host;
	p->uid = uid;
	p->caps = caps;
	p->parent = parent;
	p->loc = loc;
	p->nofile = 0;
	ps->pp[s->nprocs] = (struct pproc){ .sym = sym, .open_head = -1 };
	*out = (int32_t)s->nprocs++;
	return 0;
}

static int32_t slot_lookup(struct pstate *ps, int32_t proc, uint32_t sym)
{
	return sc_imap_get(&ps->slot_of, ((uint64_t)(uint32_t)proc << 32) | sym);
}

static void slot_unlink(struct pstate *ps, int32_t slot)
{
	struct pslot *sl = &ps->psl[slot];
	struct pproc *pp = &ps->pp[ps->s->slots[slot].proc];

	if (sl->prev >= 0)
		ps->psl[sl->prev].next = sl->next;
	else
		pp->open_head = sl->next;
	if (sl->next >= 0)
		ps->psl[sl->next].prev = sl->prev;
	sl->open = false;
	sl->prev = sl->next = -1;
	pp->nopen--;
}

/*
 * Open variable `sym` of `proc` (creating its slot on first use).  The
 * caller has checked that it is not open.  Returns the slot, or -1 with an
 * error recorded.
 */
static int32_t slot_open(struct pstate *ps, int32_t proc, uint32_t sym, uint32_t col0)
{
	sc_script *s = ps->s;
	struct pproc *pp = &ps->pp[proc];
	int32_t slot = slot_lookup(ps, proc, sym);
	struct pslot *sl;

	if (pp->nopen >= SC_MAX_VARS_PER_PROC) {
		perr(ps, col0, "process '%s' would hold more than %d open sockets",
		     s->procs[proc].name, SC_MAX_VARS_PER_PROC);
		return -1;
	}
	if (slot < 0) {
		size_t cap = ps->slots_cap;

		if ((uint64_t)s->nslots >= INT32_MAX) {
			perr(ps, col0, "too many socket variables");
			return -1;
		}
		if (grow((void **)&s->slots, &ps->slots_cap, s->nslots + 1, sizeof(*s->slots)) != 0) {
			nomem(ps);
			return -1;
		}
		if (ps->slots_cap != cap) {
			struct pslot *np = realloc(ps->psl, ps->slots_cap * sizeof(*np));

			if (np == NULL) {
				nomem(ps);
				return -1;
			}
			ps->psl = np;
		}
		slot = (int32_t)s->nslots;
		if (sc_imap_put(&ps->slot_of, ((uint64_t)(uint32_t)proc << 32) | sym, slot) != 0) {
			nomem(ps);
			return -1;
		}
		s->slots[slot].proc = proc;
		s->slots[slot].name = sc_sym_name(ps->syms, sym);
		ps->psl[slot] = (struct pslot){ .sym = sym, .prev = -1, .next = -1 };
		s->nslots++;
	}
	sl = &ps->psl[slot];
	sl->open = true;
	sl->line = ps->lineno;
	sl->prev = -1;
	sl->next = pp->open_head;
	if (pp->open_head >= 0)
		ps->psl[pp->open_head].prev = slot;
	pp->open_head = slot;
	pp->nopen++;
	return slot;
}

static void slot_close(struct pstate *ps, int32_t slot)
{
	if (ps->psl[slot].open)
		slot_unlink(ps, slot);
	ps->psl[slot].line = ps->lineno;
}

/* ---- statements: shared pieces -------------------------------------------- */

/* Column just past the code (for "missing ARG" messages). */
static uint32_t end_col(const sc_tok *t, uint32_t n)
{
	if (n == 0)
		return 0;
	return t[n - 1].col + t[n - 1].len;
}

static int need_word(struct pstate *ps, const sc_tok *t, const char *what)
{
	if (t->kind != SC_T_WORD)
		return perr(ps, t->col, "expected %s, got %s", what, tkind_word(t->kind));
	return 0;
}

/*
 * Arity: `args` has n tokens, the verb/statement takes min..max.  `usage`
 * is the form, e.g. "bind SOCKET ADDR"; `names` the argument names in order
 * for the "missing" message.
 */
static int check_arity(struct pstate *ps, const sc_tok *args, uint32_t n, uint32_t min,
		       uint32_t max, const char *usage, const char *const *names, uint32_t after)
{
	if (n < min)
		return perr(ps, n > 0 ? end_col(args, n) + 1 : after + 1, "missing %s (write '%s')",
			    names[n], usage);
	if (n > max && args[max].kind != SC_T_WORD)
		return perr(ps, args[max].col, "unexpected %s (write '%s')",
			    tkind_word(args[max].kind), usage);
	if (n > max)
		return perr(ps, args[max].col, "unexpected argument '%.*s' (write '%s')",
			    tshow_len(&args[max]), ttext(ps, &args[max]), usage);
	return 0;
}

/* A socket variable operand of process `proc`. */
static int resolve_var(struct pstate *ps, int32_t proc, const sc_tok *t, int32_t *slot_out)
{
	const char *w = ttext(ps, t);
	uint32_t sym;
	int32_t slot;

	if (need_word(ps, t, "a socket variable") != 0)
		return -EINVAL;
	if (check_ident(ps, w, t->len, t->col, "variable") != 0)
		return -EINVAL;
	if (intern(ps, w, t->len, &sym) != 0)
		return -ENOMEM;
	slot = slot_lookup(ps, proc, sym);
	if (slot < 0)
		return perr(ps, t->col, "process '%s' has no socket variable '%.*s'",
			    ps->s->procs[proc].name, (int)t->len, w);
	if (!ps->psl[slot].open)
		return perr(ps, t->col, "'%.*s' of process '%s' was closed at line %u", (int)t->len, w,
			    ps->s->procs[proc].name, ps->psl[slot].line);
	*slot_out = slot;
	return 0;
}

/* A process operand (fork's parent is the actor; sendfd's target here). */
static int resolve_proc(struct pstate *ps, const char *w, size_t n, uint32_t col0, int32_t *out)
{
	uint32_t sym;
	int32_t p;

	if (check_ident(ps, w, n, col0, "process") != 0)
		return -EINVAL;
	if (intern(ps, w, n, &sym) != 0)
		return -ENOMEM;
	p = sc_imap_get(&ps->proc_of, sym);
	if (p < 0)
		return perr(ps, col0, "unknown process '%.*s' (declare it with 'proc %.*s')", (int)n, w,
			    (int)n, w);
	if (ps->pp[p].exited)
		return perr(ps, col0, "process '%.*s' exited at line %u", (int)n, w,
			    ps->pp[p].exit_line);
	*out = p;
	return 0;
}

static const uint8_t *copy_data(struct pstate *ps, const sc_tok *t)
{
	const uint8_t *d;

	if (t->slen == 0)
		return NULL;
	d = sc_arena_memdup(ps->s->arena, ps->line->sbuf + t->soff, t->slen);
	if (d == NULL)
		nomem(ps);
	return d;
}

/* ---- expectations -------------------------------------------------------- */

static bool looks_errno(const char *w, size_t n)
{
	if (n < 2 || w[0] != 'E')
		return false;
	for (size_t i = 1; i < n; i++)
		if (!((w[i] >= 'A' && w[i] <= 'Z') || (w[i] >= '0' && w[i] <= '9')))
			return false;
	return true;
}

static bool looks_number(const char *w, size_t n)
{
	size_t i = (n > 0 && w[0] == '-') ? 1 : 0;

	if (i == n)
		return false;
	for (; i < n; i++)
		if ((w[i] < '0' || w[i] > '9') && w[i] != ',')
			return false;
	return true;
}

/* One alternative from tokens t[0..n). */
static int parse_alt(struct pstate *ps, const sc_tok *t, uint32_t n, uint32_t at, sc_alt *a)
{
	const char *w;

	memset(a, 0, sizeof(*a));
	if (n == 0)
		return perr(ps, at, "empty alternative in the expectation");
	a->loc = (sc_loc){ ps->lineno, t[0].col + 1 };
	w = ttext(ps, &t[0]);
	if (t[0].kind == SC_T_STRING) {
		a->kind = SC_E_DATA;
		a->len = t[0].slen;
		a->data = copy_data(ps, &t[0]);
		if (ps->nomem)
			return -ENOMEM;
		if (n == 1)
			return 0;
		if (!tok_is(ps, &t[1], "from"))
			return perr(ps, t[1].col, "expected 'from ADDR' or the end of the alternative after the string");
		if (n == 2)
			return perr(ps, t[1].col + t[1].len + 1, "missing ADDR after 'from'");
		if (need_word(ps, &t[2], "an address") != 0)
			return -EINVAL;
		if (parse_sockaddr(ps, ttext(ps, &t[2]), t[2].len, t[2].col, true, &a->addr) != 0)
			return -EINVAL;
		if (n > 3)
			return perr(ps, t[3].col, "unexpected '%.*s' after the address", tshow_len(&t[3]),
				    ttext(ps, &t[3]));
		a->kind = SC_E_DATA_FROM;
		return 0;
	}
	if (t[0].kind != SC_T_WORD)
		return perr(ps, t[0].col, "expected a result, got %s", tkind_word(t[0].kind));
	if (tok_is(ps, &t[0], "ok")) {
		a->kind = SC_E_OK;
		if (n == 1)
			return 0;
		if (need_word(ps, &t[1], "an address") != 0)
			return -EINVAL;
		if (parse_sockaddr(ps, ttext(ps, &t[1]), t[1].len, t[1].col, true, &a->addr) != 0)
			return -EINVAL;
		if (n > 2)
			return perr(ps, t[2].col, "unexpected '%.*s' after the address", tshow_len(&t[2]),
				    ttext(ps, &t[2]));
		a->kind = SC_E_OK_ADDR;
		return 0;
	}
	if (n > 1)
		return perr(ps, t[1].col, "unexpected '%.*s' in the expectation (separate alternatives with '|')",
			    tshow_len(&t[1]), ttext(ps, &t[1]));
	if (looks_errno(w, t[0].len)) {
		const char *canon = sc_errno_alias(w, t[0].len);

		if (canon != NULL)
			return perr(ps, t[0].col, "write %s, the name Linux prints, not %.*s", canon,
				    (int)t[0].len, w);
		a->err = sc_errno_lookup(w, t[0].len);
		if (a->err == 0)
			return perr(ps, t[0].col, "unknown errno name '%.*s'", tshow_len(&t[0]), w);
		a->kind = SC_E_ERR;
		return 0;
	}
	if (looks_number(w, t[0].len)) {
		if (memchr(w, ',', t[0].len) != NULL) {
			a->kind = SC_E_LINGER;
			return parse_pair(ps, w, t[0].len, t[0].col, INT32_MIN, INT32_MAX, "value",
					  &a->i, &a->i2);
		}
		a->kind = SC_E_INT;
		return parse_int(ps, w, t[0].len, t[0].col, INT32_MIN, INT32_MAX, "value", &a->i);
	}
	if (memchr(w, ':', t[0].len) != NULL) {
		a->kind = SC_E_ADDR;
		return parse_sockaddr(ps, w, t[0].len, t[0].col, true, &a->addr);
	}
	return perr(ps, t[0].col,
		    "cannot read the expectation '%.*s' (expected ok, ok ADDR, an errno name, "
		    "\"DATA\", \"DATA\" from ADDR, ADDR or a number)", tshow_len(&t[0]), w);
}

static const char *ekind_word(sc_ekind k)
{
	switch (k) {
	case SC_E_OK: return "ok";
	case SC_E_OK_ADDR: return "ok ADDR";
	case SC_E_ERR: return "an errno";
	case SC_E_ADDR: return "an address";
	case SC_E_DATA: return "a string";
	case SC_E_DATA_FROM: return "\"DATA\" from ADDR";
	case SC_E_INT: return "a number";
	case SC_E_LINGER: return "a pair A,B";
	}
	return "?";
}

/* What `verb` (with option `opt` for getsockopt) can print, besides errnos. */
static const char *verb_prints(sc_verb v, sc_opt opt, sc_ekind k, bool *ok)
{
	*ok = k == SC_E_ERR;
	switch (v) {
	case SC_V_ACCEPT:
		*ok = *ok || k == SC_E_OK || k == SC_E_OK_ADDR;
		return "ok PEERADDR or an errno";
	case SC_V_RECV:
		*ok = *ok || k == SC_E_DATA;
		return "\"DATA\" or an errno";
	case SC_V_RECVFROM:
		*ok = *ok || k == SC_E_DATA || k == SC_E_DATA_FROM;
		return "\"DATA\" from ADDR or an errno";
	case SC_V_GETSOCKNAME:
	case SC_V_GETPEERNAME:
		*ok = *ok || k == SC_E_ADDR;
		return "an address or an errno";
	case SC_V_GETSOCKOPT:
		switch (opt) {
		case SC_SO_LINGER:
			*ok = *ok || k == SC_E_LINGER;
			return "ON,SECONDS or an errno";
		case SC_IP_LOCAL_PORT_RANGE:
			*ok = *ok || k == SC_E_LINGER || k == SC_E_INT;
			return "LO,HI or an errno";
		case SC_SO_BINDTODEVICE:
			*ok = *ok || k == SC_E_DATA;
			return "a string (the interface name) or an errno";
		case SC_SO_ERROR:
			*ok = *ok || k == SC_E_INT;
			return "0 or an errno name";
		default:
			*ok = *ok || k == SC_E_INT;
			return "a number or an errno";
		}
	default:
		*ok = *ok || k == SC_E_OK;
		return "ok or an errno";
	}
}

static int parse_expect(struct pstate *ps, const sc_tok *t, uint32_t n, const sc_tok *arrow,
			sc_verb verb, sc_opt opt, sc_expect *e)
{
	sc_alt alts[SC_MAX_ALTS];
	uint32_t na = 0, start = 0;

	memset(e, 0, sizeof(*e));
	e->loc = (sc_loc){ ps->lineno, arrow->col + 1 };
	if (n == 0)
		return perr(ps, arrow->col + 2, "missing expectation after '=>'");
	for (uint32_t i = 0; i <= n; i++) {
		bool ok;
		const char *what;

		if (i < n && t[i].kind != SC_T_PIPE)
			continue;
		if (na == SC_MAX_ALTS)
			return perr(ps, t[start].col, "more than %d alternatives", SC_MAX_ALTS);
		if (parse_alt(ps, t + start, i - start,
			      i < n ? t[i].col : (start > 0 ? t[start - 1].col : arrow->col + 2),
			      &alts[na]) != 0)
			return -EINVAL;
		what = verb_prints(verb, opt, alts[na].kind, &ok);
		if (!ok) {
			if (verb == SC_V_GETSOCKOPT)
				return perr(ps, alts[na].loc.col - 1,
					    "getsockopt %s prints %s, never %s", sc_opt_name(opt), what,
					    ekind_word(alts[na].kind));
			return perr(ps, alts[na].loc.col - 1, "%s prints %s, never %s",
				    sc_verb_name(verb), what, ekind_word(alts[na].kind));
		}
		na++;
		start = i + 1;
	}
	e->alts = sc_arena_memdup(ps->s->arena, alts, na * sizeof(alts[0]));
	if (e->alts == NULL)
		return nomem(ps);
	e->nalts = na;
	e->text_off = ps->line_off + t[0].col;
	e->text_len = t[n - 1].col + t[n - 1].len - t[0].col;
	return 0;
}

/* ---- world statements ------------------------------------------------------ */

/* KEY=VALUE options from t[0..n); calls back per pair. */
struct kv {
	const sc_tok *key, *val;
};

static int split_options(struct pstate *ps, const sc_tok *t, uint32_t n, struct kv *out,
			 uint32_t max, uint32_t *nout, const char *usage)
{
	uint32_t k = 0;

	for (uint32_t i = 0; i < n; i += 3) {
		if (t[i].kind != SC_T_WORD || i + 1 >= n || t[i + 1].kind != SC_T_EQ)
			return perr(ps, t[i].col, "expected an option KEY=VALUE, got '%.*s' (write '%s')",
				    tshow_len(&t[i]), ttext(ps, &t[i]), usage);
		if (i + 2 >= n || t[i + 2].kind == SC_T_EQ || t[i + 2].kind == SC_T_PIPE)
			return perr(ps, t[i + 1].col + 1, "missing value after '%.*s='",
				    tshow_len(&t[i]), ttext(ps, &t[i]));
		for (uint32_t j = 0; j < k; j++)
			if (out[j].key->len == t[i].len &&
			    memcmp(ttext(ps, out[j].key), ttext(ps, &t[i]), t[i].len) == 0)
				return perr(ps, t[i].col, "option '%.*s' given twice", tshow_len(&t[i]),
					    ttext(ps, &t[i]));
		if (k == max)
			return perr(ps, t[i].col, "too many options (write '%s')", usage);
		out[k].key = &t[i];
		out[k].val = &t[i + 2];
		k++;
	}
	*nout = k;
	return 0;
}

static int w_host(struct pstate *ps, const sc_tok *a, uint32_t n, sc_stmt *st)
{
	static const char *const names[] = { "NAME" };
	const char *w;
	int32_t h;

	if (check_arity(ps, a, n, 1, 1, "host NAME", names, end_col(a - 1, 1)) != 0)
		return -EINVAL;
	if (need_word(ps, &a[0], "a host name") != 0)
		return -EINVAL;
	w = ttext(ps, &a[0]);
	if (check_ident(ps, w, a[0].len, a[0].col, "host") != 0)
		return -EINVAL;
	h = host_lookup(ps, w, a[0].len);
	if (ps->nomem)
		return -ENOMEM;
	if (h == 0)
		return perr(ps, a[0].col, "host 'local' always exists; do not declare it");
	if (h > 0)
		return perr(ps, a[0].col, "host '%.*s' is already declared at line %u", (int)a[0].len,
			    w, ps->s->hosts[h].loc.line);
	if (ps->s->nhosts >= SC_MAX_HOSTS)
		return perr(ps, a[0].col, "too many hosts (at most %d, counting 'local')", SC_MAX_HOSTS);
	if (add_host(ps, w, a[0].len, st->loc, &st->host) != 0)
		return -ENOMEM;
	return 0;
}

static int w_addr(struct pstate *ps, const sc_tok *a, uint32_t n, sc_stmt *st)
{
	static const char *const names[] = { "HOST", "CIDR" };
	sc_cidr c;

	if (check_arity(ps, a, n, 2, 2, "addr HOST CIDR", names, end_col(a - 1, 1)) != 0)
		return -EINVAL;
	if (need_word(ps, &a[0], "a host name") != 0 || need_word(ps, &a[1], "ADDR/PREFIX") != 0)
		return -EINVAL;
	memset(&c, 0, sizeof(c));
	if (resolve_host(ps, ttext(ps, &a[0]), a[0].len, a[0].col, &c.host) != 0)
		return -EINVAL;
	if (parse_cidr(ps, ttext(ps, &a[1]), a[1].len, a[1].col, &c) != 0)
		return -EINVAL;
	c.loc = (sc_loc){ ps->lineno, a[1].col + 1 };
	st->host = c.host;
	st->u.cidr = sc_arena_memdup(ps->s->arena, &c, sizeof(c));
	if (st->u.cidr == NULL)
		return nomem(ps);
	return 0;
}

static int link_end(struct pstate *ps, const sc_tok *t, sc_cidr *c)
{
	const char *w = ttext(ps, t);
	const char *colon = memchr(w, ':', t->len);
	size_t hn;

	if (need_word(ps, t, "HOST:ADDR/PREFIX") != 0)
		return -EINVAL;
	if (colon == NULL)
		return perr(ps, t->col, "expected HOST:ADDR/PREFIX, got '%.*s'", tshow_len(t), w);
	hn = (size_t)(colon - w);
	memset(c, 0, sizeof(*c));
	if (resolve_host(ps, w, hn, t->col, &c->host) != 0)
		return -EINVAL;
	if (parse_cidr(ps, colon + 1, t->len - hn - 1, t->col + (uint32_t)hn + 1, c) != 0)
		return -EINVAL;
	c->loc = (sc_loc){ ps->lineno, t->col + 1 };
	return 0;
}

static int w_link(struct pstate *ps, const sc_tok *a, uint32_t n, sc_stmt *st)
{
	static const char *const names[] = { "HOST:CIDR", "HOST:CIDR" };
	static const char usage[] = "link HOST:CIDR HOST:CIDR [delay=DURATION]";
	sc_linkarg l;
	struct kv kv[1] = { { 0 } };
	uint32_t nkv = 0;

	memset(&l, 0, sizeof(l));
	if (check_arity(ps, a, n < 2 ? n : 2, 2, 2, usage, names, end_col(a - 1, 1)) != 0)
		return -EINVAL;
	if (link_end(ps, &a[0], &l.end[0]) != 0 || link_end(ps, &a[1], &l.end[1]) != 0)
		return -EINVAL;
	if (split_options(ps, a + 2, n - 2, kv, 1, &nkv, usage) != 0)
		return -EINVAL;
	if (nkv == 1) {
		if (!tok_is(ps, kv[0].key, "delay"))
			return perr(ps, kv[0].key->col, "unknown link option '%.*s' (write '%s')",
				    tshow_len(kv[0].key), ttext(ps, kv[0].key), usage);
		if (need_word(ps, kv[0].val, "a duration") != 0 ||
		    parse_duration(ps, ttext(ps, kv[0].val), kv[0].val->len, kv[0].val->col,
				   &l.delay_ns) != 0)
			return -EINVAL;
	}
	if (l.end[0].host == l.end[1].host)
		return perr(ps, a[1].col, "a link joins two different hosts");
	if (l.end[0].family != l.end[1].family)
		return perr(ps, a[1].col, "both ends of a link must have the same address family");
	for (int i = 0; i < 2; i++) {
		sc_host *h = &ps->s->hosts[l.end[i].host];

		if (h->nlinks >= SC_MAX_LINKS_PER_HOST)
			return perr(ps, a[i].col, "host '%s' has too many links (at most %d)", h->name,
				    SC_MAX_LINKS_PER_HOST);
	}
	for (int i = 0; i < 2; i++)
		l.ifindex[i] = (int)ps->s->hosts[l.end[i].host].nlinks++;
	st->u.link = sc_arena_memdup(ps->s->arena, &l, sizeof(l));
	if (st->u.link == NULL)
		return nomem(ps);
	return 0;
}

/* Sysctl keys the language accepts: name, number of values, range. */
static const struct sysctl_key {
	const char *name;
	int nvalues;        /* 0: a port list (one value, may be "") */
	int64_t min, max;
} sysctl_keys[] = {
	{ "net.ipv4.ip_local_port_range", 2, 1, 65535 },
	{ "net.ipv4.ip_unprivileged_port_start", 1, 0, 65535 },
	{ "net.ipv6.bindv6only", 1, 0, 255 },
	{ "net.ipv4.tcp_tw_reuse", 1, 0, 2 },
	{ "net.ipv4.tcp_tw_reuse_delay", 1, 1, 600000 },
	{ "net.ipv4.tcp_timestamps", 1, 0, 255 },
	{ "net.ipv4.ip_nonlocal_bind", 1, 0, 255 },
	{ "net.ipv6.ip_nonlocal_bind", 1, 0, 255 },
	{ "net.ipv4.ip_local_reserved_ports", 0, 0, 65535 },
	{ "net.ipv4.ip_autobind_reuse", 1, 0, 1 },
	{ "net.core.somaxconn", 1, 0, INT32_MAX },
	{ "net.ipv4.tcp_migrate_req", 1, 0, 1 },
};

/* "40000,40010-40020" (or empty). */
static int check_port_list(struct pstate *ps, const char *w, size_t n, uint32_t col0)
{
	size_t i = 0;

	while (i < n) {
		size_t j = i;
		int64_t lo, hi;
		const char *dash;

		while (j < n && w[j] != ',')
			j++;
		dash = memchr(w + i, '-', j - i);
		if (dash != NULL) {
			size_t k = (size_t)(dash - w);

			if (parse_int(ps, w + i, k - i, col0 + (uint32_t)i, 0, 65535, "port", &lo) != 0 ||
			    parse_int(ps, w + k + 1, j - k - 1, col0 + (uint32_t)k + 1, 0, 65535, "port",
				      &hi) != 0)
				return -EINVAL;
			if (lo > hi)
				return perr(ps, col0 + (uint32_t)i, "port range %.*s is empty",
					    (int)(j - i), w + i);
		} else if (parse_int(ps, w + i, j - i, col0 + (uint32_t)i, 0, 65535, "port", &lo) != 0) {
			return -EINVAL;
		}
		i = j + 1;
		if (j < n && i == n)
			return perr(ps, col0 + (uint32_t)j, "trailing ',' in the port list");
	}
	return 0;
}

static int w_sysctl(struct pstate *ps, const sc_tok *a, uint32_t n, sc_stmt *st)
{
	static const char usage[] = "sysctl [HOST] KEY VALUE...";
	const struct sysctl_key *key = NULL;
	sc_sysctlarg *arg;
	const char **vals;
	uint32_t i = 0, nv;
	int64_t prev = INT64_MIN;

	st->host = 0;
	if (n == 0)
		return perr(ps, end_col(a - 1, 1) + 1, "missing KEY (write '%s')", usage);
	if (a[0].kind == SC_T_WORD && memchr(ttext(ps, &a[0]), '.', a[0].len) == NULL) {
		if (resolve_host(ps, ttext(ps, &a[0]), a[0].len, a[0].col, &st->host) != 0)
			return -EINVAL;
		i = 1;
	}
	if (i >= n)
		return perr(ps, end_col(a, n) + 1, "missing KEY (write '%s')", usage);
	if (need_word(ps, &a[i], "a sysctl key") != 0)
		return -EINVAL;
	for (size_t k = 0; k < sizeof(sysctl_keys) / sizeof(sysctl_keys[0]); k++)
		if (strlen(sysctl_keys[k].name) == a[i].len &&
		    memcmp(sysctl_keys[k].name, ttext(ps, &a[i]), a[i].len) == 0)
			key = &sysctl_keys[k];
	if (key == NULL)
		return perr(ps, a[i].col, "unknown sysctl key '%.*s'", tshow_len(&a[i]),
			    ttext(ps, &a[i]));
	nv = n - i - 1;
	if (nv != (key->nvalues ? (uint32_t)key->nvalues : 1)) {
		if (nv == 0)
			return perr(ps, end_col(a, n) + 1, "missing value for %s", key->name);
		return perr(ps, nv > (uint32_t)(key->nvalues ? key->nvalues : 1)
					? a[i + 1 + (key->nvalues ? key->nvalues : 1)].col
					: end_col(a, n) + 1,
			    "%s takes %d value%s", key->name, key->nvalues ? key->nvalues : 1,
			    key->nvalues > 1 ? "s" : "");
	}
	vals = sc_arena_alloc(ps->s->arena, nv * sizeof(*vals));
	arg = sc_arena_alloc(ps->s->arena, sizeof(*arg));
	if (vals == NULL || arg == NULL)
		return nomem(ps);
	for (uint32_t k = 0; k < nv; k++) {
		const sc_tok *t = &a[i + 1 + k];
		int64_t v = 0;
		const char *txt;
		size_t len;

		if (t->kind == SC_T_STRING) {
			txt = (const char *)ps->line->sbuf + t->soff;
			len = t->slen;
			if (memchr(txt, '\0', len) != NULL)
				return perr(ps, t->col, "a sysctl value cannot contain a NUL byte");
		} else if (t->kind == SC_T_WORD) {
			txt = ttext(ps, t);
			len = t->len;
		} else {
			return perr(ps, t->col, "expected a value, got %s", tkind_word(t->kind));
		}
		if (key->nvalues == 0) {
			if (check_port_list(ps, txt, len, t->col + (t->kind == SC_T_STRING)) != 0)
				return -EINVAL;
		} else {
			if (parse_int(ps, txt, len, t->col, key->min, key->max, "value", &v) != 0)
				return -EINVAL;
			if (k == 1 && v < prev)
				return perr(ps, t->col, "%s: the low end %lld is above the high end %lld",
					    key->name, (long long)prev, (long long)v);
			prev = v;
		}
		vals[k] = sc_arena_strndup(ps->s->arena, txt, len);
		if (vals[k] == NULL)
			return nomem(ps);
	}
	arg->key = key->name;
	arg->values = vals;
	arg->nvalues = (int)nv;
	st->u.sysctl = arg;
	return 0;
}

static int w_proc(struct pstate *ps, const sc_tok *a, uint32_t n, sc_stmt *st)
{
	static const char usage[] = "proc NAME[@HOST] [uid=N] [caps=CAP,...] [nofile=N]";
	static const char *const names[] = { "NAME" };
	const char *w, *at;
	size_t nn;
	int32_t host = 0, p;
	uint32_t sym, caps = 0;
	int64_t uid = 1000, nofile = 0;
	struct kv kv[3];
	uint32_t nkv = 0;
	int rc = 0;

	if (check_arity(ps, a, n, 1, n, usage, names, end_col(a - 1, 1)) != 0)
		return -EINVAL;
	if (need_word(ps, &a[0], "a process name") != 0)
		return -EINVAL;
	w = ttext(ps, &a[0]);
	at = memchr(w, '@', a[0].len);
	nn = at ? (size_t)(at - w) : a[0].len;
	if (check_ident(ps, w, nn, a[0].col, "process") != 0)
		return -EINVAL;
	if (intern(ps, w, nn, &sym) != 0)
		return -ENOMEM;
	p = sc_imap_get(&ps->proc_of, sym);
	if (p >= 0)
		return perr(ps, a[0].col, "process '%.*s' is already declared at line %u", (int)nn, w,
			    ps->s->procs[p].loc.line);
	if (ps->s->nprocs >= SC_MAX_PROCS)
		return perr(ps, a[0].col, "too many processes (at most %d, counting fork children)",
			    SC_MAX_PROCS);
	if (at != NULL && resolve_host(ps, at + 1, a[0].len - nn - 1, a[0].col + (uint32_t)nn + 1,
				       &host) != 0)
		rc = -EINVAL;
	if (rc == 0)
		rc = split_options(ps, a + 1, n - 1, kv, 3, &nkv, usage);
	for (uint32_t i = 0; rc == 0 && i < nkv; i++) {
		const sc_tok *v = kv[i].val;

		if (tok_is(ps, kv[i].key, "uid")) {
			rc = need_word(ps, v, "a uid");
			if (rc == 0)
				rc = parse_int(ps, ttext(ps, v), v->len, v->col, 0, UINT32_MAX - 1, "uid",
					       &uid);
		} else if (tok_is(ps, kv[i].key, "caps")) {
			const char *cw = ttext(ps, v);
			size_t s0 = 0;

			rc = need_word(ps, v, "a capability list");
			while (rc == 0 && s0 <= v->len) {
				size_t e = s0;
				unsigned bit;

				while (e < v->len && cw[e] != ',')
					e++;
				bit = sc_cap_lookup(cw + s0, e - s0);
				if (bit == 0)
					rc = perr(ps, v->col + (uint32_t)s0,
						  "unknown capability '%.*s' (known: net_bind_service, net_admin, net_raw)",
						  (int)(e - s0), cw + s0);
				caps |= bit;
				s0 = e + 1;
			}
		} else if (tok_is(ps, kv[i].key, "nofile")) {
			/* The descriptor limit (RLIMIT_NOFILE): socket, accept
			 * and sendfd answer EMFILE once descriptors 3..N-1
			 * are taken. */
			rc = need_word(ps, v, "a descriptor limit");
			if (rc == 0)
				rc = parse_int(ps, ttext(ps, v), v->len, v->col, SC_MIN_NOFILE,
					       SC_MAX_NOFILE, "nofile", &nofile);
		} else {
			rc = perr(ps, kv[i].key->col, "unknown process option '%.*s' (write '%s')",
				  tshow_len(kv[i].key), ttext(ps, kv[i].key), usage);
		}
	}
	if (uid == 0)
		caps = ST_CAP_ALL;
	/* Declared even when an option was bad, so later lines do not cascade. */
	if (add_proc(ps, sym, host, (uint32_t)uid, caps, -1, st->loc, &p) != 0)
		return -ENOMEM;
	ps->s->procs[p].nofile = (uint32_t)nofile;
	st->proc = p;
	st->host = host;
	return rc;
}

static int w_sleep(struct pstate *ps, const sc_tok *a, uint32_t n, sc_stmt *st)
{
	static const char *const names[] = { "DURATION" };

	/* The duration is checked before the arity: `sleep 10 s` is a
	 * duration without its unit more likely than an extra argument. */
	if (n >= 1 && (need_word(ps, &a[0], "a duration") != 0 ||
		       parse_duration(ps, ttext(ps, &a[0]), a[0].len, a[0].col, &st->u.sleep_ns) != 0))
		return -EINVAL;
	if (check_arity(ps, a, n, 1, 1, "sleep DURATION", names, end_col(a - 1, 1)) != 0)
		return -EINVAL;
	if (st->u.sleep_ns > SC_MAX_TOTAL_SLEEP_NS - ps->total_sleep)
		return perr(ps, a[0].col, "the sleeps of this file add up to more than 146 years");
	ps->total_sleep += st->u.sleep_ns;
	return 0;
}

static int w_ls(struct pstate *ps, const sc_tok *a, uint32_t n, sc_stmt *st)
{
	static const char *const names[] = { "HOST" };
	sc_lsarg *arg;

	if (check_arity(ps, a, n, 0, 1, "ls [HOST]", names, end_col(a - 1, 1)) != 0)
		return -EINVAL;
	st->host = 0;
	if (n == 1) {
		if (need_word(ps, &a[0], "a host name") != 0 ||
		    resolve_host(ps, ttext(ps, &a[0]), a[0].len, a[0].col, &st->host) != 0)
			return -EINVAL;
	}
	arg = sc_arena_alloc(ps->s->arena, sizeof(*arg));
	if (arg == NULL)
		return nomem(ps);
	arg->last_line = ps->lineno;
	st->u.ls = arg;
	return 0;
}

/* ---- `ls` rows -------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "-" or NAME,NAME... -> sorted into out (size 256). */
static int parse_owners(struct pstate *ps, const sc_tok *t, char *out)
{
	const char *w = ttext(ps, t);
	const char *names[128];
	char buf[SC_MAX_LINE];
	size_t nn = 0, i = 0, used = 0;

	if (t->len == 1 && w[0] == '-') {
		strcpy(out, "-");
		return 0;
	}
	memcpy(buf, w, t->len);
	buf[t->len] = '\0';
	while (i <= t->len) {
		size_t e = i;
		uint32_t sym;

		while (e < t->len && w[e] != ',')
			e++;
		if (check_ident(ps, w + i, e - i, t->col + (uint32_t)i, "owner process") != 0)
			return -EINVAL;
		if (intern(ps, w + i, e - i, &sym) != 0)
			return -ENOMEM;
		if (sc_imap_get(&ps->proc_of, sym) < 0)
			return perr(ps, t->col + (uint32_t)i, "unknown process '%.*s' in the owners",
				    (int)(e - i), w + i);
		if (nn == sizeof(names) / sizeof(names[0]))
			return perr(ps, t->col, "too many owners");
		buf[e] = '\0';
		names[nn++] = buf + i;
		i = e + 1;
	}
	qsort(names, nn, sizeof(names[0]), cmp_str);
	for (size_t k = 0; k < nn; k++) {
		size_t l = strlen(names[k]);

		if (k > 0 && strcmp(names[k], names[k - 1]) == 0)
			return perr(ps, t->col, "owner '%s' is listed twice", names[k]);
		if (used + l + 2 > 256)
			return perr(ps, t->col, "the owner list is longer than 255 bytes");
		if (k > 0)
			out[used++] = ',';
		memcpy(out + used, names[k], l);
		used += l;
	}
	out[used] = '\0';
	return 0;
}

static int ls_row(struct pstate *ps)
{
	static const char form[] = "| PROTO STATE LOCAL PEER OWNERS";
	const sc_line *l = ps->line;
	const sc_tok *t = l->toks + 1;
	uint32_t n = l->ntok - 1;
	sc_lspat r;
	int k;

	if (ps->ls_stmt < 0)
		return perr(ps, l->toks[0].col, "an expected row '|' must directly follow an 'ls' line or its rows");
	memset(&r, 0, sizeof(r));
	r.loc = (sc_loc){ ps->lineno, l->toks[0].col + 1 };
	for (uint32_t i = 0; i < n; i++)
		if (t[i].kind != SC_T_WORD)
			return perr(ps, t[i].col, "unexpected %s in an ls row (write '%s')",
				    tkind_word(t[i].kind), form);
	if (n < 5)
		return perr(ps, n ? t[n - 1].col + t[n - 1].len + 1 : l->toks[0].col + 2,
			    "an ls row has 5 fields, this one %u (write '%s')", n, form);
	if (n > 5)
		return perr(ps, t[5].col, "an ls row has 5 fields, this one %u (write '%s')", n, form);
	k = sc_kind_lookup(ttext(ps, &t[0]), t[0].len);
	if (k < 0)
		return perr(ps, t[0].col, "unknown PROTO '%.*s' (tcp4, tcp6, udp4, udp6)",
			    tshow_len(&t[0]), ttext(ps, &t[0]));
	r.kind = (sc_kind)k;
	if (!sc_state_valid(ttext(ps, &t[1]), t[1].len))
		return perr(ps, t[1].col, "unknown STATE '%.*s'", tshow_len(&t[1]), ttext(ps, &t[1]));
	memcpy(r.state, ttext(ps, &t[1]), t[1].len);
	if (parse_sockaddr(ps, ttext(ps, &t[2]), t[2].len, t[2].col, true, &r.local) != 0)
		return -EINVAL;
	if (!(t[3].len == 1 && ttext(ps, &t[3])[0] == '*')) {
		if (parse_sockaddr(ps, ttext(ps, &t[3]), t[3].len, t[3].col, true, &r.peer) != 0)
			return -EINVAL;
		r.has_peer = true;
	}
	if (parse_owners(ps, &t[4], r.owners) != 0)
		return -EINVAL;
	if (ps->nrows >= SC_MAX_LS_ROWS)
		return perr(ps, l->toks[0].col, "more than %d expected rows after one ls", SC_MAX_LS_ROWS);
	r.text_off = ps->line_off + t[0].col;
	r.text_len = t[4].col + t[4].len - t[0].col;
	if (grow((void **)&ps->rows, &ps->rows_cap, ps->nrows + 1, sizeof(*ps->rows)) != 0)
		return nomem(ps);
	ps->rows[ps->nrows++] = r;
	ps->s->stmts[ps->ls_stmt].u.ls->last_line = ps->lineno;
	return 0;
}

/* The row block of the current ls (if any) ends here. */
static int ls_block_end(struct pstate *ps)
{
	sc_lsarg *arg;

	if (ps->ls_stmt < 0)
		return 0;
	arg = ps->s->stmts[ps->ls_stmt].u.ls;
	ps->ls_stmt = -1;
	if (ps->nrows == 0)
		return 0;
	arg->rows = sc_arena_memdup(ps->s->arena, ps->rows, ps->nrows * sizeof(*ps->rows));
	if (arg->rows == NULL)
		return nomem(ps);
	arg->nrows = (uint32_t)ps->nrows;
	arg->has_rows = true;
	ps->nrows = 0;
	return 0;
}

/* ---- operations -------------------------------------------------------------- */

struct verb_form {
	uint8_t min, max;
	bool sock;              /* first argument is a socket variable */
	const char *usage;
	const char *names[3];
};

static const struct verb_form forms[SC_V_COUNT_] = {
	[SC_V_SOCKET] = { 1, 1, false, "VAR = socket KIND", { "KIND (tcp4, tcp6, udp4, udp6)" } },
	[SC_V_SETSOCKOPT] = { 3, 3, true, "setsockopt SOCKET OPTION VALUE", { "SOCKET", "OPTION", "VALUE" } },
	[SC_V_GETSOCKOPT] = { 2, 2, true, "getsockopt SOCKET OPTION", { "SOCKET", "OPTION" } },
	[SC_V_BIND] = { 2, 2, true, "bind SOCKET ADDR", { "SOCKET", "ADDR" } },
	[SC_V_LISTEN] = { 1, 2, true, "listen SOCKET [BACKLOG]", { "SOCKET" } },
	[SC_V_CONNECT] = { 2, 3, true, "connect SOCKET ADDR [nonblock]", { "SOCKET", "ADDR" } },
	[SC_V_ACCEPT] = { 1, 1, true, "VAR = accept SOCKET", { "SOCKET" } },
	[SC_V_SEND] = { 2, 2, true, "send SOCKET \"DATA\"", { "SOCKET", "\"DATA\"" } },
	[SC_V_SENDTO] = { 3, 3, true, "sendto SOCKET ADDR \"DATA\"", { "SOCKET", "ADDR", "\"DATA\"" } },
	[SC_V_RECV] = { 1, 1, true, "recv SOCKET", { "SOCKET" } },
	[SC_V_RECVFROM] = { 1, 1, true, "recvfrom SOCKET", { "SOCKET" } },
	[SC_V_GETSOCKNAME] = { 1, 1, true, "getsockname SOCKET", { "SOCKET" } },
	[SC_V_GETPEERNAME] = { 1, 1, true, "getpeername SOCKET", { "SOCKET" } },
	[SC_V_SHUTDOWN] = { 2, 2, true, "shutdown SOCKET rd|wr|rdwr", { "SOCKET", "rd, wr or rdwr" } },
	[SC_V_CLOSE] = { 1, 1, true, "close SOCKET", { "SOCKET" } },
	[SC_V_FORK] = { 1, 1, false, "fork CHILD", { "CHILD" } },
	[SC_V_SENDFD] = { 2, 2, true, "sendfd SOCKET PROC", { "SOCKET", "PROC" } },
	[SC_V_EXIT] = { 0, 0, false, "exit", { "" } },
};

static bool is_global_keyword(const char *w, size_t n)
{
	static const char *const kw[] = { "host", "addr", "link", "sysctl", "proc", "sleep", "ls" };

	for (size_t i = 0; i < sizeof(kw) / sizeof(kw[0]); i++)
		if (strlen(kw[i]) == n && memcmp(kw[i], w, n) == 0)
			return true;
	return false;
}

static int op_setsockopt(struct pstate *ps, const sc_tok *a, sc_stmt *st, bool set)
{
	int o;
	sc_optval v;

	if (need_word(ps, &a[1], "an option name") != 0)
		return -EINVAL;
	o = sc_opt_lookup(ttext(ps, &a[1]), a[1].len);
	if (o < 0)
		return perr(ps, a[1].col, "unknown socket option '%.*s'", tshow_len(&a[1]),
			    ttext(ps, &a[1]));
	st->u.opt.opt = (sc_opt)o;
	if (!set)
		return 0;
	memset(&v, 0, sizeof(v));
	switch ((sc_opt)o) {
	case SC_SO_ERROR:
		return perr(ps, a[1].col, "SO_ERROR is read-only (use getsockopt)");
	case SC_SO_BINDTODEVICE:
		if (a[2].kind == SC_T_STRING) {
			const char *nm = (const char *)ps->line->sbuf + a[2].soff;

			if (a[2].slen > 0 && check_ifname(ps, nm, a[2].slen, a[2].col + 1) != 0)
				return -EINVAL;
			memcpy(v.str, nm, a[2].slen);
		} else {
			if (need_word(ps, &a[2], "an interface name or \"\"") != 0 ||
			    check_ifname(ps, ttext(ps, &a[2]), a[2].len, a[2].col) != 0)
				return -EINVAL;
			memcpy(v.str, ttext(ps, &a[2]), a[2].len);
		}
		break;
	case SC_SO_LINGER:
		if (need_word(ps, &a[2], "ON,SECONDS") != 0 ||
		    parse_pair(ps, ttext(ps, &a[2]), a[2].len, a[2].col, INT32_MIN, INT32_MAX,
			       "SO_LINGER value", &v.i, &v.i2) != 0)
			return -EINVAL;
		break;
	case SC_IP_LOCAL_PORT_RANGE:
		if (need_word(ps, &a[2], "LO,HI") != 0 ||
		    parse_pair(ps, ttext(ps, &a[2]), a[2].len, a[2].col, 0, 65535, "port", &v.i,
			       &v.i2) != 0)
			return -EINVAL;
		break;
	default:
		if (need_word(ps, &a[2], "a number") != 0 ||
		    parse_int(ps, ttext(ps, &a[2]), a[2].len, a[2].col, INT32_MIN, INT32_MAX,
			      "option value", &v.i) != 0)
			return -EINVAL;
		break;
	}
	st->u.opt.val = sc_arena_memdup(ps->s->arena, &v, sizeof(v));
	if (st->u.opt.val == NULL)
		return nomem(ps);
	return 0;
}

static int op_addr_arg(struct pstate *ps, const sc_tok *t, sc_stmt *st)
{
	sc_addrpat p;
	sc_sockaddr *sa;

	if (need_word(ps, t, "an address ADDR:PORT") != 0)
		return -EINVAL;
	if (parse_sockaddr(ps, ttext(ps, t), t->len, t->col, false, &p) != 0)
		return -EINVAL;
	sa = sc_arena_memdup(ps->s->arena, &p.sa, sizeof(p.sa));
	if (sa == NULL)
		return nomem(ps);
	st->u.io.addr = sa;
	return 0;
}

static int op_data_arg(struct pstate *ps, const sc_tok *t, sc_stmt *st)
{
	if (t->kind != SC_T_STRING)
		return perr(ps, t->col, "expected a string \"DATA\", got '%.*s'", tshow_len(t),
			    ttext(ps, t));
	st->u.io.len = t->slen;
	st->u.io.data = copy_data(ps, t);
	return ps->nomem ? -ENOMEM : 0;
}

/* fork CHILD: the child gets every open variable of the parent. */
static int op_fork(struct pstate *ps, const sc_tok *t, sc_stmt *st)
{
	const char *w = ttext(ps, t);
	sc_proc *parent;
	uint32_t sym;
	int32_t child, p, *pairs;
	uint32_t k = 0;

	if (need_word(ps, t, "a child process name") != 0 ||
	    check_ident(ps, w, t->len, t->col, "process") != 0)
		return -EINVAL;
	if (intern(ps, w, t->len, &sym) != 0)
		return -ENOMEM;
	p = sc_imap_get(&ps->proc_of, sym);
	if (p >= 0)
		return perr(ps, t->col, "process '%.*s' already exists (declared at line %u)",
			    (int)t->len, w, ps->s->procs[p].loc.line);
	if (ps->s->nprocs >= SC_MAX_PROCS)
		return perr(ps, t->col, "too many processes (at most %d, counting fork children)",
			    SC_MAX_PROCS);
	parent = &ps->s->procs[st->proc];
	uint32_t nofile = parent->nofile; /* (add_proc may move procs[]) */
	if (add_proc(ps, sym, parent->host, parent->uid, parent->caps, st->proc,
		     (sc_loc){ ps->lineno, t->col + 1 }, &child) != 0)
		return -ENOMEM;
	ps->s->procs[child].nofile = nofile;
	pairs = sc_arena_alloc(ps->s->arena, 2 * (size_t)ps->pp[st->proc].nopen * sizeof(*pairs) + 1);
	if (pairs == NULL)
		return nomem(ps);
	for (int32_t sl = ps->pp[st->proc].open_head; sl >= 0; sl = ps->psl[sl].next) {
		int32_t cs = slot_open(ps, child, ps->psl[sl].sym, t->col);

		if (cs < 0)
			return -EINVAL;
		pairs[2 * k] = sl;
		pairs[2 * k + 1] = cs;
		k++;
	}
	st->u.fork.child = child;
	st->u.fork.pairs = pairs;
	st->u.fork.npairs = k;
	return 0;
}

static int op_sendfd(struct pstate *ps, const sc_tok *t, sc_stmt *st)
{
	int32_t to, slot;
	uint32_t sym = ps->psl[st->sock].sym;

	if (need_word(ps, t, "a process name") != 0 ||
	    resolve_proc(ps, ttext(ps, t), t->len, t->col, &to) != 0)
		return -EINVAL;
	if (to == st->proc)
		return perr(ps, t->col, "sendfd to itself: '%s' already holds '%s'",
			    ps->s->procs[to].name, ps->s->slots[st->sock].name);
	slot = slot_lookup(ps, to, sym);
	if (slot >= 0 && ps->psl[slot].open)
		return perr(ps, t->col, "process '%s' already has an open socket '%s' (line %u); close it first",
			    ps->s->procs[to].name, ps->s->slots[st->sock].name, ps->psl[slot].line);
	slot = slot_open(ps, to, sym, t->col);
	if (slot < 0)
		return -EINVAL;
	st->u.sendfd.to = to;
	st->u.sendfd.to_slot = slot;
	return 0;
}

/*
 * `PROC: [VAR =] VERB ARGS...`.  t[0..n) are the code tokens with the
 * `PROC:` prefix already removed; `arrow` the `=>` (or NULL) with the
 * expectation tokens e[0..ne).
 */
static int st_op(struct pstate *ps, const sc_tok *t, uint32_t n, const sc_tok *arrow,
		 const sc_tok *e, uint32_t ne, sc_stmt *st, uint32_t after_col)
{
	const sc_tok *var = NULL, *vt, *a;
	const struct verb_form *f;
	uint32_t na, var_sym = 0;
	int v, rc;
	bool bind_var = false;

	if (n == 0)
		return perr(ps, after_col, "missing verb after '%s:'", ps->s->procs[st->proc].name);
	if (n >= 2 && t[1].kind == SC_T_EQ) {
		var = &t[0];
		if (need_word(ps, var, "a variable name") != 0 ||
		    check_ident(ps, ttext(ps, var), var->len, var->col, "variable") != 0)
			return -EINVAL;
		if (intern(ps, ttext(ps, var), var->len, &var_sym) != 0)
			return -ENOMEM;
		if (n == 2)
			return perr(ps, t[1].col + 2, "missing verb after '='");
		vt = &t[2];
		a = &t[3];
		na = n - 3;
	} else {
		vt = &t[0];
		a = &t[1];
		na = n - 1;
	}
	if (vt->kind != SC_T_WORD)
		return perr(ps, vt->col, "expected a verb, got %s", tkind_word(vt->kind));
	v = sc_verb_lookup(ttext(ps, vt), vt->len);
	if (v < 0) {
		if (is_global_keyword(ttext(ps, vt), vt->len))
			return perr(ps, vt->col, "'%.*s' is a statement of its own, not a verb: write it without '%s:'",
				    (int)vt->len, ttext(ps, vt), ps->s->procs[st->proc].name);
		return perr(ps, vt->col, "unknown verb '%.*s'", tshow_len(vt), ttext(ps, vt));
	}
	st->verb = (sc_verb)v;
	st->verb_col = (uint16_t)vt->col;
	st->args_col = (uint16_t)(na > 0 ? a[0].col : vt->col + vt->len);
	f = &forms[v];

	if (var != NULL && v != SC_V_SOCKET && v != SC_V_ACCEPT)
		return perr(ps, var->col, "%s does not create a socket: remove '%.*s ='",
			    sc_verb_name((sc_verb)v), (int)var->len, ttext(ps, var));
	if (var == NULL && (v == SC_V_SOCKET || v == SC_V_ACCEPT))
		return perr(ps, vt->col, "%s creates a socket: write '%s'", sc_verb_name((sc_verb)v),
			    f->usage);
	bind_var = var != NULL;

	rc = check_arity(ps, a, na, f->min, f->max, f->usage, f->names, vt->col + vt->len);
	if (rc == 0 && f->sock)
		rc = resolve_var(ps, st->proc, &a[0], &st->sock);
	if (rc != 0)
		goto out;

	switch (st->verb) {
	case SC_V_SOCKET: {
		int k;

		if ((rc = need_word(ps, &a[0], "a socket kind")) != 0)
			break;
		k = sc_kind_lookup(ttext(ps, &a[0]), a[0].len);
		if (k < 0)
			rc = perr(ps, a[0].col, "unknown socket kind '%.*s' (tcp4, tcp6, udp4, udp6)",
				  tshow_len(&a[0]), ttext(ps, &a[0]));
		else
			st->u.kind = (sc_kind)k;
		break;
	}
	case SC_V_SETSOCKOPT:
		rc = op_setsockopt(ps, a, st, true);
		break;
	case SC_V_GETSOCKOPT:
		rc = op_setsockopt(ps, a, st, false);
		break;
	case SC_V_BIND:
		rc = op_addr_arg(ps, &a[1], st);
		break;
	case SC_V_CONNECT:
		rc = op_addr_arg(ps, &a[1], st);
		if (rc == 0 && na == 3) {
			if (!tok_is(ps, &a[2], "nonblock"))
				rc = perr(ps, a[2].col, "expected 'nonblock', got '%.*s'", tshow_len(&a[2]),
					  ttext(ps, &a[2]));
			st->u.io.nonblock = true;
		}
		break;
	case SC_V_LISTEN: {
		int64_t b = 128;

		if (na == 2 && ((rc = need_word(ps, &a[1], "a backlog")) != 0 ||
				(rc = parse_int(ps, ttext(ps, &a[1]), a[1].len, a[1].col, INT32_MIN,
						INT32_MAX, "backlog", &b)) != 0))
			break;
		st->u.backlog = (int)b;
		break;
	}
	case SC_V_SEND:
		rc = op_data_arg(ps, &a[1], st);
		break;
	case SC_V_SENDTO:
		rc = op_addr_arg(ps, &a[1], st);
		if (rc == 0)
			rc = op_data_arg(ps, &a[2], st);
		break;
	case SC_V_SHUTDOWN: {
		int h = a[1].kind == SC_T_WORD ? sc_shut_lookup(ttext(ps, &a[1]), a[1].len) : -1;

		if (h < 0)
			rc = perr(ps, a[1].col, "expected rd, wr or rdwr, got '%.*s'", tshow_len(&a[1]),
				  ttext(ps, &a[1]));
		else
			st->u.shut = (sc_shut)h;
		break;
	}
	case SC_V_FORK:
		rc = op_fork(ps, &a[0], st);
		break;
	case SC_V_SENDFD:
		rc = op_sendfd(ps, &a[1], st);
		break;
	default:
		break;
	}
	if (rc == 0 && arrow != NULL)
		rc = parse_expect(ps, e, ne, arrow, st->verb,
				  st->verb == SC_V_GETSOCKOPT ? st->u.opt.opt : SC_SO_REUSEADDR,
				  &st->expect);
	if (rc != 0)
		goto out;

	/* Effects on the static state. */
	if (st->verb == SC_V_CLOSE)
		slot_close(ps, st->sock);
	if (st->verb == SC_V_EXIT) {
		struct pproc *pp = &ps->pp[st->proc];

		while (pp->open_head >= 0)
			slot_close(ps, pp->open_head);
		pp->exited = true;
		pp->exit_line = ps->lineno;
	}
out:
	if (bind_var && !ps->nomem) {
		int32_t slot = slot_lookup(ps, st->proc, var_sym);

		if (slot >= 0 && ps->psl[slot].open) {
			if (rc == 0)
				rc = perr(ps, var->col,
					  "'%.*s' is still open (bound at line %u); close it before binding the name again",
					  (int)var->len, ttext(ps, var), ps->psl[slot].line);
			else
				return rc;
		} else {
			slot = slot_open(ps, st->proc, var_sym, var->col);
			if (slot < 0 && rc == 0)
				rc = -EINVAL;
		}
		st->var = slot;
	}
	return rc;
}

/* ---- lines ---------------------------------------------------------------- */

static int push_stmt(struct pstate *ps, const sc_stmt *st)
{
	sc_script *s = ps->s;

	if (grow((void **)&s->stmts, &ps->stmts_cap, s->nstmts + 1, sizeof(*s->stmts)) != 0)
		return nomem(ps);
	s->stmts[s->nstmts++] = *st;
	return 0;
}

static void statement(struct pstate *ps)
{
	sc_line *l = ps->line;
	sc_tok *t = l->toks;
	uint32_t n = l->ntok, nc, ne = 0;
	const sc_tok *arrow = NULL, *e = NULL;
	sc_stmt st;
	int rc = 0;

	if (ps->s->nstmts >= SC_MAX_STMTS) {
		perr(ps, t[0].col, "too many statements (at most %d)", SC_MAX_STMTS);
		ps->stop = true;
		return;
	}
	for (nc = 0; nc < n && t[nc].kind != SC_T_ARROW; nc++)
		;
	if (nc < n) {
		arrow = &t[nc];
		e = &t[nc + 1];
		ne = n - nc - 1;
		for (uint32_t i = 0; i < ne; i++)
			if (e[i].kind == SC_T_ARROW) {
				perr(ps, e[i].col, "a second '=>' on one line");
				return;
			}
	}
	if (nc == 0) {
		perr(ps, t[0].col, "'=>' without a statement before it");
		return;
	}

	memset(&st, 0, sizeof(st));
	st.loc = (sc_loc){ ps->lineno, t[0].col + 1 };
	st.proc = st.host = st.var = st.sock = -1;
	st.line_off = ps->line_off;
	st.text_col = (uint16_t)t[0].col;
	st.text_len = t[nc - 1].col + t[nc - 1].len - t[0].col;
	if (l->comment_col >= 0) {
		size_t cl = l->len - (size_t)l->comment_col;

		while (cl > 0 && (l->text[l->comment_col + (int)cl - 1] == ' ' ||
				  l->text[l->comment_col + (int)cl - 1] == '\t'))
			cl--;
		st.comment_col = (uint16_t)l->comment_col;
		st.comment_len = (uint16_t)cl;
	}

	if (t[0].kind != SC_T_WORD) {
		perr(ps, t[0].col, "expected a statement, got %s", tkind_word(t[0].kind));
		return;
	}
	{
		const char *w = ttext(ps, &t[0]);
		const char *colon = memchr(w, ':', t[0].len);

		if (colon != NULL) {
			/* PROC: ... */
			size_t pn = (size_t)(colon - w);
			uint32_t after = t[0].col + (uint32_t)pn + 1;
			const sc_tok *ct = t + 1;
			uint32_t cn = nc - 1;

			if (pn == 0) {
				perr(ps, t[0].col, "missing process name before ':'");
				return;
			}
			if (resolve_proc(ps, w, pn, t[0].col, &st.proc) != 0)
				return;
			if (pn + 1 < t[0].len) {
				/* `liz:bind ...`: the rest of the word is the first token. */
				t[0].col = after;
				t[0].len -= (uint32_t)pn + 1;
				ct = t;
				cn = nc;
			}
			st.kind = SC_S_OP;
			st.host = ps->s->procs[st.proc].host;
			rc = st_op(ps, ct, cn, arrow, e, ne, &st, after + 1);
		} else {
			static const struct {
				const char *kw;
				sc_skind kind;
				int (*fn)(struct pstate *, const sc_tok *, uint32_t, sc_stmt *);
			} world[] = {
				{ "host", SC_S_HOST, w_host }, { "addr", SC_S_ADDR, w_addr },
				{ "link", SC_S_LINK, w_link }, { "sysctl", SC_S_SYSCTL, w_sysctl },
				{ "proc", SC_S_PROC, w_proc }, { "sleep", SC_S_SLEEP, w_sleep },
				{ "ls", SC_S_LS, w_ls },
			};
			size_t k;

			for (k = 0; k < sizeof(world) / sizeof(world[0]); k++)
				if (tok_is(ps, &t[0], world[k].kw))
					break;
			if (k == sizeof(world) / sizeof(world[0])) {
				if (sc_verb_lookup(w, t[0].len) >= 0)
					perr(ps, t[0].col, "'%.*s' needs a process: write 'PROC: %.*s ...'",
					     (int)t[0].len, w, (int)t[0].len, w);
				else
					perr(ps, t[0].col,
					     "unknown statement '%.*s' (an operation is written 'PROC: VERB ...')",
					     tshow_len(&t[0]), w);
				return;
			}
			st.kind = world[k].kind;
			st.verb_col = (uint16_t)t[0].col;
			st.args_col = (uint16_t)(nc > 1 ? t[1].col : t[0].col + t[0].len);
			rc = world[k].fn(ps, t + 1, nc - 1, &st);
			if (rc == 0 && arrow != NULL) {
				if (st.kind == SC_S_LS)
					rc = perr(ps, arrow->col,
						  "ls is checked with '|' rows on the lines after it, not '=>'");
				else
					rc = perr(ps, arrow->col, "'%s' prints no result; remove '=> ...'",
						  world[k].kw);
			}
		}
	}
	if (rc != 0)
		return;
	if (push_stmt(ps, &st) != 0)
		return;
	if (st.kind == SC_S_LS)
		ps->ls_stmt = (int64_t)ps->s->nstmts - 1;
}

static void one_line(struct pstate *ps, const char *text, size_t len)
{
	sc_line *l = ps->line;

	if (sc_lex_line(l, text, len) != 0) {
		ls_block_end(ps);
		perr(ps, l->err_col, "%s", l->err);
		return;
	}
	if (l->ntok > 0 && l->toks[0].kind == SC_T_PIPE) {
		ls_row(ps);
		return;
	}
	if (ls_block_end(ps) != 0 || l->ntok == 0)
		return;
	statement(ps);
}

/* ---- driver ------------------------------------------------------------------- */

static void pstate_free(struct pstate *ps)
{
	sc_symtab_free(ps->syms);
	sc_imap_free(&ps->host_of);
	sc_imap_free(&ps->proc_of);
	sc_imap_free(&ps->slot_of);
	free(ps->pp);
	free(ps->psl);
	free(ps->rows);
	free(ps->line);
}

void sc_script_free(sc_script *s)
{
	if (s == NULL)
		return;
	free(s->file);
	free(s->src);
	free(s->stmts);
	free(s->hosts);
	free(s->procs);
	free(s->slots);
	sc_arena_free(s->arena);
	free(s);
}

/*
 * Parses `len` bytes at `buf`, a malloc'd block of at least len + 1 bytes
 * that the script takes over (freed on every path), so a file is held in
 * memory once.
 */
static int parse_owned(const char *file, char *buf, size_t len, sc_script **out, sc_diags *diags)
{
	struct pstate ps;
	sc_script *s;
	size_t off = 0;
	int32_t local;

	memset(diags, 0, sizeof(*diags));
	if (len > SC_MAX_FILE) {
		free(buf);
		diag_file(diags, "file is larger than %d bytes", SC_MAX_FILE);
		return -EINVAL;
	}
	memset(&ps, 0, sizeof(ps));
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		free(buf);
		diag_file(diags, "out of memory");
		return -ENOMEM;
	}
	s->src = buf;
	s->file = strdup(file ? file : "-");
	s->arena = sc_arena_new();
	ps.line = malloc(sizeof(*ps.line));
	if (s->file == NULL || s->arena == NULL || ps.line == NULL)
		goto enomem;
	s->src[len] = '\0';
	s->srclen = len;
	ps.s = s;
	ps.d = diags;
	ps.ls_stmt = -1;
	ps.syms = sc_symtab_new(s->arena);
	if (ps.syms == NULL || add_host(&ps, "local", 5, (sc_loc){ 0, 0 }, &local) != 0)
		goto enomem;

	while (off < len && !ps.stop) {
		const char *nl = memchr(s->src + off, '\n', len - off);
		size_t end = nl ? (size_t)(nl - s->src) : len;
		size_t l = end - off;

		ps.lineno++;
		ps.line_off = (uint32_t)off;
		if (l > 0 && s->src[off + l - 1] == '\r')
			l--; /* CRLF line ending */
		one_line(&ps, s->src + off, l);
		off = end + 1;
	}
	if (!ps.stop)
		ls_block_end(&ps);
	s->nlines = ps.lineno;
	if (ps.nomem)
		goto enomem;
	pstate_free(&ps);
	if (diags->n > 0) {
		sc_script_free(s);
		return -EINVAL;
	}
	*out = s;
	return 0;
enomem:
	pstate_free(&ps);
	sc_script_free(s);
	if (diags->n == 0)
		diag_file(diags, "out of memory");
	return -ENOMEM;
}

int sc_parse(const char *file, const char *src, size_t len, sc_script **out, sc_diags *diags)
{
	char *buf;

	memset(diags, 0, sizeof(*diags));
	if (len > SC_MAX_FILE) {
		diag_file(diags, "file is larger than %d bytes", SC_MAX_FILE);
		return -EINVAL;
	}
	buf = malloc(len + 1);
	if (buf == NULL) {
		diag_file(diags, "out of memory");
		return -ENOMEM;
	}
	if (len > 0)
		memcpy(buf, src, len);
	return parse_owned(file, buf, len, out, diags);
}

int sc_parse_file(const char *path, sc_script **out, sc_diags *diags)
{
	FILE *f;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	bool is_stdin = strcmp(path, "-") == 0;

	memset(diags, 0, sizeof(*diags));
	f = is_stdin ? stdin : fopen(path, "rb");
	if (f == NULL) {
		diag_file(diags, "cannot open: %s", strerror(errno));
		return -EINVAL;
	}
	for (;;) {
		size_t got;

		if (len == cap) {
			/* never more than one byte past the limit: enough to tell */
			size_t nc = cap ? cap * 2 : 65536;
			char *nb;

			if (nc > (size_t)SC_MAX_FILE + 1)
				nc = (size_t)SC_MAX_FILE + 1;
			if (cap > SC_MAX_FILE) {
				diag_file(diags, "file is larger than %d bytes", SC_MAX_FILE);
				free(buf);
				if (!is_stdin)
					fclose(f);
				return -EINVAL;
			}
			nb = realloc(buf, nc);
			if (nb == NULL) {
				free(buf);
				if (!is_stdin)
					fclose(f);
				diag_file(diags, "out of memory");
				return -ENOMEM;
			}
			buf = nb;
			cap = nc;
		}
		got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		diag_file(diags, "read error: %s", strerror(errno));
		free(buf);
		if (!is_stdin)
			fclose(f);
		return -EINVAL;
	}
	if (!is_stdin)
		fclose(f);
	{
		/* Exactly len + 1: the script keeps this block as its source. */
		char *nb = realloc(buf, len + 1);

		if (nb == NULL) {
			free(buf);
			diag_file(diags, "out of memory");
			return -ENOMEM;
		}
		buf = nb;
	}
	return parse_owned(path, buf, len, out, diags);
}
