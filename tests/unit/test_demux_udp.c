/*
 * test_demux_udp.c - which UDP socket receives a datagram (linux-semantics.md
 * section 8, D-U1..D-U9; experiments X15, E14-E16, E18, E19).
 *
 *   D-U1  connected sockets (exact 4-tuple) first, then the destination
 *         address, then the wildcard;
 *   D-U2  scores: AF_INET 2 / AF_INET6 1 for IPv4, +4 device;
 *   D-U3  a socket connected to another peer never receives;
 *   D-U4  ties go to the first in chain order: the newest IPv4 or non-RP
 *         IPv6 socket; re-hashing puts a socket at the head;
 *   D-U5  a group that had a connected member keeps scoring after its pick
 *         (only when the member connected on its bound address, E19c/d);
 *   D-U6  broadcast and multicast reach every matching socket;
 *   D-U8  IPv4 datagrams reach dual-stack sockets;
 *   D-U9  6.13+: connected members leave their group; where they sit in
 *         the chain afterwards (E15, E16) and who wins among sockets
 *         sharing a 4-tuple (E18).
 */
#include "helpers.h"
#include "net_internal.h" /* sk_rpg, sk_rpi: a socket's SO_REUSEPORT group and slot */

static st_sock *udp_at(h_env *e, int family, const char *ep, unsigned flags)
{
	st_sock *s = h_sock(e, ST_UDP, family, H_UID);
	h_flags(e, s, flags);
	H_RC(e, h_bind(e, s, ep), 0);
	return s;
}

static const st_candidate *cand_of(const st_lookup_explain *lex, const st_sock *sk)
{
	for (int i = 0; i < lex->ncand; i++)
		if (lex->cand[i].sk == sk)
			return &lex->cand[i];
	return NULL;
}

/* ------------------------------------------------------------------ */
/* D-U1 / D-U3                                                           */
/* ------------------------------------------------------------------ */

static void test_du1_connected_first(void **st)
{
	h_env e;
	st_sock *c, *u, *got;
	st_lookup_explain lex;
	(void)st;
	h_env_init(&e, 4, "D-U1 a connected socket gets its peer's datagrams, stage ESTABLISHED");
	c = udp_at(&e, ST_AF_INET, "127.0.0.1:9500", H_RA);
	H_RC(&e, h_connect(&e, c, "127.0.0.2:7000"), 0);
	u = udp_at(&e, ST_AF_INET, "127.0.0.1:9500", H_RA); /* newer: head of the chain */
	st_pkt p = h_pkt(&e, ST_UDP, "127.0.0.2:7000", "127.0.0.1:9500");
	got = h_lookup(&e, &p, &lex);
	H_ASSERT(&e, got == c && lex.stage == ST_STAGE_ESTABLISHED, "from the peer: %s stage %d",
		 h_who(&e, got), (int)lex.stage);
	p = h_pkt(&e, ST_UDP, "127.0.0.2:7001", "127.0.0.1:9500");
	got = h_lookup(&e, &p, &lex);
	H_ASSERT(&e, got == u && lex.stage == ST_STAGE_EXACT_ADDR, "from elsewhere: %s stage %d",
		 h_who(&e, got), (int)lex.stage);
	H_ASSERT(&e, !cand_of(&lex, c), "a connected socket is never a scored candidate");
	h_env_done(&e);
}

/* X15: w 0.0.0.0, sp 127.0.0.1, cw 0.0.0.0 connected to :34000. */
static void test_du3_connected_elsewhere_never_receives(void **st)
{
	h_env e;
	st_sock *w, *sp, *cw;
	(void)st;
	h_env_init(&e, 4, "D-U3/X15 w 0.0.0.0, sp 127.0.0.1, cw connected to :34000");
	w = udp_at(&e, ST_AF_INET, "0.0.0.0:9501", H_RA);
	sp = udp_at(&e, ST_AF_INET, "127.0.0.1:9501", H_RA);
	cw = udp_at(&e, ST_AF_INET, "0.0.0.0:9501", H_RA);
	H_RC(&e, h_connect(&e, cw, "127.0.0.1:34000"), 0);
	H_NAME(&e, cw, "127.0.0.1:9501");
	H_LOOKUP(&e, ST_UDP, "127.0.0.1:34000", "127.0.0.1:9501", cw);
	/* cw now sits at the head of 127.0.0.1's chain, but is connected. */
	H_LOOKUP(&e, ST_UDP, "127.0.0.1:34001", "127.0.0.1:9501", sp);
	H_LOOKUP(&e, ST_UDP, "127.0.0.1:34000", "127.0.0.2:9501", w);
	H_LOOKUP(&e, ST_UDP, "127.0.0.1:34001", "127.0.0.2:9501", w);
	h_close(&e, sp);
	/* Only the wildcard socket is left for other peers. */
	H_LOOKUP(&e, ST_UDP, "127.0.0.1:34001", "127.0.0.1:9501", w);
	h_env_done(&e);
}

/* ------------------------------------------------------------------ */
/* D-U2: scores                                                          */
/* ------------------------------------------------------------------ */

static void family_score(bool v4_first)
{
	h_env e;
	st_sock *v4 = NULL, *v6, *got;
	st_lookup_explain lex;
	h_env_init(&e, 4, v4_first ? "D-U2 AF_INET (2) beats dual-stack (1), AF_INET bound first"
				   : "D-U2 AF_INET (2) beats dual-stack (1), :: bound first");
	if (v4_first)
		v4 = udp_at(&e, ST_AF_INET, "0.0.0.0:9502", H_RA);
	v6 = udp_at(&e, ST_AF_INET6, "[::]:9502", H_RA);
	if (!v4_first)
		v4 = udp_at(&e, ST_AF_INET, "0.0.0.0:9502", H_RA);
	st_pkt p = h_pkt(&e, ST_UDP, "127.0.0.3:1", "127.0.0.1:9502");
	got = h_lookup(&e, &p, &lex);
	const st_candidate *c4 = cand_of(&lex, v4), *c6 = cand_of(&lex, v6);
	H_ASSERT(&e, got == v4 && c4 && c4->score == 2 && c6 && c6->score == 1,
		 "reached %s; scores AF_INET %d, :: %d", h_who(&e, got), c4 ? c4->score : -9,
		 c6 ? c6->score : -9);
	H_ASSERT(&e, c4->why == ST_WHY_FAMILY_V4 && c6->why == 0, "why %#x %#x", c4->why, c6->why);
	if (v4_first)
		H_ASSERT(&e, &lex.cand[0] == c6 && (c4->why & ST_WHY_FIRST_IN_CHAIN) == 0,
			 ":: is newer, so first in the chain, and loses on score");
	/* IPv6: the AF_INET6 one only. D-U8: IPv4 reaches the dual-stack
	 * socket once the AF_INET one is gone. */
	H_LOOKUP(&e, ST_UDP, "[::1]:1", "[::1]:9502", v6);
	h_close(&e, v4);
	H_LOOKUP(&e, ST_UDP, "127.0.0.3:1", "127.0.0.1:9502", v6);
	h_env_done(&e);
}

static void test_du2_family_a(void **st)
{
	(void)st;
	family_score(true);
}

static void test_du2_family_b(void **st)
{
	(void)st;
	family_score(false);
}

static void test_du2_device(void **st)
{
	h_env e;
	st_sock *plain, *dev, *got;
	st_lookup_explain lex;
	int d0;
	(void)st;
	h_env_init(&e, 6, "D-U2 a device-bound socket scores +4 (IPv4) / +1 (IPv6)");
	d0 = h_device(&e, "d0", "10.0.0.1", 24, "2001:db8::1", 64);
	dev = h_udp4(&e);
	h_flags(&e, dev, H_RA);
	H_RC(&e, h_setopt(&e, dev, ST_SO_BINDTODEVICE, (uint32_t)d0), 0);
	H_RC(&e, h_bind(&e, dev, "0.0.0.0:9503"), 0);
	plain = udp_at(&e, ST_AF_INET, "0.0.0.0:9503", H_RA);
	st_pkt p = h_pkt_dev(&e, ST_UDP, "10.0.0.2:1", "10.0.0.1:9503", d0);
	got = h_lookup(&e, &p, &lex);
	const st_candidate *cd = cand_of(&lex, dev), *cp = cand_of(&lex, plain);
	H_ASSERT(&e, got == dev && cd && cd->score == 6 && cp && cp->score == 2,
		 "on d0: reached %s, scores dev %d plain %d (expected 6 and 2)", h_who(&e, got),
		 cd ? cd->score : -9, cp ? cp->score : -9);
	H_LOOKUP_DEV(&e, ST_UDP, "127.0.0.2:1", "127.0.0.1:9503", ST_IFINDEX_LO, plain);
	/* IPv6: base 0, +1 device. */
	st_sock *v6d = h_udp6(&e);
	h_flags(&e, v6d, H_RA);
	H_RC(&e, h_setopt(&e, v6d, ST_SO_BINDTODEVICE, (uint32_t)d0), 0);
	H_RC(&e, h_bind(&e, v6d, "[::]:9503"), 0);
	st_sock *v6 = udp_at(&e, ST_AF_INET6, "[::]:9503", H_RA);
	p = h_pkt_dev(&e, ST_UDP, "[2001:db8::2]:1", "[2001:db8::1]:9503", d0);
	got = h_lookup(&e, &p, &lex);
	cd = cand_of(&lex, v6d);
	cp = cand_of(&lex, v6);
	H_ASSERT(&e, got == v6d && cd && cd->score == 1 && cp && cp->score == 0,
		 "IPv6 on d0: reached %s, scores %d and %d (expected 1 and 0)", h_who(&e, got),
		 cd ? cd->score : -9, cp ? cp->score : -9);
	h_env_done(&e);
}

/* ------------------------------------------------------------------ */
/* D-U4: ties, newest first; re-hash to the head                        */
/* ------------------------------------------------------------------ */

static void ra_duplicates(int family, const char *ep, const char *from)
{
	h_env e;
	st_sock *s[3];
	h_env_init(&e, 4, family == ST_AF_INET ? "D-U4/X15 three RA duplicates on 127.0.0.1"
					       : "D-U4/X15 three RA duplicates on ::1");
	for (int i = 0; i < 3; i++)
		s[i] = udp_at(&e, family, ep, H_RA);
	H_LOOKUP(&e, ST_UDP, from, ep, s[2]);
	st_lookup_explain lex;
	st_pkt p = h_pkt(&e, ST_UDP, from, ep);
	(void)h_lookup(&e, &p, &lex);
	const st_candidate *c = cand_of(&lex, s[2]);
	H_ASSERT(&e, lex.ncand == 1 && c && (c->why & ST_WHY_FIRST_IN_CHAIN) == 0,
		 "one class, one candidate: its head (%d listed)", lex.ncand);
	h_close(&e, s[2]);
	H_LOOKUP(&e, ST_UDP, from, ep, s[1]);
	h_env_done(&e);
}

static void test_du4_newest_first_v4(void **st)
{
	(void)st;
	ra_duplicates(ST_AF_INET, "127.0.0.1:9504", "127.0.0.9:1");
}

static void test_du4_newest_first_v6(void **st)
{
	(void)st;
	ra_duplicates(ST_AF_INET6, "[::1]:9505", "[::1]:1");
}

/* E15a/E16: connect + AF_UNSPEC on a socket bound to a specific address:
 * IPv4 and v4-mapped keep their place, native IPv6 moves to the head at
 * its first connect. */
static void connect_disconnect_position(int family, const char *ep, const char *peer,
					const char *from, const char *to, int expect)
{
	h_env e;
	st_sock *s[3];
	h_env_init(&e, 4, "E15/E16 chain position after connect + AF_UNSPEC");
	h_ctx(&e, "E15/E16 %s: A, B, C RA; A connect %s + AF_UNSPEC: expected receiver %c", ep,
	      peer, 'A' + expect);
	for (int i = 0; i < 3; i++)
		s[i] = udp_at(&e, family, ep, H_RA);
	H_RC(&e, h_connect(&e, s[0], peer), 0);
	H_RC(&e, h_disconnect(&e, s[0]), 0);
	H_LOOKUP(&e, ST_UDP, from, to, s[expect]);
	h_env_done(&e);
}

static void test_e15a_v4_keeps_place(void **st)
{
	(void)st;
	connect_disconnect_position(ST_AF_INET, "127.0.0.1:21500", "127.0.0.1:9", "127.0.0.9:1",
				    "127.0.0.1:21500", 2);
}

static void test_e15b_v6_moves_to_head(void **st)
{
	(void)st;
	connect_disconnect_position(ST_AF_INET6, "[::1]:21501", "[::1]:9", "[::1]:1", "[::1]:21501",
				    0);
}

static void test_e16f_v4mapped_keeps_place(void **st)
{
	(void)st;
	connect_disconnect_position(ST_AF_INET6, "[::ffff:127.0.0.1]:21605",
				    "[::ffff:127.0.0.1]:9", "127.0.0.9:1", "127.0.0.1:21605", 2);
}

/* E16a/e: it is the first connect that moves a native IPv6 socket. */
static void test_e16_first_connect_moves(void **st)
{
	h_env e;
	st_sock *s[3];
	(void)st;
	h_env_init(&e, 4, "E16a A connect, B connect, B unspec, A unspec: B first");
	for (int i = 0; i < 3; i++)
		s[i] = udp_at(&e, ST_AF_INET6, "[::1]:21600", H_RA);
	H_RC(&e, h_connect(&e, s[0], "[::1]:9"), 0);
	H_RC(&e, h_connect(&e, s[1], "[::1]:9"), 0);
	H_RC(&e, h_disconnect(&e, s[1]), 0);
	H_RC(&e, h_disconnect(&e, s[0]), 0);
	H_LOOKUP(&e, ST_UDP, "[::1]:1", "[::1]:21600", s[1]);
	h_env_done(&e);

	h_env_init(&e, 4, "E16e A connect, B connect, A re-connect: still B first");
	for (int i = 0; i < 3; i++)
		s[i] = udp_at(&e, ST_AF_INET6, "[::1]:21604", H_RA);
	H_RC(&e, h_connect(&e, s[0], "[::1]:9"), 0);
	H_RC(&e, h_connect(&e, s[1], "[::1]:9"), 0);
	H_RC(&e, h_connect(&e, s[0], "[::1]:10"), 0);
	H_RC(&e, h_disconnect(&e, s[1]), 0);
	H_RC(&e, h_disconnect(&e, s[0]), 0);
	H_LOOKUP(&e, ST_UDP, "[::1]:1", "[::1]:21604", s[1]);
	h_env_done(&e);
}

/* C-U3 / D-U4: a wildcard socket that connects is re-hashed to the head of
 * the specific chain; disconnecting re-hashes it back to the head of the
 * wildcard chain. */
static void test_du4_rehash_to_head(void **st)
{
	h_env e;
	st_sock *old, *w;
	(void)st;
	h_env_init(&e, 4, "D-U4 re-hashing (connect/disconnect of a wildcard socket) goes to the head");
	w = udp_at(&e, ST_AF_INET, "0.0.0.0:9506", H_RA);
	old = udp_at(&e, ST_AF_INET, "0.0.0.0:9506", H_RA); /* newest: head */
	H_LOOKUP(&e, ST_UDP, "127.0.0.9:1", "127.0.0.1:9506", old);
	H_RC(&e, h_connect(&e, w, "127.0.0.5:9"), 0);
	H_RC(&e, h_disconnect(&e, w), 0);
	H_NAME(&e, w, "0.0.0.0:9506");
	H_LOOKUP(&e, ST_UDP, "127.0.0.9:1", "127.0.0.1:9506", w);
	h_env_done(&e);
}

/* E18: sockets sharing one 4-tuple: the one that connected (from the
 * unconnected state) last receives; re-connects do not count. */
static void test_e18_shared_tuple(void **st)
{
	h_env e;
	st_sock *a, *b;
	(void)st;
	h_env_init(&e, 4, "E18a B connects, then A: A receives");
	a = udp_at(&e, ST_AF_INET, "127.0.0.1:21800", H_RA);
	b = udp_at(&e, ST_AF_INET, "127.0.0.1:21800", H_RA);
	H_RC(&e, h_connect(&e, b, "127.0.0.2:21899"), 0);
	H_RC(&e, h_connect(&e, a, "127.0.0.2:21899"), 0);
	H_LOOKUP(&e, ST_UDP, "127.0.0.2:21899", "127.0.0.1:21800", a);
	h_env_done(&e);

	h_env_init(&e, 4, "E18c A, B, A again (same peer): B receives");
	a = udp_at(&e, ST_AF_INET, "127.0.0.1:21802", H_RA);
	b = udp_at(&e, ST_AF_INET, "127.0.0.1:21802", H_RA);
	H_RC(&e, h_connect(&e, a, "127.0.0.2:21897"), 0);
	H_RC(&e, h_connect(&e, b, "127.0.0.2:21897"), 0);
	H_RC(&e, h_connect(&e, a, "127.0.0.2:21897"), 0);
	H_LOOKUP(&e, ST_UDP, "127.0.0.2:21897", "127.0.0.1:21802", b);
	/* A disconnect and a new connect does count. */
	H_RC(&e, h_disconnect(&e, a), 0);
	H_RC(&e, h_connect(&e, a, "127.0.0.2:21897"), 0);
	H_LOOKUP(&e, ST_UDP, "127.0.0.2:21897", "127.0.0.1:21802", a);
	h_env_done(&e);

	h_env_init(&e, 4, "E18b IPv6: B connects, then A: A receives");
	a = udp_at(&e, ST_AF_INET6, "[::1]:21801", H_RA);
	b = udp_at(&e, ST_AF_INET6, "[::1]:21801", H_RA);
	H_RC(&e, h_connect(&e, b, "[::1]:21898"), 0);
	H_RC(&e, h_connect(&e, a, "[::1]:21898"), 0);
	H_LOOKUP(&e, ST_UDP, "[::1]:21898", "[::1]:21801", a);
	h_env_done(&e);
}

/* ------------------------------------------------------------------ */
/* D-U5 / D-U9: reuseport groups and connected members                  */
/* ------------------------------------------------------------------ */

static void test_du9_connected_member_leaves(void **st)
{
	h_env e;
	st_sock *s[3];
	unsigned cnt[4];
	(void)st;
	h_env_init(&e, 4, "D-U9/X15 connect removes a member: the other two share all flows");
	for (int i = 0; i < 3; i++)
		s[i] = udp_at(&e, ST_AF_INET, "127.0.0.1:9507", H_RP);
	h_spread(&e, ST_UDP, "127.0.0.1:9507", s, 3, 300, cnt);
	H_ASSERT(&e, cnt[0] > 60 && cnt[1] > 60 && cnt[2] > 60, "before: %s", h_counts_str(cnt, 3));
	H_RC(&e, h_connect(&e, s[0], "127.0.0.1:32000"), 0);
	H_ASSERT(&e, !sk_rpg(s[0]) && sk_rpi(s[2]) == 0, "member 0 left; the last moved in");
	h_spread(&e, ST_UDP, "127.0.0.1:9507", s, 3, 300, cnt);
	H_ASSERT(&e, cnt[0] == 0 && cnt[1] > 100 && cnt[2] > 100 && cnt[3] == 0, "after: %s",
		 h_counts_str(cnt, 3));
	H_LOOKUP(&e, ST_UDP, "127.0.0.1:32000", "127.0.0.1:9507", s[0]);
	/* X15: IPv4, after AF_UNSPEC the oldest member (at the tail, group-
	 * less) gets nothing. */
	H_RC(&e, h_disconnect(&e, s[0]), 0);
	h_spread(&e, ST_UDP, "127.0.0.1:9507", s, 3, 300, cnt);
	H_ASSERT(&e, cnt[0] == 0 && cnt[1] + cnt[2] == 300, "after AF_UNSPEC: %s",
		 h_counts_str(cnt, 3));
	h_env_done(&e);
}

/* E19d: a group on 127.0.0.1 had a member connect: scoring continues after
 * the group's pick, so the older device-bound socket S (score 6) wins. */
static void test_du5_has_conns_keeps_scoring(void **st)
{
	h_env e;
	st_sock *s, *g[3], *all[4];
	unsigned cnt[5];
	(void)st;
	h_env_init(&e, 6, "D-U5/E19d after a member connects on its address, S (device) wins");
	s = h_udp4(&e);
	h_flags(&e, s, H_RA | H_RP);
	H_RC(&e, h_setopt(&e, s, ST_SO_BINDTODEVICE, ST_IFINDEX_LO), 0);
	H_RC(&e, h_bind(&e, s, "127.0.0.1:21903"), 0);
	for (int i = 0; i < 3; i++)
		g[i] = udp_at(&e, ST_AF_INET, "127.0.0.1:21903", H_RP);
	all[0] = g[0];
	all[1] = g[1];
	all[2] = g[2];
	all[3] = s;
	h_spread(&e, ST_UDP, "127.0.0.1:21903", all, 4, 150, cnt);
	H_ASSERT(&e, cnt[3] == 0 && cnt[0] > 20 && cnt[1] > 20 && cnt[2] > 20,
		 "before: A/B/C/S %s (S hidden by the early return)", h_counts_str(cnt, 4));
	H_RC(&e, h_connect(&e, g[2], "127.0.0.1:9"), 0);
	h_spread(&e, ST_UDP, "127.0.0.1:21903", all, 4, 150, cnt);
	H_ASSERT(&e, cnt[3] == 150, "after: A/B/C/S %s, expected S all 150", h_counts_str(cnt, 4));
	h_env_done(&e);
}

/* E19c: the same with the group on 0.0.0.0: the connecting member is
 * re-hashed (and leaves) before the group could be marked, so the early
 * return stays and S still gets nothing. */
static void test_du5_wildcard_member_does_not_mark(void **st)
{
	h_env e;
	st_sock *s, *g[3], *all[4];
	unsigned cnt[5];
	(void)st;
	h_env_init(&e, 6, "D-U5/E19c a 0.0.0.0 member that connects does not mark its group");
	s = h_udp4(&e);
	h_flags(&e, s, H_RA | H_RP);
	H_RC(&e, h_setopt(&e, s, ST_SO_BINDTODEVICE, ST_IFINDEX_LO), 0);
	H_RC(&e, h_bind(&e, s, "0.0.0.0:21902"), 0);
	for (int i = 0; i < 3; i++)
		g[i] = udp_at(&e, ST_AF_INET, "0.0.0.0:21902", H_RP);
	all[0] = g[0];
	all[1] = g[1];
	all[2] = g[2];
	all[3] = s;
	H_RC(&e, h_connect(&e, g[2], "127.0.0.1:9"), 0);
	h_spread(&e, ST_UDP, "127.0.0.1:21902", all, 4, 150, cnt);
	H_ASSERT(&e, cnt[3] == 0 && cnt[2] == 0 && cnt[0] + cnt[1] == 150,
		 "after: A/B/C/S %s, expected A and B only", h_counts_str(cnt, 4));
	h_env_done(&e);
}

/* ------------------------------------------------------------------ */
/* D-U6: broadcast and multicast                                         */
/* ------------------------------------------------------------------ */

struct collect {
	st_sock *got[16];
	int n;
};

static void collect_fn(st_sock *sk, void *ctx)
{
	struct collect *c = ctx;
	if (c->n < 16)
		c->got[c->n++] = sk;
}

static bool collected(const struct collect *c, const st_sock *sk)
{
	for (int i = 0; i < c->n; i++)
		if (c->got[i] == sk)
			return true;
	return false;
}

/* X15: broadcast to 127.255.255.255. */
static void test_du6_broadcast(void **st)
{
	h_env e;
	st_sock *w1, *w2, *b, *dual, *spec, *v6only, *celse, *cpeer;
	struct collect c = {{NULL}, 0};
	(void)st;
	h_env_init(&e, 10, "D-U6/X15 broadcast to 127.255.255.255 reaches every matching socket");
	w1 = udp_at(&e, ST_AF_INET, "0.0.0.0:9508", H_RA | H_RP);
	w2 = udp_at(&e, ST_AF_INET, "0.0.0.0:9508", H_RA | H_RP);
	b = udp_at(&e, ST_AF_INET, "127.255.255.255:9508", H_RA);
	dual = udp_at(&e, ST_AF_INET6, "[::]:9508", H_RA);
	spec = udp_at(&e, ST_AF_INET, "127.0.0.1:9508", H_RA);
	v6only = udp_at(&e, ST_AF_INET6, "[::]:9508", H_RA | H_V6ONLY);
	celse = udp_at(&e, ST_AF_INET, "0.0.0.0:9508", H_RA);
	H_RC(&e, h_connect(&e, celse, "127.0.0.1:5555"), 0);
	cpeer = udp_at(&e, ST_AF_INET, "127.255.255.255:9508", H_RA);
	H_RC(&e, h_setopt(&e, cpeer, ST_SO_BROADCAST, 1), 0);
	H_RC(&e, h_connect(&e, cpeer, "127.0.0.3:6000"), 0);
	st_pkt p = h_pkt(&e, ST_UDP, "127.0.0.3:6000", "127.255.255.255:9508");
	H_ASSERT(&e, st_net_is_bcast_or_mcast(e.net, &p), "127.255.255.255 is a broadcast address");
	int n = st_lookup_udp_multi(e.net, &p, collect_fn, &c);
	h_check(&e);
	H_ASSERT(&e, n == c.n && n == 5, "%d copies, expected 5", n);
	H_ASSERT(&e, collected(&c, w1) && collected(&c, w2) && collected(&c, b) &&
		 collected(&c, dual) && collected(&c, cpeer), "the two RP members, the broadcast-"
		 "bound socket, the dual-stack one and the one connected to the sender receive");
	H_ASSERT(&e, !collected(&c, spec) && !collected(&c, v6only) && !collected(&c, celse),
		 "127.0.0.1, v6only and connected-elsewhere sockets do not");
	/* The same sockets, unicast to 127.0.0.1: only the 127.0.0.1 one. */
	p = h_pkt(&e, ST_UDP, "127.0.0.3:6001", "127.0.0.1:9508");
	H_ASSERT(&e, !st_net_is_bcast_or_mcast(e.net, &p), "127.0.0.1 is unicast");
	H_LOOKUP(&e, ST_UDP, "127.0.0.3:6001", "127.0.0.1:9508", spec);
	/* A device-bound socket only hears broadcasts on its device. */
	c.n = 0;
	H_RC(&e, h_setopt(&e, w1, ST_SO_BINDTODEVICE, (uint32_t)h_device(&e, "d0", "10.0.0.1", 24,
								       NULL, 0)), 0);
	p = h_pkt(&e, ST_UDP, "127.0.0.3:6000", "127.255.255.255:9508");
	n = st_lookup_udp_multi(e.net, &p, collect_fn, &c);
	H_ASSERT(&e, n == 4 && !collected(&c, w1), "w1 on d0 must not hear lo's broadcast (%d)", n);
	h_env_done(&e);
}

static void test_du6_multicast(void **st)
{
	h_env e;
	st_sock *m, *w, *v6, *other;
	struct collect c = {{NULL}, 0};
	(void)st;
	h_env_init(&e, 6, "D-U6 multicast: group-bound and wildcard sockets, every family match");
	m = udp_at(&e, ST_AF_INET, "224.0.0.1:9509", H_RA);
	w = udp_at(&e, ST_AF_INET, "0.0.0.0:9509", H_RA);
	other = udp_at(&e, ST_AF_INET, "224.0.0.2:9509", H_RA);
	st_pkt p = h_pkt(&e, ST_UDP, "127.0.0.3:1", "224.0.0.1:9509");
	H_ASSERT(&e, st_net_is_bcast_or_mcast(e.net, &p), "224.0.0.1 is multicast");
	int n = st_lookup_udp_multi(e.net, &p, collect_fn, &c);
	H_ASSERT(&e, n == 2 && collected(&c, m) && collected(&c, w) && !collected(&c, other),
		 "%d copies; expected the 224.0.0.1 and the 0.0.0.0 sockets", n);
	v6 = h_udp6(&e);
	h_flags(&e, v6, H_RA);
	st_sockaddr sa = h_parse(&e, "[ff02::1]:9509");
	sa.scope_id = ST_IFINDEX_LO;
	H_RC(&e, h_bind_sa(&e, v6, &sa, ST_SOCKADDR_IN6_LEN, H_UID, 0), 0);
	p = h_pkt(&e, ST_UDP, "[::1]:1", "[ff02::1]:9509");
	H_ASSERT(&e, st_net_is_bcast_or_mcast(e.net, &p), "ff02::1 is multicast");
	c.n = 0;
	n = st_lookup_udp_multi(e.net, &p, collect_fn, &c);
	H_ASSERT(&e, n == 1 && collected(&c, v6), "IPv6 multicast: %d copies", n);
	h_env_done(&e);
}

/* Nothing bound: nothing receives; a bound socket on another port does
 * not either (D-U7 is the sender's business). */
static void test_du7_no_socket(void **st)
{
	h_env e;
	st_lookup_explain lex;
	(void)st;
	h_env_init(&e, 2, "D-U7 no socket on the port");
	(void)udp_at(&e, ST_AF_INET, "127.0.0.1:9510", H_NONE);
	st_pkt p = h_pkt(&e, ST_UDP, "127.0.0.3:1", "127.0.0.1:9511");
	H_ASSERT(&e, h_lookup(&e, &p, &lex) == NULL && lex.stage == ST_STAGE_NONE, "nothing");
	H_ASSERT(&e, st_lookup_udp_multi(e.net, &p, NULL, NULL) == 0, "no copies");
	h_env_done(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_du1_connected_first),
		cmocka_unit_test(test_du3_connected_elsewhere_never_receives),
		cmocka_unit_test(test_du2_family_a),
		cmocka_unit_test(test_du2_family_b),
		cmocka_unit_test(test_du2_device),
		cmocka_unit_test(test_du4_newest_first_v4),
		cmocka_unit_test(test_du4_newest_first_v6),
		cmocka_unit_test(test_e15a_v4_keeps_place),
		cmocka_unit_test(test_e15b_v6_moves_to_head),
		cmocka_unit_test(test_e16f_v4mapped_keeps_place),
		cmocka_unit_test(test_e16_first_connect_moves),
		cmocka_unit_test(test_du4_rehash_to_head),
		cmocka_unit_test(test_e18_shared_tuple),
		cmocka_unit_test(test_du9_connected_member_leaves),
		cmocka_unit_test(test_du5_has_conns_keeps_scoring),
		cmocka_unit_test(test_du5_wildcard_member_does_not_mark),
		cmocka_unit_test(test_du6_broadcast),
		cmocka_unit_test(test_du6_multicast),
		cmocka_unit_test(test_du7_no_socket),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
