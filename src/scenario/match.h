/*
 * src/scenario/match.h - does a result meet its expectation?
 *
 * Matching is structural, not textual: an expectation alternative and a
 * result are compared field by field, so a port written `*` matches any
 * port, and two spellings of one value (SO_ERROR's `0` and an integer 0)
 * cannot disagree.  A few deliberate loosenings, documented in
 * docs/scenarios.md:
 *   - `ok` also matches `ok ADDR` (accept succeeded, whoever the peer);
 *   - "DATA" also matches "DATA" from ADDR (recvfrom, sender unchecked);
 *   - an errno name matches both a failed call and SO_ERROR's value.
 *
 * `ls` rows are compared as a multiset: every expected row must match a
 * distinct actual row and no actual row may be left over.  Rows without a
 * wildcard are paired first by exact comparison; the rest by augmenting
 * paths (a bipartite matching), so the answer never depends on the order
 * the rows were written in.
 */
#ifndef SOCKTAB_SCENARIO_MATCH_H
#define SOCKTAB_SCENARIO_MATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "scenario/ast.h"

bool sc_addr_match(const sc_addrpat *p, const sc_sockaddr *a);
bool sc_alt_match(const sc_alt *alt, const sc_result *r);
/* True when the statement has no expectation or one alternative matches. */
bool sc_expect_match(const sc_expect *e, const sc_result *r);
bool sc_lsrow_match(const sc_lspat *p, const sc_lsrow *r);

/*
 * Pairs expected rows with actual rows.  On return pat_to_row[i] is the
 * row matched to pattern i or -1 (missing), row_used[j] says whether row j
 * was matched (else unexpected).  Returns true when every pattern and
 * every row is matched; -ENOMEM cannot happen (caller gives the arrays).
 */
bool sc_ls_match(const sc_lspat *pats, size_t npats, const sc_lsrow *rows, size_t nrows,
		 long *pat_to_row, bool *row_used);

#endif
