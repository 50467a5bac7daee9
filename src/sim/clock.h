/*
 * src/sim/clock.h - the world's virtual clock and timer queue (clock.c).
 */
#ifndef SOCKTAB_SIM_CLOCK_H
#define SOCKTAB_SIM_CLOCK_H

#include <stdint.h>

#include "stack/stack.h"

/* Invariant: `root` is the earliest armed timer on (when, seq), or NULL
 * when none is armed; `n` counts the armed timers. */
typedef struct sim_clock {
	stk_timer *root;    /* pairing heap linked through the timers */
	size_t n;
	uint64_t now;       /* ns; never goes back */
	uint64_t seq;       /* arming counter */
} sim_clock;

void sim_clock_init(sim_clock *c);
/* Forgets every armed timer (their owners free them). */
void sim_clock_destroy(sim_clock *c);
/* Arms (or re-arms) t; a time in the past means "now".  Never fails: the
 * queue is linked through the timers themselves.  Returns 0. */
int sim_clock_arm(sim_clock *c, stk_timer *t, uint64_t when);
void sim_clock_cancel(sim_clock *c, stk_timer *t);
stk_timer *sim_clock_peek(const sim_clock *c);
/* Removes the earliest timer and advances `now` to its time. */
stk_timer *sim_clock_pop(sim_clock *c);

#endif
