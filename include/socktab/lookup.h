/*
 * socktab/lookup.h - demultiplexing: which socket receives a packet.
 *
 * TCP (D-T1): the exact 4-tuple first (established, SYN-RECV, TIME_WAIT),
 * then listeners bound to the packet's destination address, then
 * listeners bound to the wildcard.  UDP (D-U1): connected sockets by exact
 * 4-tuple, then the destination address, then the wildcard; broadcast and
 * multicast go to every matching socket (D-U6).  Within an address, the
 * kernel's scoring and chain order decide, and a SO_REUSEPORT group picks
 * a member by multiply-shift over a keyed 4-tuple hash (D-RP3).
 *
 * A packet key is written from the receiver's point of view: `daddr:dport`
 * is the local end.  `family` is the packet's IP version; a v4 packet's
 * addresses are v4-mapped like every st_addr.
 */
#ifndef SOCKTAB_LOOKUP_H
#define SOCKTAB_LOOKUP_H

#include <stddef.h>
#include <stdint.h>
#include "socktab/sock.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct st_pkt {
	uint8_t family;   /* ST_AF_INET or ST_AF_INET6 */
	uint8_t proto;    /* ST_TCP or ST_UDP */
	uint16_t sport;
	uint16_t dport;
	int32_t ifindex;  /* arrival device, ST_IFINDEX_LO for loopback */
	st_addr saddr;
	st_addr daddr;
} st_pkt;

/* Why a lookup chose its socket: the stage that decided and, for the
 * listener/unconnected stages, every candidate that was scored. */
typedef enum st_lookup_stage {
	ST_STAGE_NONE = 0,        /* nothing matched: RST / ICMP port unreachable */
	ST_STAGE_ESTABLISHED,     /* exact 4-tuple (D-T1 step 1, D-U1 step 0) */
	ST_STAGE_EXACT_ADDR,      /* sockets bound to the destination address */
	ST_STAGE_WILDCARD,        /* sockets bound to 0.0.0.0 / :: */
} st_lookup_stage;

enum { ST_EXPLAIN_MAX_CANDIDATES = 16 };

typedef struct st_candidate {
	const st_sock *sk;
	int score;          /* -1 = not eligible */
	int why;            /* bit set of ST_WHY_* explaining the score */
} st_candidate;

enum {
	ST_WHY_FAMILY_V4 = 1 << 0,     /* +1: AF_INET socket for an IPv4 packet */
	ST_WHY_DEVICE = 1 << 1,        /* bound to the arrival device */
	ST_WHY_CONNECTED = 1 << 2,     /* UDP: peer matches */
	ST_WHY_V6ONLY = 1 << 3,        /* excluded: v6only socket, IPv4 packet */
	ST_WHY_OTHER_DEVICE = 1 << 4,  /* excluded: bound to another device */
	ST_WHY_FIRST_IN_CHAIN = 1 << 5, /* won a tie by chain order */
	ST_WHY_REUSEPORT = 1 << 6,     /* its group picked the member */
	ST_WHY_EARLY_RETURN = 1 << 7,  /* scan stopped at the first RP best (D-T5) */
};

typedef struct st_lookup_explain {
	st_lookup_stage stage;
	int ncand;
	st_candidate cand[ST_EXPLAIN_MAX_CANDIDATES];
	const st_sock *group_first;  /* the socket whose group was consulted */
	uint32_t group_size;
	uint32_t group_index;        /* member picked */
	uint32_t hash;               /* the 4-tuple hash used */
	char text[320];
} st_lookup_explain;

/* TCP demux.  Returns the socket or NULL. */
st_sock *st_lookup_tcp(st_net *net, const st_pkt *p, st_lookup_explain *ex);

/* The exact-4-tuple stage alone (established, SYN-RECV, TIME_WAIT). */
st_sock *st_lookup_established(st_net *net, const st_pkt *p);
/* Batched: the same answers as n calls of st_lookup_established, with
 * the memory reads of many keys in flight at once (a software pipeline:
 * hash and prefetch the index line, then the record, then compare); over
 * a table small enough to stay in the caches, one key at a time.  out[i]
 * is the socket or NULL. */
void st_lookup_established_batch(st_net *net, const st_pkt *const *p, size_t n, st_sock **out);

/* UDP unicast demux. */
st_sock *st_lookup_udp(st_net *net, const st_pkt *p, st_lookup_explain *ex);
/* UDP broadcast/multicast: calls fn for every socket that receives a
 * copy (D-U6); returns how many, or -EINVAL for a NULL net or packet. */
int st_lookup_udp_multi(st_net *net, const st_pkt *p, void (*fn)(st_sock *sk, void *ctx), void *ctx);

/* Is this destination one of the host's broadcast or multicast addresses
 * (so that UDP delivery fans out)? */
bool st_net_is_bcast_or_mcast(const st_net *net, const st_pkt *p);

/* Check every invariant of every table (for tests and fuzzers).
 * Returns 0 or -EUCLEAN with a description in buf. */
int st_net_check(const st_net *net, char *buf, size_t len);

/* Number of hashed sockets (any table) and of TIME_WAIT records. */
size_t st_net_count(const st_net *net);

#ifdef __cplusplus
}
#endif
#endif
