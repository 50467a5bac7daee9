/*
 * connect.c - connect(), disconnect, accepted children, TCP state changes
 * and TIME_WAIT: everything that puts a socket in the 4-tuple table.
 *
 * TCP connect() picks the source address from the route (C-T6), then the
 * source port: a bound socket only checks 4-tuple uniqueness (C-T7); an
 * unbound one runs RFC 6056 algorithm 4 as Linux does (P-T7..P-T13): a
 * keyed hash of (source, destination, destination port) plus a counter
 * from a 65536-entry perturbation table gives a start offset, ports of the
 * range's low parity are tried first, and a port is usable if nobody holds
 * it, or if only connect() holds it and this 4-tuple is free (or in a
 * reusable TIME_WAIT, T-4).
 *
 * Linux walks the range one candidate at a time, which costs it ~0.6 ms
 * per connect near exhaustion.  Here the walk jumps 64 ports at a time
 * over bitmaps: ports held by bind() ("taken"), ports held only by
 * connect() ("conly"), reserved ports, and, per destination that already
 * has many connections, the ports it uses.  The order of candidates, and
 * so the port chosen, is exactly the one-at-a-time order.
 *
 * UDP connect() autobinds (the port stays taken even if the connect then
 * fails, as on Linux), chooses a source address for a wildcard-bound
 * socket and re-hashes it, records the peer and enters the 4-tuple table
 * (6.13+ hash4), leaving its reuseport group (D-U9).
 */
#include "net_internal.h"

#include <stdio.h>

enum { TW_LEN_NS = 60ull * 1000000000ull, DEST_BITMAP_AT = 16 };

/* A destination's `used` block: the port bitmap (1024 words), then per
 * parity (even, odd) a 1024-bit summary whose bit w says that word w of
 * the bitmap holds every port of that parity, so that the port search
 * near exhaustion skips 64 words per step instead of one. */
enum { DEST_BITS = 1024, DEST_FULL = 1024, DEST_WORDS = 1024 + 2 * 16 };

static void dest_used_set(uint64_t *used, int port, bool on)
{
	int w = port >> 6;
	uint64_t bit = 1ULL << (port & 63);
	used[w] = on ? used[w] | bit : used[w] & ~bit;
	uint64_t sb = 1ULL << (w & 63);
	for (int par = 0; par < 2; par++) {
		uint64_t pm = par ? 0xaaaaaaaaaaaaaaaaULL : 0x5555555555555555ULL;
		uint64_t *f = &used[DEST_FULL + par * 16 + (w >> 6)];
		*f = (used[w] & pm) == pm ? *f | sb : *f & ~sb;
	}
}

/* ---- destinations of connect()-bound TCP sockets ---------------------- */

static st_hkey dest_key(const st_addr *la, const st_addr *ra, uint16_t rp)
{
	st_hkey k;
	memset(&k, 0, sizeof(k));
	k.type = HT_DEST;
	k.proto = ST_TCP;
	k.addr = *la;
	k.addr2 = *ra;
	k.port2 = rp;
	return k;
}

static struct st_dest *dest_find(st_net *net, const st_addr *la, const st_addr *ra, uint16_t rp)
{
	st_hkey k = dest_key(la, ra, rp);
	return (struct st_dest *)st_htab_find(&net->h, &k, st_htab_hash(&net->h, &k));
}

/* Reserve a dest record (and its bitmap when it is about to need one). */
static int dest_prepare(st_net *net, const st_sock *sk, struct st_dest **out, bool *created,
			uint64_t **bits)
{
	struct st_dest *d = dest_find(net, &sk->laddr, &sk->raddr, sk->rport);
	*created = false;
	*bits = NULL;
	if (!d) {
		d = st_calloc(1, sizeof(*d));
		if (!d)
			return -ENOMEM;
		*created = true;
	}
	if (!d->used && d->n + 1 >= DEST_BITMAP_AT) {
		*bits = st_calloc(DEST_WORDS, sizeof(uint64_t));
		if (!*bits) {
			if (*created)
				st_free(d);
			return -ENOMEM;
		}
	}
	*out = d;
	return 0;
}

static void dest_abort(struct st_dest *d, bool created, uint64_t *bits)
{
	st_free(bits);
	if (created)
		st_free(d);
}

static void dest_add(st_net *net, st_sock *sk, struct st_dest *d, bool created, uint64_t *bits)
{
	if (created) {
		st_hkey k = dest_key(&sk->laddr, &sk->raddr, sk->rport);
		st_htab_insert(&net->h, &d->h, &k, st_htab_hash(&net->h, &k));
	}
	if (bits) {
		/* Fill the new bitmap from the 4-tuple table: the ports in
		 * use toward this destination are exactly its entries. */
		d->used = bits;
		for (int w = 0; w < 1024; w++) {
			uint64_t m = net->conly[0][w] | net->taken[0][w];
			while (m) {
				int port = w * 64 + __builtin_ctzll(m);
				m &= m - 1;
				uint64_t tag = st_ehash_tag(&net->tcp_e, &sk->laddr, (uint16_t)port,
							    &sk->raddr, sk->rport);
				if (st_ehash_find(&net->tcp_e, tag, &sk->laddr, (uint16_t)port,
						  &sk->raddr, sk->rport, NULL, NULL))
					dest_used_set(d->used, port, true);
			}
		}
	}
	d->n++;
	if (d->used)
		dest_used_set(d->used, sk->lport, true);
}

static bool not_self(st_sock *o, void *self)
{
	return o != self;
}

void conn_dest_del(st_net *net, st_sock *sk)
{
	struct st_dest *d = dest_find(net, &sk->laddr, &sk->raddr, sk->rport);
	if (!d)
		return;
	d->n--;
	if (d->used) {
		/* Another socket may still use the port toward d (bound to a
		 * device, or TIME_WAIT about to be taken over): recheck. */
		uint64_t tag = st_ehash_tag(&net->tcp_e, &sk->laddr, sk->lport, &sk->raddr, sk->rport);
		if (!st_ehash_find(&net->tcp_e, tag, &sk->laddr, sk->lport, &sk->raddr, sk->rport,
				   not_self, sk))
			dest_used_set(d->used, sk->lport, false);
	}
	if (d->n == 0) {
		st_htab_remove(&net->h, &d->h);
		st_free(d->used);
		st_free(d);
	}
}

/* ---- 4-tuple checks --------------------------------------------------- */

static bool is_loopback_tw(const st_sock *tw)
{
	return tw->dev == ST_IFINDEX_LO || st_addr_is_loopback(&tw->laddr) ||
	       st_addr_is_loopback(&tw->raddr);
}

/* T-4: may `sk` take over this TIME_WAIT?  `explicit_port` is the
 * kernel's twp == NULL (the socket already had its port). */
static bool tw_reusable(st_net *net, const st_sock *tw, bool explicit_port)
{
	if (!sk_has(tw, ST_F_TW_TS))
		return false;
	if (explicit_port)
		return true;
	int reuse = st_conf_get(st_net_conf(net), ST_SYSCTL_TCP_TW_REUSE);
	if (reuse == 0 || (reuse == 2 && !is_loopback_tw(tw)))
		return false;
	/* 6.14+: time_after32(tcp_clock_ms(), tw_entry_stamp + delay), both
	 * sides in whole milliseconds. */
	uint64_t delay = (uint64_t)st_conf_get(st_net_conf(net), ST_SYSCTL_TCP_TW_REUSE_DELAY);
	return net->now / 1000000ull > tw->tw_since / 1000000ull + delay;
}

struct tuple_ctx {
	int32_t dev;
	const st_sock *self;
};

static bool tuple_dev_match(st_sock *o, void *vctx)
{
	struct tuple_ctx *c = vctx;
	return o != c->self && dev_compatible(o->dev, c->dev);
}

/* __inet_check_established: 0 if the 4-tuple is free, 1 if it is held by
 * a TIME_WAIT we may take over (*tw set), -EADDRNOTAVAIL otherwise (*tw
 * is then the socket that holds it). */
static int check_established(st_net *net, const st_sock *sk, const st_addr *la, uint16_t lp,
			     bool explicit_port, st_sock **tw)
{
	struct tuple_ctx c = {sk->dev, sk};
	uint64_t tag = st_ehash_tag(&net->tcp_e, la, lp, &sk->raddr, sk->rport);
	st_sock *o = st_ehash_find(&net->tcp_e, tag, la, lp, &sk->raddr, sk->rport, tuple_dev_match, &c);
	*tw = o;
	if (!o)
		return 0;
	if (o->state == ST_TIME_WAIT && tw_reusable(net, o, explicit_port))
		return 1;
	return -EADDRNOTAVAIL;
}

static void tw_kill(st_net *net, st_sock *tw)
{
	st_close(net, tw);
	if (net->ops.tw_reclaimed)
		net->ops.tw_reclaimed(tw, net->ops.ctx);
}

/* ---- ephemeral port search (P-T7..P-T13) ------------------------------ */

static uint64_t port_offset(st_net *net, const st_addr *la, const st_addr *ra, uint16_t rp)
{
	struct {
		st_addr la, ra;
		uint16_t rp;
	} k;
	memset(&k, 0, sizeof(k));
	k.la = *la;
	k.ra = *ra;
	k.rp = rp;
	return st_siphash(&net->k_port, &k, sizeof(k));
}

static uint64_t reserved_word(const st_net *net, int w)
{
	uint64_t v;
	memcpy(&v, &st_net_conf_c(net)->reserved_ports[w * 8], 8);
	return v;
}

/* Is port p a candidate worth a closer look?  Mirrors the word mask below. */
struct search {
	st_net *net;
	st_sock *sk;
	const st_addr *la;
	struct st_dest *dest;
	st_sock *tw;
};

static bool try_port(struct search *s, int port)
{
	int w = port >> 6;
	uint64_t bit = 1ULL << (port & 63);
	if (s->net->taken[0][w] & bit)
		return false;
	if (!(s->net->conly[0][w] & bit))
		return true; /* no bucket at all */
	if (s->dest && s->dest->used && (s->dest->used[w] & bit))
		return false;
	st_sock *tw;
	int r = check_established(s->net, s->sk, s->la, (uint16_t)port, false, &tw);
	if (r < 0)
		return false;
	s->tw = r ? tw : NULL;
	return true;
}

/* Mask of ports in word w that cannot be usable. */
static uint64_t blocked_word(struct search *s, int w)
{
	uint64_t m = s->net->taken[0][w] | reserved_word(s->net, w);
	if (s->dest && s->dest->used)
		m |= s->net->conly[0][w] & s->dest->used[w];
	return m;
}

/* Next candidate at or after `port` with the same parity when step is
 * 2, below `limit`; -1 if none.  Skips whole words of blocked ports. */
static int next_candidate(struct search *s, int port, int limit, int step)
{
	int parity = port & 1;
	const uint64_t *used = s->dest && !st_ports_reference ? s->dest->used : NULL;
	while (port < limit) {
		int w = port >> 6;
		if (used) {
			/* Every port the destination uses is blocked (its bucket
			 * is taken or connect-only and the tuple is in use), so a
			 * word full of them is skipped; runs of such words at
			 * once.  With step 1 both parities must be full. */
			uint64_t full = used[DEST_FULL + parity * 16 + (w >> 6)];
			if (step == 1)
				full &= used[DEST_FULL + (parity ^ 1) * 16 + (w >> 6)];
			full >>= (w & 63);
			if (full & 1) {
				int run = full == ~0ULL >> (w & 63) ? 64 - (w & 63) : __builtin_ctzll(~full);
				port = (w + run) * 64 + (step == 2 ? parity : 0);
				continue;
			}
		}
		uint64_t ok = ~blocked_word(s, w);
		ok &= ~0ULL << (port & 63);
		if (step == 2)
			ok &= parity ? 0xaaaaaaaaaaaaaaaaULL : 0x5555555555555555ULL;
		if (ok) {
			int c = w * 64 + __builtin_ctzll(ok);
			return c < limit ? c : -1;
		}
		port = (w + 1) * 64 + (step == 2 ? parity : 0);
	}
	return -1;
}

/* Is any port of low's parity in [low, rend) usable? */
static bool parity_usable(struct search *s, int low, int rend)
{
	for (int p = next_candidate(s, low, rend, 2); p >= 0; p = next_candidate(s, p + 2, rend, 2))
		if (try_port(s, p))
			return true;
	return false;
}

static int hash_connect_search(st_net *net, st_sock *sk, const st_addr *la, uint16_t *port_out,
			       st_sock **tw_out, uint32_t *i_out, uint32_t *index_out, int *step_out)
{
	int low, high;
	st_conf_port_range(st_net_conf(net), &low, &high);
	/* inet_sk_get_local_port_range: each bound of IP_LOCAL_PORT_RANGE
	 * inside the netns range replaces it, and the socket counts as
	 * having a local range whenever the option is set at all -- even
	 * when both bounds fall outside and are ignored (E13n: range
	 * 1000-2000 against 20000-30000 still gave both parities). */
	bool local = sk->port_range != 0;
	uint32_t slo = sk->port_range & 0xffff, shi = sk->port_range >> 16;
	if (slo && (int)slo >= low && (int)slo <= high)
		low = (int)slo;
	if (shi && (int)shi >= low && (int)shi <= high)
		high = (int)shi;
	int step = local ? 1 : 2;
	*step_out = step;
	high++;
	uint32_t remaining = (uint32_t)(high - low);
	if (!local && remaining > 1)
		remaining &= ~1U;
	uint64_t po = port_offset(net, la, &sk->raddr, sk->rport);
	uint32_t index = (uint32_t)(po & 65535);
	uint32_t offset = (uint32_t)((net->perturb[index] + (po >> 32)) % remaining);
	if (!local)
		offset &= ~1U;
	struct search s = {net, sk, la, dest_find(net, la, &sk->raddr, sk->rport), NULL};
	int rend = low + (int)remaining; /* ports used are [low, rend) */
	if (hint_pending(net)) {
		/* Linux's choice is legal if it is usable and, without a
		 * socket port range, of the range's first parity or no port
		 * of that parity was usable. */
		int h = net->hint_port;
		const char *why = NULL;
		if (h < low || h >= rend)
			why = "the port is outside the ephemeral port range";
		else if (st_net_port_is_reserved(net, (uint16_t)h))
			why = "the port is reserved (ip_local_reserved_ports)";
		else if (step == 2 && ((h - low) & 1) && parity_usable(&s, low, rend))
			why = "a port of the range's first parity, which Linux tries first, was usable";
		else if (!try_port(&s, h))
			why = "the port is not usable for this 4-tuple (held by bind(), or the 4-tuple is taken)";
		if (!why) {
			hint_take(net);
			*port_out = (uint16_t)h;
			*tw_out = s.tw;
			*i_out = 0;
			*index_out = index;
			return 0;
		}
		hint_refuse(net, why);
	}
other_parity:;
	int start = low + (int)offset;
	/* Candidates: start, start+step, ... up to rend, then wrap to
	 * low + (start - low) % step ... up to start.  Visit in two runs. */
	for (int run = 0; run < 2; run++) {
		int from = run == 0 ? start : low + ((start - low) % step);
		int to = run == 0 ? rend : start;
		int p = from;
		while (p >= 0 && p < to) {
			p = next_candidate(&s, p, to, step);
			if (p < 0)
				break;
			if (try_port(&s, p)) {
				*port_out = (uint16_t)p;
				*tw_out = s.tw;
				/* i = candidates skipped, as the kernel counts it. */
				uint32_t dist = (uint32_t)(run == 0 ? p - start : (rend - start) + (p - low));
				*i_out = dist;
				*index_out = index;
				return 0;
			}
			p += step;
		}
	}
	if (!local) {
		offset++;
		if ((offset & 1) && remaining > 1)
			goto other_parity;
	}
	return -EADDRNOTAVAIL;
}

/* ---- routes and addresses --------------------------------------------- */

struct route_choice {
	st_addr src;    /* chosen source */
	st_addr dst;    /* destination after the 0.0.0.0 rewrite */
	int ifindex;
	int32_t dev;    /* the socket's device afterwards: a scope id binds it */
};

static int route_v4(st_net *net, const st_sock *sk, uint32_t dst, bool is_udp, struct route_choice *rc)
{
	uint32_t bound = sk->kind == K_V4SPEC ? st_addr_get_v4(&sk->laddr) : 0;
	/* ip_route_output_key_hash_rcu checks the source before anything
	 * else: an address bound with IP_FREEBIND that is not local is
	 * refused (only IP_TRANSPARENT sets FLOWI_FLAG_ANYSRC).  A multicast
	 * or broadcast binding has no source of its own (inet_saddr 0). */
	if (bound && !sk_has(sk, ST_F_TRANSPARENT) && (bound >> 28) != 0xe && bound != 0xffffffff) {
		st_route4 sr;
		if (st_net_route4(net, bound, &sr) < 0 ||
		    (sr.type != ST_RTN_LOCAL && sr.type != ST_RTN_BROADCAST))
			return -ENETUNREACH;
	}
	if (dst == 0)
		dst = bound ? bound : 0x7f000001;
	st_route4 r;
	if (dst == 0xffffffff) {
		r.type = ST_RTN_BROADCAST;
		r.ifindex = ST_IFINDEX_LO;
		r.prefsrc = 0x7f000001;
	} else if ((dst >> 28) == 0xe) {
		if (!is_udp)
			return -ENETUNREACH;
		r.type = ST_RTN_UNICAST;
		r.ifindex = ST_IFINDEX_LO;
		r.prefsrc = 0x7f000001;
	} else if (st_net_route4(net, dst, &r) < 0) {
		return -ENETUNREACH;
	}
	/* __mkroute_output: a loopback source may not leave by a real
	 * device (a UDP socket connected to 127.0.0.1 before keeps that
	 * source). */
	if ((bound >> 24) == 127 && r.type != ST_RTN_LOCAL && r.ifindex != ST_IFINDEX_LO)
		return -EINVAL;
	if (r.type == ST_RTN_BROADCAST && !is_udp)
		return -ENETUNREACH;
	if (r.type == ST_RTN_BROADCAST && is_udp && !sk_has(sk, ST_F_BROADCAST))
		return -EACCES;
	rc->dst = st_addr_v4(dst);
	uint32_t src = bound;
	if (!src) {
		src = r.prefsrc;
		if (!src && r.type == ST_RTN_LOCAL)
			src = dst;
		if (!src)
			return -EADDRNOTAVAIL;
	}
	rc->src = st_addr_v4(src);
	rc->ifindex = r.ifindex;
	rc->dev = sk->dev;
	return 0;
}

static int route_v6(st_net *net, const st_sock *sk, const st_sockaddr *sa, int addrlen,
		    struct route_choice *rc)
{
	st_addr dst = sa->addr;
	if (st_addr_is_any6(&dst)) {
		memset(&dst, 0, sizeof(dst));
		dst.b[15] = 1;
	}
	if (st_addr_is_multicast(&dst) && sk->proto == ST_TCP)
		return -ENETUNREACH;
	int dev = sk->dev;
	if (st_addr_needs_scope(&dst)) {
		uint32_t scope = addrlen >= ST_SOCKADDR_IN6_LEN ? sa->scope_id : 0;
		if (scope && dev && (int)scope != dev)
			return -EINVAL;
		if (scope)
			dev = (int)scope;
		if (!dev)
			return -EINVAL;
	}
	st_addr src;
	int oif;
	if (st_net_route6(net, &dst, dev, &src, &oif) < 0)
		return -ENETUNREACH;
	rc->dst = dst;
	rc->src = sk->kind == K_V6SPEC ? sk->laddr : src;
	rc->ifindex = oif;
	/* tcp_v6_connect / __ip6_datagram_connect: the scope id of a
	 * link-local destination becomes the socket's bound device (E20). */
	rc->dev = dev;
	return 0;
}

/* Validate the address and choose route and source.  Returns the family
 * of the connection (ST_AF_INET for v4 and v4-mapped). */
static int connect_route(st_net *net, st_sock *sk, const st_sockaddr *sa, int addrlen,
			 struct route_choice *rc, st_explain *ex)
{
	bool udp = sk->proto == ST_UDP;
	if (sk->family == ST_AF_INET) {
		if (addrlen < ST_SOCKADDR_IN_LEN) {
			explain_set(ex, -EINVAL, ST_RULE_ARG_LEN, NULL, "address too short");
			return -EINVAL;
		}
		if (sa->family != ST_AF_INET) {
			explain_set(ex, -EAFNOSUPPORT, ST_RULE_ARG_FAMILY, NULL, "not an AF_INET address");
			return -EAFNOSUPPORT;
		}
		int err = route_v4(net, sk, st_addr_get_v4(&sa->addr), udp, rc);
		if (err)
			explain_set(ex, err, err == -EACCES ? ST_RULE_BROADCAST_DENIED : ST_RULE_UNREACHABLE,
				    NULL, err == -EACCES ? "broadcast destination without SO_BROADCAST"
							 : "no route, or a broadcast/multicast destination");
		return err;
	}
	/* IPv6 socket. */
	st_sockaddr v6 = *sa;
	if (udp && sa->family == ST_AF_INET) {
		if (addrlen < ST_SOCKADDR_IN_LEN) {
			explain_set(ex, -EINVAL, ST_RULE_ARG_LEN, NULL, "address too short");
			return -EINVAL;
		}
		if (sk_has(sk, ST_F_V6ONLY)) {
			explain_set(ex, -EAFNOSUPPORT, ST_RULE_ARG_FAMILY, NULL, "AF_INET address on an IPV6_V6ONLY socket");
			return -EAFNOSUPPORT;
		}
		v6.family = ST_AF_INET6;
		v6.addr = st_addr_v4(st_addr_get_v4(&sa->addr));
		addrlen = ST_SOCKADDR_IN6_LEN;
	}
	if (addrlen < ST_SOCKADDR_IN6_LEN_RFC2133) {
		explain_set(ex, -EINVAL, ST_RULE_ARG_LEN, NULL, "address too short");
		return -EINVAL;
	}
	if (v6.family != ST_AF_INET6) {
		explain_set(ex, -EAFNOSUPPORT, ST_RULE_ARG_FAMILY, NULL, "not an AF_INET6 address");
		return -EAFNOSUPPORT;
	}
	/* A v4-mapped local address, ::ffff:0.0.0.0 included (bound, or set
	 * by an earlier UDP connect), makes :: mean 127.0.0.1 and keeps the
	 * socket off native IPv6 destinations (tcp_v6_connect,
	 * __ip6_datagram_connect). */
	bool mapped_src = st_addr_is_v4mapped(&sk->laddr);
	if (st_addr_is_any6(&v6.addr) && mapped_src)
		v6.addr = st_addr_v4(0x7f000001);
	if (st_addr_is_v4mapped(&v6.addr)) {
		if (sk_has(sk, ST_F_V6ONLY)) {
			explain_set(ex, -ENETUNREACH, ST_RULE_UNREACHABLE, NULL,
				    "a v4-mapped destination is unreachable from an IPV6_V6ONLY socket");
			return -ENETUNREACH;
		}
		int err = route_v4(net, sk, st_addr_get_v4(&v6.addr), udp, rc);
		if (err)
			explain_set(ex, err, ST_RULE_UNREACHABLE, NULL, "no IPv4 route");
		return err;
	}
	int err = route_v6(net, sk, &v6, addrlen, rc);
	if (err) {
		explain_set(ex, err, err == -EINVAL ? ST_RULE_SCOPE_REQUIRED : ST_RULE_UNREACHABLE, NULL,
			    err == -EINVAL ? "a link-local destination needs a scope or device"
					   : "no IPv6 route");
		return err;
	}
	/* The route is looked up first; only then does ip6_dst_lookup_tail
	 * refuse a v4-mapped source for a native destination. */
	if (mapped_src) {
		explain_set(ex, -EAFNOSUPPORT, ST_RULE_ARG_FAMILY, NULL,
			    "a socket with a v4-mapped local address cannot reach an IPv6 destination");
		return -EAFNOSUPPORT;
	}
	return 0;
}

/* ---- TCP connect ------------------------------------------------------- */

static int ehash_add(st_net *net, st_sock *sk)
{
	st_ehash *e = sk->proto == ST_TCP ? &net->tcp_e : &net->udp_e;
	st_ehash_insert(e, sk);
	sk->flags |= ST_F_EHASHED;
	return 0;
}

/* Move a hashed socket to another local address and/or device (same
 * port), keeping its place in the port's primary order; a socket in a
 * lookup chain goes to the head of its new chain.  All memory was
 * reserved in p/nc. */
void sock_rehash_addr(st_net *net, st_sock *sk, const st_addr *newaddr, int newkind,
		      int32_t dev, st_owner_prep *p, struct st_chain *nc)
{
	bool lh = sk_has(sk, ST_F_LHASHED);
	if (lh)
		chain_unlink(net, sk);
	owner_move(net, sk, newaddr, newkind, dev, p);
	if (lh && nc)
		chain_link(net, sk, nc, false);
}

static int tcp_connect(st_net *net, st_sock *sk, const st_sockaddr *sa, int addrlen, st_explain *ex)
{
	if (sk->state == ST_SYN_SENT) {
		explain_set(ex, -EALREADY, ST_RULE_BAD_STATE, NULL, "a connect is already in progress");
		return -EALREADY;
	}
	if (sk->state != ST_CLOSE) {
		explain_set(ex, -EISCONN, ST_RULE_BAD_STATE, NULL, "the socket is already connected or listening");
		return -EISCONN;
	}
	struct route_choice rc;
	int err = connect_route(net, sk, sa, addrlen, &rc, ex);
	if (err)
		return err;
	/* The family of the addresses as stored: a dual-stack socket keeps
	 * v4-mapped addresses, which is what st_addr is anyway. */
	st_sock probe = *sk;
	probe.raddr = rc.dst;
	probe.rport = sa->port;
	probe.dev = rc.dev;
	st_addr src = rc.src;
	int newkind = kind_of(sk->family, &src, sk_has(sk, ST_F_V6ONLY));
	bool had_port = sk_has(sk, ST_F_HASHED);
	uint16_t port = sk->lport;
	st_sock *tw = NULL;
	uint32_t skipped = 0, pindex = 0;
	int step = 2;
	if (had_port) {
		int r = check_established(net, &probe, &src, port, true, &tw);
		if (r < 0) {
			char who[160];
			sock_describe(tw, who, sizeof(who));
			if (tw->state == ST_TIME_WAIT)
				explain_set(ex, -EADDRNOTAVAIL, ST_RULE_TIMEWAIT_NOT_REUSABLE, tw,
					    "connect() refused: %s holds this 4-tuple and recorded no "
					    "peer timestamp, so it cannot be taken over", who);
			else
				explain_set(ex, -EADDRNOTAVAIL, ST_RULE_TUPLE_IN_USE, tw,
					    "connect() refused: %s already uses this 4-tuple", who);
			return -EADDRNOTAVAIL;
		}
		if (r == 0)
			tw = NULL;
	} else {
		probe.laddr = src;
		err = hash_connect_search(net, &probe, &src, &port, &tw, &skipped, &pindex, &step);
		if (err) {
			explain_set(ex, err, ST_RULE_PORT_EXHAUSTED, NULL,
				    "no port of the range gives a free 4-tuple toward this destination");
			return err;
		}
	}
	/* Reserve everything, then commit. */
	st_owner_prep p;
	bool need_owner = !had_port || !st_addr_equal(&src, &sk->laddr) || rc.dev != sk->dev;
	if (need_owner) {
		st_sock tmp = *sk;
		tmp.lport = port;
		tmp.dev = rc.dev;
		err = owner_prepare(net, &tmp, ST_TCP, port, newkind, &src, rc.dev, &p);
		if (err)
			return err;
	}
	struct st_dest *d = NULL;
	bool dc = false;
	uint64_t *bits = NULL;
	if (!had_port) {
		st_sock tmp = probe;
		tmp.laddr = src;
		err = dest_prepare(net, &tmp, &d, &dc, &bits);
		if (err) {
			if (need_owner)
				owner_abort(net, &p);
			return err;
		}
	}
	err = st_ehash_reserve(&net->tcp_e, sk);
	if (err) {
		if (d)
			dest_abort(d, dc, bits);
		if (need_owner)
			owner_abort(net, &p);
		return err;
	}
	sk->raddr = probe.raddr;
	sk->rport = probe.rport;
	if (had_port) {
		if (need_owner)
			sock_rehash_addr(net, sk, &src, newkind, rc.dev, &p, NULL);
		sk->flags |= ST_F_ASSIGNED_SRC * !sk_has(sk, ST_F_BINDADDR_LOCK);
	} else {
		sk->lport = port;
		sk->laddr = src;
		sk->kind = (uint8_t)newkind;
		sk->dev = rc.dev;
		sk->flags |= ST_F_CONNECT_BIND | ST_F_ASSIGNED_SRC;
		struct st_portbkt *b = p.bkt;
		bool fresh = p.new_bkt;
		owner_link(net, sk, &p);
		if (fresh) {
			b->fastreuse = -1;
			b->fastreuseport = -1;
			bkt_mark(net, ST_TCP, port, b);
		}
		/* table_perturb[index] += max(i, random(0..7) * step) + step */
		uint32_t r = st_rand_below(net, 8) * (uint32_t)step;
		net->perturb[pindex] += (skipped > r ? skipped : r) + (uint32_t)step;
	}
	sk->state = ST_SYN_SENT;
	sk->stale_lport = 0;
	ehash_add(net, sk);
	if (d)
		dest_add(net, sk, d, dc, bits);
	/* The TIME_WAIT goes last, as in __inet_hash_connect (its bind
	 * unhash follows the new socket's bind hash): it may be the only
	 * other owner of the port bucket, of the aggregates and of the
	 * destination record that were prepared above, and must not free
	 * them before the new socket holds them. */
	if (tw)
		tw_kill(net, tw);
	explain_set(ex, 0, ST_RULE_NONE, NULL, "connecting");
	return 0;
}

/* Drop what a TCP connect took: back to CLOSE, unhash, release an
 * automatic port, and, for a disconnect, reset an address bind() did not
 * lock (C-T9, C-T11).  The reset writes 0.0.0.0 or :: by the socket's
 * family (the kernel's inet_reset_saddr); an AF_INET6 socket bound to
 * ::ffff:0.0.0.0 holds the address lock and keeps what connect() chose
 * (E12).  A refused SYN alone (tcp_done) does not reset the address: that
 * is done by the disconnect connect() performs when it reports the
 * failure (E21).  The one allocation (aggregates for the reset address)
 * is made first, so on -ENOMEM nothing has changed. */
static int tcp_unconnect(st_net *net, st_sock *sk, bool reset_addr)
{
	/* The port goes back with the move to CLOSE (tcp_set_state), so a
	 * socket already closed -- a failed connect being reported, after
	 * which a bind(port 0) may have given it a port again -- keeps the
	 * one it holds. */
	bool release = sk_has(sk, ST_F_HASHED) && !sk_has(sk, ST_F_BINDPORT_LOCK) &&
		       sk->state != ST_CLOSE;
	bool reset = reset_addr && !sk_has(sk, ST_F_BINDADDR_LOCK);
	st_addr any = sock_unbound_addr(sk);
	int nk = kind_of(sk->family, &any, sk_has(sk, ST_F_V6ONLY));
	bool move = reset && !release && sk_has(sk, ST_F_HASHED) && !st_addr_equal(&any, &sk->laddr);
	st_owner_prep p;
	if (move) {
		int err = owner_prepare(net, sk, ST_TCP, sk->lport, nk, &any, sk->dev, &p);
		if (err)
			return err;
	}
	if (sk_has(sk, ST_F_EHASHED)) {
		if (sk_has(sk, ST_F_CONNECT_BIND))
			conn_dest_del(net, sk);
		st_ehash_remove(&net->tcp_e, sk);
		sk->flags &= ~ST_F_EHASHED;
	}
	if (sk->state == ST_TIME_WAIT)
		tw_ring_remove(net, sk);
	if (sk->state == ST_LISTEN) {
		rp_leave(net, sk);
		chain_unlink(net, sk);
		sockx_put(net, sk);
	}
	if (sk_has(sk, ST_F_HASHED)) {
		owner_uncount(net, sk);
		sk->state = ST_CLOSE;
		owner_count(net, sk);
	}
	sk->state = ST_CLOSE;
	if (release) {
		sk->stale_lport = sk->lport;
		port_release(net, sk);
		sk->lport = 0;
	}
	if (move) {
		sock_rehash_addr(net, sk, &any, nk, sk->dev, &p, NULL);
	} else if (reset && !sk_has(sk, ST_F_HASHED)) {
		sk->laddr = any;
		sk->kind = K_NONE;
	}
	if (reset)
		sk->flags &= ~ST_F_ASSIGNED_SRC;
	sk->raddr = sock_unbound_addr(sk);
	sk->rport = 0;
	return 0;
}

int st_connect_failed(st_net *net, st_sock *sk)
{
	if (!net || !sk || sk->proto != ST_TCP || sk->state != ST_SYN_SENT)
		return -EINVAL;
	return tcp_unconnect(net, sk, false);
}

/* ---- UDP connect ------------------------------------------------------- */

static int udp_connect(st_net *net, st_sock *sk, const st_sockaddr *sa, int addrlen, st_explain *ex)
{
	/* An unbound socket is autobound first (C-U2): EAGAIN when no port
	 * is free, and the port stays taken even if the route then fails,
	 * as on Linux.  Memory for the autobind and for the connect itself
	 * is reserved before either is committed, so -ENOMEM changes
	 * nothing. */
	st_take_prep tp;
	bool autobind = !sk_has(sk, ST_F_HASHED);
	st_sock cur = *sk; /* the socket as it is after the autobind */
	int err;
	if (autobind) {
		int kind = kind_of(sk->family, &sk->laddr, sk_has(sk, ST_F_V6ONLY));
		uint16_t port;
		if (udp_find_port(net, sk, kind, &sk->laddr, &port)) {
			explain_set(ex, -EAGAIN, ST_RULE_PORT_EXHAUSTED, NULL,
				    "no free UDP port for the automatic bind");
			return -EAGAIN;
		}
		cur.lport = port;
		cur.kind = (uint8_t)kind;
	}
	struct route_choice rc;
	int rerr = connect_route(net, &cur, sa, addrlen, &rc, ex);
	bool wildcard = cur.kind == K_V4ANY || cur.kind == K_DUALANY || cur.kind == K_V6ANYONLY;
	if (autobind) {
		/* A device the connect binds (a scope id, E20) is folded into
		 * the autobind of a socket on a specific address; a wildcard
		 * socket moves with its re-hash below. */
		st_sock ab = *sk;
		if (!rerr && !wildcard)
			ab.dev = rc.dev;
		err = port_take_prepare(net, &ab, cur.lport, cur.kind, &sk->laddr, &tp);
		if (err) {
			explain_set(ex, -ENOMEM, ST_RULE_NOMEM, NULL, "out of memory");
			return err;
		}
		cur.dev = ab.dev;
		if (rerr) {
			port_take_commit(net, sk, &tp, false);
			return rerr;
		}
	} else if (rerr) {
		return rerr;
	}
	st_addr src = wildcard ? rc.src : cur.laddr;
	int newkind = kind_of(sk->family, &src, sk_has(sk, ST_F_V6ONLY));
	bool devchange = rc.dev != cur.dev;
	st_owner_prep p;
	struct st_chain *nc = NULL;
	bool ncc = false;
	err = 0;
	if (wildcard || devchange) {
		st_sock tmp = cur;
		tmp.laddr = src;
		tmp.kind = (uint8_t)newkind;
		tmp.dev = rc.dev;
		err = owner_prepare(net, &tmp, ST_UDP, cur.lport, newkind, &src, rc.dev, &p);
		if (!err) {
			err = chain_prepare(net, &tmp, &nc, &ncc);
			if (err)
				owner_abort(net, &p);
		}
	}
	if (!err) {
		err = st_ehash_reserve(&net->udp_e, sk);
		if (err && (wildcard || devchange)) {
			chain_abort(net, nc, ncc);
			owner_abort(net, &p);
		}
	}
	if (err) {
		if (autobind)
			port_take_abort(net, &tp);
		explain_set(ex, err, ST_RULE_NOMEM, NULL, "out of memory");
		return err;
	}
	if (autobind) {
		sk->dev = cur.dev;
		port_take_commit(net, sk, &tp, false);
	}
	if (sk_has(sk, ST_F_EHASHED)) {
		st_ehash_remove(&net->udp_e, sk);
		sk->flags &= ~ST_F_EHASHED;
	}
	/* reuseport_has_conns_set runs after the re-hash of a wildcard
	 * socket, which has already detached it from its group: only a
	 * socket connecting on its bound address marks its group (E19c/d).
	 * Then, 6.13+, the connected socket leaves the group (D-U9). */
	if (sk_rpg(sk) && !wildcard)
		sk_rpg(sk)->has_conns = true;
	rp_leave(net, sk);
	bool first = sk->state != ST_ESTABLISHED;
	sk->state = ST_ESTABLISHED; /* from here on chain_link parks it */
	if (wildcard) {
		sock_rehash_addr(net, sk, &src, newkind, rc.dev, &p, nc);
		sk->flags |= ST_F_ASSIGNED_SRC;
	} else {
		if (devchange) {
			/* Same chain (same address); nc is that chain. */
			int32_t old_dev = sk->dev;
			owner_move(net, sk, &sk->laddr, sk->kind, rc.dev, &p);
			chain_set_dev(net, sk, old_dev, rc.dev);
		}
		if (first) {
			chain_park(net, sk);
			/* E16: on 6.18 the first connect() of an AF_INET6
			 * socket on a native address puts it at the head of
			 * its hash2 chain (IPv4 and v4-mapped sockets keep
			 * their place, E15a/E16f); a re-connect does not move
			 * it again (E16e). */
			if (sk->kind == K_V6SPEC)
				chain_move_head(net, sk);
		}
	}
	if (first)
		sk->x->conn_seq = ++net->seq;
	sk->raddr = rc.dst;
	sk->rport = sa->port;
	ehash_add(net, sk);
	explain_set(ex, 0, ST_RULE_NONE, NULL, "connected");
	return 0;
}

/* C-U6, __udp_disconnect: state CLOSE, peer and device cleared; an
 * address bind() did not lock goes back to the wildcard (re-hashed, so to
 * the head of the wildcard chain); a port bind() did not lock is lost.
 * Tables are keyed by address and device, so keeping the port may need
 * new aggregates or a new chain class: those are reserved first and
 * -ENOMEM leaves the socket connected and every table as it was. */
static int udp_disconnect(st_net *net, st_sock *sk)
{
	if (!sk_has(sk, ST_F_HASHED)) {
		sk->state = ST_CLOSE;
		sk->raddr = sock_unbound_addr(sk);
		sk->rport = 0;
		sk->dev = 0;
		return 0;
	}
	if (!sk_has(sk, ST_F_BINDPORT_LOCK)) {
		if (sk_has(sk, ST_F_EHASHED)) {
			st_ehash_remove(&net->udp_e, sk);
			sk->flags &= ~ST_F_EHASHED;
		}
		port_release(net, sk);
		sk->state = ST_CLOSE;
		sk->raddr = sock_unbound_addr(sk);
		sk->rport = 0;
		sk->lport = 0;
		sk->stale_lport = 0;
		sk->dev = 0;
		if (!sk_has(sk, ST_F_BINDADDR_LOCK)) {
			sk->laddr = sock_unbound_addr(sk);
			sk->kind = K_NONE;
		}
		sk->flags &= ~ST_F_ASSIGNED_SRC;
		return 0;
	}
	st_addr newaddr = sk->laddr;
	if (!sk_has(sk, ST_F_BINDADDR_LOCK))
		newaddr = sock_unbound_addr(sk);
	bool rehash = !st_addr_equal(&newaddr, &sk->laddr);
	int nk = rehash ? kind_of(sk->family, &newaddr, sk_has(sk, ST_F_V6ONLY)) : sk->kind;
	st_sock tmp = *sk;
	tmp.dev = 0;
	tmp.laddr = newaddr;
	tmp.kind = (uint8_t)nk;
	tmp.state = ST_CLOSE;
	st_owner_prep p;
	struct st_chain *nc = NULL;
	bool ncc = false, moved = rehash || sk->dev != 0;
	if (moved) {
		int err = owner_prepare(net, &tmp, ST_UDP, sk->lport, nk, &newaddr, 0, &p);
		if (err)
			return err;
		err = chain_prepare(net, &tmp, &nc, &ncc);
		if (err) {
			owner_abort(net, &p);
			return err;
		}
	}
	if (sk_has(sk, ST_F_EHASHED)) {
		st_ehash_remove(&net->udp_e, sk);
		sk->flags &= ~ST_F_EHASHED;
	}
	sk->raddr = sock_unbound_addr(sk);
	sk->rport = 0;
	if (rehash) {
		rp_leave(net, sk);
		chain_unlink(net, sk);
		sk->state = ST_CLOSE;
		owner_move(net, sk, &newaddr, nk, 0, &p);
		chain_link(net, sk, nc, false);
	} else {
		if (moved) {
			int32_t old_dev = sk->dev;
			owner_move(net, sk, &sk->laddr, sk->kind, 0, &p);
			chain_set_dev(net, sk, old_dev, 0);
		}
		sk->state = ST_CLOSE;
		chain_unpark(net, sk);
	}
	sk->dev = 0;
	sk->flags &= ~ST_F_ASSIGNED_SRC;
	return 0;
}

int st_disconnect(st_net *net, st_sock *sk)
{
	if (!net || !sk_valid(sk))
		return -EINVAL;
	if (sk->proto == ST_TCP)
		return tcp_unconnect(net, sk, true);
	return udp_disconnect(net, sk);
}

int st_connect(st_net *net, st_sock *sk, const st_sockaddr *sa, int addrlen, const st_cred *cred,
	       st_explain *ex)
{
	(void)cred;
	if (ex)
		memset(ex, 0, sizeof(*ex));
	if (!net || !sk_valid(sk) || !sa)
		return -EINVAL;
	if (addrlen < 2) {
		explain_set(ex, -EINVAL, ST_RULE_ARG_LEN, NULL, "address too short");
		return -EINVAL;
	}
	if (sa->family == ST_AF_UNSPEC)
		return st_disconnect(net, sk);
	if (sk->proto == ST_TCP)
		return tcp_connect(net, sk, sa, addrlen, ex);
	return udp_connect(net, sk, sa, addrlen, ex);
}

/* ---- accepted children, state changes, TIME_WAIT ----------------------- */

int st_accept_child(st_net *net, const st_sock *lsk, st_sock *child, const st_sockaddr *local,
		    const st_sockaddr *remote, st_state state)
{
	if (!net || !sk_valid(lsk) || !child || !local || !remote || lsk->proto != ST_TCP)
		return -EINVAL;
	/* Only a listener has children, and the child must be a record of
	 * its own that no table holds yet (it is about to be hashed). */
	if (lsk->state != ST_LISTEN || child == lsk ||
	    sk_has(child, ST_F_HASHED | ST_F_EHASHED | ST_F_LHASHED))
		return -EINVAL;
	if (state != ST_SYN_RECV && state != ST_ESTABLISHED)
		return -EINVAL;
	st_sock c = *child;
	c.proto = ST_TCP;
	c.family = lsk->family;
	c.uid = lsk->uid;
	c.dev = lsk->dev;
	c.flags = lsk->flags & (ST_F_REUSEADDR | ST_F_REUSEPORT | ST_F_V6ONLY);
	c.lport = local->port;
	c.laddr = local->addr;
	c.raddr = remote->addr;
	c.rport = remote->port;
	int kind = kind_of(c.family, &c.laddr, sk_has(&c, ST_F_V6ONLY));
	struct tuple_ctx tc = {c.dev, NULL};
	uint64_t tag = st_ehash_tag(&net->tcp_e, &c.laddr, c.lport, &c.raddr, c.rport);
	if (st_ehash_find(&net->tcp_e, tag, &c.laddr, c.lport, &c.raddr, c.rport, tuple_dev_match, &tc))
		return -EADDRINUSE;
	st_owner_prep p;
	c.state = (uint8_t)state;
	int err = owner_prepare(net, &c, ST_TCP, c.lport, kind, &c.laddr, c.dev, &p);
	if (err)
		return err;
	err = st_ehash_reserve(&net->tcp_e, child);
	if (err) {
		owner_abort(net, &p);
		return err;
	}
	memset(child, 0, sizeof(*child));
	child->proto = ST_TCP;
	child->family = c.family;
	child->uid = c.uid;
	child->dev = c.dev;
	/* sk_clone_lock: the child keeps the listener's locks except
	 * SOCK_BINDPORT_LOCK, so a finished connection releases its port. */
	child->flags = c.flags | (lsk->flags & ST_F_BINDADDR_LOCK);
	child->laddr = c.laddr;
	child->raddr = c.raddr;
	child->rport = c.rport;
	child->lport = c.lport;
	child->kind = (uint8_t)kind;
	child->state = (uint8_t)state;
	owner_link(net, child, &p);
	ehash_add(net, child);
	return 0;
}

int st_set_state(st_net *net, st_sock *sk, st_state state)
{
	if (!net || !sk || sk->proto != ST_TCP)
		return -EINVAL;
	if (state == ST_CLOSE || state == ST_LISTEN || state == ST_TIME_WAIT || state >= ST_STATE_COUNT_)
		return -EINVAL;
	/* TIME_WAIT is left only by st_close/st_expire_timewait: its record
	 * sits in the TIME_WAIT ring and no longer owns its port as a live
	 * connection does. */
	if (!sk_has(sk, ST_F_EHASHED) || sk->state == ST_TIME_WAIT || sk->state == ST_LISTEN)
		return -EINVAL;
	sk->state = (uint8_t)state;
	return 0;
}

int st_timewait(st_net *net, st_sock *sk, bool peer_ts)
{
	if (!net || !sk || sk->proto != ST_TCP || !sk_has(sk, ST_F_EHASHED) ||
	    sk->state == ST_TIME_WAIT)
		return -EINVAL;
	int err = tw_ring_reserve(net);
	if (err)
		return err;
	owner_uncount(net, sk);
	sk->state = ST_TIME_WAIT;
	owner_count(net, sk);
	if (peer_ts && st_conf_get(st_net_conf(net), ST_SYSCTL_TCP_TIMESTAMPS))
		sk->flags |= ST_F_TW_TS;
	else
		sk->flags &= ~ST_F_TW_TS;
	sk->tw_since = net->now;
	tw_ring_push(net, sk);
	return 0;
}

int st_timewait_keep_port(st_net *net, st_sock *sk)
{
	if (!net || !sk || sk->proto != ST_TCP || sk_has(sk, ST_F_HASHED) || !sk->lport ||
	    !sk_has(sk, ST_F_BINDPORT_LOCK))
		return -EINVAL;
	int kind = kind_of(sk->family, &sk->laddr, sk_has(sk, ST_F_V6ONLY));
	st_owner_prep p;
	sk->state = ST_CLOSE;
	int err = owner_prepare(net, sk, ST_TCP, sk->lport, kind, &sk->laddr, sk->dev, &p);
	if (err)
		return err;
	sk->kind = (uint8_t)kind;
	sk->flags &= ~ST_F_CONNECT_BIND;
	owner_link(net, sk, &p);
	return 0;
}

int st_expire_timewait(st_net *net, void (*fn)(st_sock *tw, void *ctx), void *ctx)
{
	int n = 0;
	if (!net)
		return -EINVAL;
	st_sock *tw;
	while ((tw = tw_ring_oldest(net)) != NULL && net->now - tw->tw_since >= TW_LEN_NS) {
		st_close(net, tw);
		n++;
		if (fn)
			fn(tw, ctx);
	}
	return n;
}
