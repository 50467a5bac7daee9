/*
 * test_demux_tcp.c - which TCP socket receives a segment (linux-semantics.md
 * section 7, D-T1..D-T9; experiments X12, X14, E6, E10).
 *
 * Every case builds sockets with bind/listen/accept/connect and asks
 * st_lookup_tcp where segments go, checking the stage that decided and,
 * where the rule is about scoring, the candidates and their "why" bits.
 * The rules tested are the kernel's lookup order (4-tuple, exact-address
 * listeners, wildcard listeners), compute_score (+1 device, +1 AF_INET for
 * IPv4), the scan that takes only strictly higher scores and returns at
 * once at a SO_REUSEPORT best (D-T5), and the chain order that makes the
 * last two visible (IPv4 and non-RP IPv6 listeners at the head, RP IPv6
 * listeners at the tail).  Reuseport groups themselves are test_reuseport.c.
 */
#include "helpers.h"
#include "net_internal.h" /* sk_rpg, sk_rpi: a socket's SO_REUSEPORT group and slot */

/* A bound + listening TCP socket with flags, or fail. */
static st_sock *listener_at(h_env *e, int family, const char *ep, unsigned flags, int dev,
			    const char *file, int line)
{
	st_sock *l = h_sock_at(e, ST_TCP, family, H_UID, file, line);
	int rc;
	h_flags_at(e, l, flags, file, line);
	if (dev && (rc = h_setopt_cred_at(e, l, ST_SO_BINDTODEVICE, (uint32_t)dev, 0, file, line)))
		h_fail_at(e, file, line, "SO_BINDTODEVICE %d: %s", dev, h_rc(rc));
	if ((rc = h_bind_at(e, l, ep, file, line)) != 0)
		h_fail_at(e, file, line, "bind(%s) = %s", ep, h_rc(rc));
	if ((rc = h_listen_at(e, l, file, line)) != 0)
		h_fail_at(e, file, line, "listen(%s) = %s", ep, h_rc(rc));
	return l;
}
#define listener(e, fam, ep, fl) listener_at((e), (fam), (ep), (fl), 0, __FILE__, __LINE__)
#define listener_dev(e, fam, ep, fl, dev) listener_at((e), (fam), (ep), (fl), (dev), __FILE__, __LINE__)

static st_lookup_explain lookup_ex(h_env *e, const char *from, const char *to, int ifindex,
				   st_sock **got)
{
	st_pkt p = h_pkt_dev(e, ST_TCP, from, to, ifindex);
	st_lookup_explain lex;
	*got = h_lookup(e, &p, &lex);
	return lex;
}

/* The explain's candidate entry for sk, or NULL. */
static const st_candidate *cand_of(const st_lookup_explain *lex, const st_sock *sk)
{
	for (int i = 0; i < lex->ncand; i++)
		if (lex->cand[i].sk == sk)
			return &lex->cand[i];
	return NULL;
}

/* ------------------------------------------------------------------ */
/* D-T1: the exact 4-tuple first                                         */
/* ------------------------------------------------------------------ */

static void test_dt1_established_before_listener(void **st)
{
	h_env e;
	st_sock *l, *c, *got;
	(void)st;
	h_env_init(&e, 8, "D-T1 an accepted connection's segments go to it, others to the listener");
	l = listener(&e, ST_AF_INET, "127.0.0.1:8080", H_NONE);
	H_RC(&e, h_accept(&e, l, "127.0.0.1:8080", "127.0.0.2:40000", ST_ESTABLISHED, &c), 0);
	st_lookup_explain lex = lookup_ex(&e, "127.0.0.2:40000", "127.0.0.1:8080", ST_IFINDEX_LO, &got);
	H_ASSERT(&e, got == c, "segment of the connection reached %s, expected the child %s",
		 h_who(&e, got), h_who(&e, c));
	H_ASSERT(&e, lex.stage == ST_STAGE_ESTABLISHED, "stage %d, expected ESTABLISHED",
		 (int)lex.stage);
	H_ASSERT(&e, strstr(lex.text, "4-tuple") != NULL, "explain text \"%s\" should name the "
		 "4-tuple stage", lex.text);
	lex = lookup_ex(&e, "127.0.0.2:40001", "127.0.0.1:8080", ST_IFINDEX_LO, &got);
	H_ASSERT(&e, got == l && lex.stage == ST_STAGE_EXACT_ADDR,
		 "a new SYN reached %s at stage %d, expected the listener at EXACT_ADDR",
		 h_who(&e, got), (int)lex.stage);
	/* The peer's own direction is another 4-tuple. */
	H_LOOKUP(&e, ST_TCP, "127.0.0.1:8080", "127.0.0.2:40000", NULL);
	h_close(&e, c);
	H_LOOKUP(&e, ST_TCP, "127.0.0.2:40000", "127.0.0.1:8080", l);
	h_env_done(&e);
}

static void test_dt1_synrecv_and_timewait_children(void **st)
{
	h_env e;
	st_sock *l, *rq, *tw, *got;
	(void)st;
	h_env_init(&e, 8, "D-T1 SYN-RECV and TIME_WAIT sockets are in the 4-tuple stage");
	l = listener(&e, ST_AF_INET, "0.0.0.0:8080", H_NONE);
	H_RC(&e, h_accept(&e, l, "127.0.0.1:8080", "127.0.0.9:1000", ST_SYN_RECV, &rq), 0);
	H_RC(&e, h_accept(&e, l, "127.0.0.1:8080", "127.0.0.9:1001", ST_ESTABLISHED, &tw), 0);
	H_RC(&e, h_set_state(&e, tw, ST_FIN_WAIT1), 0);
	H_RC(&e, h_timewait(&e, tw, true), 0);
	st_lookup_explain lex = lookup_ex(&e, "127.0.0.9:1000", "127.0.0.1:8080", ST_IFINDEX_LO, &got);
	H_ASSERT(&e, got == rq && lex.stage == ST_STAGE_ESTABLISHED,
		 "SYN-RECV child: reached %s at stage %d", h_who(&e, got), (int)lex.stage);
	lex = lookup_ex(&e, "127.0.0.9:1001", "127.0.0.1:8080", ST_IFINDEX_LO, &got);
	H_ASSERT(&e, got == tw && lex.stage == ST_STAGE_ESTABLISHED && got->state == ST_TIME_WAIT,
		 "TIME_WAIT socket: reached %s at stage %d", h_who(&e, got), (int)lex.stage);
	H_LOOKUP(&e, ST_TCP, "127.0.0.9:1002", "127.0.0.1:8080", l);
	/* The 4-tuple must match exactly: another local address is not it. */
	H_LOOKUP(&e, ST_TCP, "127.0.0.9:1001", "127.0.0.2:8080", l);
	h_env_done(&e);
}

static void test_dt1_connecting_socket(void **st)
{
	h_env e;
	st_sock *c;
	(void)st;
	h_env_init(&e, 4, "D-T1 a SYN-SENT socket receives the SYN-ACK by its 4-tuple");
	c = h_tcp4(&e);
	H_RC(&e, h_bind(&e, c, "127.0.0.1:5000"), 0);
	H_RC(&e, h_connect(&e, c, "127.0.0.3:8080"), 0);
	H_LOOKUP(&e, ST_TCP, "127.0.0.3:8080", "127.0.0.1:5000", c);
	H_LOOKUP(&e, ST_TCP, "127.0.0.3:8081", "127.0.0.1:5000", NULL);
	/* Batched lookup agrees with the single one. */
	st_pkt p1 = h_pkt(&e, ST_TCP, "127.0.0.3:8080", "127.0.0.1:5000");
	st_pkt p2 = h_pkt(&e, ST_TCP, "127.0.0.3:82", "127.0.0.1:5000");
	const st_pkt *ps[2] = {&p1, &p2};
	st_sock *out[2] = {NULL, c};
	st_lookup_established_batch(e.net, ps, 2, out);
	H_ASSERT(&e, out[0] == c && out[1] == NULL, "batch gave %s, %s; expected %s, NULL",
		 h_who(&e, out[0]), h_who(&e, out[1]), h_who(&e, c));
	H_ASSERT(&e, st_lookup_established(e.net, &p1) == c, "st_lookup_established disagrees");
	h_env_done(&e);
}

/* D-T2: the 4-tuple stage also compares the bound device. */
static void test_dt2_established_device(void **st)
{
	h_env e;
	st_sock *l, *c;
	int d0;
	(void)st;
	h_env_init(&e, 6, "D-T2 a device-bound child is found only from its device");
	d0 = h_device(&e, "d0", "10.0.0.1", 24, NULL, 0);
	l = listener_dev(&e, ST_AF_INET, "0.0.0.0:8080", H_NONE, d0);
	H_RC(&e, h_accept(&e, l, "10.0.0.1:8080", "10.0.0.2:3000", ST_ESTABLISHED, &c), 0);
	H_ASSERT(&e, c->dev == d0, "the child should inherit device %d, has %d", d0, (int)c->dev);
	H_LOOKUP_DEV(&e, ST_TCP, "10.0.0.2:3000", "10.0.0.1:8080", d0, c);
	/* From lo: not the child, and not the listener either (bound to d0). */
	H_LOOKUP_DEV(&e, ST_TCP, "10.0.0.2:3000", "10.0.0.1:8080", ST_IFINDEX_LO, NULL);
	h_env_done(&e);
}

/* ------------------------------------------------------------------ */
/* D-T1/D-T7: the exact-address stage beats the wildcard stage           */
/* ------------------------------------------------------------------ */

static void exact_beats_wildcard(bool wildcard_first)
{
	h_env e;
	st_sock *w = NULL, *x, *got;
	(void)got;
	h_env_init(&e, 4, wildcard_first ? "D-T1 exact beats wildcard (wildcard listened first)"
					 : "D-T1 exact beats wildcard (exact listened first)");
	/* The wildcard listener scores 3 (device + AF_INET), the exact one 1
	 * (AF_INET6, v4-mapped): stages, not scores, decide.  Both need
	 * SO_REUSEPORT to listen on overlapping addresses. */
	if (wildcard_first)
		w = listener_dev(&e, ST_AF_INET, "0.0.0.0:8080", H_RP, ST_IFINDEX_LO);
	x = listener(&e, ST_AF_INET6, "[::ffff:127.0.0.1]:8080", H_RP);
	if (!wildcard_first)
		w = listener_dev(&e, ST_AF_INET, "0.0.0.0:8080", H_RP, ST_IFINDEX_LO);
	st_lookup_explain lex = lookup_ex(&e, "127.0.0.5:999", "127.0.0.1:8080", ST_IFINDEX_LO, &got);
	H_ASSERT(&e, got == x && lex.stage == ST_STAGE_EXACT_ADDR,
		 "to 127.0.0.1: reached %s at stage %d, expected the ::ffff:127.0.0.1 listener %s",
		 h_who(&e, got), (int)lex.stage, h_who(&e, x));
	lex = lookup_ex(&e, "127.0.0.5:999", "127.0.0.2:8080", ST_IFINDEX_LO, &got);
	H_ASSERT(&e, got == w && lex.stage == ST_STAGE_WILDCARD,
		 "to 127.0.0.2: reached %s at stage %d, expected the wildcard listener",
		 h_who(&e, got), (int)lex.stage);
	const st_candidate *cw = cand_of(&lex, w);
	H_ASSERT(&e, cw && cw->score == 3 && (cw->why & ST_WHY_DEVICE) &&
		 (cw->why & ST_WHY_FAMILY_V4), "the wildcard candidate should score 3 with "
		 "DEVICE|FAMILY_V4, has %d / %#x", cw ? cw->score : -9, cw ? cw->why : 0);
	/* IPv6 packets never reach either: one is AF_INET, the other v4-mapped. */
	H_LOOKUP(&e, ST_TCP, "[::1]:999", "[::1]:8080", NULL);
	h_env_done(&e);
}

static void test_dt1_exact_beats_wildcard_a(void **st)
{
	(void)st;
	exact_beats_wildcard(true);
}

static void test_dt1_exact_beats_wildcard_b(void **st)
{
	(void)st;
	exact_beats_wildcard(false);
}

/* ------------------------------------------------------------------ */
/* D-T3 / D-T4: scores                                                   */
/* ------------------------------------------------------------------ */

static void ipv4_beats_dualstack(bool v4_first)
{
	h_env e;
	st_sock *v4 = NULL, *v6, *got;
	h_env_init(&e, 4, v4_first ? "D-T3 AF_INET beats dual-stack :: for IPv4 (AF_INET first)"
				   : "D-T3 AF_INET beats dual-stack :: for IPv4 (:: first)");
	/* Both are wildcard listeners of port 80: they can coexist only with
	 * SO_REUSEPORT, and they form two groups (different families). */
	if (v4_first)
		v4 = listener(&e, ST_AF_INET, "0.0.0.0:8080", H_RP);
	v6 = listener(&e, ST_AF_INET6, "[::]:8080", H_RP);
	if (!v4_first)
		v4 = listener(&e, ST_AF_INET, "0.0.0.0:8080", H_RP);
	H_ASSERT(&e, sk_rpg(v4) != sk_rpg(v6), "AF_INET and AF_INET6 listeners must not "
		 "share a reuseport group");
	st_lookup_explain lex = lookup_ex(&e, "127.0.0.7:1", "127.0.0.1:8080", ST_IFINDEX_LO, &got);
	H_ASSERT(&e, got == v4, "IPv4 SYN reached %s, expected the AF_INET listener %s",
		 h_who(&e, got), h_who(&e, v4));
	const st_candidate *c4 = cand_of(&lex, v4);
	H_ASSERT(&e, c4 && c4->score == 2 && c4->why == (ST_WHY_FAMILY_V4 | ST_WHY_REUSEPORT |
		 ST_WHY_EARLY_RETURN), "AF_INET candidate: score %d why %#x",
		 c4 ? c4->score : -9, c4 ? c4->why : 0);
	/* Whatever the order, the AF_INET listener is first: IPv4 ones go
	 * to the head, RP IPv6 ones to the tail; the scan stopped there. */
	H_ASSERT(&e, cand_of(&lex, v6) == NULL, "the scan should have returned before looking "
		 "at the :: listener");
	H_ASSERT(&e, lex.ncand == 1, "%d candidates listed, expected 1", lex.ncand);
	/* Without SO_REUSEPORT on the AF_INET one, both are scored and the
	 * score (2 against 1) decides. */
	H_RC(&e, h_setopt(&e, v4, ST_SO_REUSEPORT, 0), 0);
	lex = lookup_ex(&e, "127.0.0.7:1", "127.0.0.1:8080", ST_IFINDEX_LO, &got);
	const st_candidate *c6 = cand_of(&lex, v6);
	H_ASSERT(&e, got == v4 && c6 && c6->score == 1 && c6->why == 0,
		 "reached %s; :: candidate score %d why %#x", h_who(&e, got), c6 ? c6->score : -9,
		 c6 ? c6->why : 0);
	H_LOOKUP(&e, ST_TCP, "[::1]:1", "[::1]:8080", v6);
	h_env_done(&e);
}

static void test_dt3_ipv4_beats_dualstack_a(void **st)
{
	(void)st;
	ipv4_beats_dualstack(true);
}

static void test_dt3_ipv4_beats_dualstack_b(void **st)
{
	(void)st;
	ipv4_beats_dualstack(false);
}

static void test_dt3_device_scores(void **st)
{
	h_env e;
	st_sock *plain, *onlo, *ond0, *got;
	int d0;
	(void)st;
	h_env_init(&e, 6, "D-T3 device-bound listeners score +1; other devices are excluded");
	d0 = h_device(&e, "d0", "10.0.0.1", 24, NULL, 0);
	/* Listeners on two devices do not conflict with each other. */
	onlo = listener_dev(&e, ST_AF_INET, "0.0.0.0:8080", H_NONE, ST_IFINDEX_LO);
	ond0 = listener_dev(&e, ST_AF_INET, "0.0.0.0:8080", H_NONE, d0);
	st_lookup_explain lex = lookup_ex(&e, "10.0.0.2:5", "10.0.0.1:8080", d0, &got);
	H_ASSERT(&e, got == ond0, "SYN on d0 reached %s, expected %s", h_who(&e, got),
		 h_who(&e, ond0));
	const st_candidate *c = cand_of(&lex, onlo);
	H_ASSERT(&e, c && c->score == -1 && (c->why & ST_WHY_OTHER_DEVICE),
		 "the lo-bound listener should be excluded with OTHER_DEVICE, has %d / %#x",
		 c ? c->score : -9, c ? c->why : 0);
	c = cand_of(&lex, ond0);
	H_ASSERT(&e, c && c->score == 3 && c->why == (ST_WHY_DEVICE | ST_WHY_FAMILY_V4),
		 "the d0 listener: score %d why %#x, expected 3 DEVICE|FAMILY_V4",
		 c ? c->score : -9, c ? c->why : 0);
	H_LOOKUP_DEV(&e, ST_TCP, "127.0.0.2:5", "127.0.0.1:8080", ST_IFINDEX_LO, onlo);
	/* A device-less listener would conflict with both (B-T1). */
	plain = h_tcp4(&e);
	H_RC(&e, h_bind(&e, plain, "0.0.0.0:8080"), -EADDRINUSE);
	h_env_done(&e);
}

static void test_dt3_device_beats_plain_by_score(void **st)
{
	h_env e;
	st_sock *a, *b, *got;
	(void)st;
	h_env_init(&e, 4, "D-T3 device +1 decides once the first socket is not SO_REUSEPORT");
	/* A = 0.0.0.0:8080 on lo listens first, B = 0.0.0.0:8080 without
	 * device second and sits at the head.  While B has SO_REUSEPORT its
	 * group answers at once (D-T6); once B clears the flag the scan goes
	 * on, and A's score 3 beats B's 2. */
	a = listener_dev(&e, ST_AF_INET, "0.0.0.0:8080", H_RP, ST_IFINDEX_LO);
	b = listener(&e, ST_AF_INET, "0.0.0.0:8080", H_RP);
	H_LOOKUP(&e, ST_TCP, "127.0.0.2:5", "127.0.0.1:8080", b);
	H_RC(&e, h_setopt(&e, b, ST_SO_REUSEPORT, 0), 0);
	st_lookup_explain lex = lookup_ex(&e, "127.0.0.2:5", "127.0.0.1:8080", ST_IFINDEX_LO, &got);
	H_ASSERT(&e, got == a, "reached %s, expected the device-bound listener %s",
		 h_who(&e, got), h_who(&e, a));
	const st_candidate *ca = cand_of(&lex, a), *cb = cand_of(&lex, b);
	H_ASSERT(&e, ca && ca->score == 3 && (ca->why & ST_WHY_DEVICE) && (ca->why & ST_WHY_FAMILY_V4),
		 "device-bound: score %d why %#x", ca ? ca->score : -9, ca ? ca->why : 0);
	H_ASSERT(&e, cb && cb->score == 2 && cb->why == ST_WHY_FAMILY_V4, "plain: score %d why %#x",
		 cb ? cb->score : -9, cb ? cb->why : 0);
	H_ASSERT(&e, &lex.cand[0] == cb, "b comes first in chain order and is listed first");
	/* From another device only B. */
	int d0 = h_device(&e, "d0", "10.0.0.1", 24, NULL, 0);
	H_LOOKUP_DEV(&e, ST_TCP, "10.0.0.2:5", "10.0.0.1:8080", d0, b);
	h_env_done(&e);
}

static void test_dt4_ipv6_packets(void **st)
{
	h_env e;
	st_sock *v6only, *m, *v4, *got;
	(void)st;
	h_env_init(&e, 6, "D-T4 IPv6 segments: only AF_INET6 native or :: listeners");
	v4 = listener(&e, ST_AF_INET, "0.0.0.0:8080", H_NONE);
	v6only = listener(&e, ST_AF_INET6, "[::]:8080", H_V6ONLY);
	m = listener(&e, ST_AF_INET6, "[::ffff:0.0.0.0]:8081", H_NONE);
	st_lookup_explain lex = lookup_ex(&e, "[::1]:7", "[::1]:8080", ST_IFINDEX_LO, &got);
	H_ASSERT(&e, got == v6only && lex.stage == ST_STAGE_WILDCARD,
		 "IPv6 to [::1]:80 reached %s stage %d, expected the v6only :: listener",
		 h_who(&e, got), (int)lex.stage);
	const st_candidate *c = cand_of(&lex, v4);
	H_ASSERT(&e, c && c->score == -1, "the AF_INET listener must be ineligible for IPv6");
	H_LOOKUP(&e, ST_TCP, "127.0.0.1:7", "127.0.0.1:8080", v4);
	/* ::ffff:0.0.0.0 covers IPv4 only. */
	H_LOOKUP(&e, ST_TCP, "[::1]:7", "[::1]:8081", NULL);
	H_LOOKUP(&e, ST_TCP, "127.0.0.1:7", "127.0.0.1:8081", m);
	h_env_done(&e);
}

/* ------------------------------------------------------------------ */
/* D-T5 / D-T6: the scan and its reuseport early return                  */
/* ------------------------------------------------------------------ */

/* X14 / D-T6: A = 0.0.0.0 RP, B = 0.0.0.0 RP bound to lo. */
static void early_return(bool b_last)
{
	h_env e;
	st_sock *a, *b, *socks[2];
	unsigned cnt[3];
	h_env_init(&e, 4, b_last ? "D-T6/X14 device-bound B listened last: B gets all 20"
				 : "D-T6/X14 A listened last: A's group gets all 20 though B scores higher");
	st_sock *first;
	st_sock *x = h_tcp4(&e), *y = h_tcp4(&e);
	h_flags(&e, x, H_RP);
	h_flags(&e, y, H_RP);
	H_RC(&e, h_setopt(&e, y, ST_SO_BINDTODEVICE, ST_IFINDEX_LO), 0);
	H_RC(&e, h_bind(&e, x, "0.0.0.0:7000"), 0);
	H_RC(&e, h_bind(&e, y, "0.0.0.0:7000"), 0);
	a = x;
	b = y;
	first = b_last ? a : b;
	H_RC(&e, h_listen(&e, first), 0);
	H_RC(&e, h_listen(&e, first == a ? b : a), 0);
	H_ASSERT(&e, sk_rpg(a) != sk_rpg(b), "different devices: different groups");
	socks[0] = a;
	socks[1] = b;
	h_spread(&e, ST_TCP, "127.0.0.1:7000", socks, 2, 20, cnt);
	if (b_last)
		H_ASSERT(&e, cnt[1] == 20, "expected 20 to B, got A/B %s", h_counts_str(cnt, 2));
	else
		H_ASSERT(&e, cnt[0] == 20, "expected 20 to A, got A/B %s", h_counts_str(cnt, 2));
	st_sock *got;
	st_lookup_explain lex = lookup_ex(&e, "127.0.0.2:9", "127.0.0.1:7000", ST_IFINDEX_LO, &got);
	const st_candidate *ca = cand_of(&lex, a), *cb = cand_of(&lex, b);
	if (!b_last) {
		H_ASSERT(&e, ca && ca->score == 2 && (ca->why & ST_WHY_EARLY_RETURN) && !cb,
			 "A should be the only candidate (score 2, EARLY_RETURN); got %d/%#x, B %s",
			 ca ? ca->score : -9, ca ? ca->why : 0, cb ? "present" : "absent");
		H_ASSERT(&e, lex.group_first == a && lex.group_size == 1 && lex.group_index == 0,
			 "group fields: first %s size %u index %u", h_who(&e, lex.group_first),
			 lex.group_size, lex.group_index);
		H_ASSERT(&e, strstr(lex.text, "SO_REUSEPORT group of 1") != NULL,
			 "explain text \"%s\" should describe the group", lex.text);
	} else {
		H_ASSERT(&e, cb && cb->score == 3 && (cb->why & ST_WHY_EARLY_RETURN) && !ca,
			 "B should be the only candidate (score 3, EARLY_RETURN)");
	}
	/* From another device only A (no device) can receive. */
	int d0 = h_device(&e, "d0", "10.0.0.1", 24, NULL, 0);
	H_LOOKUP_DEV(&e, ST_TCP, "10.0.0.2:9", "10.0.0.1:7000", d0, a);
	h_env_done(&e);
}

static void test_dt6_early_return_b_last(void **st)
{
	(void)st;
	early_return(true);
}

static void test_dt6_early_return_a_last(void **st)
{
	(void)st;
	early_return(false);
}

/* D-T5: equal scores, two RP groups: the first in chain order stops the
 * scan.  RP IPv6 listeners sit at the tail, so the first to listen is
 * first.  With SO_REUSEPORT cleared afterwards (the groups stay, as in
 * Linux, but the flag is what triggers the group), the whole chain is
 * scored and the tie goes to the first, marked FIRST_IN_CHAIN. */
static void test_dt5_ties_first_in_chain(void **st)
{
	h_env e;
	st_sock *a, *b, *got;
	(void)st;
	h_env_init(&e, 4, "D-T5 equal scores: the first in chain order wins");
	a = listener(&e, ST_AF_INET6, "[::]:8080", H_RP | H_V6ONLY);
	b = listener(&e, ST_AF_INET6, "[::]:8080", H_RP);
	H_ASSERT(&e, sk_rpg(a) != sk_rpg(b), "v6only and dual-stack listeners must form "
		 "different groups (D-RP1)");
	st_lookup_explain lex = lookup_ex(&e, "[::1]:1", "[::1]:8080", ST_IFINDEX_LO, &got);
	H_ASSERT(&e, got == a, "IPv6 SYN reached %s, expected the first-listened v6only %s",
		 h_who(&e, got), h_who(&e, a));
	H_ASSERT(&e, !cand_of(&lex, b), "the scan returned at a's group; b is never scored");
	H_LOOKUP(&e, ST_TCP, "127.0.0.1:1", "127.0.0.1:8080", b);

	H_RC(&e, h_setopt(&e, a, ST_SO_REUSEPORT, 0), 0);
	H_RC(&e, h_setopt(&e, b, ST_SO_REUSEPORT, 0), 0);
	lex = lookup_ex(&e, "[::1]:1", "[::1]:8080", ST_IFINDEX_LO, &got);
	const st_candidate *ca = cand_of(&lex, a), *cb = cand_of(&lex, b);
	H_ASSERT(&e, got == a && ca && cb && ca->score == 1 && cb->score == 1,
		 "without RP both are scored (1 and 1) and a wins: got %s, scores %d %d",
		 h_who(&e, got), ca ? ca->score : -9, cb ? cb->score : -9);
	H_ASSERT(&e, (ca->why & ST_WHY_FIRST_IN_CHAIN) && !(ca->why & ST_WHY_EARLY_RETURN) &&
		 !(cb->why & ST_WHY_FIRST_IN_CHAIN), "why bits: a %#x b %#x", ca->why, cb->why);
	h_close(&e, a);
	H_LOOKUP(&e, ST_TCP, "[::1]:1", "[::1]:8080", b);
	h_env_done(&e);
}

/* E6: IPv6 RP listeners L1, L2 on [::] and L3 on [::] bound to lo. */
static void e6_order(bool l3_first)
{
	h_env e;
	st_sock *l1, *l2, *l3 = NULL, *socks[3];
	unsigned cnt[4];
	h_env_init(&e, 4, l3_first ? "E6 device-bound L3 listened first: L3 gets all"
				   : "E6 L1, L2 then device-bound L3: L3 gets none");
	if (l3_first)
		l3 = listener_dev(&e, ST_AF_INET6, "[::]:7100", H_RP, ST_IFINDEX_LO);
	l1 = listener(&e, ST_AF_INET6, "[::]:7100", H_RP);
	l2 = listener(&e, ST_AF_INET6, "[::]:7100", H_RP);
	if (!l3_first)
		l3 = listener_dev(&e, ST_AF_INET6, "[::]:7100", H_RP, ST_IFINDEX_LO);
	H_ASSERT(&e, sk_rpg(l1) == sk_rpg(l2) && sk_rpg(l3) != sk_rpg(l1),
		 "L1 and L2 share a group, L3 (device) has its own");
	socks[0] = l1;
	socks[1] = l2;
	socks[2] = l3;
	h_spread(&e, ST_TCP, "[::1]:7100", socks, 3, 20, cnt);
	if (l3_first)
		H_ASSERT(&e, cnt[2] == 20, "L1/L2/L3 %s, expected 0/0/20", h_counts_str(cnt, 3));
	else
		H_ASSERT(&e, cnt[2] == 0 && cnt[0] + cnt[1] == 20, "L1/L2/L3 %s, expected L3 0",
			 h_counts_str(cnt, 3));
	h_env_done(&e);
}

static void test_e6_v6_tail_order_a(void **st)
{
	(void)st;
	e6_order(false);
}

static void test_e6_v6_tail_order_b(void **st)
{
	(void)st;
	e6_order(true);
}

/* ------------------------------------------------------------------ */
/* D-T7: IPv4 and dual-stack groups; v4-mapped exact listeners           */
/* ------------------------------------------------------------------ */

static void dualstack_groups(bool v6_first)
{
	h_env e;
	st_sock *s[10];
	unsigned cnt[11];
	h_env_init(&e, 10, v6_first ? "D-T7 reuseport_dualstack: 5 :: listeners first, then 5 0.0.0.0"
				    : "D-T7 reuseport_dualstack: 5 0.0.0.0 listeners first, then 5 ::");
	for (int i = 0; i < 10; i++) {
		bool v6 = v6_first ? i < 5 : i >= 5;
		s[i] = listener(&e, v6 ? ST_AF_INET6 : ST_AF_INET, v6 ? "[::]:8888" : "0.0.0.0:8888",
				H_RP);
	}
	h_spread(&e, ST_TCP, "127.0.0.1:8888", s, 10, 100, cnt);
	unsigned to_v4 = 0;
	for (int i = 0; i < 10; i++)
		if (s[i]->family == ST_AF_INET)
			to_v4 += cnt[i];
	H_ASSERT(&e, to_v4 == 100, "IPv4 flows: %u of 100 reached AF_INET sockets (%s)", to_v4,
		 h_counts_str(cnt, 10));
	h_spread(&e, ST_TCP, "[::1]:8888", s, 10, 100, cnt);
	unsigned to_v6 = 0;
	for (int i = 0; i < 10; i++)
		if (s[i]->family == ST_AF_INET6)
			to_v6 += cnt[i];
	H_ASSERT(&e, to_v6 == 100, "IPv6 flows: %u of 100 reached AF_INET6 sockets", to_v6);
	h_env_done(&e);
}

static void test_dt7_dualstack_a(void **st)
{
	(void)st;
	dualstack_groups(false);
}

static void test_dt7_dualstack_b(void **st)
{
	(void)st;
	dualstack_groups(true);
}

static void test_dt7_v4mapped_exact_listener(void **st)
{
	h_env e;
	st_sock *w, *m, *socks[2];
	unsigned cnt[3];
	(void)st;
	h_env_init(&e, 4, "D-T7/X14 a ::ffff:127.0.0.1 listener is exact for 127.0.0.1");
	w = listener(&e, ST_AF_INET, "0.0.0.0:7200", H_RP);
	m = listener(&e, ST_AF_INET6, "[::ffff:127.0.0.1]:7200", H_RP);
	socks[0] = w;
	socks[1] = m;
	h_spread(&e, ST_TCP, "127.0.0.1:7200", socks, 2, 20, cnt);
	H_ASSERT(&e, cnt[1] == 20, "0.0.0.0 / ::ffff:127.0.0.1 got %s, expected 0/20",
		 h_counts_str(cnt, 2));
	h_spread(&e, ST_TCP, "127.0.0.2:7200", socks, 2, 20, cnt);
	H_ASSERT(&e, cnt[0] == 20, "to 127.0.0.2: %s, expected 20/0", h_counts_str(cnt, 2));
	h_env_done(&e);
}

/* reuseport_addr_any: groups on 0.0.0.0, ::, and one specific listener. */
static void test_dt1_selftest_reuseport_addr_any(void **st)
{
	static const char *const specifics[] = {"127.0.0.1:8900", "[::1]:8900",
						"[::ffff:127.0.0.1]:8900"};
	static const char *const dsts[] = {"127.0.0.1:8900", "[::1]:8900", "127.0.0.1:8900"};
	static const int fams[] = {ST_AF_INET, ST_AF_INET6, ST_AF_INET6};
	(void)st;
	for (int v = 0; v < 3; v++) {
		h_env e;
		st_sock *sp;
		unsigned cnt[10];
		st_sock *all[9];
		int n = 0;
		h_env_init(&e, 12, "selftest reuseport_addr_any (TCP)");
		h_ctx(&e, "reuseport_addr_any TCP: specific %s", specifics[v]);
		all[n++] = listener(&e, ST_AF_INET, "0.0.0.0:8900", H_RP);
		all[n++] = listener(&e, ST_AF_INET, "0.0.0.0:8900", H_RP);
		all[n++] = listener(&e, ST_AF_INET6, "[::]:8900", H_RP);
		all[n++] = listener(&e, ST_AF_INET6, "[::]:8900", H_RP);
		sp = listener(&e, fams[v], specifics[v], H_RP);
		all[n++] = sp;
		all[n++] = listener(&e, ST_AF_INET, "0.0.0.0:8900", H_RP);
		all[n++] = listener(&e, ST_AF_INET, "0.0.0.0:8900", H_RP);
		all[n++] = listener(&e, ST_AF_INET6, "[::]:8900", H_RP);
		all[n++] = listener(&e, ST_AF_INET6, "[::]:8900", H_RP);
		h_spread(&e, ST_TCP, dsts[v], all, n, 30, cnt);
		H_ASSERT(&e, cnt[4] == 30, "flows to %s: %s, expected all 30 to the specific "
			 "listener (index 4)", dsts[v], h_counts_str(cnt, n));
		h_env_done(&e);
	}
}

/* ------------------------------------------------------------------ */
/* D-T8 / D-T9: nothing to receive                                       */
/* ------------------------------------------------------------------ */

static void test_dt8_v6only_listener_refuses_ipv4(void **st)
{
	h_env e;
	st_sock *l, *got;
	(void)st;
	h_env_init(&e, 4, "D-T8/X14 only a v6only :: listener: IPv4 SYN finds nothing");
	l = listener(&e, ST_AF_INET6, "[::]:7300", H_V6ONLY);
	st_lookup_explain lex = lookup_ex(&e, "127.0.0.1:5", "127.0.0.1:7300", ST_IFINDEX_LO, &got);
	H_ASSERT(&e, got == NULL && lex.stage == ST_STAGE_NONE, "reached %s stage %d, expected "
		 "nothing", h_who(&e, got), (int)lex.stage);
	const st_candidate *c = cand_of(&lex, l);
	H_ASSERT(&e, c && c->score == -1 && (c->why & ST_WHY_V6ONLY),
		 "the v6only listener should be listed as excluded by V6ONLY, has %d/%#x",
		 c ? c->score : -9, c ? c->why : 0);
	H_ASSERT(&e, strstr(lex.text, "no candidate was eligible") != NULL, "text \"%s\"",
		 lex.text);
	H_LOOKUP(&e, ST_TCP, "[::1]:5", "[::1]:7300", l);
	h_env_done(&e);
}

static void test_dt9_bound_not_listening(void **st)
{
	h_env e;
	st_sock *b, *got;
	(void)st;
	h_env_init(&e, 4, "D-T9 a bound, non-listening socket receives nothing");
	b = h_tcp4(&e);
	H_RC(&e, h_bind(&e, b, "127.0.0.1:7400"), 0);
	st_lookup_explain lex = lookup_ex(&e, "127.0.0.1:5", "127.0.0.1:7400", ST_IFINDEX_LO, &got);
	H_ASSERT(&e, got == NULL && lex.ncand == 0 && lex.stage == ST_STAGE_NONE,
		 "reached %s with %d candidates", h_who(&e, got), lex.ncand);
	H_ASSERT(&e, strstr(lex.text, "nothing is bound") != NULL, "text \"%s\"", lex.text);
	/* L7: a listener that stops listening. */
	H_RC(&e, h_listen(&e, b), 0);
	H_LOOKUP(&e, ST_TCP, "127.0.0.1:5", "127.0.0.1:7400", b);
	H_RC(&e, st_unlisten(e.net, b), 0);
	h_check(&e);
	H_LOOKUP(&e, ST_TCP, "127.0.0.1:5", "127.0.0.1:7400", NULL);
	H_RC(&e, h_listen(&e, b), 0);
	H_LOOKUP(&e, ST_TCP, "127.0.0.1:5", "127.0.0.1:7400", b);
	h_env_done(&e);
}

/* ------------------------------------------------------------------ */
/* Dual-stack, v4-mapped, devices                                        */
/* ------------------------------------------------------------------ */

static void test_dualstack_listener_receives_ipv4(void **st)
{
	h_env e;
	st_sock *l, *c;
	(void)st;
	h_env_init(&e, 4, "E10 a dual-stack :: listener receives IPv4; its child is v4-mapped");
	l = listener(&e, ST_AF_INET6, "[::]:21000", H_NONE);
	H_LOOKUP(&e, ST_TCP, "127.0.0.1:4000", "127.0.0.1:21000", l);
	H_RC(&e, h_accept(&e, l, "127.0.0.1:21000", "127.0.0.1:4000", ST_ESTABLISHED, &c), 0);
	H_NAME(&e, c, "[::ffff:127.0.0.1]:21000");
	st_sockaddr peer;
	H_RC(&e, st_getpeername(c, &peer), 0);
	char buf[96];
	H_ASSERT(&e, strcmp(h_fmt_sa(&peer, buf, sizeof buf), "[::ffff:127.0.0.1]:4000") == 0,
		 "getpeername %s, expected [::ffff:127.0.0.1]:4000", buf);
	/* The IPv4 segment of that connection finds the child. */
	H_LOOKUP(&e, ST_TCP, "127.0.0.1:4000", "127.0.0.1:21000", c);
	h_env_done(&e);
}

static void test_bindtodevice_after_listen(void **st)
{
	h_env e;
	st_sock *l;
	int d0;
	(void)st;
	h_env_init(&e, 4, "SO_BINDTODEVICE on a listener re-scores it at once");
	d0 = h_device(&e, "d0", "10.0.0.1", 24, NULL, 0);
	l = listener(&e, ST_AF_INET, "0.0.0.0:7500", H_NONE);
	H_LOOKUP_DEV(&e, ST_TCP, "10.0.0.2:1", "10.0.0.1:7500", d0, l);
	H_RC(&e, h_setopt(&e, l, ST_SO_BINDTODEVICE, ST_IFINDEX_LO), 0);
	H_LOOKUP_DEV(&e, ST_TCP, "10.0.0.2:1", "10.0.0.1:7500", d0, NULL);
	H_LOOKUP(&e, ST_TCP, "127.0.0.2:1", "127.0.0.1:7500", l);
	/* Changing it back needs CAP_NET_RAW (sock_bindtoindex). */
	H_RC(&e, h_setopt(&e, l, ST_SO_BINDTODEVICE, 0), -EPERM);
	H_RC(&e, h_setopt_cred(&e, l, ST_SO_BINDTODEVICE, 0, ST_CAP_NET_RAW), 0);
	H_LOOKUP_DEV(&e, ST_TCP, "10.0.0.2:1", "10.0.0.1:7500", d0, l);
	h_env_done(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dt1_established_before_listener),
		cmocka_unit_test(test_dt1_synrecv_and_timewait_children),
		cmocka_unit_test(test_dt1_connecting_socket),
		cmocka_unit_test(test_dt2_established_device),
		cmocka_unit_test(test_dt1_exact_beats_wildcard_a),
		cmocka_unit_test(test_dt1_exact_beats_wildcard_b),
		cmocka_unit_test(test_dt3_ipv4_beats_dualstack_a),
		cmocka_unit_test(test_dt3_ipv4_beats_dualstack_b),
		cmocka_unit_test(test_dt3_device_scores),
		cmocka_unit_test(test_dt3_device_beats_plain_by_score),
		cmocka_unit_test(test_dt4_ipv6_packets),
		cmocka_unit_test(test_dt6_early_return_b_last),
		cmocka_unit_test(test_dt6_early_return_a_last),
		cmocka_unit_test(test_dt5_ties_first_in_chain),
		cmocka_unit_test(test_e6_v6_tail_order_a),
		cmocka_unit_test(test_e6_v6_tail_order_b),
		cmocka_unit_test(test_dt7_dualstack_a),
		cmocka_unit_test(test_dt7_dualstack_b),
		cmocka_unit_test(test_dt7_v4mapped_exact_listener),
		cmocka_unit_test(test_dt1_selftest_reuseport_addr_any),
		cmocka_unit_test(test_dt8_v6only_listener_refuses_ipv4),
		cmocka_unit_test(test_dt9_bound_not_listening),
		cmocka_unit_test(test_dualstack_listener_receives_ipv4),
		cmocka_unit_test(test_bindtodevice_after_listen),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
