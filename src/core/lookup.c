/*
 * lookup.c - demultiplexing, the kernel's two-stage way.
 *
 * Stage one is the exact 4-tuple (ehash.c).  Stage two scores the
 * sockets bound to the packet's destination address, then those bound to
 * the wildcard; an exact-address socket always beats a wildcard one
 * because the wildcard chain is only looked at when the first finds
 * nothing (D-T1).  Within a chain the scan takes a socket only if its
 * score is strictly higher than the best so far, and stops at once when
 * that best has a SO_REUSEPORT group, which then picks the member (D-T5,
 * D-U5).  Because only the first socket of each class (chain.c) can win,
 * the scan below visits class heads sorted by chain position: the same
 * answer as the kernel's full scan in O(classes).
 *
 * The scoring functions are separate so that each rule can be tested
 * alone: score_tcp4/score_tcp6 (D-T3/D-T4) and score_udp4/score_udp6
 * (D-U2).  SO_INCOMING_CPU is not modelled (the core has no CPUs), so its
 * +1 never applies.
 */
#include "net_internal.h"

#include <stdio.h>

/* ---- scores of one class for one packet ---- */

static bool dev_ok(int32_t sk_dev, int32_t pkt_dev)
{
	return !sk_dev || sk_dev == pkt_dev;
}

/* Does a class of this kind/family receive packets of this IP version? */
static bool kind_receives(int kind, int family, int pkt_family, bool wildcard_stage)
{
	if (pkt_family == ST_AF_INET) {
		if (family == ST_AF_INET)
			return kind == K_V4SPEC || kind == K_V4ANY;
		/* AF_INET6: v4-mapped sockets, and `::` dual-stack in the
		 * wildcard stage; never V6ONLY ones. */
		return kind == K_V4SPEC || kind == K_V4ANY || (kind == K_DUALANY && wildcard_stage);
	}
	if (family != ST_AF_INET6)
		return false;
	return kind == K_V6SPEC || kind == K_V6ANYONLY || kind == K_DUALANY;
}

int st_score_tcp(int kind, int family, int32_t dev, const st_pkt *p, bool wildcard_stage, int *why);
int st_score_udp(int kind, int family, int32_t dev, const st_pkt *p, bool wildcard_stage, int *why);

/* D-T3 / D-T4. */
int st_score_tcp(int kind, int family, int32_t dev, const st_pkt *p, bool wildcard_stage, int *why)
{
	*why = 0;
	if (!kind_receives(kind, family, p->family, wildcard_stage)) {
		if (p->family == ST_AF_INET && kind == K_V6ANYONLY)
			*why |= ST_WHY_V6ONLY;
		return -1;
	}
	if (!dev_ok(dev, p->ifindex)) {
		*why |= ST_WHY_OTHER_DEVICE;
		return -1;
	}
	int score = 1;
	if (dev) {
		score++;
		*why |= ST_WHY_DEVICE;
	}
	if (p->family == ST_AF_INET && family == ST_AF_INET) {
		score++;
		*why |= ST_WHY_FAMILY_V4;
	}
	return score;
}

/* D-U2, for unconnected sockets (connected ones are found by 4-tuple). */
int st_score_udp(int kind, int family, int32_t dev, const st_pkt *p, bool wildcard_stage, int *why)
{
	*why = 0;
	if (!kind_receives(kind, family, p->family, wildcard_stage)) {
		if (p->family == ST_AF_INET && kind == K_V6ANYONLY)
			*why |= ST_WHY_V6ONLY;
		return -1;
	}
	if (!dev_ok(dev, p->ifindex)) {
		*why |= ST_WHY_OTHER_DEVICE;
		return -1;
	}
	int score;
	if (p->family == ST_AF_INET) {
		score = family == ST_AF_INET ? 2 : 1;
		if (family == ST_AF_INET)
			*why |= ST_WHY_FAMILY_V4;
		if (dev) {
			score += 4;
			*why |= ST_WHY_DEVICE;
		}
	} else {
		score = 0;
		if (dev) {
			score += 1;
			*why |= ST_WHY_DEVICE;
		}
	}
	return score;
}

static int add_cand(st_lookup_explain *ex, const st_sock *sk, int score, int why)
{
	if (ex && ex->ncand < ST_EXPLAIN_MAX_CANDIDATES) {
		ex->cand[ex->ncand].sk = sk;
		ex->cand[ex->ncand].score = score;
		ex->cand[ex->ncand].why = why;
		return ex->ncand++;
	}
	return -1;
}

static void mark_cand(st_lookup_explain *ex, int idx, int why)
{
	if (ex && idx >= 0)
		ex->cand[idx].why |= why;
}

/* The class whose head comes next in chain order after position `after`
 * (or the first when `first`).  Classes are few (one per device, kind and
 * family), so a selection by minimum costs less than sorting, and needs
 * no memory: a lookup cannot fail. */
static struct st_class *next_class(struct st_chain *c, bool first, int64_t after)
{
	struct st_class *next = NULL;
	for (uint32_t i = 0; i < c->ncls; i++) {
		struct st_class *cl = &c->cls[i];
		if (!cl->head || (!first && cl->head_pos <= after))
			continue;
		if (!next || cl->head_pos < next->head_pos)
			next = cl;
	}
	return next;
}

/* Scan one chain the kernel's way over its class heads: a socket is taken
 * only with a strictly higher score; a SO_REUSEPORT best-so-far consults
 * its group and returns at once (D-T5), except for a UDP group that ever
 * had a connected member, where scoring goes on (D-U5).  Parked
 * (connected UDP) sockets are not visited: they score -1 here. */
static st_sock *scan_chain(st_net *net, struct st_chain *c, const st_pkt *p, bool wildcard,
			   st_lookup_explain *ex)
{
	if (!c)
		return NULL;
	st_sock *result = NULL;
	int best = -1, best_idx = -1;
	int64_t pos = 0;
	for (struct st_class *cl = next_class(c, true, 0); cl; cl = next_class(c, false, pos)) {
		st_sock *sk = cl->head;
		pos = cl->head_pos;
		int why;
		int sc = p->proto == ST_TCP
				 ? st_score_tcp(cl->kind, cl->family, cl->dev, p, wildcard, &why)
				 : st_score_udp(cl->kind, cl->family, cl->dev, p, wildcard, &why);
		int idx = add_cand(ex, sk, sc < 0 ? -1 : sc, why);
		if (sc < 0)
			continue;
		if (sc <= best) {
			if (sc == best)
				mark_cand(ex, best_idx, ST_WHY_FIRST_IN_CHAIN);
			continue;
		}
		best = sc;
		best_idx = idx;
		/* The head's flag and group come from the class (head_rpg), so
		 * that a lookup answered by a group does not wait for the
		 * head's record and linkage before it can read the group. */
		if (cl->head_rpg) {
			st_sock *pick = rp_select(net, cl->head_rpg, sk, p, ex);
			if (pick) {
				mark_cand(ex, idx, ST_WHY_REUSEPORT);
				if (p->proto == ST_TCP || !cl->head_rpg->has_conns) {
					mark_cand(ex, idx, ST_WHY_EARLY_RETURN);
					return pick;
				}
				result = pick;
				continue;
			}
		}
		result = sk;
	}
	return result;
}

static st_sock *exact(st_net *net, st_ehash *e, const st_pkt *p)
{
	/* The first socket with the tuple and a device that is none or
	 * the arrival device (dev_ok), inlined in ehash.c. */
	(void)net;
	return st_ehash_lookup_pkt(e, p);
}

st_sock *st_lookup_established(st_net *net, const st_pkt *p)
{
	if (!net || !p)
		return NULL;
	return exact(net, &net->tcp_e, p);
}

void st_lookup_established_batch(st_net *net, const st_pkt *const *p, size_t n, st_sock **out)
{
	if (!out)
		return;
	/* A NULL net, array or entry finds nothing.  The pipeline (ehash.c)
	 * reads every key unchecked, so a batch holding a NULL goes one by
	 * one; the scan is a pointer test per key, small beside the hash. */
	bool one_by_one = !net || !p;
	for (size_t i = 0; i < n && !one_by_one; i++)
		one_by_one = p[i] == NULL;
	if (!one_by_one) {
		/* Pipelined: hash, prefetch the line, then the record (ehash.c). */
		st_ehash_lookup_batch(&net->tcp_e, p, n, out);
		return;
	}
	for (size_t i = 0; i < n; i++)
		out[i] = net && p && p[i] ? exact(net, &net->tcp_e, p[i]) : NULL;
}

static void describe_result(st_lookup_explain *ex, const st_sock *sk)
{
	if (!ex)
		return;
	char who[160];
	if (!sk) {
		snprintf(ex->text, sizeof(ex->text), "no socket matches: %s",
			 ex->ncand ? "no candidate was eligible" : "nothing is bound to this port");
		return;
	}
	sock_describe(sk, who, sizeof(who));
	const char *stage = ex->stage == ST_STAGE_ESTABLISHED ? "its exact 4-tuple"
			    : ex->stage == ST_STAGE_EXACT_ADDR ? "a socket bound to the destination address"
							       : "a wildcard socket";
	if (ex->group_first)
		snprintf(ex->text, sizeof(ex->text),
			 "reached %s through %s; its SO_REUSEPORT group of %u picked member %u "
			 "(hash %08x * %u >> 32)", who, stage, ex->group_size, ex->group_index, ex->hash,
			 ex->group_size);
	else
		snprintf(ex->text, sizeof(ex->text), "reached %s through %s", who, stage);
}

static st_sock *listener_stages(st_net *net, const st_pkt *p, st_lookup_explain *ex)
{
	st_addr key = p->daddr, any = st_addr_any6();
	st_sock *sk = NULL;
	if (!st_addr_is_any6(&key) && !st_addr_is_any4(&key)) {
		if (ex)
			ex->stage = ST_STAGE_EXACT_ADDR;
		sk = scan_chain(net, chain_find(net, p->proto, p->dport, &key), p, false, ex);
	}
	if (!sk) {
		if (ex)
			ex->stage = ST_STAGE_WILDCARD;
		sk = scan_chain(net, chain_find(net, p->proto, p->dport, &any), p, true, ex);
	}
	return sk;
}

st_sock *st_lookup_tcp(st_net *net, const st_pkt *p, st_lookup_explain *ex)
{
	if (ex)
		memset(ex, 0, sizeof(*ex));
	if (!net || !p)
		return NULL;
	st_sock *sk = exact(net, &net->tcp_e, p);
	if (sk) {
		if (ex)
			ex->stage = ST_STAGE_ESTABLISHED;
	} else {
		sk = listener_stages(net, p, ex);
		if (!sk && ex)
			ex->stage = ST_STAGE_NONE;
	}
	describe_result(ex, sk);
	return sk;
}

static bool newest_dev_match(st_sock *sk, void *ctx)
{
	/* Several UDP sockets may share a 4-tuple (C-U1).  The kernel's
	 * hash4 chain puts a socket at its head when it first connects and
	 * not when it re-connects (E18), so the socket whose connect() from
	 * the unconnected state came last receives. */
	void **c = ctx;
	const st_pkt *p = c[0];
	st_sock **best = (st_sock **)&c[1];
	if (dev_ok(sk->dev, p->ifindex) && (!*best || sk->x->conn_seq > (*best)->x->conn_seq))
		*best = sk;
	return false;
}

st_sock *st_lookup_udp(st_net *net, const st_pkt *p, st_lookup_explain *ex)
{
	if (ex)
		memset(ex, 0, sizeof(*ex));
	if (!net || !p)
		return NULL;
	void *ctx[2] = {(void *)p, NULL};
	uint64_t tag = st_ehash_tag(&net->udp_e, &p->daddr, p->dport, &p->saddr, p->sport);
	st_ehash_find(&net->udp_e, tag, &p->daddr, p->dport, &p->saddr, p->sport, newest_dev_match, ctx);
	if (!ctx[1] && p->sport) {
		/* A socket connected to port 0 takes any source port of its
		 * peer: compute_score checks inet_dport only when it is set.
		 * It scores above the unconnected sockets of its address (it
		 * matches the peer's address too), so it is looked for here. */
		tag = st_ehash_tag(&net->udp_e, &p->daddr, p->dport, &p->saddr, 0);
		st_ehash_find(&net->udp_e, tag, &p->daddr, p->dport, &p->saddr, 0, newest_dev_match, ctx);
	}
	st_sock *sk = ctx[1];
	if (sk) {
		if (ex)
			ex->stage = ST_STAGE_ESTABLISHED;
	} else {
		sk = listener_stages(net, p, ex);
		if (!sk && ex)
			ex->stage = ST_STAGE_NONE;
	}
	describe_result(ex, sk);
	return sk;
}

bool st_net_is_bcast_or_mcast(const st_net *net, const st_pkt *p)
{
	if (!net || !p)
		return false;
	if (st_addr_is_multicast(&p->daddr))
		return true;
	if (p->family != ST_AF_INET)
		return false;
	uint32_t d = st_addr_get_v4(&p->daddr);
	if (d == 0xffffffff)
		return true;
	st_route4 r;
	return st_net_route4(net, d, &r) == 0 && r.type == ST_RTN_BROADCAST;
}

/* __udp_is_mcast_sock for one socket. */
static bool mcast_match(const st_sock *sk, const st_pkt *p)
{
	if (sk->rport && (sk->rport != p->sport || !st_addr_equal(&sk->raddr, &p->saddr)))
		return false;
	if (!dev_ok(sk->dev, p->ifindex))
		return false;
	bool wildcard = sk->kind == K_V4ANY || sk->kind == K_DUALANY || sk->kind == K_V6ANYONLY;
	if (!wildcard && !st_addr_equal(&sk->laddr, &p->daddr))
		return false;
	return kind_receives(sk->kind, sk->family, p->family, true);
}

int st_lookup_udp_multi(st_net *net, const st_pkt *p, void (*fn)(st_sock *sk, void *ctx), void *ctx)
{
	if (!net || !p)
		return -EINVAL;
	struct st_portbkt *b = bkt_find(net, ST_UDP, p->dport);
	int n = 0;
	if (!b)
		return 0;
	/* Every owner of the port that matches gets a copy (D-U6), in the
	 * order the kernel walks the primary chain. */
	for (st_sock *sk = b->pr_head; sk; sk = sk->x->pr_next) {
		if (!mcast_match(sk, p))
			continue;
		n++;
		if (fn)
			fn(sk, ctx);
	}
	return n;
}
