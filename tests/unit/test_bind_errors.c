/*
 * test_bind_errors.c - bind()'s argument, address and permission checks:
 * the bind rows of the errno table (linux-semantics.md section 11),
 * rules B1-B23, and experiments X1, X2, X3, X17, X23 (explicit bind of a
 * reserved port) and X25.
 *
 * Unless said otherwise sockets are owned by uid 1000 and calls are made
 * with creds {1000, no caps}; privileged-port tests use uid 65534.
 */
#include "helpers.h"

#define NOBODY 65534u

/* Public fields of a record, to check that a failed call changed nothing. */
struct snap {
	st_addr laddr, raddr;
	uint16_t lport, rport;
	uint8_t state;
	uint32_t flags;
	int32_t dev;
	uint32_t uid;
};

static struct snap snap_of(const st_sock *sk)
{
	struct snap s;
	memset(&s, 0, sizeof s);
	s.laddr = sk->laddr;
	s.raddr = sk->raddr;
	s.lport = sk->lport;
	s.rport = sk->rport;
	s.state = sk->state;
	s.flags = sk->flags;
	s.dev = sk->dev;
	s.uid = sk->uid;
	return s;
}

#define H_SAME_SNAP(e, sk, before)                                                          \
	do {                                                                                 \
		struct snap now_ = snap_of(sk);                                              \
		H_ASSERT((e), memcmp(&now_, &(before), sizeof now_) == 0,                    \
			 "a failed call changed the record (flags %#x -> %#x, lport %u -> %u, " \
			 "state %d -> %d, dev %d -> %d)", (unsigned)(before).flags,          \
			 (unsigned)now_.flags, (unsigned)(before).lport,                     \
			 (unsigned)now_.lport, (int)(before).state, (int)now_.state,         \
			 (int)(before).dev, (int)now_.dev);                                  \
	} while (0)

/* st_addr from text; must parse. */
static st_addr addr_of(h_env *e, const char *text)
{
	st_addr a;
	int fam = 0;
	int rc;
	memset(&a, 0, sizeof a);
	rc = st_addr_parse(text, &a, &fam);
	H_ASSERT(e, rc == 0, "st_addr_parse(\"%s\") = %s", text, h_rc(rc));
	return a;
}

/* Add a device, must succeed; returns its index. */
static int add_device(h_env *e, const char *name)
{
	int idx = -1;
	int rc = st_net_add_device(e->net, name, &idx);
	snprintf(e->last, sizeof e->last, "st_net_add_device(\"%s\") = %s, index %d", name,
		 h_rc(rc), idx);
	H_ASSERT(e, rc == 0 && idx > ST_IFINDEX_LO, "adding device %s failed: %s (index %d)",
		 name, h_rc(rc), idx);
	h_check(e);
	return idx;
}

static void add_addr6(h_env *e, int ifindex, const char *text, int plen)
{
	st_addr a = addr_of(e, text);
	int rc = st_net_add_addr(e->net, ifindex, &a, ST_AF_INET6, plen);
	snprintf(e->last, sizeof e->last, "st_net_add_addr(%d, %s/%d) = %s", ifindex, text, plen,
		 h_rc(rc));
	H_ASSERT(e, rc == 0, "adding %s/%d to device %d failed: %s", text, plen, ifindex,
		 h_rc(rc));
	h_check(e);
}

/* ------------------------------------------------------------------ */
/* IPv4 argument checks: B1, B2                                          */
/* ------------------------------------------------------------------ */

static void test_b1_v4_addrlen(void **st)
{
	h_env e;
	(void)st;
	h_env_init(&e, 2, "B1 IPv4 addrlen < 16");
	st_sock *s = h_tcp4(&e);
	st_sockaddr sa = h_parse(&e, "127.0.0.1:5000");
	H_RC(&e, h_bind_sa(&e, s, &sa, 15, H_UID, 0), -EINVAL);
	H_RC(&e, h_bind_sa(&e, s, &sa, 0, H_UID, 0), -EINVAL);
	H_NAME(&e, s, "0.0.0.0:0");
	H_RC(&e, h_bind_sa(&e, s, &sa, 16, H_UID, 0), 0);
	H_NAME(&e, s, "127.0.0.1:5000");
	h_env_done(&e);
}

static void test_b2_v4_family(void **st)
{
	h_env e;
	(void)st;
	h_env_init(&e, 8, "B2 IPv4 family checks");

	/* a sockaddr_in6 on an AF_INET socket */
	st_sock *a = h_tcp4(&e);
	H_RC(&e, h_bind(&e, a, "[::1]:5000"), -EAFNOSUPPORT);
	H_RC(&e, h_bind(&e, a, "[::ffff:127.0.0.1]:5000"), -EAFNOSUPPORT);
	H_NAME(&e, a, "0.0.0.0:0");

	/* AF_UNSPEC is accepted only with 0.0.0.0 */
	st_sock *b = h_tcp4(&e);
	st_sockaddr any = h_parse(&e, "0.0.0.0:5001");
	any.family = ST_AF_UNSPEC;
	H_RC(&e, h_bind_sa(&e, b, &any, 16, H_UID, 0), 0);
	H_NAME(&e, b, "0.0.0.0:5001");

	st_sock *c = h_tcp4(&e);
	st_sockaddr lo = h_parse(&e, "127.0.0.1:5002");
	lo.family = ST_AF_UNSPEC;
	H_RC(&e, h_bind_sa(&e, c, &lo, 16, H_UID, 0), -EAFNOSUPPORT);

	st_sock *d = h_udp4(&e);
	H_RC(&e, h_bind_sa(&e, d, &lo, 16, H_UID, 0), -EAFNOSUPPORT);
	st_sockaddr any2 = h_parse(&e, "0.0.0.0:5003");
	any2.family = ST_AF_UNSPEC;
	H_RC(&e, h_bind_sa(&e, d, &any2, 16, H_UID, 0), 0);
	H_NAME(&e, d, "0.0.0.0:5003");
	h_env_done(&e);
}

/* ------------------------------------------------------------------ */
/* IPv4 addresses: B3, B20-B22, X1, X3, X25                              */
/* ------------------------------------------------------------------ */

static void test_b3_v4_not_local(void **st)
{
	h_env e;
	(void)st;
	h_env_init(&e, 8, "B3/B20 IPv4 non-local address");
	st_sock *t = h_tcp4(&e);
	H_RC(&e, h_bind(&e, t, "192.0.2.1:5000"), -EADDRNOTAVAIL);
	H_NAME(&e, t, "0.0.0.0:0");
	st_sock *u = h_udp4(&e);
	H_RC(&e, h_bind(&e, u, "192.0.2.1:5000"), -EADDRNOTAVAIL);

	/* IP_FREEBIND needs no privilege and allows it */
	st_sock *f = h_tcp4(&e);
	H_RC(&e, h_setopt(&e, f, ST_IP_FREEBIND, 1), 0);
	H_OPT(&e, f, ST_IP_FREEBIND, 1);
	H_RC(&e, h_bind(&e, f, "192.0.2.1:5000"), 0);
	H_NAME(&e, f, "192.0.2.1:5000");

	/* IP_TRANSPARENT (with CAP_NET_ADMIN) allows it */
	st_sock *tr = h_tcp4(&e);
	H_RC(&e, h_setopt_cred(&e, tr, ST_IP_TRANSPARENT, 1, ST_CAP_NET_ADMIN), 0);
	H_RC(&e, h_bind(&e, tr, "192.0.2.1:5001"), 0);
	H_NAME(&e, tr, "192.0.2.1:5001");

	/* net.ipv4.ip_nonlocal_bind = 1 allows it for everybody */
	h_sysctl(&e, "net.ipv4.ip_nonlocal_bind", "1");
	st_sock *n = h_tcp4(&e);
	H_RC(&e, h_bind(&e, n, "192.0.2.1:5002"), 0);
	st_sock *nu = h_udp4(&e);
	H_RC(&e, h_bind(&e, nu, "192.0.2.1:5002"), 0);
	h_env_done(&e);
}

struct v4case {
	int proto;
	const char *ep;
	int want;
	const char *why;
};

static void test_x1_x25_v4_addresses(void **st)
{
	static const struct v4case cases[] = {
		{ ST_TCP, "127.1.2.3:5000", 0, "X1/B21: all of 127/8 is local" },
		{ ST_TCP, "127.255.255.255:5001", 0, "X1/B22: broadcast route on lo" },
		{ ST_UDP, "127.255.255.255:5001", 0, "X1/B22: broadcast route on lo" },
		{ ST_TCP, "224.0.0.1:5002", 0, "X1/B22: multicast, even for TCP" },
		{ ST_TCP, "0.1.2.3:5003", -EADDRNOTAVAIL, "X25: 0/8 other than 0.0.0.0" },
		{ ST_TCP, "255.255.255.255:5004", 0, "X25: limited broadcast" },
		{ ST_TCP, "240.0.0.1:5005", -EADDRNOTAVAIL, "X25: 240/4 is not local" },
		{ ST_UDP, "240.0.0.1:5005", -EADDRNOTAVAIL, "X25: 240/4 is not local" },
		{ ST_TCP, "0.0.0.0:5006", 0, "B20: 0.0.0.0" },
		{ ST_UDP, "224.0.0.1:5007", 0, "B22: multicast" },
	};
	enum { N = sizeof cases / sizeof cases[0] };
	h_env e;
	(void)st;
	h_env_init(&e, N, "X1/X25 IPv4 address classes");
	for (int i = 0; i < (int)N; i++) {
		h_ctx(&e, "X1/X25 %s bind %s (%s)", h_proto_name(cases[i].proto), cases[i].ep,
		      cases[i].why);
		st_sock *s = h_sock(&e, cases[i].proto, ST_AF_INET, H_UID);
		H_RC(&e, h_bind(&e, s, cases[i].ep), cases[i].want);
		H_NAME(&e, s, cases[i].want == 0 ? cases[i].ep : "0.0.0.0:0");
	}
	h_env_done(&e);
}

static void test_x3_loopback_is_a_route(void **st)
{
	h_env e;
	int rc;
	(void)st;
	h_env_init(&e, 8, "X3/B21 127/8 is local because of one route");

	st_sock *s1 = h_tcp4(&e);
	H_RC(&e, h_bind(&e, s1, "127.1.2.3:5000"), 0);
	H_ASSERT(&e, st_net_v4_bindable(e.net, 0x7f010203u),
		 "st_net_v4_bindable(127.1.2.3) is false with 127.0.0.1/8 on lo");
	h_close(&e, s1);

	/* replace 127.0.0.1/8 by 127.0.0.1/32 on lo */
	st_addr lo = st_addr_v4(0x7f000001u);
	rc = st_net_del_addr(e.net, ST_IFINDEX_LO, &lo, ST_AF_INET, 8);
	snprintf(e.last, sizeof e.last, "st_net_del_addr(lo, 127.0.0.1/8) = %s", h_rc(rc));
	H_ASSERT(&e, rc == 0, "deleting 127.0.0.1/8 from lo returned %s", h_rc(rc));
	h_check(&e);
	rc = st_net_add_addr(e.net, ST_IFINDEX_LO, &lo, ST_AF_INET, 32);
	snprintf(e.last, sizeof e.last, "st_net_add_addr(lo, 127.0.0.1/32) = %s", h_rc(rc));
	H_ASSERT(&e, rc == 0, "adding 127.0.0.1/32 to lo returned %s", h_rc(rc));
	h_check(&e);

	h_ctx(&e, "X3 after replacing 127.0.0.1/8 by /32");
	st_sock *s2 = h_tcp4(&e);
	H_RC(&e, h_bind(&e, s2, "127.1.2.3:5000"), -EADDRNOTAVAIL);
	H_ASSERT(&e, !st_net_v4_bindable(e.net, 0x7f010203u),
		 "st_net_v4_bindable(127.1.2.3) is still true with only 127.0.0.1/32 on lo");
	st_sock *s3 = h_tcp4(&e);
	H_RC(&e, h_bind(&e, s3, "127.0.0.1:5000"), 0);

	/* ip route add local 127.5.0.0/16 dev lo table local */
	h_ctx(&e, "X3 after adding local 127.5.0.0/16");
	rc = st_net_add_route4(e.net, 0x7f050000u, 16, ST_RTN_LOCAL, ST_IFINDEX_LO, NULL);
	snprintf(e.last, sizeof e.last, "st_net_add_route4(local 127.5.0.0/16 dev lo) = %s",
		 h_rc(rc));
	H_ASSERT(&e, rc == 0, "adding local 127.5.0.0/16 returned %s", h_rc(rc));
	h_check(&e);
	st_sock *s4 = h_tcp4(&e);
	H_RC(&e, h_bind(&e, s4, "127.5.9.9:5000"), 0);
	st_sock *s5 = h_tcp4(&e);
	H_RC(&e, h_bind(&e, s5, "127.6.0.1:5000"), -EADDRNOTAVAIL);
	st_sock *s6 = h_udp4(&e);
	H_RC(&e, h_bind(&e, s6, "127.5.0.1:5000"), 0);
	h_env_done(&e);
}

/* ------------------------------------------------------------------ */
/* Privileges: B4, B13, X2                                               */
/* ------------------------------------------------------------------ */

static void test_b4_privileged_ports(void **st)
{
	h_env e;
	(void)st;
	h_env_init(&e, 16, "B4/B13 privileged ports (start 1024)");

	st_sock *a = h_sock(&e, ST_TCP, ST_AF_INET, NOBODY);
	H_RC(&e, h_bind_cred(&e, a, "127.0.0.1:80", NOBODY, 0), -EACCES);
	H_NAME(&e, a, "0.0.0.0:0");
	H_RC(&e, h_bind_cred(&e, a, "127.0.0.1:1023", NOBODY, 0), -EACCES);
	H_RC(&e, h_bind_cred(&e, a, "127.0.0.1:1024", NOBODY, 0), 0);

	st_sock *z = h_sock(&e, ST_TCP, ST_AF_INET, NOBODY);
	H_RC(&e, h_bind_cred(&e, z, "127.0.0.1:0", NOBODY, 0), 0); /* port 0 never checked */

	st_sock *b = h_sock(&e, ST_TCP, ST_AF_INET, NOBODY);
	H_RC(&e, h_bind_cred(&e, b, "127.0.0.1:80", NOBODY, ST_CAP_NET_BIND_SERVICE), 0);
	H_NAME(&e, b, "127.0.0.1:80");

	/* other capabilities do not help, and uid 0 without caps is not enough */
	st_sock *c = h_sock(&e, ST_TCP, ST_AF_INET, NOBODY);
	H_RC(&e, h_bind_cred(&e, c, "127.0.0.1:81", NOBODY, ST_CAP_NET_ADMIN | ST_CAP_NET_RAW),
	     -EACCES);
	H_RC(&e, h_bind_cred(&e, c, "127.0.0.1:82", 0, 0), -EACCES);

	st_sock *u = h_sock(&e, ST_UDP, ST_AF_INET, NOBODY);
	H_RC(&e, h_bind_cred(&e, u, "127.0.0.1:53", NOBODY, 0), -EACCES);
	H_RC(&e, h_bind_cred(&e, u, "127.0.0.1:53", NOBODY, ST_CAP_NET_BIND_SERVICE), 0);

	st_sock *v6 = h_sock(&e, ST_TCP, ST_AF_INET6, NOBODY);
	H_RC(&e, h_bind_cred(&e, v6, "[::1]:80", NOBODY, 0), -EACCES);
	H_NAME(&e, v6, "[::]:0");
	H_RC(&e, h_bind_cred(&e, v6, "[::1]:80", NOBODY, ST_CAP_NET_BIND_SERVICE), 0);

	st_sock *u6 = h_sock(&e, ST_UDP, ST_AF_INET6, NOBODY);
	H_RC(&e, h_bind_cred(&e, u6, "[::1]:53", NOBODY, 0), -EACCES);
	h_env_done(&e);
}

static void test_b4_unprivileged_port_start(void **st)
{
	h_env e;
	(void)st;
	h_env_init(&e, 4, "X2 net.ipv4.ip_unprivileged_port_start = 80");
	h_sysctl(&e, "net.ipv4.ip_unprivileged_port_start", "80");
	st_sock *a = h_sock(&e, ST_TCP, ST_AF_INET, NOBODY);
	H_RC(&e, h_bind_cred(&e, a, "127.0.0.1:79", NOBODY, 0), -EACCES);
	H_RC(&e, h_bind_cred(&e, a, "127.0.0.1:80", NOBODY, 0), 0);
	st_sock *b = h_sock(&e, ST_TCP, ST_AF_INET6, NOBODY);
	H_RC(&e, h_bind_cred(&e, b, "[::1]:79", NOBODY, 0), -EACCES);
	H_RC(&e, h_bind_cred(&e, b, "[::1]:80", NOBODY, 0), 0);
	h_env_done(&e);
}

static void test_x2_check_order_v4(void **st)
{
	h_env e;
	(void)st;
	h_env_init(&e, 4, "X2/B3-B5 IPv4 check order (uid 65534)");
	/* B3 (address) before B4 (port) */
	st_sock *a = h_sock(&e, ST_TCP, ST_AF_INET, NOBODY);
	H_RC(&e, h_bind_cred(&e, a, "192.0.2.1:80", NOBODY, 0), -EADDRNOTAVAIL);

	/* a bound socket: B4 before B5, B3 before B5 */
	st_sock *b = h_sock(&e, ST_TCP, ST_AF_INET, NOBODY);
	H_RC(&e, h_bind_cred(&e, b, "127.0.0.1:5000", NOBODY, 0), 0);
	H_RC(&e, h_bind_cred(&e, b, "127.0.0.1:80", NOBODY, 0), -EACCES);
	H_RC(&e, h_bind_cred(&e, b, "192.0.2.1:80", NOBODY, 0), -EADDRNOTAVAIL);
	H_RC(&e, h_bind_cred(&e, b, "127.0.0.1:5001", NOBODY, 0), -EINVAL);
	H_NAME(&e, b, "127.0.0.1:5000");
	h_env_done(&e);
}

static void test_x2_check_order_v6(void **st)
{
	h_env e;
	(void)st;
	h_env_init(&e, 4, "X2/B13-B14 IPv6 check order (uid 65534)");
	/* B13 (port) before the address check */
	st_sock *a = h_sock(&e, ST_TCP, ST_AF_INET6, NOBODY);
	H_RC(&e, h_bind_cred(&e, a, "[::1]:80", NOBODY, 0), -EACCES);
	H_RC(&e, h_bind_cred(&e, a, "[2001:db8::1]:80", NOBODY, 0), -EACCES);

	/* a bound socket: B13 first, then B14 before the address check */
	st_sock *b = h_sock(&e, ST_TCP, ST_AF_INET6, NOBODY);
	H_RC(&e, h_bind_cred(&e, b, "[::1]:5000", NOBODY, 0), 0);
	H_RC(&e, h_bind_cred(&e, b, "[::1]:80", NOBODY, 0), -EACCES);
	H_RC(&e, h_bind_cred(&e, b, "[2001:db8::1]:5555", NOBODY, 0), -EINVAL);
	H_NAME(&e, b, "[::1]:5000");
	h_env_done(&e);
}

static void test_x2_p6_sysctl_validation(void **st)
{
	h_env e;
	int v[2] = { 0, 0 };
	int rc;
	(void)st;
	h_env_init(&e, 1, "X2/P-6 sysctl validation");

	rc = st_net_sysctl_set_text(e.net, "net.ipv4.ip_unprivileged_port_start", "40000");
	snprintf(e.last, sizeof e.last, "set ip_unprivileged_port_start 40000 = %s", h_rc(rc));
	H_ASSERT(&e, rc == -EINVAL, "ip_unprivileged_port_start 40000 with range 32768-60999 "
		 "returned %s, expected -EINVAL", h_rc(rc));
	rc = st_net_sysctl_get(e.net, ST_SYSCTL_IP_UNPRIVILEGED_PORT_START, v, 1);
	H_ASSERT(&e, rc == 0 && v[0] == 1024, "after the refused write "
		 "ip_unprivileged_port_start reads %d (rc %s), expected 1024", v[0], h_rc(rc));

	rc = st_net_sysctl_set_text(e.net, "net.ipv4.ip_local_port_range", "1000 2000");
	snprintf(e.last, sizeof e.last, "set ip_local_port_range \"1000 2000\" = %s", h_rc(rc));
	H_ASSERT(&e, rc == -EINVAL, "port range 1000-2000 with start 1024 returned %s, "
		 "expected -EINVAL", h_rc(rc));
	rc = st_net_sysctl_set_text(e.net, "net.ipv4.ip_local_port_range", "40000 39999");
	snprintf(e.last, sizeof e.last, "set ip_local_port_range \"40000 39999\" = %s", h_rc(rc));
	H_ASSERT(&e, rc == -EINVAL, "port range 40000-39999 returned %s, expected -EINVAL",
		 h_rc(rc));
	rc = st_net_sysctl_get(e.net, ST_SYSCTL_IP_LOCAL_PORT_RANGE, v, 2);
	H_ASSERT(&e, rc == 0 && v[0] == 32768 && v[1] == 60999, "after refused writes the port "
		 "range reads %d-%d (rc %s), expected 32768-60999", v[0], v[1], h_rc(rc));

	/* same parity at both ends and a one-port range are accepted */
	h_sysctl(&e, "net.ipv4.ip_local_port_range", "40000 40002");
	h_sysctl(&e, "net.ipv4.ip_local_port_range", "40000 40000");
	rc = st_net_sysctl_get(e.net, ST_SYSCTL_IP_LOCAL_PORT_RANGE, v, 2);
	H_ASSERT(&e, rc == 0 && v[0] == 40000 && v[1] == 40000, "port range reads %d-%d "
		 "(rc %s), expected 40000-40000", v[0], v[1], h_rc(rc));

	rc = st_net_sysctl_set_text(e.net, "net.ipv4.no_such_thing", "1");
	snprintf(e.last, sizeof e.last, "set net.ipv4.no_such_thing = %s", h_rc(rc));
	H_ASSERT(&e, rc == -ENOENT, "unknown sysctl returned %s, expected -ENOENT", h_rc(rc));
	h_check(&e);
	h_env_done(&e);
}

/* ------------------------------------------------------------------ */
/* Already bound: B5, B14                                               */
/* ------------------------------------------------------------------ */

static void test_b5_already_bound_v4(void **st)
{
	h_env e;
	(void)st;
	h_env_init(&e, 16, "B5 bind on a socket that already has a port");

	h_ctx(&e, "B5 double bind (TCP)");
	st_sock *a = h_tcp4(&e);
	H_RC(&e, h_bind(&e, a, "127.0.0.1:5000"), 0);
	H_RC(&e, h_bind(&e, a, "127.0.0.1:5001"), -EINVAL);
	H_RC(&e, h_bind(&e, a, "127.0.0.1:5000"), -EINVAL);
	H_NAME(&e, a, "127.0.0.1:5000");

	h_ctx(&e, "B5 bind after bind(addr, 0) (TCP)");
	st_sock *z = h_tcp4(&e);
	H_RC(&e, h_bind(&e, z, "127.0.0.1:0"), 0);
	H_RC(&e, h_bind(&e, z, "127.0.0.1:5009"), -EINVAL);

	h_ctx(&e, "B5 bind after listen (TCP)");
	st_sock *l = h_tcp4(&e);
	H_RC(&e, h_bind(&e, l, "127.0.0.1:5002"), 0);
	H_RC(&e, h_listen(&e, l), 0);
	H_RC(&e, h_bind(&e, l, "127.0.0.1:5003"), -EINVAL);

	h_ctx(&e, "B5 bind after listen autobind (TCP)");
	st_sock *la = h_tcp4(&e);
	H_RC(&e, h_listen(&e, la), 0);
	H_RC(&e, h_bind(&e, la, "127.0.0.1:5004"), -EINVAL);

	h_ctx(&e, "B5 bind after connect (TCP)");
	st_sock *c = h_tcp4(&e);
	H_RC(&e, h_connect(&e, c, "127.0.0.1:5002"), 0);
	H_RC(&e, h_bind(&e, c, "127.0.0.1:5005"), -EINVAL);

	h_ctx(&e, "B5 bind after bind+connect (TCP)");
	st_sock *bc = h_tcp4(&e);
	H_RC(&e, h_bind(&e, bc, "127.0.0.1:5010"), 0);
	H_RC(&e, h_connect(&e, bc, "127.0.0.1:5002"), 0);
	H_RC(&e, h_bind(&e, bc, "127.0.0.1:5011"), -EINVAL);

	h_ctx(&e, "B5 double bind (UDP)");
	st_sock *u = h_udp4(&e);
	H_RC(&e, h_bind(&e, u, "127.0.0.1:5000"), 0);
	H_RC(&e, h_bind(&e, u, "127.0.0.1:5006"), -EINVAL);

	h_ctx(&e, "B5 bind after UDP connect autobind");
	st_sock *uc = h_udp4(&e);
	H_RC(&e, h_connect(&e, uc, "127.0.0.1:9999"), 0);
	H_ASSERT(&e, h_port(uc) != 0, "UDP connect did not autobind");
	H_RC(&e, h_bind(&e, uc, "127.0.0.1:5007"), -EINVAL);
	h_env_done(&e);
}

static void test_b14_already_bound_v6(void **st)
{
	h_env e;
	(void)st;
	h_env_init(&e, 4, "B14 IPv6 bind on a bound socket");
	st_sock *a = h_tcp6(&e);
	H_RC(&e, h_bind(&e, a, "[::1]:5000"), 0);
	H_RC(&e, h_bind(&e, a, "[::1]:5001"), -EINVAL);
	H_RC(&e, h_bind(&e, a, "[::]:5001"), -EINVAL);
	st_sock *u = h_udp6(&e);
	H_RC(&e, h_bind(&e, u, "[::]:5000"), 0);
	H_RC(&e, h_bind(&e, u, "[::1]:5001"), -EINVAL);
	st_sock *l = h_tcp6(&e);
	H_RC(&e, h_listen(&e, l), 0);
	H_RC(&e, h_bind(&e, l, "[::1]:5002"), -EINVAL);
	h_env_done(&e);
}

/* ------------------------------------------------------------------ */
/* IPv6 argument checks: B10-B17                                         */
/* ------------------------------------------------------------------ */

static void test_b10_b11_v6_len_family(void **st)
{
	h_env e;
	(void)st;
	h_env_init(&e, 4, "B10/B11 IPv6 addrlen and family");
	st_sock *s = h_tcp6(&e);

	/* a 16-byte sockaddr_in on an AF_INET6 socket: EINVAL, not EAFNOSUPPORT */
	st_sockaddr v4 = h_parse(&e, "127.0.0.1:5000");
	H_RC(&e, h_bind_sa(&e, s, &v4, 16, H_UID, 0), -EINVAL);

	st_sockaddr sa = h_parse(&e, "[::1]:5000");
	st_sockaddr wrong = sa;
	wrong.family = ST_AF_INET;
	H_RC(&e, h_bind_sa(&e, s, &wrong, 28, H_UID, 0), -EAFNOSUPPORT);
	wrong.family = ST_AF_UNSPEC;
	H_RC(&e, h_bind_sa(&e, s, &wrong, 28, H_UID, 0), -EAFNOSUPPORT);
	st_sockaddr unspec_any = h_parse(&e, "[::]:5000");
	unspec_any.family = ST_AF_UNSPEC;
	H_RC(&e, h_bind_sa(&e, s, &unspec_any, 28, H_UID, 0), -EAFNOSUPPORT);

	H_RC(&e, h_bind_sa(&e, s, &sa, 23, H_UID, 0), -EINVAL);
	H_NAME(&e, s, "[::]:0");
	H_RC(&e, h_bind_sa(&e, s, &sa, 24, H_UID, 0), 0);
	H_NAME(&e, s, "[::1]:5000");

	st_sock *u = h_udp6(&e);
	H_RC(&e, h_bind_sa(&e, u, &v4, 16, H_UID, 0), -EINVAL);
	H_RC(&e, h_bind_sa(&e, u, &sa, 28, H_UID, 0), 0);
	h_env_done(&e);
}

static void test_b12_b16_v6_multicast(void **st)
{
	h_env e;
	(void)st;
	h_env_init(&e, 8, "B12/B16 IPv6 multicast");
	st_sock *t = h_tcp6(&e);
	H_RC(&e, h_bind(&e, t, "[ff02::1]:5000"), -EINVAL);
	H_RC(&e, h_bind(&e, t, "[ff02::1%1]:5000"), -EINVAL);
	H_RC(&e, h_bind(&e, t, "[ff0e::1]:5000"), -EINVAL);
	H_NAME(&e, t, "[::]:0");

	st_sock *u = h_udp6(&e);
	H_RC(&e, h_bind(&e, u, "[ff02::1]:5000"), -EINVAL);   /* needs a scope */
	H_RC(&e, h_bind(&e, u, "[ff02::1%999]:5000"), -ENODEV);
	H_OPT(&e, u, ST_SO_BINDTODEVICE, 0);
	H_RC(&e, h_bind(&e, u, "[ff02::1%1]:5000"), 0);
	H_OPT(&e, u, ST_SO_BINDTODEVICE, ST_IFINDEX_LO);
	H_PORT(&e, u, 5000);

	st_sock *g = h_udp6(&e);
	H_RC(&e, h_bind(&e, g, "[ff0e::1]:5000"), 0);   /* global scope, no device */
	H_NAME(&e, g, "[ff0e::1]:5000");
	h_env_done(&e);
}

static void test_b15_v4mapped(void **st)
{
	h_env e;
	(void)st;
	h_env_init(&e, 8, "B15 v4-mapped addresses on AF_INET6 sockets");
	st_sock *a = h_tcp6(&e);
	h_flags(&e, a, H_V6ONLY);
	H_RC(&e, h_bind(&e, a, "[::ffff:127.0.0.1]:5000"), -EINVAL);
	H_OPT(&e, a, ST_IPV6_V6ONLY, 1);

	st_sock *b = h_tcp6(&e);
	H_RC(&e, h_bind(&e, b, "[::ffff:127.0.0.1]:5001"), 0);
	H_OPT(&e, b, ST_IPV6_V6ONLY, 0);
	H_NAME(&e, b, "[::ffff:127.0.0.1]:5001");

	st_sock *c = h_tcp6(&e);
	H_RC(&e, h_bind(&e, c, "[::ffff:192.0.2.1]:5002"), -EADDRNOTAVAIL);

	st_sock *d = h_tcp6(&e);
	H_RC(&e, h_bind(&e, d, "[::ffff:0.0.0.0]:5003"), 0);
	H_OPT(&e, d, ST_IPV6_V6ONLY, 0);

	st_sock *u = h_udp6(&e);
	h_flags(&e, u, H_V6ONLY);
	H_RC(&e, h_bind(&e, u, "[::ffff:127.0.0.1]:5000"), -EINVAL);
	st_sock *u2 = h_udp6(&e);
	H_RC(&e, h_bind(&e, u2, "[::ffff:127.0.0.1]:5000"), 0);
	h_env_done(&e);
}

static void test_b16_link_local_scope(void **st)
{
	h_env e;
	(void)st;
	h_env_init(&e, 4, "B16 fe80::1 (not configured) and its scope");
	st_sock *s = h_tcp6(&e);
	H_RC(&e, h_bind(&e, s, "[fe80::1]:5000"), -EINVAL);
	H_RC(&e, h_bind(&e, s, "[fe80::1%999]:5000"), -ENODEV);
	H_RC(&e, h_bind(&e, s, "[fe80::1%1]:5000"), -EADDRNOTAVAIL);
	H_OPT(&e, s, ST_SO_BINDTODEVICE, 0);
	H_OPT(&e, s, ST_IPV6_V6ONLY, 0);
	H_NAME(&e, s, "[::]:0");
	H_RC(&e, h_bind(&e, s, "[::1]:5000"), 0);
	h_env_done(&e);
}

static void test_b17_v6_not_configured(void **st)
{
	h_env e;
	(void)st;
	h_env_init(&e, 8, "B17 IPv6 address not configured");
	st_sock *a = h_tcp6(&e);
	H_RC(&e, h_bind(&e, a, "[2001:db8::1]:5000"), -EADDRNOTAVAIL);
	H_OPT(&e, a, ST_IPV6_V6ONLY, 0);
	st_sock *au = h_udp6(&e);
	H_RC(&e, h_bind(&e, au, "[2001:db8::1]:5000"), -EADDRNOTAVAIL);

	st_sock *f = h_tcp6(&e);
	H_RC(&e, h_setopt(&e, f, ST_IP_FREEBIND, 1), 0);
	H_RC(&e, h_bind(&e, f, "[2001:db8::1]:5000"), 0);
	H_NAME(&e, f, "[2001:db8::1]:5000");
	H_OPT(&e, f, ST_IPV6_V6ONLY, 1); /* B18: native address forces v6only */

	st_sock *t = h_tcp6(&e);
	H_RC(&e, h_setopt_cred(&e, t, ST_IP_TRANSPARENT, 1, ST_CAP_NET_ADMIN), 0);
	H_RC(&e, h_bind(&e, t, "[2001:db8::1]:5001"), 0);

	h_sysctl(&e, "net.ipv6.ip_nonlocal_bind", "1");
	st_sock *n = h_tcp6(&e);
	H_RC(&e, h_bind(&e, n, "[2001:db8::1]:5002"), 0);
	h_env_done(&e);
}

/* X1 / section 1.5: V6ONLY after binding ::1, ::, ::ffff:x */
static void test_x1_v6only_forced_by_native_bind(void **st)
{
	h_env e;
	(void)st;
	h_env_init(&e, 8, "X1/1.5 V6ONLY after bind");
	st_sock *a = h_tcp6(&e);
	H_OPT(&e, a, ST_IPV6_V6ONLY, 0);
	H_RC(&e, h_bind(&e, a, "[::1]:5000"), 0);
	H_OPT(&e, a, ST_IPV6_V6ONLY, 1);

	st_sock *b = h_tcp6(&e);
	H_RC(&e, h_bind(&e, b, "[::]:5001"), 0);
	H_OPT(&e, b, ST_IPV6_V6ONLY, 0);

	st_sock *u = h_udp6(&e);
	H_RC(&e, h_bind(&e, u, "[::1]:5000"), 0);
	H_OPT(&e, u, ST_IPV6_V6ONLY, 1);
	h_env_done(&e);
}

/* 1.5: the forced V6ONLY is restored when the bind fails. */
static void test_v6only_restored_on_failed_bind(void **st)
{
	static const int protos[] = { ST_TCP, ST_UDP };
	(void)st;
	for (int i = 0; i < 2; i++) {
		char ctx[96];
		h_env e;
		snprintf(ctx, sizeof ctx, "1.5 V6ONLY restored after a failed bind of ::1 (%s)",
			 h_proto_name(protos[i]));
		h_env_init(&e, 4, ctx);
		st_sock *a = h_sock(&e, protos[i], ST_AF_INET6, H_UID);
		H_RC(&e, h_bind(&e, a, "[::1]:5000"), 0);
		st_sock *b = h_sock(&e, protos[i], ST_AF_INET6, H_UID);
		H_OPT(&e, b, ST_IPV6_V6ONLY, 0);
		H_RC(&e, h_bind(&e, b, "[::1]:5000"), -EADDRINUSE);
		H_OPT(&e, b, ST_IPV6_V6ONLY, 0);
		H_NAME(&e, b, "[::]:0");
		/* and it is bindable afterwards */
		H_RC(&e, h_bind(&e, b, "[::1]:5001"), 0);
		H_OPT(&e, b, ST_IPV6_V6ONLY, 1);
		h_env_done(&e);
	}
}

/* ------------------------------------------------------------------ */
/* Failed binds change nothing                                           */
/* ------------------------------------------------------------------ */

static void test_failed_bind_leaves_socket_unbound(void **st)
{
	static const int protos[] = { ST_TCP, ST_UDP };
	(void)st;
	for (int i = 0; i < 2; i++) {
		char ctx[96];
		h_env e;
		snprintf(ctx, sizeof ctx, "failed binds leave the %s socket unbound",
			 h_proto_name(protos[i]));
		h_env_init(&e, 4, ctx);
		st_sock *a = h_sock(&e, protos[i], ST_AF_INET, H_UID);
		H_RC(&e, h_bind(&e, a, "127.0.0.1:5000"), 0);

		st_sock *b = h_sock(&e, protos[i], ST_AF_INET, H_UID);
		struct snap before = snap_of(b);
		H_RC(&e, h_bind(&e, b, "127.0.0.1:5000"), -EADDRINUSE);
		H_NAME(&e, b, "0.0.0.0:0");
		H_SAME_SNAP(&e, b, before);
		H_RC(&e, h_bind(&e, b, "0.0.0.0:5000"), -EADDRINUSE);
		H_SAME_SNAP(&e, b, before);
		H_RC(&e, h_bind(&e, b, "192.0.2.1:5001"), -EADDRNOTAVAIL);
		H_NAME(&e, b, "0.0.0.0:0");
		H_SAME_SNAP(&e, b, before);
		H_RC(&e, h_bind(&e, b, "127.0.0.1:80"), -EACCES);
		H_NAME(&e, b, "0.0.0.0:0");
		H_SAME_SNAP(&e, b, before);

		H_RC(&e, h_bind(&e, b, "127.0.0.1:5001"), 0);
		H_NAME(&e, b, "127.0.0.1:5001");
		h_env_done(&e);
	}
}

/* ------------------------------------------------------------------ */
/* IP_TRANSPARENT / IP_FREEBIND permissions                              */
/* ------------------------------------------------------------------ */

static void test_ip_transparent_needs_cap(void **st)
{
	h_env e;
	(void)st;
	h_env_init(&e, 8, "IP_TRANSPARENT needs CAP_NET_ADMIN or CAP_NET_RAW");
	st_sock *a = h_tcp4(&e);
	H_RC(&e, h_setopt_cred(&e, a, ST_IP_TRANSPARENT, 1, 0), -EPERM);
	H_OPT(&e, a, ST_IP_TRANSPARENT, 0);
	H_RC(&e, h_setopt_cred(&e, a, ST_IP_TRANSPARENT, 1, ST_CAP_NET_BIND_SERVICE), -EPERM);
	H_RC(&e, h_bind(&e, a, "192.0.2.1:5000"), -EADDRNOTAVAIL);

	st_sock *b = h_tcp4(&e);
	H_RC(&e, h_setopt_cred(&e, b, ST_IP_TRANSPARENT, 1, ST_CAP_NET_ADMIN), 0);
	H_OPT(&e, b, ST_IP_TRANSPARENT, 1);
	H_RC(&e, h_bind(&e, b, "192.0.2.1:5000"), 0);

	st_sock *c = h_udp4(&e);
	H_RC(&e, h_setopt_cred(&e, c, ST_IP_TRANSPARENT, 1, ST_CAP_NET_RAW), 0);
	H_OPT(&e, c, ST_IP_TRANSPARENT, 1);
	H_RC(&e, h_bind(&e, c, "192.0.2.1:5000"), 0);

	st_sock *d = h_tcp4(&e);
	H_RC(&e, h_setopt_cred(&e, d, ST_IP_FREEBIND, 1, 0), 0);
	H_OPT(&e, d, ST_IP_FREEBIND, 1);
	h_env_done(&e);
}

/* ------------------------------------------------------------------ */
/* The plain conflict row of the errno table                             */
/* ------------------------------------------------------------------ */

static void test_errno_conflict(void **st)
{
	static const int protos[] = { ST_TCP, ST_UDP };
	(void)st;
	for (int i = 0; i < 2; i++) {
		char ctx[96];
		h_env e;
		snprintf(ctx, sizeof ctx, "errno table: %s conflict -> EADDRINUSE",
			 h_proto_name(protos[i]));
		h_env_init(&e, 4, ctx);
		st_sock *a = h_sock(&e, protos[i], ST_AF_INET, H_UID);
		st_sock *b = h_sock(&e, protos[i], ST_AF_INET, H_UID);
		st_sock *c = h_sock(&e, protos[i], ST_AF_INET, H_UID);
		H_RC(&e, h_bind(&e, a, "127.0.0.1:5000"), 0);
		H_RC(&e, h_bind(&e, b, "127.0.0.1:5000"), -EADDRINUSE);
		/* a TCP and a UDP socket never conflict (1.1) */
		st_sock *o = h_sock(&e, protos[i] == ST_TCP ? ST_UDP : ST_TCP, ST_AF_INET, H_UID);
		H_RC(&e, h_bind(&e, o, "127.0.0.1:5000"), 0);
		/* closing the owner frees the port */
		h_close(&e, a);
		H_RC(&e, h_bind(&e, c, "127.0.0.1:5000"), 0);
		h_env_done(&e);
	}
}

/* ------------------------------------------------------------------ */
/* Devices and IPv6 scopes: B-T1 device gate, B16, B17, B23, X17        */
/* ------------------------------------------------------------------ */

static void test_x17_device_gate(void **st)
{
	static const int protos[] = { ST_TCP, ST_UDP };
	(void)st;
	for (int i = 0; i < 2; i++) {
		char ctx[96];
		h_env e;
		snprintf(ctx, sizeof ctx, "X17 device gate (%s)", h_proto_name(protos[i]));
		h_env_init(&e, 8, ctx);
		int d0 = add_device(&e, "d0");

		st_sock *s1 = h_sock(&e, protos[i], ST_AF_INET, H_UID);
		H_RC(&e, h_setopt(&e, s1, ST_SO_BINDTODEVICE, ST_IFINDEX_LO), 0);
		H_OPT(&e, s1, ST_SO_BINDTODEVICE, ST_IFINDEX_LO);
		H_RC(&e, h_bind(&e, s1, "127.0.0.1:6000"), 0);

		st_sock *s2 = h_sock(&e, protos[i], ST_AF_INET, H_UID);
		H_RC(&e, h_setopt(&e, s2, ST_SO_BINDTODEVICE, (uint32_t)d0), 0);
		H_RC(&e, h_bind(&e, s2, "127.0.0.1:6000"), 0);   /* B23 too */

		st_sock *s3 = h_sock(&e, protos[i], ST_AF_INET, H_UID);
		H_RC(&e, h_bind(&e, s3, "127.0.0.1:6000"), -EADDRINUSE);

		st_sock *s4 = h_sock(&e, protos[i], ST_AF_INET, H_UID);
		H_RC(&e, h_setopt(&e, s4, ST_SO_BINDTODEVICE, ST_IFINDEX_LO), 0);
		H_RC(&e, h_bind(&e, s4, "127.0.0.1:6000"), -EADDRINUSE);

		st_sock *w = h_sock(&e, protos[i], ST_AF_INET, H_UID);
		H_RC(&e, h_bind(&e, w, "0.0.0.0:6001"), 0);
		st_sock *s5 = h_sock(&e, protos[i], ST_AF_INET, H_UID);
		H_RC(&e, h_setopt(&e, s5, ST_SO_BINDTODEVICE, ST_IFINDEX_LO), 0);
		H_RC(&e, h_bind(&e, s5, "127.0.0.1:6001"), -EADDRINUSE);

		st_sock *x = h_sock(&e, protos[i], ST_AF_INET, H_UID);
		H_RC(&e, h_setopt(&e, x, ST_SO_BINDTODEVICE, 99), -ENODEV);
		H_OPT(&e, x, ST_SO_BINDTODEVICE, 0);
		h_env_done(&e);
	}
}

static void test_x17_v6_scope_and_device(void **st)
{
	char ep[64];
	h_env e;
	(void)st;
	h_env_init(&e, 16, "X17 IPv6 scope and device (d0 has fe80::1, 2001:db8::1)");
	int d0 = add_device(&e, "d0");
	add_addr6(&e, d0, "fe80::1", 64);
	add_addr6(&e, d0, "2001:db8::1", 64);

	h_ctx(&e, "X17/B23 TCP on d0 + 127.0.0.1");
	st_sock *a = h_tcp4(&e);
	H_RC(&e, h_setopt(&e, a, ST_SO_BINDTODEVICE, (uint32_t)d0), 0);
	H_RC(&e, h_bind(&e, a, "127.0.0.1:6000"), 0);

	h_ctx(&e, "X17/B17 TCP on d0 + ::1 (host scope, not on d0)");
	st_sock *b = h_tcp6(&e);
	H_RC(&e, h_setopt(&e, b, ST_SO_BINDTODEVICE, (uint32_t)d0), 0);
	H_RC(&e, h_bind(&e, b, "[::1]:6001"), -EADDRNOTAVAIL);

	h_ctx(&e, "X17/B17 TCP on lo + 2001:db8::1 (global, on d0)");
	st_sock *c = h_tcp6(&e);
	H_RC(&e, h_setopt(&e, c, ST_SO_BINDTODEVICE, ST_IFINDEX_LO), 0);
	H_RC(&e, h_bind(&e, c, "[2001:db8::1]:6002"), 0);

	h_ctx(&e, "X17/B16 fe80::1 with scope d0");
	st_sock *d = h_tcp6(&e);
	snprintf(ep, sizeof ep, "[fe80::1%%%d]:6003", d0);
	H_RC(&e, h_bind(&e, d, ep), 0);
	H_OPT(&e, d, ST_SO_BINDTODEVICE, (uint32_t)d0);
	H_OPT(&e, d, ST_IPV6_V6ONLY, 1);

	h_ctx(&e, "X17/B17 fe80::1 with scope lo");
	st_sock *f = h_tcp6(&e);
	H_RC(&e, h_bind(&e, f, "[fe80::1%1]:6004"), -EADDRNOTAVAIL);

	h_ctx(&e, "X17/B16 socket on lo, fe80::1 with scope d0: scope wins");
	st_sock *g = h_tcp6(&e);
	H_RC(&e, h_setopt(&e, g, ST_SO_BINDTODEVICE, ST_IFINDEX_LO), 0);
	snprintf(ep, sizeof ep, "[fe80::1%%%d]:6005", d0);
	H_RC(&e, h_bind(&e, g, ep), 0);
	H_OPT(&e, g, ST_SO_BINDTODEVICE, (uint32_t)d0);

	h_ctx(&e, "X17/B16 socket on d0, fe80::1 without scope");
	st_sock *k = h_tcp6(&e);
	H_RC(&e, h_setopt(&e, k, ST_SO_BINDTODEVICE, (uint32_t)d0), 0);
	H_RC(&e, h_bind(&e, k, "[fe80::1]:6006"), 0);
	H_OPT(&e, k, ST_SO_BINDTODEVICE, (uint32_t)d0);

	h_ctx(&e, "X17/B16 fe80::1 scope d0 but addrlen 24 (scope ignored)");
	st_sock *m = h_tcp6(&e);
	snprintf(ep, sizeof ep, "[fe80::1%%%d]:6007", d0);
	st_sockaddr sa = h_parse(&e, ep);
	H_RC(&e, h_bind_sa(&e, m, &sa, ST_SOCKADDR_IN6_LEN_RFC2133, H_UID, 0), -EINVAL);
	H_OPT(&e, m, ST_SO_BINDTODEVICE, 0);
	H_NAME(&e, m, "[::]:0");

	h_ctx(&e, "X17/B17 global 2001:db8::1 without device");
	st_sock *n = h_udp6(&e);
	H_RC(&e, h_bind(&e, n, "[2001:db8::1]:6008"), 0);
	h_env_done(&e);
}

/* ------------------------------------------------------------------ */
/* X23: reserved ports are bindable explicitly                          */
/* ------------------------------------------------------------------ */

static void test_x23_reserved_explicit_bind(void **st)
{
	static const struct {
		unsigned port;
		bool reserved;
	} probes[] = { { 40000, true },  { 40001, false }, { 40009, false }, { 40010, true },
		       { 40015, true },  { 40020, true },  { 40021, false } };
	h_env e;
	(void)st;
	h_env_init(&e, 4, "X23 net.ipv4.ip_local_reserved_ports = 40000,40010-40020");
	h_sysctl(&e, "net.ipv4.ip_local_reserved_ports", "40000,40010-40020");
	for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
		bool r = st_net_port_is_reserved(e.net, (uint16_t)probes[i].port);
		H_ASSERT(&e, r == probes[i].reserved, "st_net_port_is_reserved(%u) = %d, "
			 "expected %d", probes[i].port, (int)r, (int)probes[i].reserved);
	}
	st_sock *t = h_tcp4(&e);
	H_RC(&e, h_bind(&e, t, "127.0.0.1:40000"), 0);
	st_sock *u = h_udp4(&e);
	H_RC(&e, h_bind(&e, u, "127.0.0.1:40000"), 0);
	st_sock *t2 = h_tcp4(&e);
	H_RC(&e, h_bind(&e, t2, "127.0.0.1:40015"), 0);

	h_sysctl(&e, "net.ipv4.ip_local_reserved_ports", "");
	H_ASSERT(&e, !st_net_port_is_reserved(e.net, 40000) &&
		 !st_net_port_is_reserved(e.net, 40015),
		 "an empty ip_local_reserved_ports did not clear the reservations");
	h_env_done(&e);
}

/* ------------------------------------------------------------------ */

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b1_v4_addrlen),
		cmocka_unit_test(test_b2_v4_family),
		cmocka_unit_test(test_b3_v4_not_local),
		cmocka_unit_test(test_x1_x25_v4_addresses),
		cmocka_unit_test(test_x3_loopback_is_a_route),
		cmocka_unit_test(test_b4_privileged_ports),
		cmocka_unit_test(test_b4_unprivileged_port_start),
		cmocka_unit_test(test_x2_check_order_v4),
		cmocka_unit_test(test_x2_check_order_v6),
		cmocka_unit_test(test_x2_p6_sysctl_validation),
		cmocka_unit_test(test_b5_already_bound_v4),
		cmocka_unit_test(test_b14_already_bound_v6),
		cmocka_unit_test(test_b10_b11_v6_len_family),
		cmocka_unit_test(test_b12_b16_v6_multicast),
		cmocka_unit_test(test_b15_v4mapped),
		cmocka_unit_test(test_b16_link_local_scope),
		cmocka_unit_test(test_b17_v6_not_configured),
		cmocka_unit_test(test_x1_v6only_forced_by_native_bind),
		cmocka_unit_test(test_v6only_restored_on_failed_bind),
		cmocka_unit_test(test_failed_bind_leaves_socket_unbound),
		cmocka_unit_test(test_ip_transparent_needs_cap),
		cmocka_unit_test(test_errno_conflict),
		cmocka_unit_test(test_x17_device_gate),
		cmocka_unit_test(test_x17_v6_scope_and_device),
		cmocka_unit_test(test_x23_reserved_explicit_bind),
	};
	return cmocka_run_group_tests_name("bind_errors", tests, NULL, NULL);
}
