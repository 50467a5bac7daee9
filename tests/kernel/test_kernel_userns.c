/*
 * tests/kernel/test_kernel_userns.c - the replay without root.
 *
 * Run as root, the test first gives root up for good (uid and gid 65534,
 * no groups, no capabilities) so that the backend takes its unprivileged
 * path: a user namespace of its own where only uid 0 exists.  Run as
 * anyone else it tests that path directly.  Where unprivileged user
 * namespaces are unavailable the backend must say so and ask for a skip,
 * and the test exits 77.
 *
 * What must work there: processes as uid 0, TCP and UDP on loopback, `ls`
 * with owners, hosts and veth links, sysctls.  What must be refused as a
 * skip (-SC_ESKIP), never faked: other uids, and delayed links where
 * /dev/net/tun is root's only.
 */
#include "kr_test.h"

#include <grp.h>
#include <sys/prctl.h>
#include <unistd.h>

static void test_unprivileged(void **state)
{
	int p, q, l, c, r;
	st_addr a1, a2;
	int fam;
	char name[80], exp[512];
	const char *range[] = { "50000", "50009" };

	(void)state;
	p = kt_proc("liz", NULL, 0, ST_CAP_ALL);
	q = kt_proc("tim", NULL, 0, 0); /* uid 0 without capabilities */
	l = kt_socket(p, SC_TCP4);
	assert_int_equal(kt_bind(p, l, "127.0.0.1:80"), 0);
	assert_int_equal(kt_listen(p, l), 0);
	c = kt_socket(q, SC_TCP4);
	/* Port 80 needs CAP_NET_BIND_SERVICE, which tim does not have. */
	assert_int_equal(kt_bind(q, c, "127.0.0.1:81"), EACCES);
	kt_world(kt_ops()->sysctl(kt_b, "local", "net.ipv4.ip_local_port_range", range, 2, kt_msg,
				  sizeof(kt_msg)),
		 "sysctl");
	assert_int_equal(kt_connect(q, c, "127.0.0.1:80", false), 0);
	kt_name(q, c, false, name, sizeof(name));
	assert_int_equal(strncmp(name, "127.0.0.1:5000", 14), 0);
	snprintf(exp, sizeof(exp),
		 "tcp4 LISTEN 127.0.0.1:80 * liz\n"
		 "tcp4 ESTAB 127.0.0.1:80 %s -\n"
		 "tcp4 ESTAB %s 127.0.0.1:80 tim\n", name, name);
	KT_LS(NULL, exp);

	kt_world(kt_ops()->host(kt_b, "a", kt_msg, sizeof(kt_msg)), "host a");
	st_addr_parse("10.0.0.1", &a1, &fam);
	st_addr_parse("10.0.0.2", &a2, &fam);
	kt_world(kt_ops()->link(kt_b, "local", &a1, ST_AF_INET, 24, "a", &a2, ST_AF_INET, 24, 0,
				kt_msg, sizeof(kt_msg)),
		 "veth link");

	/* Refused as skips, with a reason. */
	r = kt_ops()->proc(kt_b, "bob", NULL, 1000, 0, kt_msg, sizeof(kt_msg));
	assert_int_equal(r, -SC_ESKIP);
	assert_non_null(strstr(kt_msg, "root"));
	/* A delayed link needs /dev/net/tun: a skip where it is root's only. */
	st_addr_parse("10.9.0.1", &a1, &fam);
	st_addr_parse("10.9.0.2", &a2, &fam);
	r = kt_ops()->link(kt_b, "local", &a1, ST_AF_INET, 24, "a", &a2, ST_AF_INET, 24, 50000000,
			   kt_msg, sizeof(kt_msg));
	if (access("/dev/net/tun", R_OK | W_OK) != 0) {
		assert_int_equal(r, -SC_ESKIP);
		assert_non_null(strstr(kt_msg, "TUN"));
	} else {
		kt_world(r, "delayed link");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unprivileged, kt_setup, kt_teardown),
	};

	if (geteuid() == 0) {
		/* Give root up for good: 65534 is "nobody" on Debian. */
		if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
		    setresuid(65534, 65534, 65534) < 0) {
			perror("dropping root");
			return 1;
		}
		/* setuid made us non-dumpable, which would make /proc/self/uid_map
		 * root's; an ordinary user's process is dumpable. */
		prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	}
	kt_setup(NULL);
	kt_teardown(NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
