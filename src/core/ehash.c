/*
 * ehash.c - the 4-tuple table ("established" table).
 *
 * This is the hottest structure: every TCP segment and every datagram to
 * a connected UDP socket is looked up here first (D-T1, D-U1).  The aim is
 * one cache line of index per lookup, so the table is an array of 64-byte
 * lines, each holding four {64-bit tag, socket pointer} slots.  The tag is
 * the keyed hash of the 4-tuple (never 0: 0 marks an empty slot); a probe
 * starts at the first slot of line (tag & mask) and walks forward slot by
 * slot.  With the load kept at or under 3/4, a probe almost always ends in
 * its first line; the socket record is only touched when a 64-bit tag
 * matches, to confirm the tuple.
 *
 * Deletion uses backward shifting (no tombstones), so probe runs never
 * grow with churn.  Duplicated 4-tuples are allowed because Linux allows
 * them (UDP sockets may share a 4-tuple, TCP sockets may when bound to
 * different devices); a lookup visits all of them and lets the caller
 * choose (newest first for UDP, device match for both).
 */
#include "net_internal.h"

#include <stdlib.h>

enum { SLOTS_PER_LINE = 4 };

static size_t nslots(const st_ehash *e)
{
	return e->nlines * SLOTS_PER_LINE;
}

static st_eslot *alloc_slots(size_t nlines)
{
	size_t bytes = nlines * SLOTS_PER_LINE * sizeof(st_eslot);
	void *p = NULL;
	/* Failure injection sees this allocation through st_malloc first. */
	void *probe = st_malloc(1);
	if (!probe)
		return NULL;
	st_free(probe);
	if (posix_memalign(&p, 64, bytes) != 0)
		return NULL;
	memset(p, 0, bytes);
	return p;
}

int st_ehash_init(st_ehash *e, st_sipkey key)
{
	e->nlines = 16;
	e->count = 0;
	e->key = key;
	e->s = alloc_slots(e->nlines);
	return e->s ? 0 : -ENOMEM;
}

void st_ehash_destroy(st_ehash *e)
{
	free(e->s);
	e->s = NULL;
}

uint64_t st_ehash_tag(const st_ehash *e, const st_addr *la, uint16_t lp, const st_addr *ra,
		      uint16_t rp)
{
	/* st_mixhash over (la, ra, ports) written out for the hottest call
	 * of the library: three independent multiplies and one fold. */
	uint64_t l0, l1, r0, r1;
	memcpy(&l0, la->b, 8);
	memcpy(&l1, la->b + 8, 8);
	memcpy(&r0, ra->b, 8);
	memcpy(&r1, ra->b + 8, 8);
	uint64_t ports = (uint64_t)lp | ((uint64_t)rp << 16);
	uint64_t acc = st_mum(l0 ^ st_mixkey(&e->key, 0), l1 ^ st_mixkey(&e->key, 1)) ^
		       st_mum(r0 ^ st_mixkey(&e->key, 2), r1 ^ st_mixkey(&e->key, 3)) ^
		       st_mum(ports ^ st_mixkey(&e->key, 4), st_mixkey(&e->key, 5));
	uint64_t h = st_mum(acc ^ st_mixkey(&e->key, 10), st_mixkey(&e->key, 11));
	return h ? h : 1;
}

static uint64_t sk_tag(const st_ehash *e, const st_sock *sk)
{
	return st_ehash_tag(e, &sk->laddr, sk->lport, &sk->raddr, sk->rport);
}

static size_t home(const st_ehash *e, uint64_t tag)
{
	return (size_t)(tag & (e->nlines - 1)) * SLOTS_PER_LINE;
}

static void put(st_eslot *s, size_t n, size_t mask_lines, uint64_t tag, st_sock *sk)
{
	size_t i = (size_t)(tag & mask_lines) * SLOTS_PER_LINE;
	while (s[i].tag)
		i = (i + 1) & (n - 1);
	s[i].tag = tag;
	s[i].sk = sk;
}

int st_ehash_reserve(st_ehash *e)
{
	if ((e->count + 1) * 4 <= nslots(e) * 3)
		return 0;
	size_t nl = e->nlines * 2;
	st_eslot *s = alloc_slots(nl);
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < nslots(e); i++)
		if (e->s[i].tag)
			put(s, nl * SLOTS_PER_LINE, nl - 1, e->s[i].tag, e->s[i].sk);
	free(e->s);
	e->s = s;
	e->nlines = nl;
	return 0;
}

void st_ehash_insert(st_ehash *e, st_sock *sk)
{
	put(e->s, nslots(e), e->nlines - 1, sk_tag(e, sk), sk);
	e->count++;
}

void st_ehash_remove(st_ehash *e, st_sock *sk)
{
	size_t n = nslots(e);
	uint64_t tag = sk_tag(e, sk);
	size_t i = home(e, tag);
	while (e->s[i].tag && e->s[i].sk != sk)
		i = (i + 1) & (n - 1);
	if (!e->s[i].tag)
		return;
	/* Backward shift: pull later entries of the run into the hole when
	 * their home position allows it. */
	size_t hole = i;
	size_t j = (i + 1) & (n - 1);
	while (e->s[j].tag) {
		size_t h = home(e, e->s[j].tag);
		/* Can entry j move to hole?  Yes if h is cyclically outside
		 * (hole, j]. */
		bool movable = (hole <= j) ? (h <= hole || h > j) : (h <= hole && h > j);
		if (movable) {
			e->s[hole] = e->s[j];
			hole = j;
		}
		j = (j + 1) & (n - 1);
	}
	e->s[hole].tag = 0;
	e->s[hole].sk = NULL;
	e->count--;
}

st_sock *st_ehash_find(const st_ehash *e, uint64_t tag, const st_addr *la, uint16_t lp,
		       const st_addr *ra, uint16_t rp, bool (*fn)(st_sock *, void *), void *ctx)
{
	size_t n = nslots(e);
	size_t i = home(e, tag);
	for (; e->s[i].tag; i = (i + 1) & (n - 1)) {
		if (e->s[i].tag != tag)
			continue;
		st_sock *sk = e->s[i].sk;
		if (sk->lport != lp || sk->rport != rp || !st_addr_equal(&sk->laddr, la) ||
		    !st_addr_equal(&sk->raddr, ra))
			continue;
		if (!fn || fn(sk, ctx))
			return sk;
	}
	return NULL;
}
