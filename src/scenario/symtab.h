/*
 * src/scenario/symtab.h - name interning and an integer map, for the parser.
 *
 * The parser resolves every name of a script through these two tables, so
 * checking a million-line script is linear: interning a name is one hash
 * probe, and the questions "which host / process is this?" and "which slot
 * is (process, variable)?" are one probe each in an sc_imap keyed by
 * symbol ids.  Names are hashed with the core's SipHash (src/core/hash.h)
 * so that a crafted file cannot make the table degenerate.
 */
#ifndef SOCKTAB_SCENARIO_SYMTAB_H
#define SOCKTAB_SCENARIO_SYMTAB_H

#include <stddef.h>
#include <stdint.h>

#include "scenario/arena.h"

typedef struct sc_symtab sc_symtab;

/* Names are copied into `arena` (which must outlive the table). */
sc_symtab *sc_symtab_new(sc_arena *arena);
void sc_symtab_free(sc_symtab *t);
/* 0 and *id (dense, from 0), or -ENOMEM. */
int sc_sym_intern(sc_symtab *t, const char *s, size_t n, uint32_t *id);
const char *sc_sym_name(const sc_symtab *t, uint32_t id);

/*
 * Open-addressing map from 64-bit keys to non-negative int32 values.
 * Zero-initialise to use.  Invariant: n <= cap / 2 (cap a power of 2).
 */
typedef struct sc_imap {
	uint64_t *keys;
	int32_t *vals;       /* -1 = empty slot */
	size_t cap, n;
} sc_imap;

/* Insert or replace; val >= 0.  Returns 0 or -ENOMEM. */
int sc_imap_put(sc_imap *m, uint64_t key, int32_t val);
/* The value, or -1 when absent. */
int32_t sc_imap_get(const sc_imap *m, uint64_t key);
void sc_imap_free(sc_imap *m);

#endif
