/*
 * src/scenario/gen.h - random scenarios for differential testing (gen.c).
 */
#ifndef SOCKTAB_SCENARIO_GEN_H
#define SOCKTAB_SCENARIO_GEN_H

#include <stddef.h>
#include <stdint.h>

/* Writes one random scenario (a NUL-terminated malloc'd text) for seed
 * `seed`; the same seed gives the same text.  NULL on allocation failure. */
char *sc_gen_scenario(uint64_t seed, size_t *len_out);

#endif
