/*
 * src/scenario/gen.c - random scenarios for `socktab fuzz`.
 *
 * A generated scenario is a plain scenario file: whatever it finds can be
 * replayed with `socktab diff`, shrunk, and kept as a test.  The generator
 * aims at the rules where implementations get the errno wrong: several
 * processes and uids, TCP and UDP, IPv4, IPv6, v4-mapped and wildcard
 * addresses over a few local addresses and a few ports, every socket
 * option of the language, small ephemeral ranges (exhaustion), TIME_WAIT
 * and its take-over (an explicit port, or tcp_tw_reuse after a second),
 * fork and SCM_RIGHTS, processes that exit half-way, listen backlogs
 * changed on a listening socket.  One scenario in three has a second host,
 * `peer`, on a veth link (eth0, 10.0.0.1 - 10.0.0.2) and a second link of
 * IPv6 link-local addresses (eth1, fe80::1 - fe80::2), so that scopes,
 * devices and SO_BINDTODEVICE meet real interfaces.
 *
 * It avoids, by construction, the few outcomes that Linux leaves to chance
 * or to real time, because a difference there says nothing about the
 * model:
 *   - traffic to a port on which a SO_REUSEPORT socket was ever bound
 *     (which member receives is a keyed hash; bind rules are still
 *     exercised on those ports);
 *   - full accept queues (a dropped SYN is retransmitted after a second of
 *     real time on the kernel but never in the model without `sleep`):
 *     backlogs stay above the number of connections a scenario can make;
 *   - long sleeps: scenarios are short enough to finish well inside the
 *     one-second tcp_tw_reuse delay and the 60 s TIME_WAIT; the one sleep
 *     a scenario may have is 1.1 s, clearly past that delay on both runs,
 *     and never with the links (see the sleep below);
 *   - destinations nobody answers for in a way that takes real time: an
 *     address of the link's subnet that no host has (ARP gives up after
 *     ~3 s with EHOSTUNREACH, the model has no ARP) is never used, and
 *     IP_TRANSPARENT (a SYN from a foreign source never hears back) is
 *     not set;
 *   - ports chosen by the system are not a problem: `socktab diff` makes
 *     the model take Linux's choice when it is a legal one (steer.c), so
 *     even a chosen port that happens to be a destination is the same on
 *     both runs.
 * It tracks variables statically, like the parser, so every generated
 * file parses: a name is used only while its process holds it.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario/gen.h"

enum { MAXP = 4, MAXV = 12, NPORTS = 6 };

typedef struct gvar {
	char name[16];
	int kind;    /* 0 tcp4, 1 tcp6, 2 udp4, 3 udp6 */
	bool live;
} gvar;

typedef struct gproc {
	char name[16];
	bool alive;
	bool on_peer;        /* lives on host `peer` */
	gvar v[MAXV];
	int nv;
} gproc;

typedef struct gen {
	uint64_t s;
	char *buf;
	size_t len, cap;
	bool oom;
	gproc p[MAXP];
	int np;
	int nextvar;
	bool rp_port[NPORTS];   /* a reuseport socket may be bound there */
	bool rp_any;            /* some socket asked for SO_REUSEPORT */
	int conns;
	bool peer;              /* host `peer` and its two links exist */
	int nalive;
	/* Sockets (by variable number) that SO_BINDTODEVICE may have bound to
	 * a device: they receive, but send nothing of their own (see
	 * may_send). */
	bool devbound[256];
} gen;

/* Every port is also a destination, port 0 and the two inside the small
 * ephemeral range included: an automatic port that happens to equal the
 * destination makes a self-connect, and it does so on both runs, because
 * the model takes the port Linux chose (steer.c). */
static const uint16_t ports[NPORTS] = { 80, 5000, 5001, 40000, 40003, 0 };
enum { NTRAFFIC = NPORTS };

static uint64_t rnd(gen *g)
{
	/* splitmix64 */
	uint64_t z = (g->s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int pick(gen *g, int n)
{
	return (int)(rnd(g) % (uint64_t)n);
}

static void out(gen *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out(gen *g, const char *fmt, ...)
{
	if (g->oom)
		return;
	char line[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (g->len + (size_t)n + 2 > g->cap) {
		size_t nc = g->cap ? g->cap * 2 : 4096;
		while (nc < g->len + (size_t)n + 2)
			nc *= 2;
		char *b = realloc(g->buf, nc);
		if (!b) {
			g->oom = true;
			return;
		}
		g->buf = b;
		g->cap = nc;
	}
	memcpy(g->buf + g->len, line, (size_t)n);
	g->len += (size_t)n;
	g->buf[g->len++] = '\n';
	g->buf[g->len] = 0;
}

static const char *kinds[] = { "tcp4", "tcp6", "udp4", "udp6" };

/* An address literal for a socket of this kind (sometimes the other
 * family on purpose: the errno of a family mismatch is a rule too). */
static void addr_for(gen *g, int kind, char *buf, size_t len, int port_idx)
{
	/* The last entries exist only with host `peer`: each host calls its
	 * ends eth0 (10.0.0.0/24) and eth1 (fe80::/64), so the same literal
	 * is this host's own address on one side and the other's on the
	 * other.  Link-local ones always name eth1, the link that has them:
	 * every veth end also has an automatic link-local address, tentative
	 * for the first second or so (DAD) and unknown to the model, so a
	 * link-local destination routed through eth0 -- or sent without a
	 * scope by UDP, which then looks up a route -- would meet it. */
	static const char *v4[] = { "127.0.0.1", "127.0.0.2", "0.0.0.0", "10.1.1.1", "192.0.2.7",
				    "10.0.0.1", "10.0.0.2" };
	static const char *v6[] = { "::1", "::", "::ffff:127.0.0.1", "::ffff:0.0.0.0", "fd00::1",
				    "2001:db8::9", "fe80::1%eth1", "fe80::2%eth1", "::ffff:10.0.0.2" };
	bool six = kind == 1 || kind == 3;
	if (pick(g, 20) == 0)
		six = !six;
	uint16_t port = ports[port_idx];
	if (six)
		snprintf(buf, len, "[%s]:%u", v6[pick(g, g->peer ? 9 : 6)], port);
	else
		snprintf(buf, len, "%s:%u", v4[pick(g, g->peer ? 7 : 5)], port);
}

static int var_no(const gvar *v)
{
	int n = atoi(v->name + 1);
	return n >= 0 && n < 256 ? n : 255;
}

/*
 * A socket bound to a device (SO_BINDTODEVICE, or a scope id given to
 * bind or connect, which binds it even when the call fails) routes with
 * that device as output interface,
 * and Linux then assumes "on link" for any destination the device has no
 * route to: the packet leaves by that device (or loops back into lo and
 * is discarded), ARP for it fails after ~3 s, and a connected socket
 * hears EHOSTUNREACH in real time.  The model has no ARP, so such sockets
 * make no connect, send or sendto here; what they receive, and what their
 * accepted children send back (a connection that arrived on a device has
 * its way back on it), is still compared.
 */
static bool may_send(const gen *g, const gvar *v)
{
	return !g->devbound[var_no(v)];
}

static gvar *live_var(gen *g, gproc *p)
{
	int n = 0;
	for (int i = 0; i < p->nv; i++)
		n += p->v[i].live;
	if (!n)
		return NULL;
	int k = pick(g, n);
	for (int i = 0; i < p->nv; i++)
		if (p->v[i].live && k-- == 0)
			return &p->v[i];
	return NULL;
}

static gvar *new_var(gen *g, gproc *p, int kind)
{
	gvar *v = NULL;
	for (int i = 0; i < p->nv; i++)
		if (!p->v[i].live) {
			v = &p->v[i];
			break;
		}
	if (!v) {
		if (p->nv == MAXV)
			return NULL;
		v = &p->v[p->nv++];
	}
	snprintf(v->name, sizeof(v->name), "s%d", g->nextvar++);
	v->kind = kind;
	v->live = true;
	return v;
}

static gvar *find_name(gproc *p, const char *name)
{
	for (int i = 0; i < p->nv; i++)
		if (p->v[i].live && strcmp(p->v[i].name, name) == 0)
			return &p->v[i];
	return NULL;
}

static void op(gen *g)
{
	int pi = pick(g, g->np);
	gproc *p = &g->p[pi];
	if (!p->alive)
		return;
	gvar *v = live_var(g, p);
	int what = pick(g, 100);
	char a[96];
	if (!v || what < 14) {
		int kind = pick(g, 4);
		gvar *n = new_var(g, p, kind);
		if (n)
			out(g, "%s: %s = socket %s", p->name, n->name, kinds[kind]);
		return;
	}
	bool tcp = v->kind < 2;
	if (what < 17) {
		/* A device: lo, a link end (with the peer), none, or one that
		 * does not exist. */
		static const char *devs[] = { "", "eth9", "lo", "eth0", "eth1" };
		int d = pick(g, g->peer ? 5 : 3);
		out(g, "%s: setsockopt %s SO_BINDTODEVICE \"%s\"", p->name, v->name, devs[d]);
		if (d >= 2)
			g->devbound[var_no(v)] = true;
		return;
	}
	if (what < 30) {
		static const char *opts[] = { "SO_REUSEADDR", "SO_REUSEPORT", "IPV6_V6ONLY",
					      "IP_FREEBIND", "IP_BIND_ADDRESS_NO_PORT", "SO_BROADCAST" };
		int o = pick(g, 6);
		if (o == 1 && pick(g, 2))
			o = 0;
		out(g, "%s: setsockopt %s %s %d", p->name, v->name, opts[o], pick(g, 4) ? 1 : 0);
		if (o == 1) {
			/* Any port it may later bind is now off limits for traffic. */
			for (int i = 0; i < NPORTS; i++)
				g->rp_port[i] = true;
			g->rp_any = true;
		}
		return;
	}
	if (what < 48) {
		int pidx = pick(g, NPORTS);
		addr_for(g, v->kind, a, sizeof(a), pidx);
		out(g, "%s: bind %s %s", p->name, v->name, a);
		if (strchr(a, '%'))
			g->devbound[var_no(v)] = true;   /* a scope id binds the device */
		return;
	}
	if (what < 56) {
		/* Backlogs stay above the connections a scenario can make (a
		 * full queue drops SYNs, which real time then retries); a
		 * second listen() changes the backlog of a listening socket. */
		static const char *backlogs[] = { "", " 64", " 1000", " -1" };
		if (tcp)
			out(g, "%s: listen %s%s", p->name, v->name, backlogs[pick(g, 4)]);
		else
			out(g, "%s: getsockname %s", p->name, v->name);
		return;
	}
	if (what < 68) {
		int pidx = pick(g, NTRAFFIC);
		if (g->rp_port[pidx] || g->conns > 40 || !may_send(g, v))
			return;
		addr_for(g, v->kind, a, sizeof(a), pidx);
		if (tcp)
			g->conns++;
		out(g, "%s: connect %s %s%s", p->name, v->name, a, tcp && pick(g, 3) == 0 ? " nonblock" : "");
		if (strchr(a, '%'))
			g->devbound[var_no(v)] = true;   /* even if the connect fails */
		return;
	}
	if (what < 74) {
		if (tcp) {
			gvar *n = new_var(g, p, v->kind);
			if (n)
				out(g, "%s: %s = accept %s", p->name, n->name, v->name);
		} else {
			int pidx = pick(g, NTRAFFIC);
			if (g->rp_port[pidx] || !may_send(g, v))
				return;
			addr_for(g, v->kind, a, sizeof(a), pidx);
			out(g, "%s: sendto %s %s \"d%d\"", p->name, v->name, a, pick(g, 100));
		}
		return;
	}
	if (what < 78) {
		/* A connected UDP socket may point at a port a group formed on. */
		if ((!tcp && g->rp_any) || !may_send(g, v))
			return;
		out(g, "%s: send %s \"m%d\"", p->name, v->name, pick(g, 100));
		return;
	}
	if (what < 83) {
		out(g, "%s: %s %s", p->name, pick(g, 2) ? "recv" : "recvfrom", v->name);
		return;
	}
	if (what < 86) {
		static const char *how[] = { "rd", "wr", "rdwr" };
		out(g, "%s: shutdown %s %s", p->name, v->name, how[pick(g, 3)]);
		return;
	}
	if (what < 88) {
		out(g, "%s: getpeername %s", p->name, v->name);
		return;
	}
	if (what < 90) {
		out(g, "%s: setsockopt %s SO_LINGER 1,0", p->name, v->name);
		return;
	}
	if (what < 96) {
		out(g, "%s: close %s", p->name, v->name);
		v->live = false;
		return;
	}
	if (what < 97 && g->np < MAXP) {
		gproc *c = &g->p[g->np++];
		*c = *p;
		snprintf(c->name, sizeof(c->name), "c%d", g->np);
		out(g, "%s: fork %s", p->name, c->name);
		g->nalive++;
		return;
	}
	if (what < 98) {
		/* A process leaves half-way: what it held and shared lives on
		 * in the others (one process always stays). */
		if (g->nalive > 1) {
			out(g, "%s: exit", p->name);
			p->alive = false;
			g->nalive--;
		}
		return;
	}
	/* sendfd to a live process that does not use this name yet */
	int to = pick(g, g->np);
	gproc *q = &g->p[to];
	if (to == pi || !q->alive || find_name(q, v->name) || q->nv == MAXV)
		return;
	out(g, "%s: sendfd %s %s", p->name, v->name, q->name);
	q->v[q->nv] = *v;
	q->nv++;
}

char *sc_gen_scenario(uint64_t seed, size_t *len_out)
{
	gen g;
	memset(&g, 0, sizeof(g));
	g.s = seed * 0x2545f4914f6cdd1dull + 1;
	out(&g, "# socktab fuzz, seed %llu", (unsigned long long)seed);
	if (pick(&g, 2))
		out(&g, "addr local 10.1.1.1/24");
	if (pick(&g, 2))
		out(&g, "addr local fd00::1/64");
	if (pick(&g, 3) == 0)
		out(&g, "sysctl net.ipv4.ip_local_port_range 40000 40009");
	if (pick(&g, 4) == 0)
		out(&g, "sysctl net.ipv4.ip_autobind_reuse 1");
	if (pick(&g, 4) == 0)
		out(&g, "sysctl net.ipv4.ip_unprivileged_port_start 0");
	if (pick(&g, 6) == 0)
		out(&g, "sysctl net.ipv6.bindv6only 1");
	static const char *reuse[] = { "0", "1", "2" };
	bool tw_sleep = pick(&g, 25) == 0;
	if (tw_sleep || pick(&g, 8) == 0)
		out(&g, "sysctl net.ipv4.tcp_tw_reuse %s", reuse[pick(&g, 3)]);
	g.peer = pick(&g, 3) == 0;
	if (g.peer) {
		out(&g, "host peer");
		out(&g, "link local:10.0.0.1/24 peer:10.0.0.2/24");
		out(&g, "link local:fe80::1/64 peer:fe80::2/64");
	}
	static const char *uids[] = { "uid=1000", "uid=1001", "uid=0", "uid=1000 caps=net_bind_service" };
	g.np = 2 + pick(&g, 2);
	for (int i = 0; i < g.np; i++) {
		snprintf(g.p[i].name, sizeof(g.p[i].name), "p%d", i);
		g.p[i].alive = true;
		/* With a peer, the last process lives there. */
		g.p[i].on_peer = g.peer && i == g.np - 1;
		out(&g, "proc %s%s %s", g.p[i].name, g.p[i].on_peer ? "@peer" : "", uids[pick(&g, 4)]);
	}
	g.nalive = g.np;
	int n = 20 + pick(&g, 40);
	/* No sleep with the links: every veth end also gets an automatic
	 * link-local address of its own, tentative for the first second or
	 * so; once usable, Linux may pick it as the source towards
	 * fe80::2 (the source rules tie, prefix match being capped at /64),
	 * and the model has no such address. */
	int sleep_at = tw_sleep && !g.peer ? n / 2 + pick(&g, n / 2) : -1;
	for (int i = 0; i < n; i++) {
		if (i == sleep_at)
			out(&g, "sleep 1100ms");
		else if (pick(&g, 12) == 0)
			out(&g, g.peer && pick(&g, 3) == 0 ? "ls peer" : "ls");
		else
			op(&g);
	}
	if (pick(&g, 3) == 0) {
		int pi = pick(&g, g.np);
		if (g.p[pi].alive) {
			out(&g, "%s: exit", g.p[pi].name);
			g.p[pi].alive = false;
		}
	}
	out(&g, "ls");
	if (g.peer)
		out(&g, "ls peer");
	if (g.oom) {
		free(g.buf);
		return NULL;
	}
	if (len_out)
		*len_out = g.len;
	return g.buf;
}
