/*
 * bind.c - bind(), listen(), socket options, close: how a socket comes to
 * hold a port and how it lets go.
 *
 * The argument checks run in Linux's order for each family (B1-B18)
 * because the order is visible: an unprivileged bind of 192.0.2.1:80 is
 * EADDRNOTAVAIL over IPv4 but EACCES over IPv6.  Then get_port() decides:
 * for TCP the fast caches first (B-T9), then the conflict counters
 * (ports.c); for UDP the first relevant owner (B-U4).  A socket that gets
 * a port is linked into every table in one step (port_take), after all
 * memory it needs has been reserved, so that any failure leaves nothing
 * behind.
 *
 * Port 0 is chosen as the kernel chooses it: TCP tries odd offsets first
 * over an even-rounded range, the lower half first with SO_REUSEADDR, and
 * never shares with an overlapping owner (P-T1..P-T6); UDP picks a random
 * start and may share with compatible owners (P-U1..P-U3).
 */
#include "net_internal.h"

#include <stdio.h>

int st_sock_init(st_net *net, st_sock *sk, int proto, int family, uint32_t uid)
{
	if (!net || !sk)
		return -EINVAL;
	if (family != ST_AF_INET && family != ST_AF_INET6)
		return -EAFNOSUPPORT;
	if (proto != ST_TCP && proto != ST_UDP)
		return -EPROTONOSUPPORT;
	memset(sk, 0, sizeof(*sk));
	sk->proto = (uint8_t)proto;
	sk->family = (uint8_t)family;
	sk->uid = uid;
	sk->state = ST_CLOSE;
	sk->laddr = sock_unbound_addr(sk);
	sk->raddr = sk->laddr;
	if (family == ST_AF_INET6 && st_conf_get(st_net_conf(net), ST_SYSCTL_IPV6_BINDV6ONLY))
		sk->flags |= ST_F_V6ONLY;
	return 0;
}

static bool has_cap(const st_cred *c, uint32_t cap)
{
	return c && (c->caps & cap);
}

/* Re-count a hashed owner around a change of flags or state. */
static void recount_begin(st_net *net, st_sock *sk)
{
	if (sk_has(sk, ST_F_HASHED))
		owner_uncount(net, sk);
}

static void recount_end(st_net *net, st_sock *sk)
{
	if (sk_has(sk, ST_F_HASHED))
		owner_count(net, sk);
}

static void set_flag(st_sock *sk, uint32_t f, bool on)
{
	if (on)
		sk->flags |= f;
	else
		sk->flags &= ~f;
}

int sock_set_dev(st_net *net, st_sock *sk, int32_t dev)
{
	if (dev == sk->dev)
		return 0;
	if (!sk_has(sk, ST_F_HASHED) && !sk_has(sk, ST_F_LHASHED) && !sk_has(sk, ST_F_EHASHED)) {
		sk->dev = dev;
		return 0;
	}
	/* The kernel re-reads the device at lookup time; the tables here
	 * are keyed by it, so re-link. */
	st_owner_prep p;
	int err = 0;
	if (sk_has(sk, ST_F_HASHED)) {
		st_sock tmp = *sk;
		tmp.dev = dev;
		err = owner_prepare(net, &tmp, sk->proto, sk->lport, sk->kind, &sk->laddr, dev, &p);
		if (err)
			return err;
	}
	struct st_chain *c = NULL;
	bool cc = false;
	if (sk_has(sk, ST_F_LHASHED)) {
		st_sock tmp = *sk;
		tmp.dev = dev;
		err = chain_prepare(net, &tmp, &c, &cc);
		if (err) {
			if (sk_has(sk, ST_F_HASHED))
				owner_abort(net, &p);
			return err;
		}
	}
	/* The chain and the chain position stay (the kernel's hash2 is not
	 * keyed by device); only the class and the aggregates change. */
	int32_t old_dev = sk->dev;
	if (sk_has(sk, ST_F_HASHED))
		owner_move(net, sk, &sk->laddr, sk->kind, dev, &p);
	if (sk_has(sk, ST_F_LHASHED))
		chain_set_dev(net, sk, old_dev, dev);
	sk->dev = dev;
	return 0;
}

int st_setsockopt(st_net *net, st_sock *sk, st_opt opt, uint32_t value, const st_cred *cred)
{
	if (!net || !sk_valid(sk))
		return -EINVAL;
	bool on = value != 0;
	switch (opt) {
	case ST_SO_REUSEADDR:
	case ST_SO_REUSEPORT:
		/* Only the conflict counters read these flags; lookup
		 * classes do not (scores ignore them), and a group keeps a
		 * member that clears SO_REUSEPORT, as Linux's does. */
		recount_begin(net, sk);
		set_flag(sk, opt == ST_SO_REUSEADDR ? ST_F_REUSEADDR : ST_F_REUSEPORT, on);
		recount_end(net, sk);
		chain_note_head(net, sk);
		return 0;
	case ST_IPV6_V6ONLY:
		if (sk->family != ST_AF_INET6)
			return -ENOPROTOOPT;
		if (sk->lport || sk_has(sk, ST_F_HASHED))
			return -EINVAL;
		set_flag(sk, ST_F_V6ONLY, on);
		return 0;
	case ST_SO_BROADCAST:
		set_flag(sk, ST_F_BROADCAST, on);
		return 0;
	case ST_SO_BINDTODEVICE: {
		int32_t dev = (int32_t)value;
		if (dev < 0 || (dev && !st_conf_device_exists(st_net_conf(net), dev)))
			return -ENODEV;
		/* Changing an existing binding needs CAP_NET_RAW (sock_bindtoindex). */
		if (sk->dev && !has_cap(cred, ST_CAP_NET_RAW))
			return -EPERM;
		return sock_set_dev(net, sk, dev);
	}
	case ST_IP_FREEBIND:
		set_flag(sk, ST_F_FREEBIND, on);
		return 0;
	case ST_IP_TRANSPARENT:
		if (!has_cap(cred, ST_CAP_NET_ADMIN) && !has_cap(cred, ST_CAP_NET_RAW))
			return -EPERM;
		set_flag(sk, ST_F_TRANSPARENT, on);
		return 0;
	case ST_IP_BIND_ADDRESS_NO_PORT:
		set_flag(sk, ST_F_BIND_NO_PORT, on);
		return 0;
	case ST_IP_LOCAL_PORT_RANGE: {
		uint32_t lo = value & 0xffff, hi = value >> 16;
		if (lo && hi && lo > hi)
			return -EINVAL;
		sk->port_range = value;
		return 0;
	}
	default:
		return -ENOPROTOOPT;
	}
}

int st_getsockopt(const st_net *net, const st_sock *sk, st_opt opt, uint32_t *value_out)
{
	if (!net || !sk_valid(sk) || !value_out)
		return -EINVAL;
	uint32_t v;
	switch (opt) {
	case ST_SO_REUSEADDR: v = sk_has(sk, ST_F_REUSEADDR); break;
	case ST_SO_REUSEPORT: v = sk_has(sk, ST_F_REUSEPORT); break;
	case ST_IPV6_V6ONLY:
		if (sk->family != ST_AF_INET6)
			return -ENOPROTOOPT;
		v = sk_has(sk, ST_F_V6ONLY);
		break;
	case ST_SO_BROADCAST: v = sk_has(sk, ST_F_BROADCAST); break;
	case ST_SO_BINDTODEVICE: v = (uint32_t)sk->dev; break;
	case ST_IP_FREEBIND: v = sk_has(sk, ST_F_FREEBIND); break;
	case ST_IP_TRANSPARENT: v = sk_has(sk, ST_F_TRANSPARENT); break;
	case ST_IP_BIND_ADDRESS_NO_PORT: v = sk_has(sk, ST_F_BIND_NO_PORT); break;
	case ST_IP_LOCAL_PORT_RANGE: v = sk->port_range; break;
	default: return -ENOPROTOOPT;
	}
	*value_out = v;
	return 0;
}

/* The socket's effective port range: the netns range narrowed by
 * IP_LOCAL_PORT_RANGE (P-5).  Returns true when the option narrowed it. */
static bool port_range(const st_net *net, const st_sock *sk, int *lo, int *hi)
{
	st_conf_port_range(st_net_conf_c(net), lo, hi);
	uint32_t slo = sk->port_range & 0xffff, shi = sk->port_range >> 16;
	bool local = false;
	if (slo && (int)slo >= *lo && (int)slo <= *hi) {
		*lo = (int)slo;
		local = true;
	}
	if (shi && (int)shi >= *lo && (int)shi <= *hi) {
		*hi = (int)shi;
		local = true;
	}
	return local;
}

/* ---- the UDP primary chain ------------------------------------------- */

/*
 * Linux's udp_lib_get_port() puts a new owner at the head of the port's
 * primary chain, except an AF_INET6 socket with SO_REUSEPORT, which
 * sk_add_node_rcu() appends at the tail.  The chain is what the conflict
 * scan of B-U4 and the group join scan walk, so its order is visible:
 * with an AF_INET6 SO_REUSEPORT owner the "newest first" reading of B-U4
 * is wrong (E15e: `::` RA bound first, `::1` RA+RP second, then `::1` RP
 * is refused by the older `::` socket, which comes first).  Insertion
 * order is fixed at bind time: a later setsockopt does not move a socket,
 * and neither does a rehash (connect, disconnect), which only touches
 * hash2.
 */
void udp_primary_insert(struct st_portbkt *b, st_sock *sk)
{
	bool tail = sk->family == ST_AF_INET6 && sk_has(sk, ST_F_REUSEPORT);
	struct st_sockx *x = sk->x;
	if (tail) {
		x->pr_next = NULL;
		x->pr_prev = b->pr_tail;
		if (b->pr_tail)
			b->pr_tail->x->pr_next = sk;
		else
			b->pr_head = sk;
		b->pr_tail = sk;
	} else {
		x->pr_prev = NULL;
		x->pr_next = b->pr_head;
		if (b->pr_head)
			b->pr_head->x->pr_prev = sk;
		else
			b->pr_tail = sk;
		b->pr_head = sk;
	}
}

void udp_primary_remove(struct st_portbkt *b, st_sock *sk)
{
	struct st_sockx *x = sk->x;
	if (x->pr_prev)
		x->pr_prev->x->pr_next = x->pr_next;
	else
		b->pr_head = x->pr_next;
	if (x->pr_next)
		x->pr_next->x->pr_prev = x->pr_prev;
	else
		b->pr_tail = x->pr_prev;
	x->pr_next = x->pr_prev = NULL;
}

/* Take `port` for sk at address a (kind), linking it everywhere.  For UDP
 * sockets this includes the primary chain, the lookup chain and the
 * reuseport group (a full group: -ENOSPC, which bind() reports as
 * EADDRINUSE, as udp_lib_get_port does).  Split in prepare (all memory,
 * may fail, changes nothing) and commit (cannot fail) so that a caller
 * with more to reserve (UDP connect's autobind) can fail as a whole. */
int port_take_prepare(st_net *net, const st_sock *sk, uint16_t port, int kind, const st_addr *a,
		      st_take_prep *tp)
{
	memset(tp, 0, sizeof(*tp));
	int err = owner_prepare(net, sk, sk->proto, port, kind, a, sk->dev, &tp->own);
	if (err)
		return err;
	st_sock tmp = *sk;
	tmp.lport = port;
	tmp.kind = (uint8_t)kind;
	tmp.laddr = *a;
	if (sk->proto == ST_UDP) {
		err = sockx_prepare(net, sk, &tp->x);
		if (!err) {
			err = chain_prepare(net, &tmp, &tp->c, &tp->cc);
			if (err)
				sockx_abort(net, tp->x);
		}
		if (!err && sk_has(sk, ST_F_REUSEPORT)) {
			err = rp_prepare(net, &tmp, &tp->rp);
			if (err) {
				chain_abort(net, tp->c, tp->cc);
				sockx_abort(net, tp->x);
			} else {
				tp->has_rp = true;
			}
		}
		if (err) {
			owner_abort(net, &tp->own);
			memset(tp, 0, sizeof(*tp));
			return err;
		}
	}
	tp->port = port;
	tp->kind = kind;
	tp->a = *a;
	return 0;
}

void port_take_abort(st_net *net, st_take_prep *tp)
{
	if (tp->has_rp)
		rp_abort(net, &tp->rp);
	if (tp->c)
		chain_abort(net, tp->c, tp->cc);
	sockx_abort(net, tp->x);
	owner_abort(net, &tp->own);
	memset(tp, 0, sizeof(*tp));
}

void port_take_commit(st_net *net, st_sock *sk, st_take_prep *tp, bool connect_bind)
{
	sk->lport = tp->port;
	sk->kind = (uint8_t)tp->kind;
	sk->laddr = tp->a;
	if (connect_bind)
		sk->flags |= ST_F_CONNECT_BIND;
	owner_link(net, sk, &tp->own);
	if (sk->proto == ST_UDP) {
		sockx_attach(sk, tp->x);
		udp_primary_insert(sk->bkt, sk);
		bool tail = sk->family == ST_AF_INET6 && sk_has(sk, ST_F_REUSEPORT);
		chain_link(net, sk, tp->c, tail);
		if (tp->has_rp)
			rp_join(net, sk, &tp->rp);
	}
	memset(tp, 0, sizeof(*tp));
}

int port_take(st_net *net, st_sock *sk, uint16_t port, int kind, const st_addr *a,
	      bool connect_bind)
{
	st_take_prep tp;
	int err = port_take_prepare(net, sk, port, kind, a, &tp);
	if (err)
		return err;
	port_take_commit(net, sk, &tp, connect_bind);
	return 0;
}

void port_release(st_net *net, st_sock *sk)
{
	rp_leave(net, sk);
	if (sk_has(sk, ST_F_LHASHED))
		chain_unlink(net, sk);
	if (sk_has(sk, ST_F_HASHED)) {
		if (sk->proto == ST_UDP)
			udp_primary_remove(sk->bkt, sk);
		owner_unlink(net, sk);
	}
	sk->flags &= ~ST_F_CONNECT_BIND;
	sockx_put(net, sk);
}

/* ---- TCP get_port ------------------------------------------------------ */

static bool reserved(const st_net *net, int port)
{
	return st_net_port_is_reserved(net, (uint16_t)port);
}

/* inet_csk_find_open_port: returns 0 and the port, or -EADDRINUSE. */
int tcp_find_open_port(st_net *net, st_sock *sk, int kind, const st_addr *a, uint16_t *port_out)
{
	bool relax = false;
	st_pscan sc;
again:
	tcp_port_scan_init(net, &sc, sk, kind, a, relax);
	int attempt_half = sk_has(sk, ST_F_REUSEADDR) ? 1 : 0;
other_half:;
	int low, high;
	port_range(net, sk, &low, &high);
	high++;
	if (high - low < 4)
		attempt_half = 0;
	if (attempt_half) {
		int half = low + (((high - low) >> 2) << 1);
		if (attempt_half == 1)
			high = half;
		else
			low = half;
	}
	uint32_t remaining = (uint32_t)(high - low);
	if (remaining > 1)
		remaining &= ~1U;
	uint32_t offset = st_rand_below(net, remaining ? remaining : 1) | 1U;
other_parity:
	if (hint_pending(net)) {
		/* Linux's choice is legal if it is free in the first round
		 * (half, parity, relax) that has a free port at all. */
		int h = net->hint_port;
		if (h >= low && h < low + (int)remaining && h < high && (((h - low) ^ (int)offset) & 1) == 0 &&
		    !reserved(net, h) && !tcp_search_conflict(net, sk, (uint16_t)h, kind, a, relax)) {
			hint_take(net);
			*port_out = (uint16_t)h;
			return 0;
		}
	}
	/* One parity round in the kernel's order (ports.c skips whole words
	 * of ports held at this address). */
	if (tcp_port_round(&sc, sk, kind, a, relax, low, high, remaining, offset, port_out) == 0) {
		if (hint_pending(net))
			hint_refuse(net, "another port was free in an earlier round of Linux's search "
					 "(ports of the range's odd offsets first, the lower half first "
					 "with SO_REUSEADDR), or this port is not free for this socket");
		return 0;
	}
	offset--;
	if (!(offset & 1))
		goto other_parity;
	if (attempt_half == 1) {
		attempt_half = 2;
		goto other_half;
	}
	if (st_conf_get(st_net_conf(net), ST_SYSCTL_IP_AUTOBIND_REUSE) && !relax) {
		relax = true;
		goto again;
	}
	if (hint_pending(net))
		hint_refuse(net, "no port of the range is free for this socket");
	return -EADDRINUSE;
}

static void explain_tcp_conflict(st_net *net, const st_sock *s, uint16_t port, int kind,
				 const st_addr *a, st_explain *ex, bool listen)
{
	if (!ex)
		return;
	const st_sock *w = tcp_conflict_witness(net, s, port, kind, a, true, true);
	char who[160];
	st_rule rule = ST_RULE_TCP_CONFLICT;
	const char *why = "neither SO_REUSEADDR nor SO_REUSEPORT is set on both sockets";
	if (w) {
		sock_describe(w, who, sizeof(who));
		bool both_ra = sk_has(s, ST_F_REUSEADDR) && sk_has(w, ST_F_REUSEADDR);
		bool both_rp = sk_has(s, ST_F_REUSEPORT) && sk_has(w, ST_F_REUSEPORT);
		if (both_ra && w->state == ST_LISTEN) {
			rule = ST_RULE_TCP_LISTENER_BLOCKS_RA;
			why = "SO_REUSEADDR never lets a socket share a port with a listener";
		} else if (both_rp) {
			rule = ST_RULE_TCP_REUSEPORT_UID;
			why = "SO_REUSEPORT is set on both but they belong to different users";
		} else if (w->state == ST_TIME_WAIT) {
			rule = ST_RULE_TCP_TIMEWAIT;
			why = "a TIME_WAIT socket keeps the flags of the socket it came from, and "
			      "that one did not share them";
		}
	} else {
		snprintf(who, sizeof(who), "an owner of port %u", port);
	}
	explain_set(ex, -EADDRINUSE, rule, w,
		    "%s: port %u is held by %s, and %s; %s",
		    listen ? "listen() refused" : "bind() refused", port, who,
		    kind != K_V4SPEC && kind != K_V6SPEC
			    ? (kind == K_V4ANY ? "this socket's address covers all IPv4 addresses"
			       : kind == K_DUALANY ? "this socket's address covers all IPv4 and IPv6 addresses"
						   : "this socket's address covers all IPv6 addresses")
			    : (w && w->kind != K_V4SPEC && w->kind != K_V6SPEC
				       ? "that socket's address covers this one"
				       : "both are on the same address"),
		    why);
}

/*
 * The IPv4 shadow of an IPv6 socket.  An AF_INET6 socket bound to a native
 * address by bind() is IPV6_V6ONLY from then on and never meets an IPv4
 * one.  One that got its native address from connect() (re-hashed from
 * the wildcard) is not: Linux gives it LOOPBACK4_IPV6, 127.0.0.6, as its
 * IPv4 address, and the IPv4 comparison of two bindings
 * (ipv4_rcv_saddr_equal) looks only at that.  So a pure IPv4 bind to
 * 0.0.0.0 on its port meets it, and for UDP, which compares every owner
 * of the port, so does a bind to 127.0.0.6 (docs/conformance.md lists
 * it).  Rare enough to be found by walking the port's owners.
 */
static bool shadow_applies(const st_sock *s, int kind, const st_addr *a)
{
	if (s->family != ST_AF_INET)
		return false;
	return kind == K_V4ANY ||
	       (s->proto == ST_UDP && kind == K_V4SPEC && st_addr_get_v4(a) == 0x7f000006);
}

static bool port_has_shadow(st_net *net, int proto, uint16_t port)
{
	const struct st_portbkt *b = bkt_find(net, proto, port);
	return b && b->nshadow > 0;
}

/* A TCP owner S conflicts with through its shadow, or NULL. */
static const st_sock *tcp_shadow_conflict(st_net *net, const st_sock *s, uint16_t port, int kind,
					  const st_addr *a)
{
	if (!shadow_applies(s, kind, a))
		return NULL;
	const struct st_portbkt *b = bkt_find(net, ST_TCP, port);
	if (!b || !b->nshadow)
		return NULL;
	for (const st_sock *o = b->owners; o; o = o->own_next) {
		if (!sk_v4_shadow(o))
			continue;
		st_sock as4 = *o;
		as4.kind = K_V4SPEC;
		as4.laddr = st_addr_v4(0x7f000006);
		if (tcp_pair_conflict(s, kind, a, &as4, true, true))
			return o;
	}
	return NULL;
}

/* inet_csk_get_port with an explicit port (bind, or listen re-check). */
static int tcp_get_port_explicit(st_net *net, st_sock *sk, uint16_t port, int kind,
				 const st_addr *a, st_explain *ex, bool *fast_admitted, bool listening)
{
	struct st_portbkt *b = bkt_find(net, ST_TCP, port);
	bool reuse = sk_has(sk, ST_F_REUSEADDR) && !listening;
	bool check = true;
	*fast_admitted = false;
	if (b && b->nowners) {
		if ((b->fastreuse > 0 && reuse) || fast_reuse_match(b, sk, kind, a)) {
			check = false;
			*fast_admitted = true;
		}
	}
	if (check && tcp_conflicts(net, sk, port, kind, a)) {
		explain_tcp_conflict(net, sk, port, kind, a, ex, listening);
		return -EADDRINUSE;
	}
	const st_sock *w = check ? tcp_shadow_conflict(net, sk, port, kind, a) : NULL;
	if (w) {
		char who[160];
		sock_describe(w, who, sizeof(who));
		explain_set(ex, -EADDRINUSE, ST_RULE_TCP_CONFLICT, w,
			    "%s refused: port %u is held by %s, an IPv6 socket whose address came "
			    "from connect(), so it is not IPV6_V6ONLY and its IPv4 address is "
			    "127.0.0.6, which this socket's 0.0.0.0 covers",
			    listening ? "listen()" : "bind()", port, who);
		return -EADDRINUSE;
	}
	return 0;
}

/* ---- UDP get_port ------------------------------------------------------ */

static void explain_udp_conflict(const st_sock *w, uint16_t port, st_explain *ex)
{
	if (!ex)
		return;
	char who[160];
	sock_describe(w, who, sizeof(who));
	explain_set(ex, -EADDRINUSE, ST_RULE_UDP_CONFLICT, w,
		    "bind() refused: UDP port %u is held by %s, the newest owner it overlaps, and "
		    "they share neither SO_REUSEADDR nor SO_REUSEPORT (with the same user)",
		    port, who);
}

/* Does S conflict with owner E at all (B-U1 without the SO_REUSEPORT
 * escape)?  Both SO_REUSEADDR, another device, or disjoint addresses: no. */
static bool udp_relevant_owner(const st_sock *s, int kind, const st_addr *a, const st_sock *e)
{
	if (e == s)
		return false;
	if (sk_has(s, ST_F_REUSEADDR) && sk_has(e, ST_F_REUSEADDR))
		return false;
	if (!dev_compatible(s->dev, e->dev))
		return false;
	if (sk_v4_shadow(e) && shadow_applies(s, kind, a))
		return true;
	return kinds_overlap(kind, a, e->kind, &e->laddr);
}

/* udp_lib_lport_inuse: the first relevant owner in primary-chain order
 * decides (B-U4): SO_REUSEPORT-compatible means the port is free for S.
 * Walks the owners it skips, as the kernel does. */
static bool udp_port_ok(st_net *net, const st_sock *sk, uint16_t port, int kind,
			const st_addr *a, const st_sock **witness)
{
	/* The counters decide most binds without the walk (ports.c); they
	 * know nothing of IPv4 shadows (above). */
	int d = shadow_applies(sk, kind, a) && port_has_shadow(net, ST_UDP, port)
			? -1
			: udp_bind_decide(net, sk, port, kind, a);
	if (d > 0 || (d == 0 && !witness)) {
		if (witness)
			*witness = NULL;
		return d > 0;
	}
	const struct st_portbkt *b = bkt_find(net, ST_UDP, port);
	const st_sock *e = NULL;
	for (const st_sock *o = b ? b->pr_head : NULL; o; o = o->x->pr_next) {
		if (udp_relevant_owner(sk, kind, a, o)) {
			e = o;
			break;
		}
	}
	if (witness)
		*witness = e;
	return !e || udp_rp_compatible(sk, e);
}

/* udp_lib_get_port with port 0: random start, every port of [lo, hi]. */
int udp_find_port(st_net *net, st_sock *sk, int kind, const st_addr *a, uint16_t *port_out)
{
	int low, high;
	port_range(net, sk, &low, &high);
	if (hint_pending(net)) {
		/* Any free port of the range is a choice Linux can make. */
		int h = net->hint_port;
		if (h < low || h > high) {
			hint_refuse(net, "the port is outside the ephemeral port range");
		} else if (reserved(net, h)) {
			hint_refuse(net, "the port is reserved (ip_local_reserved_ports)");
		} else if (!udp_port_ok(net, sk, (uint16_t)h, kind, a, NULL)) {
			hint_refuse(net, "the port is held by a socket this one may not share it with");
		} else {
			hint_take(net);
			*port_out = (uint16_t)h;
			return 0;
		}
	}
	uint32_t n = (uint32_t)(high - low + 1);
	uint32_t start = st_rand_below(net, n);
	for (uint32_t i = 0; i < n; i++) {
		int port = low + (int)((start + i) % n);
		if (reserved(net, port))
			continue;
		if (udp_port_ok(net, sk, (uint16_t)port, kind, a, NULL)) {
			*port_out = (uint16_t)port;
			return 0;
		}
	}
	return -EADDRINUSE;
}

/* ---- bind() ------------------------------------------------------------ */

static bool v4_addr_ok(st_net *net, const st_sock *sk, uint32_t v4)
{
	if (st_conf_get(st_net_conf(net), ST_SYSCTL_IP_NONLOCAL_BIND) ||
	    sk_has(sk, ST_F_FREEBIND) || sk_has(sk, ST_F_TRANSPARENT))
		return true;
	return st_net_v4_bindable(net, v4);
}

static bool privileged(st_net *net, uint16_t port, const st_cred *cred)
{
	int start = st_conf_get(st_net_conf(net), ST_SYSCTL_IP_UNPRIVILEGED_PORT_START);
	return port && port < start && !has_cap(cred, ST_CAP_NET_BIND_SERVICE);
}

static bool sk_bound(const st_sock *sk)
{
	return sk->state != ST_CLOSE || sk->lport != 0;
}

/* get_port + commit, shared by both families.  On failure nothing of sk
 * has changed. */
static int bind_commit(st_net *net, st_sock *sk, const st_addr *a, uint16_t port, uint32_t newflags,
		       int32_t newdev, st_explain *ex)
{
	st_sock probe = *sk;
	probe.flags = newflags;
	probe.dev = newdev;
	int kind = kind_of(sk->family, a, (newflags & ST_F_V6ONLY) != 0);
	probe.kind = (uint8_t)kind;
	probe.laddr = *a;
	/* SOCK_BINDADDR_LOCK: inet_bind sets it for a non-zero address,
	 * __inet6_bind for every address type but IPV6_ADDR_ANY -- so an
	 * AF_INET6 bind to ::ffff:0.0.0.0 locks the address (E12: after
	 * connect + AF_UNSPEC it keeps the source connect() gave it). */
	bool any = kind == K_DUALANY || kind == K_V6ANYONLY ||
		   (kind == K_V4ANY && sk->family == ST_AF_INET);
	uint32_t locks = (any ? 0 : ST_F_BINDADDR_LOCK) | (port ? ST_F_BINDPORT_LOCK : 0);
	if (!port && (newflags & ST_F_BIND_NO_PORT)) {
		/* IP_BIND_ADDRESS_NO_PORT: record the address, take no port. */
		*sk = probe;
		sk->flags |= locks;
		sk->stale_lport = 0;
		explain_set(ex, 0, ST_RULE_NONE, NULL, "bound to an address; the port waits for connect()");
		return 0;
	}
	int err;
	bool fast = false;
	if (sk->proto == ST_TCP) {
		if (port)
			err = tcp_get_port_explicit(net, &probe, port, kind, a, ex, &fast, false);
		else {
			err = tcp_find_open_port(net, &probe, kind, a, &port);
			if (err)
				explain_set(ex, err, ST_RULE_PORT_EXHAUSTED, NULL,
					    "bind() refused: no port of the local port range is free "
					    "for this address");
		}
		if (err)
			return err;
	} else {
		if (port) {
			const st_sock *w;
			if (!udp_port_ok(net, &probe, port, kind, a, &w)) {
				explain_udp_conflict(w, port, ex);
				return -EADDRINUSE;
			}
		} else {
			err = udp_find_port(net, &probe, kind, a, &port);
			if (err) {
				explain_set(ex, err, ST_RULE_PORT_EXHAUSTED, NULL,
					    "bind() refused: no UDP port of the local port range is "
					    "free for this address");
				return err;
			}
		}
	}
	/* Every check passed on the probe; commit on the real record. */
	uint32_t oldflags = sk->flags;
	int32_t olddev = sk->dev;
	sk->flags = newflags;
	sk->dev = newdev;
	err = port_take(net, sk, port, kind, a, false);
	if (err) {
		sk->flags = oldflags;
		sk->dev = olddev;
		if (err == -ENOSPC) {
			explain_set(ex, -EADDRINUSE, ST_RULE_UDP_CONFLICT, NULL,
				    "bind() refused: the SO_REUSEPORT group on port %u already has "
				    "%d members, the most Linux allows", port, RP_MAX_MEMBERS);
			return -EADDRINUSE;
		}
		explain_set(ex, err, ST_RULE_NOMEM, NULL, "out of memory");
		return err;
	}
	if (sk->proto == ST_TCP) {
		fast_update(sk->bkt, sk, kind, a, false);
		bkt_mark(net, ST_TCP, port, sk->bkt);
	}

	sk->flags |= locks;
	sk->stale_lport = 0;
	if (ex && !ex->err)
		explain_set(ex, 0, fast ? ST_RULE_FAST_REUSEPORT : ST_RULE_NONE, NULL,
			    fast ? "admitted by the port's SO_REUSEPORT fast path without a "
				   "conflict check (B-T9)"
				 : "bound");
	return 0;
}

static int bind4(st_net *net, st_sock *sk, const st_sockaddr *sa, int addrlen, const st_cred *cred,
		 st_explain *ex)
{
	if (addrlen < ST_SOCKADDR_IN_LEN) {
		explain_set(ex, -EINVAL, ST_RULE_ARG_LEN, NULL, "address length %d is shorter than a sockaddr_in", addrlen);
		return -EINVAL;
	}
	uint32_t v4 = st_addr_get_v4(&sa->addr);
	if (sa->family != ST_AF_INET && !(sa->family == ST_AF_UNSPEC && v4 == 0)) {
		explain_set(ex, -EAFNOSUPPORT, ST_RULE_ARG_FAMILY, NULL, "an IPv4 socket binds only AF_INET addresses");
		return -EAFNOSUPPORT;
	}
	if (!v4_addr_ok(net, sk, v4)) {
		explain_set(ex, -EADDRNOTAVAIL, ST_RULE_ADDR_NOT_LOCAL, NULL,
			    "the address is not local (no local or broadcast route covers it)");
		return -EADDRNOTAVAIL;
	}
	if (privileged(net, sa->port, cred)) {
		explain_set(ex, -EACCES, ST_RULE_PRIVILEGED_PORT, NULL,
			    "port %u is below net.ipv4.ip_unprivileged_port_start and the caller lacks "
			    "CAP_NET_BIND_SERVICE", sa->port);
		return -EACCES;
	}
	if (sk_bound(sk)) {
		explain_set(ex, -EINVAL, ST_RULE_ALREADY_BOUND, NULL, "the socket already has a port");
		return -EINVAL;
	}
	st_addr a = st_addr_v4(v4);
	return bind_commit(net, sk, &a, sa->port, sk->flags, sk->dev, ex);
}

static int bind6(st_net *net, st_sock *sk, const st_sockaddr *sa, int addrlen, const st_cred *cred,
		 st_explain *ex)
{
	if (addrlen < ST_SOCKADDR_IN6_LEN_RFC2133) {
		explain_set(ex, -EINVAL, ST_RULE_ARG_LEN, NULL, "address length %d is shorter than a sockaddr_in6", addrlen);
		return -EINVAL;
	}
	if (sa->family != ST_AF_INET6) {
		explain_set(ex, -EAFNOSUPPORT, ST_RULE_ARG_FAMILY, NULL, "an IPv6 socket binds only AF_INET6 addresses");
		return -EAFNOSUPPORT;
	}
	const st_addr *a = &sa->addr;
	bool mcast = st_addr_is_multicast(a) && !st_addr_is_v4mapped(a);
	if (mcast && sk->proto == ST_TCP) {
		explain_set(ex, -EINVAL, ST_RULE_MULTICAST_STREAM, NULL, "a TCP socket cannot bind a multicast address");
		return -EINVAL;
	}
	if (privileged(net, sa->port, cred)) {
		explain_set(ex, -EACCES, ST_RULE_PRIVILEGED_PORT, NULL,
			    "port %u is below net.ipv4.ip_unprivileged_port_start and the caller lacks "
			    "CAP_NET_BIND_SERVICE", sa->port);
		return -EACCES;
	}
	if (sk_bound(sk)) {
		explain_set(ex, -EINVAL, ST_RULE_ALREADY_BOUND, NULL, "the socket already has a port");
		return -EINVAL;
	}
	uint32_t flags = sk->flags;
	int32_t dev = sk->dev;
	if (st_addr_is_v4mapped(a)) {
		if (flags & ST_F_V6ONLY) {
			explain_set(ex, -EINVAL, ST_RULE_V4MAPPED_V6ONLY, NULL,
				    "a v4-mapped address cannot be bound by an IPV6_V6ONLY socket");
			return -EINVAL;
		}
		if (!v4_addr_ok(net, sk, st_addr_get_v4(a))) {
			explain_set(ex, -EADDRNOTAVAIL, ST_RULE_ADDR_NOT_LOCAL, NULL,
				    "the IPv4 address inside the v4-mapped address is not local");
			return -EADDRNOTAVAIL;
		}
	} else if (!st_addr_is_any6(a)) {
		if (st_addr_needs_scope(a)) {
			if (addrlen >= ST_SOCKADDR_IN6_LEN && sa->scope_id)
				dev = (int32_t)sa->scope_id;
			if (!dev) {
				explain_set(ex, -EINVAL, ST_RULE_SCOPE_REQUIRED, NULL,
					    "a link-local address needs a scope id or a bound device");
				return -EINVAL;
			}
		}
		if (dev && !st_conf_device_exists(st_net_conf(net), dev)) {
			explain_set(ex, -ENODEV, ST_RULE_NO_DEVICE, NULL, "no device has index %d", dev);
			return -ENODEV;
		}
		if (!mcast) {
			bool nonlocal = st_conf_get(st_net_conf(net), ST_SYSCTL_IPV6_IP_NONLOCAL_BIND) ||
					(flags & (ST_F_FREEBIND | ST_F_TRANSPARENT));
			/* Link-local and loopback addresses must be on the bound
			 * device; global ones may be on any device (B17). */
			bool dev_strict = st_addr_needs_scope(a) || st_addr_is_loopback(a);
			if (!nonlocal && !st_net_v6_has_addr(net, a, dev_strict ? dev : 0)) {
				explain_set(ex, -EADDRNOTAVAIL, ST_RULE_ADDR_NOT_LOCAL, NULL,
					    "the address is not configured%s",
					    dev_strict && dev ? " on the bound device" : "");
				return -EADDRNOTAVAIL;
			}
		}
		/* A native address forces V6ONLY (1.5); undone if bind fails
		 * because nothing is committed before get_port succeeds. */
		if (!(flags & ST_F_V6ONLY))
			flags |= ST_F_V6ONLY | ST_F_V6ONLY_FORCED;
	}
	return bind_commit(net, sk, a, sa->port, flags, dev, ex);
}

int st_bind(st_net *net, st_sock *sk, const st_sockaddr *sa, int addrlen, const st_cred *cred,
	    st_explain *ex)
{
	if (ex)
		memset(ex, 0, sizeof(*ex));
	if (!net || !sk || !sa) {
		explain_set(ex, -EINVAL, ST_RULE_NONE, NULL, "NULL argument");
		return -EINVAL;
	}
	if (!sk_valid(sk)) {
		explain_set(ex, -EINVAL, ST_RULE_NONE, NULL, "the socket record was never initialised");
		return -EINVAL;
	}
	if (sk->family == ST_AF_INET)
		return bind4(net, sk, sa, addrlen, cred, ex);
	return bind6(net, sk, sa, addrlen, cred, ex);
}

/* ---- listen() ---------------------------------------------------------- */

int st_listen(st_net *net, st_sock *sk, const st_cred *cred, st_explain *ex)
{
	(void)cred;
	if (ex)
		memset(ex, 0, sizeof(*ex));
	if (!net || !sk_valid(sk))
		return -EINVAL;
	if (sk->proto != ST_TCP) {
		explain_set(ex, -EOPNOTSUPP, ST_RULE_NOT_STREAM, NULL, "only TCP sockets listen");
		return -EOPNOTSUPP;
	}
	if (sk->state == ST_LISTEN)
		return 0;
	if (sk->state != ST_CLOSE) {
		explain_set(ex, -EINVAL, ST_RULE_BAD_STATE, NULL, "a connected socket cannot listen");
		return -EINVAL;
	}
	st_sock probe = *sk;
	probe.state = ST_LISTEN;
	int kind = sk->kind ? sk->kind : kind_of(sk->family, &sk->laddr, sk_has(sk, ST_F_V6ONLY));
	uint16_t port = sk->lport;
	bool fast = false;
	int err;
	bool had_port = sk_has(sk, ST_F_HASHED);
	if (had_port) {
		/* B-L1: re-run the rule with the socket in LISTEN state. */
		err = tcp_get_port_explicit(net, sk, port, kind, &sk->laddr, ex, &fast, true);
		if (err)
			return err;
	} else {
		err = tcp_find_open_port(net, &probe, kind, &sk->laddr, &port);
		if (err) {
			explain_set(ex, err, ST_RULE_PORT_EXHAUSTED, NULL,
				    "listen() refused: no free port for an automatic bind");
			return err;
		}
	}
	/* Reserve what linking needs before changing anything. */
	st_owner_prep p;
	bool prepped = false;
	if (!had_port) {
		err = owner_prepare(net, &probe, ST_TCP, port, kind, &sk->laddr, sk->dev, &p);
		if (err)
			return err;
		prepped = true;
	}
	probe.lport = port;
	probe.kind = (uint8_t)kind;
	struct st_sockx *x;
	err = sockx_prepare(net, sk, &x);
	if (err) {
		if (prepped)
			owner_abort(net, &p);
		return err;
	}
	struct st_chain *c;
	bool cc;
	err = chain_prepare(net, &probe, &c, &cc);
	if (err) {
		sockx_abort(net, x);
		if (prepped)
			owner_abort(net, &p);
		return err;
	}
	st_rp_prep g;
	bool rp = false;
	if (sk_has(sk, ST_F_REUSEPORT)) {
		err = rp_prepare(net, &probe, &g);
		if (err) {
			chain_abort(net, c, cc);
			sockx_abort(net, x);
			if (prepped)
				owner_abort(net, &p);
			/* A full group: __inet_hash fails with ENOMEM after
			 * get_port succeeded; the socket stays bound and
			 * CLOSE (E17), which for an explicitly bound socket is
			 * "nothing changed".  (An autobinding listen() cannot
			 * get here: autobind never shares a port.) */
			if (err == -ENOSPC) {
				explain_set(ex, -ENOMEM, ST_RULE_NOMEM, NULL,
					    "listen() refused: the SO_REUSEPORT group on port %u "
					    "already has %d members, the most Linux allows",
					    port, RP_MAX_MEMBERS);
				return -ENOMEM;
			}
			explain_set(ex, err, ST_RULE_NOMEM, NULL, "out of memory");
			return err;
		}
		rp = true;
	}
	/* Commit. */
	if (had_port) {
		owner_uncount(net, sk);
		sk->state = ST_LISTEN;
		owner_count(net, sk);
	} else {
		sk->state = ST_LISTEN;
		sk->lport = port;
		sk->kind = (uint8_t)kind;
		owner_link(net, sk, &p);
	}
	fast_update(sk->bkt, sk, kind, &sk->laddr, false);
	bkt_mark(net, ST_TCP, port, sk->bkt);
	bool tail = sk->family == ST_AF_INET6 && sk_has(sk, ST_F_REUSEPORT);
	sockx_attach(sk, x);
	chain_link(net, sk, c, tail);
	if (rp)
		rp_join(net, sk, &g);
	sk->stale_lport = 0;
	explain_set(ex, 0, fast ? ST_RULE_FAST_REUSEPORT : ST_RULE_NONE, NULL, "listening");
	return 0;
}

int st_unlisten(st_net *net, st_sock *sk)
{
	if (!net || !sk || sk->state != ST_LISTEN)
		return -EINVAL;
	rp_leave(net, sk);
	chain_unlink(net, sk);
	sockx_put(net, sk);
	owner_uncount(net, sk);
	sk->state = ST_CLOSE;
	owner_count(net, sk);
	if (!sk_has(sk, ST_F_BINDPORT_LOCK)) {
		sk->stale_lport = sk->lport;
		port_release(net, sk);
		sk->lport = 0;
	}
	if (!sk_has(sk, ST_F_BINDADDR_LOCK) && !sk_has(sk, ST_F_HASHED)) {
		sk->laddr = sock_unbound_addr(sk);
		sk->kind = K_NONE;
	}
	return 0;
}

void st_close(st_net *net, st_sock *sk)
{
	if (!net || !sk)
		return;
	if (sk->state == ST_TIME_WAIT)
		tw_ring_remove(net, sk);
	if (sk_has(sk, ST_F_EHASHED)) {
		if (sk->proto == ST_TCP && sk_has(sk, ST_F_CONNECT_BIND))
			conn_dest_del(net, sk);
		st_ehash_remove(sk->proto == ST_TCP ? &net->tcp_e : &net->udp_e, sk);
		sk->flags &= ~ST_F_EHASHED;
	}
	port_release(net, sk);
	sk->state = ST_CLOSE;
}

void st_getsockname(const st_sock *sk, st_sockaddr *out)
{
	/* void: nothing to report a NULL with, so nothing is written. */
	if (!sk || !out)
		return;
	memset(out, 0, sizeof(*out));
	out->family = sk->family;
	out->addr = sk->laddr;
	out->port = sk->lport ? sk->lport : sk->stale_lport;
	if (sk->family == ST_AF_INET6 && sk->dev && st_addr_needs_scope(&sk->laddr))
		out->scope_id = (uint32_t)sk->dev;
}

int st_getpeername(const st_sock *sk, st_sockaddr *out)
{
	if (!sk || !out)
		return -EINVAL;
	if (sk->state == ST_CLOSE || sk->state == ST_LISTEN || !sk->rport)
		return -ENOTCONN;
	memset(out, 0, sizeof(*out));
	out->family = sk->family;
	out->addr = sk->raddr;
	out->port = sk->rport;
	/* inet6_getname: a peer that needs a scope gets the bound device. */
	if (sk->family == ST_AF_INET6 && sk->dev && st_addr_needs_scope(&sk->raddr))
		out->scope_id = (uint32_t)sk->dev;
	return 0;
}
