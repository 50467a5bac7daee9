/*
 * ehash.c - the 4-tuple table ("established" table).
 *
 * This is the hottest structure: every TCP segment and every datagram to
 * a connected UDP socket is looked up here first (D-T1, D-U1), and at ten
 * million sockets it is also the largest index.  So the table is an array
 * of 64-byte lines of eight 8-byte slots, each slot one word: the socket
 * pointer in the low 48 bits and 16 bits of the keyed 4-tuple hash above
 * it (0 = empty).  A probe starts at the first slot of line (hash & mask)
 * and walks forward slot by slot; with the load kept at or under 3/4 and
 * eight slots per line, a probe almost always ends in its home line, so a
 * lookup reads one index line and then only the record whose 16-bit tag
 * matches -- which it must read anyway, to confirm the tuple: a hash can
 * collide, the record cannot.  Eight bytes per slot (not a full 64-bit tag
 * beside the pointer) halve the index (at 10M sockets: 128 MiB, 13 bytes a
 * socket) and double the slots a line holds, which is what keeps probes in
 * one line.  The price is paid off the hot path: growing the table and
 * the backward shift of a deletion need an entry's home line, which the
 * slot no longer holds in full, so they rehash the record's tuple.
 *
 * Pointers must fit in 48 bits, as user-space addresses do on x86-64 and
 * arm64 unless a program asks mmap for more; st_ehash_reserve() refuses a
 * record beyond that with -EFAULT rather than store a truncated pointer.
 *
 * Deletion uses backward shifting (no tombstones), so probe runs never
 * grow with churn.  Duplicated 4-tuples are allowed because Linux allows
 * them (UDP sockets may share a 4-tuple, TCP sockets may when bound to
 * different devices); a lookup visits all of them and lets the caller
 * choose (newest first for UDP, device match for both).
 */
#include "net_internal.h"

#include <stdlib.h>

enum { SLOTS_PER_LINE = 8, PTR_BITS = 48 };
#define PTR_MASK ((UINT64_C(1) << PTR_BITS) - 1)
_Static_assert(SLOTS_PER_LINE * sizeof(st_eslot) == 64, "one slot line is one cache line");

static size_t nslots(const st_ehash *e)
{
	return e->nlines * SLOTS_PER_LINE;
}

/* The slot's 16 bits of the hash: the top ones, which the home line
 * (the low bits) never uses at any table size below 2^48 lines. */
static inline uint64_t slot_tag(uint64_t hash)
{
	return hash & ~PTR_MASK;
}

static inline st_sock *slot_sk(st_eslot v)
{
	return (st_sock *)(uintptr_t)(v & PTR_MASK);
}

static inline st_eslot slot_make(uint64_t hash, const st_sock *sk)
{
	return slot_tag(hash) | (uint64_t)(uintptr_t)sk;
}

static st_eslot *alloc_slots(size_t nlines)
{
	/* At 10M sockets the index is 128 MiB: huge pages (alloc.c). */
	return st_alloc_table(nlines * SLOTS_PER_LINE * sizeof(st_eslot), 1);
}

int st_ehash_init(st_ehash *e, st_sipkey key)
{
	e->nlines = 8;
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
	return st_mum(acc ^ st_mixkey(&e->key, 10), st_mixkey(&e->key, 11));
}

uint64_t st_ehash_tag(const st_ehash *e, const st_addr *la, uint16_t lp, const st_addr *ra,
		      uint16_t rp)
{
	return tag_of(e, la, lp, ra, rp);
}

static uint64_t sk_tag(const st_ehash *e, const st_sock *sk)
{
	return tag_of(e, &sk->laddr, sk->lport, &sk->raddr, sk->rport);
}

static size_t home(size_t nlines, uint64_t hash)
{
	return (size_t)(hash & (nlines - 1)) * SLOTS_PER_LINE;
}

static void put(st_eslot *s, size_t nlines, uint64_t hash, const st_sock *sk)
{
	size_t mask = nlines * SLOTS_PER_LINE - 1;
	size_t i = home(nlines, hash);
	while (s[i])
		i = (i + 1) & mask;
	s[i] = slot_make(hash, sk);
}

int st_ehash_reserve(st_ehash *e, const st_sock *sk)
{
	if (((uint64_t)(uintptr_t)sk & ~PTR_MASK) != 0)
		return -EFAULT;
	if ((e->count + 1) * 4 <= nslots(e) * 3)
		return 0;
	size_t nl = e->nlines * 2;
	st_eslot *s = alloc_slots(nl);
	if (!s)
		return -ENOMEM;
	/* The new home needs one more bit of each hash than the slot keeps:
	 * rehash every record, prefetching a few slots ahead so that the
	 * records' lines arrive together rather than one miss at a time. */
	size_t n = nslots(e);
	enum { AHEAD = 8 };
	for (size_t i = 0; i < n; i++) {
		if (i + AHEAD < n && e->s[i + AHEAD])
			__builtin_prefetch(slot_sk(e->s[i + AHEAD]));
		if (e->s[i]) {
			st_sock *o = slot_sk(e->s[i]);
			put(s, nl, sk_tag(e, o), o);
		}
	}
	free(e->s);
	e->s = s;
	e->nlines = nl;
	return 0;
}

void st_ehash_insert(st_ehash *e, st_sock *sk)
{
	put(e->s, e->nlines, sk_tag(e, sk), sk);
	e->count++;
}

void st_ehash_remove(st_ehash *e, st_sock *sk)
{
	size_t mask = nslots(e) - 1;
	size_t i = home(e->nlines, sk_tag(e, sk));
	while (e->s[i] && slot_sk(e->s[i]) != sk)
		i = (i + 1) & mask;
	if (!e->s[i])
		return;
	/* Backward shift: pull later entries of the run into the hole when
	 * their home position allows it (their home is recomputed from the
	 * record: a run is short, mostly within one line). */
	size_t hole = i;
	size_t j = (i + 1) & mask;
	while (e->s[j]) {
		size_t h = home(e->nlines, sk_tag(e, slot_sk(e->s[j])));
		/* Can entry j move to hole?  Yes if h is cyclically outside
		 * (hole, j]. */
		bool movable = (hole <= j) ? (h <= hole || h > j) : (h <= hole && h > j);
		if (movable) {
			e->s[hole] = e->s[j];
			hole = j;
		}
		j = (j + 1) & mask;
	}
	e->s[hole] = 0;
	e->count--;
}

st_sock *st_ehash_find(const st_ehash *e, uint64_t tag, const st_addr *la, uint16_t lp,
		       const st_addr *ra, uint16_t rp, bool (*fn)(st_sock *, void *), void *ctx)
{
	size_t mask = nslots(e) - 1;
	uint64_t t = slot_tag(tag);
	for (size_t i = home(e->nlines, tag); e->s[i]; i = (i + 1) & mask) {
		if ((e->s[i] & ~PTR_MASK) != t)
			continue;
		st_sock *sk = slot_sk(e->s[i]);
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
	uint64_t t = slot_tag(tag);
	for (size_t i = home(e->nlines, tag); e->s[i]; i = (i + 1) & mask)
		if ((e->s[i] & ~PTR_MASK) == t && pkt_match(slot_sk(e->s[i]), p))
			return slot_sk(e->s[i]);
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
 * caches, a hit costs two memory reads (line, record), a miss one, and
 * the pipeline overlaps ~2D of them.  A tag absent from the probe run is
 * a certain miss; a home line that is full without the tag gets its next
 * line prefetched and is resolved by the full probe at the last stage, as
 * is a candidate that does not match (a 16-bit tag collision, or a socket
 * bound to another device), so the answer is always
 * st_ehash_lookup_pkt's.
 */
#ifndef PIPE_D
#define PIPE_D 12 /* keys between stages; -DPIPE_D=... tunes it for another memory */
#endif
#define PIPE_ALL (2 * PIPE_D)
enum { PIPE_RING = PIPE_ALL < 64 ? 64 : PIPE_ALL < 128 ? 128 : 256 };
_Static_assert(PIPE_RING > PIPE_ALL && (PIPE_RING & (PIPE_RING - 1)) == 0, "ring size");
/* cand[] value: resolve by the full probe at the last stage. */
#define CAND_PROBE ((st_sock *)(uintptr_t)1)

/* An index this small stays in the caches, where the pipeline's
 * bookkeeping costs more than the misses it hides: one key at a time. */
enum { PIPE_MIN_LINES = 1024 }; /* 64 KiB of index */

void st_ehash_lookup_batch(const st_ehash *e, const st_pkt *const *p, size_t n, st_sock **out)
{
	if (e->nlines <= PIPE_MIN_LINES) {
		for (size_t i = 0; i < n; i++)
			out[i] = st_ehash_lookup_pkt(e, p[i]);
		return;
	}
	uint64_t tags[PIPE_RING];
	st_sock *cand[PIPE_RING];
	size_t mask = nslots(e) - 1;
	for (size_t i = 0; i < n + PIPE_ALL; i++) {
		if (i < n) {
			const st_pkt *k = p[i];
			uint64_t t = tag_of(e, &k->daddr, k->dport, &k->saddr, k->sport);
			tags[i % PIPE_RING] = t;
			__builtin_prefetch(&e->s[home(e->nlines, t)]);
		}
		if (i >= PIPE_D && i - PIPE_D < n) {
			size_t j = i - PIPE_D;
			uint64_t h = tags[j % PIPE_RING];
			uint64_t t = slot_tag(h);
			const st_eslot *l = &e->s[home(e->nlines, h)];
			/* The home line, without a branch per slot: which slots
			 * carry the tag, which are empty; a tag before the first
			 * empty slot is the candidate, an empty slot before any
			 * tag a certain miss. */
			unsigned hit = 0, emp = 0;
			for (unsigned k = 0; k < SLOTS_PER_LINE; k++) {
				st_eslot v = l[k];
				hit |= (unsigned)((v & ~PTR_MASK) == t && v != 0) << k;
				emp |= (unsigned)(v == 0) << k;
			}
			hit &= (emp & -emp) - 1u; /* slots before the first empty one */
			st_sock *c = NULL;
			if (hit) {
				c = slot_sk(l[__builtin_ctz(hit)]);
				/* The tuple and the device: bytes 0..47, a second
				 * line only when they straddle one (each line in
				 * flight takes one of the core's few miss slots). */
				__builtin_prefetch(c);
				if (((uintptr_t)c & 63) > 64 - 48)
					__builtin_prefetch((const char *)c + 47);
			} else if (!emp) {
				/* Full home line (rare below 3/4 load): the run goes
				 * on in the next line. */
				__builtin_prefetch(&e->s[(home(e->nlines, h) + SLOTS_PER_LINE) & mask]);
				c = CAND_PROBE;
			}
			cand[j % PIPE_RING] = c;
		}
		if (i >= PIPE_ALL) {
			size_t k = i - PIPE_ALL;
			st_sock *c = cand[k % PIPE_RING];
			if (c == CAND_PROBE || (c && !pkt_match(c, p[k])))
				c = lookup_from(e, tags[k % PIPE_RING], p[k]);
			out[k] = c;
		}
	}
}
