/*
 * src/sim/clock.c - virtual time: one queue of timers for the world.
 *
 * Everything that happens later -- a packet arriving after a link's delay
 * or on loopback "now", a retransmission, the end of TIME_WAIT -- is a
 * stk_timer in this queue, ordered by (when, seq).  `seq` is the arming
 * order, so two events due at the same instant run first-armed first: the
 * order packets were sent is the order they arrive, and runs are
 * deterministic (the order is total, so which structure holds the timers
 * cannot change which one comes out first).
 *
 * Why a pairing heap linked through the timers, and not an array heap:
 * arming must not fail.  An array heap has to grow, and a growth that
 * fails leaves the caller with a timer that is not armed -- a TIME_WAIT
 * that never ends, a SYN that is never retransmitted -- and the stack has
 * no sensible way to report that from inside a packet's processing.  With
 * the links inside each timer, arming costs no memory at all.  The heap
 * gives O(1) arming and O(log n) amortised removal of the earliest or of
 * any timer (cancel), which is all the world needs.
 *
 * Links: a node's `env_child` is its first child, `env_next` its next
 * sibling, and `env_prev` either its left sibling or, for a first child,
 * its parent; the root has no siblings and env_prev == NULL.
 * Invariant: every armed timer is in the heap exactly once, every timer
 * in the heap is no earlier than its parent, heap_idx != STK_TIMER_IDLE
 * exactly for armed timers.
 */
#include <errno.h>
#include <stdlib.h>

#include "sim/clock.h"

static bool before(const stk_timer *a, const stk_timer *b)
{
	return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

/* Joins two heap roots (each with no siblings) into one. */
static stk_timer *meld(stk_timer *a, stk_timer *b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	if (before(b, a)) {
		stk_timer *t = a;
		a = b;
		b = t;
	}
	b->env_prev = a;
	b->env_next = a->env_child;
	if (a->env_child)
		a->env_child->env_prev = b;
	a->env_child = b;
	a->env_next = a->env_prev = NULL;
	return a;
}

/* Makes one heap of a list of sibling heaps: meld them in pairs from the
 * left, then the pairs from the right (the two-pass rule that gives the
 * pairing heap its amortised bound). */
static stk_timer *merge_pairs(stk_timer *first)
{
	stk_timer *pairs = NULL; /* the melded pairs, last pair first */

	while (first) {
		stk_timer *a = first, *b = a->env_next;

		first = b ? b->env_next : NULL;
		a->env_next = a->env_prev = NULL;
		if (b)
			b->env_next = b->env_prev = NULL;
		a = meld(a, b);
		a->env_next = pairs;
		pairs = a;
	}
	stk_timer *root = NULL;
	while (pairs) {
		stk_timer *next = pairs->env_next;

		pairs->env_next = NULL;
		root = meld(root, pairs);
		pairs = next;
	}
	return root;
}

void sim_clock_init(sim_clock *c)
{
	c->root = NULL;
	c->n = 0;
	c->now = 0;
	c->seq = 0;
}

static void forget(stk_timer *t)
{
	/* Depth-first without recursion: walk the child/sibling links. */
	while (t) {
		stk_timer *next = t->env_next;

		if (t->env_child) {
			stk_timer *c = t->env_child;

			/* splice the children in front of the siblings */
			while (c->env_next)
				c = c->env_next;
			c->env_next = next;
			next = t->env_child;
		}
		t->env_child = t->env_next = t->env_prev = NULL;
		t->heap_idx = STK_TIMER_IDLE;
		t = next;
	}
}

void sim_clock_destroy(sim_clock *c)
{
	forget(c->root);
	c->root = NULL;
	c->n = 0;
}

void sim_clock_cancel(sim_clock *c, stk_timer *t)
{
	if (t->heap_idx == STK_TIMER_IDLE)
		return;
	if (t == c->root) {
		c->root = merge_pairs(t->env_child);
	} else {
		/* Unlink t from its parent or left sibling, then put its
		 * children back as one heap. */
		if (t->env_prev->env_child == t)
			t->env_prev->env_child = t->env_next;
		else
			t->env_prev->env_next = t->env_next;
		if (t->env_next)
			t->env_next->env_prev = t->env_prev;
		c->root = meld(c->root, merge_pairs(t->env_child));
	}
	t->env_child = t->env_next = t->env_prev = NULL;
	t->heap_idx = STK_TIMER_IDLE;
	c->n--;
}

int sim_clock_arm(sim_clock *c, stk_timer *t, uint64_t when)
{
	sim_clock_cancel(c, t);
	t->when = when < c->now ? c->now : when;
	t->seq = ++c->seq;
	t->env_child = t->env_next = t->env_prev = NULL;
	t->heap_idx = 0; /* armed; the heap has no slot numbers */
	c->root = meld(c->root, t);
	c->n++;
	return 0;
}

stk_timer *sim_clock_peek(const sim_clock *c)
{
	return c->root;
}

stk_timer *sim_clock_pop(sim_clock *c)
{
	stk_timer *t = c->root;

	if (!t)
		return NULL;
	sim_clock_cancel(c, t);
	if (t->when > c->now)
		c->now = t->when;
	return t;
}
