/*
 * src/stack/stack.h - one host's network stack: sockets, TCP, UDP, IP.
 *
 * The core (src/core) answers "may I bind this" and "who gets this packet";
 * the stack is what makes those answers happen to real packets.  It owns
 * the socket objects (an st_sock record plus queues, options and a TCP
 * control block), turns calls into segments and datagrams in wire format,
 * and feeds arriving packets through the core's two-stage demux.
 *
 * The stack has no clock, no links and no processes of its own: it is
 * driven by an environment (stk_env) that tells the time, arms timers and
 * puts packets on a device.  src/sim provides the environment for simulated
 * hosts; a TUN device could provide another.  That keeps every packet the
 * stack emits inspectable (pcap) and every run deterministic for a seed.
 *
 * Calls return 0 or a negative errno, as the socket API would.  They never
 * block: a blocking call is the caller running the world until the socket
 * is ready (stk_connect_pending()), then asking again, which is also how
 * Linux's connect() evaluates its result after waking up.
 *
 * Lifetime: a socket is held by file references (stk_hold/stk_release,
 * one per descriptor in any process).  When the last reference goes, the
 * socket is closed as close() would (FIN, RST, or immediate) and lives on
 * as an orphan inside the stack until TCP is done with it (TIME_WAIT
 * included); then the stack frees it.
 */
#ifndef SOCKTAB_STACK_STACK_H
#define SOCKTAB_STACK_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "socktab/addr.h"
#include "socktab/lookup.h"
#include "socktab/net.h"
#include "socktab/sock.h"

/* A timer the environment keeps in time order.  The stack embeds these in
 * its objects; `fn` is called with the timer once `when` is reached.
 * Invariant: heap_idx == STK_TIMER_IDLE exactly when the timer is not armed.
 * The links belong to the environment: they let it keep its timers in an
 * intrusive structure, so that arming a timer never allocates and never
 * fails (a timer that silently did not arm would be a connection that
 * never times out or a TIME_WAIT that never ends). */
typedef struct stk_timer {
	uint64_t when;
	uint64_t seq;      /* tie-break among equal `when`: arming order */
	size_t heap_idx;
	void (*fn)(struct stk_timer *t);
	struct stk_timer *env_child, *env_next, *env_prev; /* environment's links */
} stk_timer;
#define STK_TIMER_IDLE ((size_t)-1)

typedef struct stk_env {
	void *ctx;
	uint64_t (*now)(void *ctx);
	void (*arm)(void *ctx, stk_timer *t, uint64_t when);   /* re-arms if armed */
	void (*cancel)(void *ctx, stk_timer *t);                /* no-op if idle */
	/* Put a finished IP packet on device `ifindex` (ST_IFINDEX_LO for
	 * loopback: the environment hands it back to this stack's input). */
	void (*xmit)(void *ctx, int ifindex, const uint8_t *pkt, size_t len);
	/* Optional: one line saying what a packet reached and why (demux). */
	void (*trace)(void *ctx, const char *text);
} stk_env;

typedef struct stk_stack stk_stack;
typedef struct stk_sock stk_sock;

int stk_stack_new(stk_stack **out, const stk_env *env, uint64_t seed);
/* Frees every socket (held or not) and the tables. */
void stk_stack_free(stk_stack *st);
st_net *stk_stack_net(stk_stack *st);
/* An IP packet arrived on device `ifindex`. */
void stk_input(stk_stack *st, int ifindex, const uint8_t *pkt, size_t len);
/* Turn on the demux explanations sent to env->trace. */
void stk_set_tracing(stk_stack *st, bool on);
/* Port steering for `socktab diff`: the next automatic port choice of
 * this stack tries `port` (Linux's choice) first and takes it if Linux's
 * algorithm could have chosen it (st_port_hint, net_internal.h).  _done
 * says what became of it (0 no choice was made, 1 taken, -1 refused with
 * *why) and forgets it. */
void stk_port_hint(stk_stack *st, uint16_t port);
int stk_port_hint_done(stk_stack *st, const char **why);

/* ---- sockets -------------------------------------------------------- */

typedef enum stk_opt {
	STK_SO_REUSEADDR,
	STK_SO_REUSEPORT,
	STK_IPV6_V6ONLY,
	STK_SO_BROADCAST,
	STK_SO_BINDTODEVICE,      /* i = ifindex, 0 = none */
	STK_IP_FREEBIND,
	STK_IP_TRANSPARENT,
	STK_IP_BIND_ADDRESS_NO_PORT,
	STK_SO_LINGER,            /* i = on, i2 = seconds */
	STK_SO_ERROR,             /* read only; reading clears it */
	STK_IP_LOCAL_PORT_RANGE,  /* i = lo, i2 = hi */
} stk_opt;

typedef struct stk_optval {
	int64_t i, i2;
} stk_optval;

typedef enum stk_shut { STK_SHUT_RD = 1, STK_SHUT_WR = 2, STK_SHUT_RDWR = 3 } stk_shut;

/* socket(): proto ST_TCP/ST_UDP, family ST_AF_INET/ST_AF_INET6.  The new
 * socket carries one reference. */
int stk_socket(stk_stack *st, int proto, int family, const st_cred *cred, stk_sock **out);
void stk_hold(stk_sock *sk);
/* Drops a reference; the last one closes the socket (close()). */
void stk_release(stk_sock *sk);

int stk_setsockopt(stk_sock *sk, stk_opt opt, const stk_optval *v, const st_cred *cred);
int stk_getsockopt(stk_sock *sk, stk_opt opt, stk_optval *v);

int stk_bind(stk_sock *sk, const st_sockaddr *sa, const st_cred *cred, st_explain *ex);
int stk_listen(stk_sock *sk, int backlog, const st_cred *cred, st_explain *ex);
/* Returns 0 (connected now or already: the socket layer's rules), a
 * negative errno, or -EINPROGRESS when a TCP handshake is under way; the
 * caller may then wait until !stk_connect_pending() and call again (with
 * the same address) to learn the outcome, as a blocking connect does. */
int stk_connect(stk_sock *sk, const st_sockaddr *sa, const st_cred *cred, st_explain *ex);
bool stk_connect_pending(const stk_sock *sk);
/* -EAGAIN when nothing is queued.  The child carries one reference. */
int stk_accept(stk_sock *lsk, stk_sock **child, st_sockaddr *peer);
int stk_send(stk_sock *sk, const uint8_t *data, size_t len);
int stk_sendto(stk_sock *sk, const st_sockaddr *to, const uint8_t *data, size_t len,
	       const st_cred *cred);
/* Reads at most cap bytes (one datagram for UDP, truncated).  *n = 0 with
 * return 0 is end of stream for TCP (or an empty datagram for UDP). */
int stk_recv(stk_sock *sk, uint8_t *buf, size_t cap, size_t *n, st_sockaddr *from);
int stk_shutdown(stk_sock *sk, stk_shut how);
void stk_getsockname(const stk_sock *sk, st_sockaddr *out);
int stk_getpeername(const stk_sock *sk, st_sockaddr *out);

/* ---- inspection (ls, explanations) ---------------------------------- */

const st_sock *stk_core(const stk_sock *sk);
/* The socket a table record (from a lookup or an explanation) belongs to. */
stk_sock *stk_sock_of(const st_sock *rec);
stk_stack *stk_sock_stack(const stk_sock *sk);
/* Every socket of the stack that is bound (holds a port or is in a
 * table), including TIME_WAIT records and children not yet accepted. */
void stk_foreach(stk_stack *st, void (*fn)(stk_sock *sk, void *ctx), void *ctx);
/* "LISTEN", "ESTAB", ..., "BOUND", "UNCONN", or NULL when unbound. */
const char *stk_state_name(const stk_sock *sk);
/* How many sockets the stack still owns (held, orphaned, TIME_WAIT). */
size_t stk_sock_count(const stk_stack *st);
/* How many descriptors, in any process, hold the socket (0: orphaned,
 * TIME_WAIT, or a child not yet accepted).  With stk_sock_count, lets a
 * walk of the descriptor tables (ls) know it has met every socket without
 * keeping a set of them. */
int stk_sock_refs(const stk_sock *sk);

#endif
