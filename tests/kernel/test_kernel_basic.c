/*
 * tests/kernel/test_kernel_basic.c - the kernel replay backend, call by call.
 *
 * Each test creates a fresh backend (fresh namespaces), drives it through
 * the sc_backend_ops table and checks what real Linux answered: errnos,
 * addresses, data, and `ls` rows with their owners.  The expectations are
 * Linux's documented behaviour (docs/kernel-experiments.md and
 * ../shared/linux-semantics.md), so a test fails if the replay loses or
 * alters anything on the way, or if the settle rule returns too early.
 */
#include "kr_test.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* The spec's first example: listen on a port, TCP and UDP, then exit. */
static void test_listen_connect_accept(void **state)
{
	int liz, tim, s1, s2, c, c2;
	char name[80], peer[80], exp[1024], buf[64];
	sc_result r;

	(void)state;
	liz = kt_proc("liz", NULL, 1000, 0);
	tim = kt_proc("tim", NULL, 1000, 0);
	s1 = kt_socket(liz, SC_TCP4);
	assert_int_equal(kt_bind(liz, s1, "127.0.0.1:8080"), 0);
	assert_int_equal(kt_listen(liz, s1), 0);
	s2 = kt_socket(liz, SC_UDP4);
	assert_int_equal(kt_bind(liz, s2, "127.0.0.1:8080"), 0);
	c = kt_socket(tim, SC_TCP4);
	assert_int_equal(kt_connect(tim, c, "127.0.0.1:8080", false), 0);
	kt_name(tim, c, false, name, sizeof(name));

	kt_ops()->accept(kt_b, liz, s1, &r);
	KT_OK(&r, "accept");
	assert_int_equal(r.kind, SC_R_OK_ADDR);
	kt_fmt(&r.addr, peer, sizeof(peer));
	assert_string_equal(peer, name);
	sc_result_clear(&r);

	snprintf(exp, sizeof(exp),
		 "tcp4 LISTEN 127.0.0.1:8080 * liz\n"
		 "tcp4 ESTAB 127.0.0.1:8080 %s liz\n"
		 "tcp4 ESTAB %s 127.0.0.1:8080 tim\n"
		 "udp4 UNCONN 127.0.0.1:8080 * liz\n", name, name);
	KT_LS(NULL, exp);

	/* Nothing more queued: accept never blocks. */
	kt_ops()->accept(kt_b, liz, s1, &r);
	KT_ERR(&r, EAGAIN, "second accept");
	sc_result_clear(&r);

	assert_int_equal(kt_send(tim, c, "timmy\n"), 0);
	/* The accepted socket is the lowest free descriptor after s2. */
	assert_int_equal(kt_recv(liz, s2 + 1, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "timmy\n");
	assert_int_equal(kt_recv(liz, s2 + 1, buf, sizeof(buf)), EAGAIN);

	kt_ops()->exit(kt_b, liz, &r);
	KT_OK(&r, "exit");
	sc_result_clear(&r);
	/* liz's end is closed: FIN sent and acknowledged, tim got end of stream. */
	snprintf(exp, sizeof(exp),
		 "tcp4 FIN-WAIT-2 127.0.0.1:8080 %s -\n"
		 "tcp4 CLOSE-WAIT %s 127.0.0.1:8080 tim\n", name, name);
	KT_LS(NULL, exp);
	assert_int_equal(kt_recv(tim, c, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");

	c2 = kt_socket(tim, SC_TCP4);
	assert_int_equal(kt_connect(tim, c2, "127.0.0.1:8080", false), ECONNREFUSED);
	/* A process that has exited is gone for good. */
	kt_ops()->socket(kt_b, liz, SC_TCP4, &r);
	KT_ERR(&r, ESRCH, "socket after exit");
	assert_non_null(r.explain);
	sc_result_clear(&r);
}

/* Ports below 1024, capabilities, SO_REUSEPORT's uid rule, bound-inactive rows. */
static void test_privileges_and_reuse(void **state)
{
	int liz, bob, kim, web, root, a, b, c, d, e, f;

	(void)state;
	liz = kt_proc("liz", NULL, 1000, 0);
	bob = kt_proc("bob", NULL, 1001, 0);
	kim = kt_proc("kim", NULL, 1000, 0);
	web = kt_proc("web", NULL, 1000, ST_CAP_NET_BIND_SERVICE);
	root = kt_proc("root", NULL, 0, ST_CAP_ALL);

	a = kt_socket(liz, SC_TCP4);
	assert_int_equal(kt_bind(liz, a, "127.0.0.1:80"), EACCES);
	b = kt_socket(web, SC_TCP4);
	assert_int_equal(kt_bind(web, b, "127.0.0.1:80"), 0);
	c = kt_socket(root, SC_TCP6);
	assert_int_equal(kt_bind(root, c, "[::1]:81"), 0);

	/* SO_REUSEPORT: only sockets of the same uid may share. */
	{
		sc_optval v;
		sc_result r;
		int i, who[3] = { liz, bob, kim }, fd[3];

		memset(&v, 0, sizeof(v));
		v.i = 1;
		for (i = 0; i < 3; i++) {
			fd[i] = kt_socket(who[i], SC_UDP4);
			kt_ops()->setsockopt(kt_b, who[i], fd[i], SC_SO_REUSEPORT, &v, &r);
			KT_OK(&r, "setsockopt SO_REUSEPORT");
			sc_result_clear(&r);
		}
		assert_int_equal(kt_bind(liz, fd[0], "127.0.0.1:9000"), 0);
		assert_int_equal(kt_bind(bob, fd[1], "127.0.0.1:9000"), EADDRINUSE);
		assert_int_equal(kt_bind(kim, fd[2], "127.0.0.1:9000"), 0);
	}

	/* A bound TCP socket that neither listens nor connects is BOUND. */
	d = kt_socket(liz, SC_TCP4);
	assert_int_equal(kt_bind(liz, d, "127.0.0.1:8080"), 0);
	e = kt_socket(bob, SC_TCP4);
	assert_int_equal(kt_bind(bob, e, "127.0.0.1:8080"), EADDRINUSE);
	f = kt_socket(bob, SC_TCP4); /* never bound: not listed */
	(void)f;
	KT_LS(NULL,
	      "tcp4 BOUND 127.0.0.1:80 * web\n"
	      "tcp4 BOUND 127.0.0.1:8080 * liz\n"
	      "tcp6 BOUND [::1]:81 * root\n"
	      "udp4 UNCONN 127.0.0.1:9000 * liz\n"
	      "udp4 UNCONN 127.0.0.1:9000 * kim\n");
}

static void opt_set(int p, int fd, sc_opt o, int64_t i, int64_t i2, const char *s, int err)
{
	sc_optval v;
	sc_result r;

	memset(&v, 0, sizeof(v));
	v.i = i;
	v.i2 = i2;
	if (s)
		snprintf(v.str, sizeof(v.str), "%s", s);
	kt_ops()->setsockopt(kt_b, p, fd, o, &v, &r);
	if (err)
		KT_ERR(&r, err, "setsockopt");
	else
		KT_OK(&r, "setsockopt");
	sc_result_clear(&r);
}

static void test_options_and_sysctls(void **state)
{
	int liz, s, u, c, i;
	sc_result r;
	const char *range[] = { "40000", "40009" };
	const char *bad[] = { "1" };
	char name[80];

	(void)state;
	liz = kt_proc("liz", NULL, 1000, 0);
	s = kt_socket(liz, SC_TCP4);

	kt_ops()->getsockopt(kt_b, liz, s, SC_SO_REUSEADDR, &r);
	KT_OK(&r, "getsockopt");
	assert_int_equal(r.kind, SC_R_INT);
	assert_int_equal(r.ival, 0);
	sc_result_clear(&r);
	opt_set(liz, s, SC_SO_REUSEADDR, 1, 0, NULL, 0);
	kt_ops()->getsockopt(kt_b, liz, s, SC_SO_REUSEADDR, &r);
	assert_int_equal(r.ival, 1);
	sc_result_clear(&r);

	opt_set(liz, s, SC_SO_LINGER, 1, 0, NULL, 0);
	kt_ops()->getsockopt(kt_b, liz, s, SC_SO_LINGER, &r);
	assert_int_equal(r.kind, SC_R_LINGER);
	assert_int_equal(r.ival, 1);
	assert_int_equal(r.ival2, 0);
	sc_result_clear(&r);

	opt_set(liz, s, SC_IP_LOCAL_PORT_RANGE, 50000, 50001, NULL, 0);
	kt_ops()->getsockopt(kt_b, liz, s, SC_IP_LOCAL_PORT_RANGE, &r);
	assert_int_equal(r.kind, SC_R_LINGER);
	assert_int_equal(r.ival, 50000);
	assert_int_equal(r.ival2, 50001);
	sc_result_clear(&r);

	kt_ops()->getsockopt(kt_b, liz, s, SC_SO_ERROR, &r);
	assert_int_equal(r.kind, SC_R_ERRNAME);
	assert_int_equal(r.err, 0);
	sc_result_clear(&r);
	/* SO_ERROR is read-only: Linux says ENOPROTOOPT. */
	opt_set(liz, s, SC_SO_ERROR, 1, 0, NULL, ENOPROTOOPT);
	/* IPV6_V6ONLY on an IPv4 socket: not an option of that level. */
	opt_set(liz, s, SC_IPV6_V6ONLY, 1, 0, NULL, ENOPROTOOPT);
	/* An unknown device; then a first binding (no privilege needed), and a
	 * change of it (needs CAP_NET_RAW). */
	opt_set(liz, s, SC_SO_BINDTODEVICE, 0, 0, "nosuch0", ENODEV);
	opt_set(liz, s, SC_SO_BINDTODEVICE, 0, 0, "lo", 0);
	kt_ops()->getsockopt(kt_b, liz, s, SC_SO_BINDTODEVICE, &r);
	assert_int_equal(r.kind, SC_R_STR);
	assert_string_equal(r.str, "lo");
	sc_result_clear(&r);
	opt_set(liz, s, SC_SO_BINDTODEVICE, 0, 0, "", EPERM);

	kt_ops()->getsockopt(kt_b, liz, 999, SC_SO_REUSEADDR, &r);
	KT_ERR(&r, EBADF, "getsockopt on a bad descriptor");
	sc_result_clear(&r);

	/* The namespace's port range decides connect()'s port. */
	kt_world(kt_ops()->sysctl(kt_b, "local", "net.ipv4.ip_local_port_range", range, 2, kt_msg,
				  sizeof(kt_msg)),
		 "sysctl");
	u = kt_socket(liz, SC_TCP4);
	assert_int_equal(kt_bind(liz, u, "127.0.0.1:7000"), 0);
	assert_int_equal(kt_listen(liz, u), 0);
	for (i = 0; i < 3; i++) {
		unsigned port;

		c = kt_socket(liz, SC_TCP4);
		assert_int_equal(kt_connect(liz, c, "127.0.0.1:7000", false), 0);
		kt_name(liz, c, false, name, sizeof(name));
		assert_int_equal(sscanf(name, "127.0.0.1:%u", &port), 1);
		assert_true(port >= 40000 && port <= 40009);
	}
	/* Keys outside net.* are refused; bad values are the kernel's EINVAL. */
	assert_true(kt_ops()->sysctl(kt_b, "local", "kernel.hostname", bad, 1, kt_msg,
				     sizeof(kt_msg)) < 0);
	assert_non_null(strstr(kt_msg, "net."));
	assert_int_equal(kt_ops()->sysctl(kt_b, "local", "net.ipv4.ip_local_port_range", bad, 1,
					  kt_msg, sizeof(kt_msg)),
			 -EINVAL);
	assert_true(kt_ops()->sysctl(kt_b, "local", "net.ipv4.no_such_thing", bad, 1, kt_msg,
				     sizeof(kt_msg)) < 0);
}

/* fork and sendfd: owners follow the descriptors. */
static void test_fork_sendfd_owners(void **state)
{
	int liz, tim, lizc = -1, s, got, c, acc;
	sc_result r;
	char n1[80], n2[80];

	(void)state;
	liz = kt_proc("liz", NULL, 1000, 0);
	tim = kt_proc("tim", NULL, 1001, 0);
	s = kt_socket(liz, SC_TCP4);
	assert_int_equal(kt_bind(liz, s, "127.0.0.1:7000"), 0);
	assert_int_equal(kt_listen(liz, s), 0);

	kt_ops()->fork(kt_b, liz, "lizc", &lizc, &r);
	KT_OK(&r, "fork");
	sc_result_clear(&r);
	assert_true(lizc >= 0);
	/* Same descriptor number, same socket. */
	assert_string_equal(kt_name(lizc, s, false, n1, sizeof(n1)),
			    kt_name(liz, s, false, n2, sizeof(n2)));
	KT_LS(NULL, "tcp4 LISTEN 127.0.0.1:7000 * liz,lizc\n");

	kt_ops()->sendfd(kt_b, liz, s, tim, &r);
	KT_OK(&r, "sendfd");
	got = r.fd;
	sc_result_clear(&r);
	assert_true(got >= 0);
	KT_LS(NULL, "tcp4 LISTEN 127.0.0.1:7000 * liz,lizc,tim\n");

	/* tim's copy is the same listener: tim can accept what liz's accepts. */
	c = kt_socket(lizc, SC_TCP4);
	assert_int_equal(kt_connect(lizc, c, "127.0.0.1:7000", false), 0);
	kt_ops()->accept(kt_b, tim, got, &r);
	KT_OK(&r, "accept on the received descriptor");
	acc = r.fd;
	sc_result_clear(&r);
	kt_ops()->accept(kt_b, liz, s, &r);
	KT_ERR(&r, EAGAIN, "accept: already taken by tim");
	sc_result_clear(&r);
	(void)acc;

	kt_ops()->exit(kt_b, liz, &r);
	KT_OK(&r, "exit");
	sc_result_clear(&r);
	assert_int_equal(kt_close(lizc, s), 0);
	kt_name(lizc, c, false, n1, sizeof(n1));
	{
		char exp[512];

		snprintf(exp, sizeof(exp),
			 "tcp4 LISTEN 127.0.0.1:7000 * tim\n"
			 "tcp4 ESTAB 127.0.0.1:7000 %s tim\n"
			 "tcp4 ESTAB %s 127.0.0.1:7000 lizc\n", n1, n1);
		KT_LS(NULL, exp);
	}
	/* sendfd of a descriptor that is not open: the kernel's EBADF. */
	kt_ops()->sendfd(kt_b, lizc, 500, tim, &r);
	KT_ERR(&r, EBADF, "sendfd of a closed descriptor");
	sc_result_clear(&r);
}

/* Hosts, veth links, addresses on lo, IPv6 without DAD delays. */
static void test_hosts_and_links(void **state)
{
	st_addr a1, a2, a3, a4, lo1;
	int fam, ca, sb, c, c6, sb6, u;
	sc_result r;
	char exp[512], name[80];

	(void)state;
	kt_world(kt_ops()->host(kt_b, "a", kt_msg, sizeof(kt_msg)), "host a");
	kt_world(kt_ops()->host(kt_b, "b", kt_msg, sizeof(kt_msg)), "host b");
	assert_true(kt_ops()->host(kt_b, "a", kt_msg, sizeof(kt_msg)) < 0);
	assert_int_equal(st_addr_parse("10.0.0.1", &a1, &fam), 0);
	assert_int_equal(st_addr_parse("10.0.0.2", &a2, &fam), 0);
	assert_int_equal(st_addr_parse("fd00::1", &a3, &fam), 0);
	assert_int_equal(st_addr_parse("fd00::2", &a4, &fam), 0);
	assert_int_equal(st_addr_parse("10.1.1.1", &lo1, &fam), 0);
	kt_world(kt_ops()->link(kt_b, "a", &a1, ST_AF_INET, 24, "b", &a2, ST_AF_INET, 24, 0, kt_msg,
				sizeof(kt_msg)),
		 "link a b");
	kt_world(kt_ops()->link(kt_b, "a", &a3, ST_AF_INET6, 64, "b", &a4, ST_AF_INET6, 64, 0,
				kt_msg, sizeof(kt_msg)),
		 "link a b v6");
	kt_world(kt_ops()->addr(kt_b, "a", &lo1, ST_AF_INET, 24, kt_msg, sizeof(kt_msg)), "addr");
	assert_true(kt_ops()->addr(kt_b, "a", &lo1, ST_AF_INET, 24, kt_msg, sizeof(kt_msg)) < 0);

	ca = kt_proc("ca", "a", 1000, 0);
	sb = kt_proc("sb", "b", 0, ST_CAP_ALL);
	u = kt_socket(sb, SC_TCP4);
	assert_int_equal(kt_bind(sb, u, "10.0.0.2:80"), 0);
	assert_int_equal(kt_listen(sb, u), 0);
	sb6 = kt_socket(sb, SC_TCP6);
	assert_int_equal(kt_bind(sb, sb6, "[fd00::2]:80"), 0);
	assert_int_equal(kt_listen(sb, sb6), 0);

	c = kt_socket(ca, SC_TCP4);
	/* The whole 10.1.1.0/24 is local on lo (a loopback prefix route). */
	assert_int_equal(kt_bind(ca, c, "10.1.1.77:0"), 0);
	assert_int_equal(kt_close(ca, c), 0);
	c = kt_socket(ca, SC_TCP4);
	assert_int_equal(kt_bind(ca, c, "10.2.0.1:0"), EADDRNOTAVAIL);
	assert_int_equal(kt_connect(ca, c, "10.0.0.2:80", false), 0);
	kt_name(ca, c, false, name, sizeof(name));
	assert_int_equal(strncmp(name, "10.0.0.1:", 9), 0);
	snprintf(exp, sizeof(exp),
		 "tcp4 LISTEN 10.0.0.2:80 * sb\n"
		 "tcp4 ESTAB 10.0.0.2:80 %s -\n"
		 "tcp6 LISTEN [fd00::2]:80 * sb\n", name);
	KT_LS("b", exp);

	/* IPv6 over the second link (eth1 on both sides), usable at once. */
	c6 = kt_socket(ca, SC_TCP6);
	assert_int_equal(kt_connect(ca, c6, "[fd00::2]:80", false), 0);

	/* SO_BINDTODEVICE by name, read back as a name. */
	{
		int uu = kt_socket(ca, SC_UDP4);

		opt_set(ca, uu, SC_SO_BINDTODEVICE, 0, 0, "eth0", 0);
		kt_ops()->getsockopt(kt_b, ca, uu, SC_SO_BINDTODEVICE, &r);
		assert_int_equal(r.kind, SC_R_STR);
		assert_string_equal(r.str, "eth0");
		sc_result_clear(&r);
		/* Changing it needs CAP_NET_RAW. */
		opt_set(ca, uu, SC_SO_BINDTODEVICE, 0, 0, "eth1", EPERM);
	}

	/* UDP across the link, with the source address reported. */
	{
		int us = kt_socket(sb, SC_UDP4), uc = kt_socket(ca, SC_UDP4);
		sc_sockaddr to = kt_addr("10.0.0.2:5353");

		assert_int_equal(kt_bind(sb, us, "0.0.0.0:5353"), 0);
		kt_ops()->sendto(kt_b, ca, uc, &to, (const uint8_t *)"q", 1, &r);
		KT_OK(&r, "sendto");
		sc_result_clear(&r);
		kt_name(ca, uc, false, name, sizeof(name));
		kt_ops()->recvfrom(kt_b, sb, us, &r);
		KT_OK(&r, "recvfrom");
		assert_int_equal(r.kind, SC_R_DATA_FROM);
		assert_int_equal(r.len, 1);
		{
			char from[80], want[80];
			unsigned port;

			/* Bound on first send to 0.0.0.0:P; the datagram says 10.0.0.1:P. */
			assert_int_equal(sscanf(name, "0.0.0.0:%u", &port), 1);
			snprintf(want, sizeof(want), "10.0.0.1:%u", port);
			kt_fmt(&r.addr, from, sizeof(from));
			assert_string_equal(from, want);
		}
		sc_result_clear(&r);
	}
}

/* A crashed process: its calls fail with ESRCH, everything else goes on. */
static void test_crashed_process(void **state)
{
	int liz, tim, s, t;
	sc_result r;
	char path[64], line[256];
	FILE *f;
	long pid = -1;

	(void)state;
	liz = kt_proc("liz", NULL, 1000, 0);
	tim = kt_proc("tim", NULL, 1000, 0);
	s = kt_socket(liz, SC_TCP4);
	assert_int_equal(kt_bind(liz, s, "127.0.0.1:6000"), 0);

	/* Find liz: of our children (guardian, liz, tim, in fork order) the
	 * first one that lives in another network namespace. */
	snprintf(path, sizeof(path), "/proc/%ld/task/%ld/children", (long)getpid(),
		 (long)getpid());
	f = fopen(path, "r");
	assert_non_null(f);
	if (fgets(line, sizeof(line), f)) {
		long pids[16];
		int n = 0, i;
		char *p = line, *end;

		while (n < 16 && (pids[n] = strtol(p, &end, 10), end != p)) {
			n++;
			p = end;
		}
		for (i = 0; i < n; i++) {
			char ns[64], mine[64], lp[64];
			ssize_t l1, l2;

			snprintf(lp, sizeof(lp), "/proc/%ld/ns/net", pids[i]);
			l1 = readlink(lp, ns, sizeof(ns) - 1);
			l2 = readlink("/proc/self/ns/net", mine, sizeof(mine) - 1);
			if (l1 > 0 && l2 > 0 && (l1 != l2 || memcmp(ns, mine, (size_t)l1))) {
				pid = pids[i];
				break;
			}
		}
	}
	fclose(f);
	assert_true(pid > 0);
	assert_int_equal(kill((pid_t)pid, SIGKILL), 0);

	kt_ops()->listen(kt_b, liz, s, 128, &r);
	KT_ERR(&r, ESRCH, "listen by a killed process");
	assert_non_null(r.explain);
	assert_non_null(strstr(r.explain, "signal 9"));
	sc_result_clear(&r);
	/* Its socket went with it. */
	KT_LS(NULL, "");
	t = kt_socket(tim, SC_TCP4);
	assert_int_equal(kt_bind(tim, t, "127.0.0.1:6000"), 0);
}

/* Bad arguments: a clear error each, no crash, the backend still works. */
static void test_bad_inputs(void **state)
{
	int liz, s, out = -1;
	sc_result r;
	sc_lsrow *rows = NULL;
	size_t n = 0;
	st_addr a;
	int fam;
	const char *vals[] = { NULL };
	char longname[100];

	(void)state;
	liz = kt_proc("liz", NULL, 1000, 0);
	s = kt_socket(liz, SC_TCP4);

	/* Processes that do not exist. */
	kt_ops()->socket(kt_b, 99, SC_TCP4, &r);
	KT_ERR(&r, ESRCH, "socket by process 99");
	assert_non_null(r.explain);
	sc_result_clear(&r);
	kt_ops()->socket(kt_b, -1, SC_TCP4, &r);
	KT_ERR(&r, ESRCH, "socket by process -1");
	sc_result_clear(&r);
	kt_ops()->sendfd(kt_b, liz, s, 42, &r);
	KT_ERR(&r, ESRCH, "sendfd to process 42");
	sc_result_clear(&r);

	/* Arguments a caller forgot. */
	kt_ops()->bind(kt_b, liz, s, NULL, &r);
	KT_ERR(&r, EINVAL, "bind without an address");
	sc_result_clear(&r);
	kt_ops()->setsockopt(kt_b, liz, s, SC_SO_REUSEADDR, NULL, &r);
	KT_ERR(&r, EINVAL, "setsockopt without a value");
	sc_result_clear(&r);
	kt_ops()->send(kt_b, liz, s, NULL, 5, &r);
	KT_ERR(&r, EINVAL, "send without data");
	sc_result_clear(&r);
	kt_ops()->fork(kt_b, liz, NULL, &out, &r);
	KT_ERR(&r, EINVAL, "fork without a name");
	sc_result_clear(&r);
	kt_ops()->fork(kt_b, liz, "has space", &out, &r);
	KT_ERR(&r, EINVAL, "fork with a bad name");
	sc_result_clear(&r);
	assert_int_equal(kt_ops()->ls(kt_b, NULL, NULL, &n), -EINVAL);
	assert_int_equal(kt_ops()->ls(kt_b, "nosuch", &rows, &n), -ENOENT);
	assert_true(kt_ops()->host(kt_b, NULL, kt_msg, sizeof(kt_msg)) < 0);
	assert_true(kt_ops()->host(kt_b, "local", kt_msg, sizeof(kt_msg)) < 0);
	assert_true(kt_ops()->host(kt_b, "../etc", kt_msg, sizeof(kt_msg)) < 0);
	memset(longname, 'x', 64);
	longname[64] = 0;
	assert_true(kt_ops()->host(kt_b, longname, kt_msg, sizeof(kt_msg)) < 0);
	assert_non_null(strstr(kt_msg, "63"));
	assert_true(kt_ops()->proc(kt_b, "p", "nosuch", 1000, 0, kt_msg, sizeof(kt_msg)) < 0);
	assert_true(kt_ops()->proc(kt_b, NULL, NULL, 1000, 0, kt_msg, sizeof(kt_msg)) < 0);
	assert_true(kt_ops()->addr(kt_b, "local", NULL, ST_AF_INET, 8, kt_msg, sizeof(kt_msg)) < 0);
	st_addr_parse("10.3.0.1", &a, &fam);
	assert_int_equal(kt_ops()->addr(kt_b, "local", &a, ST_AF_INET, 40, kt_msg, sizeof(kt_msg)),
			 -EINVAL);
	assert_true(kt_ops()->sysctl(kt_b, "local", "net.ipv4.ip_local_port_range", vals, 1,
				     kt_msg, sizeof(kt_msg)) < 0);
	assert_true(kt_ops()->sysctl(kt_b, "local", NULL, NULL, 0, kt_msg, sizeof(kt_msg)) < 0);
	assert_true(kt_ops()->sysctl(kt_b, "local", "net.ipv4..x", NULL, 0, kt_msg,
				     sizeof(kt_msg)) < 0);
	assert_true(kt_ops()->link(kt_b, "local", NULL, ST_AF_INET, 24, "local", &a, ST_AF_INET,
				   24, 0, kt_msg, sizeof(kt_msg)) < 0);

	/* What only the kernel can refuse, it refuses. */
	kt_ops()->socket(kt_b, liz, (sc_kind)17, &r);
	KT_ERR(&r, EINVAL, "socket of kind 17");
	sc_result_clear(&r);
	kt_ops()->setsockopt(kt_b, liz, s, (sc_opt)99, &(sc_optval){ 0 }, &r);
	KT_ERR(&r, ENOPROTOOPT, "setsockopt 99");
	sc_result_clear(&r);
	/* The worker's own channel is not the scenario's descriptor. */
	kt_ops()->close(kt_b, liz, 200, &r);
	KT_ERR(&r, EBADF, "close of the channel's number");
	sc_result_clear(&r);
	{
		sc_sockaddr bad = kt_addr("[fe80::1]:80");

		snprintf(bad.ifname, sizeof(bad.ifname), "nosuch0");
		kt_ops()->bind(kt_b, liz, kt_socket(liz, SC_TCP6), &bad, &r);
		KT_ERR(&r, ENODEV, "bind with an unknown scope");
		sc_result_clear(&r);
	}

	/* And the process still works. */
	assert_int_equal(kt_bind(liz, s, "127.0.0.1:4000"), 0);
	KT_LS(NULL, "tcp4 BOUND 127.0.0.1:4000 * liz\n");
}

/*
 * More processes than the user's descriptor limit would allow the runner
 * (it holds two descriptors per process), while each process keeps that
 * limit: with a soft limit of 256 (set by main()), 300 processes, and the
 * 253rd socket of one process fails with EMFILE (0, 1, 2 and the control
 * channel are open).
 */
static void test_many_processes(void **state)
{
	enum { N = 300 };
	int i, p = -1, fd = 0, count = 0;
	char name[16];
	sc_result r;

	(void)state;
	for (i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		p = kt_proc(name, NULL, 1000, 0);
	}
	for (;;) {
		kt_ops()->socket(kt_b, p, SC_UDP4, &r);
		if (r.kind == SC_R_ERR)
			break;
		fd = r.fd;
		count++;
		sc_result_clear(&r);
		assert_true(count <= 256);
	}
	KT_ERR(&r, EMFILE, "socket beyond the descriptor limit");
	sc_result_clear(&r);
	assert_int_equal(count, 252);
	(void)fd;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_listen_connect_accept, kt_setup, kt_teardown),
		cmocka_unit_test_setup_teardown(test_privileges_and_reuse, kt_setup, kt_teardown),
		cmocka_unit_test_setup_teardown(test_options_and_sysctls, kt_setup, kt_teardown),
		cmocka_unit_test_setup_teardown(test_fork_sendfd_owners, kt_setup, kt_teardown),
		cmocka_unit_test_setup_teardown(test_hosts_and_links, kt_setup, kt_teardown),
		cmocka_unit_test_setup_teardown(test_crashed_process, kt_setup, kt_teardown),
		cmocka_unit_test_setup_teardown(test_bad_inputs, kt_setup, kt_teardown),
		cmocka_unit_test_setup_teardown(test_many_processes, kt_setup, kt_teardown),
	};

	struct rlimit rl;

	/* A small limit, as a user might have (see test_many_processes). */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max >= 256) {
		rl.rlim_cur = 256;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	/* Probe once: exit 77 before cmocka if the machine cannot do it. */
	kt_setup(NULL);
	kt_teardown(NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
