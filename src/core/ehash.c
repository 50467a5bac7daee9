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
#include <sys/mman.h>

enum { SLOTS_PER_LINE = 4 };
#define HUGE_BYTES ((size_t)2 << 20)

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
	/* A large table is aligned to 2 MiB and offered to the kernel for
	 * transparent huge pages: a lookup that misses the cache should not
	 * miss the TLB as well (at 10M sockets the index is 256 MiB, 65,536
	 * small pages).  Advice only: without THP nothing changes. */
	size_t align = bytes >= HUGE_BYTES ? HUGE_BYTES : 64;
	if (posix_memalign(&p, align, bytes) != 0)
		return NULL;
#ifdef MADV_HUGEPAGE
	if (align == HUGE_BYTES)
		(void)madvise(p, bytes, MADV_HUGEPAGE);
#endif
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

static inline uint64_t tag_of(const st_ehash *e, const st_addr *la, uint16_t lp,
			      const st_addr *ra, uint16_t rp)
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

uint64_t st_ehash_tag(const st_ehash *e, const st_addr *la, uint16_t lp, const st_addr *ra,
		      uint16_t rp)
{
	return tag_of(e, la, lp, ra, rp);
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

/* ---- packet lookups: the hot path ------------------------------------ */

/* The 4-tuple of sk is (la, lp, ra, rp)?  Written out so that it compiles
 * to four compares, without a call. */
static inline bool tuple_is(const st_sock *sk, const st_addr *la, uint16_t lp, const st_addr *ra,
			    uint16_t rp)
{
	return sk->lport == lp && sk->rport == rp && memcmp(sk->laddr.b, la->b, 16) == 0 &&
	       memcmp(sk->raddr.b, ra->b, 16) == 0;
}

/* Stage one of the demux for a packet (daddr:dport is the local end): the
 * first socket in probe order with the packet's 4-tuple whose device is
 * none or the arrival device -- st_ehash_find with that test, inlined. */
static inline bool pkt_match(const st_sock *sk, const st_pkt *p)
{
	return tuple_is(sk, &p->daddr, p->dport, &p->saddr, p->sport) &&
	       (!sk->dev || sk->dev == p->ifindex);
}

static st_sock *lookup_from(const st_ehash *e, uint64_t tag, const st_pkt *p)
{
	size_t mask = nslots(e) - 1;
	for (size_t i = home(e, tag); e->s[i].tag; i = (i + 1) & mask)
		if (e->s[i].tag == tag && pkt_match(e->s[i].sk, p))
			return e->s[i].sk;
	return NULL;
}

st_sock *st_ehash_lookup_pkt(const st_ehash *e, const st_pkt *p)
{
	return lookup_from(e, tag_of(e, &p->daddr, p->dport, &p->saddr, p->sport), p);
}

/*
 * Batched lookups, software-pipelined so that a core keeps many memory
 * reads in flight instead of waiting for each: key i is hashed and its
 * index line prefetched; D keys later its line is scanned for the tag and
 * the socket record that carries it is prefetched; D keys later still the
 * record is compared with the packet.  With a table far larger than the
 * caches, a lookup costs two memory reads (line, record), and the pipeline
 * overlaps ~2D of them.  A tag absent from the probe run is a certain
 * miss; a candidate that does not match (a 64-bit tag collision, or a
 * socket bound to another device) falls back to the full probe, so the
 * answer is always st_ehash_lookup_pkt's.
 */
#ifndef PIPE_D
#define PIPE_D 12 /* keys between stages; -DPIPE_D=... tunes it for another memory */
#endif
enum { PIPE_RING = 64 };
_Static_assert(PIPE_RING > 2 * PIPE_D && (PIPE_RING & (PIPE_RING - 1)) == 0, "ring size");

void st_ehash_lookup_batch(const st_ehash *e, const st_pkt *const *p, size_t n, st_sock **out)
{
	uint64_t tags[PIPE_RING];
	st_sock *cand[PIPE_RING];
	size_t mask = nslots(e) - 1;
	for (size_t i = 0; i < n + 2 * PIPE_D; i++) {
		if (i < n) {
			const st_pkt *k = p[i];
			uint64_t t = tag_of(e, &k->daddr, k->dport, &k->saddr, k->sport);
			tags[i % PIPE_RING] = t;
			__builtin_prefetch(&e->s[home(e, t)]);
		}
		if (i >= PIPE_D && i - PIPE_D < n) {
			size_t j = i - PIPE_D;
			uint64_t t = tags[j % PIPE_RING];
			const st_eslot *l = &e->s[home(e, t)];
			/* The home line, without a branch per slot: which slots
			 * carry the tag, which are empty; a tag before the first
			 * empty slot is the candidate, an empty slot before any
			 * tag a certain miss.  A full line without the tag (rare
			 * below 3/4 load) continues slot by slot. */
			unsigned hit = (unsigned)(l[0].tag == t) | (unsigned)(l[1].tag == t) << 1 |
				       (unsigned)(l[2].tag == t) << 2 | (unsigned)(l[3].tag == t) << 3;
			unsigned emp = (unsigned)(l[0].tag == 0) | (unsigned)(l[1].tag == 0) << 1 |
				       (unsigned)(l[2].tag == 0) << 2 | (unsigned)(l[3].tag == 0) << 3;
			hit &= (emp & -emp) - 1u; /* slots before the first empty one */
			st_sock *c = NULL;
			if (hit) {
				c = l[__builtin_ctz(hit)].sk;
			} else if (!emp) {
				size_t x = (home(e, t) + SLOTS_PER_LINE) & mask;
				for (; e->s[x].tag; x = (x + 1) & mask)
					if (e->s[x].tag == t) {
						c = e->s[x].sk;
						break;
					}
			}
			if (c) {
				/* The tuple and the device: bytes 0..51. */
				__builtin_prefetch(c);
				__builtin_prefetch((const char *)c + 51);
			}
			cand[j % PIPE_RING] = c;
		}
		if (i >= 2 * PIPE_D) {
			size_t k = i - 2 * PIPE_D;
			st_sock *c = cand[k % PIPE_RING];
			if (c && !pkt_match(c, p[k]))
				c = lookup_from(e, tags[k % PIPE_RING], p[k]);
			out[k] = c;
		}
	}
}
