/*
 * tw_ring.c - TIME_WAIT records in the order they entered it.
 *
 * Records leave TIME_WAIT in entry order (st_expire_timewait pops the
 * oldest while it is 60 s old) or, rarely, out of order (a connect()
 * takes its 4-tuple over, the caller closes it).  A doubly linked list
 * does both in O(1) but costs every socket record two pointers, which at
 * ten million connections is 160 MB for a state most sockets are never
 * in.  A ring of pointers costs the record one 32-bit slot number and
 * the net 8 bytes per record actually in TIME_WAIT: entry i (a running
 * count) lives at ring[i & (cap - 1)]; a record that leaves early leaves
 * a NULL hole that the head skips when it reaches it.
 *
 * Holes make the span tail - head larger than the number of records, but
 * not without bound: every hole lies behind a record younger than 60 s
 * or at the head, which expiry moves past, so the span is at most the
 * records that entered in the last minute.  The ring doubles when the
 * span fills it (tw_ring_reserve, before anything changes); a record's
 * slot number is the low 32 bits of its i, which stays valid across a
 * doubling because positions are recomputed from i, not stored.
 */
#include "net_internal.h"

#include <stdlib.h>

enum { TW_RING_MIN = 64 };

int tw_ring_reserve(st_net *net)
{
	if (net->tw_tail - net->tw_head < net->tw_cap)
		return 0;
	if (net->tw_cap >= (UINT32_C(1) << 31))
		return -ENOMEM;
	uint32_t ncap = net->tw_cap ? net->tw_cap * 2 : TW_RING_MIN;
	st_sock **r = st_calloc(ncap, sizeof(*r));
	if (!r)
		return -ENOMEM;
	for (uint64_t i = net->tw_head; i < net->tw_tail; i++)
		r[i & (ncap - 1)] = net->tw_ring[i & (net->tw_cap - 1)];
	st_free(net->tw_ring);
	net->tw_ring = r;
	net->tw_cap = ncap;
	return 0;
}

void tw_ring_push(st_net *net, st_sock *sk)
{
	uint64_t i = net->tw_tail++;
	net->tw_ring[i & (net->tw_cap - 1)] = sk;
	sk->tw_slot = (uint32_t)i;
}

/* Move the head past holes, so that it always names a record. */
static void skip_holes(st_net *net)
{
	while (net->tw_head < net->tw_tail && !net->tw_ring[net->tw_head & (net->tw_cap - 1)])
		net->tw_head++;
	if (net->tw_head == net->tw_tail)
		net->tw_head = net->tw_tail = 0;
}

void tw_ring_remove(st_net *net, st_sock *sk)
{
	if (!net->tw_cap)
		return;
	/* The slot's full index: the one in [head, tail) whose low 32 bits
	 * are tw_slot (the span is below 2^32). */
	uint64_t i = net->tw_head + (uint32_t)(sk->tw_slot - (uint32_t)net->tw_head);
	if (i >= net->tw_tail || net->tw_ring[i & (net->tw_cap - 1)] != sk)
		return;
	net->tw_ring[i & (net->tw_cap - 1)] = NULL;
	skip_holes(net);
}

st_sock *tw_ring_oldest(st_net *net)
{
	return net->tw_head < net->tw_tail ? net->tw_ring[net->tw_head & (net->tw_cap - 1)] : NULL;
}

void tw_ring_free(st_net *net)
{
	st_free(net->tw_ring);
	net->tw_ring = NULL;
	net->tw_cap = 0;
	net->tw_head = net->tw_tail = 0;
}
