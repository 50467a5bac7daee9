/*
 * reuseport.c - SO_REUSEPORT groups: who shares a port's load, and which
 * member a packet picks.
 *
 * A group is what Linux's struct sock_reuseport is: an array of members
 * in join order (D-RP2).  Members join when they listen (TCP) or bind
 * (UDP), and only sockets with the same family, V6ONLY, device, uid and
 * exactly the same address and port join one group (D-RP1), so the group
 * is found by that key in the net's hash table.  Removal moves the last
 * member into the hole, and selection is (hash * n) >> 32 over a keyed
 * 4-tuple hash (D-RP3): together these reproduce the kernel's remapping
 * when members come and go (X19).  Members that are connected UDP sockets
 * are skipped circularly; in 6.13+ they have left the group anyway.
 *
 * Linux indexes members with 16 bits and its reuseport_grow() fails with
 * -ENOMEM past U16_MAX members; a join past 65535 members fails the same
 * way here.
 */
#include "net_internal.h"

enum { RP_MAX = 65535 };

static st_hkey gkey(const st_sock *sk)
{
	st_hkey k;
	memset(&k, 0, sizeof(k));
	k.type = HT_RPG;
	k.proto = sk->proto;
	k.kind = sk->family;
	k.exact = sk_has(sk, ST_F_V6ONLY);
	k.port = sk->lport;
	k.dev = sk->dev;
	k.uid = sk->uid;
	k.addr = sk->laddr;
	return k;
}

int rp_prepare(st_net *net, const st_sock *sk, struct st_rpgroup **out, bool *created)
{
	st_hkey k = gkey(sk);
	struct st_rpgroup *g =
		(struct st_rpgroup *)st_htab_find(&net->h, &k, st_htab_hash(&net->h, &k));
	*created = false;
	if (!g) {
		g = st_calloc(1, sizeof(*g));
		if (!g)
			return -ENOMEM;
		g->h.key = k;
		*created = true;
	}
	if (g->n == g->cap) {
		if (g->cap >= RP_MAX) {
			if (*created)
				st_free(g);
			return -ENOMEM;
		}
		uint32_t nc = g->cap ? g->cap * 2 : 4;
		if (nc > RP_MAX)
			nc = RP_MAX;
		st_sock **m = st_realloc(g->m, nc * sizeof(*m));
		if (!m) {
			if (*created)
				st_free(g);
			return -ENOMEM;
		}
		g->m = m;
		g->cap = nc;
	}
	*out = g;
	return 0;
}

void rp_abort(st_net *net, struct st_rpgroup *g, bool created)
{
	(void)net;
	if (created) {
		st_free(g->m);
		st_free(g);
	}
}

void rp_join(st_net *net, st_sock *sk, struct st_rpgroup *g)
{
	if (g->n == 0) {
		st_hkey k = g->h.key;
		st_htab_insert(&net->h, &g->h, &k, st_htab_hash(&net->h, &k));
	}
	sk->rp_index = (uint16_t)g->n;
	g->m[g->n++] = sk;
	sk->rp_group = g;
}

void rp_leave(st_net *net, st_sock *sk)
{
	struct st_rpgroup *g = sk->rp_group;
	if (!g)
		return;
	uint32_t i = sk->rp_index;
	g->n--;
	if (i != g->n) {
		g->m[i] = g->m[g->n];
		g->m[i]->rp_index = (uint16_t)i;
	}
	sk->rp_group = NULL;
	sk->rp_index = 0;
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

st_sock *rp_select(st_net *net, st_sock *first, const st_pkt *p, st_lookup_explain *ex)
{
	struct st_rpgroup *g = first->rp_group;
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
