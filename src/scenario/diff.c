/*
 * src/scenario/diff.c - statement-by-statement comparison of two runs.
 *
 * See diff.h for the two normalizations and why there are only two.  The
 * port pairing is built while comparing: a comparison proposes pairings
 * into a pending list, checks them against the committed ones and against
 * each other, and commits them only if the whole outcome agrees -- so a
 * mismatch never leaves a half-made pairing behind to excuse a later one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario/diff.h"
#include "scenario/match.h"
#include "scenario/print.h"

enum { DEFAULT_LO = 32768, DEFAULT_HI = 60999 };

static void widen(sc_portmap *pm, long lo, long hi)
{
	if (lo < 1 || hi > 65535 || lo > hi)
		return;
	if (lo < pm->range_lo)
		pm->range_lo = (uint16_t)lo;
	if (hi > pm->range_hi)
		pm->range_hi = (uint16_t)hi;
}

void sc_portmap_free(sc_portmap *pm)
{
	free(pm->slot_tcp);
	pm->slot_tcp = NULL;
}

int sc_portmap_init(sc_portmap *pm, const sc_script *s)
{
	memset(pm, 0, sizeof(*pm));
	pm->nslots = s->nslots;
	pm->slot_tcp = malloc(s->nslots ? s->nslots : 1);
	if (!pm->slot_tcp)
		return -1;
	memset(pm->slot_tcp, -1, s->nslots ? s->nslots : 1);
	pm->range_lo = DEFAULT_LO;
	pm->range_hi = DEFAULT_HI;
	for (size_t i = 0; i < s->nstmts; i++) {
		const sc_stmt *st = &s->stmts[i];
		if (st->kind == SC_S_SYSCTL && st->u.sysctl &&
		    strcmp(st->u.sysctl->key, "net.ipv4.ip_local_port_range") == 0 &&
		    st->u.sysctl->nvalues == 2) {
			widen(pm, strtol(st->u.sysctl->values[0], NULL, 10),
			      strtol(st->u.sysctl->values[1], NULL, 10));
			continue;
		}
		if (st->kind != SC_S_OP)
			continue;
		int8_t *k = pm->slot_tcp;
		switch (st->verb) {
		case SC_V_SOCKET:
			if (st->var >= 0)
				k[st->var] = st->u.kind == SC_TCP4 || st->u.kind == SC_TCP6;
			break;
		case SC_V_ACCEPT:
			if (st->var >= 0)
				k[st->var] = 1;
			break;
		case SC_V_FORK:
			for (uint32_t j = 0; j < st->u.fork.npairs; j++)
				k[st->u.fork.pairs[2 * j + 1]] = k[st->u.fork.pairs[2 * j]];
			break;
		case SC_V_SENDFD:
			if (st->sock >= 0 && st->u.sendfd.to_slot >= 0)
				k[st->u.sendfd.to_slot] = k[st->sock];
			break;
		default:
			break;
		}
		switch (st->verb) {
		case SC_V_SETSOCKOPT:
			if (st->u.opt.opt == SC_IP_LOCAL_PORT_RANGE && st->u.opt.val)
				widen(pm, (long)st->u.opt.val->i, (long)st->u.opt.val->i2);
			break;
		default:
			break;
		}
	}
	return 0;
}

typedef struct pending {
	uint16_t m[64], k[64];
	bool t[64];      /* the pairing is in the TCP port space */
	int n;
	bool overflow;
	bool tcp;        /* the ports being compared are TCP ports */
} pending;

/* May model port pm_ appear where the kernel shows pk? */
static bool port_ok(const sc_portmap *pm, pending *p, uint16_t a, uint16_t b)
{
	int sp = p->tcp;
	uint32_t mk = pm->m2k[sp][a], km = pm->k2m[sp][b];
	if (mk || km)
		return mk == (uint32_t)b + 1 && km == (uint32_t)a + 1;
	for (int i = 0; i < p->n; i++) {
		if (p->t[i] != p->tcp)
			continue;
		if (p->m[i] == a || p->k[i] == b)
			return p->m[i] == a && p->k[i] == b;
	}
	if (a != b) {
		/* A written port inside the range may be one the system chose
		 * too; outside the range the range test already refuses it. */
		if (a == 0 || b == 0)
			return false;
		if (a < pm->range_lo || a > pm->range_hi || b < pm->range_lo || b > pm->range_hi)
			return false;
		if (p->tcp && ((a ^ b) & 1))
			return false;
	}
	if (p->n == 64) {
		p->overflow = true;
		return true;   /* checked again when rows are matched one by one */
	}
	p->m[p->n] = a;
	p->k[p->n] = b;
	p->t[p->n] = p->tcp;
	p->n++;
	return true;
}

static void commit(sc_portmap *pm, const pending *p)
{
	for (int i = 0; i < p->n; i++) {
		int sp = p->t[i];
		if (!pm->m2k[sp][p->m[i]]) {
			pm->m2k[sp][p->m[i]] = (uint32_t)p->k[i] + 1;
			pm->k2m[sp][p->k[i]] = (uint32_t)p->m[i] + 1;
			if (p->m[i] != p->k[i])
				pm->pairs++;
		}
	}
}

static bool addr_ok(const sc_portmap *pm, pending *p, const sc_sockaddr *a, const sc_sockaddr *b)
{
	if (a->sa.family != b->sa.family)
		return false;
	if (a->sa.family == 0)
		return true;
	if (memcmp(&a->sa.addr, &b->sa.addr, sizeof(a->sa.addr)) != 0)
		return false;
	if (strcmp(a->ifname, b->ifname) != 0)
		return false;
	return port_ok(pm, p, a->sa.port, b->sa.port);
}

static bool result_ok(const sc_portmap *pm, pending *p, const sc_result *a, const sc_result *b)
{
	if (a->kind != b->kind)
		return false;
	switch (a->kind) {
	case SC_R_OK:
		return true;
	case SC_R_ERR:
	case SC_R_ERRNAME:
		return a->err == b->err;
	case SC_R_OK_ADDR:
	case SC_R_ADDR:
		return addr_ok(pm, p, &a->addr, &b->addr);
	case SC_R_DATA_FROM:
		if (!addr_ok(pm, p, &a->addr, &b->addr))
			return false;
		/* fall through */
	case SC_R_DATA:
		return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
	case SC_R_INT:
		return a->ival == b->ival;
	case SC_R_LINGER:
		return a->ival == b->ival && a->ival2 == b->ival2;
	case SC_R_STR:
		return strcmp(a->str, b->str) == 0;
	}
	return false;
}

static bool row_ok(const sc_portmap *pm, pending *p, const sc_lsrow *a, const sc_lsrow *b)
{
	if (a->kind != b->kind || strcmp(a->state, b->state) != 0 || strcmp(a->owners, b->owners) != 0)
		return false;
	pending save = *p;
	p->tcp = a->kind == SC_TCP4 || a->kind == SC_TCP6;
	if (addr_ok(pm, p, &a->local, &b->local) && addr_ok(pm, p, &a->peer, &b->peer))
		return true;
	*p = save;
	return false;
}

static void fmt_row(char *buf, size_t len, const sc_lsrow *r)
{
	sc_buf f[5], line;
	memset(f, 0, sizeof(f));
	memset(&line, 0, sizeof(line));
	sc_fmt_lsrow_fields(r, f);
	for (int i = 0; i < 5; i++) {
		if (i)
			sc_buf_putc(&line, ' ');
		sc_buf_puts(&line, sc_buf_str(&f[i]));
		sc_buf_free(&f[i]);
	}
	snprintf(buf, len, "%s", sc_buf_str(&line));
	sc_buf_free(&line);
}

static bool rows_ok(const sc_portmap *pm, pending *p, const sc_outcome *a, const sc_outcome *b,
		    char *why, size_t whylen)
{
	if (a->nrows != b->nrows) {
		snprintf(why, whylen, "the model lists %zu sockets, the kernel %zu", a->nrows, b->nrows);
		return false;
	}
	bool *used = calloc(b->nrows ? b->nrows : 1, sizeof(bool));
	if (!used) {
		snprintf(why, whylen, "out of memory");
		return false;
	}
	bool ok = true;
	for (size_t i = 0; i < a->nrows && ok; i++) {
		bool found = false;
		for (size_t j = 0; j < b->nrows && !found; j++) {
			if (used[j])
				continue;
			if (row_ok(pm, p, &a->rows[i], &b->rows[j])) {
				used[j] = true;
				found = true;
			}
		}
		if (!found) {
			char r[400];
			fmt_row(r, sizeof(r), &a->rows[i]);
			snprintf(why, whylen, "the kernel has no socket like the model's \"%s\"", r);
			ok = false;
		}
	}
	free(used);
	return ok;
}

sc_cmp sc_outcome_compare(sc_portmap *pm, const sc_stmt *st, const sc_outcome *a,
			  const sc_outcome *b, char *why, size_t whylen)
{
	pending p;
	memset(&p, 0, sizeof(p));
	p.tcp = st && st->kind == SC_S_OP && st->sock >= 0 && (uint32_t)st->sock < pm->nslots &&
		pm->slot_tcp[st->sock] == 1;
	why[0] = 0;
	bool same;
	if (a->kind != b->kind) {
		snprintf(why, whylen, "the runs did different things");
		same = false;
	} else if (a->kind == SC_O_RESULT) {
		same = result_ok(pm, &p, &a->res, &b->res);
		if (!same)
			snprintf(why, whylen, "different results");
	} else if (a->kind == SC_O_LS) {
		same = rows_ok(pm, &p, a, b, why, whylen);
	} else if (a->kind == SC_O_FATAL) {
		same = strcmp(a->msg, b->msg) == 0;
	} else {
		same = true;
	}
	if (same && !p.overflow) {
		commit(pm, &p);
		return SC_CMP_SAME;
	}
	if (same && p.overflow) {
		/* Too many new pairings in one outcome to check at once:
		 * treat as a difference rather than guess. */
		snprintf(why, whylen, "too many new ports in one result to pair them");
	}
	if (st && st->expect.nalts >= 2 && sc_outcome_held(st, a) && sc_outcome_held(st, b))
		return SC_CMP_BY_EXPECT;
	return SC_CMP_DIFFER;
}
