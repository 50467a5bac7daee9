/*
 * net.c - creating and destroying a network namespace, its clock and its
 * random numbers, and the invariant checker.
 *
 * Randomness (bind(0) start offsets, the perturbation table, the "+
 * random(0..7)*2" of RFC 6056) comes from a splitmix64 stream seeded by
 * the caller, so that a run is reproducible from its seed: the simulator
 * and the tests rely on that.
 */
#include "net_internal.h"

#include <stdio.h>

/* NULL for a NULL net: taking a member's address through NULL is
 * undefined even when nothing is read, so callers check the result. */
struct st_netconf *st_net_conf(st_net *net)
{
	return net != NULL ? &net->conf : NULL;
}

const struct st_netconf *st_net_conf_c(const st_net *net)
{
	return net != NULL ? &net->conf : NULL;
}

uint32_t st_rand32(st_net *net)
{
	return (uint32_t)(st_splitmix64(&net->rng) >> 32);
}

uint32_t st_rand_below(st_net *net, uint32_t n)
{
	if (n <= 1)
		return 0;
	return (uint32_t)(((uint64_t)st_rand32(net) * n) >> 32);
}

void st_port_hint(st_net *net, uint16_t port)
{
	if (!net)
		return;
	net->hint_port = port;
	net->hint_state = port ? ST_HINT_PENDING : ST_HINT_NONE;
	net->hint_why = NULL;
}

int st_port_hint_done(st_net *net, const char **why)
{
	if (!net)
		return ST_HINT_NONE;
	int s = net->hint_state;
	if (why)
		*why = net->hint_why;
	net->hint_port = 0;
	net->hint_state = ST_HINT_NONE;
	net->hint_why = NULL;
	return s;
}

void hint_take(st_net *net)
{
	net->hint_state = ST_HINT_TAKEN;
}

void hint_refuse(st_net *net, const char *why)
{
	net->hint_state = ST_HINT_REFUSED;
	net->hint_why = why;
}

int st_net_new(st_net **out, uint64_t seed, const st_net_ops *ops)
{
	if (!out)
		return -EINVAL;
	st_net *net = st_calloc(1, sizeof(*net));
	if (!net)
		return -ENOMEM;
	net->seed = seed;
	net->rng = seed ^ 0x5eed5eed5eed5eedULL;
	if (ops)
		net->ops = *ops;
	net->k_tcp_rp = st_sipkey_derive(seed, 1);
	net->k_udp_rp = st_sipkey_derive(seed, 2);
	net->k_port = st_sipkey_derive(seed, 3);
	int err = st_netconf_init(&net->conf);
	if (err)
		goto fail_conf;
	err = st_htab_init(&net->h, st_sipkey_derive(seed, 4), 64);
	if (err)
		goto fail_h;
	err = st_ehash_init(&net->tcp_e, st_sipkey_derive(seed, 5));
	if (err)
		goto fail_te;
	err = st_ehash_init(&net->udp_e, st_sipkey_derive(seed, 6));
	if (err)
		goto fail_ue;
	net->perturb = st_malloc(65536 * sizeof(uint32_t));
	if (!net->perturb) {
		err = -ENOMEM;
		goto fail_p;
	}
	for (int i = 0; i < 65536; i++)
		net->perturb[i] = st_rand32(net);
	*out = net;
	return 0;
fail_p:
	st_ehash_destroy(&net->udp_e);
fail_ue:
	st_ehash_destroy(&net->tcp_e);
fail_te:
	st_htab_destroy(&net->h);
fail_h:
	st_netconf_destroy(&net->conf);
fail_conf:
	st_free(net);
	return err;
}

/* st_net_free: what an htab object owns besides itself.  Buckets,
 * aggregates and uid counters are pool objects (htab.c) and go with the
 * pool's chunks; st_htab_clear does not even hand most of them here. */
static void free_hobj(st_hnode *n, void *ctx)
{
	(void)ctx;
	switch (n->key.type) {
	case HT_PORT:
	case HT_AGG:
	case HT_UID:
		return;
	case HT_CHAIN:
		st_free(((struct st_chain *)n)->cls);
		break;
	case HT_RPG:
		st_free(((struct st_rpgroup *)n)->m);
		break;
	case HT_DEST:
		st_free(((struct st_dest *)n)->used);
		break;
	default:
		break;
	}
	st_free(n);
}

void st_net_free(st_net *net)
{
	if (!net)
		return;
	st_htab_clear(&net->h, free_hobj, NULL);
	st_htab_destroy(&net->h);
	st_ehash_destroy(&net->tcp_e);
	st_ehash_destroy(&net->udp_e);
	tw_ring_free(net);
	sockx_free_all(net);
	st_free(net->perturb);
	st_netconf_destroy(&net->conf);
	st_free(net);
}

void st_net_set_time(st_net *net, uint64_t now_ns)
{
	if (net && now_ns >= net->now)
		net->now = now_ns;
}

uint64_t st_net_time(const st_net *net)
{
	return net ? net->now : 0;
}

size_t st_net_count(const st_net *net)
{
	return net ? net->nhashed : 0;
}

static int fail(char *buf, size_t len, const char *what, uint16_t port)
{
	if (buf && len)
		snprintf(buf, len, "%s (port %u)", what, port);
	return -EUCLEAN;
}

/* The UDP primary chain holds exactly the port's owners (TCP: empty). */
static int check_primary(const struct st_portbkt *b, int proto, char *buf, size_t len)
{
	uint32_t n = 0;
	const st_sock *prev = NULL;
	for (const st_sock *o = b->pr_head; o; prev = o, o = o->x->pr_next) {
		if (!o->x)
			return fail(buf, len, "UDP owner without linkage", b->h.key.port);
		if (o->bkt != b || o->x->pr_prev != prev)
			return fail(buf, len, "broken primary chain", b->h.key.port);
		if (++n > b->nowners)
			break;
	}
	if (proto == ST_TCP ? (b->pr_head || b->pr_tail) : (n != b->nowners || b->pr_tail != prev))
		return fail(buf, len, "primary chain does not hold the port's owners", b->h.key.port);
	return 0;
}

/* Classes: members in ascending chain order, of the class's device, kind
 * and family, linked to the chain; counts add up to the chain's. */
static int check_chain(const struct st_chain *c, size_t *parked, char *buf, size_t len)
{
	uint32_t total = 0;
	uint16_t port = c->h.key.port;
	if (c->ncls == 0 || c->ncls > c->capcls)
		return fail(buf, len, "chain without classes", port);
	for (uint32_t i = 0; i < c->ncls; i++) {
		const struct st_class *cl = &c->cls[i];
		uint32_t n = 0;
		const st_sock *prev = NULL;
		if (cl->n == 0 && cl->nparked == 0)
			return fail(buf, len, "empty chain class", port);
		for (uint32_t j = 0; j < i; j++)
			if (c->cls[j].dev == cl->dev && c->cls[j].kind == cl->kind &&
			    c->cls[j].family == cl->family)
				return fail(buf, len, "duplicate chain class", port);
		for (const st_sock *s = cl->head; s; prev = s, s = s->x->ch_next) {
			if (!s->x || s->x->chain != c || !sk_has(s, ST_F_LHASHED) ||
			    sk_has(s, ST_F_CHAIN_PARKED))
				return fail(buf, len, "chain member not linked to its chain", port);
			if (s->dev != cl->dev || s->kind != cl->kind || s->family != cl->family)
				return fail(buf, len, "chain member in the wrong class", port);
			if (s->x->ch_prev != prev || (prev && prev->x->chain_pos >= s->x->chain_pos))
				return fail(buf, len, "chain class out of order", port);
			if (!prev && (cl->head_pos != s->x->chain_pos ||
				      cl->head_rpg != sk_lookup_group(s)))
				return fail(buf, len, "chain class head cache stale", port);
			if (s->proto == ST_TCP && s->state != ST_LISTEN)
				return fail(buf, len, "non-listener in a TCP chain", port);
			if (++n > cl->n)
				break;
		}
		if (n != cl->n || cl->tail != prev)
			return fail(buf, len, "chain class count wrong", port);
		total += cl->n + cl->nparked;
		*parked += cl->nparked;
	}
	if (total != c->n)
		return fail(buf, len, "chain count wrong", port);
	return 0;
}

/* Recount every aggregate of every port from its owners and compare. */
int st_net_check(const st_net *net, char *buf, size_t len)
{
	if (!net)
		return -EINVAL;
	if (buf && len)
		buf[0] = 0;
	size_t owners = 0, parked = 0, chain_parked = 0, tw_owners = 0;
	size_t cur = 0;
	for (const st_hnode *n; (n = st_htab_next(&net->h, &cur)) != NULL;) {
		if (n->key.type == HT_PORT) {
			const struct st_portbkt *b = (const void *)n;
			uint32_t cnt = 0, expl = 0, shadows = 0;
			for (const st_sock *o = b->owners; o; o = o->own_next) {
				cnt++;
				shadows += sk_v4_shadow(o);
				if (!sk_has(o, ST_F_CONNECT_BIND))
					expl++;
				if (o->bkt != b || !sk_has(o, ST_F_HASHED))
					return fail(buf, len, "owner not linked to its bucket", n->key.port);
				if (o->lport != n->key.port || o->proto != n->key.proto)
					return fail(buf, len, "owner on the wrong port", n->key.port);
				if (o->own_next && o->own_next->own_prev != o)
					return fail(buf, len, "broken owner list", n->key.port);
				if (o->proto == ST_TCP && o->state == ST_LISTEN && !sk_has(o, ST_F_LHASHED))
					return fail(buf, len, "listener not in its chain", n->key.port);
				if (o->proto == ST_UDP && !sk_has(o, ST_F_LHASHED))
					return fail(buf, len, "UDP socket not in its chain", n->key.port);
				if (sk_rpg(o) && (sk_rpi(o) >= sk_rpg(o)->n ||
						  sk_rpg(o)->m[sk_rpi(o)] != o))
					return fail(buf, len, "reuseport index wrong", n->key.port);
				if ((o->x != NULL) != sk_needs_linkage(o))
					return fail(buf, len, o->x ? "linkage kept by a socket in no chain"
								   : "chained socket without linkage",
						    n->key.port);
				if (o->state == ST_TIME_WAIT) {
					tw_owners++;
					if (!net->tw_cap ||
					    net->tw_ring[o->tw_slot & (net->tw_cap - 1)] != o)
						return fail(buf, len, "TIME_WAIT record not in the ring",
							    n->key.port);
				}
				bool conn_udp = o->proto == ST_UDP && o->state == ST_ESTABLISHED;
				if (sk_has(o, ST_F_CHAIN_PARKED) != conn_udp)
					return fail(buf, len, "connected UDP socket not parked, or the reverse",
						    n->key.port);
				parked += sk_has(o, ST_F_CHAIN_PARKED);
			}
			if (cnt != b->nowners || cnt == 0)
				return fail(buf, len, "owner count wrong", n->key.port);
			if (expl != b->nexplicit)
				return fail(buf, len, "explicit owner count wrong", n->key.port);
			if (shadows != b->nshadow)
				return fail(buf, len, "IPv4-shadow owner count wrong", n->key.port);
			owners += cnt;
			int err = check_primary(b, n->key.proto, buf, len);
			if (err)
				return err;
		} else if (n->key.type == HT_CHAIN) {
			int err = check_chain((const struct st_chain *)n, &chain_parked, buf, len);
			if (err)
				return err;
		} else if (n->key.type == HT_RPG) {
			const struct st_rpgroup *g = (const void *)n;
			if (g->n == 0 || g->n > g->cap || g->n > RP_MAX_MEMBERS)
				return fail(buf, len, "reuseport group size wrong", 0);
			for (uint32_t m = 0; m < g->n; m++)
				if (sk_rpg(g->m[m]) != g || sk_rpi(g->m[m]) != m ||
				    !sk_has(g->m[m], ST_F_HASHED))
					return fail(buf, len, "reuseport member does not point back",
						    g->m[m]->lport);
		} else if (n->key.type == HT_AGG) {
			const struct st_agg *g = (const void *)n;
			const struct st_portbkt *b = NULL;
			st_hkey k;
			memset(&k, 0, sizeof(k));
			k.type = HT_PORT;
			k.proto = n->key.proto;
			k.port = n->key.port;
			b = (const void *)st_htab_find(&net->h, &k, st_htab_hash(&net->h, &k));
			st_counts c = {0, 0, 0, 0};
			uint32_t refs = 0;
			for (const st_sock *o = b ? b->owners : NULL; o; o = o->own_next) {
				if (o->kind != n->key.kind)
					continue;
				if (n->key.dev == DEV_ANY ? !o->dev
				    : n->key.dev != DEV_ALL && o->dev != n->key.dev)
					continue;
				if (n->key.exact && !st_addr_equal(&o->laddr, &n->key.addr))
					continue;
				refs++;
				bool nr = !(sk_has(o, ST_F_REUSEADDR) && o->state != ST_LISTEN);
				bool rp = sk_has(o, ST_F_REUSEPORT), tw = o->state == ST_TIME_WAIT;
				c.total++;
				c.notraok += nr;
				c.rp_tw += rp && tw;
				c.notraok_rp_tw += rp && tw && nr;
			}
			if (refs != g->refs || refs == 0 || memcmp(&c, &g->c, sizeof(c)))
				return fail(buf, len, "aggregate counters disagree with owners", n->key.port);
		}
	}
	if (owners != net->nhashed)
		return fail(buf, len, "hashed socket count wrong", 0);
	if (parked != chain_parked)
		return fail(buf, len, "parked sockets disagree with their chain classes", 0);
	/* The TIME_WAIT ring: its records are TIME_WAIT owners that know
	 * their slot, in entry order, and they are all of them. */
	size_t in_ring = 0;
	const st_sock *prev_tw = NULL;
	if (net->tw_tail - net->tw_head > net->tw_cap)
		return fail(buf, len, "TIME_WAIT ring span exceeds its size", 0);
	for (uint64_t i = net->tw_head; i < net->tw_tail; i++) {
		const st_sock *t = net->tw_ring[i & (net->tw_cap - 1)];
		if (!t)
			continue;
		if (t->state != ST_TIME_WAIT || !sk_has(t, ST_F_HASHED) || t->tw_slot != (uint32_t)i)
			return fail(buf, len, "TIME_WAIT ring holds a record not in TIME_WAIT", t->lport);
		if (prev_tw && prev_tw->tw_since > t->tw_since)
			return fail(buf, len, "TIME_WAIT ring out of entry order", t->lport);
		prev_tw = t;
		in_ring++;
	}
	if (net->tw_head < net->tw_tail && !net->tw_ring[net->tw_head & (net->tw_cap - 1)])
		return fail(buf, len, "TIME_WAIT ring head is a hole", 0);
	if (in_ring != tw_owners)
		return fail(buf, len, "TIME_WAIT ring count wrong", 0);
	return 0;
}
