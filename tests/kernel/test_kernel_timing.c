/*
 * tests/kernel/test_kernel_timing.c - delayed links and connect outcomes
 * that take real time (several seconds: label `kernel`, not `quick`).
 *
 *   - a link with delay=100ms is two TUN devices and the relay: the
 *     handshake takes two delays, the server's half stays SYN-RECV until
 *     the final ACK arrives one delay later, data arrives one delay after
 *     it was sent, and `sleep` is real time;
 *   - a blocking connect whose SYN nobody answers is given up after the
 *     replay's timeout (ETIMEDOUT), and the attempt is aborted so the
 *     socket holds no port afterwards;
 *   - a blocking connect to a neighbour that never answers ARP fails the
 *     way Linux fails it, EHOSTUNREACH after about three seconds, inside
 *     that timeout.
 */
#include "kr_test.h"

#include <unistd.h>

static void link_world(void)
{
	st_addr c1, d1, a1, b1;
	int fam;

	kt_world(kt_ops()->host(kt_b, "c", kt_msg, sizeof(kt_msg)), "host c");
	kt_world(kt_ops()->host(kt_b, "d", kt_msg, sizeof(kt_msg)), "host d");
	st_addr_parse("10.9.0.1", &c1, &fam);
	st_addr_parse("10.9.0.2", &d1, &fam);
	st_addr_parse("10.0.0.1", &a1, &fam);
	st_addr_parse("10.0.0.2", &b1, &fam);
	kt_world(kt_ops()->link(kt_b, "c", &c1, ST_AF_INET, 24, "d", &d1, ST_AF_INET, 24,
				100000000, kt_msg, sizeof(kt_msg)),
		 "delayed link");
	kt_world(kt_ops()->link(kt_b, "c", &a1, ST_AF_INET, 24, "d", &b1, ST_AF_INET, 24, 0,
				kt_msg, sizeof(kt_msg)),
		 "veth link");
}

static void test_delayed_link(void **state)
{
	int srv, cli, l, c, c2, acc;
	double t0, dt;
	char name[80], exp[512], buf[64];
	sc_result r;

	(void)state;
	link_world();
	srv = kt_proc("srv", "d", 0, ST_CAP_ALL);
	cli = kt_proc("cli", "c", 1000, 0);
	l = kt_socket(srv, SC_TCP4);
	assert_int_equal(kt_bind(srv, l, "10.9.0.2:80"), 0);
	assert_int_equal(kt_listen(srv, l), 0);

	c = kt_socket(cli, SC_TCP4);
	t0 = kt_now();
	assert_int_equal(kt_connect(cli, c, "10.9.0.2:80", false), 0);
	dt = kt_now() - t0;
	if (dt < 0.2 || dt > 1.0)
		fail_msg("connect over a 100 ms link took %.3f s", dt);
	kt_name(cli, c, false, name, sizeof(name));
	/* The final ACK is still on the wire: the server has a request socket. */
	snprintf(exp, sizeof(exp),
		 "tcp4 LISTEN 10.9.0.2:80 * srv\n"
		 "tcp4 SYN-RECV 10.9.0.2:80 %s -\n", name);
	KT_LS("d", exp);
	kt_ops()->sleep(kt_b, 150000000);
	snprintf(exp, sizeof(exp),
		 "tcp4 LISTEN 10.9.0.2:80 * srv\n"
		 "tcp4 ESTAB 10.9.0.2:80 %s -\n", name);
	KT_LS("d", exp);
	kt_ops()->accept(kt_b, srv, l, &r);
	KT_OK(&r, "accept");
	acc = r.fd;
	sc_result_clear(&r);

	assert_int_equal(kt_send(cli, c, "x"), 0);
	assert_int_equal(kt_recv(srv, acc, buf, sizeof(buf)), EAGAIN);
	kt_ops()->sleep(kt_b, 150000000);
	assert_int_equal(kt_recv(srv, acc, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "x");

	/* Non-blocking: EINPROGRESS, SYN-SENT until the SYN-ACK comes back. */
	c2 = kt_socket(cli, SC_TCP4);
	assert_int_equal(kt_connect(cli, c2, "10.9.0.2:80", true), EINPROGRESS);
	kt_name(cli, c2, false, name, sizeof(name));
	snprintf(exp, sizeof(exp), "tcp4 SYN-SENT %s 10.9.0.2:80 cli\n", name);
	{
		char *all = kt_ls("c");

		if (!strstr(all, exp))
			fail_msg("no %sin\n%s", exp, all);
		free(all);
	}
	kt_ops()->sleep(kt_b, 300000000);
	kt_ops()->getsockopt(kt_b, cli, c2, SC_SO_ERROR, &r);
	assert_int_equal(r.kind, SC_R_ERRNAME);
	assert_int_equal(r.err, 0);
	sc_result_clear(&r);
	assert_int_equal(kt_connect(cli, c2, "10.9.0.2:80", true), 0);
	assert_int_equal(kt_connect(cli, c2, "10.9.0.2:80", true), EISCONN);
}

static void test_connect_timeouts(void **state)
{
	int cli, c, c2;
	double t0, dt;
	char *all;

	(void)state;
	link_world();
	cli = kt_proc("cli", "c", 1000, 0);

	/* Nobody has 10.9.0.7: d drops the SYNs (it does not forward). */
	c = kt_socket(cli, SC_TCP4);
	t0 = kt_now();
	assert_int_equal(kt_connect(cli, c, "10.9.0.7:80", false), ETIMEDOUT);
	dt = kt_now() - t0;
	if (dt < 5.0 || dt > 7.5)
		fail_msg("the blocking connect gave up after %.3f s", dt);
	/* Aborted: not connecting any more, and its port is released. */
	all = kt_ls("c");
	assert_string_equal(all, "");
	free(all);

	/* On the veth, ARP for 10.0.0.9 fails: Linux's own answer, in ~3 s. */
	c2 = kt_socket(cli, SC_TCP4);
	t0 = kt_now();
	assert_int_equal(kt_connect(cli, c2, "10.0.0.9:80", false), EHOSTUNREACH);
	dt = kt_now() - t0;
	if (dt < 2.0 || dt > 5.0)
		fail_msg("EHOSTUNREACH after %.3f s", dt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_delayed_link, kt_setup, kt_teardown),
		cmocka_unit_test_setup_teardown(test_connect_timeouts, kt_setup, kt_teardown),
	};

	kt_setup(NULL);
	kt_teardown(NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
