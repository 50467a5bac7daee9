/*
 * src/stack/tcp_in.c - the TCP state machine (RFC 9293 3.10.7), driven by
 * arriving segments and by the user's close/shutdown.
 *
 * Every arriving segment first goes through the core's demux
 * (st_lookup_tcp: exact 4-tuple including SYN-RECV children and TIME_WAIT
 * records, then listeners on the exact address, then wildcard listeners),
 * so the socket a packet reaches is decided by the same code that the
 * tables' tests check, and the explanation printed by --explain is the
 * lookup's own.  Then the segment is processed in the order of the RFC:
 * sequence acceptability, RST, SYN, ACK, data, FIN.
 *
 * Linux choices kept where the RFC leaves room or where Linux differs:
 *   - a listener whose accept queue holds more than its backlog drops new
 *     SYNs silently (the client retransmits), and ignores the final ACK of
 *     a handshake it cannot queue (tcp_abort_on_overflow = 0);
 *   - a SYN-ACK arriving in SYN-RECEIVED that acknowledges our SYN is the
 *     second half of a simultaneous open (or of a self-connect) and
 *     completes it;
 *   - closing with unread data, or with SO_LINGER {1, 0}, aborts with RST;
 *   - data arriving after close() on a half-open connection gets RST;
 *   - RST in TIME_WAIT kills the record (tcp_rfc1337 = 0); a SYN with a
 *     higher sequence number reopens the 4-tuple for a listener;
 *   - an orphaned FIN-WAIT-2 lasts tcp_fin_timeout (60 s).
 *
 * stk_tcp_set_state() is the one function that changes a TCP socket's
 * state once it is connected or listening (the core's st_* calls do the
 * table side of each transition).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "stack/stack_internal.h"
#include "net_internal.h"

#define TCP_TIMEWAIT_LEN (60 * STK_SEC)
#define TCP_FIN_TIMEOUT (60 * STK_SEC)

static uint32_t data_end(const stk_tcb *tb)
{
	return tb->snd_buf_seq + (uint32_t)stk_bytes_len(&tb->sndq);
}

static bool fin_acked(const stk_tcb *tb)
{
	return tb->fin_queued && seq_gt(tb->snd_una, data_end(tb));
}

static const char *state_word(st_state s)
{
	static const char *const names[] = {
		"CLOSE", "LISTEN", "SYN-SENT", "SYN-RECV", "ESTABLISHED", "FIN-WAIT-1",
		"FIN-WAIT-2", "CLOSE-WAIT", "CLOSING", "LAST-ACK", "TIME-WAIT",
	};
	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

void stk_tcp_set_state(stk_sock *sk, st_state state)
{
	if (sk->core->state == state)
		return;
	if (state == ST_ESTABLISHED) {
		stk_tcb *tb = &sk->tcb;
		tb->cwnd = 10u * tb->mss;
		tb->ssthresh = 0x7fffffff;
	}
	st_set_state(sk->stack->net, sk->core, state);
}

static void fin_timeout_fire(stk_timer *t)
{
	stk_sock *sk = (stk_sock *)((char *)t - offsetof(stk_sock, tcb.wait_timer));
	stk_tcp_done(sk, 0);
}

static void tw_expire_one(st_sock *tw, void *ctx)
{
	(void)ctx;
	stk_sock *sk = stk_of(tw);
	stk_tcp_stop_timers(sk);
	sk->core->state = ST_CLOSE;
	stk_sock_maybe_free(sk);
}

static void tw_fire(stk_timer *t)
{
	stk_sock *sk = (stk_sock *)((char *)t - offsetof(stk_sock, tcb.wait_timer));
	stk_stack *st = sk->stack;
	st_net_set_time(st->net, stk_now(st));
	st_expire_timewait(st->net, tw_expire_one, NULL);
}

/*
 * A socket still held by a process does not itself sit in TIME_WAIT: as
 * in Linux (tcp_time_wait), a separate record takes over the 4-tuple and
 * the port, and the process's socket is left CLOSED, unhashed, showing its
 * old address.  Returns the object that now carries the connection.
 */
static stk_sock *hand_over(stk_sock *sk)
{
	stk_stack *st = sk->stack;
	/* A child waiting in the accept queue is the process's socket to be:
	 * it, too, is left behind CLOSED while a record takes the 4-tuple. */
	if (sk->orphan || (sk->parent && !sk->in_acceptq))
		return sk;
	st_sock *old = sk->core;
	/* The record was taken before the segment was processed
	 * (reserve_for_segment), so this cannot fail on the input path. */
	stk_sock *tw = st->tw_spare;
	st->tw_spare = NULL;
	if (!tw)
		tw = stk_sock_alloc(st, old->proto, old->family, sk->uid, sk->caps);
	if (!tw)
		return sk;   /* keep it in place: the table state is still right */
	st_sock *fresh = tw->core;
	/* Swap records: the TIME_WAIT object takes the hashed one. */
	((stk_rec *)(void *)old)->owner = tw;
	((stk_rec *)(void *)fresh)->owner = sk;
	tw->core = old;
	sk->core = fresh;
	tw->orphan = true;
	tw->tcb.irs = sk->tcb.irs;
	tw->tcb.rcv_nxt = sk->tcb.rcv_nxt;
	tw->tcb.snd_nxt = sk->tcb.snd_nxt;
	tw->tcb.snd_una = sk->tcb.snd_una;
	tw->tcb.snd_max = sk->tcb.snd_max;
	tw->tcb.iss = sk->tcb.iss;
	tw->tcb.ts_ok = sk->tcb.ts_ok;
	tw->tcb.ts_recent = sk->tcb.ts_recent;
	tw->tcb.ts_offset = sk->tcb.ts_offset;
	tw->tcb.rcv_wscale = sk->tcb.rcv_wscale;
	tw->tcb.rtx_timer.fn = sk->tcb.rtx_timer.fn;
	st->env.cancel(st->env.ctx, &sk->tcb.rtx_timer);
	st->env.cancel(st->env.ctx, &sk->tcb.wait_timer);
	/* What the process's socket still shows: its options, its device,
	 * its address, and (getsockname) the port it had. */
	uint32_t keep = ST_F_REUSEADDR | ST_F_REUSEPORT | ST_F_V6ONLY | ST_F_BROADCAST |
			ST_F_FREEBIND | ST_F_TRANSPARENT | ST_F_BIND_NO_PORT | ST_F_BINDADDR_LOCK |
			ST_F_BINDPORT_LOCK | ST_F_ASSIGNED_SRC | ST_F_V6ONLY_FORCED;
	fresh->flags = old->flags & keep;
	fresh->dev = old->dev;
	fresh->port_range = old->port_range;
	fresh->laddr = old->laddr;
	fresh->stale_lport = old->lport;
	fresh->state = ST_CLOSE;
	/* A port locked by bind() stays the socket's own, beside the
	 * TIME_WAIT record, as `ss` shows it (bound-inactive). */
	if (old->flags & ST_F_BINDPORT_LOCK) {
		fresh->lport = old->lport;
		if (st_timewait_keep_port(st->net, fresh))
			fresh->lport = 0;
	}
	sk->shut_rd = sk->shut_wr = true;
	sk->sstate = sk->sstate == STK_SS_CONNECTING ? STK_SS_CONNECTING : sk->sstate;
	return tw;
}

void stk_tcp_enter_timewait(stk_sock *sk)
{
	stk_stack *st = sk->stack;
	sk = hand_over(sk);
	st->env.cancel(st->env.ctx, &sk->tcb.rtx_timer);
	st_net_set_time(st->net, stk_now(st));
	/* reserve_for_segment made room in the TIME_WAIT ring.  Were there
	 * none, the connection would just end, as tcp_time_wait's does when
	 * it gets no bucket. */
	if (st_timewait(st->net, sk->core, sk->tcb.ts_ok) != 0)
		st_close(st->net, sk->core);
	sk->tcb.wait_timer.fn = tw_fire;
	st->env.arm(st->env.ctx, &sk->tcb.wait_timer, stk_now(st) + TCP_TIMEWAIT_LEN);
}

void stk_tcp_done(stk_sock *sk, int err)
{
	if (err)
		sk->so_error = err;
	stk_tcp_stop_timers(sk);
	sk->shut_rd = sk->shut_wr = true;
	if (sk->parent && sk->in_acceptq) {
		/* tcp_done on a child nobody has accepted yet: it leaves the
		 * tables but stays in the accept queue, closed, and accept()
		 * returns it (recv then reports the error, then end of
		 * stream). */
		if (sk->core->flags & (ST_F_HASHED | ST_F_EHASHED | ST_F_LHASHED))
			st_close(sk->stack->net, sk->core);
		sk->core->state = ST_CLOSE;
		return;
	}
	if (sk->parent || sk->orphan) {
		/* Nobody will ask: leave every table and go. */
		sk->core->state = sk->core->state == ST_CLOSE ? ST_CLOSE : sk->core->state;
		if (sk->core->flags & (ST_F_HASHED | ST_F_EHASHED | ST_F_LHASHED))
			st_close(sk->stack->net, sk->core);
		sk->core->state = ST_CLOSE;
		if (sk->parent) {
			stk_sock_free_now(sk);
			return;
		}
		stk_sock_maybe_free(sk);
		return;
	}
	if (sk->core->state == ST_SYN_SENT)
		st_connect_failed(sk->stack->net, sk->core);
	else if (sk->core->state != ST_CLOSE)
		st_disconnect(sk->stack->net, sk->core);
	sk->core->state = ST_CLOSE;
}

static void enqueue_child(stk_sock *l, stk_sock *c, bool acceptq)
{
	c->parent = l;
	c->in_acceptq = acceptq;
	c->q_next = NULL;
	if (acceptq) {
		c->q_prev = l->acc_tail;
		if (l->acc_tail)
			l->acc_tail->q_next = c;
		else
			l->acc_head = c;
		l->acc_tail = c;
		l->nacc++;
	} else {
		c->q_prev = NULL;
		c->q_next = l->syn_head;
		if (l->syn_head)
			l->syn_head->q_prev = c;
		l->syn_head = c;
		l->nsyn++;
	}
}

static void dequeue_child(stk_sock *c)
{
	stk_sock *l = c->parent;
	if (c->in_acceptq) {
		if (c->q_prev)
			c->q_prev->q_next = c->q_next;
		else
			l->acc_head = c->q_next;
		if (c->q_next)
			c->q_next->q_prev = c->q_prev;
		else
			l->acc_tail = c->q_prev;
		l->nacc--;
	} else {
		if (c->q_prev)
			c->q_prev->q_next = c->q_next;
		else
			l->syn_head = c->q_next;
		if (c->q_next)
			c->q_next->q_prev = c->q_prev;
		l->nsyn--;
	}
	c->parent = NULL;
	c->q_next = c->q_prev = NULL;
}

/* Linux's sk_acceptq_is_full: more queued than the backlog allows. */
static bool acceptq_full(const stk_sock *l)
{
	return l->nacc > l->max_backlog;
}

void stk_tcp_listen_stop(stk_sock *lsk)
{
	/* Connections nobody accepted are disconnected (inet_csk_listen_stop,
	 * inet_child_forget): a RST from those that could still carry data,
	 * nothing from those already closed. */
	while (lsk->acc_head) {
		stk_sock *c = lsk->acc_head;
		st_state cs = (st_state)c->core->state;
		if (cs == ST_ESTABLISHED || cs == ST_CLOSE_WAIT || cs == ST_FIN_WAIT1 ||
		    cs == ST_FIN_WAIT2 || cs == ST_SYN_RECV)
			stk_tcp_send_rst(c);
		stk_sock_free_now(c);
	}
	while (lsk->syn_head) {
		stk_sock *c = lsk->syn_head;
		stk_tcp_send_rst(c);
		stk_sock_free_now(c);
	}
	st_unlisten(lsk->stack->net, lsk->core);
}

static void parse_syn_options(stk_sock *sk, const stk_pkt *p)
{
	stk_tcb *tb = &sk->tcb;
	uint16_t peer_mss = p->mss ? p->mss : 536;
	if (peer_mss < tb->mss || tb->mss == 0)
		tb->mss = peer_mss;
	if (tb->adv_mss && tb->mss > tb->adv_mss)
		tb->mss = tb->adv_mss;
	if (p->wscale != 0xff) {
		tb->wscale_ok = true;
		tb->snd_wscale = p->wscale > 14 ? 14 : p->wscale;
	} else {
		tb->wscale_ok = false;
		tb->snd_wscale = 0;
		tb->rcv_wscale = 0;
	}
	if (p->has_ts) {
		tb->ts_ok = true;
		tb->ts_recent = p->tsval;
	} else {
		tb->ts_ok = false;
	}
}

static void sockaddr_of(st_sockaddr *sa, int family, const st_addr *a, uint16_t port)
{
	memset(sa, 0, sizeof(*sa));
	sa->family = (uint16_t)family;
	sa->addr = *a;
	sa->port = port;
}

static void describe(stk_stack *st, const char *what, const stk_pkt *p, const stk_sock *sk,
		     const st_lookup_explain *ex)
{
	if (!st->tracing)
		return;
	char from[ST_SOCKADDR_STRLEN], to[ST_SOCKADDR_STRLEN];
	stk_format_sockaddr(&p->src, p->sport, p->family, from, sizeof(from));
	stk_format_sockaddr(&p->dst, p->dport, p->family, to, sizeof(to));
	if (!sk) {
		stk_trace(st, "%s from %s to %s: no socket (RST)%s%s", what, from, to,
			  ex && ex->text[0] ? ": " : "", ex ? ex->text : "");
		return;
	}
	if (ex && ex->text[0]) {
		stk_trace(st, "%s from %s to %s: %s", what, from, to, ex->text);
		return;
	}
	char at[ST_SOCKADDR_STRLEN];
	st_sockaddr self;
	st_getsockname(sk->core, &self);
	st_sockaddr_format(&self, at, sizeof(at));
	stk_trace(st, "%s from %s to %s reached the %s socket on %s", what, from, to,
		  state_word((st_state)sk->core->state), at);
}

static void listen_input(stk_sock *l, int ifindex, const stk_pkt *p, const st_lookup_explain *ex)
{
	stk_stack *st = l->stack;
	if (p->flags & STK_TH_RST)
		return;
	if (p->flags & STK_TH_ACK) {
		stk_tcp_send_rst_for(st, p);
		return;
	}
	if (!(p->flags & STK_TH_SYN))
		return;
	describe(st, "SYN", p, l, ex);
	if (acceptq_full(l)) {
		stk_trace(st, "  the listener's accept queue is full (%d queued, backlog %d): "
			      "SYN dropped, the client will retransmit", l->nacc, l->max_backlog);
		return;
	}
	stk_sock *c = stk_sock_alloc(st, ST_TCP, l->core->family, l->uid, l->caps);
	if (!c)
		return;
	stk_tcp_init_tcb(c);
	st_sockaddr local, remote;
	sockaddr_of(&local, l->core->family, &p->dst, p->dport);
	sockaddr_of(&remote, l->core->family, &p->src, p->sport);
	if (st_accept_child(st->net, l->core, c->core, &local, &remote, ST_SYN_RECV)) {
		stk_sock_free_now(c);
		return;
	}
	st_getpeername(c->core, &c->acc_peer);
	c->linger_on = l->linger_on;
	c->linger_secs = l->linger_secs;
	/* sk_clone_lock copies sk_shutdown: flags set by a shutdown() made
	 * before listen() (ENOTCONN, but they stay) pass to every child. */
	c->shut_rd = l->shut_rd;
	c->shut_wr = l->shut_wr;
	stk_tcb *tb = &c->tcb;
	tb->irs = p->seq;
	tb->rcv_nxt = p->seq + 1;
	tb->snd_wnd = p->window;   /* never scaled in a SYN */
	tb->snd_wl1 = p->seq;
	stk_tcp_init_send(c);
	parse_syn_options(c, p);
	tb->snd_wl2 = tb->iss;
	stk_tcp_send_synack(c);
	enqueue_child(l, c, false);
	(void)ifindex;
}

static void syn_sent_input(stk_sock *sk, const stk_pkt *p)
{
	stk_tcb *tb = &sk->tcb;
	stk_stack *st = sk->stack;
	bool has_ack = p->flags & STK_TH_ACK;
	if (has_ack && (seq_le(p->ack, tb->iss) || seq_gt(p->ack, tb->snd_max))) {
		stk_tcp_send_rst_for(st, p);
		return;
	}
	if (p->flags & STK_TH_RST) {
		if (has_ack) {
			stk_trace(st, "RST answered our SYN: connection refused");
			stk_tcp_done(sk, ECONNREFUSED);
		}
		return;
	}
	if (!(p->flags & STK_TH_SYN))
		return;
	tb->irs = p->seq;
	tb->rcv_nxt = p->seq + 1;
	parse_syn_options(sk, p);
	if (has_ack) {
		tb->snd_una = p->ack;
		tb->snd_wnd = (uint32_t)p->window << tb->snd_wscale;
		tb->snd_wl1 = p->seq;
		tb->snd_wl2 = p->ack;
		tb->retries = 0;
		st->env.cancel(st->env.ctx, &tb->rtx_timer);
		stk_tcp_set_state(sk, ST_ESTABLISHED);
		stk_tcp_send_ack(sk);
		stk_tcp_output(sk);
		return;
	}
	/* Simultaneous open (or a self-connect): our SYN crossed theirs. */
	stk_trace(st, "SYN received while in SYN-SENT: simultaneous open, now SYN-RECV");
	tb->snd_wnd = p->window;
	tb->snd_wl1 = p->seq;
	stk_tcp_set_state(sk, ST_SYN_RECV);
	stk_tcp_send_synack(sk);
}

static void tw_input(stk_sock *sk, int ifindex, const stk_pkt *p)
{
	stk_stack *st = sk->stack;
	stk_tcb *tb = &sk->tcb;
	if (p->flags & STK_TH_RST) {
		/* tcp_rfc1337 = 0: a reset ends TIME_WAIT early. */
		stk_tcp_stop_timers(sk);
		st_close(st->net, sk->core);
		sk->core->state = ST_CLOSE;
		stk_sock_maybe_free(sk);
		return;
	}
	if ((p->flags & (STK_TH_SYN | STK_TH_ACK)) == STK_TH_SYN &&
	    (seq_gt(p->seq, tb->rcv_nxt) || (tb->ts_ok && p->has_ts && seq_gt(p->tsval, tb->ts_recent)))) {
		stk_trace(st, "SYN for a TIME-WAIT 4-tuple with a newer sequence: the TIME-WAIT "
			      "record gives way to a listener");
		stk_tcp_stop_timers(sk);
		st_close(st->net, sk->core);
		sk->core->state = ST_CLOSE;
		stk_sock_maybe_free(sk);
		stk_tcp_input(st, ifindex, p);
		return;
	}
	if (p->len || (p->flags & (STK_TH_FIN | STK_TH_SYN)))
		stk_tcp_send_ack(sk);
}

/* Answer an unacceptable segment, at most once per 500 ms per socket
 * (net.ipv4.tcp_invalid_ratelimit, tcp_oow_rate_limited). */
static void oow_ack(stk_sock *sk)
{
	uint64_t now = stk_now(sk->stack);
	if (sk->oow_acked && now - sk->oow_ack_at < 500 * STK_MS)
		return;
	sk->oow_acked = true;
	sk->oow_ack_at = now;
	stk_tcp_send_ack(sk);
}

static bool seq_acceptable(const stk_tcb *tb, const stk_pkt *p, uint32_t wnd)
{
	uint32_t seglen = (uint32_t)p->len + !!(p->flags & STK_TH_SYN) + !!(p->flags & STK_TH_FIN);
	uint32_t seq = p->seq;
	if (seglen == 0) {
		if (wnd == 0)
			return seq == tb->rcv_nxt;
		return seq_ge(seq, tb->rcv_nxt) && seq_lt(seq, tb->rcv_nxt + wnd);
	}
	if (wnd == 0)
		return false;
	uint32_t last = seq + seglen - 1;
	return (seq_ge(seq, tb->rcv_nxt) && seq_lt(seq, tb->rcv_nxt + wnd)) ||
	       (seq_ge(last, tb->rcv_nxt) && seq_lt(last, tb->rcv_nxt + wnd)) ||
	       /* a segment that starts before the window and covers it */
	       (seq_lt(seq, tb->rcv_nxt) && seq_gt(last, tb->rcv_nxt));
}

/* SYN-RECV -> ESTABLISHED.  Returns false when the segment must be dropped. */
static bool syn_recv_complete(stk_sock *sk, const stk_pkt *p)
{
	stk_stack *st = sk->stack;
	stk_tcb *tb = &sk->tcb;
	if (!(seq_gt(p->ack, tb->snd_una) && seq_le(p->ack, tb->snd_max))) {
		stk_tcp_send_rst_for(st, p);
		return false;
	}
	stk_sock *l = sk->parent;
	if (l) {
		if (acceptq_full(l)) {
			stk_trace(st, "  handshake completed but the accept queue is full: "
				      "final ACK ignored, the connection stays SYN-RECV");
			return false;
		}
		dequeue_child(sk);
		enqueue_child(l, sk, true);
	}
	tb->snd_wl1 = p->seq - 1;
	st->env.cancel(st->env.ctx, &tb->rtx_timer);
	tb->retries = 0;
	stk_tcp_set_state(sk, ST_ESTABLISHED);
	/* tcp_rcv_state_process: a SEND_SHUTDOWN set while the connection
	 * was not yet synchronized (any earlier shutdown(SHUT_WR), even one
	 * made before connect() or, for a child, before its listener's
	 * listen()) sends its FIN now. */
	if (sk->shut_wr)
		stk_tcp_shutdown_wr(sk);
	return true;
}

static void synchronized_input(stk_sock *sk, const stk_pkt *p)
{
	stk_stack *st = sk->stack;
	stk_tcb *tb = &sk->tcb;
	uint32_t wnd = stk_tcp_rcv_window(sk);
	st_state s = (st_state)sk->core->state;

	/* Second half of a simultaneous open: SYN-ACK for our SYN. */
	if (s == ST_SYN_RECV && (p->flags & (STK_TH_SYN | STK_TH_ACK)) == (STK_TH_SYN | STK_TH_ACK) &&
	    p->seq + 1 == tb->rcv_nxt && p->ack == tb->snd_nxt && !sk->parent) {
		tb->snd_una = p->ack;
		tb->snd_wnd = (uint32_t)p->window << tb->snd_wscale;
		tb->snd_wl1 = p->seq;
		tb->snd_wl2 = p->ack;
		st->env.cancel(st->env.ctx, &tb->rtx_timer);
		tb->retries = 0;
		stk_tcp_set_state(sk, ST_ESTABLISHED);
		if (sk->shut_wr)
			stk_tcp_shutdown_wr(sk);   /* a shutdown(SHUT_WR) made before */
		stk_tcp_output(sk);
		return;
	}
	if (!seq_acceptable(tb, p, wnd)) {
		if (!(p->flags & STK_TH_RST))
			oow_ack(sk);
		return;
	}
	if (p->flags & STK_TH_RST) {
		if (p->seq != tb->rcv_nxt) {
			oow_ack(sk);   /* RFC 5961 challenge ACK */
			return;
		}
		if (s == ST_SYN_RECV && sk->parent) {
			stk_sock_free_now(sk);   /* a passive half-open connection */
			return;
		}
		int err = s == ST_SYN_RECV ? ECONNREFUSED : s == ST_CLOSE_WAIT ? EPIPE : ECONNRESET;
		stk_trace(st, "RST received: connection reset");
		stk_tcp_done(sk, err);
		return;
	}
	if (p->flags & STK_TH_SYN) {
		oow_ack(sk);   /* RFC 5961 challenge ACK */
		return;
	}
	if (!(p->flags & STK_TH_ACK))
		return;
	if (s == ST_SYN_RECV) {
		if (!syn_recv_complete(sk, p))
			return;
		s = ST_ESTABLISHED;
	}
	if (p->has_ts && tb->ts_ok && seq_le(p->seq, tb->rcv_nxt))
		tb->ts_recent = p->tsval;
	stk_tcp_ack_received(sk, p->ack, p->window, p);
	bool fin_done = fin_acked(tb);
	switch (s) {
	case ST_FIN_WAIT1:
		if (fin_done) {
			stk_tcp_set_state(sk, ST_FIN_WAIT2);
			s = ST_FIN_WAIT2;
			if (sk->orphan) {
				sk->tcb.wait_timer.fn = fin_timeout_fire;
				st->env.arm(st->env.ctx, &sk->tcb.wait_timer, stk_now(st) + TCP_FIN_TIMEOUT);
			}
		}
		break;
	case ST_CLOSING:
		if (fin_done) {
			stk_tcp_enter_timewait(sk);
			return;
		}
		break;
	case ST_LAST_ACK:
		if (fin_done) {
			stk_tcp_done(sk, 0);
			return;
		}
		break;
	default:
		break;
	}
	bool need_ack = false;
	/* Data. */
	if (p->len && (s == ST_ESTABLISHED || s == ST_FIN_WAIT1 || s == ST_FIN_WAIT2)) {
		if (sk->orphan || (sk->shut_rd && s != ST_ESTABLISHED)) {
			/* Data for a socket that was closed: abort. */
			stk_tcp_send_rst(sk);
			stk_tcp_done(sk, 0);
			return;
		}
		uint32_t seq = p->seq;
		const uint8_t *d = p->payload;
		size_t n = p->len;
		if (seq_lt(seq, tb->rcv_nxt)) {
			uint32_t skip = tb->rcv_nxt - seq;
			if (skip >= n) {
				n = 0;
			} else {
				d += skip;
				n -= skip;
				seq = tb->rcv_nxt;
			}
		}
		if (n && seq == tb->rcv_nxt) {
			if (n > wnd)
				n = wnd;
			if (n && stk_bytes_append(&tb->rcvq, d, n) == 0)
				tb->rcv_nxt += (uint32_t)n;
		}
		need_ack = true;
	}
	/* FIN: only once every byte before it has arrived. */
	if ((p->flags & STK_TH_FIN) && p->seq + (uint32_t)p->len == tb->rcv_nxt && !tb->fin_rcvd) {
		tb->rcv_nxt++;
		tb->fin_rcvd = true;
		need_ack = true;
		switch (s) {
		case ST_ESTABLISHED:
			stk_tcp_set_state(sk, ST_CLOSE_WAIT);
			break;
		case ST_FIN_WAIT1:
			if (fin_acked(tb)) {
				stk_tcp_send_ack(sk);
				stk_tcp_enter_timewait(sk);
				return;
			}
			stk_tcp_set_state(sk, ST_CLOSING);
			break;
		case ST_FIN_WAIT2:
			stk_tcp_send_ack(sk);
			stk_tcp_enter_timewait(sk);
			return;
		default:
			break;
		}
	} else if ((p->flags & STK_TH_FIN) && tb->fin_rcvd) {
		need_ack = true;   /* a retransmitted FIN */
	}
	if (need_ack)
		stk_tcp_send_ack(sk);
}

/*
 * Memory a segment may need is taken before the segment changes anything,
 * so that when it cannot be had the segment is dropped whole -- exactly as
 * if the network had lost it, and the peer retransmits -- instead of being
 * half processed: room in the receive queue for its data, and the record
 * that takes over the 4-tuple if the segment moves a connection whose
 * socket is still held into TIME_WAIT (hand_over), and a place in the
 * core's TIME_WAIT ring for any connection it may move there.  Linux keeps the
 * connection too when it cannot queue data (tcp_data_queue drops the skb);
 * when it cannot allocate the TIME_WAIT socket it closes without one, a
 * silent difference this avoids.
 */
static bool reserve_for_segment(stk_sock *sk, const stk_pkt *p)
{
	stk_stack *st = sk->stack;
	st_state s = (st_state)sk->core->state;
	if (p->len && (s == ST_SYN_RECV || s == ST_ESTABLISHED || s == ST_FIN_WAIT1 ||
		       s == ST_FIN_WAIT2)) {
		uint32_t wnd = stk_tcp_rcv_window(sk);
		size_t n = p->len < wnd ? p->len : wnd;
		if (stk_bytes_reserve(&sk->tcb.rcvq, n))
			return false;
	}
	if ((s == ST_FIN_WAIT1 || s == ST_FIN_WAIT2 || s == ST_CLOSING) && !sk->orphan &&
	    !sk->parent && (p->flags & (STK_TH_FIN | STK_TH_ACK))) {
		st->tw_spare = stk_sock_alloc(st, sk->core->proto, sk->core->family, sk->uid, sk->caps);
		if (!st->tw_spare)
			return false;
	}
	if ((s == ST_FIN_WAIT1 || s == ST_FIN_WAIT2 || s == ST_CLOSING) &&
	    (p->flags & (STK_TH_FIN | STK_TH_ACK)) && tw_ring_reserve(st->net) != 0)
		return false;
	return true;
}

void stk_tcp_input(stk_stack *st, int ifindex, const stk_pkt *p)
{
	st_pkt key;
	memset(&key, 0, sizeof(key));
	key.family = p->family;
	key.proto = ST_TCP;
	key.sport = p->sport;
	key.dport = p->dport;
	key.ifindex = ifindex;
	key.saddr = p->src;
	key.daddr = p->dst;
	st_net_set_time(st->net, stk_now(st));
	st_lookup_explain ex;
	st_sock *c = st_lookup_tcp(st->net, &key, st->tracing ? &ex : NULL);
	if (!c) {
		if ((p->flags & (STK_TH_SYN | STK_TH_ACK)) == STK_TH_SYN)
			describe(st, "SYN", p, NULL, st->tracing ? &ex : NULL);
		stk_tcp_send_rst_for(st, p);
		return;
	}
	stk_sock *sk = stk_of(c);
	switch ((st_state)sk->core->state) {
	case ST_LISTEN:
		listen_input(sk, ifindex, p, st->tracing ? &ex : NULL);
		return;
	case ST_SYN_SENT:
		syn_sent_input(sk, p);
		return;
	case ST_TIME_WAIT:
		tw_input(sk, ifindex, p);
		return;
	case ST_CLOSE:
		stk_tcp_send_rst_for(st, p);
		return;
	default:
		if (!reserve_for_segment(sk, p)) {
			stk_trace(st, "out of memory: the segment is dropped as if lost");
			return;
		}
		synchronized_input(sk, p);
		if (st->tw_spare) {
			stk_sock_free_now(st->tw_spare);
			st->tw_spare = NULL;
		}
		return;
	}
}

void stk_tcp_err(stk_stack *st, const stk_pkt *p)
{
	st_pkt key;
	memset(&key, 0, sizeof(key));
	key.family = p->inner.family;
	key.proto = ST_TCP;
	key.saddr = p->inner.dst;
	key.sport = p->inner.dport;
	key.daddr = p->inner.src;
	key.dport = p->inner.sport;
	key.ifindex = ST_IFINDEX_LO;
	st_sock *c = st_lookup_established(st->net, &key);
	if (!c)
		return;
	stk_sock *sk = stk_of(c);
	/* Port unreachable is a hard error only while connecting. */
	if (sk->core->state == ST_SYN_SENT)
		stk_tcp_done(sk, ECONNREFUSED);
}

int stk_tcp_shutdown_wr(stk_sock *sk)
{
	switch ((st_state)sk->core->state) {
	case ST_ESTABLISHED:
	case ST_SYN_RECV:
		stk_tcp_set_state(sk, ST_FIN_WAIT1);
		break;
	case ST_CLOSE_WAIT:
		stk_tcp_set_state(sk, ST_LAST_ACK);
		break;
	default:
		return 0;
	}
	sk->tcb.fin_queued = true;
	stk_tcp_output(sk);
	return 0;
}

void stk_tcp_close(stk_sock *sk)
{
	stk_stack *st = sk->stack;
	st_state s = (st_state)sk->core->state;
	sk->shut_rd = true;
	switch (s) {
	case ST_CLOSE:
	case ST_SYN_SENT:
		stk_tcp_stop_timers(sk);
		if (sk->core->flags & (ST_F_HASHED | ST_F_EHASHED | ST_F_LHASHED))
			st_close(st->net, sk->core);
		sk->core->state = ST_CLOSE;
		stk_sock_maybe_free(sk);
		return;
	case ST_LISTEN:
		stk_tcp_listen_stop(sk);
		st_close(st->net, sk->core);
		sk->core->state = ST_CLOSE;
		stk_sock_maybe_free(sk);
		return;
	case ST_TIME_WAIT:
		return;
	default:
		break;
	}
	bool unread = stk_bytes_len(&sk->tcb.rcvq) > 0;
	if (unread || (sk->linger_on && sk->linger_secs == 0)) {
		stk_trace(st, unread ? "close() with unread data: RST sent"
				     : "close() with SO_LINGER {1, 0}: RST sent");
		stk_bytes_free(&sk->tcb.rcvq);
		if (s != ST_SYN_RECV || !sk->parent)
			stk_tcp_send_rst(sk);
		stk_tcp_done(sk, 0);
		return;
	}
	switch (s) {
	case ST_ESTABLISHED:
	case ST_SYN_RECV:
	case ST_CLOSE_WAIT:
		sk->shut_wr = true;
		stk_tcp_shutdown_wr(sk);
		break;
	case ST_FIN_WAIT2:
		sk->tcb.wait_timer.fn = fin_timeout_fire;
		st->env.arm(st->env.ctx, &sk->tcb.wait_timer, stk_now(st) + TCP_FIN_TIMEOUT);
		break;
	default:
		break;
	}
}
