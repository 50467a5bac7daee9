/*
 * htab.c - one hash table for every small keyed object of a net, and the
 * pool its small objects come from.
 *
 * Port buckets, aggregates, per-uid counters, lookup chains, reuseport
 * groups, destination records and port sets are all "find by a short
 * key, rarely created, often found".  One table with a fixed-size key
 * keeps that code in one place.  Nodes are intrusive (embedded first in
 * each object), so an insert never allocates an entry: the caller
 * allocates the object *before* changing anything, which is how the
 * tables keep the promise that a failed call (even -ENOMEM) changes
 * nothing.  Growth is the one allocation made here, and it is optional.
 *
 * Why open addressing with the hash in the slot.  At a million objects
 * every object is a cache miss.  A chained table reads a bucket line and
 * then every node of the chain (each a miss) before it knows whether the
 * key is there, and its growth reads every node again to learn its hash.
 * Here a slot is {64-bit hash, pointer}, four to a 64-byte line, probed
 * linearly from the first slot of the home line (hash & (nlines - 1))
 * with the load kept at or under 3/4 -- the shape of ehash.c's 4-tuple
 * table.  A find reads the home line (rarely the next) and then only the
 * object whose 64-bit tag matches, which it reads anyway to compare the
 * key (a tag can collide, the key cannot); a find that misses reads one
 * line and no object.  Growth and the backward shift of a deletion take
 * an entry's home line from the slot, never from the object.  Deletion
 * shifts back (no tombstones), so churn never lengthens probes.
 *
 * Insert must not fail, but an open table can fill up where a chained
 * one just grows its chains: when growth fails (memory short) and only
 * one empty slot is left -- kept so that every probe ends -- a node goes
 * on the overflow list through its `next` field.  Finds look there only
 * when the list is not empty, a later growth or deletion moves its nodes
 * back into slots.  It exists for correctness under memory exhaustion;
 * a normal run never uses it.
 *
 * Keys are zeroed before they are filled, so a key is hashed and compared
 * as seven plain 64-bit words, never field by field.  The hash is
 * st_mixhash (hash.h) written out for seven words, inline, with the key
 * words computed once per table: the bind paths hash a dozen keys a call.
 *
 * The pool.  ports.c creates a bucket and one or two aggregates for the
 * first owner of a port and frees them with the last: at a million
 * sockets that was a million mallocs, each object a 16-byte-aligned
 * block that straddled cache lines, and st_net_free called free() on
 * each.  So those objects (all at most ST_HOBJ_SIZE = 128 bytes) come
 * from chunks of 128-byte, 64-byte-aligned slots: the key (56 bytes)
 * and the hot counters are two adjacent lines, which the hardware's
 * adjacent-line prefetch usually brings in as one, freed objects are
 * reused newest first (still in cache), and st_net_free drops whole
 * chunks instead of walking the objects (the slot's bit 63 marks a pool
 * object, so st_htab_clear skips it without reading it).  Every object
 * handed out counts as one allocation for failure injection
 * (st_alloc_attempt), and every chunk passes st_malloc's hook first, so the
 * walks that fail each allocation in turn still reach every -ENOMEM path.
 * Under AddressSanitizer free objects and unused chunk tails are
 * poisoned, so a use after free is still caught.
 */
#include "net_internal.h"

#include <stdlib.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

enum { SLOTS_PER_LINE = 4 };
#define POOL_BIT (UINT64_C(1) << 63)
_Static_assert(SLOTS_PER_LINE * sizeof(st_hslot) == 64, "one slot line is one cache line");
_Static_assert(sizeof(st_hkey) == 56, "st_hkey is hashed and compared as seven words");
_Static_assert(sizeof(st_hnode) == 64, "a node is one cache line");

static size_t nslots(const st_htab *t)
{
	return t->nlines * SLOTS_PER_LINE;
}

static size_t home(size_t nlines, uint64_t tag)
{
	return (size_t)(tag & (nlines - 1)) * SLOTS_PER_LINE;
}

/* A zeroed, 64-byte aligned array of nlines lines; large ones are
 * offered to the kernel for transparent huge pages (a find that misses
 * the cache should not also miss the TLB).  Advice only. */
static st_hslot *slots_alloc(size_t nlines)
{
	return st_alloc_table(nlines * 64, 1);
}

int st_htab_init(st_htab *t, st_sipkey key, size_t initial)
{
	size_t lines = 4;
	while (lines * SLOTS_PER_LINE * 3 < initial * 4)
		lines <<= 1;
	memset(t, 0, sizeof(*t));
	t->s = slots_alloc(lines);
	if (!t->s)
		return -ENOMEM;
	t->nlines = lines;
	t->key = key;
	for (unsigned i = 0; i < 8; i++)
		t->kw[i] = st_mixkey(&key, i);
	t->kw[8] = st_mixkey(&key, 10);
	t->kw[9] = st_mixkey(&key, 11);
	t->pool.next_objs = 16;
	return 0;
}

static void pool_destroy(st_hpool *p)
{
	void *c = p->chunks;
	while (c) {
		void **hdr = c;
		void *next = hdr[0];
		UNPOISON(c, (size_t)(uintptr_t)hdr[1]);
		st_free(c);
		c = next;
	}
	memset(p, 0, sizeof(*p));
}

void st_htab_destroy(st_htab *t)
{
	free(t->s);
	t->s = NULL;
	pool_destroy(&t->pool);
}


static inline bool key_eq(const st_hkey *a, const st_hkey *b)
{
	uint64_t x[7], y[7], d = 0;
	memcpy(x, a, sizeof(x));
	memcpy(y, b, sizeof(y));
	for (int i = 0; i < 7; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

static st_hnode *ovf_find(const st_htab *t, const st_hkey *k)
{
	for (st_hnode *n = t->ovf; n; n = n->next)
		if (key_eq(&n->key, k))
			return n;
	return NULL;
}

st_hnode *st_htab_find(const st_htab *t, const st_hkey *k, uint64_t h)
{
	size_t mask = nslots(t) - 1;
	size_t i = home(t->nlines, h);
	for (;;) {
		const st_hslot *sl = &t->s[i];
		uint64_t tag = sl->tag & ~POOL_BIT;
		if (tag == h) {
			if (key_eq(&sl->n->key, k))
				return sl->n;
		} else if (tag == 0) {
			break;
		}
		i = (i + 1) & mask;
	}
	return t->novf ? ovf_find(t, k) : NULL;
}

/* Into the first empty slot from the home line on (one exists). */
static void put(st_hslot *s, size_t nlines, uint64_t tag, st_hnode *n)
{
	size_t mask = nlines * SLOTS_PER_LINE - 1;
	size_t i = home(nlines, tag);
	while (s[i].tag)
		i = (i + 1) & mask;
	s[i].tag = tag;
	s[i].n = n;
}

/* Does the table have room for one more node in a slot?  At least one
 * slot must stay empty. */
static bool slot_room(const st_htab *t)
{
	return t->count + 2 <= nslots(t);
}

/* Overflow nodes back into slots while the load stays at most 3/4. */
static void ovf_drain(st_htab *t)
{
	while (t->ovf && (t->count + 1) * 4 <= nslots(t) * 3) {
		st_hnode *n = t->ovf;
		t->ovf = n->next;
		t->novf--;
		n->next = NULL;
		/* Overflow nodes are never pool-marked: a slot that takes one
		 * back cannot tell, so clear() will read it (harmless). */
		put(t->s, t->nlines, st_htab_hash(t, &n->key), n);
		t->count++;
	}
}

static void grow(st_htab *t)
{
	size_t nl = t->nlines * 2;
	st_hslot *s = slots_alloc(nl);
	if (!s)
		return;
	/* Old slots are read in order and only the slots: the objects are
	 * not touched. */
	size_t n = nslots(t);
	for (size_t i = 0; i < n; i++)
		if (t->s[i].tag)
			put(s, nl, t->s[i].tag, t->s[i].n);
	free(t->s);
	t->s = s;
	t->nlines = nl;
	ovf_drain(t);
}

static void insert_tag(st_htab *t, st_hnode *n, const st_hkey *k, uint64_t tag)
{
	n->key = *k;
	n->next = NULL;
	if ((t->count + 1) * 4 > nslots(t) * 3)
		grow(t);
	if (!slot_room(t)) {
		n->next = t->ovf;
		t->ovf = n;
		t->novf++;
		return;
	}
	put(t->s, t->nlines, tag, n);
	t->count++;
}

void st_htab_insert(st_htab *t, st_hnode *n, const st_hkey *k, uint64_t h)
{
	insert_tag(t, n, k, h);
}

void st_htab_insert_obj(st_htab *t, st_hnode *n, const st_hkey *k, uint64_t h)
{
	insert_tag(t, n, k, h | POOL_BIT);
}

void st_htab_remove(st_htab *t, st_hnode *n)
{
	size_t mask = nslots(t) - 1;
	uint64_t h = st_htab_hash(t, &n->key);
	size_t i = home(t->nlines, h);
	for (;;) {
		if (t->s[i].n == n && t->s[i].tag)
			break;
		if (!t->s[i].tag) {
			for (st_hnode **pp = &t->ovf; *pp; pp = &(*pp)->next)
				if (*pp == n) {
					*pp = n->next;
					n->next = NULL;
					t->novf--;
					return;
				}
			return; /* not in the table */
		}
		i = (i + 1) & mask;
	}
	/* Backward shift: an entry after the hole moves into it when the
	 * hole lies between its home slot and its slot (cyclically), i.e.
	 * when it is at least as far from home as from the hole. */
	size_t j = i;
	for (;;) {
		j = (j + 1) & mask;
		uint64_t tj = t->s[j].tag;
		if (!tj)
			break;
		size_t k = home(t->nlines, tj);
		if (((j - k) & mask) >= ((j - i) & mask)) {
			t->s[i] = t->s[j];
			i = j;
		}
	}
	t->s[i].tag = 0;
	t->s[i].n = NULL;
	t->count--;
	if (t->novf)
		ovf_drain(t);
}

st_hnode *st_htab_next(const st_htab *t, size_t *cursor)
{
	size_t n = nslots(t);
	while (*cursor < n) {
		size_t i = (*cursor)++;
		if (t->s[i].tag)
			return t->s[i].n;
	}
	size_t k = *cursor - n;
	st_hnode *o = t->ovf;
	while (o && k--)
		o = o->next;
	if (o)
		(*cursor)++;
	return o;
}

void st_htab_clear(st_htab *t, void (*fn)(st_hnode *n, void *ctx), void *ctx)
{
	size_t n = nslots(t);
	for (size_t i = 0; i < n; i++) {
		uint64_t tag = t->s[i].tag;
		st_hnode *o = t->s[i].n;
		t->s[i].tag = 0;
		t->s[i].n = NULL;
		if (tag && !(tag & POOL_BIT))
			fn(o, ctx);
	}
	t->count = 0;
	while (t->ovf) {
		st_hnode *o = t->ovf;
		t->ovf = o->next;
		fn(o, ctx);
	}
	t->novf = 0;
}

/* ---- the pool ------------------------------------------------------- */

/* Chunks double from 16 objects to 2 MiB.  A chunk of 2 MiB is aligned
 * to 2 MiB and offered to the kernel for a transparent huge page: the
 * first owner of a port takes three fresh objects, and at tens of
 * thousands of ports the page faults of 4 KiB pages cost as much as the
 * table work (docs/performance.md, bind0-exhaust).  The header -- the
 * chunk list link and the chunk's size -- sits in the first object slot,
 * so that a huge chunk is exactly one huge page. */
enum { MAX_CHUNK_OBJS = ST_HUGE_PAGE / ST_HOBJ_SIZE };

static int chunk_new(st_hpool *p)
{
	size_t objs = p->next_objs;
	size_t bytes = objs * ST_HOBJ_SIZE;
	/* Not zeroed: every object is cleared when it is handed out. */
	void **hdr = st_alloc_table(bytes, 0);
	if (!hdr)
		return -ENOMEM;
	hdr[0] = p->chunks;
	hdr[1] = (void *)(uintptr_t)bytes;
	p->chunks = hdr;
	p->cur = (char *)hdr + ST_HOBJ_SIZE;
	p->end = (char *)hdr + bytes;
	POISON(p->cur, bytes - ST_HOBJ_SIZE);
	if (p->next_objs < MAX_CHUNK_OBJS)
		p->next_objs *= 2;
	return 0;
}

void *st_htab_obj_alloc(st_htab *t)
{
	st_hpool *p = &t->pool;
	void *o;
	if (st_alloc_attempt())
		return NULL;
	if (p->free) {
		o = p->free;
		p->free = *(void **)o;
	} else {
		if (p->cur == p->end && chunk_new(p) != 0)
			return NULL;
		o = p->cur;
		p->cur += ST_HOBJ_SIZE;
	}
	UNPOISON(o, ST_HOBJ_SIZE);
	memset(o, 0, ST_HOBJ_SIZE);
	return o;
}

void st_htab_obj_free(st_htab *t, void *o)
{
	st_hpool *p = &t->pool;
	if (!o)
		return;
	*(void **)o = p->free;
	p->free = o;
	/* The link stays readable; the rest is out of bounds until reuse. */
	POISON((char *)o + sizeof(void *), ST_HOBJ_SIZE - sizeof(void *));
}
