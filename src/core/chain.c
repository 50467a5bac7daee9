/*
 * chain.c - lookup chains: the sockets a packet to (address, port) may
 * reach, in the order the kernel would scan them.
 *
 * Linux keeps listeners (lhash2) and bound UDP sockets (hash2) in chains
 * keyed by (port, address) and scans a chain scoring each socket; the
 * first socket with a strictly higher score wins, and a SO_REUSEPORT
 * winner returns at once (D-T5, D-U5).  Order therefore matters: IPv4
 * sockets and non-RP IPv6 sockets go to the head, RP IPv6 sockets to the
 * tail.  A scan is linear in the chain, which is what makes Linux slow
 * with thousands of listeners on one address.
 *
 * Here a chain is split into *classes*: sockets with the same device,
 * coverage kind, family (and, for UDP, SO_REUSEADDR) score the same for
 * every packet, so within a class only the first socket in chain order can
 * ever win or stop a scan.  Each class is a list in chain order, and a
 * scan visits the class heads in chain order: O(classes), a handful in
 * practice, whatever the number of sockets.  Chain order is a number
 * (chain_pos): head insertions take decreasing numbers, tail insertions
 * increasing ones, so comparing two sockets' positions is one compare.
 *
 * Which chain?  The kernel hashes v4 and v4-mapped addresses alike and
 * `::` like 0.0.0.0, so all wildcard sockets of a port (0.0.0.0,
 * ::ffff:0.0.0.0, ::) share one chain, and a.b.c.d shares its chain with
 * ::ffff:a.b.c.d.  chain_key() writes that canonical address.
 */
#include "net_internal.h"

void chain_key(int kind, const st_addr *a, st_addr *out)
{
	if (kind == K_V4ANY || kind == K_V6ANYONLY || kind == K_DUALANY)
		*out = st_addr_any6();
	else
		*out = *a;
}

static st_hkey ckey(int proto, uint16_t port, const st_addr *key)
{
	st_hkey k;
	memset(&k, 0, sizeof(k));
	k.type = HT_CHAIN;
	k.proto = (uint8_t)proto;
	k.port = port;
	k.addr = *key;
	return k;
}

struct st_chain *chain_find(st_net *net, int proto, uint16_t port, const st_addr *key)
{
	st_hkey k = ckey(proto, port, key);
	return (struct st_chain *)st_htab_find(&net->h, &k, st_htab_hash(&net->h, &k));
}

int chain_class_ra(const st_sock *sk)
{
	return sk->proto == ST_UDP && sk_has(sk, ST_F_REUSEADDR);
}

static struct st_class *class_find(struct st_chain *c, const st_sock *sk)
{
	for (uint32_t i = 0; i < c->ncls; i++) {
		struct st_class *cl = &c->cls[i];
		if (cl->dev == sk->dev && cl->kind == sk->kind && cl->family == sk->family &&
		    cl->ra == chain_class_ra(sk))
			return cl;
	}
	return NULL;
}

/* Make sure the chain for sk exists and has room for sk's class, so that
 * chain_link cannot fail. */
int chain_prepare(st_net *net, const st_sock *sk, struct st_chain **out, bool *created)
{
	st_addr key;
	chain_key(sk->kind, &sk->laddr, &key);
	struct st_chain *c = chain_find(net, sk->proto, sk->lport, &key);
	*created = false;
	if (!c) {
		c = st_calloc(1, sizeof(*c));
		if (!c)
			return -ENOMEM;
		c->h.key = ckey(sk->proto, sk->lport, &key);
		*created = true;
	}
	if (!class_find(c, sk) && c->ncls == c->capcls) {
		uint32_t nc = c->capcls ? c->capcls * 2 : 4;
		struct st_class *n = st_realloc(c->cls, nc * sizeof(*n));
		if (!n) {
			if (*created)
				st_free(c);
			return -ENOMEM;
		}
		c->cls = n;
		c->capcls = nc;
	}
	*out = c;
	return 0;
}

void chain_abort(st_net *net, struct st_chain *c, bool created)
{
	(void)net;
	if (created) {
		st_free(c->cls);
		st_free(c);
	}
}

static void class_insert_sorted(struct st_class *cl, st_sock *sk)
{
	/* Head and tail insertions are O(1); only a socket moving between
	 * classes (SO_REUSEADDR changed on a bound UDP socket) walks. */
	if (!cl->head || sk->chain_pos < cl->head->chain_pos) {
		sk->ch_prev = NULL;
		sk->ch_next = cl->head;
		if (cl->head)
			cl->head->ch_prev = sk;
		else
			cl->tail = sk;
		cl->head = sk;
	} else if (sk->chain_pos > cl->tail->chain_pos) {
		sk->ch_next = NULL;
		sk->ch_prev = cl->tail;
		cl->tail->ch_next = sk;
		cl->tail = sk;
	} else {
		st_sock *p = cl->head;
		while (p->ch_next && p->ch_next->chain_pos < sk->chain_pos)
			p = p->ch_next;
		sk->ch_next = p->ch_next;
		sk->ch_prev = p;
		p->ch_next->ch_prev = sk;
		p->ch_next = sk;
	}
	cl->n++;
}

void chain_link(st_net *net, st_sock *sk, struct st_chain *c, bool at_tail)
{
	if (!c->n && !c->ncls) {
		st_hkey k = c->h.key;
		st_htab_insert(&net->h, &c->h, &k, st_htab_hash(&net->h, &k));
	}
	struct st_class *cl = class_find(c, sk);
	if (!cl) {
		cl = &c->cls[c->ncls++];
		memset(cl, 0, sizeof(*cl));
		cl->dev = sk->dev;
		cl->kind = sk->kind;
		cl->family = sk->family;
		cl->ra = (uint8_t)chain_class_ra(sk);
	}
	sk->chain_pos = at_tail ? ++net->tail_pos : --net->head_pos;
	class_insert_sorted(cl, sk);
	c->n++;
	sk->chain = c;
	sk->flags |= ST_F_LHASHED;
}

static void class_remove(struct st_chain *c, struct st_class *cl, st_sock *sk)
{
	if (sk->ch_prev)
		sk->ch_prev->ch_next = sk->ch_next;
	else
		cl->head = sk->ch_next;
	if (sk->ch_next)
		sk->ch_next->ch_prev = sk->ch_prev;
	else
		cl->tail = sk->ch_prev;
	sk->ch_next = sk->ch_prev = NULL;
	cl->n--;
	if (cl->n == 0) {
		*cl = c->cls[c->ncls - 1];
		c->ncls--;
	}
}

static struct st_class *class_of_member(struct st_chain *c, const st_sock *sk)
{
	for (uint32_t i = 0; i < c->ncls; i++) {
		struct st_class *cl = &c->cls[i];
		if (cl->dev == sk->dev && cl->kind == sk->kind && cl->family == sk->family)
			for (const st_sock *p = sk; p; p = p->ch_prev)
				if (p == cl->head)
					return cl;
	}
	return NULL;
}

void chain_unlink(st_net *net, st_sock *sk)
{
	struct st_chain *c = sk->chain;
	if (!c)
		return;
	struct st_class *cl = class_find(c, sk);
	class_remove(c, cl, sk);
	c->n--;
	sk->chain = NULL;
	sk->flags &= ~ST_F_LHASHED;
	if (c->n == 0) {
		st_htab_remove(&net->h, &c->h);
		st_free(c->cls);
		st_free(c);
	}
}

/* SO_REUSEADDR changed on a hashed UDP socket: it keeps its chain
 * position but now scores with another class.  Called *after* the flag
 * changed; the class it is leaving is found by walking to its head. */
void chain_reclass(st_net *net, st_sock *sk)
{
	(void)net;
	struct st_chain *c = sk->chain;
	if (!c)
		return;
	struct st_class *old = class_of_member(c, sk);
	if (!old)
		return;
	if (old->ra == chain_class_ra(sk))
		return;
	class_remove(c, old, sk);
	struct st_class *cl = class_find(c, sk);
	if (!cl) {
		/* chain_prepare-style growth is not possible here without a
		 * failure path; reuse the slot we may just have freed or the
		 * spare capacity kept by chain_prepare's doubling. */
		cl = &c->cls[c->ncls++];
		memset(cl, 0, sizeof(*cl));
		cl->dev = sk->dev;
		cl->kind = sk->kind;
		cl->family = sk->family;
		cl->ra = (uint8_t)chain_class_ra(sk);
	}
	class_insert_sorted(cl, sk);
}
