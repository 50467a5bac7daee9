/*
 * src/scenario/match.c - see match.h.
 */
#define _POSIX_C_SOURCE 200809L
#include "scenario/match.h"

#include <stdlib.h>
#include <string.h>

bool sc_addr_match(const sc_addrpat *p, const sc_sockaddr *a)
{
	if (p->sa.sa.family != a->sa.family)
		return false;
	if (!st_addr_equal(&p->sa.sa.addr, &a->sa.addr))
		return false;
	if (!p->any_port && p->sa.sa.port != a->sa.port)
		return false;
	return strncmp(p->sa.ifname, a->ifname, sizeof(a->ifname)) == 0;
}

static bool data_eq(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

bool sc_alt_match(const sc_alt *e, const sc_result *r)
{
	size_t rlen = r->data ? r->len : 0;

	switch (e->kind) {
	case SC_E_OK:
		return r->kind == SC_R_OK || r->kind == SC_R_OK_ADDR;
	case SC_E_OK_ADDR:
		return r->kind == SC_R_OK_ADDR && sc_addr_match(&e->addr, &r->addr);
	case SC_E_ERR:
		return (r->kind == SC_R_ERR || r->kind == SC_R_ERRNAME) && r->err == e->err;
	case SC_E_ADDR:
		return r->kind == SC_R_ADDR && sc_addr_match(&e->addr, &r->addr);
	case SC_E_DATA:
		if (r->kind == SC_R_STR)
			return data_eq(e->data, e->len, (const uint8_t *)r->str,
				       strnlen(r->str, sizeof(r->str)));
		return (r->kind == SC_R_DATA || r->kind == SC_R_DATA_FROM) &&
		       data_eq(e->data, e->len, r->data, rlen);
	case SC_E_DATA_FROM:
		return r->kind == SC_R_DATA_FROM && data_eq(e->data, e->len, r->data, rlen) &&
		       sc_addr_match(&e->addr, &r->addr);
	case SC_E_INT:
		if (r->kind == SC_R_ERRNAME)
			return r->err == 0 && e->i == 0;
		return r->kind == SC_R_INT && r->ival == e->i;
	case SC_E_LINGER:
		return r->kind == SC_R_LINGER && r->ival == e->i && r->ival2 == e->i2;
	}
	return false;
}

bool sc_expect_match(const sc_expect *e, const sc_result *r)
{
	if (e->nalts == 0)
		return true;
	for (uint32_t i = 0; i < e->nalts; i++)
		if (sc_alt_match(&e->alts[i], r))
			return true;
	return false;
}

bool sc_lsrow_match(const sc_lspat *p, const sc_lsrow *r)
{
	const char *owners = r->owners && r->owners[0] ? r->owners : "-";

	if (p->kind != r->kind || strncmp(p->state, r->state, sizeof(r->state)) != 0)
		return false;
	if (!sc_addr_match(&p->local, &r->local))
		return false;
	if (p->has_peer != (r->peer.sa.family != 0))
		return false;
	if (p->has_peer && !sc_addr_match(&p->peer, &r->peer))
		return false;
	return strncmp(p->owners, owners, sizeof(p->owners)) == 0;
}

/* Kuhn's augmenting path from pattern i; seen[] marks rows on this walk. */
static bool augment(const sc_lspat *pats, const sc_lsrow *rows, size_t nrows, size_t i,
		    long *pat_to_row, long *row_to_pat, bool *seen)
{
	for (size_t j = 0; j < nrows; j++) {
		if (seen[j] || !sc_lsrow_match(&pats[i], &rows[j]))
			continue;
		seen[j] = true;
		if (row_to_pat[j] < 0 ||
		    augment(pats, rows, nrows, (size_t)row_to_pat[j], pat_to_row, row_to_pat, seen)) {
			row_to_pat[j] = (long)i;
			pat_to_row[i] = (long)j;
			return true;
		}
	}
	return false;
}

static bool has_wildcard(const sc_lspat *p)
{
	return p->local.any_port || (p->has_peer && p->peer.any_port);
}

bool sc_ls_match(const sc_lspat *pats, size_t npats, const sc_lsrow *rows, size_t nrows,
		 long *pat_to_row, bool *row_used)
{
	long *row_to_pat = malloc((nrows + 1) * sizeof(*row_to_pat));
	bool *seen = malloc(nrows + 1);
	bool all = true;

	for (size_t i = 0; i < npats; i++)
		pat_to_row[i] = -1;
	for (size_t j = 0; j < nrows; j++)
		row_used[j] = false;
	if (row_to_pat == NULL || seen == NULL) {
		/* Without memory for the matching, fall back to greedy pairing:
		 * still sound (a reported match is a real one), maybe not maximal. */
		for (size_t i = 0; i < npats; i++)
			for (size_t j = 0; j < nrows; j++)
				if (!row_used[j] && sc_lsrow_match(&pats[i], &rows[j])) {
					row_used[j] = true;
					pat_to_row[i] = (long)j;
					break;
				}
	} else {
		for (size_t j = 0; j < nrows; j++)
			row_to_pat[j] = -1;
		/* Exact patterns first: a row they match is matched by nothing else
		 * more specific, so taking it greedily is safe for them. */
		for (size_t i = 0; i < npats; i++) {
			if (has_wildcard(&pats[i]))
				continue;
			for (size_t j = 0; j < nrows; j++)
				if (row_to_pat[j] < 0 && sc_lsrow_match(&pats[i], &rows[j])) {
					row_to_pat[j] = (long)i;
					pat_to_row[i] = (long)j;
					break;
				}
		}
		for (size_t i = 0; i < npats; i++) {
			if (pat_to_row[i] >= 0)
				continue;
			memset(seen, 0, nrows + 1);
			augment(pats, rows, nrows, i, pat_to_row, row_to_pat, seen);
		}
		for (size_t j = 0; j < nrows; j++)
			row_used[j] = row_to_pat[j] >= 0;
	}
	free(row_to_pat);
	free(seen);
	for (size_t i = 0; i < npats; i++)
		all = all && pat_to_row[i] >= 0;
	for (size_t j = 0; j < nrows; j++)
		all = all && row_used[j];
	return all;
}
