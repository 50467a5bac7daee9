/*
 * src/scenario/arena.c - see arena.h.
 *
 * Chunks of 64 KiB are chained; a request larger than a quarter chunk gets
 * a chunk of its own (placed behind the current one, so the current chunk's
 * free space is not wasted).  Invariant: `head` is the chunk being filled,
 * head->used <= head->size.
 */
#include "scenario/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { CHUNK = 64 * 1024, ALIGN = 16 };

struct chunk {
	struct chunk *next;
	size_t size, used;
	_Alignas(ALIGN) unsigned char mem[];
};

struct sc_arena {
	struct chunk *head;
};

sc_arena *sc_arena_new(void)
{
	return calloc(1, sizeof(sc_arena));
}

void sc_arena_free(sc_arena *a)
{
	struct chunk *c, *n;

	if (a == NULL)
		return;
	for (c = a->head; c != NULL; c = n) {
		n = c->next;
		free(c);
	}
	free(a);
}

static struct chunk *chunk_new(size_t size)
{
	struct chunk *c;

	if (size > SIZE_MAX - sizeof(*c))
		return NULL;
	c = malloc(sizeof(*c) + size);
	if (c == NULL)
		return NULL;
	c->next = NULL;
	c->size = size;
	c->used = 0;
	return c;
}

void *sc_arena_alloc(sc_arena *a, size_t size)
{
	struct chunk *c = a->head;
	size_t need;
	void *p;

	if (size == 0)
		size = 1;
	if (size > SIZE_MAX - ALIGN)
		return NULL;
	need = (size + ALIGN - 1) & ~(size_t)(ALIGN - 1);
	if (need > CHUNK / 4) {
		struct chunk *big = chunk_new(need);

		if (big == NULL)
			return NULL;
		big->used = need;
		if (c != NULL) {
			big->next = c->next;
			c->next = big;
		} else {
			a->head = big;
		}
		memset(big->mem, 0, need);
		return big->mem;
	}
	if (c == NULL || c->size - c->used < need) {
		c = chunk_new(CHUNK);
		if (c == NULL)
			return NULL;
		c->next = a->head;
		a->head = c;
	}
	p = c->mem + c->used;
	c->used += need;
	memset(p, 0, need);
	return p;
}

char *sc_arena_strndup(sc_arena *a, const char *s, size_t n)
{
	char *p;

	if (n == SIZE_MAX)
		return NULL;
	p = sc_arena_alloc(a, n + 1);
	if (p == NULL)
		return NULL;
	if (n > 0)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void *sc_arena_memdup(sc_arena *a, const void *src, size_t n)
{
	void *p = sc_arena_alloc(a, n);

	if (p != NULL && n > 0)
		memcpy(p, src, n);
	return p;
}
