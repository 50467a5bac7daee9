/*
 * src/stack/ip.c - the stack object and its IP layer.
 *
 * Input: decode (wire.c rejects anything malformed), accept only packets
 * for one of this host's addresses (a local route, a broadcast route, or
 * an IPv6 address configured here: there is no forwarding), then hand the
 * packet to TCP, UDP or the ICMP error path.
 *
 * Output: the route decides the device exactly as the core decides source
 * addresses, from the same st_net: a local route means the loopback
 * device, anything else leaves through the device of the matching prefix
 * (links are point to point, so there is no next-hop resolution).  A
 * broadcast sent on a real device is also looped back to this host, as
 * Linux does for broadcast routes.
 *
 * ICMP: a UDP datagram for a port nobody holds gets "port unreachable"
 * from the address it was sent to (never for broadcast or multicast), and
 * an arriving port unreachable is handed to the protocol of the quoted
 * packet, which is how a connected UDP socket learns ECONNREFUSED.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stack/stack_internal.h"
#include "hash.h"
#include "net_internal.h"
#include "alloc.h"

static void tw_reclaimed(st_sock *tw, void *ctx)
{
	(void)ctx;
	stk_sock *sk = stk_of(tw);
	stk_tcp_stop_timers(sk);
	sk->core->state = ST_CLOSE;
	stk_sock_maybe_free(sk);
}

int stk_stack_new(stk_stack **out, const stk_env *env, uint64_t seed)
{
	if (!out || !env || !env->now || !env->arm || !env->cancel || !env->xmit)
		return -EINVAL;
	stk_stack *st = st_calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->pktbuf = st_malloc(STK_WIRE_MAX);
	if (!st->pktbuf) {
		st_free(st);
		return -ENOMEM;
	}
	st->env = *env;
	st->seed = seed;
	st_sipkey k = st_sipkey_derive(seed, 0x69736e); /* "isn" */
	st->isn_k0 = k.k0;
	st->isn_k1 = k.k1;
	st_net_ops ops = { .tw_reclaimed = tw_reclaimed, .ctx = st };
	int err = st_net_new(&st->net, seed, &ops);
	if (err) {
		st_free(st->pktbuf);
		st_free(st);
		return err;
	}
	*out = st;
	return 0;
}

void stk_stack_free(stk_stack *st)
{
	if (!st)
		return;
	while (st->socks)
		stk_sock_free_now(st->socks);
	st->tw_spare = NULL;   /* it was on the list */
	st_net_free(st->net);
	st_free(st->pktbuf);
	st_free(st);
}

st_net *stk_stack_net(stk_stack *st)
{
	return st->net;
}

void stk_set_tracing(stk_stack *st, bool on)
{
	st->tracing = on;
}

void stk_port_hint(stk_stack *st, uint16_t port)
{
	st_port_hint(st->net, port);
}

int stk_port_hint_done(stk_stack *st, const char **why)
{
	const char *w = NULL;
	int s = st_port_hint_done(st->net, &w);
	if (why)
		*why = w;
	return s == ST_HINT_TAKEN ? 1 : s == ST_HINT_REFUSED ? -1 : 0;
}

size_t stk_sock_count(const stk_stack *st)
{
	return st->nsocks;
}

void stk_trace(stk_stack *st, const char *fmt, ...)
{
	if (!st->tracing || !st->env.trace)
		return;
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	st->env.trace(st->env.ctx, buf);
}

void stk_format_sockaddr(const st_addr *a, uint16_t port, int family, char *buf, size_t len)
{
	st_sockaddr sa;
	memset(&sa, 0, sizeof(sa));
	sa.family = (uint16_t)family;
	sa.addr = *a;
	sa.port = port;
	st_sockaddr_format(&sa, buf, len);
}

bool stk_ip_is_local(stk_stack *st, const st_addr *a)
{
	if (st_addr_is_v4mapped(a)) {
		st_route4 r;
		if (st_net_route4(st->net, st_addr_get_v4(a), &r))
			return false;
		return r.type == ST_RTN_LOCAL;
	}
	return st_net_v6_has_addr(st->net, a, 0);
}

static bool is_v4_broadcast(stk_stack *st, const st_addr *a)
{
	if (!st_addr_is_v4mapped(a))
		return false;
	if (st_addr_is_v4_limited_broadcast(a))
		return true;
	st_route4 r;
	return st_net_route4(st->net, st_addr_get_v4(a), &r) == 0 && r.type == ST_RTN_BROADCAST;
}

int stk_ip_route(stk_stack *st, int family, const st_addr *dst, int bound_dev, st_addr *src,
		 int *ifindex)
{
	(void)family;
	if (st_addr_is_v4mapped(dst)) {
		uint32_t d = st_addr_get_v4(dst);
		st_route4 r;
		if (st_addr_is_v4_limited_broadcast(dst)) {
			/* 255.255.255.255 leaves by the bound device; without
			 * one it needs a default route, which we never have. */
			if (!bound_dev)
				return -ENETUNREACH;
			*ifindex = bound_dev;
			*src = st_addr_v4(0);
			return 0;
		}
		if (st_net_route4(st->net, d, &r))
			return -ENETUNREACH;
		if (bound_dev && r.type != ST_RTN_LOCAL && r.ifindex != bound_dev)
			return -ENETUNREACH;
		*ifindex = r.type == ST_RTN_LOCAL ? ST_IFINDEX_LO : r.ifindex;
		*src = r.type == ST_RTN_LOCAL && !r.prefsrc ? *dst : st_addr_v4(r.prefsrc ? r.prefsrc : d);
		return 0;
	}
	/* A local destination: its local route belongs to the device that
	 * has the address, so a bound device must be that one. */
	if (st_net_v6_has_addr(st->net, dst, bound_dev)) {
		*ifindex = ST_IFINDEX_LO;
		*src = *dst;
		return 0;
	}
	int oif = 0;
	int err = st_net_route6(st->net, dst, bound_dev, src, &oif);
	if (err)
		return err;
	*ifindex = oif ? oif : ST_IFINDEX_LO;
	return 0;
}

int stk_ip_output_dev(stk_stack *st, stk_pkt *p, int ifindex)
{
	int n = stk_wire_encode(p, st->pktbuf, STK_WIRE_MAX);
	if (n < 0)
		return n;
	st->env.xmit(st->env.ctx, ifindex, st->pktbuf, (size_t)n);
	return 0;
}

int stk_ip_output(stk_stack *st, stk_pkt *p, int bound_dev)
{
	st_addr src;
	int ifindex = 0;
	int err = stk_ip_route(st, p->family, &p->dst, bound_dev, &src, &ifindex);
	if (err)
		return err;
	int n = stk_wire_encode(p, st->pktbuf, STK_WIRE_MAX);
	if (n < 0)
		return n;
	st->env.xmit(st->env.ctx, ifindex, st->pktbuf, (size_t)n);
	/* Broadcast on a real device is delivered here too. */
	if (ifindex != ST_IFINDEX_LO && is_v4_broadcast(st, &p->dst))
		st->env.xmit(st->env.ctx, ST_IFINDEX_LO, st->pktbuf, (size_t)n);
	return 0;
}

void stk_icmp_port_unreachable(stk_stack *st, const stk_pkt *orig)
{
	/* The error comes from the address the datagram was sent to; an
	 * IPv4 one this host does not have (a datagram that came through
	 * lo with a foreign destination, see udp.c's cork_stale) gets no
	 * route for that source, so no error is sent. */
	if (orig->family == ST_AF_INET && !stk_ip_is_local(st, &orig->dst))
		return;
	stk_pkt ic;
	memset(&ic, 0, sizeof(ic));
	ic.family = orig->family;
	ic.proto = orig->family == ST_AF_INET ? STK_IPPROTO_ICMP : STK_IPPROTO_ICMPV6;
	ic.src = orig->dst;
	ic.dst = orig->src;
	ic.icmp_type = orig->family == ST_AF_INET ? 3 : 1;
	ic.icmp_code = orig->family == ST_AF_INET ? 3 : 4;
	ic.wscale = 0xff;
	ic.inner.family = orig->family;
	ic.inner.proto = orig->proto;
	ic.inner.src = orig->src;
	ic.inner.dst = orig->dst;
	ic.inner.sport = orig->sport;
	ic.inner.dport = orig->dport;
	char a[ST_SOCKADDR_STRLEN];
	stk_format_sockaddr(&orig->src, orig->sport, orig->family, a, sizeof(a));
	stk_trace(st, "ICMP port unreachable sent back to %s", a);
	stk_ip_output(st, &ic, 0);
}

/*
 * What a packet the host sent to itself looks like to the receiving
 * socket: it travels through lo, but Linux keeps the output route on it,
 * and that route names the device that owns the destination address
 * (IPv4: the local route's device, rt_iif; IPv6: the route's idev), so
 * inet_iif()/inet6_iif() say eth0 for a packet to eth0's address.  A
 * socket bound to eth0 therefore hears what its own host sends to
 * 10.0.0.1, and one bound to lo does not.
 */
static int local_iif(stk_stack *st, const st_addr *dst)
{
	if (st_addr_is_v4mapped(dst)) {
		st_route4 r;
		if (st_net_route4(st->net, st_addr_get_v4(dst), &r) == 0 && r.ifindex > 0 &&
		    (r.type == ST_RTN_LOCAL || r.type == ST_RTN_BROADCAST))
			return r.ifindex;
		return ST_IFINDEX_LO;
	}
	/* Devices are numbered 1, 2, ... without gaps (netconf.c). */
	for (int i = 1; st_net_device_name(st->net, i); i++)
		if (st_net_v6_has_addr(st->net, dst, i))
			return i;
	return ST_IFINDEX_LO;
}

void stk_input(stk_stack *st, int ifindex, const uint8_t *pkt, size_t len)
{
	stk_pkt p;
	if (stk_wire_decode(pkt, len, &p))
		return;
	bool on_lo = ifindex == ST_IFINDEX_LO;
	if (on_lo)
		ifindex = local_iif(st, &p.dst);
	bool local = stk_ip_is_local(st, &p.dst);
	bool bcast = !local && (is_v4_broadcast(st, &p.dst) || st_addr_is_multicast(&p.dst));
	/* Not for us, and we do not forward -- except what this host sent
	 * through lo itself: it carries its local output route and is
	 * delivered here whatever its destination says (udp.c cork_stale). */
	if (!local && !bcast && !on_lo)
		return;
	switch (p.proto) {
	case STK_IPPROTO_TCP:
		if (bcast)
			return;
		stk_tcp_input(st, ifindex, &p);
		break;
	case STK_IPPROTO_UDP:
		stk_udp_input(st, ifindex, &p);
		break;
	case STK_IPPROTO_ICMP:
	case STK_IPPROTO_ICMPV6: {
		bool unreach = p.proto == STK_IPPROTO_ICMP ? (p.icmp_type == 3 && p.icmp_code == 3)
							   : (p.icmp_type == 1 && p.icmp_code == 4);
		if (!unreach)
			return;
		if (p.inner.proto == STK_IPPROTO_UDP)
			stk_udp_err(st, &p);
		else if (p.inner.proto == STK_IPPROTO_TCP)
			stk_tcp_err(st, &p);
		break;
	}
	default:
		break;
	}
}
