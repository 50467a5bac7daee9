/*
 * sockx.c - the chain linkage of listeners and bound UDP sockets.
 *
 * A socket record (st_sock) is the caller's and sized for the common
 * case, which at millions of sockets is an established TCP connection:
 * it sits in no lookup chain, no SO_REUSEPORT group and no UDP primary
 * chain, so the ~70 bytes of links those need would be dead weight in
 * every record.  They live here instead, one st_sockx per socket that
 * needs them, taken when the socket first enters a chain (bind of a UDP
 * socket, listen) and given back when it has left them all.
 *
 * The objects come from a free list over chunks that the net owns, for
 * two reasons: st_net_free must release them without touching the
 * caller's records (which may already be gone), and a listener or UDP
 * socket that comes and goes should not cost a malloc each time.  Taking
 * an object from the free list still counts as an allocation attempt for
 * the failure-injection hook (alloc.h), so "fail the Nth allocation"
 * keeps covering every call that needs a linkage.
 *
 * Life cycle, in the prepare/commit style of the rest of the core:
 * sockx_prepare reserves (may fail, changes nothing), sockx_abort returns
 * an unused reservation, sockx_attach installs it (cannot fail), and
 * sockx_put returns a socket's linkage once nothing uses it.
 */
#include "net_internal.h"

enum { SOCKX_PER_CHUNK = 56 };

struct st_sockx_chunk {
	struct st_sockx_chunk *next;
	struct st_sockx x[SOCKX_PER_CHUNK];
};

/* Free objects are linked through their `chain` field. */
static void push_free(st_net *net, struct st_sockx *x)
{
	memset(x, 0, sizeof(*x));
	x->chain = (struct st_chain *)(void *)net->x_free;
	net->x_free = x;
}

int sockx_prepare(st_net *net, const st_sock *sk, struct st_sockx **out)
{
	*out = NULL;
	if (sk->x)
		return 0;
	if (!net->x_free) {
		struct st_sockx_chunk *c = st_malloc(sizeof(*c));
		if (!c)
			return -ENOMEM;
		c->next = net->x_chunks;
		net->x_chunks = c;
		for (int i = SOCKX_PER_CHUNK - 1; i >= 0; i--)
			push_free(net, &c->x[i]);
	} else if (st_alloc_attempt()) {
		return -ENOMEM;
	}
	struct st_sockx *x = net->x_free;
	net->x_free = (struct st_sockx *)(void *)x->chain;
	x->chain = NULL;
	*out = x;
	return 0;
}

void sockx_abort(st_net *net, struct st_sockx *x)
{
	if (x)
		push_free(net, x);
}

void sockx_attach(st_sock *sk, struct st_sockx *x)
{
	if (x)
		sk->x = x;
}

void sockx_put(st_net *net, st_sock *sk)
{
	struct st_sockx *x = sk->x;
	if (!x || sk_needs_linkage(sk))
		return;
	sk->x = NULL;
	push_free(net, x);
}

void sockx_free_all(st_net *net)
{
	struct st_sockx_chunk *c = net->x_chunks;
	while (c) {
		struct st_sockx_chunk *next = c->next;
		st_free(c);
		c = next;
	}
	net->x_chunks = NULL;
	net->x_free = NULL;
}
