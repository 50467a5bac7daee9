/*
 * src/stack/udp.c - datagrams: sending (with the automatic bind), demux,
 * broadcast fan-out and ICMP errors.
 *
 * Sending follows udp_sendmsg's order, because the order decides which
 * errno a bad call gets: automatic bind first (inet_send_prepare), then
 * the size, the destination (EDESTADDRREQ without one), the route
 * (ENETUNREACH), the broadcast permission (EACCES without SO_BROADCAST),
 * and last the pending error and the write shutdown, which the kernel
 * only meets when it allocates the packet (sock_alloc_send_pskb) -- that
 * is how a connected socket learns "connection refused" on its next send.
 *
 * Receiving is the core's UDP demux (connected sockets first, then
 * exact-address, then wildcard, newest first, reuseport groups), or every
 * matching socket for a broadcast or multicast destination.  Datagrams
 * keep their boundaries; a full receive queue drops.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "stack/stack_internal.h"
#include "alloc.h"

static bool is_broadcast(stk_stack *st, const st_addr *a)
{
	if (!st_addr_is_v4mapped(a))
		return false;
	if (st_addr_is_v4_limited_broadcast(a))
		return true;
	st_route4 r;
	return st_net_route4(st->net, st_addr_get_v4(a), &r) == 0 && r.type == ST_RTN_BROADCAST;
}

/* The IPv4 route lookup checks the source first: a bound address that is
 * not local (IP_FREEBIND) cannot send unless IP_TRANSPARENT is set.  A
 * multicast or broadcast binding sends from the route's source. */
const st_addr *stk_udp_v4_saddr(const stk_sock *sk)
{
	const st_addr *la = &sk->core->laddr;
	if (st_addr_is_v4mapped(la) && !st_addr_is_any4(la))
		return la;
	if (sk->core->family == ST_AF_INET6 && sk->has_v4_saddr)
		return &sk->v4_saddr;
	return NULL;
}

static bool src4_usable(stk_stack *st, const stk_sock *sk)
{
	const st_addr *la = stk_udp_v4_saddr(sk);
	if (!la || (sk->core->flags & ST_F_TRANSPARENT))
		return true;
	uint32_t a = st_addr_get_v4(la);
	if ((a >> 28) == 0xe || a == 0xffffffffu)
		return true;
	st_route4 r;
	return st_net_route4(st->net, a, &r) == 0 && (r.type == ST_RTN_LOCAL || r.type == ST_RTN_BROADCAST);
}

int stk_udp_sendto(stk_sock *sk, const st_sockaddr *to, const uint8_t *data, size_t len,
		   const st_cred *cred)
{
	stk_stack *st = sk->stack;
	(void)cred;
	if (!(sk->core->flags & ST_F_HASHED)) {
		int err = st_autobind(st->net, sk->core);
		if (err)
			return err;
	}
	st_addr dst;
	uint16_t dport;
	if (to) {
		if (sk->core->family == ST_AF_INET) {
			if (to->family != ST_AF_INET)
				return -EAFNOSUPPORT;
		} else if (to->family == ST_AF_INET6) {
			if (st_addr_is_v4mapped(&to->addr) && (sk->core->flags & ST_F_V6ONLY))
				return -ENETUNREACH;
		} else if (to->family == ST_AF_INET) {
			if (sk->core->flags & ST_F_V6ONLY)
				return -ENETUNREACH;
		} else {
			return -EAFNOSUPPORT;
		}
		dst = to->addr;
		dport = to->port;
		if (dport == 0)
			return -EINVAL;
	} else {
		if (sk->core->state != ST_ESTABLISHED)
			return -EDESTADDRREQ;
		dst = sk->core->raddr;
		dport = sk->core->rport;
		/* udpv6_sendmsg hands a v4-mapped peer to udp_sendmsg as an
		 * explicit address, where port 0 is EINVAL (a socket connected
		 * to port 0 otherwise sends there). */
		if (dport == 0 && sk->core->family == ST_AF_INET6 && st_addr_is_v4mapped(&dst))
			return -EINVAL;
	}
	/* The unspecified destination means this host (a BSD-ism Linux
	 * keeps): 0.0.0.0 becomes the bound address or 127.0.0.1
	 * (__ip_route_output_key), :: becomes ::1 (udpv6_sendmsg). */
	if (st_addr_is_any4(&dst)) {
		bool bound4 = st_addr_is_v4mapped(&sk->core->laddr) && !st_addr_is_any4(&sk->core->laddr);
		dst = bound4 ? sk->core->laddr : st_addr_v4(0x7f000001);
	} else if (st_addr_is_any6(&dst)) {
		/* ... or ::ffff:127.0.0.1 for a socket whose source is
		 * v4-mapped (::ffff:0.0.0.0 included). */
		if (st_addr_is_v4mapped(&sk->core->laddr)) {
			dst = st_addr_v4(0x7f000001);
		} else {
			memset(&dst, 0, sizeof(dst));
			dst.b[15] = 1;
		}
	}
	bool v4 = st_addr_is_v4mapped(&dst);
	if (len > (v4 ? 65507u : 65527u))
		return -EMSGSIZE;
	if (v4 && !src4_usable(st, sk))
		return -ENETUNREACH;
	st_addr src;
	int ifindex;
	int err = stk_ip_route(st, v4 ? ST_AF_INET : ST_AF_INET6, &dst, sk->core->dev, &src, &ifindex);
	if (err)
		return err;
	/* __mkroute_output: a loopback source may not leave by a real
	 * device (IPv6 has no such check: the packet goes, and the peer
	 * drops it). */
	const st_addr *v4src = v4 ? stk_udp_v4_saddr(sk) : NULL;
	if (v4src && ifindex != ST_IFINDEX_LO && st_addr_is_loopback(v4src))
		return -EINVAL;
	/* A v4-mapped source (bound or connected that way, even
	 * ::ffff:0.0.0.0) cannot send to a native IPv6 destination; the
	 * route is looked up first (ip6_dst_lookup_tail). */
	if (!v4 && sk->core->family == ST_AF_INET6 && st_addr_is_v4mapped(&sk->core->laddr))
		return -EAFNOSUPPORT;
	if (is_broadcast(st, &dst) && !(sk->core->flags & ST_F_BROADCAST))
		return -EACCES;
	/* A connected IPv4 send caches its route; with a route cached, the
	 * flow of a failed connect takes over (stack_internal.h). */
	bool stale = false;
	if (!to && sk->core->family == ST_AF_INET) {
		stale = sk->dst_cached && sk->cork_stale;
		sk->dst_cached = true;
	}
	if (sk->so_error) {
		int e = sk->so_error;
		sk->so_error = 0;
		return -e;
	}
	if (sk->shut_wr)
		return -EPIPE;
	/* A socket bound to an address sends from it; a wildcard one from
	 * the route's choice. */
	if (!st_addr_is_any6(&sk->core->laddr) && !st_addr_is_any4(&sk->core->laddr) &&
	    st_addr_is_v4mapped(&sk->core->laddr) == v4)
		src = sk->core->laddr;
	/* An IPv6 socket sending to a v4-mapped peer uses its IPv4 source
	 * (inet_saddr) if an earlier IPv4 connect gave it one, else the
	 * route's. */
	else if (v4src)
		src = *v4src;
	stk_pkt p;
	memset(&p, 0, sizeof(p));
	p.family = v4 ? ST_AF_INET : ST_AF_INET6;
	p.proto = STK_IPPROTO_UDP;
	p.src = src;
	p.dst = dst;
	p.sport = sk->core->lport;
	p.dport = dport;
	p.wscale = 0xff;
	p.payload = data;
	p.len = len;
	if (stale) {
		p.dst = sk->cork_daddr;
		p.dport = sk->cork_dport;
		return stk_ip_output_dev(st, &p, ifindex);
	}
	return stk_ip_output(st, &p, sk->core->dev);
}

static void deliver(stk_sock *sk, const stk_pkt *p, int ifindex)
{
	if (sk->dq_bytes + p->len + STK_UDP_DGRAM_OVERHEAD > STK_UDP_RCVBUF)
		return;
	stk_dgram *d = st_malloc(sizeof(*d) + p->len);
	if (!d)
		return;
	d->next = NULL;
	d->len = p->len;
	if (p->len)
		memcpy(d->data, p->payload, p->len);
	memset(&d->from, 0, sizeof(d->from));
	d->from.family = sk->core->family;
	d->from.addr = p->src;
	d->from.port = p->sport;
	/* udpv6_recvmsg: a source that needs a scope gets the device the
	 * datagram came in on (ipv6_iface_scope_id, inet6_iif). */
	if (sk->core->family == ST_AF_INET6 && st_addr_needs_scope(&p->src))
		d->from.scope_id = (uint32_t)ifindex;
	if (sk->dq_tail)
		sk->dq_tail->next = d;
	else
		sk->dq_head = d;
	sk->dq_tail = d;
	sk->dq_bytes += p->len + STK_UDP_DGRAM_OVERHEAD;
}

struct multi_ctx {
	const stk_pkt *p;
	stk_stack *st;
	int n;
	int ifindex;
};

static void deliver_multi(st_sock *c, void *ctx)
{
	struct multi_ctx *m = ctx;
	stk_sock *sk = stk_of(c);
	char at[ST_SOCKADDR_STRLEN];
	st_sockaddr self;
	st_getsockname(c, &self);
	st_sockaddr_format(&self, at, sizeof(at));
	stk_trace(m->st, "  broadcast copy delivered to the socket on %s", at);
	deliver(sk, m->p, m->ifindex);
	m->n++;
}

void stk_udp_input(stk_stack *st, int ifindex, const stk_pkt *p)
{
	st_pkt key;
	memset(&key, 0, sizeof(key));
	key.family = p->family;
	key.proto = ST_UDP;
	key.sport = p->sport;
	key.dport = p->dport;
	key.ifindex = ifindex;
	key.saddr = p->src;
	key.daddr = p->dst;
	char from[ST_SOCKADDR_STRLEN], to[ST_SOCKADDR_STRLEN];
	if (st->tracing) {
		stk_format_sockaddr(&p->src, p->sport, p->family, from, sizeof(from));
		stk_format_sockaddr(&p->dst, p->dport, p->family, to, sizeof(to));
	}
	if (st_net_is_bcast_or_mcast(st->net, &key) || is_broadcast(st, &p->dst) ||
	    st_addr_is_multicast(&p->dst)) {
		struct multi_ctx m = { p, st, 0, ifindex };
		if (st->tracing)
			stk_trace(st, "datagram from %s to %s (broadcast/multicast): every matching socket gets a copy",
				  from, to);
		st_lookup_udp_multi(st->net, &key, deliver_multi, &m);
		return;
	}
	st_lookup_explain ex;
	st_sock *c = st_lookup_udp(st->net, &key, st->tracing ? &ex : NULL);
	if (!c) {
		if (st->tracing)
			stk_trace(st, "datagram from %s to %s: no socket%s%s", from, to,
				  ex.text[0] ? ": " : "", ex.text);
		stk_icmp_port_unreachable(st, p);
		return;
	}
	stk_sock *sk = stk_of(c);
	if (st->tracing) {
		char at[ST_SOCKADDR_STRLEN];
		st_sockaddr self;
		st_getsockname(c, &self);
		st_sockaddr_format(&self, at, sizeof(at));
		if (ex.text[0])
			stk_trace(st, "datagram from %s to %s: %s", from, to, ex.text);
		else
			stk_trace(st, "datagram from %s to %s reached the socket on %s", from, to, at);
	}
	deliver(sk, p, ifindex);
}

void stk_udp_err(stk_stack *st, const stk_pkt *p)
{
	st_pkt key;
	memset(&key, 0, sizeof(key));
	key.family = p->inner.family;
	key.proto = ST_UDP;
	key.saddr = p->inner.dst;
	key.sport = p->inner.dport;
	key.daddr = p->inner.src;
	key.dport = p->inner.sport;
	key.ifindex = ST_IFINDEX_LO;
	st_sock *c = st_lookup_udp(st->net, &key, NULL);
	if (!c)
		return;
	stk_sock *sk = stk_of(c);
	/* Without IP_RECVERR only a connected socket hears of it. */
	if (sk->core->state != ST_ESTABLISHED)
		return;
	stk_trace(st, "ICMP port unreachable for the connected UDP socket: its next call "
		      "returns ECONNREFUSED");
	sk->so_error = ECONNREFUSED;
}
