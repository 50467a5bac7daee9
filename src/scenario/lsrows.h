/*
 * src/scenario/lsrows.h - `ls` rows and their owner strings in one block.
 *
 * An sc_lsrow points at its owner list instead of holding it (backend.h
 * says why), and a row array handed from a backend to the runner must
 * still be released by one free().  So the strings live in the same
 * malloc'd block, after the last row.  The model builds its block in place
 * (it knows its sizes ahead, model.c); everyone else -- the kernel
 * backend, the runner when it has to repair a backend's owner lists, test
 * doubles -- fills rows whose owners point wherever is convenient and
 * packs them here.
 */
#ifndef SOCKTAB_SCENARIO_LSROWS_H
#define SOCKTAB_SCENARIO_LSROWS_H

#include <stddef.h>

#include "scenario/backend.h"

/* A copy of rows[0..n) in one malloc'd block: the rows, then a copy of
 * each owner string they point to (consecutive rows that point to the same
 * string share one copy).  NULL, "" and "-" all become the literal "-".
 * *out = NULL when n is 0.  0 or -ENOMEM; the input is not changed. */
int sc_lsrows_pack(const sc_lsrow *rows, size_t n, sc_lsrow **out);

#endif
