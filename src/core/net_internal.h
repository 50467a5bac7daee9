/*
 * net_internal.h - the shapes of the socket tables, shared by the files
 * that implement the rules.  Internal: not installed.
 *
 * The tables mirror the kernel's, with one addition that makes every
 * decision O(1): conflict *counters*.
 *
 *   htab       one hash table of small keyed objects (below), open
 *              addressing with the key's hash in the slot, grown by
 *              doubling; every object embeds an st_hnode, and the
 *              small fixed-size ones come from the table's pool.
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
 *   rpgroup    a SO_REUSEPORT group, an array in join order
 *              (reuseport.c); found through its members, never by key,
 *              because Linux can hold several groups with equal keys.
 *   primary    UDP only: the port's owners in the kernel's primary-chain
 *              order, which the bind rule B-U4 and the group join scan
 *              (bind.c, reuseport.c).
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

/* Device slots of an aggregate: a real ifindex, ALL (every owner) or ANY
 * (owners bound to some device).  Owners without a device are counted in
 * ALL only; "no device" is ALL minus ANY (ports.c). */
enum { DEV_ALL = -1, DEV_ANY = -2 };

enum st_htype {
	HT_PORT = 1,
	HT_AGG,
	HT_UID,
	HT_CHAIN,
	HT_RPG,
	HT_DEST,
	HT_PSET,         /* ports.c: ports held per aggregate key (bind(0)) */
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

/* Embedded first in every htab object.  key is the object's identity
 * (unique in its table); next links the object only while it sits on
 * the overflow list (htab.c: a table that could not grow). */
typedef struct st_hnode {
	st_hkey key;
	struct st_hnode *next;
} st_hnode;

/* One slot: the 63-bit hash of the key, with bit 63 set when the object
 * is a pool object (0 = empty), and the object.  Four to a 64-byte line. */
typedef struct st_hslot {
	uint64_t tag;
	st_hnode *n;
} st_hslot;

/* Fixed-size objects of the table (ports.c's buckets, aggregates and
 * per-uid counters), carved from chunks (htab.c). */
typedef struct st_hpool {
	void *free;              /* freed objects, linked through word 0 */
	char *cur, *end;         /* the unused tail of the newest chunk  */
	void *chunks;            /* every chunk, linked through word 0   */
	size_t next_objs;        /* objects in the next chunk            */
} st_hpool;
enum { ST_HOBJ_SIZE = 128 };  /* bytes per pool object, 64-aligned  */

/* Invariant: count <= 3/4 of the slots, except after a failed growth,
 * and at least one slot is always empty (probes end); the nodes not in a
 * slot are on the overflow list (novf of them, only after a growth
 * failed).  Linear probing from the first slot of the home line
 * (hash & (nlines - 1)), backward-shift deletion: no tombstones. */
typedef struct st_htab {
	st_hslot *s;             /* nlines * 4 slots, 64-byte aligned   */
	size_t nlines;           /* power of two                        */
	size_t count;            /* nodes in slots                      */
	st_hnode *ovf;
	size_t novf;
	st_sipkey key;
	uint64_t kw[10];         /* st_mixkey(key, i) for i < 8, 10, 11 */
	st_hpool pool;
} st_htab;

int st_htab_init(st_htab *t, st_sipkey key, size_t initial);
/* Frees the slots and the pool's chunks (pool objects with them); other
 * objects are the caller's to free first (st_htab_clear). */
void st_htab_destroy(st_htab *t);
/* The index hash of a key (hash.h's st_mixhash over its seven words,
 * with the key words computed once per table): never 0, bit 63 clear.
 * Inline because every find and insert starts with it. */
static inline uint64_t st_htab_hash(const st_htab *t, const st_hkey *k)
{
	uint64_t w[7];
	memcpy(w, k, sizeof(w));
	uint64_t acc = st_mum(w[0] ^ t->kw[0], w[1] ^ t->kw[1]) ^
		       st_mum(w[2] ^ t->kw[2], w[3] ^ t->kw[3]) ^
		       st_mum(w[4] ^ t->kw[4], w[5] ^ t->kw[5]) ^ st_mum(w[6] ^ t->kw[6], t->kw[7]);
	uint64_t h = st_mum(acc ^ t->kw[8], 7 ^ t->kw[9]) & ~(UINT64_C(1) << 63);
	return h ? h : 1;
}
st_hnode *st_htab_find(const st_htab *t, const st_hkey *k, uint64_t h);
/* Insert never fails: growth is tried, and when it fails and the slots
 * are full the node goes to the overflow list.  h = st_htab_hash(k). */
void st_htab_insert(st_htab *t, st_hnode *n, const st_hkey *k, uint64_t h);
/* The same for an object from st_htab_obj_alloc: st_htab_clear then
 * knows it without reading it. */
void st_htab_insert_obj(st_htab *t, st_hnode *n, const st_hkey *k, uint64_t h);
void st_htab_remove(st_htab *t, st_hnode *n);
/* Start fetching the home line of hash h (for a find or insert soon). */
static inline void st_htab_prefetch(const st_htab *t, uint64_t h)
{
	__builtin_prefetch(&t->s[(size_t)(h & (t->nlines - 1)) * 4], 1);
}
/* Every node, in no useful order: *cursor starts at 0; NULL at the end.
 * The table must not change during the walk. */
st_hnode *st_htab_next(const st_htab *t, size_t *cursor);
/* Empty the table, calling fn on every node that is not a pool object
 * (fn may free it); pool objects go with the pool (st_htab_destroy). */
void st_htab_clear(st_htab *t, void (*fn)(st_hnode *n, void *ctx), void *ctx);
/* A zeroed ST_HOBJ_SIZE-byte object, 64-byte aligned, from the table's
 * pool, or NULL.  Each call is one allocation for failure injection
 * (alloc.h), served from a chunk or not. */
void *st_htab_obj_alloc(st_htab *t);
void st_htab_obj_free(st_htab *t, void *o);

/* Counters of an aggregate (ports.c explains them). */
typedef struct st_counts {
	uint32_t total;
	uint32_t notraok;        /* not (RA and not listening)          */
	uint32_t rp_tw;          /* RP and TIME_WAIT                    */
	uint32_t notraok_rp_tw;
} st_counts;

/* Per-uid counters of an aggregate. */
typedef struct st_uidc {
	uint32_t refs;           /* sockets of this uid counted here   */
	uint32_t rp_live;        /* RP, not TIME_WAIT, this uid        */
	uint32_t notraok_rp_live;
} st_uidc;

/* The counters of a second, third... uid of one aggregate. */
struct st_uidcnt {
	st_hnode h;
	st_uidc c;
};

struct st_agg {
	st_hnode h;
	st_counts c;
	uint32_t refs;           /* sockets counted here */
	uint32_t uid0;           /* whose counters u0 are, when u0.refs > 0 */
	st_uidc u0;              /* one uid inline: most aggregates see one */
	uint32_t nextra;         /* st_uidcnt objects of other uids     */
};

struct st_portbkt {
	st_hnode h;
	st_sock *owners;         /* newest first (own_next/own_prev)    */
	uint32_t nowners;
	uint32_t nexplicit;      /* owners without ST_F_CONNECT_BIND    */
	uint32_t nshadow;        /* owners that are IPv4 shadows
				  * (sk_v4_shadow): a wildcard IPv4 bind
				  * walks the owners only when some are */
	int8_t fastreuse;        /* -1 connect-only, 0, 1               */
	int8_t fastreuseport;    /* -1 connect-only, 0, FRP_ANY, FRP_STRICT */
	uint8_t fast_family;
	bool fast_v6only;
	uint32_t fastuid;
	st_addr fast_addr;
	/* UDP primary chain (pr_next/pr_prev), kept by bind.c: head-inserted
	 * owners newest first, then AF_INET6 SO_REUSEPORT owners oldest
	 * first (sk_add_node_rcu).  Both NULL for TCP. */
	st_sock *pr_head, *pr_tail;
};
enum { FRP_ANY = 1, FRP_STRICT = 2 };

/* One class of a chain: sockets that every lookup scores alike.  The
 * class lives while it has listed or parked members. */
struct st_class {
	int32_t dev;
	uint8_t kind;
	uint8_t family;
	st_sock *head, *tail;    /* unparked members, ascending chain_pos */
	int64_t head_pos;        /* head->x->chain_pos: a scan orders the
				  * classes without touching their heads */
	struct st_rpgroup *head_rpg; /* the head's group if the head has
				  * SO_REUSEPORT set, else NULL: what a
				  * lookup consults at this class (D-T5) */
	uint32_t n;              /* members in the list                   */
	uint32_t nparked;        /* connected UDP members, not listed      */
};

struct st_chain {
	st_hnode h;
	struct st_class *cls;
	uint32_t ncls, capcls;
	uint32_t n;
};

/* The linkage of a socket that sits in a lookup chain (listeners, bound
 * UDP sockets), allocated by the core beside the caller's record (see
 * st_sock in sock.h for when it exists). */
struct st_sockx {
	struct st_chain *chain;
	st_sock *ch_next, *ch_prev;   /* its class list                  */
	int64_t chain_pos;            /* order in the chain (ascending)  */
	struct st_rpgroup *rp_group;
	st_sock *pr_next, *pr_prev;   /* UDP: the port's primary chain,
				       * in the kernel's order (bind.c)  */
	uint64_t conn_seq;            /* UDP: order of the last connect()
				       * from the unconnected state (newest
				       * = max)                          */
	uint32_t rp_index;
};

/* Readers for sockets that may have no linkage (NULL / 0 then). */
static inline struct st_chain *sk_chain(const st_sock *sk)
{
	return sk->x ? sk->x->chain : NULL;
}
static inline struct st_rpgroup *sk_rpg(const st_sock *sk)
{
	return sk->x ? sk->x->rp_group : NULL;
}
static inline uint32_t sk_rpi(const st_sock *sk)
{
	return sk->x ? sk->x->rp_index : 0;
}
/* Does sk use its linkage: in a chain, a UDP owner (primary chain), or a
 * group member?  (The invariant of st_sock.x: x != NULL exactly then.) */
static inline bool sk_needs_linkage(const st_sock *sk)
{
	return (sk->flags & ST_F_LHASHED) || sk_rpg(sk) ||
	       (sk->proto == ST_UDP && (sk->flags & ST_F_HASHED));
}
/* The group a lookup consults when sk heads its chain class: its group,
 * if it has SO_REUSEPORT set (st_class.head_rpg). */
static inline struct st_rpgroup *sk_lookup_group(const st_sock *sk)
{
	return (sk->flags & ST_F_REUSEPORT) ? sk_rpg(sk) : NULL;
}

/* sockx.c: the linkage's life.  sockx_prepare reserves one for sk if it
 * has none (*out NULL if it has; 0 or -ENOMEM); sockx_abort returns what
 * prepare reserved; sockx_attach installs it (never fails; before
 * chain_link, udp_primary_insert or rp_join); sockx_put returns sk's
 * linkage once it is in no chain, group or primary chain;
 * sockx_free_all releases every object (st_net_free). */
int sockx_prepare(st_net *net, const st_sock *sk, struct st_sockx **out);
void sockx_abort(st_net *net, struct st_sockx *x);
void sockx_attach(st_sock *sk, struct st_sockx *x);
void sockx_put(st_net *net, st_sock *sk);
void sockx_free_all(st_net *net);

/* Invariant: m[i]->x->rp_group == this and m[i]->x->rp_index == i for i < n;
 * n >= 1 while the group exists; n <= RP_MAX_MEMBERS. */
struct st_rpgroup {
	st_hnode h;              /* key: HT_RPG + its own address */
	st_sock **m;
	uint32_t n, cap;
	bool has_conns;          /* a member ever connected (D-U5) */
};
/* reuseport_grow() doubles from 128 and stops below U16_MAX: 32,768. */
enum { RP_MAX_MEMBERS = 32768 };

/* Per-destination record of connect()-chosen ports (connect.c). */
struct st_dest {
	st_hnode h;
	uint32_t n;
	uint64_t *used;          /* bitmap of local ports, once n is large */
};

/* Established table: 8 one-word slots per 64-byte line, linear probing.
 * A slot is 0 (empty) or the socket pointer (low 48 bits) with the top
 * 16 bits of its keyed 4-tuple hash (ehash.c). */
typedef uint64_t st_eslot;

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
/* Make room for one more entry, sk (may allocate); 0, -ENOMEM, or
 * -EFAULT when sk's address does not fit the slot's 48 bits. */
int st_ehash_reserve(st_ehash *e, const st_sock *sk);
void st_ehash_insert(st_ehash *e, st_sock *sk);
void st_ehash_remove(st_ehash *e, st_sock *sk);
/* Stage one of the demux for a packet (daddr:dport local): the first
 * socket with its 4-tuple and a compatible device (none or the arrival
 * device), alone or for n packets at once (pipelined, ehash.c). */
st_sock *st_ehash_lookup_pkt(const st_ehash *e, const st_pkt *p);
void st_ehash_lookup_batch(const st_ehash *e, const st_pkt *const *p, size_t n, st_sock **out);
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
	uint64_t seq;            /* conn_seq source */
	int64_t head_pos, tail_pos; /* chain_pos sources */
	uint32_t *perturb;       /* 65536 counters, RFC 6056 alg. 4 */
	uint64_t rng;
	/* TIME_WAIT records in entry order: ring[i & (tw_cap - 1)] for
	 * tw_head <= i < tw_tail, NULL where one left early (a record's
	 * tw_slot is the low 32 bits of its i).  Expiry pops from the head;
	 * the ring doubles when full. */
	struct st_sockx *x_free;       /* sockx.c: free linkage objects */
	struct st_sockx_chunk *x_chunks;
	st_sock **tw_ring;
	uint64_t tw_head, tw_tail;
	uint32_t tw_cap;
	size_t nhashed;
	/* port bitmaps per protocol (index 0 TCP, 1 UDP): a port is "taken"
	 * when a bucket exists and "conly" when that bucket is connect-only. */
	uint64_t taken[2][1024];
	uint64_t conly[2][1024];
	uint32_t npsets;         /* port sets alive (ports.c) */
	uint32_t pset_slots[64]; /* port sets per top-6-bit hash slot: a
				  * zero skips the lookup of a key (ports.c) */
	/* Port steering (net.c): the port Linux chose for the same call,
	 * tried instead of this net's own random choice when it is one Linux
	 * could have made.  hint_port 0: none. */
	uint16_t hint_port;
	uint8_t hint_state;      /* st_hint_state */
	const char *hint_why;    /* why a hint was refused (static text) */
};

/* Port steering, for `socktab diff` (src/scenario/diff.h): Linux picks an
 * automatic port with secret randomness, so the model cannot be expected
 * to pick the same number; instead it is told Linux's choice before the
 * call and must either agree that the port was one Linux's algorithm
 * could have chosen (in the range, not reserved, free under the rules of
 * the search pass that would have found it, and no port free in an
 * earlier pass: the parity order, the lower half with SO_REUSEADDR, the
 * ip_autobind_reuse pass) and take it, or refuse it, which the diff then
 * reports as a divergence.  The hint is consumed by the next automatic
 * choice (bind(0), listen, connect, UDP autobind) and cleared by
 * st_port_hint_done. */
enum st_hint_state { ST_HINT_NONE, ST_HINT_PENDING, ST_HINT_TAKEN, ST_HINT_REFUSED };
void st_port_hint(st_net *net, uint16_t port);
/* The fate of the last hint (st_hint_state; *why the reason of a
 * refusal), and no hint from now on. */
int st_port_hint_done(st_net *net, const char **why);
/* For the port searches: is a hint pending?  If so the search calls
 * hint_take or hint_refuse exactly once. */
static inline bool hint_pending(const st_net *net)
{
	return net->hint_state == ST_HINT_PENDING;
}
void hint_take(st_net *net);
void hint_refuse(st_net *net, const char *why);

static inline int pidx(int proto)
{
	return proto == ST_UDP ? 1 : 0;
}

static inline bool sk_has(const st_sock *sk, uint32_t f)
{
	return (sk->flags & f) != 0;
}

/* An AF_INET6 socket on a native address that is not IPV6_V6ONLY (its
 * address came from connect()): Linux gives it the IPv4 address
 * 127.0.0.6, which IPv4 binds can conflict with (bind.c). */
static inline bool sk_v4_shadow(const st_sock *e)
{
	return e->family == ST_AF_INET6 && e->kind == K_V6SPEC && !sk_has(e, ST_F_V6ONLY);
}

/* Was this record ever given to st_sock_init()?  A zeroed or garbage
 * record has neither a known protocol nor a known family; the public
 * calls refuse it with -EINVAL rather than guess what it was meant to be. */
static inline bool sk_valid(const st_sock *sk)
{
	return sk != NULL && (sk->proto == ST_TCP || sk->proto == ST_UDP) &&
	       (sk->family == ST_AF_INET || sk->family == ST_AF_INET6);
}

/* The address an unbound (or disconnected) socket shows: 0.0.0.0 for
 * AF_INET, :: for AF_INET6. */
static inline st_addr sock_unbound_addr(const st_sock *sk)
{
	return sk->family == ST_AF_INET ? st_addr_v4(0) : st_addr_any6();
}

/* connect.c, for the stack: when a connection whose socket a process
 * still holds enters TIME_WAIT, a separate record takes the 4-tuple and
 * the port (tcp_time_wait); the process's socket `sk` (a fresh, unhashed
 * record carrying laddr, lport, dev and flags) keeps holding the port
 * beside it if bind() had locked the port (tcp_set_state(TCP_CLOSE) puts
 * the port only without SOCK_BINDPORT_LOCK).  No conflict check: Linux
 * makes none.  -EINVAL if sk does not qualify, -ENOMEM. */
int st_timewait_keep_port(st_net *net, st_sock *sk);

/* bind.c: bind the socket to device `dev` (0: none), re-linking it in the
 * tables where it is hashed: SO_BINDTODEVICE without the permission
 * check.  The stack also uses it for the scope id of a failed bind() or
 * connect(), which Linux applies before it fails (the core's calls change
 * nothing when they fail; that side effect is the stack's, socket.c).
 * -ENOMEM. */
int sock_set_dev(st_net *net, st_sock *sk, int32_t dev);

uint32_t st_rand32(st_net *net);
uint32_t st_rand_below(st_net *net, uint32_t n);

/* ports.c */
/* Test hook: while nonzero, every port decision takes its reference path
 * (walks over owners, one port at a time, no summaries) instead of the
 * counters, port sets and bitmaps, so that tests/unit/test_fastpaths.c
 * can run the same operations both ways and compare. */
extern int st_ports_reference;
int kind_of(int family, const st_addr *a, bool v6only);
struct st_portbkt *bkt_find(st_net *net, int proto, uint16_t port);
/* The set of objects a socket would be counted in, allocated up front so
 * that linking it can no longer fail. */
enum { OWNER_AGGS = 6 };
typedef struct st_owner_prep {
	struct st_portbkt *bkt;
	struct st_agg *agg[OWNER_AGGS];
	struct st_uidcnt *uid[OWNER_AGGS]; /* NULL: the aggregate's inline u0 */
	bool new_bkt;
	bool new_agg[OWNER_AGGS];
	bool new_uid[OWNER_AGGS];
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
/* The port sets one bind(0) search consults (ports.c), found once per
 * (socket, relax) and shared by the search's rounds: near exhaustion a
 * socket with SO_REUSEADDR runs four rounds (two halves, two parities),
 * three of them over ports that are all held. */
struct st_pset;
typedef struct st_pscan {
	st_net *net;
	int nkeys;
	st_hkey keys[5];
	struct st_pset *set[5];
	bool usable;             /* sets describe S's conflicts exactly */
	unsigned looked;         /* bit j: set[j] has been looked up     */
	bool built;
	uint32_t held;           /* held ports met so far                */
	unsigned holders;        /* keys that held them                  */
	const uint8_t *reserved;
} st_pscan;
void tcp_port_scan_init(st_net *net, st_pscan *sc, const st_sock *s, int kind, const st_addr *a,
			bool relax);
/* One parity round of inet_csk_find_open_port: the ports low + offset,
 * +2, ... (wrapping by `remaining` at `high`) in the kernel's order; the
 * first that is not reserved and free for S in search mode.  Whole words
 * of ports held at S's address are skipped (port sets, ports.c).  sc was
 * set up by tcp_port_scan_init for the same s, kind, a and relax. */
int tcp_port_round(st_pscan *sc, const st_sock *s, int kind, const st_addr *a, bool relax,
		   int low, int high, uint32_t remaining, uint32_t offset, uint16_t *port_out);
/* bind(0)'s search-mode test (RA/RP ignored unless relax), in O(1). */
bool tcp_search_conflict(st_net *net, const st_sock *s, uint16_t port, int kind,
			 const st_addr *a, bool relax);
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
bool udp_rp_compatible(const st_sock *s, const st_sock *e);
/* The UDP rule from the counters: 1 admitted, 0 refused, -1 when only
 * the primary-chain walk (bind.c) can tell. */
int udp_bind_decide(st_net *net, const st_sock *s, uint16_t port, int kind, const st_addr *a);
void bkt_mark(st_net *net, int proto, uint16_t port, const struct st_portbkt *b);

/* chain.c */
void chain_key(int kind, const st_addr *a, st_addr *out);
/* Make sure the chain of sk (sk->proto, lport, kind, laddr) exists and has
 * room for sk's class, so that chain_link / chain_set_dev cannot fail. */
int chain_prepare(st_net *net, const st_sock *sk, struct st_chain **out, bool *created);
void chain_abort(st_net *net, struct st_chain *c, bool created);
/* Link at the head or tail of the chain order; a connected UDP socket
 * (state ESTABLISHED) is linked parked. */
void chain_link(st_net *net, st_sock *sk, struct st_chain *c, bool at_tail);
void chain_unlink(st_net *net, st_sock *sk);
/* Connected UDP: take out of / put back into its class list, keeping
 * the chain position (chain_pos) it has. */
void chain_park(st_net *net, st_sock *sk);
void chain_unpark(st_net *net, st_sock *sk);
/* Give a linked socket a new head position (a rehash to the same slot). */
void chain_move_head(st_net *net, st_sock *sk);
/* sk's group or SO_REUSEPORT flag changed: refresh its class's head_rpg
 * if sk heads its class. */
void chain_note_head(st_net *net, st_sock *sk);
/* The socket's device changes from old_dev to dev (sk->dev is set to dev;
 * it may already be); its chain and position stay.  Room for the new
 * class must have been made with chain_prepare (on a copy of sk with the
 * new device). */
void chain_set_dev(st_net *net, st_sock *sk, int32_t old_dev, int32_t dev);
struct st_chain *chain_find(st_net *net, int proto, uint16_t port, const st_addr *key);
/* The class of (dev, kind, family) in c, or NULL. */
struct st_class *chain_class(struct st_chain *c, int32_t dev, int kind, int family);

/* reuseport.c */
/* Find the group sk would join (D-RP1: the first matching socket in the
 * kernel's scan order, whose group may have to be created) and reserve
 * room.  Returns 0, -ENOMEM, or -ENOSPC when the group is full
 * (RP_MAX_MEMBERS; the caller maps it to Linux's errno). */
typedef struct st_rp_prep {
	struct st_rpgroup *g;    /* group to join                        */
	st_sock *adopt;          /* group-less socket that founds g too  */
	bool created;
} st_rp_prep;
int rp_prepare(st_net *net, const st_sock *sk, st_rp_prep *p);
void rp_abort(st_net *net, st_rp_prep *p);
void rp_join(st_net *net, st_sock *sk, st_rp_prep *p);
void rp_leave(st_net *net, st_sock *sk);
/* A member of g (first's group) for packet p, or NULL. */
st_sock *rp_select(st_net *net, struct st_rpgroup *g, st_sock *first, const st_pkt *p,
		   st_lookup_explain *ex);

/* bind.c: the UDP primary chain. */
void udp_primary_insert(struct st_portbkt *b, st_sock *sk);
void udp_primary_remove(struct st_portbkt *b, st_sock *sk);

/* connect.c / bind.c shared */
int tcp_find_open_port(st_net *net, st_sock *sk, int kind, const st_addr *a, uint16_t *port);
int udp_find_port(st_net *net, st_sock *sk, int kind, const st_addr *a, uint16_t *port);
int port_take(st_net *net, st_sock *sk, uint16_t port, int kind, const st_addr *a,
	      bool connect_bind);
typedef struct st_take_prep {
	st_owner_prep own;
	struct st_chain *c;
	struct st_sockx *x;      /* new linkage for the chain, or NULL */
	bool cc;
	bool has_rp;
	st_rp_prep rp;
	uint16_t port;
	int kind;
	st_addr a;
} st_take_prep;
int port_take_prepare(st_net *net, const st_sock *sk, uint16_t port, int kind, const st_addr *a,
		      st_take_prep *tp);
void port_take_abort(st_net *net, st_take_prep *tp);
void port_take_commit(st_net *net, st_sock *sk, st_take_prep *tp, bool connect_bind);
void port_release(st_net *net, st_sock *sk);
int udp_hash_chain(st_net *net, st_sock *sk);
void sock_rehash_addr(st_net *net, st_sock *sk, const st_addr *newaddr, int newkind,
		      int32_t dev, st_owner_prep *p, struct st_chain *nc);
/* tw_ring.c: the TIME_WAIT ring (st_net.tw_ring).  Reserve room for one
 * more record first (0 or -ENOMEM), then push cannot fail. */
int tw_ring_reserve(st_net *net);
void tw_ring_push(st_net *net, st_sock *sk);
void tw_ring_remove(st_net *net, st_sock *sk);
/* The oldest record still in TIME_WAIT, or NULL. */
st_sock *tw_ring_oldest(st_net *net);
void tw_ring_free(st_net *net);
void conn_dest_del(st_net *net, st_sock *sk);
void explain_set(st_explain *ex, int err, st_rule rule, const st_sock *conflict,
		 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void sock_describe(const st_sock *sk, char *buf, size_t len);

#endif
