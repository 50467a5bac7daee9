/*
 * src/sim/clock.c - virtual time: one binary heap of timers for the world.
 *
 * Everything that happens later -- a packet arriving after a link's delay
 * or on loopback "now", a retransmission, the end of TIME_WAIT -- is a
 * stk_timer in this heap, ordered by (when, seq).  `seq` is the arming
 * order, so two events due at the same instant run first-armed first: the
 * order packets were sent is the order they arrive, and runs are
 * deterministic.  Each timer records its heap slot, so cancelling and
 * re-arming are O(log n) without searching.
 *
 * Invariant: heap[i]->heap_idx == i for every armed timer, and an idle
 * timer has heap_idx == STK_TIMER_IDLE.
 */
#include <errno.h>
#include <stdlib.h>

#include "sim/clock.h"

static bool before(const stk_timer *a, const stk_timer *b)
{
	return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static void place(sim_clock *c, size_t i, stk_timer *t)
{
	c->heap[i] = t;
	t->heap_idx = i;
}

static void sift_up(sim_clock *c, size_t i)
{
	stk_timer *t = c->heap[i];
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!before(t, c->heap[parent]))
			break;
		place(c, i, c->heap[parent]);
		i = parent;
	}
	place(c, i, t);
}

static void sift_down(sim_clock *c, size_t i)
{
	stk_timer *t = c->heap[i];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		const stk_timer *best = t;
		if (l < c->n && before(c->heap[l], best)) {
			m = l;
			best = c->heap[l];
		}
		if (r < c->n && before(c->heap[r], best))
			m = r;
		if (m == i)
			break;
		place(c, i, c->heap[m]);
		i = m;
	}
	place(c, i, t);
}

void sim_clock_init(sim_clock *c)
{
	c->heap = NULL;
	c->n = c->cap = 0;
	c->now = 0;
	c->seq = 0;
}

void sim_clock_destroy(sim_clock *c)
{
	for (size_t i = 0; i < c->n; i++)
		c->heap[i]->heap_idx = STK_TIMER_IDLE;
	free(c->heap);
	c->heap = NULL;
	c->n = c->cap = 0;
}

void sim_clock_cancel(sim_clock *c, stk_timer *t)
{
	size_t i = t->heap_idx;
	if (i == STK_TIMER_IDLE)
		return;
	t->heap_idx = STK_TIMER_IDLE;
	c->n--;
	if (i == c->n)
		return;
	stk_timer *last = c->heap[c->n];
	place(c, i, last);
	sift_down(c, i);
	sift_up(c, last->heap_idx);
}

int sim_clock_arm(sim_clock *c, stk_timer *t, uint64_t when)
{
	sim_clock_cancel(c, t);
	if (c->n == c->cap) {
		size_t ncap = c->cap ? 2 * c->cap : 64;
		stk_timer **h = realloc(c->heap, ncap * sizeof(*h));
		if (!h)
			return -ENOMEM;
		c->heap = h;
		c->cap = ncap;
	}
	t->when = when < c->now ? c->now : when;
	t->seq = ++c->seq;
	c->n++;
	place(c, c->n - 1, t);
	sift_up(c, c->n - 1);
	return 0;
}

stk_timer *sim_clock_peek(const sim_clock *c)
{
	return c->n ? c->heap[0] : NULL;
}

stk_timer *sim_clock_pop(sim_clock *c)
{
	if (!c->n)
		return NULL;
	stk_timer *t = c->heap[0];
	sim_clock_cancel(c, t);
	if (t->when > c->now)
		c->now = t->when;
	return t;
}
