/*
 * src/stack/tcp_out.c - what TCP sends, and when it sends it again.
 *
 * Segments are built from the control block and the send queue: the queue
 * holds every byte from snd_buf_seq (the oldest unacknowledged data byte)
 * on, so a retransmission is "set snd_nxt back to snd_una and send again"
 * (go-back-N).  The simulated links never lose or reorder packets, but
 * listeners drop SYNs when their accept queue is full, and a real peer
 * over TUN may lose anything, so the timers are the real ones:
 *
 *   - RTO per RFC 6298 (1 s initial, 200 ms floor like Linux, doubling on
 *     every timeout, 120 s ceiling), samples from one timed segment at a
 *     time (Karn: never from a retransmitted one);
 *   - SYN retried 6 times (tcp_syn_retries) and SYN-ACK 5 times
 *     (tcp_synack_retries), data 15 times (tcp_retries2), then ETIMEDOUT;
 *   - a zero window is probed with one byte on the same timer (persist).
 *
 * Congestion control is RFC 5681's: initial window of 10 segments (RFC
 * 6928, as Linux), slow start, congestion avoidance, fast retransmit after
 * three duplicate ACKs.  ACKs are sent at once (no delayed ACK): the
 * results of a scenario do not depend on it, and it keeps captures short.
 *
 * Options: MSS, window scale (shift 7 like Linux with 128 KiB buffers) and
 * timestamps (RFC 7323) when the peer offers them; timestamps are what
 * lets tcp_tw_reuse take over a TIME_WAIT 4-tuple (T-4).  No SACK.
 */
#include <errno.h>
#include <string.h>

#include "stack/stack_internal.h"
#include "hash.h"

enum {
	TCP_SYN_RETRIES = 6,
	TCP_SYNACK_RETRIES = 5,
	TCP_RETRIES2 = 15,
	TCP_WSCALE = 7,
};
#define TCP_RTO_INIT (1 * STK_SEC)
#define TCP_RTO_MIN (200 * STK_MS)
#define TCP_RTO_MAX (120 * STK_SEC)

static void rtx_fire(stk_timer *t);

void stk_tcp_init_tcb(stk_sock *sk)
{
	stk_tcb *tb = &sk->tcb;
	stk_bytes_free(&tb->sndq);
	stk_bytes_free(&tb->rcvq);
	stk_timer rt = tb->rtx_timer, wt = tb->wait_timer;
	memset(tb, 0, sizeof(*tb));
	tb->rtx_timer = rt;
	tb->wait_timer = wt;
	tb->rtx_timer.fn = rtx_fire;
	tb->rto = TCP_RTO_INIT;
	tb->mss = 536;
	tb->snd_wscale = 0;
	tb->rcv_wscale = 0;
}

uint16_t stk_tcp_mss_for(stk_stack *st, int family, int ifindex)
{
	/* Loopback's MTU is 65536, links' 1500; minus IP and TCP headers. */
	uint32_t mtu = ifindex == ST_IFINDEX_LO ? 65536 : 1500;
	uint32_t hdr = family == ST_AF_INET ? 40 : 60;
	(void)st;
	uint32_t mss = mtu - hdr;
	return (uint16_t)(mss > 65495 ? 65495 : mss);
}

static int pkt_family(const stk_sock *sk)
{
	return st_addr_is_v4mapped(&sk->core->raddr) ? ST_AF_INET : ST_AF_INET6;
}

uint32_t stk_tcp_tsval(const stk_sock *sk)
{
	return (uint32_t)(stk_now(sk->stack) / STK_MS) + sk->tcb.ts_offset;
}

uint32_t stk_tcp_rcv_window(const stk_sock *sk)
{
	size_t used = stk_bytes_len(&sk->tcb.rcvq);
	return used >= STK_TCP_RCVBUF ? 0 : (uint32_t)(STK_TCP_RCVBUF - used);
}

static bool tcp_timestamps_on(stk_stack *st)
{
	int v = 1;
	st_net_sysctl_get(st->net, ST_SYSCTL_TCP_TIMESTAMPS, &v, 1);
	return v != 0;
}

/* Build and send one segment of this connection. */
static void xmit(stk_sock *sk, uint32_t seq, uint8_t flags, const uint8_t *data, size_t len)
{
	stk_tcb *tb = &sk->tcb;
	stk_pkt p;
	memset(&p, 0, sizeof(p));
	p.family = (uint8_t)pkt_family(sk);
	p.proto = STK_IPPROTO_TCP;
	p.src = sk->core->laddr;
	p.dst = sk->core->raddr;
	p.sport = sk->core->lport;
	p.dport = sk->core->rport;
	p.seq = seq;
	p.flags = flags;
	p.wscale = 0xff;
	if (flags & STK_TH_ACK)
		p.ack = tb->rcv_nxt;
	uint32_t wnd = stk_tcp_rcv_window(sk);
	if (flags & STK_TH_SYN) {
		p.window = (uint16_t)(wnd > 65535 ? 65535 : wnd);
		p.mss = tb->adv_mss;
		/* In a SYN-ACK, options only if the peer's SYN had them. */
		bool synack = flags & STK_TH_ACK;
		if (!synack || tb->wscale_ok)
			p.wscale = TCP_WSCALE;
		if (!synack ? tcp_timestamps_on(sk->stack) : tb->ts_ok) {
			p.has_ts = true;
			p.tsval = stk_tcp_tsval(sk);
			p.tsecr = synack ? tb->ts_recent : 0;
		}
	} else {
		uint32_t w = wnd >> tb->rcv_wscale;
		p.window = (uint16_t)(w > 65535 ? 65535 : w);
		if (tb->ts_ok) {
			p.has_ts = true;
			p.tsval = stk_tcp_tsval(sk);
			p.tsecr = tb->ts_recent;
		}
		tb->rcv_adv = tb->rcv_nxt + ((uint32_t)p.window << tb->rcv_wscale);
	}
	p.payload = data;
	p.len = len;
	if (sk->v4_ops && p.family == ST_AF_INET6) {
		/* The IPv4 send path of an earlier v4-mapped connect (see
		 * v4_ops): the old IPv4 peer's address, the route's source. */
		st_addr src;
		int ifindex;
		if (stk_ip_route(sk->stack, ST_AF_INET, &sk->v4_daddr, sk->core->dev, &src, &ifindex))
			return;
		p.family = ST_AF_INET;
		p.src = src;
		p.dst = sk->v4_daddr;
	}
	stk_ip_output(sk->stack, &p, sk->core->dev);
}

static void arm_rtx(stk_sock *sk)
{
	stk_stack *st = sk->stack;
	st->env.arm(st->env.ctx, &sk->tcb.rtx_timer, stk_now(st) + sk->tcb.rto);
}

static uint32_t isn_for(stk_sock *sk)
{
	stk_stack *st = sk->stack;
	struct {
		st_addr l, r;
		uint16_t lp, rp;
	} k;
	memset(&k, 0, sizeof(k));
	k.l = sk->core->laddr;
	k.r = sk->core->raddr;
	k.lp = sk->core->lport;
	k.rp = sk->core->rport;
	st_sipkey key = { st->isn_k0, st->isn_k1 };
	/* RFC 6528: a keyed hash of the 4-tuple plus a clock (Linux: ns >> 6). */
	return (uint32_t)st_siphash(&key, &k, sizeof(k)) + (uint32_t)(stk_now(st) >> 6);
}

static void init_send_side(stk_sock *sk, int ifindex)
{
	stk_tcb *tb = &sk->tcb;
	tb->iss = isn_for(sk);
	tb->snd_una = tb->iss;
	tb->snd_nxt = tb->iss + 1;
	tb->snd_max = tb->snd_nxt;
	tb->snd_buf_seq = tb->iss + 1;
	tb->adv_mss = stk_tcp_mss_for(sk->stack, pkt_family(sk), ifindex);
	tb->mss = tb->adv_mss;
	tb->rcv_wscale = TCP_WSCALE;
	struct {
		uint32_t iss;
		uint16_t p;
	} k = { tb->iss, sk->core->lport };
	st_sipkey key = { sk->stack->isn_k1, sk->stack->isn_k0 };
	tb->ts_offset = (uint32_t)st_siphash(&key, &k, sizeof(k));
}

static int route_dev(stk_sock *sk)
{
	st_addr src;
	int ifindex = ST_IFINDEX_LO;
	if (stk_ip_route(sk->stack, pkt_family(sk), &sk->core->raddr, sk->core->dev, &src, &ifindex))
		ifindex = ST_IFINDEX_LO;
	return ifindex;
}

void stk_tcp_start_connect(stk_sock *sk)
{
	stk_tcp_init_tcb(sk);
	init_send_side(sk, route_dev(sk));
	xmit(sk, sk->tcb.iss, STK_TH_SYN, NULL, 0);
	arm_rtx(sk);
}

void stk_tcp_init_send(stk_sock *sk)
{
	init_send_side(sk, route_dev(sk));
}

void stk_tcp_send_synack(stk_sock *sk)
{
	stk_tcb *tb = &sk->tcb;
	xmit(sk, tb->iss, STK_TH_SYN | STK_TH_ACK, NULL, 0);
	arm_rtx(sk);
}

void stk_tcp_send_ack(stk_sock *sk)
{
	xmit(sk, sk->tcb.snd_nxt, STK_TH_ACK, NULL, 0);
}

void stk_tcp_send_rst(stk_sock *sk)
{
	xmit(sk, sk->tcb.snd_nxt, STK_TH_RST | STK_TH_ACK, NULL, 0);
}

void stk_tcp_send_rst_for(stk_stack *st, const stk_pkt *in)
{
	if (in->flags & STK_TH_RST)
		return;
	stk_pkt p;
	memset(&p, 0, sizeof(p));
	p.family = in->family;
	p.proto = STK_IPPROTO_TCP;
	p.src = in->dst;
	p.dst = in->src;
	p.sport = in->dport;
	p.dport = in->sport;
	p.wscale = 0xff;
	/* RFC 9293 3.10.7.1: if the segment has an ACK, the reset takes its
	 * sequence number from it; otherwise it acknowledges the segment. */
	if (in->flags & STK_TH_ACK) {
		p.seq = in->ack;
		p.flags = STK_TH_RST;
	} else {
		uint32_t seglen = (uint32_t)in->len + !!(in->flags & STK_TH_SYN) + !!(in->flags & STK_TH_FIN);
		p.seq = 0;
		p.ack = in->seq + seglen;
		p.flags = STK_TH_RST | STK_TH_ACK;
	}
	stk_ip_output(st, &p, 0);
}

static uint32_t data_end(const stk_tcb *tb)
{
	return tb->snd_buf_seq + (uint32_t)stk_bytes_len(&tb->sndq);
}

static bool sending_state(const stk_sock *sk)
{
	switch ((st_state)sk->core->state) {
	case ST_ESTABLISHED:
	case ST_CLOSE_WAIT:
	case ST_FIN_WAIT1:
	case ST_CLOSING:
	case ST_LAST_ACK:
		return true;
	default:
		return false;
	}
}

void stk_tcp_output(stk_sock *sk)
{
	stk_tcb *tb = &sk->tcb;
	if (!sending_state(sk))
		return;
	for (;;) {
		uint32_t end = data_end(tb);
		if (seq_lt(tb->snd_nxt, end)) {
			size_t off = tb->snd_nxt - tb->snd_buf_seq;
			size_t avail = end - tb->snd_nxt;
			uint32_t wnd = tb->snd_wnd < tb->cwnd ? tb->snd_wnd : tb->cwnd;
			uint32_t inflight = tb->snd_nxt - tb->snd_una;
			size_t usable = wnd > inflight ? wnd - inflight : 0;
			/* The MSS counts options too: with timestamps each
			 * segment carries 12 bytes of them (RFC 7323), or a full
			 * segment would not fit loopback's 65535-byte packets. */
			size_t seg = tb->mss - (tb->ts_ok ? 12u : 0u);
			size_t n = avail < seg ? avail : seg;
			if (n > usable)
				n = usable;
			if (n == 0) {
				/* Zero window with nothing in flight: probe later. */
				if (inflight == 0 && tb->rtx_timer.heap_idx == STK_TIMER_IDLE)
					arm_rtx(sk);
				return;
			}
			const uint8_t *d = tb->sndq.data + tb->sndq.head + off;
			uint8_t fl = STK_TH_ACK | (n == avail ? STK_TH_PSH : 0);
			if (!tb->rtt_timing && tb->snd_nxt == tb->snd_max) {
				tb->rtt_timing = true;
				tb->rtt_seq = tb->snd_nxt + (uint32_t)n;
				tb->rtt_start = stk_now(sk->stack);
			}
			xmit(sk, tb->snd_nxt, fl, d, n);
			tb->snd_nxt += (uint32_t)n;
			if (seq_gt(tb->snd_nxt, tb->snd_max))
				tb->snd_max = tb->snd_nxt;
			if (tb->rtx_timer.heap_idx == STK_TIMER_IDLE)
				arm_rtx(sk);
			continue;
		}
		if (tb->fin_queued && tb->snd_nxt == end) {
			xmit(sk, tb->snd_nxt, STK_TH_FIN | STK_TH_ACK, NULL, 0);
			tb->snd_nxt++;
			if (seq_gt(tb->snd_nxt, tb->snd_max))
				tb->snd_max = tb->snd_nxt;
			if (tb->rtx_timer.heap_idx == STK_TIMER_IDLE)
				arm_rtx(sk);
		}
		return;
	}
}

static void rtt_sample(stk_tcb *tb, uint64_t r)
{
	if (tb->srtt == 0) {
		tb->srtt = r;
		tb->rttvar = r / 2;
	} else {
		uint64_t d = tb->srtt > r ? tb->srtt - r : r - tb->srtt;
		tb->rttvar = (3 * tb->rttvar + d) / 4;
		tb->srtt = (7 * tb->srtt + r) / 8;
	}
	uint64_t rto = tb->srtt + (4 * tb->rttvar > STK_MS ? 4 * tb->rttvar : STK_MS);
	if (rto < TCP_RTO_MIN)
		rto = TCP_RTO_MIN;
	if (rto > TCP_RTO_MAX)
		rto = TCP_RTO_MAX;
	tb->rto = rto;
}

void stk_tcp_ack_received(stk_sock *sk, uint32_t ack, uint32_t wnd, const stk_pkt *p)
{
	stk_tcb *tb = &sk->tcb;
	stk_stack *st = sk->stack;
	if (seq_gt(ack, tb->snd_max)) {
		stk_tcp_send_ack(sk);
		return;
	}
	uint32_t swnd = wnd << tb->snd_wscale;
	bool wnd_update = seq_lt(tb->snd_wl1, p->seq) ||
			  (tb->snd_wl1 == p->seq && seq_le(tb->snd_wl2, ack));
	if (seq_gt(ack, tb->snd_una)) {
		uint32_t acked = ack - tb->snd_una;
		uint32_t end = data_end(tb);
		uint32_t upto = seq_lt(ack, end) ? ack : end;
		if (seq_gt(upto, tb->snd_buf_seq)) {
			stk_bytes_drop(&tb->sndq, upto - tb->snd_buf_seq);
			tb->snd_buf_seq = upto;
		}
		tb->snd_una = ack;
		if (seq_lt(tb->snd_nxt, tb->snd_una))
			tb->snd_nxt = tb->snd_una;
		if (tb->rtt_timing && seq_ge(ack, tb->rtt_seq)) {
			tb->rtt_timing = false;
			rtt_sample(tb, stk_now(st) - tb->rtt_start);
		}
		if (tb->cwnd < tb->ssthresh)
			tb->cwnd += acked < tb->mss ? acked : tb->mss;
		else
			tb->cwnd += (uint32_t)((uint64_t)tb->mss * tb->mss / (tb->cwnd ? tb->cwnd : 1)) + 1;
		tb->dupacks = 0;
		tb->retries = 0;
		if (tb->snd_una == tb->snd_max)
			st->env.cancel(st->env.ctx, &tb->rtx_timer);
		else
			arm_rtx(sk);
	} else if (ack == tb->snd_una && p->len == 0 && !(p->flags & (STK_TH_SYN | STK_TH_FIN)) &&
		   swnd == tb->snd_wnd && tb->snd_una != tb->snd_max) {
		if (++tb->dupacks == 3) {
			uint32_t inflight = tb->snd_max - tb->snd_una;
			tb->ssthresh = inflight / 2 > 2u * tb->mss ? inflight / 2 : 2u * tb->mss;
			tb->cwnd = tb->ssthresh + 3u * tb->mss;
			tb->rtt_timing = false;
			uint32_t save = tb->snd_nxt;
			tb->snd_nxt = tb->snd_una;
			uint32_t cw = tb->cwnd;
			tb->cwnd = tb->mss;   /* one segment: the lost one */
			stk_tcp_output(sk);
			tb->cwnd = cw;
			if (seq_gt(save, tb->snd_nxt))
				tb->snd_nxt = save;
		}
	}
	if (swnd == 0)
		tb->retries = 0;   /* the peer answers our window probes */
	if (wnd_update) {
		tb->snd_wnd = swnd;
		tb->snd_wl1 = p->seq;
		tb->snd_wl2 = ack;
	}
	stk_tcp_output(sk);
}

void stk_tcp_window_update(stk_sock *sk)
{
	stk_tcb *tb = &sk->tcb;
	if (!sending_state(sk) && sk->core->state != ST_FIN_WAIT2)
		return;
	uint32_t wnd = stk_tcp_rcv_window(sk);
	uint32_t new_edge = tb->rcv_nxt + ((wnd >> tb->rcv_wscale) << tb->rcv_wscale);
	/* Tell the peer when the window grew by a segment or more, or when it
	 * reopens from below one segment (receiver-side SWS avoidance). */
	if (seq_ge(new_edge, tb->rcv_adv + tb->adv_mss) ||
	    (seq_lt(tb->rcv_adv - tb->rcv_nxt + 0u, tb->adv_mss) && wnd >= tb->adv_mss))
		stk_tcp_send_ack(sk);
}

void stk_tcp_stop_timers(stk_sock *sk)
{
	stk_stack *st = sk->stack;
	st->env.cancel(st->env.ctx, &sk->tcb.rtx_timer);
	st->env.cancel(st->env.ctx, &sk->tcb.wait_timer);
}

static void rtx_fire(stk_timer *t)
{
	stk_sock *sk = (stk_sock *)((char *)t - offsetof(stk_sock, tcb.rtx_timer));
	stk_tcb *tb = &sk->tcb;
	tb->rtt_timing = false;
	tb->rto = tb->rto * 2 > TCP_RTO_MAX ? TCP_RTO_MAX : tb->rto * 2;
	switch ((st_state)sk->core->state) {
	case ST_SYN_SENT:
		if (++tb->retries > TCP_SYN_RETRIES) {
			stk_tcp_done(sk, ETIMEDOUT);
			return;
		}
		xmit(sk, tb->iss, STK_TH_SYN, NULL, 0);
		arm_rtx(sk);
		return;
	case ST_SYN_RECV:
		if (++tb->retries > TCP_SYNACK_RETRIES) {
			stk_tcp_done(sk, ETIMEDOUT);
			return;
		}
		xmit(sk, tb->iss, STK_TH_SYN | STK_TH_ACK, NULL, 0);
		arm_rtx(sk);
		return;
	default:
		break;
	}
	if (!sending_state(sk))
		return;
	uint32_t end = data_end(tb);
	if (tb->snd_una == tb->snd_max) {
		/* Persist: the peer's window is closed and data waits. */
		if (tb->snd_wnd == 0 && seq_lt(tb->snd_nxt, end)) {
			size_t off = tb->snd_nxt - tb->snd_buf_seq;
			xmit(sk, tb->snd_nxt, STK_TH_ACK, tb->sndq.data + tb->sndq.head + off, 1);
			tb->snd_nxt++;
			tb->snd_max = tb->snd_nxt;
			arm_rtx(sk);
		}
		return;
	}
	if (++tb->retries > TCP_RETRIES2) {
		stk_tcp_send_rst(sk);
		stk_tcp_done(sk, ETIMEDOUT);
		return;
	}
	uint32_t inflight = tb->snd_max - tb->snd_una;
	tb->ssthresh = inflight / 2 > 2u * tb->mss ? inflight / 2 : 2u * tb->mss;
	tb->cwnd = tb->mss;
	tb->snd_nxt = tb->snd_una;
	if (tb->snd_wnd == 0 && seq_lt(tb->snd_nxt, end)) {
		size_t off = tb->snd_nxt - tb->snd_buf_seq;
		xmit(sk, tb->snd_nxt, STK_TH_ACK, tb->sndq.data + tb->sndq.head + off, 1);
		tb->snd_nxt++;
		arm_rtx(sk);
		return;
	}
	stk_tcp_output(sk);
	arm_rtx(sk);
}
