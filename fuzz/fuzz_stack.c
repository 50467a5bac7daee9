/*
 * fuzz/fuzz_stack.c - foreign packets into a live stack.
 *
 * fuzz_wire checks that the decoder survives any bytes; this target checks
 * what comes after it: TCP's state machine, UDP delivery and the ICMP error
 * path, fed packets that a real network (a TUN device, next) could send --
 * segments aimed at the stack's own connections with sequence and
 * acknowledgement numbers near or far from the window, any flag
 * combination, options, data; datagrams; ICMP errors quoting the stack's
 * 4-tuples; raw bytes -- interleaved with the socket calls of a process
 * (socket, bind, listen, connect, accept, send, recv, shutdown, close,
 * setsockopt) and with time passing (retransmissions, TIME_WAIT expiry).
 *
 * Two simulated hosts, `local` and `peer`, joined by a link (10.0.0.1 -
 * 10.0.0.2, fd00::1 - fd00::2); `peer` listens on port 80 (TCP) and holds a
 * UDP socket on 53, so that `local`'s connects get real answers.  Packets
 * are injected into `local`'s stack on loopback or on eth0, as if they had
 * arrived there.
 *
 * After every step st_net_check() must pass on both hosts; at the end the
 * world is freed, with every socket, orphan, TIME_WAIT record and packet in
 * flight (ASan reports a leak, a use after free, a double free).
 *
 * This target found ACK storms: the stack answered every out-of-window
 * segment and every ACK of unsent data with an ACK, without Linux's rate
 * limit (tcp_invalid_ratelimit, 500 ms per socket), so two endpoints whose
 * sequence numbers an injected segment had pulled apart ACKed each other
 * forever -- 4,000 packets per virtual second over a 1 ms link, an endless
 * loop at one instant on loopback.  The stack now rate-limits them; the
 * world still runs with a budget of STORM_PACKETS packets per step, so that
 * a storm ends the input instead of the fuzzer's patience, and with
 * FUZZ_STACK_STRICT=1 in the environment running out of the budget aborts
 * (ctest fuzz.stack_known_strict replays fuzz/known/ that way).
 */
#include "fuzz.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/clock.h"
#include "sim/sim_internal.h"
#include "stack/stack_internal.h"

enum { MAX_STEPS = 300, NFD = 8, STORM_PACKETS = 20000 };

/* Runs every event due up to `until`, then moves the clock there; false
 * when more than STORM_PACKETS packets were sent on the way. */
static bool run_bounded(sim_world *w, uint64_t until)
{
	uint64_t packets = 0;
	stk_timer *t;

	sim_fault_drop_packet(0);
	while ((t = sim_clock_peek(&w->clock)) != NULL && t->when <= until) {
		sim_step(w);
		packets += sim_fault_drop_packet(0);
		if (packets > STORM_PACKETS) {
			static int strict = -1;
			if (strict < 0)
				strict = getenv("FUZZ_STACK_STRICT") != NULL;
			if (strict) {
				fprintf(stderr, "fuzz_stack: %llu packets in one step: an ACK storm\n",
					(unsigned long long)packets);
				abort();
			}
			return false;
		}
	}
	if (sim_now(w) < until)
		sim_run_until(w, until);
	return true;
}

static const char *const ADDRS[] = { "127.0.0.1", "10.0.0.1", "10.0.0.2", "0.0.0.0", "::1", "::",
				     "fd00::1", "fd00::2", "::ffff:127.0.0.1", "10.0.0.255",
				     "255.255.255.255", "224.0.0.1" };
static const uint16_t PORTS[] = { 0, 80, 53, 8080, 40000, 40001, 5000 };

static st_addr addr_of(fuzz_rd *r, int *family)
{
	st_addr a;
	int fam;

	if (st_addr_parse(ADDRS[fuzz_u8(r) % (sizeof(ADDRS) / sizeof(ADDRS[0]))], &a, &fam) != 0)
		abort();
	if (family)
		*family = fam;
	return a;
}

static uint16_t port_of(fuzz_rd *r)
{
	uint8_t c = fuzz_u8(r);
	return c < 240 ? PORTS[c % (sizeof(PORTS) / sizeof(PORTS[0]))] : fuzz_u16(r);
}

static void check(sim_host *h, int step, const char *what)
{
	char msg[512];

	if (st_net_check(sim_host_net(h), msg, sizeof(msg)) != 0) {
		fprintf(stderr, "fuzz_stack: step %d (%s): host %s: %s\n", step, what, sim_host_name(h), msg);
		abort();
	}
}

/* A socket of `local` the next packet is aimed at (its 4-tuple reversed),
 * or NULL. */
static stk_sock *target(stk_stack *st, fuzz_rd *r)
{
	unsigned k = fuzz_u8(r), n = 0;

	for (stk_sock *s = st->socks; s; s = s->next)
		n++;
	if (n == 0)
		return NULL;
	k %= n;
	for (stk_sock *s = st->socks; s; s = s->next)
		if (k-- == 0)
			return s;
	return NULL;
}

static void inject(sim_host *h, fuzz_rd *r, uint8_t kind)
{
	stk_stack *st = sim_host_stack(h);
	stk_pkt p;
	static uint8_t buf[STK_WIRE_MAX];
	static uint8_t payload[2048];
	int fam;
	int ifindex = (kind & 0x80) ? 2 : ST_IFINDEX_LO;

	memset(&p, 0, sizeof(p));
	if ((kind & 3) == 3) { /* raw bytes */
		size_t n = fuzz_u16(r) % 1500;
		if (n > r->n)
			n = r->n;
		memcpy(buf, r->p, n);
		r->p += n;
		r->n -= n;
		stk_input(st, ifindex, buf, n);
		return;
	}
	stk_sock *t = target(st, r);
	uint8_t how = fuzz_u8(r);
	if (t && !(how & 1)) {
		/* Aimed at a socket of the stack, from its peer. */
		const st_sock *c = stk_core(t);
		p.dst = c->laddr;
		p.dport = c->lport;
		p.src = c->raddr;
		p.sport = c->rport;
		if (st_addr_is_any6(&p.dst) || st_addr_is_any4(&p.dst))
			p.dst = st_addr_v4(0x7f000001);
		if (st_addr_is_any6(&p.src) || st_addr_is_any4(&p.src))
			p.src = st_addr_is_v4mapped(&p.dst) ? st_addr_v4(0x7f000001) : p.dst;
		if (!p.sport)
			p.sport = port_of(r);
		fam = st_addr_is_v4mapped(&p.dst) ? ST_AF_INET : ST_AF_INET6;
		if (st_addr_is_v4mapped(&p.src) != (fam == ST_AF_INET))
			p.src = p.dst;
	} else {
		p.dst = addr_of(r, &fam);
		p.src = addr_of(r, NULL);
		if (st_addr_is_v4mapped(&p.src) != (fam == ST_AF_INET))
			p.src = p.dst;
		p.dport = port_of(r);
		p.sport = port_of(r);
	}
	p.family = (uint8_t)fam;
	p.wscale = 0xff;
	switch (kind & 3) {
	case 0: { /* TCP */
		p.proto = STK_IPPROTO_TCP;
		uint8_t sel = fuzz_u8(r);
		uint32_t rcv = t ? t->tcb.rcv_nxt : 0, snd = t ? t->tcb.snd_nxt : 0;
		int32_t dseq = (int8_t)fuzz_u8(r), dack = (int8_t)fuzz_u8(r);
		p.seq = (sel & 1) ? fuzz_u32(r) : rcv + (uint32_t)dseq;
		p.ack = (sel & 2) ? fuzz_u32(r) : snd + (uint32_t)dack;
		p.flags = fuzz_u8(r);
		p.window = (sel & 4) ? fuzz_u16(r) : 65535;
		if (sel & 8)
			p.mss = fuzz_u16(r);
		if (sel & 16)
			p.wscale = fuzz_u8(r) % 15;
		if (sel & 32) {
			p.has_ts = true;
			p.tsval = fuzz_u32(r);
			p.tsecr = fuzz_u32(r);
		}
		p.sack_ok = sel & 64;
		break;
	}
	case 1:
		p.proto = STK_IPPROTO_UDP;
		break;
	case 2: { /* an ICMP error quoting one of the stack's own packets */
		p.proto = fam == ST_AF_INET ? STK_IPPROTO_ICMP : STK_IPPROTO_ICMPV6;
		uint8_t c = fuzz_u8(r);
		p.icmp_type = fam == ST_AF_INET ? ((c & 1) ? 3 : c) : ((c & 1) ? 1 : c);
		p.icmp_code = (c & 2) ? (fam == ST_AF_INET ? 3 : 4) : fuzz_u8(r) % 16;
		p.inner.family = p.family;
		p.inner.proto = (c & 4) ? STK_IPPROTO_UDP : STK_IPPROTO_TCP;
		/* our packet went from dst:dport to src:sport */
		p.inner.src = p.dst;
		p.inner.dst = p.src;
		p.inner.sport = p.dport;
		p.inner.dport = p.sport;
		break;
	}
	}
	if (p.proto != STK_IPPROTO_ICMP && p.proto != STK_IPPROTO_ICMPV6) {
		size_t n = fuzz_u8(r);
		n = n < 200 ? n % 8 : n * 4;
		for (size_t i = 0; i < n && i < sizeof(payload); i++)
			payload[i] = (uint8_t)i;
		p.payload = payload;
		p.len = n < sizeof(payload) ? n : sizeof(payload);
	}
	int len = stk_wire_encode(&p, buf, sizeof(buf));
	if (len > 0)
		stk_input(st, ifindex, buf, (size_t)len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_rd r = { data, size };
	sim_world *w;
	sim_host *lh, *ph;
	sim_proc *p, *q;
	st_addr a1, a2, b1, b2;
	int fam;
	int fds[NFD];
	stk_sock *sk;
	uint8_t rbuf[4096];

	if (sim_world_new(&w, fuzz_u32(&r)) != 0)
		abort();
	if (sim_host_add(w, "local", &lh) || sim_host_add(w, "peer", &ph))
		abort();
	st_addr_parse("10.0.0.1", &a1, &fam);
	st_addr_parse("10.0.0.2", &a2, &fam);
	st_addr_parse("fd00::1", &b1, &fam);
	st_addr_parse("fd00::2", &b2, &fam);
	if (sim_link(w, lh, &a1, ST_AF_INET, 24, ph, &a2, ST_AF_INET, 24, (uint64_t)(fuzz_u8(&r) % 8) * 1000000) ||
	    st_net_add_addr(sim_host_net(lh), 2, &b1, ST_AF_INET6, 64) ||
	    st_net_add_addr(sim_host_net(ph), 2, &b2, ST_AF_INET6, 64))
		abort();
	if (sim_proc_new(w, "p", lh, 0, ST_CAP_ALL, &p) || sim_proc_new(w, "q", ph, 0, ST_CAP_ALL, &q))
		abort();
	/* The peer: a TCP listener on 80 and a UDP socket on 53, dual stack. */
	st_cred root = { 0, ST_CAP_ALL };
	st_addr any6 = st_addr_any6();
	st_sockaddr any = st_sockaddr_in6(&any6, 80, 0);
	if (stk_socket(sim_host_stack(ph), ST_TCP, ST_AF_INET6, &root, &sk) || sim_fd_install(q, sk) < 0 ||
	    stk_bind(sk, &any, &root, NULL) || stk_listen(sk, 16, &root, NULL))
		abort();
	any.port = 53;
	if (stk_socket(sim_host_stack(ph), ST_UDP, ST_AF_INET6, &root, &sk) || sim_fd_install(q, sk) < 0 ||
	    stk_bind(sk, &any, &root, NULL))
		abort();
	for (int i = 0; i < NFD; i++)
		fds[i] = -1;

	for (int step = 0; r.n > 0 && step < MAX_STEPS; step++) {
		uint8_t op = fuzz_u8(&r);
		int i = fuzz_u8(&r) % NFD;
		stk_sock *s = fds[i] >= 0 ? sim_fd_get(p, fds[i]) : NULL;
		st_cred cr = sim_proc_cred(p);
		st_sockaddr sa;
		const char *what = "?";

		memset(&sa, 0, sizeof(sa));
		switch (op % 16) {
		case 0:
			what = "socket";
			if (s == NULL && sim_fd_reserve(p) == 0) {
				uint8_t k = fuzz_u8(&r);
				if (stk_socket(sim_host_stack(lh), (k & 1) ? ST_UDP : ST_TCP,
					       (k & 2) ? ST_AF_INET6 : ST_AF_INET, &cr, &sk) == 0)
					fds[i] = sim_fd_install(p, sk);
			}
			break;
		case 1:
			what = "bind";
			if (s) {
				sa.addr = addr_of(&r, &fam);
				sa.family = (uint16_t)fam;
				sa.port = port_of(&r);
				(void)stk_bind(s, &sa, &cr, NULL);
			}
			break;
		case 2:
			what = "listen";
			if (s)
				(void)stk_listen(s, fuzz_u8(&r) % 4, &cr, NULL);
			break;
		case 3:
			what = "connect";
			if (s) {
				sa.addr = addr_of(&r, &fam);
				sa.family = (fuzz_u8(&r) & 7) == 0 ? ST_AF_UNSPEC : (uint16_t)fam;
				sa.port = port_of(&r);
				(void)stk_connect(s, &sa, &cr, NULL);
			}
			break;
		case 4:
			what = "accept";
			if (s && sim_fd_reserve(p) == 0) {
				stk_sock *c;
				if (stk_accept(s, &c, &sa) == 0) {
					int fd = sim_fd_install(p, c);
					int j = fuzz_u8(&r) % NFD;
					if (fds[j] >= 0)
						sim_fd_close(p, fds[j]);
					fds[j] = fd;
				}
			}
			break;
		case 5:
			what = "send";
			if (s) {
				size_t n = fuzz_u8(&r) * 16u;
				memset(rbuf, 'x', sizeof(rbuf));
				(void)stk_send(s, rbuf, n < sizeof(rbuf) ? n : sizeof(rbuf));
			}
			break;
		case 6: {
			what = "recv";
			size_t n;
			if (s)
				(void)stk_recv(s, rbuf, fuzz_u8(&r) & 1 ? sizeof(rbuf) : 3, &n, &sa);
			break;
		}
		case 7:
			what = "shutdown";
			if (s)
				(void)stk_shutdown(s, (stk_shut)(1 + fuzz_u8(&r) % 3));
			break;
		case 8:
			what = "close";
			if (s) {
				sim_fd_close(p, fds[i]);
				fds[i] = -1;
			}
			break;
		case 9:
			what = "setsockopt";
			if (s) {
				stk_optval v = { fuzz_u8(&r) % 3, fuzz_u8(&r) % 3 };
				(void)stk_setsockopt(s, (stk_opt)(fuzz_u8(&r) % 11), &v, &cr);
			}
			break;
		case 10:
		case 11:
		case 12:
		case 13:
			what = "packet";
			inject(lh, &r, fuzz_u8(&r));
			break;
		case 14:
			what = "time";
			/* up to ~200 s; the settle below stops a storm */
			if (!run_bounded(w, sim_now(w) + (uint64_t)fuzz_u16(&r) * 3000000ull))
				r.n = 0;
			break;
		case 15:
			what = "step";
			(void)sim_step(w);
			break;
		}
		if (!run_bounded(w, sim_now(w)))
			r.n = 0;   /* a storm (see the top): this input ends here */
		check(lh, step, what);
		check(ph, step, what);
	}
	sim_world_free(w);
	return 0;
}
