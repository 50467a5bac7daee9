/*
 * reuseport.c - SO_REUSEPORT groups: who shares a port's load, and which
 * member a packet picks.
 *
 * A group is what Linux's struct sock_reuseport is: an array of members
 * in join order (D-RP2).  Members join when they listen (TCP) or bind
 * (UDP).  Which group they join is decided the kernel's way, by a scan
 * and not by a key (inet_reuseport_add_sock, udp_reuseport_add_sock):
 * the newcomer takes the *first* socket of the scan that has the same
 * family, V6ONLY, device, uid, SO_REUSEPORT set and exactly the same
 * address and port (D-RP1), and joins that socket's group -- creating one
 * for it first if it has none.  The scan is the listener chain for TCP
 * (chain order: one class of chain.c, walked from its head) and the
 * port's primary chain for UDP (bind.c keeps it in the kernel's order).
 *
 * Why not a key?  Because a socket can hold SO_REUSEPORT without a group:
 * in 6.13+ a connected UDP socket leaves its group (D-U9), and an option
 * set after bind() or listen() makes no group.  When such a socket comes
 * first in the scan, the newcomer pairs with it and a second group with
 * the same key appears: on 6.18 a member D bound after its IPv4 peer C
 * connected went into a new group {C, D} and took every flow, while with
 * IPv6 (whose SO_REUSEPORT sockets sit at the chain tail) D joined the
 * surviving group (docs/kernel-experiments.md, E14).
 *
 * Removal moves the last member into the hole, and selection is
 * (hash * n) >> 32 over a keyed 4-tuple hash (D-RP3): together these
 * reproduce the kernel's remapping when members come and go (X19).
 * Members that are connected UDP sockets are skipped circularly.
 *
 * reuseport_grow() doubles the member array from 128 and refuses to pass
 * U16_MAX, so a group holds at most 32,768 members; the 32,769th listen()
 * fails with ENOMEM and the 32,769th UDP bind() with EADDRINUSE (E17).
 * rp_prepare reports -ENOSPC and the callers map it.
 */
#include "net_internal.h"

static st_hkey gkey(const struct st_rpgroup *g)
{
	st_hkey k;
	memset(&k, 0, sizeof(k));
	k.type = HT_RPG;
	k.ptr = (uintptr_t)g;
	return k;
}

static bool same_group_key(const st_sock *a, const st_sock *b)
{
	return a != b && a->family == b->family &&
	       sk_has(a, ST_F_V6ONLY) == sk_has(b, ST_F_V6ONLY) && a->dev == b->dev &&
	       sk_has(b, ST_F_REUSEPORT) && a->uid == b->uid && st_addr_equal(&a->laddr, &b->laddr);
}

/* The socket whose group sk joins, or NULL (sk founds a group). */
static st_sock *join_target(st_net *net, const st_sock *sk)
{
	if (sk->proto == ST_TCP) {
		st_addr key;
		chain_key(sk->kind, &sk->laddr, &key);
		struct st_chain *c = chain_find(net, ST_TCP, sk->lport, &key);
		struct st_class *cl = c ? chain_class(c, sk->dev, sk->kind, sk->family) : NULL;
		for (st_sock *s2 = cl ? cl->head : NULL; s2; s2 = s2->x->ch_next)
			if (same_group_key(sk, s2))
				return s2;
		return NULL;
	}
	struct st_portbkt *b = bkt_find(net, ST_UDP, sk->lport);
	for (st_sock *s2 = b ? b->pr_head : NULL; s2; s2 = s2->x->pr_next)
		if (same_group_key(sk, s2))
			return s2;
	return NULL;
}

static int grow(struct st_rpgroup *g, uint32_t need)
{
	if (need <= g->cap)
		return 0;
	uint32_t nc = g->cap ? g->cap : 4;
	while (nc < need)
		nc *= 2;
	if (nc > RP_MAX_MEMBERS)
		nc = RP_MAX_MEMBERS;
	st_sock **m = st_realloc(g->m, nc * sizeof(*m));
	if (!m)
		return -ENOMEM;
	g->m = m;
	g->cap = nc;
	return 0;
}

int rp_prepare(st_net *net, const st_sock *sk, st_rp_prep *p)
{
	memset(p, 0, sizeof(*p));
	st_sock *s2 = join_target(net, sk);
	if (s2 && sk_rpg(s2)) {
		struct st_rpgroup *g = sk_rpg(s2);
		if (g->n >= RP_MAX_MEMBERS)
			return -ENOSPC;
		int err = grow(g, g->n + 1);
		if (err)
			return err;
		p->g = g;
		return 0;
	}
	struct st_rpgroup *g = st_calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	if (grow(g, s2 ? 2 : 1)) {
		st_free(g);
		return -ENOMEM;
	}
	g->h.key = gkey(g);
	p->g = g;
	p->adopt = s2;
	p->created = true;
	return 0;
}

void rp_abort(st_net *net, st_rp_prep *p)
{
	(void)net;
	if (p->created) {
		st_free(p->g->m);
		st_free(p->g);
	}
	memset(p, 0, sizeof(*p));
}

static void append(struct st_rpgroup *g, st_sock *sk)
{
	sk->x->rp_index = g->n;
	g->m[g->n++] = sk;
	sk->x->rp_group = g;
}

void rp_join(st_net *net, st_sock *sk, st_rp_prep *p)
{
	struct st_rpgroup *g = p->g;
	if (p->created) {
		st_hkey k = g->h.key;
		st_htab_insert(&net->h, &g->h, &k, st_htab_hash(&net->h, &k));
		if (p->adopt) {
			append(g, p->adopt);
			chain_note_head(net, p->adopt);
		}
	}
	append(g, sk);
	chain_note_head(net, sk);
	memset(p, 0, sizeof(*p));
}

void rp_leave(st_net *net, st_sock *sk)
{
	struct st_rpgroup *g = sk_rpg(sk);
	if (!g)
		return;
	uint32_t i = sk->x->rp_index;
	g->n--;
	if (i != g->n) {
		g->m[i] = g->m[g->n];
		g->m[i]->x->rp_index = i;
	}
	sk->x->rp_group = NULL;
	sk->x->rp_index = 0;
	chain_note_head(net, sk);
	if (g->n == 0) {
		st_htab_remove(&net->h, &g->h);
		st_free(g->m);
		st_free(g);
	}
}

static uint32_t flow_hash(st_net *net, const st_pkt *p)
{
	struct {
		st_addr s, d;
		uint16_t sp, dp;
	} k;
	memset(&k, 0, sizeof(k));
	k.s = p->saddr;
	k.d = p->daddr;
	k.sp = p->sport;
	k.dp = p->dport;
	const st_sipkey *key = p->proto == ST_UDP ? &net->k_udp_rp : &net->k_tcp_rp;
	return (uint32_t)st_siphash(key, &k, sizeof(k));
}

st_sock *rp_select(st_net *net, struct st_rpgroup *g, st_sock *first, const st_pkt *p,
		   st_lookup_explain *ex)
{
	if (!g || g->n == 0)
		return NULL;
	uint32_t h = flow_hash(net, p);
	uint32_t i = (uint32_t)(((uint64_t)h * g->n) >> 32);
	st_sock *pick = NULL;
	for (uint32_t step = 0; step < g->n; step++) {
		st_sock *m = g->m[(i + step) % g->n];
		if (m->proto == ST_UDP && m->state == ST_ESTABLISHED)
			continue;
		pick = m;
		i = (i + step) % g->n;
		break;
	}
	if (ex && pick) {
		ex->group_first = first;
		ex->group_size = g->n;
		ex->group_index = i;
		ex->hash = h;
	}
	return pick;
}
