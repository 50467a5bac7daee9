/*
 * htab.c - one hash table for every small keyed object of a net.
 *
 * Port buckets, aggregates, per-uid counters, lookup chains, reuseport
 * groups and destination records are all "find by a short key, rarely
 * created, often found".  One chained table with a fixed-size key keeps
 * that code in one place.  Nodes are intrusive (embedded first in each
 * object), so an insert never allocates: the caller allocates the object
 * *before* changing anything, which is how the tables keep the promise
 * that a failed call (even -ENOMEM) changes nothing.  Growth is the one
 * allocation made here, and it is optional: if it fails the table simply
 * stays smaller and chains get longer.
 *
 * Keys are zeroed before they are filled, so a key is hashed and compared
 * as seven plain 64-bit words (st_mixhash, hash.h), never field by field.
 */
#include "net_internal.h"

int st_htab_init(st_htab *t, st_sipkey key, size_t initial)
{
	size_t n = 16;
	while (n < initial)
		n <<= 1;
	t->b = st_calloc(n, sizeof(*t->b));
	if (!t->b)
		return -ENOMEM;
	t->mask = n - 1;
	t->count = 0;
	t->key = key;
	return 0;
}

void st_htab_destroy(st_htab *t)
{
	st_free(t->b);
	t->b = NULL;
}

_Static_assert(sizeof(st_hkey) % 8 == 0 && sizeof(st_hkey) <= 80,
	       "st_hkey is hashed as whole 64-bit words");

uint64_t st_htab_hash(const st_htab *t, const st_hkey *k)
{
	uint64_t w[sizeof(st_hkey) / 8];
	memcpy(w, k, sizeof(w));
	return st_mixhash(&t->key, w, (unsigned)(sizeof(w) / 8));
}

st_hnode *st_htab_find(const st_htab *t, const st_hkey *k, uint64_t h)
{
	for (st_hnode *n = t->b[h & t->mask]; n; n = n->next)
		if (n->hash == h && memcmp(&n->key, k, sizeof(*k)) == 0)
			return n;
	return NULL;
}

static void grow(st_htab *t)
{
	size_t nb = (t->mask + 1) * 2;
	st_hnode **b = st_calloc(nb, sizeof(*b));
	if (!b)
		return;
	/* Doubling sends bucket i to buckets i and i + old size, two
	 * sequential streams; what misses the cache is reading each node's
	 * hash, so the heads a few buckets ahead are prefetched. */
	enum { AHEAD = 16 };
	for (size_t i = 0; i <= t->mask; i++) {
		if (i + AHEAD <= t->mask && t->b[i + AHEAD])
			__builtin_prefetch(t->b[i + AHEAD]);
		st_hnode *n = t->b[i];
		while (n) {
			st_hnode *next = n->next;
			n->next = b[n->hash & (nb - 1)];
			b[n->hash & (nb - 1)] = n;
			n = next;
		}
	}
	st_free(t->b);
	t->b = b;
	t->mask = nb - 1;
}

void st_htab_insert(st_htab *t, st_hnode *n, const st_hkey *k, uint64_t h)
{
	if (t->count >= t->mask + 1)
		grow(t);
	n->key = *k;
	n->hash = h;
	n->next = t->b[h & t->mask];
	t->b[h & t->mask] = n;
	t->count++;
}

void st_htab_remove(st_htab *t, st_hnode *n)
{
	st_hnode **pp = &t->b[n->hash & t->mask];
	while (*pp && *pp != n)
		pp = &(*pp)->next;
	if (*pp) {
		*pp = n->next;
		t->count--;
	}
}
