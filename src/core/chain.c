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
 * coverage kind and family score the same for every packet, so within a
 * class only the first socket in chain order can ever win or stop a scan.
 * Each class is a list in chain order, and a scan visits the class heads
 * in chain order: O(classes), a handful in practice, whatever the number
 * of sockets.  Chain order is a number (chain_pos): head insertions take
 * decreasing numbers, tail insertions increasing ones, so comparing two
 * sockets' positions is one compare.
 *
 * Connected UDP sockets stay in their chain (Linux keeps them in hash2)
 * but score -1 for every packet that is not from their peer, and packets
 * from their peer are matched by the 4-tuple stage first (6.13+ hash4).
 * So they are *parked*: counted by their class, out of its list, keeping
 * their chain position for the day they disconnect.  Without this a
 * connected socket at the head of a class would hide the unconnected
 * sockets behind it (X15: a datagram from another peer goes to the
 * specific-address socket, not to the connected one).  A class lives
 * while it has listed or parked members, so unparking never allocates.
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

struct st_class *chain_class(struct st_chain *c, int32_t dev, int kind, int family)
{
	for (uint32_t i = 0; i < c->ncls; i++) {
		struct st_class *cl = &c->cls[i];
		if (cl->dev == dev && cl->kind == kind && cl->family == family)
			return cl;
	}
	return NULL;
}

static struct st_class *class_of(struct st_chain *c, const st_sock *sk)
{
	return chain_class(c, sk->dev, sk->kind, sk->family);
}

static bool sk_parks(const st_sock *sk)
{
	return sk->proto == ST_UDP && sk->state == ST_ESTABLISHED;
}

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
	if (!class_of(c, sk) && c->ncls == c->capcls) {
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

/* Insert in chain_pos order.  Head and tail insertions are O(1); only an
 * unpark or a device change into the middle of a class walks. */
static void class_set_head(struct st_class *cl, st_sock *sk)
{
	cl->head = sk;
	cl->head_pos = sk ? sk->x->chain_pos : 0;
	cl->head_rpg = sk ? sk_lookup_group(sk) : NULL;
}

void chain_note_head(st_net *net, st_sock *sk)
{
	(void)net;
	if (!sk_chain(sk) || sk_has(sk, ST_F_CHAIN_PARKED))
		return;
	struct st_class *cl = class_of(sk->x->chain, sk);
	if (cl && cl->head == sk)
		class_set_head(cl, sk);
}

static void class_insert_sorted(struct st_class *cl, st_sock *sk)
{
	if (!cl->head || sk->x->chain_pos < cl->head_pos) {
		sk->x->ch_prev = NULL;
		sk->x->ch_next = cl->head;
		if (cl->head)
			cl->head->x->ch_prev = sk;
		else
			cl->tail = sk;
		class_set_head(cl, sk);
	} else if (sk->x->chain_pos > cl->tail->x->chain_pos) {
		sk->x->ch_next = NULL;
		sk->x->ch_prev = cl->tail;
		cl->tail->x->ch_next = sk;
		cl->tail = sk;
	} else {
		st_sock *p = cl->head;
		while (p->x->ch_next && p->x->ch_next->x->chain_pos < sk->x->chain_pos)
			p = p->x->ch_next;
		sk->x->ch_next = p->x->ch_next;
		sk->x->ch_prev = p;
		p->x->ch_next->x->ch_prev = sk;
		p->x->ch_next = sk;
	}
	cl->n++;
}

static void class_list_remove(struct st_class *cl, st_sock *sk)
{
	if (sk->x->ch_prev)
		sk->x->ch_prev->x->ch_next = sk->x->ch_next;
	else
		class_set_head(cl, sk->x->ch_next);
	if (sk->x->ch_next)
		sk->x->ch_next->x->ch_prev = sk->x->ch_prev;
	else
		cl->tail = sk->x->ch_prev;
	sk->x->ch_next = sk->x->ch_prev = NULL;
	cl->n--;
}

/* Drop a class that has no member left (swap with the last class). */
static void class_drop_if_empty(struct st_chain *c, struct st_class *cl)
{
	if (cl->n == 0 && cl->nparked == 0) {
		*cl = c->cls[c->ncls - 1];
		c->ncls--;
	}
}

static struct st_class *class_get(struct st_chain *c, const st_sock *sk)
{
	struct st_class *cl = class_of(c, sk);
	if (!cl) {
		/* chain_prepare made room. */
		cl = &c->cls[c->ncls++];
		memset(cl, 0, sizeof(*cl));
		cl->dev = sk->dev;
		cl->kind = sk->kind;
		cl->family = sk->family;
	}
	return cl;
}

void chain_link(st_net *net, st_sock *sk, struct st_chain *c, bool at_tail)
{
	if (!c->n && !c->ncls) {
		st_hkey k = c->h.key;
		st_htab_insert(&net->h, &c->h, &k, st_htab_hash(&net->h, &k));
	}
	struct st_class *cl = class_get(c, sk);
	sk->x->chain_pos = at_tail ? ++net->tail_pos : --net->head_pos;
	if (sk_parks(sk)) {
		cl->nparked++;
		sk->x->ch_next = sk->x->ch_prev = NULL;
		sk->flags |= ST_F_CHAIN_PARKED;
	} else {
		class_insert_sorted(cl, sk);
	}
	c->n++;
	sk->x->chain = c;
	sk->flags |= ST_F_LHASHED;
}

void chain_unlink(st_net *net, st_sock *sk)
{
	struct st_chain *c = sk_chain(sk);
	if (!c)
		return;
	struct st_class *cl = class_of(c, sk);
	if (sk_has(sk, ST_F_CHAIN_PARKED)) {
		cl->nparked--;
		sk->flags &= ~ST_F_CHAIN_PARKED;
	} else {
		class_list_remove(cl, sk);
	}
	class_drop_if_empty(c, cl);
	c->n--;
	sk->x->chain = NULL;
	sk->flags &= ~ST_F_LHASHED;
	if (c->n == 0) {
		st_htab_remove(&net->h, &c->h);
		st_free(c->cls);
		st_free(c);
	}
}

void chain_park(st_net *net, st_sock *sk)
{
	(void)net;
	if (!sk_chain(sk) || sk_has(sk, ST_F_CHAIN_PARKED))
		return;
	struct st_class *cl = class_of(sk->x->chain, sk);
	class_list_remove(cl, sk);
	cl->nparked++;
	sk->flags |= ST_F_CHAIN_PARKED;
}

void chain_unpark(st_net *net, st_sock *sk)
{
	(void)net;
	if (!sk_chain(sk) || !sk_has(sk, ST_F_CHAIN_PARKED))
		return;
	struct st_class *cl = class_of(sk->x->chain, sk);
	cl->nparked--;
	sk->flags &= ~ST_F_CHAIN_PARKED;
	class_insert_sorted(cl, sk);
}

void chain_move_head(st_net *net, st_sock *sk)
{
	if (!sk_chain(sk))
		return;
	if (sk_has(sk, ST_F_CHAIN_PARKED)) {
		sk->x->chain_pos = --net->head_pos;
		return;
	}
	struct st_class *cl = class_of(sk->x->chain, sk);
	class_list_remove(cl, sk);
	sk->x->chain_pos = --net->head_pos;
	class_insert_sorted(cl, sk);
}

void chain_set_dev(st_net *net, st_sock *sk, int32_t old_dev, int32_t dev)
{
	(void)net;
	struct st_chain *c = sk_chain(sk);
	sk->dev = dev;
	if (!c)
		return;
	struct st_class *old = chain_class(c, old_dev, sk->kind, sk->family);
	bool parked = sk_has(sk, ST_F_CHAIN_PARKED);
	if (parked)
		old->nparked--;
	else
		class_list_remove(old, sk);
	class_drop_if_empty(c, old);
	struct st_class *cl = class_get(c, sk);
	if (parked)
		cl->nparked++;
	else
		class_insert_sorted(cl, sk);
}
