/*
 * src/scenario/symtab.c - see symtab.h.
 *
 * Both tables use linear probing over a power-of-two array kept at most
 * half full, and grow by doubling (amortised O(1) insertion).
 */
#include "scenario/symtab.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"

struct sym_ent {
	uint64_t hash;
	int64_t id;          /* -1 = empty */
};

struct sc_symtab {
	sc_arena *arena;
	struct sym_ent *ents;
	size_t cap;          /* power of 2; count <= cap / 2 */
	const char **names;  /* by id */
	uint32_t *lens;
	size_t count, names_cap;
	st_sipkey key;
};

sc_symtab *sc_symtab_new(sc_arena *arena)
{
	sc_symtab *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->arena = arena;
	t->key = st_sipkey_derive(0x5c5c5c5cULL, 0x73796d74ULL);
	return t;
}

void sc_symtab_free(sc_symtab *t)
{
	if (t == NULL)
		return;
	free(t->ents);
	free(t->names);
	free(t->lens);
	free(t);
}

static int sym_grow(sc_symtab *t)
{
	size_t ncap = t->cap ? t->cap * 2 : 64;
	struct sym_ent *ne = malloc(ncap * sizeof(*ne));

	if (ne == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < ncap; i++)
		ne[i].id = -1;
	for (size_t i = 0; i < t->cap; i++) {
		size_t j;

		if (t->ents[i].id < 0)
			continue;
		for (j = t->ents[i].hash & (ncap - 1); ne[j].id >= 0; j = (j + 1) & (ncap - 1))
			;
		ne[j] = t->ents[i];
	}
	free(t->ents);
	t->ents = ne;
	t->cap = ncap;
	return 0;
}

int sc_sym_intern(sc_symtab *t, const char *s, size_t n, uint32_t *id)
{
	uint64_t h;
	size_t j;
	char *copy;

	if ((t->count + 1) * 2 > t->cap && sym_grow(t) != 0)
		return -ENOMEM;
	h = st_siphash(&t->key, s, n);
	for (j = h & (t->cap - 1); t->ents[j].id >= 0; j = (j + 1) & (t->cap - 1)) {
		const struct sym_ent *e = &t->ents[j];

		if (e->hash == h && t->lens[e->id] == n && memcmp(t->names[e->id], s, n) == 0) {
			*id = (uint32_t)e->id;
			return 0;
		}
	}
	if (t->count == t->names_cap) {
		size_t nc = t->names_cap ? t->names_cap * 2 : 64;
		const char **nn = realloc(t->names, nc * sizeof(*nn));
		uint32_t *nl;

		if (nn == NULL)
			return -ENOMEM;
		t->names = nn;
		nl = realloc(t->lens, nc * sizeof(*nl));
		if (nl == NULL)
			return -ENOMEM;
		t->lens = nl;
		t->names_cap = nc;
	}
	copy = sc_arena_strndup(t->arena, s, n);
	if (copy == NULL)
		return -ENOMEM;
	t->names[t->count] = copy;
	t->lens[t->count] = (uint32_t)n;
	t->ents[j].hash = h;
	t->ents[j].id = (int64_t)t->count;
	*id = (uint32_t)t->count;
	t->count++;
	return 0;
}

const char *sc_sym_name(const sc_symtab *t, uint32_t id)
{
	return id < t->count ? t->names[id] : NULL;
}

/* ---- sc_imap ------------------------------------------------------------ */

static size_t mix(uint64_t k)
{
	/* splitmix64's finaliser: every key bit affects every hash bit. */
	k ^= k >> 30;
	k *= 0xbf58476d1ce4e5b9ULL;
	k ^= k >> 27;
	k *= 0x94d049bb133111ebULL;
	k ^= k >> 31;
	return (size_t)k;
}

static int imap_grow(sc_imap *m)
{
	size_t ncap = m->cap ? m->cap * 2 : 64;
	uint64_t *nk = malloc(ncap * sizeof(*nk));
	int32_t *nv = malloc(ncap * sizeof(*nv));

	if (nk == NULL || nv == NULL) {
		free(nk);
		free(nv);
		return -ENOMEM;
	}
	for (size_t i = 0; i < ncap; i++)
		nv[i] = -1;
	for (size_t i = 0; i < m->cap; i++) {
		size_t j;

		if (m->vals[i] < 0)
			continue;
		for (j = mix(m->keys[i]) & (ncap - 1); nv[j] >= 0; j = (j + 1) & (ncap - 1))
			;
		nk[j] = m->keys[i];
		nv[j] = m->vals[i];
	}
	free(m->keys);
	free(m->vals);
	m->keys = nk;
	m->vals = nv;
	m->cap = ncap;
	return 0;
}

int sc_imap_put(sc_imap *m, uint64_t key, int32_t val)
{
	size_t j;

	if ((m->n + 1) * 2 > m->cap && imap_grow(m) != 0)
		return -ENOMEM;
	for (j = mix(key) & (m->cap - 1); m->vals[j] >= 0; j = (j + 1) & (m->cap - 1)) {
		if (m->keys[j] == key) {
			m->vals[j] = val;
			return 0;
		}
	}
	m->keys[j] = key;
	m->vals[j] = val;
	m->n++;
	return 0;
}

int32_t sc_imap_get(const sc_imap *m, uint64_t key)
{
	if (m->cap == 0)
		return -1;
	for (size_t j = mix(key) & (m->cap - 1); m->vals[j] >= 0; j = (j + 1) & (m->cap - 1))
		if (m->keys[j] == key)
			return m->vals[j];
	return -1;
}

void sc_imap_free(sc_imap *m)
{
	free(m->keys);
	free(m->vals);
	m->keys = NULL;
	m->vals = NULL;
	m->cap = m->n = 0;
}
