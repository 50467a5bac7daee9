/*
 * src/scenario/arena.h - the bump allocator a parsed script lives in.
 *
 * A script of a million statements holds millions of small objects (names,
 * strings, socket addresses, fork pairs) that all live exactly as long as
 * the script.  Allocating them one by one would cost a malloc header each
 * and a free walk at the end; an arena costs one pointer bump each and a
 * handful of frees.  Nothing in an arena is ever freed on its own.
 */
#ifndef SOCKTAB_SCENARIO_ARENA_H
#define SOCKTAB_SCENARIO_ARENA_H

#include <stddef.h>

#include "scenario/ast.h"

sc_arena *sc_arena_new(void);
void sc_arena_free(sc_arena *a);
/* Zeroed, aligned for any scalar; NULL on allocation failure or overflow. */
void *sc_arena_alloc(sc_arena *a, size_t size);
/* Copies n bytes and appends a NUL (so text can be used as a C string). */
char *sc_arena_strndup(sc_arena *a, const char *s, size_t n);
void *sc_arena_memdup(sc_arena *a, const void *p, size_t n);

#endif
