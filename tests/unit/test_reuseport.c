/*
 * test_reuseport.c - SO_REUSEPORT groups (linux-semantics.md 7.1, D-RP1..
 * D-RP4; experiments X14, X15, X19, E14, E17, E19).
 *
 *   D-RP1  who joins which group: same family, V6ONLY, device, uid and
 *          exactly the same address and port; TCP at listen(), UDP at
 *          bind(); and, found on 6.18 (E14, E19b), the join goes to the
 *          *first matching socket of the kernel's scan*, creating a group
 *          for it if it has none (a connected UDP member, an option set
 *          after listen()).
 *   D-RP2  members in join order, removal moves the last into the hole.
 *   D-RP3  the member is (hash * n) >> 32 over a keyed 4-tuple hash,
 *          skipping connected UDP members circularly.
 *   D-RP4  every membership change remaps flows (X19's transition table).
 *   cap    32,768 members; the next listen() fails with ENOMEM, the next
 *          UDP bind() with EADDRINUSE (E17).
 *
 * The group itself is opaque (sk_rpg(sk), from net_internal.h, is a pointer the tests only
 * compare); sk_rpi(sk) is the member's slot, which is what D-RP2
 * is about.  Member choice is read from lookups and from the explain's
 * hash, size and index.
 */
#include "helpers.h"
#include "net_internal.h" /* sk_rpg, sk_rpi: a socket's SO_REUSEPORT group and slot */

/* Members of sk's group among the env's open sockets (the group object
 * itself is opaque). */
static unsigned group_size(const h_env *e, const st_sock *sk)
{
	unsigned n = 0;
	for (int i = 0; i < e->n; i++)
		if (e->live[i] && sk_rpg(sk) && sk_rpg(&e->sk[i]) == sk_rpg(sk))
			n++;
	return n;
}

static st_sock *rp_listener(h_env *e, int family, const char *ep, unsigned flags)
{
	st_sock *l = h_sock(e, ST_TCP, family, H_UID);
	h_flags(e, l, flags | H_RP);
	H_RC(e, h_bind(e, l, ep), 0);
	H_RC(e, h_listen(e, l), 0);
	return l;
}

static st_sock *rp_udp(h_env *e, int family, const char *ep, unsigned flags, uint32_t uid)
{
	st_sock *s = h_sock(e, ST_UDP, family, uid);
	h_flags(e, s, flags | H_RP);
	H_RC(e, h_bind(e, s, ep), 0);
	return s;
}

/* ------------------------------------------------------------------ */
/* D-RP1: membership                                                    */
/* ------------------------------------------------------------------ */

static void test_drp1_tcp_same_key_joins(void **st)
{
	h_env e;
	st_sock *a, *b, *c;
	(void)st;
	h_env_init(&e, 6, "D-RP1 TCP listeners with one key share a group, in listen order");
	a = rp_listener(&e, ST_AF_INET, "127.0.0.1:9000", H_NONE);
	b = rp_listener(&e, ST_AF_INET, "127.0.0.1:9000", H_NONE);
	c = rp_listener(&e, ST_AF_INET, "127.0.0.1:9000", H_RA);
	H_ASSERT(&e, sk_rpg(a) && sk_rpg(a) == sk_rpg(b) && sk_rpg(b) == sk_rpg(c),
		 "three listeners on 127.0.0.1:9000 should share one group");
	H_ASSERT(&e, sk_rpi(a) == 0 && sk_rpi(b) == 1 && sk_rpi(c) == 2,
		 "indexes %u %u %u, expected 0 1 2", sk_rpi(a), sk_rpi(b), sk_rpi(c));
	h_env_done(&e);
}

static void test_drp1_tcp_join_at_listen_not_bind(void **st)
{
	h_env e;
	st_sock *a, *b;
	(void)st;
	h_env_init(&e, 4, "D-RP1 TCP joins at listen(): bind A, bind B, listen B, listen A");
	a = h_tcp4(&e);
	b = h_tcp4(&e);
	h_flags(&e, a, H_RP);
	h_flags(&e, b, H_RP);
	H_RC(&e, h_bind(&e, a, "127.0.0.1:9001"), 0);
	H_RC(&e, h_bind(&e, b, "127.0.0.1:9001"), 0);
	H_ASSERT(&e, !sk_rpg(a) && !sk_rpg(b), "a bound TCP socket has no group yet");
	H_RC(&e, h_listen(&e, b), 0);
	H_RC(&e, h_listen(&e, a), 0);
	H_ASSERT(&e, sk_rpg(a) == sk_rpg(b) && sk_rpi(b) == 0 && sk_rpi(a) == 1,
		 "B listened first: B index 0, A index 1; got B %u A %u", sk_rpi(b), sk_rpi(a));
	/* shutdown(SHUT_RD) of a listener leaves the group (L7). */
	H_RC(&e, st_unlisten(e.net, b), 0);
	h_check(&e);
	H_ASSERT(&e, !sk_rpg(b) && sk_rpi(a) == 0, "after B stops listening A is alone at 0");
	H_RC(&e, h_listen(&e, b), 0);
	H_ASSERT(&e, sk_rpg(b) == sk_rpg(a) && sk_rpi(b) == 1, "B re-joins at the end");
	h_env_done(&e);
}

static void test_drp1_tcp_separate_groups(void **st)
{
	h_env e;
	st_sock *s[8];
	int lo = ST_IFINDEX_LO;
	(void)st;
	h_env_init(&e, 10, "D-RP1 different family, V6ONLY, device or address: different groups");
	s[0] = rp_listener(&e, ST_AF_INET, "0.0.0.0:9002", H_NONE);
	s[1] = rp_listener(&e, ST_AF_INET6, "[::ffff:0.0.0.0]:9002", H_NONE);
	s[2] = rp_listener(&e, ST_AF_INET6, "[::]:9002", H_NONE);
	s[3] = rp_listener(&e, ST_AF_INET6, "[::]:9002", H_V6ONLY);
	s[4] = rp_listener(&e, ST_AF_INET, "127.0.0.1:9002", H_NONE);
	s[5] = h_tcp4(&e);
	h_flags(&e, s[5], H_RP);
	H_RC(&e, h_setopt(&e, s[5], ST_SO_BINDTODEVICE, (uint32_t)lo), 0);
	H_RC(&e, h_bind(&e, s[5], "0.0.0.0:9002"), 0);
	H_RC(&e, h_listen(&e, s[5]), 0);
	s[6] = rp_listener(&e, ST_AF_INET, "127.0.0.2:9002", H_NONE);
	for (int i = 0; i < 7; i++)
		for (int j = 0; j < i; j++)
			H_ASSERT(&e, sk_rpg(s[i]) != sk_rpg(s[j]),
				 "listeners %d and %d must be in different groups", j, i);
	/* Another uid cannot even listen beside them (B-T4). */
	s[7] = h_sock(&e, ST_TCP, ST_AF_INET, H_UID + 1);
	h_flags(&e, s[7], H_RP);
	H_RC(&e, h_bind(&e, s[7], "127.0.0.1:9002"), -EADDRINUSE);
	h_env_done(&e);
}

static void test_drp1_udp_uid_and_address(void **st)
{
	h_env e;
	st_sock *a, *b, *c, *d, *x;
	(void)st;
	h_env_init(&e, 8, "D-RP1 UDP joins at bind(); uid and exact address are part of the key");
	a = rp_udp(&e, ST_AF_INET, "127.0.0.1:9100", H_RA, H_UID);
	b = rp_udp(&e, ST_AF_INET, "127.0.0.1:9100", H_RA, H_UID);
	H_ASSERT(&e, sk_rpg(a) && sk_rpg(a) == sk_rpg(b) && sk_rpi(b) == 1,
		 "UDP joins at bind");
	/* Another uid binds through SO_REUSEADDR (B-U3) and starts a group. */
	c = rp_udp(&e, ST_AF_INET, "127.0.0.1:9100", H_RA, H_UID + 1);
	H_ASSERT(&e, c->lport == 9100, "bound");
	H_ASSERT(&e, sk_rpg(c) && sk_rpg(c) != sk_rpg(a), "uid %u must get its own group",
		 H_UID + 1);
	d = rp_udp(&e, ST_AF_INET, "0.0.0.0:9100", H_RA, H_UID + 1);
	H_ASSERT(&e, sk_rpg(d) != sk_rpg(c), "0.0.0.0 and 127.0.0.1: different groups");
	/* Without SO_REUSEPORT: no group at all. */
	x = h_udp4(&e);
	h_flags(&e, x, H_RA);
	H_RC(&e, h_bind(&e, x, "0.0.0.0:9100"), 0);
	H_ASSERT(&e, !sk_rpg(x), "a socket without SO_REUSEPORT has no group");
	h_env_done(&e);
}

/* E19b: SO_REUSEPORT set after listen() makes no group; a later RP
 * listener pairs with that socket (reuseport_add_sock allocates a group
 * for it), and the two share new connections (6.18: 16/24 of 40). */
static void test_drp1_option_after_listen_pairs(void **st)
{
	h_env e;
	st_sock *a, *b, *socks[2];
	unsigned cnt[3];
	(void)st;
	h_env_init(&e, 4, "E19b SO_REUSEPORT after listen(): the next RP listener pairs with it");
	a = h_tcp4(&e);
	H_RC(&e, h_bind(&e, a, "127.0.0.1:9003"), 0);
	H_RC(&e, h_listen(&e, a), 0);
	H_RC(&e, h_setopt(&e, a, ST_SO_REUSEPORT, 1), 0);
	H_ASSERT(&e, !sk_rpg(a), "setting the option on a listener makes no group");
	b = rp_listener(&e, ST_AF_INET, "127.0.0.1:9003", H_NONE);
	H_ASSERT(&e, sk_rpg(a) && sk_rpg(a) == sk_rpg(b) && sk_rpi(a) == 0 &&
		 sk_rpi(b) == 1, "A founds the group with B: indexes %u %u", sk_rpi(a),
		 sk_rpi(b));
	socks[0] = a;
	socks[1] = b;
	h_spread(&e, ST_TCP, "127.0.0.1:9003", socks, 2, 400, cnt);
	H_ASSERT(&e, cnt[0] > 120 && cnt[1] > 120 && cnt[2] == 0, "A/B %s: both should share",
		 h_counts_str(cnt, 2));
	h_env_done(&e);
}

/* ------------------------------------------------------------------ */
/* D-RP2 / D-RP3 / D-RP4                                                */
/* ------------------------------------------------------------------ */

static void test_drp2_swap_with_last(void **st)
{
	h_env e;
	st_sock *m[5];
	(void)st;
	h_env_init(&e, 6, "D-RP2 removal moves the last member into the hole");
	for (int i = 0; i < 5; i++)
		m[i] = rp_udp(&e, ST_AF_INET, "127.0.0.1:9200", H_NONE, H_UID);
	h_close(&e, m[1]);
	H_ASSERT(&e, sk_rpi(m[4]) == 1 && sk_rpi(m[0]) == 0 && sk_rpi(m[2]) == 2 &&
		 sk_rpi(m[3]) == 3, "after closing #1: indexes %u %u %u %u", sk_rpi(m[0]),
		 sk_rpi(m[2]), sk_rpi(m[3]), sk_rpi(m[4]));
	h_close(&e, m[3]);
	H_ASSERT(&e, sk_rpi(m[4]) == 1 && sk_rpi(m[2]) == 2, "closing the last one moves "
		 "nobody");
	h_close(&e, m[0]);
	H_ASSERT(&e, sk_rpi(m[2]) == 0 && sk_rpi(m[4]) == 1, "after closing #0: the last "
		 "(#2 at 2) moves to 0; got #2 %u #4 %u", sk_rpi(m[2]), sk_rpi(m[4]));
	h_env_done(&e);
}

/* D-RP3: every pick is (hash * n) >> 32 of the explain's hash. */
static void multiply_shift(int proto)
{
	h_env e;
	st_sock *m[7];
	unsigned cnt[7] = {0};
	const char *ep = proto == ST_TCP ? "127.0.0.1:9300" : "127.0.0.1:9301";
	h_env_init(&e, 8, proto == ST_TCP ? "D-RP3 TCP pick = (hash * 7) >> 32"
					  : "D-RP3 UDP pick = (hash * 7) >> 32");
	for (int i = 0; i < 7; i++)
		m[i] = proto == ST_TCP ? rp_listener(&e, ST_AF_INET, ep, H_NONE)
				       : rp_udp(&e, ST_AF_INET, ep, H_NONE, H_UID);
	st_sockaddr d = h_parse(&e, ep);
	uint32_t seen_hash_bits = 0;
	for (unsigned f = 0; f < 700; f++) {
		st_pkt p = h_flow(proto, ST_AF_INET, &d.addr, d.port, f);
		st_lookup_explain lex;
		st_sock *got = h_lookup(&e, &p, &lex);
		uint32_t want = (uint32_t)(((uint64_t)lex.hash * 7) >> 32);
		H_ASSERT(&e, got && lex.group_size == 7 && lex.group_index == want &&
			 sk_rpi(got) == want, "flow %u: hash %08x picks index %u (member %s at %u), "
			 "expected (hash*7)>>32 = %u", f, lex.hash, lex.group_index, h_who(&e, got),
			 got ? sk_rpi(got) : 99, want);
		cnt[want]++;
		seen_hash_bits |= lex.hash;
	}
	H_ASSERT(&e, (seen_hash_bits >> 28) == 0xf, "hashes should use their high bits");
	for (int i = 0; i < 7; i++)
		H_ASSERT(&e, sk_rpi(m[i]) == (uint32_t)i, "member %d sits at index %u", i, sk_rpi(m[i]));
	for (int i = 0; i < 7; i++)
		H_ASSERT(&e, cnt[i] > 50 && cnt[i] < 150, "member %d got %u of 700 flows; the hash "
			 "should spread them (expected about 100)", i, cnt[i]);
	/* Deterministic for a fixed group. */
	st_pkt p = h_flow(proto, ST_AF_INET, &d.addr, d.port, 12345);
	st_sock *first = h_lookup(&e, &p, NULL);
	for (int k = 0; k < 3; k++)
		H_ASSERT(&e, h_lookup(&e, &p, NULL) == first, "the same flow must map the same way");
	h_env_done(&e);
}

static void test_drp3_multiply_shift_tcp(void **st)
{
	(void)st;
	multiply_shift(ST_TCP);
}

static void test_drp3_multiply_shift_udp(void **st)
{
	(void)st;
	multiply_shift(ST_UDP);
}

/* X19: 4 UDP members, 400 flows, close member 1: only the transitions
 * 0->0, 1->0, 1->3, 2->2, 2->3, 3->2 occur (6.18: 108, 36, 70, 30, 61, 95). */
static void test_drp4_x19_remap(void **st)
{
	h_env e;
	st_sock *m[4];
	int before[400];
	unsigned trans[4][4] = {{0}};
	(void)st;
	h_env_init(&e, 6, "X19/D-RP4 closing member 1 of 4 remaps flows as floor(3h) vs floor(4h)");
	for (int i = 0; i < 4; i++)
		m[i] = rp_udp(&e, ST_AF_INET, "127.0.0.1:9400", H_NONE, H_UID);
	st_sockaddr d = h_parse(&e, "127.0.0.1:9400");
	for (unsigned f = 0; f < 400; f++) {
		st_pkt p = h_flow(ST_UDP, ST_AF_INET, &d.addr, d.port, f);
		before[f] = h_which(m, 4, h_lookup(&e, &p, NULL));
		H_ASSERT(&e, before[f] >= 0, "flow %u reached no member", f);
	}
	h_close(&e, m[1]);
	for (unsigned f = 0; f < 400; f++) {
		st_pkt p = h_flow(ST_UDP, ST_AF_INET, &d.addr, d.port, f);
		int after = h_which(m, 4, h_lookup(&e, &p, NULL));
		H_ASSERT(&e, after >= 0 && after != 1, "flow %u reached %d after closing 1", f, after);
		trans[before[f]][after]++;
	}
	static const int allowed[4][4] = {{1, 0, 0, 0}, {1, 0, 0, 1}, {0, 0, 1, 1}, {0, 0, 1, 0}};
	/* expected shares of 400: 0->0 1/4, 1->0 1/12, 1->3 1/6, 2->2 1/12, 2->3 1/6, 3->2 1/4 */
	static const unsigned expect[4][4] = {{100, 0, 0, 0}, {33, 0, 0, 67}, {0, 0, 33, 67},
					      {0, 0, 100, 0}};
	for (int a = 0; a < 4; a++)
		for (int b = 0; b < 4; b++) {
			if (!allowed[a][b])
				H_ASSERT(&e, trans[a][b] == 0, "transition %d->%d happened %u times; "
					 "multiply-shift with swap-with-last never does that", a, b,
					 trans[a][b]);
			else
				H_ASSERT(&e, trans[a][b] * 2 > expect[a][b] && trans[a][b] < expect[a][b] * 2,
					 "transition %d->%d: %u times, expected about %u", a, b,
					 trans[a][b], expect[a][b]);
		}
	h_env_done(&e);
}

/* ------------------------------------------------------------------ */
/* E14: joining after a member connected (6.13+ detach)                 */
/* ------------------------------------------------------------------ */

static void spread3(h_env *e, const char *to, st_sock *const *s, int n, unsigned *cnt)
{
	h_spread(e, ST_UDP, to, s, n, 300, cnt);
}

/* E14a: IPv4 A, B, C; C connects; D binds: D pairs with C (newest in the
 * primary chain) and, at the head of the chain, takes every flow; E then
 * joins {C, D} and C is skipped: D 2/3, E 1/3 (6.18: 256 of 256 to D,
 * then 199/101). */
static void test_e14a_v4_join_connected_member(void **st)
{
	h_env e;
	st_sock *s[5];
	unsigned cnt[6];
	(void)st;
	h_env_init(&e, 6, "E14a IPv4: a member bound after C connected pairs with C");
	for (int i = 0; i < 3; i++)
		s[i] = rp_udp(&e, ST_AF_INET, "127.0.0.1:21400", H_NONE, H_UID);
	spread3(&e, "127.0.0.1:21400", s, 3, cnt);
	H_ASSERT(&e, cnt[0] > 60 && cnt[1] > 60 && cnt[2] > 60, "A/B/C %s", h_counts_str(cnt, 3));
	H_RC(&e, h_connect(&e, s[2], "127.0.0.1:9"), 0);
	H_ASSERT(&e, !sk_rpg(s[2]) && group_size(&e, s[0]) == 2, "C left the group (D-U9)");
	spread3(&e, "127.0.0.1:21400", s, 3, cnt);
	H_ASSERT(&e, cnt[2] == 0 && cnt[0] > 100 && cnt[1] > 100, "A/B/C %s", h_counts_str(cnt, 3));
	s[3] = rp_udp(&e, ST_AF_INET, "127.0.0.1:21400", H_NONE, H_UID);
	H_ASSERT(&e, sk_rpg(s[3]) && sk_rpg(s[3]) == sk_rpg(s[2]) && sk_rpi(s[2]) == 0 &&
		 sk_rpi(s[3]) == 1, "D should found a group with C (C index 0, D 1)");
	H_ASSERT(&e, group_size(&e, s[0]) == 2, "A and B's group is untouched");
	spread3(&e, "127.0.0.1:21400", s, 4, cnt);
	H_ASSERT(&e, cnt[3] == 300, "A/B/C/D %s, expected D all 300", h_counts_str(cnt, 4));
	s[4] = rp_udp(&e, ST_AF_INET, "127.0.0.1:21400", H_NONE, H_UID);
	H_ASSERT(&e, sk_rpg(s[4]) == sk_rpg(s[3]) && sk_rpi(s[4]) == 2, "E joins {C, D}");
	spread3(&e, "127.0.0.1:21400", s, 5, cnt);
	H_ASSERT(&e, cnt[0] + cnt[1] + cnt[2] == 0 && cnt[3] > 160 && cnt[4] > 70 && cnt[4] < 130,
		 "A/B/C/D/E %s, expected about 0/0/0/200/100", h_counts_str(cnt, 5));
	/* C still gets its peer's datagrams. */
	H_LOOKUP(&e, ST_UDP, "127.0.0.1:9", "127.0.0.1:21400", s[2]);
	h_env_done(&e);
}

/* E14b: C connects and disconnects: a group-less RP socket at the head;
 * it takes everything; D pairs with it and they split (6.18: 130/170). */
static void test_e14b_v4_join_disconnected_member(void **st)
{
	h_env e;
	st_sock *s[5];
	unsigned cnt[6];
	(void)st;
	h_env_init(&e, 6, "E14b IPv4: C connected and disconnected; D pairs with C");
	for (int i = 0; i < 3; i++)
		s[i] = rp_udp(&e, ST_AF_INET, "127.0.0.1:21401", H_NONE, H_UID);
	H_RC(&e, h_connect(&e, s[2], "127.0.0.1:9"), 0);
	H_RC(&e, h_disconnect(&e, s[2]), 0);
	H_NAME(&e, s[2], "127.0.0.1:21401");
	spread3(&e, "127.0.0.1:21401", s, 3, cnt);
	H_ASSERT(&e, cnt[2] == 300, "A/B/C %s, expected C all", h_counts_str(cnt, 3));
	s[3] = rp_udp(&e, ST_AF_INET, "127.0.0.1:21401", H_NONE, H_UID);
	H_ASSERT(&e, sk_rpg(s[3]) == sk_rpg(s[2]) && sk_rpg(s[2]), "D pairs with C");
	spread3(&e, "127.0.0.1:21401", s, 4, cnt);
	H_ASSERT(&e, cnt[0] + cnt[1] == 0 && cnt[2] > 100 && cnt[3] > 100, "A/B/C/D %s",
		 h_counts_str(cnt, 4));
	s[4] = rp_udp(&e, ST_AF_INET, "127.0.0.1:21401", H_NONE, H_UID);
	spread3(&e, "127.0.0.1:21401", s, 5, cnt);
	H_ASSERT(&e, cnt[0] + cnt[1] == 0 && cnt[2] > 60 && cnt[3] > 60 && cnt[4] > 60,
		 "A/B/C/D/E %s, expected C, D, E about 100 each", h_counts_str(cnt, 5));
	h_env_done(&e);
}

/* E14c: IPv6 RP sockets sit at the tail of the primary chain, so D finds
 * A first and joins the surviving group {A, B} (6.18: 96/90/0/114). */
static void test_e14c_v6_join_surviving_group(void **st)
{
	h_env e;
	st_sock *s[5];
	unsigned cnt[6];
	(void)st;
	h_env_init(&e, 6, "E14c IPv6: D joins the surviving group after C connected");
	for (int i = 0; i < 3; i++)
		s[i] = rp_udp(&e, ST_AF_INET6, "[::1]:21402", H_NONE, H_UID);
	H_RC(&e, h_connect(&e, s[2], "[::1]:9"), 0);
	spread3(&e, "[::1]:21402", s, 3, cnt);
	H_ASSERT(&e, cnt[2] == 0 && cnt[0] > 100 && cnt[1] > 100, "A/B/C %s", h_counts_str(cnt, 3));
	s[3] = rp_udp(&e, ST_AF_INET6, "[::1]:21402", H_NONE, H_UID);
	H_ASSERT(&e, sk_rpg(s[3]) == sk_rpg(s[0]) && sk_rpi(s[3]) == 2, "D joins {A, B}");
	spread3(&e, "[::1]:21402", s, 4, cnt);
	H_ASSERT(&e, cnt[2] == 0 && cnt[0] > 60 && cnt[1] > 60 && cnt[3] > 60, "A/B/C/D %s",
		 h_counts_str(cnt, 4));
	s[4] = rp_udp(&e, ST_AF_INET6, "[::1]:21402", H_NONE, H_UID);
	spread3(&e, "[::1]:21402", s, 5, cnt);
	H_ASSERT(&e, cnt[2] == 0 && cnt[0] > 40 && cnt[1] > 40 && cnt[3] > 40 && cnt[4] > 40,
		 "A/B/C/D/E %s, expected four ways", h_counts_str(cnt, 5));
	h_env_done(&e);
}

/* E14d: IPv6, C connected and disconnected: the first connect moved C to
 * the head of the chain (E16), so C, group-less, takes everything even
 * after D joins {A, B} (6.18: 256 of 256 to C throughout). */
static void test_e14d_v6_disconnected_member_first(void **st)
{
	h_env e;
	st_sock *s[5];
	unsigned cnt[6];
	(void)st;
	h_env_init(&e, 6, "E14d IPv6: C connected + disconnected sits at the head and takes all");
	for (int i = 0; i < 3; i++)
		s[i] = rp_udp(&e, ST_AF_INET6, "[::1]:21403", H_NONE, H_UID);
	H_RC(&e, h_connect(&e, s[2], "[::1]:9"), 0);
	H_RC(&e, h_disconnect(&e, s[2]), 0);
	spread3(&e, "[::1]:21403", s, 3, cnt);
	H_ASSERT(&e, cnt[2] == 300, "A/B/C %s, expected C all", h_counts_str(cnt, 3));
	s[3] = rp_udp(&e, ST_AF_INET6, "[::1]:21403", H_NONE, H_UID);
	H_ASSERT(&e, sk_rpg(s[3]) == sk_rpg(s[0]), "D joins {A, B}");
	s[4] = rp_udp(&e, ST_AF_INET6, "[::1]:21403", H_NONE, H_UID);
	spread3(&e, "[::1]:21403", s, 5, cnt);
	H_ASSERT(&e, cnt[2] == 300, "A/B/C/D/E %s, expected C all", h_counts_str(cnt, 5));
	h_env_done(&e);
}

/* E14e: A and B; A connects; B closes; D binds: D pairs with the
 * connected A, which is skipped: D gets everything. */
static void test_e14e_pair_with_connected_only(void **st)
{
	h_env e;
	st_sock *s[3];
	unsigned cnt[4];
	(void)st;
	h_env_init(&e, 4, "E14e the only other member is connected: D pairs with it, D gets all");
	s[0] = rp_udp(&e, ST_AF_INET, "127.0.0.1:21404", H_NONE, H_UID);
	s[1] = rp_udp(&e, ST_AF_INET, "127.0.0.1:21404", H_NONE, H_UID);
	H_RC(&e, h_connect(&e, s[0], "127.0.0.1:9"), 0);
	h_close(&e, s[1]);
	s[2] = rp_udp(&e, ST_AF_INET, "127.0.0.1:21404", H_NONE, H_UID);
	H_ASSERT(&e, sk_rpg(s[2]) && sk_rpg(s[2]) == sk_rpg(s[0]) && sk_rpi(s[0]) == 0,
		 "D founds a group with the connected A");
	st_sock *pair[2] = {s[0], s[2]};
	h_spread(&e, ST_UDP, "127.0.0.1:21404", pair, 2, 300, cnt);
	H_ASSERT(&e, cnt[1] == 300, "A/D %s, expected D all", h_counts_str(cnt, 2));
	h_env_done(&e);
}

/* E15e: B-U4 reads the port's primary chain, where IPv6 SO_REUSEPORT
 * owners are appended at the tail: `::` RA bound first stays ahead of the
 * newer `::1` RA+RP socket and refuses a `::1` RP-only newcomer; E15f, the
 * IPv4 control (= X8), admits it. */
static void test_e15e_primary_order(void **st)
{
	h_env e;
	st_sock *s2, *s1, *c;
	(void)st;
	h_env_init(&e, 10, "E15e IPv6: `::` RA, `::1` RA+RP, then `::1` RP: EADDRINUSE");
	s2 = h_udp6(&e);
	h_flags(&e, s2, H_RA);
	H_RC(&e, h_bind(&e, s2, "[::]:21505"), 0);
	s1 = rp_udp(&e, ST_AF_INET6, "[::1]:21505", H_RA, H_UID);
	c = h_udp6(&e);
	h_flags(&e, c, H_RP);
	H_RC(&e, h_bind(&e, c, "[::1]:21505"), -EADDRINUSE);
	H_ASSERT(&e, e.ex.conflict == s2, "the refusing owner is the older `::` socket, got %s",
		 h_who(&e, e.ex.conflict));
	(void)s1;
	h_ctx(&e, "E15e2 the same with `::1` RA+RP bound first: EADDRINUSE");
	s1 = rp_udp(&e, ST_AF_INET6, "[::1]:21506", H_RA, H_UID);
	s2 = h_udp6(&e);
	h_flags(&e, s2, H_RA);
	H_RC(&e, h_bind(&e, s2, "[::]:21506"), 0);
	c = h_udp6(&e);
	h_flags(&e, c, H_RP);
	H_RC(&e, h_bind(&e, c, "[::1]:21506"), -EADDRINUSE);
	h_ctx(&e, "E15f IPv4 control: 0.0.0.0 RA, 127.0.0.1 RA+RP, 127.0.0.1 RP: ok");
	s2 = h_udp4(&e);
	h_flags(&e, s2, H_RA);
	H_RC(&e, h_bind(&e, s2, "0.0.0.0:21507"), 0);
	s1 = rp_udp(&e, ST_AF_INET, "127.0.0.1:21507", H_RA, H_UID);
	c = h_udp4(&e);
	h_flags(&e, c, H_RP);
	H_RC(&e, h_bind(&e, c, "127.0.0.1:21507"), 0);
	H_ASSERT(&e, sk_rpg(c) == sk_rpg(s1), "C joins the RA+RP socket's group");
	h_env_done(&e);
}

/* ------------------------------------------------------------------ */
/* The 32,768-member cap (E17)                                          */
/* ------------------------------------------------------------------ */

enum { CAP = 32768 };

/* Building 32,768 members through the helpers would run st_net_check
 * after each call (quadratic); the bulk goes straight to the library and
 * the tables are checked at the end. */
static void cap_case(int proto)
{
	h_env e;
	st_cred cred = h_cred(H_UID, 0);
	st_sockaddr sa;
	h_env_init(&e, CAP + 3, proto == ST_TCP ? "E17 a TCP group holds 32,768 listeners"
						: "E17 a UDP group holds 32,768 sockets");
	sa = h_parse(&e, "127.0.0.1:21700");
	for (int i = 0; i < CAP; i++) {
		st_sock *s = &e.sk[e.n];
		int rc = st_sock_init(e.net, s, proto, ST_AF_INET, H_UID);
		e.live[e.n++] = 1;
		if (!rc)
			rc = st_setsockopt(e.net, s, ST_SO_REUSEPORT, 1, &cred);
		if (!rc)
			rc = st_bind(e.net, s, &sa, ST_SOCKADDR_IN_LEN, &cred, NULL);
		if (!rc && proto == ST_TCP)
			rc = st_listen(e.net, s, &cred, NULL);
		if (rc)
			H_FAIL(&e, "member %d: %s", i + 1, h_rc(rc));
	}
	h_check(&e);
	H_ASSERT(&e, sk_rpg(&e.sk[0]) && sk_rpg(&e.sk[CAP - 1]) == sk_rpg(&e.sk[0]) &&
		 sk_rpi(&e.sk[CAP - 1]) == CAP - 1, "one group of %d", CAP);
	st_sock *x = h_sock(&e, proto, ST_AF_INET, H_UID);
	h_flags(&e, x, H_RP);
	if (proto == ST_TCP) {
		/* bind() works; listen() fails with ENOMEM and the socket
		 * stays bound and closed (E17: getsockname 127.0.0.1:21700,
		 * a second listen ENOMEM again). */
		H_RC(&e, h_bind(&e, x, "127.0.0.1:21700"), 0);
		H_RC(&e, h_listen(&e, x), -ENOMEM);
		H_ASSERT(&e, x->state == ST_CLOSE && !sk_rpg(x), "state %d", (int)x->state);
		H_NAME(&e, x, "127.0.0.1:21700");
		H_RC(&e, h_listen(&e, x), -ENOMEM);
		st_close(e.net, &e.sk[5]);
		e.live[5] = 0;
		H_ASSERT(&e, sk_rpi(&e.sk[CAP - 1]) == 5, "the last member moved into slot 5");
		H_RC(&e, h_listen(&e, x), 0);
		H_ASSERT(&e, sk_rpi(x) == CAP - 1, "the newcomer takes the last slot, got %u",
			 sk_rpi(x));
	} else {
		H_RC(&e, h_bind(&e, x, "127.0.0.1:21700"), -EADDRINUSE);
		H_ASSERT(&e, x->lport == 0 && !sk_rpg(x), "a refused bind leaves the socket unbound");
		H_ASSERT(&e, e.ex.rule == ST_RULE_UDP_CONFLICT && strstr(e.ex.text, "32768"),
			 "explain should name the group limit: \"%s\"", e.ex.text);
		st_close(e.net, &e.sk[5]);
		e.live[5] = 0;
		H_RC(&e, h_bind(&e, x, "127.0.0.1:21700"), 0);
	}
	h_check(&e);
	/* Close the bulk without a table check per call, then the rest. */
	for (int i = 0; i < CAP; i++)
		if (e.live[i]) {
			st_close(e.net, &e.sk[i]);
			e.live[i] = 0;
		}
	h_env_done(&e);
}

static void test_cap_tcp(void **st)
{
	(void)st;
	cap_case(ST_TCP);
}

static void test_cap_udp(void **st)
{
	(void)st;
	cap_case(ST_UDP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_drp1_tcp_same_key_joins),
		cmocka_unit_test(test_drp1_tcp_join_at_listen_not_bind),
		cmocka_unit_test(test_drp1_tcp_separate_groups),
		cmocka_unit_test(test_drp1_udp_uid_and_address),
		cmocka_unit_test(test_drp1_option_after_listen_pairs),
		cmocka_unit_test(test_drp2_swap_with_last),
		cmocka_unit_test(test_drp3_multiply_shift_tcp),
		cmocka_unit_test(test_drp3_multiply_shift_udp),
		cmocka_unit_test(test_drp4_x19_remap),
		cmocka_unit_test(test_e14a_v4_join_connected_member),
		cmocka_unit_test(test_e14b_v4_join_disconnected_member),
		cmocka_unit_test(test_e14c_v6_join_surviving_group),
		cmocka_unit_test(test_e14d_v6_disconnected_member_first),
		cmocka_unit_test(test_e14e_pair_with_connected_only),
		cmocka_unit_test(test_e15e_primary_order),
		cmocka_unit_test(test_cap_tcp),
		cmocka_unit_test(test_cap_udp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
