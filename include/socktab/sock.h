/*
 * socktab/sock.h - socket records and the calls that move them through
 * the tables: bind, listen, connect, accept, disconnect, close, TIME_WAIT.
 *
 * The caller owns every st_sock (embed it in your own socket object, as
 * the kernel embeds struct sock); the tables only link to it.  A record
 * must not move in memory while it is hashed.  Fields are public so that
 * the record can be embedded and read cheaply, but only the functions
 * below may change them: the tables keep counters and indexes that must
 * agree with every field that a rule reads.
 *
 * All calls return 0 or a negative errno, Linux's errno for Linux's
 * reason.  A call that fails leaves every table, and the record, exactly
 * as it was (including on -ENOMEM).  Out-parameters are written only on
 * success.
 *
 * What the core models is the *table* side of each call.  Packets,
 * handshakes, queues and timers are the stack's business (src/stack): for
 * TCP the stack calls st_connect() (the socket enters SYN-SENT in the
 * established table), later st_set_state() as segments arrive, and
 * st_connect_failed() when the peer answers RST.
 */
#ifndef SOCKTAB_SOCK_H
#define SOCKTAB_SOCK_H

#include <stdint.h>
#include <stdbool.h>
#include "socktab/addr.h"
#include "socktab/net.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum st_proto { ST_TCP = 6, ST_UDP = 17 } st_proto;

/* States, with the kernel's meaning.  ST_CLOSE covers "created" and
 * "bound" (a bound socket has lport != 0 or an address lock). */
typedef enum st_state {
	ST_CLOSE = 0,
	ST_LISTEN,
	ST_SYN_SENT,
	ST_SYN_RECV,
	ST_ESTABLISHED, /* also: a connected UDP socket */
	ST_FIN_WAIT1,
	ST_FIN_WAIT2,
	ST_CLOSE_WAIT,
	ST_CLOSING,
	ST_LAST_ACK,
	ST_TIME_WAIT,
	ST_STATE_COUNT_
} st_state;

/* Socket options the rules read. */
typedef enum st_opt {
	ST_SO_REUSEADDR,          /* int 0/1 */
	ST_SO_REUSEPORT,          /* int 0/1 */
	ST_IPV6_V6ONLY,           /* int 0/1; EINVAL once the socket has a port */
	ST_SO_BROADCAST,          /* int 0/1 */
	ST_SO_BINDTODEVICE,       /* ifindex, 0 = none; ENODEV if unknown */
	ST_IP_FREEBIND,           /* int 0/1 */
	ST_IP_TRANSPARENT,        /* int 0/1; EPERM without CAP_NET_ADMIN/RAW */
	ST_IP_BIND_ADDRESS_NO_PORT, /* int 0/1 */
	ST_IP_LOCAL_PORT_RANGE,   /* (hi << 16) | lo, 0 = unset */
	ST_OPT_COUNT_
} st_opt;

/* Capabilities of the calling process (in the net's user namespace). */
enum {
	ST_CAP_NET_BIND_SERVICE = 1u << 0,
	ST_CAP_NET_ADMIN = 1u << 1,
	ST_CAP_NET_RAW = 1u << 2,
	ST_CAP_ALL = 0x7u,
};

typedef struct st_cred {
	uint32_t uid;  /* fsuid at socket() time for the owner; caller's for checks */
	uint32_t caps; /* ST_CAP_* */
} st_cred;

/* Flag bits of st_sock.flags (options and the kernel's "user locks"). */
enum {
	ST_F_REUSEADDR = 1u << 0,
	ST_F_REUSEPORT = 1u << 1,
	ST_F_V6ONLY = 1u << 2,
	ST_F_BROADCAST = 1u << 3,
	ST_F_FREEBIND = 1u << 4,
	ST_F_TRANSPARENT = 1u << 5,
	ST_F_BIND_NO_PORT = 1u << 6,
	ST_F_BINDADDR_LOCK = 1u << 7,  /* bind() to a non-wildcard address */
	ST_F_BINDPORT_LOCK = 1u << 8,  /* bind() with an explicit port */
	ST_F_CONNECT_BIND = 1u << 9,   /* port taken by connect() (6.18) */
	ST_F_HASHED = 1u << 10,        /* holds a port in the bind tables */
	ST_F_EHASHED = 1u << 11,       /* in the established (4-tuple) table */
	ST_F_LHASHED = 1u << 12,       /* in a lookup chain (listener / UDP) */
	ST_F_TW_TS = 1u << 13,         /* TIME_WAIT: peer timestamp recorded */
	ST_F_V6ONLY_FORCED = 1u << 14, /* V6ONLY set by a native v6 bind */
	ST_F_ASSIGNED_SRC = 1u << 15,  /* local address chosen by connect() */
	ST_F_CHAIN_PARKED = 1u << 16,  /* connected UDP: in its chain, never scored */
};

struct st_portbkt;
struct st_agg;
struct st_sockx;

/*
 * A socket record.  Addresses are 16-byte v4-mapped where IPv4 (for an
 * AF_INET6 socket bound to a native address, Linux keeps the IPv4 shadow
 * 127.0.0.6; here the v6 address itself is kept and the rules use the
 * family and V6ONLY bit instead).
 *
 * Shape: 112 bytes, because at millions of connections the record is most
 * of the memory.  What every socket needs is inline, the 4-tuple and the
 * device first (the established lookup compares bytes 0..47 and nothing
 * else).  What only sockets in a lookup chain need -- listeners and bound
 * UDP sockets: chain links and position, SO_REUSEPORT group, UDP primary
 * chain -- lives in a struct st_sockx that the core allocates when the
 * socket first enters a chain and frees when it leaves them all; an
 * established TCP socket has none.  TIME_WAIT records sit in a ring of
 * the net (tw_slot), not a list, to save the two links.
 *
 * Invariants (kept by the core, checked by st_net_check()):
 *  - ST_F_HASHED  <=> lport != 0 and the socket is counted in exactly one
 *    port bucket (`bkt`) and one exact-address aggregate (`agg`);
 *  - ST_F_LHASHED <=> the socket sits in the lookup chain of
 *    (proto, lport, laddr): listeners (TCP) or every bound socket (UDP);
 *    a connected UDP socket is in its chain but parked
 *    (ST_F_CHAIN_PARKED): it keeps its chain position and is never scored,
 *    since only its own peer may reach it and the 4-tuple stage finds it;
 *  - x != NULL <=> ST_F_LHASHED, or a UDP owner (primary chain), or a
 *    SO_REUSEPORT group member; x is never shared between records;
 *  - a UDP owner is in its port's primary chain in the kernel's order:
 *    sockets bound without being AF_INET6 + SO_REUSEPORT newest first,
 *    then AF_INET6 SO_REUSEPORT ones oldest first;
 *  - ST_F_EHASHED <=> TCP state is not CLOSE/LISTEN, or UDP is connected
 *    with a specific local address; the 4-tuple table holds it once;
 *  - state == ST_TIME_WAIT and hashed => the net's TIME_WAIT ring holds
 *    it at tw_slot, entered at tw_since.
 */
typedef struct st_sock {
	st_addr laddr;          /* bound/receive address (:: = none)        */
	st_addr raddr;          /* peer address (:: = none)                 */
	uint16_t lport;         /* host order, 0 = none                     */
	uint16_t rport;
	uint8_t proto;          /* st_proto                                 */
	uint8_t family;         /* ST_AF_INET or ST_AF_INET6                */
	uint8_t state;          /* st_state                                 */
	uint8_t kind;           /* internal: coverage class                 */
	uint32_t flags;         /* ST_F_*                                   */
	int32_t dev;            /* bound device index, 0 = none             */
	uint32_t uid;           /* owner (sk_uid)                           */
	uint32_t port_range;    /* IP_LOCAL_PORT_RANGE value                */
	uint16_t stale_lport;   /* what getsockname shows after a release   */
	uint16_t reserved;      /* zero                                     */
	/* --- internal linkage, do not touch --- */
	uint32_t tw_slot;       /* TIME_WAIT: position in the net's ring    */
	struct st_portbkt *bkt;
	struct st_agg *agg;
	struct st_sock *own_next, *own_prev; /* owners of `bkt`, newest first */
	uint64_t tw_since;      /* TIME_WAIT entry time, ns                 */
	struct st_sockx *x;     /* chain, group and primary-chain linkage   */
} st_sock;

/* Prepare a record: proto ST_TCP or ST_UDP, family ST_AF_INET or
 * ST_AF_INET6, owner uid.  V6ONLY starts as net.ipv6.bindv6only.
 * Returns 0, -EINVAL (bad arguments) or -EAFNOSUPPORT. */
int st_sock_init(st_net *net, st_sock *sk, int proto, int family, uint32_t uid);

/* Options.  Setting RA/RP on a bound socket takes effect for later
 * conflict checks at once (flags are read live, section 1.4). */
int st_setsockopt(st_net *net, st_sock *sk, st_opt opt, uint32_t value, const st_cred *cred);
int st_getsockopt(const st_net *net, const st_sock *sk, st_opt opt, uint32_t *value_out);

/*
 * Why a call was refused, or why a lookup chose what it chose.  Pass NULL
 * where you do not need it: decisions are O(1) either way, but finding the
 * witness socket of a refusal walks the owners it conflicts with.
 */
typedef enum st_rule {
	ST_RULE_NONE = 0,
	ST_RULE_ARG_LEN,          /* B1, B10, C-T1 */
	ST_RULE_ARG_FAMILY,       /* B2, B11 */
	ST_RULE_ADDR_NOT_LOCAL,   /* B3, B17, B20 */
	ST_RULE_PRIVILEGED_PORT,  /* B4, B13 */
	ST_RULE_ALREADY_BOUND,    /* B5, B14 */
	ST_RULE_MULTICAST_STREAM, /* B12 */
	ST_RULE_V4MAPPED_V6ONLY,  /* B15 */
	ST_RULE_SCOPE_REQUIRED,   /* B16 */
	ST_RULE_NO_DEVICE,        /* B15, B16 */
	ST_RULE_TCP_CONFLICT,     /* B-T1/B-T2: owner without a shared flag */
	ST_RULE_TCP_LISTENER_BLOCKS_RA, /* B-T3: SO_REUSEADDR never passes a listener */
	ST_RULE_TCP_REUSEPORT_UID, /* B-T4: SO_REUSEPORT needs the same uid */
	ST_RULE_TCP_TIMEWAIT,     /* B-T7: TIME_WAIT owner without RA */
	ST_RULE_FAST_REUSE,       /* B-T9: admitted by the fastreuse cache */
	ST_RULE_FAST_REUSEPORT,   /* B-T9: admitted by the fastreuseport cache */
	ST_RULE_UDP_CONFLICT,     /* B-U1 */
	ST_RULE_UDP_SCAN_ORDER,   /* B-U4: admitted by the first compatible owner */
	ST_RULE_PORT_EXHAUSTED,   /* P-T6, P-U3, P-T13 */
	ST_RULE_NOT_STREAM,       /* L1 */
	ST_RULE_BAD_STATE,        /* L1, C-T2, L6 */
	ST_RULE_TUPLE_IN_USE,     /* C-T7 */
	ST_RULE_TIMEWAIT_NOT_REUSABLE, /* T-4 */
	ST_RULE_UNREACHABLE,      /* C-T4, C-T5 */
	ST_RULE_BROADCAST_DENIED, /* C-U4 */
	ST_RULE_V6ONLY_OPT_FROZEN, /* 1.4 */
	ST_RULE_NO_PERMISSION,    /* IP_TRANSPARENT */
	ST_RULE_NOMEM,
	ST_RULE_COUNT_
} st_rule;

typedef struct st_explain {
	int err;                  /* the errno returned, 0 on success        */
	st_rule rule;             /* which rule decided                      */
	const st_sock *conflict;  /* the socket it conflicts with, or NULL   */
	char text[256];           /* one sentence in plain words             */
} st_explain;

const char *st_rule_name(st_rule r);   /* "B-T3" style reference */
const char *st_strerror_name(int err); /* "EADDRINUSE" for -98 or 98 */

/* bind(): the kernel's checks in the kernel's order (B1-B18), then the
 * conflict rule.  `addrlen` is what the caller would pass to bind(2). */
int st_bind(st_net *net, st_sock *sk, const st_sockaddr *sa, int addrlen,
	    const st_cred *cred, st_explain *ex);

/* listen(): TCP only; autobinds an unbound socket (odd port), re-runs the
 * conflict rule in LISTEN state (B-L1) and joins a reuseport group. */
int st_listen(st_net *net, st_sock *sk, const st_cred *cred, st_explain *ex);

/* connect(): for TCP puts the socket in SYN-SENT with a unique 4-tuple
 * (choosing source address and port as Linux does); for UDP records the
 * peer, autobinding and re-hashing as needed.  An AF_UNSPEC address is a
 * disconnect (st_disconnect). */
int st_connect(st_net *net, st_sock *sk, const st_sockaddr *sa, int addrlen,
	       const st_cred *cred, st_explain *ex);

/* UDP: the automatic bind of the first sendto() on an unbound socket (a
 * port as for bind(0), address left wildcard, no user locks).  0 when the
 * socket already has a port; -EAGAIN when the range is exhausted;
 * -EOPNOTSUPP for TCP. */
int st_autobind(st_net *net, st_sock *sk);

/* connect(AF_UNSPEC): C-T11 (TCP) / C-U6 (UDP).  Succeeds on a valid
 * socket, like Linux's, except that the tables are keyed by address and
 * device: when memory for the socket's reset address or cleared device
 * is short it returns -ENOMEM and changes nothing. */
int st_disconnect(st_net *net, st_sock *sk);

/* TCP: the peer answered RST to our SYN (C-T9, the kernel's tcp_done):
 * back to CLOSE, out of the 4-tuple table, an automatically taken port is
 * released (getsockname keeps showing it); the source address connect()
 * chose stays.  When connect() then reports the failure (a blocking
 * connect, or a later connect() call), Linux also disconnects the socket,
 * which resets that address: the caller does that with st_disconnect
 * (E21: after SO_ERROR alone getsockname shows 127.0.0.1:P, after the
 * blocking connect 0.0.0.0:P). */
int st_connect_failed(st_net *net, st_sock *sk);

/* TCP: a handshake completed on listener `lsk`: `child` (initialised with
 * st_sock_init by the caller) becomes an owner of the listener's port with
 * the 4-tuple (local, remote) in `state` (ST_SYN_RECV or ST_ESTABLISHED),
 * inheriting RA, RP, V6ONLY, device and uid as accepted sockets do.
 * -EADDRINUSE if the 4-tuple is taken, -ENOMEM. */
/* (Every call that puts a record in the 4-tuple table -- connect,
 * accept_child -- also returns -EFAULT for a record whose address does
 * not fit in 48 bits, which the table's slots store; user-space addresses
 * on x86-64 and arm64 always do unless mmap was asked for more.) */
int st_accept_child(st_net *net, const st_sock *lsk, st_sock *child, const st_sockaddr *local,
		    const st_sockaddr *remote, st_state state);

/* TCP state change made by the stack (ESTABLISHED, FIN_WAIT1, ...). Not
 * for CLOSE, LISTEN or TIME_WAIT, which have their own calls. */
int st_set_state(st_net *net, st_sock *sk, st_state state);

/* TCP: the socket enters TIME_WAIT now, keeping its port, its 4-tuple
 * and its RA/RP/V6ONLY (T-1..T-3).  `peer_ts` says whether a peer
 * timestamp was recorded (needed for reuse, T-4).  -ENOMEM (nothing
 * changed) when the net's TIME_WAIT ring must grow and cannot. */
int st_timewait(st_net *net, st_sock *sk, bool peer_ts);

/* Every TIME_WAIT record older than 60 s, oldest first, is unhashed and
 * handed to `fn`.  Returns how many expired, -EINVAL for a NULL net.
 * O(expired). */
int st_expire_timewait(st_net *net, void (*fn)(st_sock *tw, void *ctx), void *ctx);

/* close(): unhash from every table (a listener leaves its reuseport
 * group, moving the last member into its slot). Always succeeds. */
void st_close(st_net *net, st_sock *sk);

/* TCP shutdown(SHUT_RD/RDWR) or disconnect of a listener: it stops
 * listening (L7) but keeps its port. */
int st_unlisten(st_net *net, st_sock *sk);

/* getsockname/getpeername as Linux shows them (stale port after an
 * automatic release, v4 addresses as the socket's family writes them).
 * st_getsockname does nothing for NULL arguments; st_getpeername returns
 * -EINVAL for them and -ENOTCONN without a peer. */
void st_getsockname(const st_sock *sk, st_sockaddr *out);
int st_getpeername(const st_sock *sk, st_sockaddr *out);

#ifdef __cplusplus
}
#endif
#endif
