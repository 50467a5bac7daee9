/*
 * src/stack/socket.c - socket objects: lifetime, options and the calls.
 *
 * A socket is an st_sock record (the core's view: addresses, flags, state,
 * table linkage) wrapped with what only the stack needs: queues, the TCP
 * control block, the socket-layer connection state and the pending error.
 *
 * Why two connection states: Linux answers connect() from struct socket's
 * state (unconnected / connecting / connected) *and* the TCP state.  A
 * non-blocking connect that has since completed returns 0 once (connecting
 * -> connected), then EISCONN; one still in progress returns EALREADY; one
 * that failed returns the pending error once.  Keeping both states here
 * makes those answers fall out of the same few lines Linux uses.
 *
 * Lifetime: `refs` counts descriptors in any process.  The last release
 * closes the socket; TCP may keep it alive as an orphan (FIN handshake,
 * TIME_WAIT), and a listener's children live on the listener's queues with
 * no reference until accept() hands them one.  stk_sock_maybe_free() is
 * the single place that decides a socket can go.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "stack/stack_internal.h"
#include "net_internal.h"
#include "alloc.h"

stk_sock *stk_sock_alloc(stk_stack *st, int proto, int family, uint32_t uid, uint32_t caps)
{
	stk_sock *sk = st_calloc(1, sizeof(*sk));
	stk_rec *rec = st_calloc(1, sizeof(*rec));
	if (!sk || !rec || st_sock_init(st->net, &rec->core, proto, family, uid)) {
		st_free(sk);
		st_free(rec);
		return NULL;
	}
	rec->owner = sk;
	sk->core = &rec->core;
	sk->stack = st;
	sk->uid = uid;
	sk->caps = caps;
	sk->tcb.rtx_timer.heap_idx = STK_TIMER_IDLE;
	sk->tcb.wait_timer.heap_idx = STK_TIMER_IDLE;
	sk->next = st->socks;
	if (st->socks)
		st->socks->prev = sk;
	st->socks = sk;
	st->nsocks++;
	return sk;
}

void stk_udp_purge(stk_sock *sk)
{
	stk_dgram *d = sk->dq_head;
	while (d) {
		stk_dgram *n = d->next;
		st_free(d);
		d = n;
	}
	sk->dq_head = sk->dq_tail = NULL;
	sk->dq_bytes = 0;
}

void stk_sock_free_now(stk_sock *sk)
{
	stk_stack *st = sk->stack;
	if (sk->core->proto == ST_TCP) {
		stk_tcp_stop_timers(sk);
		/* Children still queued on a listener die with it. */
		while (sk->acc_head)
			stk_sock_free_now(sk->acc_head);
		while (sk->syn_head)
			stk_sock_free_now(sk->syn_head);
	}
	if (sk->parent) {
		stk_sock *l = sk->parent;
		if (sk->in_acceptq) {
			if (sk->q_prev)
				sk->q_prev->q_next = sk->q_next;
			else
				l->acc_head = sk->q_next;
			if (sk->q_next)
				sk->q_next->q_prev = sk->q_prev;
			else
				l->acc_tail = sk->q_prev;
			l->nacc--;
		} else {
			if (sk->q_prev)
				sk->q_prev->q_next = sk->q_next;
			else
				l->syn_head = sk->q_next;
			if (sk->q_next)
				sk->q_next->q_prev = sk->q_prev;
			l->nsyn--;
		}
		sk->parent = NULL;
	}
	if (sk->core->flags & (ST_F_HASHED | ST_F_EHASHED | ST_F_LHASHED))
		st_close(st->net, sk->core);
	stk_udp_purge(sk);
	stk_bytes_free(&sk->tcb.sndq);
	stk_bytes_free(&sk->tcb.rcvq);
	if (sk->prev)
		sk->prev->next = sk->next;
	else
		st->socks = sk->next;
	if (sk->next)
		sk->next->prev = sk->prev;
	st->nsocks--;
	st_free(sk->core);   /* the stk_rec: core is its first member */
	st_free(sk);
}

void stk_sock_maybe_free(stk_sock *sk)
{
	if (sk->refs > 0 || sk->parent)
		return;
	if (sk->core->state != ST_CLOSE)
		return;
	stk_sock_free_now(sk);
}

int stk_socket(stk_stack *st, int proto, int family, const st_cred *cred, stk_sock **out)
{
	if (!st || !out || !cred)
		return -EINVAL;
	if (family != ST_AF_INET && family != ST_AF_INET6)
		return -EAFNOSUPPORT;
	if (proto != ST_TCP && proto != ST_UDP)
		return -EPROTONOSUPPORT;
	stk_sock *sk = stk_sock_alloc(st, proto, family, cred->uid, cred->caps);
	if (!sk)
		return -ENOMEM;
	sk->refs = 1;
	if (proto == ST_TCP)
		stk_tcp_init_tcb(sk);
	*out = sk;
	return 0;
}

void stk_hold(stk_sock *sk)
{
	sk->refs++;
}

void stk_release(stk_sock *sk)
{
	if (--sk->refs > 0)
		return;
	sk->orphan = true;
	if (sk->core->proto == ST_TCP) {
		stk_tcp_close(sk);   /* may free sk */
		return;
	}
	st_close(sk->stack->net, sk->core);
	sk->core->state = ST_CLOSE;
	stk_sock_maybe_free(sk);
}

stk_sock *stk_sock_of(const st_sock *rec)
{
	return stk_of(rec);
}

const st_sock *stk_core(const stk_sock *sk)
{
	return sk->core;
}

stk_stack *stk_sock_stack(const stk_sock *sk)
{
	return sk->stack;
}

/* ---- options ------------------------------------------------------------ */

static int core_opt(stk_opt opt, st_opt *out)
{
	switch (opt) {
	case STK_SO_REUSEADDR: *out = ST_SO_REUSEADDR; return 0;
	case STK_SO_REUSEPORT: *out = ST_SO_REUSEPORT; return 0;
	case STK_IPV6_V6ONLY: *out = ST_IPV6_V6ONLY; return 0;
	case STK_SO_BROADCAST: *out = ST_SO_BROADCAST; return 0;
	case STK_SO_BINDTODEVICE: *out = ST_SO_BINDTODEVICE; return 0;
	case STK_IP_FREEBIND: *out = ST_IP_FREEBIND; return 0;
	case STK_IP_TRANSPARENT: *out = ST_IP_TRANSPARENT; return 0;
	case STK_IP_BIND_ADDRESS_NO_PORT: *out = ST_IP_BIND_ADDRESS_NO_PORT; return 0;
	case STK_IP_LOCAL_PORT_RANGE: *out = ST_IP_LOCAL_PORT_RANGE; return 0;
	default: return -ENOPROTOOPT;
	}
}

int stk_setsockopt(stk_sock *sk, stk_opt opt, const stk_optval *v, const st_cred *cred)
{
	if (!sk || !v || !cred)
		return -EINVAL;
	switch (opt) {
	case STK_SO_LINGER:
		sk->linger_on = v->i != 0;
		/* Linux clamps l_linger to MAX_SCHEDULE_TIMEOUT / HZ; negative
		 * seconds are kept as given in l_linger (an int). */
		sk->linger_secs = (int)v->i2;
		return 0;
	case STK_SO_ERROR:
		return -ENOPROTOOPT;
	case STK_IP_LOCAL_PORT_RANGE: {
		if (v->i < 0 || v->i > 65535 || v->i2 < 0 || v->i2 > 65535)
			return -EINVAL;
		uint32_t val = (uint32_t)v->i2 << 16 | (uint32_t)v->i;
		return st_setsockopt(sk->stack->net, sk->core, ST_IP_LOCAL_PORT_RANGE, val, cred);
	}
	default: {
		st_opt co;
		int err = core_opt(opt, &co);
		if (err)
			return err;
		if (opt == STK_SO_BINDTODEVICE) {
			if (v->i < 0 || v->i > INT32_MAX)
				return -ENODEV;
		}
		uint32_t val = opt == STK_SO_BINDTODEVICE ? (uint32_t)v->i : (v->i != 0);
		return st_setsockopt(sk->stack->net, sk->core, co, val, cred);
	}
	}
}

int stk_getsockopt(stk_sock *sk, stk_opt opt, stk_optval *v)
{
	if (!sk || !v)
		return -EINVAL;
	stk_optval r = { 0, 0 };
	switch (opt) {
	case STK_SO_LINGER:
		r.i = sk->linger_on;
		r.i2 = sk->linger_secs;
		break;
	case STK_SO_ERROR:
		r.i = sk->so_error;
		sk->so_error = 0;
		break;
	case STK_IP_LOCAL_PORT_RANGE: {
		uint32_t val;
		int err = st_getsockopt(sk->stack->net, sk->core, ST_IP_LOCAL_PORT_RANGE, &val);
		if (err)
			return err;
		r.i = val & 0xffff;
		r.i2 = val >> 16;
		break;
	}
	default: {
		st_opt co;
		int err = core_opt(opt, &co);
		if (err)
			return err;
		uint32_t val;
		err = st_getsockopt(sk->stack->net, sk->core, co, &val);
		if (err)
			return err;
		r.i = opt == STK_SO_BINDTODEVICE ? (int64_t)(int32_t)val : (int64_t)val;
		break;
	}
	}
	*v = r;
	return 0;
}

/* ---- calls -------------------------------------------------------------- */

static int addrlen_of(const st_sockaddr *sa)
{
	return sa->family == ST_AF_INET6 ? ST_SOCKADDR_IN6_LEN : ST_SOCKADDR_IN_LEN;
}

/*
 * Linux binds the device named by the scope id of a link-local (or
 * interface-local multicast) address before anything that can still fail,
 * and does not undo it: a bind() that then finds the address missing or
 * the port taken, or a connect() that finds no route, leaves the socket
 * bound to that device (__inet6_bind, tcp_v6_connect,
 * __ip6_datagram_connect).  The core's calls change nothing when they
 * fail, so that side effect is applied here, for the errors that come
 * after that step.
 */
static void scope_binds_device(stk_sock *sk, const st_sockaddr *sa, int err, bool connecting)
{
	const st_sock *c = sk->core;
	if (!err || c->family != ST_AF_INET6 || sa->family != ST_AF_INET6 || !sa->scope_id ||
	    !st_addr_needs_scope(&sa->addr) || c->dev)
		return;
	if (c->proto == ST_TCP && st_addr_is_multicast(&sa->addr))
		return;   /* refused before the scope is looked at */
	bool after = connecting ? err == -ENETUNREACH || err == -EAFNOSUPPORT || err == -EADDRNOTAVAIL ||
				  err == -EHOSTUNREACH
				: err == -ENODEV || err == -EADDRNOTAVAIL || err == -EADDRINUSE ||
				  err == -EAGAIN;
	if (after)
		sock_set_dev(sk->stack->net, sk->core, (int32_t)sa->scope_id);
}

int stk_bind(stk_sock *sk, const st_sockaddr *sa, const st_cred *cred, st_explain *ex)
{
	if (!sk || !sa || !cred)
		return -EINVAL;
	int err = st_bind(sk->stack->net, sk->core, sa, addrlen_of(sa), cred, ex);
	scope_binds_device(sk, sa, err, false);
	return err;
}

int stk_listen(stk_sock *sk, int backlog, const st_cred *cred, st_explain *ex)
{
	if (!sk || !cred)
		return -EINVAL;
	if (sk->core->proto != ST_TCP) {
		if (ex) {
			memset(ex, 0, sizeof(*ex));
			ex->err = -EOPNOTSUPP;
			ex->rule = ST_RULE_NOT_STREAM;
		}
		return -EOPNOTSUPP;
	}
	if (sk->sstate != STK_SS_UNCONNECTED ||
	    (sk->core->state != ST_CLOSE && sk->core->state != ST_LISTEN)) {
		if (ex) {
			memset(ex, 0, sizeof(*ex));
			ex->err = -EINVAL;
			ex->rule = ST_RULE_BAD_STATE;
		}
		return -EINVAL;
	}
	int somax = 4096;
	st_net_sysctl_get(sk->stack->net, ST_SYSCTL_SOMAXCONN, &somax, 1);
	/* Linux compares as unsigned: a negative backlog means "as many as
	 * somaxconn allows". */
	unsigned int b = (unsigned int)backlog;
	if (b > (unsigned int)somax)
		b = (unsigned int)somax;
	if (sk->core->state == ST_LISTEN) {
		sk->max_backlog = (int)b;
		return 0;
	}
	int err = st_listen(sk->stack->net, sk->core, cred, ex);
	if (err)
		return err;
	sk->max_backlog = (int)b;
	return 0;
}

/* tcp_disconnect: abort whatever the socket was doing.  A connection
 * that could still carry data is reset and so is one closing with data
 * not yet sent; the pending error then says ECONNRESET, as it does for an
 * attempt still in SYN-SENT. */
static int tcp_disconnect(stk_sock *sk)
{
	st_state s = (st_state)sk->core->state;
	const stk_tcb *tb = &sk->tcb;
	bool unsent = tb->snd_nxt != tb->snd_buf_seq + (uint32_t)stk_bytes_len(&tb->sndq) + tb->fin_queued;
	if (s == ST_LISTEN) {
		stk_tcp_listen_stop(sk);
	} else if (s == ST_ESTABLISHED || s == ST_CLOSE_WAIT || s == ST_FIN_WAIT1 ||
		   s == ST_FIN_WAIT2 || s == ST_SYN_RECV ||
		   ((s == ST_CLOSING || s == ST_LAST_ACK) && unsent)) {
		stk_tcp_send_rst(sk);
		sk->so_error = ECONNRESET;
	} else if (s == ST_SYN_SENT) {
		sk->so_error = ECONNRESET;
	}
	stk_tcp_stop_timers(sk);
	stk_bytes_free(&sk->tcb.sndq);
	stk_bytes_free(&sk->tcb.rcvq);
	int err = st_disconnect(sk->stack->net, sk->core);
	sk->shut_rd = sk->shut_wr = false;
	sk->rcv_eof = false;
	stk_tcp_init_tcb(sk);
	return err;
}

/* Does this IPv6 socket's connect go to an IPv4 (or v4-mapped) peer? */
static bool v4_peer(const stk_sock *sk, const st_sockaddr *sa)
{
	if (sa->family == ST_AF_INET)
		return true;
	if (sa->family != ST_AF_INET6)
		return false;
	return st_addr_is_v4mapped(&sa->addr) ||
	       (st_addr_is_any6(&sa->addr) && st_addr_is_v4mapped(&sk->core->laddr));
}

/* A UDP6 socket with an IPv4 source of its own (stack_internal.h) connects
 * to an IPv4 peer from it: a loopback source towards a real device is
 * EINVAL (__mkroute_output).  The core knows only the socket's IPv6 side;
 * everything else it decides. */
static int udp6_v4_connect_check(stk_sock *sk, const st_sockaddr *sa)
{
	if (sk->core->family != ST_AF_INET6 || !sk->has_v4_saddr || !v4_peer(sk, sa) ||
	    (sk->core->flags & ST_F_V6ONLY) || !st_addr_is_loopback(&sk->v4_saddr))
		return 0;
	st_addr dst = st_addr_is_any6(&sa->addr) || st_addr_is_any4(&sa->addr) ? st_addr_v4(0x7f000001)
									      : st_addr_v4(st_addr_get_v4(&sa->addr));
	st_addr src;
	int ifindex;
	if (stk_ip_route(sk->stack, ST_AF_INET, &dst, sk->core->dev, &src, &ifindex))
		return 0;   /* the core says ENETUNREACH */
	return ifindex != ST_IFINDEX_LO ? -EINVAL : 0;
}

/* After a UDP6 connect to an IPv4 peer: a socket whose own address is not
 * v4-mapped takes the route's IPv4 source as inet_saddr, once. */
static void udp6_note_v4_saddr(stk_sock *sk)
{
	const st_sock *c = sk->core;
	if (c->family != ST_AF_INET6 || sk->has_v4_saddr || !st_addr_is_v4mapped(&c->raddr) ||
	    st_addr_is_v4mapped(&c->laddr))
		return;
	st_addr src;
	int ifindex;
	if (stk_ip_route(sk->stack, ST_AF_INET, &c->raddr, c->dev, &src, &ifindex) == 0) {
		sk->v4_saddr = src;
		sk->has_v4_saddr = true;
	}
}

int stk_connect(stk_sock *sk, const st_sockaddr *sa, const st_cred *cred, st_explain *ex)
{
	if (!sk || !sa || !cred)
		return -EINVAL;
	if (ex)
		memset(ex, 0, sizeof(*ex));
	st_net *net = sk->stack->net;
	if (sk->core->proto == ST_UDP) {
		/* A pending error (an ICMP port unreachable) survives a new
		 * connect(): the next send or receive still reports it. */
		int err = udp6_v4_connect_check(sk, sa);
		if (err)
			return err;
		err = st_connect(net, sk->core, sa, addrlen_of(sa), cred, ex);
		scope_binds_device(sk, sa, err, true);
		if (!err)
			udp6_note_v4_saddr(sk);
		if (sk->core->family == ST_AF_INET && sa->family == ST_AF_INET) {
			/* __ip4_datagram_connect resets the cached route and fills
			 * inet->cork.fl before its route lookup (stack_internal.h). */
			if (!err) {
				sk->dst_cached = true;
				sk->cork_stale = false;
			} else if (err == -ENETUNREACH || err == -EINVAL || err == -EACCES) {
				sk->dst_cached = false;
				sk->cork_stale = true;
				sk->cork_daddr = sa->addr;
				sk->cork_dport = sa->port;
			}
		}
		else if (sa->family == ST_AF_UNSPEC && !(sk->core->flags & ST_F_BINDADDR_LOCK))
			sk->has_v4_saddr = false;
		return err;
	}
	if (sa->family == ST_AF_UNSPEC) {
		int err = tcp_disconnect(sk);
		sk->sstate = STK_SS_UNCONNECTED;
		return err;
	}
	int err;
	switch (sk->sstate) {
	case STK_SS_DISCONNECTING:
		return -EINVAL;
	case STK_SS_CONNECTED:
		return -EISCONN;
	case STK_SS_CONNECTING:
		err = -EALREADY;
		break;
	default:
		if (sk->core->state != ST_CLOSE) {
			if (ex) {
				ex->err = -EISCONN;
				ex->rule = ST_RULE_BAD_STATE;
			}
			return -EISCONN;
		}
		bool mapped = sk->core->family == ST_AF_INET6 && sa->family == ST_AF_INET6 &&
			      !(sk->core->flags & ST_F_V6ONLY) &&
			      (st_addr_is_v4mapped(&sa->addr) ||
			       (st_addr_is_any6(&sa->addr) && st_addr_is_v4mapped(&sk->core->laddr)));
		err = st_connect(net, sk->core, sa, addrlen_of(sa), cred, ex);
		scope_binds_device(sk, sa, err, true);
		if (mapped) {
			sk->v4_ops = !err;
			if (!err)
				sk->v4_daddr = sk->core->raddr;
		}
		if (err)
			return err;
		sk->so_error = 0;   /* tcp_connect_init */
		stk_tcp_start_connect(sk);
		sk->sstate = STK_SS_CONNECTING;
		err = -EINPROGRESS;
		break;
	}
	if (sk->core->state == ST_SYN_SENT || sk->core->state == ST_SYN_RECV)
		return err;
	if (sk->core->state == ST_CLOSE) {
		err = sk->so_error ? -sk->so_error : -ECONNABORTED;
		sk->so_error = 0;
		sk->sstate = STK_SS_UNCONNECTED;
		/* Having reported the failure, connect() disconnects the socket
		 * (tcp_disconnect): shutdown flags and queues start afresh, so
		 * a later recv() says ENOTCONN, not end of stream. */
		sk->shut_rd = sk->shut_wr = false;
		sk->rcv_eof = false;
		stk_tcp_init_tcb(sk);
		/* ... which also forgets an automatic source address (E21). */
		st_disconnect(sk->stack->net, sk->core);
		return err;
	}
	sk->sstate = STK_SS_CONNECTED;
	return 0;
}

bool stk_connect_pending(const stk_sock *sk)
{
	return sk->core->proto == ST_TCP && sk->sstate == STK_SS_CONNECTING &&
	       (sk->core->state == ST_SYN_SENT || sk->core->state == ST_SYN_RECV);
}

int stk_accept(stk_sock *lsk, stk_sock **child, st_sockaddr *peer)
{
	if (!lsk || !child)
		return -EINVAL;
	if (lsk->core->proto != ST_TCP)
		return -EOPNOTSUPP;
	if (lsk->core->state != ST_LISTEN)
		return -EINVAL;
	stk_sock *c = lsk->acc_head;
	if (!c)
		return -EAGAIN;
	lsk->acc_head = c->q_next;
	if (lsk->acc_head)
		lsk->acc_head->q_prev = NULL;
	else
		lsk->acc_tail = NULL;
	lsk->nacc--;
	c->parent = NULL;
	c->q_next = c->q_prev = NULL;
	c->in_acceptq = false;
	c->refs = 1;
	c->orphan = false;
	c->sstate = STK_SS_CONNECTED;
	if (peer)
		*peer = c->acc_peer;
	*child = c;
	return 0;
}

int stk_send(stk_sock *sk, const uint8_t *data, size_t len)
{
	if (!sk || (!data && len))
		return -EINVAL;
	if (sk->core->proto == ST_UDP) {
		/* The automatic bind comes first, even when the send then
		 * fails with EDESTADDRREQ (inet_send_prepare). */
		st_cred c = { sk->uid, sk->caps };
		return stk_udp_sendto(sk, NULL, data, len, &c);
	}
	st_state s = (st_state)sk->core->state;
	if (s != ST_ESTABLISHED && s != ST_CLOSE_WAIT) {
		if (sk->so_error) {
			int e = sk->so_error;
			sk->so_error = 0;
			return -e;
		}
		if (s != ST_SYN_SENT && s != ST_SYN_RECV)
			return -EPIPE;
		return -EAGAIN;
	}
	if (sk->so_error) {
		int e = sk->so_error;
		sk->so_error = 0;
		return -e;
	}
	if (sk->shut_wr || sk->tcb.fin_queued)
		return -EPIPE;
	if (stk_bytes_len(&sk->tcb.sndq) + len > STK_TCP_SNDBUF)
		return -EAGAIN;
	if (stk_bytes_append(&sk->tcb.sndq, data, len))
		return -ENOMEM;
	stk_tcp_output(sk);
	return 0;
}

int stk_sendto(stk_sock *sk, const st_sockaddr *to, const uint8_t *data, size_t len,
	       const st_cred *cred)
{
	if (!sk || (!data && len) || !cred)
		return -EINVAL;
	if (sk->core->proto == ST_TCP) {
		/* A TCP socket ignores the address once connected; before
		 * that Linux answers EPIPE (or ENOTCONN with an address on a
		 * never-connected socket: tcp_sendmsg has no address path). */
		return stk_send(sk, data, len);
	}
	if (!to)
		return stk_send(sk, data, len);
	return stk_udp_sendto(sk, to, data, len, cred);
}

int stk_recv(stk_sock *sk, uint8_t *buf, size_t cap, size_t *n, st_sockaddr *from)
{
	if (!sk || !n || (!buf && cap))
		return -EINVAL;
	if (sk->core->proto == ST_UDP) {
		if (sk->so_error) {
			int e = sk->so_error;
			sk->so_error = 0;
			return -e;
		}
		stk_dgram *d = sk->dq_head;
		if (!d)
			return -EAGAIN;
		sk->dq_head = d->next;
		if (!sk->dq_head)
			sk->dq_tail = NULL;
		/* The whole charge: refunding only the bytes leaked 256 per
		 * datagram until the queue looked full for good (found by a
		 * long scenario, tests/robustness). */
		sk->dq_bytes -= d->len + STK_UDP_DGRAM_OVERHEAD;
		size_t k = d->len < cap ? d->len : cap;
		if (k)
			memcpy(buf, d->data, k);
		if (from)
			*from = d->from;
		*n = k;
		st_free(d);
		return 0;
	}
	if (sk->core->state == ST_LISTEN)
		return -ENOTCONN;
	size_t avail = stk_bytes_len(&sk->tcb.rcvq);
	if (avail) {
		size_t k = stk_bytes_peek(&sk->tcb.rcvq, 0, buf, cap);
		stk_bytes_drop(&sk->tcb.rcvq, k);
		/* tcp_recvmsg fills in no address: recvfrom on TCP gets an
		 * empty one (family 0). */
		if (from)
			memset(from, 0, sizeof(*from));
		*n = k;
		stk_tcp_window_update(sk);
		return 0;
	}
	if (sk->tcb.fin_rcvd) {
		*n = 0;
		return 0;
	}
	if (sk->so_error) {
		int e = sk->so_error;
		sk->so_error = 0;
		return -e;
	}
	if (sk->shut_rd) {
		*n = 0;
		return 0;
	}
	if (sk->core->state == ST_CLOSE)
		return -ENOTCONN;
	return -EAGAIN;
}

int stk_shutdown(stk_sock *sk, stk_shut how)
{
	if (!sk)
		return -EINVAL;
	if (how != STK_SHUT_RD && how != STK_SHUT_WR && how != STK_SHUT_RDWR)
		return -EINVAL;
	bool rd = how & STK_SHUT_RD, wr = how & STK_SHUT_WR;
	st_state s = (st_state)sk->core->state;
	/* inet_shutdown: an attempt that has not completed (or already
	 * failed, unreported) leaves the socket disconnecting for good. */
	if (sk->sstate == STK_SS_CONNECTING)
		sk->sstate = s == ST_SYN_SENT || s == ST_SYN_RECV || s == ST_CLOSE ? STK_SS_DISCONNECTING
										 : STK_SS_CONNECTED;
	if (s == ST_LISTEN && !rd)
		return 0;
	if (s == ST_LISTEN || s == ST_SYN_SENT) {
		int err = tcp_disconnect(sk);
		sk->sstate = STK_SS_UNCONNECTED;
		return err;
	}
	/* Otherwise the flags are set even on a closed socket (which also
	 * gets ENOTCONN) and stay for its next connection; a FIN goes out
	 * only from a synchronized state (tcp_shutdown; SYN-RECV sends it
	 * once established). */
	int err = s == ST_CLOSE ? -ENOTCONN : 0;
	if (rd)
		sk->shut_rd = true;
	if (wr) {
		sk->shut_wr = true;
		if (sk->core->proto == ST_TCP && s != ST_SYN_RECV)
			stk_tcp_shutdown_wr(sk);
	}
	return err;
}

void stk_getsockname(const stk_sock *sk, st_sockaddr *out)
{
	st_getsockname(sk->core, out);
}

int stk_getpeername(const stk_sock *sk, st_sockaddr *out)
{
	if (sk->core->proto == ST_TCP && sk->core->state != ST_ESTABLISHED &&
	    sk->core->state != ST_CLOSE_WAIT && sk->core->state != ST_FIN_WAIT1 &&
	    sk->core->state != ST_FIN_WAIT2 && sk->core->state != ST_CLOSING &&
	    sk->core->state != ST_LAST_ACK && sk->core->state != ST_SYN_RECV)
		return -ENOTCONN;
	return st_getpeername(sk->core, out);
}

/* ---- inspection --------------------------------------------------------- */

void stk_foreach(stk_stack *st, void (*fn)(stk_sock *sk, void *ctx), void *ctx)
{
	for (stk_sock *sk = st->socks; sk; sk = sk->next)
		if (stk_state_name(sk))
			fn(sk, ctx);
}

int stk_sock_refs(const stk_sock *sk)
{
	return sk->refs;
}

const char *stk_state_name(const stk_sock *sk)
{
	const st_sock *c = sk->core;
	bool bound = (c->flags & (ST_F_HASHED | ST_F_EHASHED | ST_F_LHASHED)) != 0;
	if (c->proto == ST_UDP) {
		if (!bound)
			return NULL;
		return c->state == ST_ESTABLISHED ? "ESTAB" : "UNCONN";
	}
	switch ((st_state)c->state) {
	case ST_CLOSE: return bound ? "BOUND" : NULL;
	case ST_LISTEN: return "LISTEN";
	case ST_SYN_SENT: return "SYN-SENT";
	case ST_SYN_RECV: return "SYN-RECV";
	case ST_ESTABLISHED: return "ESTAB";
	case ST_FIN_WAIT1: return "FIN-WAIT-1";
	case ST_FIN_WAIT2: return "FIN-WAIT-2";
	case ST_CLOSE_WAIT: return "CLOSE-WAIT";
	case ST_CLOSING: return "CLOSING";
	case ST_LAST_ACK: return "LAST-ACK";
	case ST_TIME_WAIT: return "TIME-WAIT";
	default: return NULL;
	}
}

void stk_sock_pkt(const stk_sock *sk, st_pkt *p)
{
	memset(p, 0, sizeof(*p));
	p->proto = sk->core->proto;
	p->family = st_addr_is_v4mapped(&sk->core->raddr) ? ST_AF_INET : ST_AF_INET6;
	p->saddr = sk->core->raddr;
	p->daddr = sk->core->laddr;
	p->sport = sk->core->rport;
	p->dport = sk->core->lport;
}
