/*
 * src/scenario/names.h - the words of the language, both ways.
 *
 * The parser looks words up (verb, kind, option, errno name); the printer
 * and the JSON writer turn values back into the same words.  Keeping both
 * directions in one table per concept (names.c) means a word can never be
 * accepted in one place and printed differently in another.
 *
 * Errno names are Linux's (asm-generic/errno.h): the canonical name of
 * each value.  EWOULDBLOCK, EDEADLOCK and ENOTSUP are aliases Linux never
 * prints; sc_errno_alias() names the canonical spelling so the parser can
 * say "write EAGAIN".
 */
#ifndef SOCKTAB_SCENARIO_NAMES_H
#define SOCKTAB_SCENARIO_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#include "scenario/ast.h"

/* Lookups of a word of n bytes; -1 when it is not one. */
int sc_verb_lookup(const char *s, size_t n);
int sc_kind_lookup(const char *s, size_t n);
int sc_opt_lookup(const char *s, size_t n);
int sc_shut_lookup(const char *s, size_t n);

/* Does getsockopt/setsockopt of `o` carry an integer (as opposed to
 * SO_LINGER's pair, SO_BINDTODEVICE's string, ...)? */
bool sc_opt_is_int(sc_opt o);

/* Errno: name of a positive value (NULL if unknown), value of a name (0 if
 * not an errno name), canonical name for an alias (NULL if not an alias). */
const char *sc_errno_name(int err);
int sc_errno_lookup(const char *s, size_t n);
const char *sc_errno_alias(const char *s, size_t n);

/* `ls` states: valid STATE words. */
bool sc_state_valid(const char *s, size_t n);

/* Capability names of `proc ... caps=`: the ST_CAP_* bit, or 0. */
unsigned sc_cap_lookup(const char *s, size_t n);

#endif
