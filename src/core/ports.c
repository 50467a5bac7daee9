/*
 * ports.c - who holds a port, and does a new socket conflict with them.
 *
 * The kernel answers "may S bind port P?" by walking the owners of P
 * (bhash2 buckets) and testing each against S.  That walk is what makes
 * Linux slow with many owners on one port, so socktab keeps, beside the
 * owners, *aggregates*: for every set of owners that a rule may need to
 * test as a whole, a few counters from which "is there an owner in this
 * set that S conflicts with?" follows in O(1).
 *
 * Which sets?  Overlap (section 2) only depends on each socket's coverage
 * kind (st_kind) and, for specific addresses, the address; the device gate
 * only on the device.  So a socket is counted in the aggregates
 *   (kind, ALL devices), and for specific addresses (address, ALL);
 * and, only when it is bound to device d, also in (kind, ANY device),
 * (kind, d) and their address twins.  A check for S sums the aggregates
 * of the kinds S overlaps over slot ALL when S has no device, else over
 * "no device" (ALL minus ANY, every counter being a plain sum) plus S.dev.
 * A device-less socket -- nearly every socket -- thus costs two objects
 * (one for a wildcard), not four.  Per-uid counters live inline in the
 * aggregate for its first uid and in extra objects only for more uids.
 *
 * Which counters?  S conflicts with owner E (B-T2) unless
 *     (S.RA and E.RA and E not listening)                 "raok(E)"
 *  or (S.RP and E.RP and (E in TIME_WAIT or same uid)).
 * Per aggregate we count total, notraok (owners without raok), rp_tw and
 * notraok_rp_tw (RP owners in TIME_WAIT) and, per uid, rp_live and
 * notraok_rp_live (RP owners not in TIME_WAIT).  Then, for S's flags:
 *     none    -> total
 *     RA      -> notraok
 *     RP      -> total   - rp_tw         - rp_live[S.uid]
 *     RA+RP   -> notraok - notraok_rp_tw - notraok_rp_live[S.uid]
 * is the number of owners S conflicts with.  Flags are read live (1.4), so
 * every change of RA, RP or of LISTEN/TIME_WAIT state re-counts the owner.
 *
 * The UDP rule is not a pure "exists" (B-U4: the first relevant owner in
 * the port's primary chain decides), but the same counters decide it
 * whenever every relevant owner, or none, is SO_REUSEPORT-compatible with
 * S (udp_bind_decide); bind.c walks the chain only when both kinds are
 * there, or to name the owner in an explanation.
 *
 * bind(0) and listen()'s autobind search the range in the kernel's order;
 * port sets (below) let the search step over words of held ports.  And
 * every fast path has a reference twin that walks (st_ports_reference),
 * which tests/unit/test_fastpaths.c compares with it.
 *
 * The fastreuse / fastreuseport caches of the bind bucket (B-T9) live
 * here too; they admit some binds without any check, exactly as Linux's
 * do, including the order-dependent results that follow.
 */
#include "net_internal.h"

/* Test hook (net_internal.h): take the reference paths. */
int st_ports_reference;

/* Buckets, aggregates and per-uid counters come from the htab's pool
 * (htab.c), one ST_HOBJ_SIZE slot each; port sets are too big for it. */
_Static_assert(sizeof(struct st_portbkt) <= ST_HOBJ_SIZE, "bucket fits a pool object");
_Static_assert(sizeof(struct st_agg) <= ST_HOBJ_SIZE, "aggregate fits a pool object");
_Static_assert(sizeof(struct st_uidcnt) <= ST_HOBJ_SIZE, "uid counters fit a pool object");

int kind_of(int family, const st_addr *a, bool v6only)
{
	if (family == ST_AF_INET)
		return st_addr_is_any4(a) ? K_V4ANY : K_V4SPEC;
	if (st_addr_is_any6(a))
		return v6only ? K_V6ANYONLY : K_DUALANY;
	if (st_addr_is_v4mapped(a))
		return st_addr_is_any4(a) ? K_V4ANY : K_V4SPEC;
	return K_V6SPEC;
}

static bool kind_specific(int k)
{
	return k == K_V4SPEC || k == K_V6SPEC;
}

bool kinds_overlap(int ka, const st_addr *a, int kb, const st_addr *b)
{
	if (ka == K_DUALANY || kb == K_DUALANY)
		return true;
	bool a4 = ka == K_V4SPEC || ka == K_V4ANY;
	bool b4 = kb == K_V4SPEC || kb == K_V4ANY;
	if (a4 != b4)
		return false;
	if (kind_specific(ka) && kind_specific(kb))
		return st_addr_equal(a, b);
	return true;
}

bool dev_compatible(int32_t a, int32_t b)
{
	return !a || !b || a == b;
}

static st_hkey port_key(int proto, uint16_t port)
{
	st_hkey k;
	memset(&k, 0, sizeof(k));
	k.type = HT_PORT;
	k.proto = (uint8_t)proto;
	k.port = port;
	return k;
}

/* Does (proto, port) have a bucket?  The port bitmaps say so without a
 * hash lookup (bkt_mark keeps them in step with the buckets). */
static bool port_has_bkt(const st_net *net, int proto, uint16_t port)
{
	int pi = pidx(proto), w = port >> 6;
	return ((net->taken[pi][w] | net->conly[pi][w]) >> (port & 63)) & 1;
}

struct st_portbkt *bkt_find(st_net *net, int proto, uint16_t port)
{
	if (!port_has_bkt(net, proto, port))
		return NULL;
	st_hkey k = port_key(proto, port);
	return (struct st_portbkt *)st_htab_find(&net->h, &k, st_htab_hash(&net->h, &k));
}

static st_hkey agg_key(int proto, uint16_t port, int kind, bool exact, const st_addr *a,
		       int32_t dev)
{
	st_hkey k;
	memset(&k, 0, sizeof(k));
	k.type = HT_AGG;
	k.proto = (uint8_t)proto;
	k.port = port;
	k.kind = (uint8_t)kind;
	k.exact = exact;
	if (exact)
		k.addr = *a;
	k.dev = dev;
	return k;
}

static struct st_agg *agg_find(st_net *net, int proto, uint16_t port, int kind, bool exact,
			       const st_addr *a, int32_t dev)
{
	st_hkey k = agg_key(proto, port, kind, exact, a, dev);
	return (struct st_agg *)st_htab_find(&net->h, &k, st_htab_hash(&net->h, &k));
}

static st_hkey uid_key(const struct st_agg *g, uint32_t uid)
{
	st_hkey k;
	memset(&k, 0, sizeof(k));
	k.type = HT_UID;
	k.ptr = (uintptr_t)g;
	k.uid = uid;
	return k;
}

static struct st_uidcnt *uid_extra_find(st_net *net, const struct st_agg *g, uint32_t uid)
{
	if (!g->nextra)
		return NULL;
	st_hkey k = uid_key(g, uid);
	return (struct st_uidcnt *)st_htab_find(&net->h, &k, st_htab_hash(&net->h, &k));
}

/* The per-uid counters of `uid` in g, or NULL when it has none.  Each uid
 * has exactly one place: u0 when it owns it, else an extra object. */
static st_uidc *uidc_find(st_net *net, struct st_agg *g, uint32_t uid)
{
	if (g->u0.refs && g->uid0 == uid)
		return &g->u0;
	struct st_uidcnt *x = uid_extra_find(net, g, uid);
	return x ? &x->c : NULL;
}

/* The aggregates of an owner (at most OWNER_AGGS), by slot:
 *   (kind, ALL) and, for a socket bound to device d, (kind, ANY) and
 *   (kind, d); then the same three for the exact address when the kind
 *   is specific.
 * An owner without a device is counted in ALL slots only: that is the
 * common case, and two objects per socket instead of four. */
static int agg_slots(int proto, uint16_t port, int kind, const st_addr *a, int32_t dev,
		     st_hkey keys[OWNER_AGGS])
{
	int n = 0;
	for (int exact = 0; exact < 2; exact++) {
		if (exact && !kind_specific(kind))
			break;
		keys[n++] = agg_key(proto, port, kind, exact, a, DEV_ALL);
		if (dev) {
			keys[n++] = agg_key(proto, port, kind, exact, a, DEV_ANY);
			keys[n++] = agg_key(proto, port, kind, exact, a, dev);
		}
	}
	return n;
}

void owner_abort(st_net *net, st_owner_prep *p)
{
	(void)net;
	for (int i = 0; i < OWNER_AGGS; i++) {
		if (p->new_uid[i])
			st_htab_obj_free(&net->h, p->uid[i]);
		if (p->new_agg[i])
			st_htab_obj_free(&net->h, p->agg[i]);
	}
	if (p->new_bkt)
		st_htab_obj_free(&net->h, p->bkt);
	memset(p, 0, sizeof(*p));
}

int owner_prepare(st_net *net, const st_sock *sk, int proto, uint16_t port, int kind,
		  const st_addr *a, int32_t dev, st_owner_prep *p)
{
	memset(p, 0, sizeof(*p));
	/* Every home line this call and owner_link will read or write is
	 * requested first, so that their cache misses overlap instead of
	 * queueing one behind the other (at a million objects each is one). */
	st_hkey keys[OWNER_AGGS];
	uint64_t hs[OWNER_AGGS];
	int n = agg_slots(proto, port, kind, a, dev, keys);
	for (int i = 0; i < n; i++) {
		hs[i] = st_htab_hash(&net->h, &keys[i]);
		st_htab_prefetch(&net->h, hs[i]);
	}
	st_hkey bk = port_key(proto, port);
	uint64_t bh = st_htab_hash(&net->h, &bk);
	st_htab_prefetch(&net->h, bh);
	if (port_has_bkt(net, proto, port))
		p->bkt = (struct st_portbkt *)st_htab_find(&net->h, &bk, bh);
	if (!p->bkt) {
		p->bkt = st_htab_obj_alloc(&net->h);
		if (!p->bkt)
			return -ENOMEM;
		p->new_bkt = true;
	}
	for (int i = 0; i < n; i++) {
		uint64_t h = hs[i];
		/* A port without a bucket has no owners, so no aggregates. */
		struct st_agg *g = p->new_bkt ? NULL
					      : (struct st_agg *)st_htab_find(&net->h, &keys[i], h);
		if (!g) {
			g = st_htab_obj_alloc(&net->h);
			if (!g)
				goto nomem;
			p->new_agg[i] = true;
			/* Remembered for aggs_attach, which inserts it. */
			g->h.key = keys[i];
		}
		p->agg[i] = g;
		/* The uid's counters: u0 if it owns it or if it is free and
		 * the uid has no extra object; else its extra object, made
		 * here if it has none. */
		if (p->new_agg[i] || (g->u0.refs && g->uid0 == sk->uid))
			continue;
		struct st_uidcnt *x = uid_extra_find(net, g, sk->uid);
		if (!x && !g->u0.refs)
			continue;
		if (!x) {
			x = st_htab_obj_alloc(&net->h);
			if (!x)
				goto nomem;
			p->new_uid[i] = true;
			x->h.key = uid_key(g, sk->uid);
		}
		p->uid[i] = x;
	}
	return 0;
nomem:
	owner_abort(net, p);
	return -ENOMEM;
}

static bool raok(const st_sock *e)
{
	return sk_has(e, ST_F_REUSEADDR) && e->state != ST_LISTEN;
}

static void count_into(struct st_agg *g, st_uidc *u, const st_sock *e, int d)
{
	bool nr = !raok(e);
	bool rp = sk_has(e, ST_F_REUSEPORT);
	bool tw = e->state == ST_TIME_WAIT;
	g->c.total += (uint32_t)d;
	if (nr)
		g->c.notraok += (uint32_t)d;
	if (rp && tw) {
		g->c.rp_tw += (uint32_t)d;
		if (nr)
			g->c.notraok_rp_tw += (uint32_t)d;
	}
	if (rp && !tw) {
		u->rp_live += (uint32_t)d;
		if (nr)
			u->notraok_rp_live += (uint32_t)d;
	}
}

/* Walk the aggregates (and uid counters) an owner is counted in. */
static int owner_aggs(st_net *net, const st_sock *sk, struct st_agg *g[OWNER_AGGS],
		      st_uidc *u[OWNER_AGGS])
{
	st_hkey keys[OWNER_AGGS];
	int n = agg_slots(sk->proto, sk->lport, sk->kind, &sk->laddr, sk->dev, keys);
	for (int i = 0; i < n; i++) {
		g[i] = (struct st_agg *)st_htab_find(&net->h, &keys[i], st_htab_hash(&net->h, &keys[i]));
		u[i] = g[i] ? uidc_find(net, g[i], sk->uid) : NULL;
	}
	return n;
}

void owner_uncount(st_net *net, st_sock *sk)
{
	struct st_agg *g[OWNER_AGGS];
	st_uidc *u[OWNER_AGGS];
	int n = owner_aggs(net, sk, g, u);
	for (int i = 0; i < n; i++)
		if (g[i] && u[i])
			count_into(g[i], u[i], sk, -1);
}

void owner_count(st_net *net, st_sock *sk)
{
	struct st_agg *g[OWNER_AGGS];
	st_uidc *u[OWNER_AGGS];
	int n = owner_aggs(net, sk, g, u);
	for (int i = 0; i < n; i++)
		if (g[i] && u[i])
			count_into(g[i], u[i], sk, +1);
}

static bool bkt_connect_only(const struct st_portbkt *b)
{
	return b->fastreuse == -1 && b->fastreuseport == -1;
}

void bkt_mark(st_net *net, int proto, uint16_t port, const struct st_portbkt *b)
{
	uint64_t bit = 1ULL << (port & 63);
	int w = port >> 6, pi = pidx(proto);
	net->taken[pi][w] &= ~bit;
	net->conly[pi][w] &= ~bit;
	if (b) {
		if (bkt_connect_only(b))
			net->conly[pi][w] |= bit;
		else
			net->taken[pi][w] |= bit;
	}
}

static void pset_note(st_net *net, const st_hkey *aggkey, bool held);

static void aggs_attach(st_net *net, st_sock *sk, st_owner_prep *p)
{
	for (int i = 0; i < OWNER_AGGS && p->agg[i]; i++) {
		struct st_agg *g = p->agg[i];
		if (p->new_agg[i]) {
			st_hkey k = g->h.key;
			st_htab_insert_obj(&net->h, &g->h, &k, st_htab_hash(&net->h, &k));
			if (net->npsets && k.dev == DEV_ALL)
				pset_note(net, &k, true);
		}
		g->refs++;
		st_uidc *u;
		if (p->uid[i]) {
			if (p->new_uid[i]) {
				st_hkey k = p->uid[i]->h.key;
				st_htab_insert_obj(&net->h, &p->uid[i]->h, &k,
						   st_htab_hash(&net->h, &k));
				g->nextra++;
			}
			u = &p->uid[i]->c;
		} else {
			g->uid0 = sk->uid; /* owned already, or free and claimed */
			u = &g->u0;
		}
		u->refs++;
		count_into(g, u, sk, +1);
	}
	sk->agg = p->agg[0];
}

static bool prep_holds(const st_owner_prep *keep, const void *obj)
{
	for (int i = 0; keep && i < OWNER_AGGS; i++)
		if ((const void *)keep->agg[i] == obj || (const void *)keep->uid[i] == obj)
			return true;
	return false;
}

/* Uncount sk everywhere; free what it leaves empty, except what `keep`
 * (the aggregates it is about to join, owner_move) still needs. */
static void aggs_detach(st_net *net, st_sock *sk, const st_owner_prep *keep)
{
	st_hkey keys[OWNER_AGGS];
	int n = agg_slots(sk->proto, sk->lport, sk->kind, &sk->laddr, sk->dev, keys);
	for (int i = 0; i < n; i++) {
		struct st_agg *g =
			(struct st_agg *)st_htab_find(&net->h, &keys[i], st_htab_hash(&net->h, &keys[i]));
		if (!g)
			continue;
		struct st_uidcnt *x = NULL;
		st_uidc *u = NULL;
		if (g->u0.refs && g->uid0 == sk->uid) {
			u = &g->u0;
		} else if ((x = uid_extra_find(net, g, sk->uid)) != NULL) {
			u = &x->c;
		}
		if (u) {
			count_into(g, u, sk, -1);
			u->refs--;
		}
		g->refs--;
		if (x && x->c.refs == 0 && !prep_holds(keep, x)) {
			st_htab_remove(&net->h, &x->h);
			st_htab_obj_free(&net->h, x);
			g->nextra--;
		}
		if (g->refs == 0 && !prep_holds(keep, g)) {
			if (net->npsets && g->h.key.dev == DEV_ALL)
				pset_note(net, &g->h.key, false);
			st_htab_remove(&net->h, &g->h);
			st_htab_obj_free(&net->h, g);
		}
	}
	sk->agg = NULL;
}

/* Same port, new address and/or device: only the aggregates change; the
 * socket keeps its place among the port's owners. */
void owner_move(st_net *net, st_sock *sk, const st_addr *a, int kind, int32_t dev, st_owner_prep *p)
{
	bool shadow = sk_v4_shadow(sk);
	aggs_detach(net, sk, p);
	sk->laddr = *a;
	sk->kind = (uint8_t)kind;
	sk->dev = dev;
	aggs_attach(net, sk, p);
	sk->bkt->nshadow += (uint32_t)sk_v4_shadow(sk) - (uint32_t)shadow;
	if (p->new_bkt)
		st_htab_obj_free(&net->h, p->bkt);
	memset(p, 0, sizeof(*p));
}

void owner_link(st_net *net, st_sock *sk, st_owner_prep *p)
{
	struct st_portbkt *b = p->bkt;
	if (p->new_bkt) {
		st_hkey k = port_key(sk->proto, sk->lport);
		/* A fresh bucket: the kernel's inet_bind_bucket_create. */
		b->fastreuse = 0;
		b->fastreuseport = 0;
		st_htab_insert_obj(&net->h, &b->h, &k, st_htab_hash(&net->h, &k));
	}
	aggs_attach(net, sk, p);
	sk->bkt = b;
	sk->own_prev = NULL;
	sk->own_next = b->owners;
	if (b->owners)
		b->owners->own_prev = sk;
	b->owners = sk;
	b->nowners++;
	b->nshadow += sk_v4_shadow(sk);
	if (!sk_has(sk, ST_F_CONNECT_BIND))
		b->nexplicit++;
	sk->flags |= ST_F_HASHED;
	net->nhashed++;
	bkt_mark(net, sk->proto, sk->lport, b);
	memset(p, 0, sizeof(*p));
}

void owner_unlink(st_net *net, st_sock *sk)
{
	struct st_portbkt *b = sk->bkt;
	aggs_detach(net, sk, NULL);
	if (sk->own_prev)
		sk->own_prev->own_next = sk->own_next;
	else
		b->owners = sk->own_next;
	if (sk->own_next)
		sk->own_next->own_prev = sk->own_prev;
	sk->own_next = sk->own_prev = NULL;
	b->nowners--;
	b->nshadow -= sk_v4_shadow(sk);
	if (!sk_has(sk, ST_F_CONNECT_BIND))
		b->nexplicit--;
	uint16_t port = sk->lport;
	int proto = sk->proto;
	if (b->nowners == 0) {
		st_htab_remove(&net->h, &b->h);
		st_htab_obj_free(&net->h, b);
		b = NULL;
	} else if (b->nexplicit == 0 && proto == ST_TCP) {
		/* 6.18 (d57f4b874946): once only connect()-bound owners are
		 * left, the bucket is connect-only again (P-T11). */
		b->fastreuse = -1;
		b->fastreuseport = -1;
	}
	bkt_mark(net, proto, port, b);
	sk->bkt = NULL;
	sk->agg = NULL;
	sk->flags &= ~ST_F_HASHED;
	net->nhashed--;
}

/* ---- the TCP rule ---------------------------------------------------- */

/*
 * What a check counts in one aggregate, by mode:
 *   BIND    B-T2 for S's flags (the table at the top of this file);
 *   SEARCH  bind(0)'s search, where RA/RP are ignored: every owner;
 *   RELAX   the search with ip_autobind_reuse: owners S does not share
 *           with through SO_REUSEADDR, or shares with through both flags;
 *   UDP_REL B-U4's relevant owners (not SO_REUSEADDR on both sides);
 *   UDP_RP  relevant owners that are SO_REUSEPORT-compatible with S.
 * Every mode is a sum of counters, so it can be taken over ALL minus ANY
 * (owners without a device) as easily as over one set.
 */
enum cmode { CM_BIND, CM_SEARCH, CM_RELAX, CM_UDP_REL, CM_UDP_RP };

static int64_t count_mode(st_net *net, struct st_agg *g, const st_sock *s, enum cmode m)
{
	if (!g)
		return 0;
	bool ra = sk_has(s, ST_F_REUSEADDR), rp = sk_has(s, ST_F_REUSEPORT);
	switch (m) {
	case CM_SEARCH:
		return g->c.total;
	case CM_UDP_REL:
		return ra ? g->c.notraok : g->c.total;
	case CM_UDP_RP: {
		const st_uidc *u = uidc_find(net, g, s->uid);
		return u ? (ra ? u->notraok_rp_live : u->rp_live) : 0;
	}
	case CM_RELAX: {
		if (!ra)
			return g->c.total;
		int64_t n = g->c.notraok;
		if (rp) {
			const st_uidc *u = uidc_find(net, g, s->uid);
			n += (int64_t)g->c.rp_tw - g->c.notraok_rp_tw;
			if (u)
				n += (int64_t)u->rp_live - u->notraok_rp_live;
		}
		return n;
	}
	case CM_BIND:
	default:
		break;
	}
	if (!ra && !rp)
		return g->c.total;
	if (ra && !rp)
		return g->c.notraok;
	const st_uidc *u = uidc_find(net, g, s->uid);
	uint32_t live = u ? (ra ? u->notraok_rp_live : u->rp_live) : 0;
	if (!ra)
		return (int64_t)g->c.total - g->c.rp_tw - live;
	return (int64_t)g->c.notraok - g->c.notraok_rp_tw - live;
}

/* Kinds that overlap kind k (section 2), as aggregate selectors. */
static int overlapping_kinds(int k, int out[5])
{
	switch (k) {
	case K_V4SPEC:
	case K_V4ANY:
		out[0] = K_V4SPEC, out[1] = K_V4ANY, out[2] = K_DUALANY;
		return 3;
	case K_V6SPEC:
	case K_V6ANYONLY:
		out[0] = K_V6SPEC, out[1] = K_V6ANYONLY, out[2] = K_DUALANY;
		return 3;
	default:
		for (int i = 0; i < 5; i++)
			out[i] = K_V4SPEC + i;
		return 5;
	}
}

/*
 * Sum a mode over the owners that overlap S (kind, address) and whose
 * device is compatible with S's: over ALL when S has no device, else over
 * "no device" (ALL - ANY) plus S's device.
 */
static int64_t overlap_sum(st_net *net, const st_sock *s, uint16_t port, int kind,
			   const st_addr *a, enum cmode m)
{
	if (!port_has_bkt(net, s->proto, port))
		return 0; /* no owners at all */
	int ks[5];
	int nk = overlapping_kinds(kind, ks);
	int64_t n = 0;
	for (int j = 0; j < nk; j++) {
		/* A specific S meets owners of its own specific kind only at
		 * its own address. */
		bool exact = kind_specific(kind) && ks[j] == kind;
		n += count_mode(net, agg_find(net, s->proto, port, ks[j], exact, a, DEV_ALL), s, m);
		if (s->dev) {
			n -= count_mode(net, agg_find(net, s->proto, port, ks[j], exact, a, DEV_ANY), s, m);
			n += count_mode(net, agg_find(net, s->proto, port, ks[j], exact, a, s->dev), s, m);
		}
	}
	return n;
}

uint32_t tcp_conflicts(st_net *net, const st_sock *s, uint16_t port, int kind, const st_addr *a)
{
	if (st_ports_reference)
		return tcp_conflict_witness(net, s, port, kind, a, true, true) != NULL;
	int64_t n = overlap_sum(net, s, port, kind, a, CM_BIND);
	/* During listen() S is itself an owner of the port: it never
	 * conflicts with itself (the kernel skips sk2 == sk). */
	if (sk_has(s, ST_F_HASHED) && s->lport == port) {
		bool self = !(sk_has(s, ST_F_REUSEADDR) && raok(s)) && !sk_has(s, ST_F_REUSEPORT);
		if (self)
			n--;
	}
	return n > 0 ? (uint32_t)n : 0;
}

bool tcp_search_conflict(st_net *net, const st_sock *s, uint16_t port, int kind,
			 const st_addr *a, bool relax)
{
	if (st_ports_reference || (sk_has(s, ST_F_HASHED) && s->lport == port))
		return tcp_conflict_witness(net, s, port, kind, a, relax, false) != NULL;
	return overlap_sum(net, s, port, kind, a, relax ? CM_RELAX : CM_SEARCH) > 0;
}

/* ---- port sets: bind(0)'s search over held ports ---------------------- */

/*
 * Near exhaustion, bind(0) and listen()'s autobind walk the range and
 * find almost every port held at their address: one O(1) conflict test per
 * port is still O(range) per call, ~14,000 tests for the last ports of the
 * default range.  A port set is, for one aggregate key without its port
 * (protocol, kind, [address], all devices), the bitmap of ports where that
 * aggregate exists, i.e. where some owner of that kind (and address) sits.
 * For a device-less S in search mode, "port p conflicts" is exactly "p is
 * in the set of a key S overlaps" (search mode ignores the flags), so the
 * search may skip those ports 64 at a time, and whole runs of 64 words
 * where a parity is full, and visit the rest in the kernel's order.
 *
 * Sets are built lazily, by the first search that meets more than
 * PSET_BUILD_AFTER held ports of keys without a set (one pass over the
 * ports that have buckets), then kept up to date as aggregates come and
 * go, and freed when their last port goes.  A set costs 8.4 KB and exists
 * only for a key that held PSET_BUILD_AFTER ports when a search needed it,
 * so it never costs more than ~130 bytes per socket, and nothing at all
 * for programs that never search for ports.  Sockets bound to a device,
 * and the ip_autobind_reuse second pass, whose conflicts depend on flags,
 * search port by port as before.
 */
enum { PSET_BUILD_AFTER = 64 };

#define PAR_EVEN 0x5555555555555555ULL
#define PAR_ODD 0xaaaaaaaaaaaaaaaaULL

struct st_pset {
	st_hnode h;
	uint32_t nbits;          /* ports in the set; 0 frees it      */
	uint64_t bits[1024];     /* port p <=> bit p                  */
	uint64_t full[2][16];    /* [parity] bit w: word w holds every
				  * port of that parity (even 0, odd 1) */
};

static st_hkey pset_key(const st_hkey *aggkey)
{
	st_hkey k = *aggkey;
	k.type = HT_PSET;
	k.port = 0;
	return k;
}

/* The hash slot that counts sets of this hash: the top bits (below bit
 * 63, which st_htab_hash leaves clear), which the table's home line (low
 * bits) does not use. */
static unsigned pset_slot(uint64_t h)
{
	return (unsigned)(h >> 57) & 63;
}

/* Most keys a search or an aggregate asks about have no set; the slot
 * counters answer that without touching the hash table. */
static struct st_pset *pset_find(st_net *net, const st_hkey *aggkey)
{
	if (!net->npsets)
		return NULL;
	st_hkey k = pset_key(aggkey);
	uint64_t h = st_htab_hash(&net->h, &k);
	if (!net->pset_slots[pset_slot(h)])
		return NULL;
	return (struct st_pset *)st_htab_find(&net->h, &k, h);
}

static void pset_update_full(struct st_pset *ps, int w)
{
	uint64_t v = ps->bits[w];
	uint64_t b = 1ULL << (w & 63);
	ps->full[0][w >> 6] = (v & PAR_EVEN) == PAR_EVEN ? ps->full[0][w >> 6] | b
							 : ps->full[0][w >> 6] & ~b;
	ps->full[1][w >> 6] = (v & PAR_ODD) == PAR_ODD ? ps->full[1][w >> 6] | b
						       : ps->full[1][w >> 6] & ~b;
}

static void pset_set(struct st_pset *ps, uint16_t port, bool on)
{
	uint64_t bit = 1ULL << (port & 63);
	uint64_t *w = &ps->bits[port >> 6];
	if (((*w & bit) != 0) == on)
		return;
	*w ^= bit;
	ps->nbits += on ? 1 : (uint32_t)-1;
	pset_update_full(ps, port >> 6);
}

/* An aggregate of key `aggkey` (dev ALL) appeared or went away. */
static void pset_note(st_net *net, const st_hkey *aggkey, bool held)
{
	struct st_pset *ps = pset_find(net, aggkey);
	if (!ps)
		return;
	pset_set(ps, aggkey->port, held);
	if (!ps->nbits) {
		net->pset_slots[pset_slot(st_htab_hash(&net->h, &ps->h.key))]--;
		st_htab_remove(&net->h, &ps->h);
		st_free(ps);
		net->npsets--;
	}
}

/* Build the set of one key from the aggregates that exist; NULL if the
 * key holds no port or memory is short (the search then goes port by
 * port, which is slower but gives the same answer). */
static struct st_pset *pset_build(st_net *net, const st_hkey *aggkey)
{
	struct st_pset *ps = st_calloc(1, sizeof(*ps));
	if (!ps)
		return NULL;
	int pi = pidx(aggkey->proto);
	st_hkey k = *aggkey;
	for (int w = 0; w < 1024; w++) {
		uint64_t m = net->taken[pi][w] | net->conly[pi][w];
		while (m) {
			k.port = (uint16_t)(w * 64 + __builtin_ctzll(m));
			m &= m - 1;
			if (st_htab_find(&net->h, &k, st_htab_hash(&net->h, &k)))
				pset_set(ps, k.port, true);
		}
	}
	if (!ps->nbits) {
		st_free(ps);
		return NULL;
	}
	ps->h.key = pset_key(aggkey);
	st_hkey pk = ps->h.key;
	uint64_t h = st_htab_hash(&net->h, &pk);
	st_htab_insert(&net->h, &ps->h, &pk, h);
	net->pset_slots[pset_slot(h)]++;
	net->npsets++;
	return ps;
}

/* A search's view: the keys S overlaps and their sets, where they exist. */
void tcp_port_scan_init(st_net *net, st_pscan *sc, const st_sock *s, int kind, const st_addr *a,
			bool relax)
{
	/* Field by field, not a memset: keys[] is written for the keys in
	 * use only, and this runs once per bind(0). */
	sc->net = net;
	sc->nkeys = 0;
	sc->looked = 0;
	sc->built = false;
	sc->held = 0;
	sc->holders = 0;
	for (int j = 0; j < 5; j++)
		sc->set[j] = NULL;
	sc->reserved = st_net_conf_c(net)->reserved_ports;
	sc->usable = !relax && !s->dev && !sk_has(s, ST_F_HASHED) && !st_ports_reference;
	if (!sc->usable)
		return;
	int ks[5];
	sc->nkeys = overlapping_kinds(kind, ks);
	for (int j = 0; j < sc->nkeys; j++) {
		bool exact = kind_specific(kind) && ks[j] == kind;
		sc->keys[j] = agg_key(s->proto, 0, ks[j], exact, a, DEV_ALL);
	}
}

/* Which of the scan's keys hold port q (bit j): for a usable scan, q
 * conflicts exactly when one does (search mode counts every owner). */
static unsigned pscan_holders(const st_pscan *sc, uint16_t q)
{
	unsigned m = 0;
	for (int j = 0; j < sc->nkeys; j++) {
		st_hkey k = sc->keys[j];
		k.port = q;
		if (st_htab_find(&sc->net->h, &k, st_htab_hash(&sc->net->h, &k)))
			m |= 1u << j;
	}
	return m;
}

/* Find the sets of the keys in `which` that exist.  Done lazily, for the
 * keys that hold a port the search met (most searches end on the first
 * port they test, and most keys hold nothing). */
static void pscan_look(st_pscan *sc, unsigned which)
{
	which &= ~sc->looked;
	sc->looked |= which;
	for (int j = 0; j < sc->nkeys && sc->net->npsets; j++)
		if (which & (1u << j))
			sc->set[j] = pset_find(sc->net, &sc->keys[j]);
}

/* Build the sets of the keys in `which` (those that held ports the
 * search met) that have none yet. */
static void pscan_build(st_pscan *sc, unsigned which)
{
	sc->built = true;
	pscan_look(sc, which);
	for (int j = 0; j < sc->nkeys; j++)
		if ((which & (1u << j)) && !sc->set[j])
			sc->set[j] = pset_build(sc->net, &sc->keys[j]);
}

static uint64_t reserved_word(const st_pscan *sc, int w)
{
	uint64_t v;
	memcpy(&v, sc->reserved + w * 8, 8);
	return v;
}

/* The first port >= port, < limit, of port's parity, that is neither
 * reserved nor in one of the sets; -1 if none. */
static int pscan_next(const st_pscan *sc, int port, int limit)
{
	int par = port & 1;
	uint64_t pm = par ? PAR_ODD : PAR_EVEN;
	while (port < limit) {
		int w = port >> 6;
		/* Runs of words where a set holds every port of this parity. */
		uint64_t full = 0;
		for (int j = 0; j < sc->nkeys; j++)
			if (sc->set[j])
				full |= sc->set[j]->full[par][w >> 6];
		full >>= (w & 63);
		if (full & 1) {
			int run = full == ~0ULL >> (w & 63) ? 64 - (w & 63) : __builtin_ctzll(~full);
			port = (w + run) * 64 + par;
			continue;
		}
		uint64_t blocked = reserved_word(sc, w);
		for (int j = 0; j < sc->nkeys; j++)
			if (sc->set[j])
				blocked |= sc->set[j]->bits[w];
		uint64_t ok = ~blocked & pm & (~0ULL << (port & 63));
		if (ok) {
			int c = w * 64 + __builtin_ctzll(ok);
			return c < limit ? c : -1;
		}
		port = (w + 1) * 64 + par;
	}
	return -1;
}

int tcp_port_round(st_pscan *sc, const st_sock *s, int kind, const st_addr *a, bool relax,
		   int low, int high, uint32_t remaining, uint32_t offset, uint16_t *port_out)
{
	st_net *net = sc->net;
	/* Where sets exist, use them from the first port on: near
	 * exhaustion the first port tested is then usually free.  (Looked
	 * up once per search: pscan_look skips keys already looked at.) */
	if (sc->usable && net->npsets)
		pscan_look(sc, (1u << sc->nkeys) - 1);
	/* The kernel's loop visits low + offset + i for i = 0, 2, ... <
	 * remaining, less `remaining` once past `high`: two runs of one
	 * parity, [low + offset, min(high, low + offset + remaining)) and
	 * then from the wrapped port up to low + offset. */
	uint32_t i = 0;
	while (i < remaining) {
		int port = low + (int)offset + (int)i;
		int limit = low + (int)offset + (int)remaining;
		if (limit > high)
			limit = high;
		if (port >= high) {
			port -= (int)remaining;
			limit = low + (int)offset;
		}
		int q = sc->usable ? pscan_next(sc, port, limit) : port;
		if (q < 0) {
			i += (uint32_t)(((limit - port) + 1) / 2) * 2;
			continue;
		}
		i += (uint32_t)(q - port);
		if (!st_net_port_is_reserved(net, (uint16_t)q)) {
			/* Free ports (no bucket) are taken at once; others need
			 * the search-mode conflict test. */
			if (!port_has_bkt(net, s->proto, (uint16_t)q)) {
				*port_out = (uint16_t)q;
				return 0;
			}
			if (sc->usable) {
				unsigned m = pscan_holders(sc, (uint16_t)q);
				if (!m) {
					*port_out = (uint16_t)q;
					return 0;
				}
				pscan_look(sc, m);
				sc->holders |= m;
				if (!sc->built && ++sc->held > PSET_BUILD_AFTER)
					pscan_build(sc, sc->holders);
			} else if (!tcp_search_conflict(net, s, (uint16_t)q, kind, a, relax)) {
				*port_out = (uint16_t)q;
				return 0;
			}
		}
		i += 2;
	}
	return -EADDRINUSE;
}

/* The kernel's inet_bind_conflict for one pair, in its three modes. */
bool tcp_pair_conflict(const st_sock *s, int skind, const st_addr *sa, const st_sock *e,
		       bool relax, bool reuseport_ok)
{
	if (s == e)
		return false;
	if (!dev_compatible(s->dev, e->dev))
		return false;
	if (!kinds_overlap(skind, sa, e->kind, &e->laddr))
		return false;
	bool s_ra = sk_has(s, ST_F_REUSEADDR), e_ra = sk_has(e, ST_F_REUSEADDR);
	bool rp_pair = sk_has(s, ST_F_REUSEPORT) && sk_has(e, ST_F_REUSEPORT) &&
		       (e->state == ST_TIME_WAIT || e->uid == s->uid);
	if (s_ra && e_ra && e->state != ST_LISTEN)
		return !relax || (!reuseport_ok && rp_pair);
	return !reuseport_ok || !rp_pair;
}

const st_sock *tcp_conflict_witness(st_net *net, const st_sock *s, uint16_t port, int kind,
				    const st_addr *a, bool relax, bool reuseport_ok)
{
	const struct st_portbkt *b = bkt_find(net, s->proto, port);
	if (!b)
		return NULL;
	/* Oldest first reads better in an explanation ("the socket that
	 * was there before you"): find the tail, walk back. */
	const st_sock *o = b->owners;
	while (o && o->own_next)
		o = o->own_next;
	for (; o; o = o->own_prev)
		if (tcp_pair_conflict(s, kind, a, o, relax, reuseport_ok))
			return o;
	return NULL;
}

/* ---- fastreuse caches (B-T9) ----------------------------------------- */

static uint32_t rcv4(int family, const st_addr *a, int kind)
{
	if (kind == K_V6SPEC)
		return 0x7f000006; /* LOOPBACK4_IPV6, never matches IPv4 */
	(void)family;
	if (st_addr_is_any6(a))
		return 0;
	return st_addr_get_v4(a);
}

enum { AT_ANY = 1, AT_MAPPED = 2, AT_OTHER = 3 };
static int atype(const st_addr *a)
{
	if (st_addr_is_any6(a))
		return AT_ANY;
	if (st_addr_is_v4mapped(a))
		return AT_MAPPED;
	return AT_OTHER;
}

static bool v4_saddr_equal(uint32_t a1, uint32_t a2, bool sk2_v6only, bool w1, bool w2)
{
	if (sk2_v6only)
		return false;
	if (a1 == a2)
		return true;
	return (w1 && !a1) || (w2 && !a2);
}

/* ipv6_rcv_saddr_equal with sk2 possibly IPv4 (then its v6 address is
 * "absent" and counts as mapped). */
static bool v6_saddr_equal(const st_addr *s1, const st_addr *s2, uint32_t a1, uint32_t a2,
			   bool v6only1, bool v6only2, bool w1, bool w2)
{
	int t1 = atype(s1);
	int t2 = s2 ? atype(s2) : AT_MAPPED;
	if (t1 == AT_MAPPED && t2 == AT_MAPPED)
		return v4_saddr_equal(a1, a2, v6only2, w1, w2);
	if (t1 == AT_ANY && t2 == AT_ANY)
		return true;
	if (t2 == AT_ANY && w2 && !(v6only2 && t1 == AT_MAPPED))
		return true;
	if (t1 == AT_ANY && w1 && !(v6only1 && t2 == AT_MAPPED))
		return true;
	return s2 && st_addr_equal(s1, s2);
}

bool fast_reuse_match(const struct st_portbkt *b, const st_sock *s, int kind, const st_addr *a)
{
	if (b->fastreuseport <= 0)
		return false;
	if (!sk_has(s, ST_F_REUSEPORT) || sk_rpg(s))
		return false;
	if (b->fastuid != s->uid)
		return false;
	if (b->fastreuseport == FRP_ANY)
		return true;
	bool v6only = sk_has(s, ST_F_V6ONLY);
	uint32_t s4 = rcv4(s->family, a, kind);
	if (b->fast_family == ST_AF_INET6) {
		int fk = kind_of(ST_AF_INET6, &b->fast_addr, b->fast_v6only);
		return v6_saddr_equal(&b->fast_addr, s->family == ST_AF_INET6 ? a : NULL,
				      rcv4(ST_AF_INET6, &b->fast_addr, fk), s4, b->fast_v6only, v6only,
				      true, false);
	}
	return v4_saddr_equal(st_addr_get_v4(&b->fast_addr), s4, v6only, true, false);
}

/* inet_csk_update_fastreuse.  `first_owner` is the kernel's
 * hlist_empty(&tb->bhash2) at the moment of the call. */
void fast_update(struct st_portbkt *b, const st_sock *s, int kind, const st_addr *a,
		 bool first_owner)
{
	bool reuse = sk_has(s, ST_F_REUSEADDR) && s->state != ST_LISTEN;
	bool rp = sk_has(s, ST_F_REUSEPORT);
	if (first_owner) {
		b->fastreuse = reuse;
		if (rp) {
			b->fastreuseport = FRP_ANY;
			goto remember;
		}
		b->fastreuseport = 0;
		return;
	}
	if (!reuse)
		b->fastreuse = 0;
	if (!rp) {
		b->fastreuseport = 0;
		return;
	}
	if (fast_reuse_match(b, s, kind, a))
		return;
	b->fastreuseport = FRP_STRICT;
remember:
	b->fastuid = s->uid;
	b->fast_family = s->family;
	b->fast_v6only = sk_has(s, ST_F_V6ONLY);
	b->fast_addr = *a;
}

/* ---- the UDP rule (B-U1, B-U4) --------------------------------------- */

bool udp_rp_compatible(const st_sock *s, const st_sock *e)
{
	return sk_has(s, ST_F_REUSEPORT) && sk_has(e, ST_F_REUSEPORT) && !sk_rpg(s) &&
	       s->uid == e->uid;
}

/*
 * B-U1/B-U4 decided from the counters where they suffice.  Linux walks the
 * port's primary chain and the first relevant owner decides (bind.c does
 * that walk).  With R relevant owners, C of them SO_REUSEPORT-compatible
 * with S, the answer does not depend on which owner comes first when
 * R == 0 (admitted), C == R (admitted: whichever comes first is
 * compatible) or C == 0 < R (refused).  Only 0 < C < R needs the walk, and
 * a refusal's witness (the owner itself) for an explanation.
 * Returns 1 admitted, 0 refused, -1 undecided.
 */
int udp_bind_decide(st_net *net, const st_sock *s, uint16_t port, int kind, const st_addr *a)
{
	if (st_ports_reference || (sk_has(s, ST_F_HASHED) && s->lport == port))
		return -1; /* S would meet itself: leave it to the walk */
	int64_t r = overlap_sum(net, s, port, kind, a, CM_UDP_REL);
	if (r == 0)
		return 1;
	int64_t c = 0;
	if (sk_has(s, ST_F_REUSEPORT) && !sk_rpg(s))
		c = overlap_sum(net, s, port, kind, a, CM_UDP_RP);
	if (c == r)
		return 1;
	return c == 0 ? 0 : -1;
}
