/*
 * net_internal.h - the shapes of the socket tables, shared by the files
 * that implement the rules.  Internal: not installed.
 *
 * The tables mirror the kernel's, with one addition that makes every
 * decision O(1): conflict *counters*.
 *
 *   htab       one hash table of small keyed objects (below), chained,
 *              grown by doubling.  Every object embeds an st_hnode.
 *   portbkt    (proto, port): the kernel's bind bucket (bhash).  Owners in
 *              acquisition order (newest first, the UDP primary chain), the
 *              fastreuse / fastreuseport caches (B-T9), and how many owners
 *              took the port explicitly (connect-only buckets, P-T10/11).
 *   agg        (proto, port, coverage kind, [address], device slot): counters
 *              over a set of owners, enough to answer "does any owner in
 *              this set conflict with S?" for any S without visiting them.
 *              See ports.c for the algebra.
 *   uidcnt     (agg, uid): the per-uid part of those counters (SO_REUSEPORT
 *              needs the same uid, B-T4).
 *   chain      (proto, port, address): the lookup chain (lhash2 for TCP
 *              listeners, hash2 for UDP), split in classes of sockets that
 *              score alike, each class kept in chain order (chain.c).
 *   rpgroup    (proto, port, family, v6only, device, uid, address): a
 *              SO_REUSEPORT group, an array in join order (reuseport.c).
 *   ehash      4-tuples: open addressing in cache-line buckets (ehash.c).
 */
#ifndef SOCKTAB_NET_INTERNAL_H
#define SOCKTAB_NET_INTERNAL_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "socktab/addr.h"
#include "socktab/lookup.h"
#include "socktab/net.h"
#include "socktab/sock.h"
#include "alloc.h"
#include "hash.h"
#include "netconf.h"

/* Coverage kinds (section 2): which addresses a bound socket covers. */
enum st_kind {
	K_NONE = 0,
	K_V4SPEC,    /* AF_INET a.b.c.d, or AF_INET6 ::ffff:a.b.c.d       */
	K_V4ANY,     /* AF_INET 0.0.0.0, or AF_INET6 ::ffff:0.0.0.0        */
	K_V6SPEC,    /* AF_INET6 native address (V6ONLY forced)           */
	K_V6ANYONLY, /* AF_INET6 :: with V6ONLY                           */
	K_DUALANY,   /* AF_INET6 :: dual-stack                            */
	K_COUNT
};

/* Device slots of an aggregate: a real ifindex, 0 (no device) or ALL. */
enum { DEV_ALL = -1 };

enum st_htype {
	HT_PORT = 1,
	HT_AGG,
	HT_UID,
	HT_CHAIN,
	HT_RPG,
	HT_DEST,
};

/* Key of every htab object.  Zeroed before filling, compared bytewise. */
typedef struct st_hkey {
	uint8_t type;    /* st_htype */
	uint8_t proto;
	uint8_t kind;    /* coverage kind, or family for groups */
	uint8_t exact;   /* agg: 1 = one address, 0 = a whole kind */
	uint16_t port;
	uint16_t port2;  /* dest: remote port */
	int32_t dev;
	uint32_t uid;
	st_addr addr;
	st_addr addr2;   /* dest: remote address */
	uintptr_t ptr;
} st_hkey;

typedef struct st_hnode {
	struct st_hnode *next;
	uint64_t hash;
	st_hkey key;
} st_hnode;

typedef struct st_htab {
	st_hnode **b;
	size_t mask;   /* buckets - 1 */
	size_t count;
	st_sipkey key;
} st_htab;

int st_htab_init(st_htab *t, st_sipkey key, size_t initial);
void st_htab_destroy(st_htab *t);
uint64_t st_htab_hash(const st_htab *t, const st_hkey *k);
st_hnode *st_htab_find(const st_htab *t, const st_hkey *k, uint64_t h);
/* Insert never fails: growth is tried and skipped if memory is short. */
void st_htab_insert(st_htab *t, st_hnode *n, const st_hkey *k, uint64_t h);
void st_htab_remove(st_htab *t, st_hnode *n);

/* Counters of an aggregate (ports.c explains them). */
typedef struct st_counts {
	uint32_t total;
	uint32_t notraok;        /* not (RA and not listening)          */
	uint32_t rp_tw;          /* RP and TIME_WAIT                    */
	uint32_t notraok_rp_tw;
} st_counts;

struct st_uidcnt {
	st_hnode h;
	uint32_t refs;           /* sockets of this uid counted here   */
	uint32_t rp_live;        /* RP, not TIME_WAIT, this uid        */
	uint32_t notraok_rp_live;
};

struct st_agg {
	st_hnode h;
	st_counts c;
	uint32_t refs;           /* sockets counted here */
};

struct st_portbkt {
	st_hnode h;
	st_sock *owners;         /* newest first (own_next/own_prev)    */
	uint32_t nowners;
	uint32_t nexplicit;      /* owners without ST_F_CONNECT_BIND    */
	int8_t fastreuse;        /* -1 connect-only, 0, 1               */
	int8_t fastreuseport;    /* -1 connect-only, 0, FRP_ANY, FRP_STRICT */
	uint8_t fast_family;
	bool fast_v6only;
	uint32_t fastuid;
	st_addr fast_addr;
};
enum { FRP_ANY = 1, FRP_STRICT = 2 };

/* One class of a chain: sockets that every lookup scores alike. */
struct st_class {
	int32_t dev;
	uint8_t kind;
	uint8_t family;
	uint8_t ra;              /* UDP only: scan-order rule B-U4 */
	st_sock *head, *tail;    /* chain order (ascending chain_pos) */
	uint32_t n;
};

struct st_chain {
	st_hnode h;
	struct st_class *cls;
	uint32_t ncls, capcls;
	uint32_t n;
};

struct st_rpgroup {
	st_hnode h;
	st_sock **m;
	uint32_t n, cap;
	bool has_conns;
};

/* Per-destination record of connect()-chosen ports (connect.c). */
struct st_dest {
	st_hnode h;
	uint32_t n;
	uint64_t *used;          /* bitmap of local ports, once n is large */
};

/* Established table: 4 slots per 64-byte line, linear probing by line. */
typedef struct st_eslot {
	uint64_t tag;            /* 4-tuple hash; 0 = empty */
	st_sock *sk;
} st_eslot;

typedef struct st_ehash {
	st_eslot *s;
	size_t nlines;           /* power of two */
	size_t count;
	st_sipkey key;
} st_ehash;

int st_ehash_init(st_ehash *e, st_sipkey key);
void st_ehash_destroy(st_ehash *e);
uint64_t st_ehash_tag(const st_ehash *e, const st_addr *la, uint16_t lp, const st_addr *ra,
		      uint16_t rp);
/* Make room for one more entry (may allocate); 0 or -ENOMEM. */
int st_ehash_reserve(st_ehash *e);
void st_ehash_insert(st_ehash *e, st_sock *sk);
void st_ehash_remove(st_ehash *e, st_sock *sk);
/* Visit every socket with this 4-tuple; stop when fn returns true. */
st_sock *st_ehash_find(const st_ehash *e, uint64_t tag, const st_addr *la, uint16_t lp,
		       const st_addr *ra, uint16_t rp, bool (*fn)(st_sock *, void *), void *ctx);

struct st_net {
	struct st_netconf conf;
	uint64_t now;
	uint64_t seed;
	st_net_ops ops;
	st_htab h;
	st_ehash tcp_e;
	st_ehash udp_e;
	st_sipkey k_tcp_rp, k_udp_rp, k_port;
	uint64_t seq;            /* prim_seq source */
	int64_t head_pos, tail_pos; /* chain_pos sources */
	uint32_t *perturb;       /* 65536 counters, RFC 6056 alg. 4 */
	uint64_t rng;
	st_sock *tw_head, *tw_tail;
	size_t nhashed;
	/* port bitmaps per protocol (index 0 TCP, 1 UDP): a port is "taken"
	 * when a bucket exists and "conly" when that bucket is connect-only. */
	uint64_t taken[2][1024];
	uint64_t conly[2][1024];
};

static inline int pidx(int proto)
{
	return proto == ST_UDP ? 1 : 0;
}

static inline bool sk_has(const st_sock *sk, uint32_t f)
{
	return (sk->flags & f) != 0;
}

/* The address an unbound (or disconnected) socket shows: 0.0.0.0 for
 * AF_INET, :: for AF_INET6. */
static inline st_addr sock_unbound_addr(const st_sock *sk)
{
	return sk->family == ST_AF_INET ? st_addr_v4(0) : st_addr_any6();
}

uint32_t st_rand32(st_net *net);
uint32_t st_rand_below(st_net *net, uint32_t n);

/* ports.c */
int kind_of(int family, const st_addr *a, bool v6only);
struct st_portbkt *bkt_find(st_net *net, int proto, uint16_t port);
/* The set of objects a socket would be counted in, allocated up front so
 * that linking it can no longer fail. */
typedef struct st_owner_prep {
	struct st_portbkt *bkt;
	struct st_agg *agg[4];
	struct st_uidcnt *uid[4];
	bool new_bkt;
	bool new_agg[4];
	bool new_uid[4];
} st_owner_prep;
int owner_prepare(st_net *net, const st_sock *sk, int proto, uint16_t port, int kind,
		  const st_addr *a, int32_t dev, st_owner_prep *p);
void owner_abort(st_net *net, st_owner_prep *p);
void owner_link(st_net *net, st_sock *sk, st_owner_prep *p);
void owner_unlink(st_net *net, st_sock *sk);
void owner_move(st_net *net, st_sock *sk, const st_addr *a, int kind, int32_t dev,
		st_owner_prep *p);
/* Counters follow flags and state: call around every change of RA, RP or
 * state LISTEN / TIME_WAIT of an owner. */
void owner_uncount(st_net *net, st_sock *sk);
void owner_count(st_net *net, st_sock *sk);
/* TCP rule: number of owners S conflicts with (0 = none). */
uint32_t tcp_conflicts(st_net *net, const st_sock *s, uint16_t port, int kind, const st_addr *a);
const st_sock *tcp_conflict_witness(st_net *net, const st_sock *s, uint16_t port, int kind,
				    const st_addr *a, bool relax, bool reuseport_ok);
bool tcp_pair_conflict(const st_sock *s, int skind, const st_addr *sa, const st_sock *e,
		       bool relax, bool reuseport_ok);
bool kinds_overlap(int ka, const st_addr *a, int kb, const st_addr *b);
bool dev_compatible(int32_t a, int32_t b);
bool fast_reuse_match(const struct st_portbkt *b, const st_sock *s, int kind, const st_addr *a);
void fast_update(struct st_portbkt *b, const st_sock *s, int kind, const st_addr *a,
		 bool first_owner);
/* UDP rule (scan order): the first relevant owner, or NULL. */
const st_sock *udp_first_relevant(st_net *net, const st_sock *s, uint16_t port, int kind,
				  const st_addr *a);
bool udp_rp_compatible(const st_sock *s, const st_sock *e);
void bkt_mark(st_net *net, int proto, uint16_t port, const struct st_portbkt *b);

/* chain.c */
void chain_key(int kind, const st_addr *a, st_addr *out);
int chain_prepare(st_net *net, const st_sock *sk, struct st_chain **out, bool *created);
void chain_abort(st_net *net, struct st_chain *c, bool created);
void chain_link(st_net *net, st_sock *sk, struct st_chain *c, bool at_tail);
void chain_unlink(st_net *net, st_sock *sk);
void chain_reclass(st_net *net, st_sock *sk);
struct st_chain *chain_find(st_net *net, int proto, uint16_t port, const st_addr *key);
int chain_class_ra(const st_sock *sk);

/* reuseport.c */
int rp_prepare(st_net *net, const st_sock *sk, struct st_rpgroup **g, bool *created);
void rp_abort(st_net *net, struct st_rpgroup *g, bool created);
void rp_join(st_net *net, st_sock *sk, struct st_rpgroup *g);
void rp_leave(st_net *net, st_sock *sk);
st_sock *rp_select(st_net *net, st_sock *first, const st_pkt *p, st_lookup_explain *ex);

/* connect.c / bind.c shared */
int tcp_find_open_port(st_net *net, st_sock *sk, int kind, const st_addr *a, uint16_t *port);
int udp_find_port(st_net *net, st_sock *sk, int kind, const st_addr *a, uint16_t *port);
int port_take(st_net *net, st_sock *sk, uint16_t port, int kind, const st_addr *a,
	      bool connect_bind);
void port_release(st_net *net, st_sock *sk);
int udp_hash_chain(st_net *net, st_sock *sk);
void sock_rehash_addr(st_net *net, st_sock *sk, const st_addr *newaddr, int newkind,
		      st_owner_prep *p, struct st_chain *nc);
void tw_fifo_remove(st_net *net, st_sock *sk);
void conn_dest_del(st_net *net, st_sock *sk);
void explain_set(st_explain *ex, int err, st_rule rule, const st_sock *conflict,
		 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void sock_describe(const st_sock *sk, char *buf, size_t len);

#endif
