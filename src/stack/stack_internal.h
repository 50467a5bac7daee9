/*
 * src/stack/stack_internal.h - the objects shared by the stack's files.
 *
 * ip.c owns the stack and the IP layer (input checks, routing, ICMP),
 * socket.c the socket calls and lifetimes, tcp_in.c the TCP state machine
 * driven by arriving segments, tcp_out.c what TCP sends and its timers,
 * udp.c datagrams, buf.c the byte and datagram queues.
 */
#ifndef SOCKTAB_STACK_INTERNAL_H
#define SOCKTAB_STACK_INTERNAL_H

#include "stack/stack.h"
#include "stack/wire.h"

/* ---- queues (buf.c) -------------------------------------------------- */

/* A byte queue: bytes [head, len) of `data` are queued. */
typedef struct stk_bytes {
	uint8_t *data;
	size_t head, len, cap;
} stk_bytes;

size_t stk_bytes_len(const stk_bytes *q);
int stk_bytes_append(stk_bytes *q, const uint8_t *p, size_t n);  /* -ENOMEM */
/* Room for n more bytes, so that appending them cannot fail.  -ENOMEM. */
int stk_bytes_reserve(stk_bytes *q, size_t n);
/* Copy up to n bytes starting `off` bytes into the queue. */
size_t stk_bytes_peek(const stk_bytes *q, size_t off, uint8_t *p, size_t n);
void stk_bytes_drop(stk_bytes *q, size_t n);
void stk_bytes_free(stk_bytes *q);

typedef struct stk_dgram {
	struct stk_dgram *next;
	st_sockaddr from;
	size_t len;
	uint8_t data[];
} stk_dgram;

/* ---- sockets ---------------------------------------------------------- */

/* Socket-layer connection state (struct socket's `state` on Linux), kept
 * apart from the TCP state because connect()'s answers depend on both.
 * DISCONNECTING is where shutdown() leaves a socket whose connect had
 * started but not completed (inet_shutdown): every connect() then says
 * EINVAL, and listen() too. */
typedef enum stk_sstate {
	STK_SS_UNCONNECTED,
	STK_SS_CONNECTING,
	STK_SS_CONNECTED,
	STK_SS_DISCONNECTING,
} stk_sstate;

typedef struct stk_tcb {
	/* Send sequence space (RFC 9293 3.3.1). */
	uint32_t iss, snd_una, snd_nxt, snd_max;
	uint32_t snd_wnd, snd_wl1, snd_wl2;
	/* Receive sequence space. */
	uint32_t irs, rcv_nxt, rcv_adv;  /* rcv_adv: right edge last advertised */
	uint8_t snd_wscale, rcv_wscale;  /* shift applied to the peer's / our window */
	bool wscale_ok, ts_ok;
	uint32_t ts_recent, ts_offset;
	uint16_t mss;                    /* what we may send per segment */
	uint16_t adv_mss;                /* what we announced */
	/* FIN bookkeeping: fin_queued once close/shutdown asked for one; its
	 * sequence number is the end of the send queue. */
	bool fin_queued, fin_rcvd;
	/* Congestion control (RFC 5681): slow start and congestion avoidance,
	 * fast retransmit on three duplicate ACKs. */
	uint32_t cwnd, ssthresh;
	int dupacks;
	/* Retransmission (RFC 6298). */
	uint64_t srtt, rttvar, rto;      /* ns; srtt == 0: no sample yet */
	uint32_t rtt_seq;
	uint64_t rtt_start;
	bool rtt_timing;
	int retries;
	stk_timer rtx_timer;             /* retransmission / persist */
	stk_timer wait_timer;            /* TIME_WAIT, orphaned FIN_WAIT2 */
	/* sndq holds the bytes from seq `snd_buf_seq` on (acked bytes are
	 * dropped as ACKs arrive); rcvq what the user has not read. */
	stk_bytes sndq, rcvq;
	uint32_t snd_buf_seq;
} stk_tcb;

/*
 * The tables' record lives apart from the socket object, with a pointer
 * back, because the two can part: when a connection whose socket is still
 * held enters TIME_WAIT, Linux hands the 4-tuple and the port to a new
 * TIME_WAIT object and leaves the user's socket CLOSED.  Here the record
 * (with its place in every table) moves to the new object and the user's
 * socket gets a fresh, unhashed record.  Invariant: rec->owner->core ==
 * &rec->core.
 */
typedef struct stk_rec {
	st_sock core;
	struct stk_sock *owner;
} stk_rec;

struct stk_sock {
	st_sock *core;           /* the tables' record (an stk_rec)          */
	stk_stack *stack;
	struct stk_sock *next, *prev;  /* all sockets of the stack */
	int refs;                /* file references (descriptors anywhere) */
	bool orphan;             /* every reference is gone */
	bool dead;               /* freed once unreferenced and closed */
	stk_sstate sstate;
	int so_error;            /* pending error (positive errno), 0 none */
	bool linger_on;
	int linger_secs;
	bool shut_rd, shut_wr;
	bool rcv_eof;            /* TCP: FIN received and queued data read */
	uint32_t uid, caps;      /* credentials of the creator */
	/* TCP over IPv6 that once began a connect to a v4-mapped address
	 * keeps sending through IPv4 (tcp_v6_connect installs ipv6_mapped
	 * and puts ipv6_specific back only when tcp_v4_connect itself
	 * fails): a later connect to a native address sends its SYN as an
	 * IPv4 packet to the old IPv4 destination (v4_daddr), where nothing
	 * can answer the socket, so it stays SYN-SENT. */
	bool v4_ops;
	st_addr v4_daddr;
	/* UDP over IPv6 whose own address is not v4-mapped (wildcard, or a
	 * native address kept from an earlier connect): Linux's separate
	 * IPv4 source, inet_saddr, which its first connect to an IPv4 or
	 * v4-mapped peer sets to the route's choice and which every later
	 * IPv4 connect or send uses (a 127.0.0.1 chosen then may not leave
	 * by a real device afterwards: EINVAL). */
	bool has_v4_saddr;
	st_addr v4_saddr;
	/* UDP over IPv4, connected: udp_sendmsg sends a connected datagram
	 * with the socket's cached route and the flow kept in inet->cork.fl.
	 * A connect() that fails at the route lookup has already written its
	 * own destination into that flow (ip_route_connect_init) and reset
	 * the cached route, while the socket stays connected to its old
	 * peer: the next send looks the route up afresh and goes to the
	 * peer, and every send after it, with the route now cached, goes to
	 * the failed destination (cork_daddr:cork_dport) through the peer's
	 * route.  dst_cached: a route is cached; cork_stale: the flow is the
	 * failed connect's. */
	bool dst_cached, cork_stale;
	st_addr cork_daddr;
	uint16_t cork_dport;
	/* UDP receive queue. */
	stk_dgram *dq_head, *dq_tail;
	size_t dq_bytes;
	/* TCP. */
	stk_tcb tcb;
	bool dup_ack_pending;
	/* When we last answered an out-of-window segment or sent a challenge
	 * ACK (tcp_invalid_ratelimit): two endpoints that disagree about the
	 * window would otherwise ACK each other's ACKs forever. */
	uint64_t oow_ack_at;
	bool oow_acked;
	/* Listener: children in SYN-RECV (synq) and established, waiting for
	 * accept() (acceptq, FIFO).  A child points at its listener while it
	 * is on one of these lists. */
	int max_backlog;
	int nacc, nsyn;
	struct stk_sock *parent;
	struct stk_sock *q_next, *q_prev;
	struct stk_sock *acc_head, *acc_tail;
	struct stk_sock *syn_head;
	bool in_acceptq;
	/* A child's peer, for accept(): a connection reset or closed while
	 * it waited in the accept queue stays there, closed, and accept()
	 * still returns it with this address (inet_getname, peer == 2). */
	st_sockaddr acc_peer;
};

struct stk_stack {
	stk_env env;
	st_net *net;
	uint64_t seed;
	uint64_t isn_k0, isn_k1;
	stk_sock *socks;         /* list of every live socket */
	size_t nsocks;
	bool tracing;
	uint8_t *pktbuf;         /* STK_WIRE_MAX bytes, for building packets */
	/* A record taken before a segment is processed, for the TIME_WAIT
	 * hand-over that segment may cause (tcp_in.c); NULL between segments. */
	stk_sock *tw_spare;
};

static inline stk_sock *stk_of(const st_sock *c)
{
	return ((const stk_rec *)(const void *)c)->owner;
}

static inline uint64_t stk_now(const stk_stack *st)
{
	return st->env.now(st->env.ctx);
}

/* ip.c */
void stk_trace(stk_stack *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Send a built packet description: picks the device by route, encodes,
 * transmits.  Returns 0 or -ENETUNREACH / -EMSGSIZE. */
int stk_ip_output(stk_stack *st, stk_pkt *p, int bound_dev);
/* Send through device `ifindex` whatever the packet's destination (a
 * cached route's device). */
int stk_ip_output_dev(stk_stack *st, stk_pkt *p, int ifindex);
/* Route choice for an unconnected send (source address and device). */
int stk_ip_route(stk_stack *st, int family, const st_addr *dst, int bound_dev, st_addr *src,
		 int *ifindex);
bool stk_ip_is_local(stk_stack *st, const st_addr *a);
void stk_icmp_port_unreachable(stk_stack *st, const stk_pkt *orig);
void stk_format_sockaddr(const st_addr *a, uint16_t port, int family, char *buf, size_t len);

/* socket.c */
stk_sock *stk_sock_alloc(stk_stack *st, int proto, int family, uint32_t uid, uint32_t caps);
/* Frees the socket if nothing holds it any more and no table has it. */
void stk_sock_maybe_free(stk_sock *sk);
void stk_sock_free_now(stk_sock *sk);
void stk_sock_pkt(const stk_sock *sk, st_pkt *p);

/* udp.c */
void stk_udp_input(stk_stack *st, int ifindex, const stk_pkt *p);
void stk_udp_err(stk_stack *st, const stk_pkt *p);
int stk_udp_sendto(stk_sock *sk, const st_sockaddr *to, const uint8_t *data, size_t len,
		   const st_cred *cred);
void stk_udp_purge(stk_sock *sk);
/* The IPv4 source a UDP socket sends from to an IPv4 peer, or NULL when
 * the route chooses (see has_v4_saddr). */
const st_addr *stk_udp_v4_saddr(const stk_sock *sk);

/* tcp_in.c: the state machine.  tcp_set_state is the one place where a
 * TCP socket's state changes after connect()/listen(). */
void stk_tcp_input(stk_stack *st, int ifindex, const stk_pkt *p);
void stk_tcp_err(stk_stack *st, const stk_pkt *p);
void stk_tcp_set_state(stk_sock *sk, st_state state);
/* The connection is over: report err (positive errno, 0 none), leave the
 * tables, free if orphaned. */
void stk_tcp_done(stk_sock *sk, int err);
void stk_tcp_close(stk_sock *sk);
int stk_tcp_shutdown_wr(stk_sock *sk);
void stk_tcp_listen_stop(stk_sock *lsk);
void stk_tcp_enter_timewait(stk_sock *sk);

/* tcp_out.c */
void stk_tcp_init_tcb(stk_sock *sk);
void stk_tcp_start_connect(stk_sock *sk);
void stk_tcp_init_send(stk_sock *sk);   /* ISS, MSS, window scale */
void stk_tcp_send_synack(stk_sock *sk);
/* Send what the windows allow (data, then a queued FIN). */
void stk_tcp_output(stk_sock *sk);
void stk_tcp_send_ack(stk_sock *sk);
void stk_tcp_send_rst_for(stk_stack *st, const stk_pkt *in);
void stk_tcp_send_rst(stk_sock *sk);
void stk_tcp_ack_received(stk_sock *sk, uint32_t ack, uint32_t wnd, const stk_pkt *p);
uint32_t stk_tcp_rcv_window(const stk_sock *sk);
void stk_tcp_stop_timers(stk_sock *sk);
void stk_tcp_window_update(stk_sock *sk);
uint32_t stk_tcp_tsval(const stk_sock *sk);
uint16_t stk_tcp_mss_for(stk_stack *st, int family, int ifindex);

enum {
	STK_TCP_RCVBUF = 131072,
	STK_TCP_SNDBUF = 4 << 20,
	STK_UDP_RCVBUF = 212992,
	/* What a queued datagram is charged beyond its bytes (a rough skb
	 * truesize): charged on delivery, refunded when it is read. */
	STK_UDP_DGRAM_OVERHEAD = 256,
};

#define STK_MS 1000000ull
#define STK_SEC 1000000000ull

static inline bool seq_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static inline bool seq_le(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }
static inline bool seq_gt(uint32_t a, uint32_t b) { return (int32_t)(a - b) > 0; }
static inline bool seq_ge(uint32_t a, uint32_t b) { return (int32_t)(a - b) >= 0; }

#endif
