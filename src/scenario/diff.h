/*
 * src/scenario/diff.h - comparing two runs of one scenario (diff.c).
 *
 * `socktab diff` runs a scenario on the model and on the kernel and stops
 * at the first statement whose results differ.  Two things Linux decides
 * with secret keys cannot be compared literally, and only those are
 * normalized (docs/conformance.md lists the rules).  Ports are first
 * steered (src/cli/steer.c): the model takes the port Linux chose when
 * Linux's search could have chosen it, so its numbers are Linux's; what
 * is left is compared here:
 *
 *   1. Ports the system chose (connect, bind/listen of port 0, autobind)
 *      that still differ:
 *      a port the model shows is matched to the port the kernel shows at
 *      the same place, once, and from then on that pairing must hold in
 *      its protocol's port space
 *      both directions (so distinct ports stay distinct).  A pairing of
 *      two different numbers is accepted only when both lie in an
 *      ephemeral range in force (the
 *      hosts' ip_local_port_range or a socket's IP_LOCAL_PORT_RANGE), and
 *      both have the same parity for TCP (connect takes even ports first,
 *      bind(0) odd ones; UDP has no parity rule).
 *   2. Which member of a SO_REUSEPORT group gets a connection or datagram:
 *      a statement whose expectation lists alternatives (`=> A | B`) is
 *      the author saying "Linux decides this with a hash"; when both runs
 *      satisfy the expectation the difference is accepted.
 */
#ifndef SOCKTAB_SCENARIO_DIFF_H
#define SOCKTAB_SCENARIO_DIFF_H

#include <stdbool.h>
#include <stdint.h>

#include "scenario/ast.h"
#include "scenario/run.h"

typedef struct sc_portmap {
	/* [0] UDP, [1] TCP: the two port spaces are paired separately. */
	uint32_t m2k[2][65536];   /* model port -> kernel port + 1, 0 unknown */
	uint32_t k2m[2][65536];
	uint16_t range_lo, range_hi; /* union of the ranges in force */
	uint32_t pairs;        /* pairings of two different numbers */
	int8_t *slot_tcp;      /* per variable slot: 1 TCP, 0 UDP, -1 unknown */
	uint32_t nslots;
} sc_portmap;

/* Collects the ranges in force and the protocol of every
 * variable of the script.  -ENOMEM; sc_portmap_free releases. */
int sc_portmap_init(sc_portmap *pm, const sc_script *s);
void sc_portmap_free(sc_portmap *pm);

typedef enum sc_cmp {
	SC_CMP_SAME,           /* equal (after port pairing)                */
	SC_CMP_BY_EXPECT,      /* differ, both satisfy a multi-alternative expectation */
	SC_CMP_DIFFER,
} sc_cmp;

/* Compares the outcomes of statement st; `why` gets a short reason when
 * they differ.  Commits port pairings only when the outcomes agree. */
sc_cmp sc_outcome_compare(sc_portmap *pm, const sc_stmt *st, const sc_outcome *model,
			  const sc_outcome *kernel, char *why, size_t whylen);

#endif
