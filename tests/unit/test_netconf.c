/*
 * test_netconf.c - unit tests for the namespace configuration: sysctls,
 * reserved ports, devices, IPv4 routes, IPv6 addresses, and the
 * allocation-failure guarantee.
 *
 * The route tests are the point of this file.  Which IPv4 addresses are
 * bindable follows from which routes an address installs (B20-B22), and
 * the cases below are the ones observed on a real kernel: all of 127/8 is
 * local because of one prefix route, 127.0.0.1/32 on lo takes that away,
 * an explicit "local" route gives it back for its prefix, and an address
 * on an ordinary device makes only itself (and its subnet broadcast)
 * local.  The failure-injection tests make every allocation inside a call
 * fail in turn and compare a full snapshot of the configuration before
 * and after; they also assert that some allocation was actually failed,
 * so a change that stops allocating cannot make them pass vacuously.
 *
 * The configuration is reached through a real st_net (st_net_new) and the
 * internal accessor st_net_conf(); the internal headers are included by
 * relative path so the test does not depend on the build's include dirs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "socktab/net.h"
#include "../../src/core/netconf.h"
#include "../../src/core/alloc.h"

#define V4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

static int setup(void **state)
{
	st_net *net = NULL;

	st_alloc_fail_at(0);
	if (st_net_new(&net, 1, NULL) != 0)
		return -1;
	*state = net;
	return 0;
}

static int teardown(void **state)
{
	st_alloc_fail_at(0);
	st_net_free(*state);
	return 0;
}

static st_addr addr_of(const char *text)
{
	st_addr a;

	if (st_addr_parse(text, &a, NULL) != 0)
		fail_msg("bad test address %s", text);
	return a;
}

static int add4(st_net *net, int ifindex, uint32_t a, int len)
{
	st_addr x = st_addr_v4(a);

	return st_net_add_addr(net, ifindex, &x, ST_AF_INET, len);
}

static int del4(st_net *net, int ifindex, uint32_t a, int len)
{
	st_addr x = st_addr_v4(a);

	return st_net_del_addr(net, ifindex, &x, ST_AF_INET, len);
}

static int add6(st_net *net, int ifindex, const char *text, int len)
{
	st_addr x = addr_of(text);

	return st_net_add_addr(net, ifindex, &x, ST_AF_INET6, len);
}

static int new_device(st_net *net, const char *name)
{
	int ifindex = -1;

	assert_int_equal(st_net_add_device(net, name, &ifindex), 0);
	return ifindex;
}

static void get_text(st_net *net, const char *key, const char *want)
{
	char buf[256];

	assert_int_equal(st_net_sysctl_get_text(net, key, buf, sizeof(buf)), 0);
	assert_string_equal(buf, want);
}

/* ---- sysctls ----------------------------------------------------------- */

static void test_sysctl_defaults(void **state)
{
	static const struct {
		st_sysctl key;
		int value;
		const char *name;
	} defaults[] = {
		{ ST_SYSCTL_IP_UNPRIVILEGED_PORT_START, 1024, "net.ipv4.ip_unprivileged_port_start" },
		{ ST_SYSCTL_IPV6_BINDV6ONLY, 0, "net.ipv6.bindv6only" },
		{ ST_SYSCTL_TCP_TW_REUSE, 2, "net.ipv4.tcp_tw_reuse" },
		{ ST_SYSCTL_TCP_TW_REUSE_DELAY, 1000, "net.ipv4.tcp_tw_reuse_delay" },
		{ ST_SYSCTL_TCP_TIMESTAMPS, 1, "net.ipv4.tcp_timestamps" },
		{ ST_SYSCTL_IP_NONLOCAL_BIND, 0, "net.ipv4.ip_nonlocal_bind" },
		{ ST_SYSCTL_IPV6_IP_NONLOCAL_BIND, 0, "net.ipv6.ip_nonlocal_bind" },
		{ ST_SYSCTL_IP_AUTOBIND_REUSE, 0, "net.ipv4.ip_autobind_reuse" },
		{ ST_SYSCTL_SOMAXCONN, 4096, "net.core.somaxconn" },
		{ ST_SYSCTL_TCP_MIGRATE_REQ, 0, "net.ipv4.tcp_migrate_req" },
	};
	st_net *net = *state;
	int v[2] = { -1, -1 }, lo, hi;

	assert_int_equal(st_net_sysctl_get(net, ST_SYSCTL_IP_LOCAL_PORT_RANGE, v, 2), 0);
	assert_int_equal(v[0], 32768);
	assert_int_equal(v[1], 60999);
	st_conf_port_range(st_net_conf(net), &lo, &hi);
	assert_int_equal(lo, 32768);
	assert_int_equal(hi, 60999);
	get_text(net, "net.ipv4.ip_local_port_range", "32768\t60999");
	get_text(net, "net.ipv4.ip_local_reserved_ports", "");

	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
		char want[16];

		v[0] = -1;
		assert_int_equal(st_net_sysctl_get(net, defaults[i].key, v, 1), 0);
		if (v[0] != defaults[i].value)
			fail_msg("%s defaults to %d", defaults[i].name, v[0]);
		assert_int_equal(st_conf_get(st_net_conf(net), defaults[i].key), defaults[i].value);
		snprintf(want, sizeof(want), "%d", defaults[i].value);
		get_text(net, defaults[i].name, want);
	}
	/* The range needs room for two values. */
	assert_int_equal(st_net_sysctl_get(net, ST_SYSCTL_IP_LOCAL_PORT_RANGE, v, 1), -EINVAL);
	assert_int_equal(st_net_sysctl_get(net, ST_SYSCTL_COUNT_, v, 2), -EINVAL);
}

static void expect_range(st_net *net, int lo, int hi)
{
	int v[2];

	assert_int_equal(st_net_sysctl_get(net, ST_SYSCTL_IP_LOCAL_PORT_RANGE, v, 2), 0);
	assert_int_equal(v[0], lo);
	assert_int_equal(v[1], hi);
}

static void test_sysctl_port_range(void **state)
{
	st_net *net = *state;
	int v[2];

	v[0] = 40000, v[1] = 40009;
	assert_int_equal(st_net_sysctl_set(net, ST_SYSCTL_IP_LOCAL_PORT_RANGE, v, 2), 0);
	expect_range(net, 40000, 40009);

	/* Every refused write leaves the range as it was. */
	v[0] = 40010, v[1] = 40000;
	assert_int_equal(st_net_sysctl_set(net, ST_SYSCTL_IP_LOCAL_PORT_RANGE, v, 2), -EINVAL);
	v[0] = 1023, v[1] = 2000; /* below unprivileged_port_start */
	assert_int_equal(st_net_sysctl_set(net, ST_SYSCTL_IP_LOCAL_PORT_RANGE, v, 2), -EINVAL);
	v[0] = 1024, v[1] = 65536;
	assert_int_equal(st_net_sysctl_set(net, ST_SYSCTL_IP_LOCAL_PORT_RANGE, v, 2), -EINVAL);
	v[0] = 50000, v[1] = 50001;
	assert_int_equal(st_net_sysctl_set(net, ST_SYSCTL_IP_LOCAL_PORT_RANGE, v, 1), -EINVAL);
	assert_int_equal(st_net_sysctl_set(net, ST_SYSCTL_IP_LOCAL_PORT_RANGE, v, 3), -EINVAL);
	expect_range(net, 40000, 40009);

	v[0] = 1024, v[1] = 65535; /* both bounds inclusive */
	assert_int_equal(st_net_sysctl_set(net, ST_SYSCTL_IP_LOCAL_PORT_RANGE, v, 2), 0);
	v[0] = 5000, v[1] = 5000; /* a one-port range is fine */
	assert_int_equal(st_net_sysctl_set(net, ST_SYSCTL_IP_LOCAL_PORT_RANGE, v, 2), 0);
	expect_range(net, 5000, 5000);

	/* The other direction of P-6: the privileged ports may not grow into the range. */
	v[0] = 5001;
	assert_int_equal(st_net_sysctl_set(net, ST_SYSCTL_IP_UNPRIVILEGED_PORT_START, v, 1),
			 -EINVAL);
	v[0] = 5000;
	assert_int_equal(st_net_sysctl_set(net, ST_SYSCTL_IP_UNPRIVILEGED_PORT_START, v, 1), 0);
	v[0] = 0;
	assert_int_equal(st_net_sysctl_set(net, ST_SYSCTL_IP_UNPRIVILEGED_PORT_START, v, 1), 0);
	v[0] = 1, v[1] = 10;
	assert_int_equal(st_net_sysctl_set(net, ST_SYSCTL_IP_LOCAL_PORT_RANGE, v, 2), 0);
	v[0] = 0, v[1] = 10; /* port 0 is never an ephemeral port */
	assert_int_equal(st_net_sysctl_set(net, ST_SYSCTL_IP_LOCAL_PORT_RANGE, v, 2), -EINVAL);
	v[0] = -1;
	assert_int_equal(st_net_sysctl_set(net, ST_SYSCTL_IP_UNPRIVILEGED_PORT_START, v, 1),
			 -EINVAL);
	expect_range(net, 1, 10);
}

static void test_sysctl_bounds(void **state)
{
	static const struct {
		st_sysctl key;
		int lo, hi;
	} bounds[] = {
		{ ST_SYSCTL_TCP_TW_REUSE, 0, 2 },
		{ ST_SYSCTL_TCP_TW_REUSE_DELAY, 1, 60000 },
		{ ST_SYSCTL_IP_AUTOBIND_REUSE, 0, 1 },
		{ ST_SYSCTL_TCP_MIGRATE_REQ, 0, 1 },
		{ ST_SYSCTL_IP_NONLOCAL_BIND, 0, 255 },
		{ ST_SYSCTL_IPV6_IP_NONLOCAL_BIND, 0, 255 },
		{ ST_SYSCTL_IPV6_BINDV6ONLY, 0, 255 },
		{ ST_SYSCTL_TCP_TIMESTAMPS, 0, 255 },
		{ ST_SYSCTL_SOMAXCONN, 0, 2147483647 },
	};
	st_net *net = *state;

	for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++) {
		int v, got;

		v = bounds[i].hi;
		assert_int_equal(st_net_sysctl_set(net, bounds[i].key, &v, 1), 0);
		v = bounds[i].lo;
		assert_int_equal(st_net_sysctl_set(net, bounds[i].key, &v, 1), 0);
		if (bounds[i].hi < 2147483647) {
			v = bounds[i].hi + 1;
			assert_int_equal(st_net_sysctl_set(net, bounds[i].key, &v, 1), -EINVAL);
		}
		v = bounds[i].lo - 1;
		assert_int_equal(st_net_sysctl_set(net, bounds[i].key, &v, 1), -EINVAL);
		assert_int_equal(st_net_sysctl_get(net, bounds[i].key, &got, 1), 0);
		assert_int_equal(got, bounds[i].lo);
		/* One value, not two. */
		assert_int_equal(st_net_sysctl_set(net, bounds[i].key, (int[]){ 1, 1 }, 2), -EINVAL);
	}
	assert_int_equal(st_net_sysctl_set(net, (st_sysctl)-1, (int[]){ 0 }, 1), -EINVAL);
	assert_int_equal(st_net_sysctl_set(net, ST_SYSCTL_COUNT_, (int[]){ 0 }, 1), -EINVAL);
}

static void test_sysctl_text(void **state)
{
	st_net *net = *state;
	char small[5];
	int v;

	assert_int_equal(st_net_sysctl_set_text(net, "net.ipv4.ip_local_port_range", "40000 40009"), 0);
	expect_range(net, 40000, 40009);
	assert_int_equal(st_net_sysctl_set_text(net, "net.ipv4.ip_local_port_range", "41000\t41009"), 0);
	expect_range(net, 41000, 41009);
	assert_int_equal(st_net_sysctl_set_text(net, "net.ipv4.ip_local_port_range",
						"  42000 \t 42009\n"), 0);
	expect_range(net, 42000, 42009);
	get_text(net, "net.ipv4.ip_local_port_range", "42000\t42009");

	static const char *bad_range[] = {
		"", "40000", "40000 40009 40010", "40000 4000x", "abc", "40000,40009",
		"40000 -40009", "040000 40009", "40000 99999999999999999999", "0x9c40 40009",
		"40009 40000", "100 200",
	};
	for (size_t i = 0; i < sizeof(bad_range) / sizeof(bad_range[0]); i++)
		if (st_net_sysctl_set_text(net, "net.ipv4.ip_local_port_range", bad_range[i]) !=
		    -EINVAL)
			fail_msg("accepted range \"%s\"", bad_range[i]);
	expect_range(net, 42000, 42009);

	assert_int_equal(st_net_sysctl_set_text(net, "net.ipv4.ip_nonlocal_bind", "1"), 0);
	assert_int_equal(st_net_sysctl_get(net, ST_SYSCTL_IP_NONLOCAL_BIND, &v, 1), 0);
	assert_int_equal(v, 1);
	assert_int_equal(st_net_sysctl_set_text(net, "net.ipv4.ip_nonlocal_bind", "1 1"), -EINVAL);
	assert_int_equal(st_net_sysctl_set_text(net, "net.ipv4.ip_nonlocal_bind", "-1"), -EINVAL);
	assert_int_equal(st_net_sysctl_set_text(net, "net.ipv4.ip_nonlocal_bind", "1x"), -EINVAL);
	assert_int_equal(st_net_sysctl_set_text(net, "net.ipv4.ip_nonlocal_bind", "- 1"), -EINVAL);
	assert_int_equal(st_net_sysctl_set_text(net, "net.ipv6.ip_nonlocal_bind", "1"), 0);
	assert_int_equal(st_net_sysctl_get(net, ST_SYSCTL_IPV6_IP_NONLOCAL_BIND, &v, 1), 0);
	assert_int_equal(v, 1);
	assert_int_equal(st_net_sysctl_set_text(net, "net.ipv4.tcp_tw_reuse", "3"), -EINVAL);
	assert_int_equal(st_net_sysctl_set_text(net, "net.ipv4.tcp_tw_reuse", "0"), 0);
	get_text(net, "net.ipv4.tcp_tw_reuse", "0");
	assert_int_equal(st_net_sysctl_set_text(net, "net.core.somaxconn", "2147483647"), 0);
	assert_int_equal(st_net_sysctl_set_text(net, "net.core.somaxconn", "2147483648"), -EINVAL);
	get_text(net, "net.core.somaxconn", "2147483647");
	assert_int_equal(st_net_sysctl_set_text(net, "net.ipv6.bindv6only", "1"), 0);
	assert_int_equal(st_net_sysctl_set_text(net, "net.ipv4.ip_unprivileged_port_start", "80"), 0);
	get_text(net, "net.ipv4.ip_unprivileged_port_start", "80");
	assert_int_equal(st_net_sysctl_set_text(net, "net.ipv4.tcp_tw_reuse_delay", "100"), 0);
	assert_int_equal(st_conf_get(st_net_conf(net), ST_SYSCTL_TCP_TW_REUSE_DELAY), 100);

	assert_int_equal(st_net_sysctl_set_text(net, "net.ipv4.no_such_thing", "1"), -ENOENT);
	assert_int_equal(st_net_sysctl_set_text(net, "ip_nonlocal_bind", "1"), -ENOENT);
	assert_int_equal(st_net_sysctl_set_text(net, "net.ipv4.ip_nonlocal_bind ", "1"), -ENOENT);
	assert_int_equal(st_net_sysctl_get_text(net, "net.nope", small, sizeof(small)), -ENOENT);
	assert_int_equal(st_net_sysctl_get_text(net, "net.ipv4.ip_local_port_range", small,
						sizeof(small)),
			 -ERANGE);
}

static void test_reserved_ports(void **state)
{
	st_net *net = *state;
	const char *key = "net.ipv4.ip_local_reserved_ports";

	assert_false(st_net_port_is_reserved(net, 40000));
	assert_int_equal(st_net_sysctl_set_text(net, key, "40000,40010-40020"), 0);
	assert_true(st_net_port_is_reserved(net, 40000));
	assert_false(st_net_port_is_reserved(net, 40001));
	assert_false(st_net_port_is_reserved(net, 40009));
	assert_true(st_net_port_is_reserved(net, 40010));
	assert_true(st_net_port_is_reserved(net, 40015));
	assert_true(st_net_port_is_reserved(net, 40020));
	assert_false(st_net_port_is_reserved(net, 40021));
	get_text(net, key, "40000,40010-40020");

	/* Unordered, overlapping and adjacent items come back merged. */
	assert_int_equal(st_net_sysctl_set_text(net, key, "7,3-4,5,1,4-5"), 0);
	get_text(net, key, "1,3-5,7");
	assert_false(st_net_port_is_reserved(net, 40000)); /* a write replaces */
	assert_int_equal(st_net_sysctl_set_text(net, key, "8,9"), 0);
	get_text(net, key, "8-9");
	assert_int_equal(st_net_sysctl_set_text(net, key, "65535,0"), 0);
	get_text(net, key, "0,65535");
	assert_true(st_net_port_is_reserved(net, 65535));
	assert_true(st_net_port_is_reserved(net, 0));
	assert_int_equal(st_net_sysctl_set_text(net, key, "12,"), 0); /* as the kernel does */
	get_text(net, key, "12");

	static const char *bad[] = {
		"1-", "-1", "5-3", "65536", "1,,2", "1, 2", "1 2", "a", "1;2", ",1", "1-2-3",
		"01", "1-0x3",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (st_net_sysctl_set_text(net, key, bad[i]) != -EINVAL)
			fail_msg("accepted reserved ports \"%s\"", bad[i]);
	get_text(net, key, "12"); /* a bad list changes nothing */

	assert_int_equal(st_net_sysctl_set_text(net, key, "0-65535"), 0);
	get_text(net, key, "0-65535");
	assert_int_equal(st_net_sysctl_set_text(net, key, ""), 0);
	get_text(net, key, "");
	for (uint32_t p = 0; p < 65536; p += 97)
		assert_false(st_net_port_is_reserved(net, (uint16_t)p));

	/* Too small a buffer is an error, not a silent truncation. */
	char small[8];
	assert_int_equal(st_net_sysctl_set_text(net, key, "40000,40010-40020"), 0);
	assert_int_equal(st_net_sysctl_get_text(net, key, small, sizeof(small)), -ERANGE);
}

/* ---- devices ----------------------------------------------------------- */

static void test_devices(void **state)
{
	st_net *net = *state;
	int idx = 0;

	assert_int_equal(st_net_device_index(net, "lo"), ST_IFINDEX_LO);
	assert_string_equal(st_net_device_name(net, ST_IFINDEX_LO), "lo");
	assert_true(st_conf_device_is_loopback(st_net_conf(net), ST_IFINDEX_LO));

	assert_int_equal(new_device(net, "eth0"), 2);
	assert_int_equal(new_device(net, "eth1"), 3);
	assert_int_equal(st_net_device_index(net, "eth1"), 3);
	assert_string_equal(st_net_device_name(net, 2), "eth0");
	assert_false(st_conf_device_is_loopback(st_net_conf(net), 2));
	assert_true(st_conf_device_exists(st_net_conf(net), 3));
	assert_false(st_conf_device_exists(st_net_conf(net), 4));
	assert_false(st_conf_device_exists(st_net_conf(net), 0));

	assert_int_equal(st_net_add_device(net, "eth0", &idx), -EEXIST);
	assert_int_equal(st_net_add_device(net, "lo", &idx), -EEXIST);
	assert_int_equal(st_net_add_device(net, "", &idx), -EINVAL);
	assert_int_equal(st_net_add_device(net, "sixteen-chars-xx", &idx), -EINVAL);
	assert_int_equal(st_net_add_device(net, "a/b", &idx), -EINVAL);
	assert_int_equal(st_net_add_device(net, "a b", &idx), -EINVAL);
	assert_int_equal(st_net_add_device(net, "a:1", &idx), -EINVAL);
	assert_int_equal(st_net_add_device(net, "..", &idx), -EINVAL);
	assert_int_equal(st_net_add_device(net, NULL, &idx), -EINVAL);
	assert_int_equal(new_device(net, "fifteen-chars-x"), 4);
	assert_int_equal(st_net_add_device(net, "veth9", NULL), 0);
	assert_int_equal(st_net_device_index(net, "veth9"), 5);

	assert_int_equal(st_net_device_index(net, "nope"), -ENODEV);
	assert_int_equal(st_net_device_index(net, "eth"), -ENODEV);
	assert_null(st_net_device_name(net, 0));
	assert_null(st_net_device_name(net, 6));
	assert_null(st_net_device_name(net, -1));
}

/* ---- IPv4 routes ------------------------------------------------------- */

static void test_loopback_routes(void **state)
{
	st_net *net = *state;
	st_route4 rt;

	/* B21/B22 as observed: one prefix route makes all of 127/8 local. */
	assert_true(st_net_v4_bindable(net, V4(127, 0, 0, 1)));
	assert_true(st_net_v4_bindable(net, V4(127, 1, 2, 3)));
	assert_true(st_net_v4_bindable(net, V4(127, 255, 255, 255)));
	assert_true(st_net_v4_bindable(net, V4(127, 0, 0, 0)));
	assert_true(st_net_v4_bindable(net, 0));
	assert_true(st_net_v4_bindable(net, V4(224, 0, 0, 1)));
	assert_true(st_net_v4_bindable(net, V4(239, 255, 255, 255)));
	assert_true(st_net_v4_bindable(net, V4(255, 255, 255, 255)));
	assert_false(st_net_v4_bindable(net, V4(0, 1, 2, 3)));
	assert_false(st_net_v4_bindable(net, V4(240, 0, 0, 1)));
	assert_false(st_net_v4_bindable(net, V4(128, 0, 0, 1)));
	assert_false(st_net_v4_bindable(net, V4(10, 0, 0, 1)));
	assert_false(st_net_v4_bindable(net, V4(126, 255, 255, 255)));

	assert_int_equal(st_net_route4(net, V4(127, 1, 2, 3), &rt), 0);
	assert_int_equal(rt.type, ST_RTN_LOCAL);
	assert_int_equal(rt.ifindex, ST_IFINDEX_LO);
	assert_int_equal(rt.prefsrc, V4(127, 0, 0, 1));
	assert_int_equal(rt.prefix_len, 8);
	assert_int_equal(st_net_route4(net, V4(127, 0, 0, 1), &rt), 0);
	assert_int_equal(rt.prefix_len, 32);
	assert_int_equal(st_net_route4(net, V4(127, 255, 255, 255), &rt), 0);
	assert_int_equal(rt.type, ST_RTN_BROADCAST);
	assert_int_equal(st_net_route4(net, V4(10, 0, 0, 1), &rt), -ENETUNREACH);

	/* Replace 127.0.0.1/8 by 127.0.0.1/32: only that one address stays. */
	assert_int_equal(del4(net, ST_IFINDEX_LO, V4(127, 0, 0, 1), 8), 0);
	assert_false(st_net_v4_bindable(net, V4(127, 0, 0, 1)));
	assert_int_equal(st_net_conf(net)->nroutes4, 0);
	assert_int_equal(add4(net, ST_IFINDEX_LO, V4(127, 0, 0, 1), 32), 0);
	assert_true(st_net_v4_bindable(net, V4(127, 0, 0, 1)));
	assert_false(st_net_v4_bindable(net, V4(127, 1, 2, 3)));
	assert_false(st_net_v4_bindable(net, V4(127, 255, 255, 255)));
	assert_false(st_net_v4_bindable(net, V4(127, 5, 9, 9)));

	/* "ip route add local 127.5.0.0/16 dev lo table local". */
	assert_int_equal(st_net_add_route4(net, V4(127, 5, 0, 0), 16, ST_RTN_LOCAL, ST_IFINDEX_LO,
					   NULL),
			 0);
	assert_true(st_net_v4_bindable(net, V4(127, 5, 9, 9)));
	assert_false(st_net_v4_bindable(net, V4(127, 6, 0, 1)));
	assert_int_equal(st_net_route4(net, V4(127, 5, 9, 9), &rt), 0);
	assert_int_equal(rt.prefsrc, 0);
	assert_int_equal(rt.prefix_len, 16);
	assert_int_equal(st_net_add_route4(net, V4(127, 5, 0, 0), 16, ST_RTN_LOCAL, ST_IFINDEX_LO,
					   NULL),
			 -EEXIST);
	assert_int_equal(st_net_del_route4(net, V4(127, 5, 0, 0), 16, ST_RTN_LOCAL), 0);
	assert_false(st_net_v4_bindable(net, V4(127, 5, 9, 9)));
	assert_int_equal(st_net_del_route4(net, V4(127, 5, 0, 0), 16, ST_RTN_LOCAL), -ESRCH);

	/* Putting /8 back restores the whole block. */
	assert_int_equal(add4(net, ST_IFINDEX_LO, V4(127, 0, 0, 1), 8), 0);
	assert_true(st_net_v4_bindable(net, V4(127, 1, 2, 3)));
	assert_true(st_net_v4_bindable(net, V4(127, 255, 255, 255)));
	/* ... and removing /32 again must not take the shared host route. */
	assert_int_equal(del4(net, ST_IFINDEX_LO, V4(127, 0, 0, 1), 32), 0);
	assert_true(st_net_v4_bindable(net, V4(127, 0, 0, 1)));
	assert_int_equal(st_net_route4(net, V4(127, 0, 0, 1), &rt), 0);
	assert_int_equal(rt.prefix_len, 32);
}

static void test_device_address_routes(void **state)
{
	st_net *net = *state;
	int eth0 = new_device(net, "eth0");
	st_route4 rt;

	assert_int_equal(add4(net, eth0, V4(10, 1, 1, 1), 24), 0);
	/* On an ordinary device only the address itself becomes local ... */
	assert_true(st_net_v4_bindable(net, V4(10, 1, 1, 1)));
	assert_false(st_net_v4_bindable(net, V4(10, 1, 1, 2)));
	assert_false(st_net_v4_bindable(net, V4(10, 1, 1, 0)));
	/* ... plus the subnet broadcast. */
	assert_true(st_net_v4_bindable(net, V4(10, 1, 1, 255)));
	assert_false(st_net_v4_bindable(net, V4(10, 1, 2, 255)));

	assert_int_equal(st_net_route4(net, V4(10, 1, 1, 7), &rt), 0);
	assert_int_equal(rt.type, ST_RTN_UNICAST);
	assert_int_equal(rt.ifindex, eth0);
	assert_int_equal(rt.prefsrc, V4(10, 1, 1, 1));
	assert_int_equal(rt.prefix_len, 24);
	assert_int_equal(st_net_route4(net, V4(10, 1, 1, 1), &rt), 0);
	assert_int_equal(rt.type, ST_RTN_LOCAL);
	assert_int_equal(rt.ifindex, eth0);
	assert_int_equal(rt.prefix_len, 32);

	/* A second address in the subnet shares the prefix route. */
	assert_int_equal(add4(net, eth0, V4(10, 1, 1, 2), 24), 0);
	assert_true(st_net_v4_bindable(net, V4(10, 1, 1, 2)));
	assert_int_equal(del4(net, eth0, V4(10, 1, 1, 1), 24), 0);
	assert_false(st_net_v4_bindable(net, V4(10, 1, 1, 1)));
	assert_true(st_net_v4_bindable(net, V4(10, 1, 1, 255)));
	assert_int_equal(st_net_route4(net, V4(10, 1, 1, 7), &rt), 0);
	assert_int_equal(rt.type, ST_RTN_UNICAST);
	assert_int_equal(rt.prefsrc, V4(10, 1, 1, 2)); /* the survivor is now the source */
	assert_int_equal(del4(net, eth0, V4(10, 1, 1, 2), 24), 0);
	assert_int_equal(st_net_route4(net, V4(10, 1, 1, 7), &rt), -ENETUNREACH);
	assert_false(st_net_v4_bindable(net, V4(10, 1, 1, 255)));
	assert_false(st_net_v4_bindable(net, V4(10, 1, 1, 2)));

	/* /31: no broadcast; /32: not even a prefix route. */
	assert_int_equal(add4(net, eth0, V4(10, 2, 2, 0), 31), 0);
	assert_false(st_net_v4_bindable(net, V4(10, 2, 2, 1)));
	assert_int_equal(st_net_route4(net, V4(10, 2, 2, 1), &rt), 0);
	assert_int_equal(rt.type, ST_RTN_UNICAST);
	assert_int_equal(add4(net, eth0, V4(10, 3, 3, 3), 32), 0);
	assert_int_equal(st_net_route4(net, V4(10, 3, 3, 4), &rt), -ENETUNREACH);
	assert_true(st_net_v4_bindable(net, V4(10, 3, 3, 3)));

	/* Errors. */
	assert_int_equal(add4(net, eth0, V4(10, 3, 3, 3), 32), -EEXIST);
	assert_int_equal(add4(net, eth0, V4(10, 3, 3, 3), 33), -EINVAL);
	assert_int_equal(add4(net, eth0, V4(10, 3, 3, 3), -1), -EINVAL);
	assert_int_equal(add4(net, 99, V4(10, 3, 3, 3), 32), -ENODEV);
	assert_int_equal(add4(net, 0, V4(10, 3, 3, 3), 32), -ENODEV);
	assert_int_equal(del4(net, eth0, V4(10, 3, 3, 3), 24), -EADDRNOTAVAIL);
	assert_int_equal(del4(net, eth0, V4(10, 9, 9, 9), 32), -EADDRNOTAVAIL);
	st_addr six = addr_of("fd00::1");
	assert_int_equal(st_net_add_addr(net, eth0, &six, ST_AF_INET, 24), -EINVAL);
	assert_int_equal(st_net_add_addr(net, eth0, &six, 99, 24), -EINVAL);
	assert_int_equal(st_net_add_addr(net, eth0, NULL, ST_AF_INET, 24), -EINVAL);
	/* Same address, other mask: a distinct address, as on Linux. */
	assert_int_equal(add4(net, eth0, V4(10, 3, 3, 3), 16), 0);
	assert_int_equal(st_net_route4(net, V4(10, 3, 3, 4), &rt), 0);
	assert_int_equal(rt.prefix_len, 16);
}

static void test_route_lookup_order(void **state)
{
	st_net *net = *state;
	int eth0 = new_device(net, "eth0"), eth1 = new_device(net, "eth1");
	uint32_t src = V4(10, 9, 0, 1);
	st_route4 rt;

	/* Longest match inside table main. */
	assert_int_equal(st_net_add_route4(net, V4(10, 0, 0, 0), 8, ST_RTN_UNICAST, eth0, NULL), 0);
	assert_int_equal(st_net_add_route4(net, V4(10, 9, 0, 0), 16, ST_RTN_UNICAST, eth1, &src), 0);
	assert_int_equal(st_net_route4(net, V4(10, 9, 1, 1), &rt), 0);
	assert_int_equal(rt.ifindex, eth1);
	assert_int_equal(rt.prefsrc, src);
	assert_int_equal(st_net_route4(net, V4(10, 8, 1, 1), &rt), 0);
	assert_int_equal(rt.ifindex, eth0);
	assert_int_equal(rt.prefsrc, 0);
	assert_false(st_net_v4_bindable(net, V4(10, 9, 1, 1))); /* unicast is not local */

	/* Table local is consulted first, even against a longer main route. */
	assert_int_equal(st_net_add_route4(net, V4(127, 1, 0, 0), 16, ST_RTN_UNICAST, eth0, NULL), 0);
	assert_int_equal(st_net_route4(net, V4(127, 1, 2, 3), &rt), 0);
	assert_int_equal(rt.type, ST_RTN_LOCAL);
	assert_int_equal(rt.ifindex, ST_IFINDEX_LO);
	assert_true(st_net_v4_bindable(net, V4(127, 1, 2, 3)));

	/* A default route catches everything the rest does not. */
	assert_int_equal(st_net_add_route4(net, 0, 0, ST_RTN_UNICAST, eth1, NULL), 0);
	assert_int_equal(st_net_route4(net, V4(192, 0, 2, 1), &rt), 0);
	assert_int_equal(rt.ifindex, eth1);
	assert_int_equal(rt.prefix_len, 0);
	assert_false(st_net_v4_bindable(net, V4(192, 0, 2, 1)));

	/* Validation. */
	assert_int_equal(st_net_add_route4(net, V4(10, 9, 0, 1), 16, ST_RTN_UNICAST, eth0, NULL),
			 -EINVAL); /* host bits set */
	assert_int_equal(st_net_add_route4(net, V4(10, 9, 0, 0), 33, ST_RTN_UNICAST, eth0, NULL),
			 -EINVAL);
	assert_int_equal(st_net_add_route4(net, V4(10, 9, 0, 0), 16, (st_route_type)7, eth0, NULL),
			 -EINVAL);
	assert_int_equal(st_net_add_route4(net, V4(10, 7, 0, 0), 16, ST_RTN_UNICAST, 42, NULL),
			 -ENODEV);
	assert_int_equal(st_net_add_route4(net, V4(10, 9, 0, 0), 16, ST_RTN_UNICAST, eth0, NULL),
			 -EEXIST);
	assert_int_equal(st_net_add_route4(net, V4(127, 0, 0, 0), 8, ST_RTN_BROADCAST,
					   ST_IFINDEX_LO, NULL),
			 -EEXIST); /* same table, prefix and length */
	/* The same prefix in the other table is a different route. */
	assert_int_equal(st_net_add_route4(net, V4(10, 9, 0, 0), 16, ST_RTN_LOCAL, eth0, NULL), 0);
	assert_true(st_net_v4_bindable(net, V4(10, 9, 3, 3)));
	assert_int_equal(st_net_del_route4(net, V4(10, 9, 0, 0), 16, ST_RTN_BROADCAST), -ESRCH);
	assert_int_equal(st_net_del_route4(net, V4(10, 9, 0, 1), 16, ST_RTN_LOCAL), -EINVAL);
	assert_int_equal(st_net_del_route4(net, V4(10, 9, 0, 0), 16, ST_RTN_LOCAL), 0);
	assert_false(st_net_v4_bindable(net, V4(10, 9, 3, 3)));
	assert_int_equal(st_net_route4(net, V4(10, 9, 3, 3), &rt), 0);
	assert_int_equal(rt.type, ST_RTN_UNICAST);
}

/* ---- IPv6 -------------------------------------------------------------- */

static void test_ipv6_addresses(void **state)
{
	st_net *net = *state;
	int eth0 = new_device(net, "eth0"), eth1 = new_device(net, "eth1");
	st_addr lo6 = addr_of("::1"), mapped = addr_of("::ffff:127.0.0.1");
	st_addr a = addr_of("fd00::1"), src;
	int ifindex;

	assert_true(st_net_v6_has_addr(net, &lo6, 0));
	assert_true(st_net_v6_has_addr(net, &lo6, ST_IFINDEX_LO));
	assert_false(st_net_v6_has_addr(net, &lo6, eth0));
	/* IPv4 addresses are not IPv6 addresses, even spelled mapped. */
	assert_false(st_net_v6_has_addr(net, &mapped, 0));
	assert_false(st_net_v6_has_addr(net, &a, 0));

	assert_int_equal(add6(net, eth0, "fd00::1", 64), 0);
	assert_true(st_net_v6_has_addr(net, &a, 0));
	assert_true(st_net_v6_has_addr(net, &a, eth0));
	assert_false(st_net_v6_has_addr(net, &a, eth1));

	/* Local destination: itself, on its device. */
	assert_int_equal(st_net_route6(net, &a, 0, &src, &ifindex), 0);
	assert_true(st_addr_equal(&src, &a));
	assert_int_equal(ifindex, eth0);
	assert_int_equal(st_net_route6(net, &lo6, 0, &src, &ifindex), 0);
	assert_true(st_addr_equal(&src, &lo6));
	assert_int_equal(ifindex, ST_IFINDEX_LO);

	/* On-link destination: the address whose prefix covers it. */
	st_addr dst = addr_of("fd00::5");
	assert_int_equal(st_net_route6(net, &dst, 0, &src, &ifindex), 0);
	assert_true(st_addr_equal(&src, &a));
	assert_int_equal(ifindex, eth0);
	assert_int_equal(st_net_route6(net, &dst, ST_IFINDEX_LO, &src, &ifindex), -ENETUNREACH);
	dst = addr_of("fd00:0:0:1::5");
	assert_int_equal(st_net_route6(net, &dst, 0, &src, &ifindex), -ENETUNREACH);
	dst = addr_of("2001:db8::1");
	assert_int_equal(st_net_route6(net, &dst, 0, &src, &ifindex), -ENETUNREACH);
	assert_int_equal(st_net_route6(net, &mapped, 0, &src, &ifindex), -ENETUNREACH);

	/* The longest covering prefix wins, wherever it sits in the list. */
	assert_int_equal(add6(net, eth1, "fd00::2", 48), 0);
	dst = addr_of("fd00::9");
	assert_int_equal(st_net_route6(net, &dst, 0, &src, &ifindex), 0);
	assert_true(st_addr_equal(&src, &a));
	assert_int_equal(ifindex, eth0);
	dst = addr_of("fd00:0:0:7::9");
	assert_int_equal(st_net_route6(net, &dst, 0, &src, &ifindex), 0);
	assert_int_equal(ifindex, eth1);
	assert_int_equal(add6(net, eth1, "fd00::3", 96), 0);
	dst = addr_of("fd00::9");
	assert_int_equal(st_net_route6(net, &dst, 0, &src, &ifindex), 0);
	assert_int_equal(ifindex, eth1);
	st_addr three = addr_of("fd00::3");
	assert_true(st_addr_equal(&src, &three));

	/* Errors. */
	assert_int_equal(add6(net, eth0, "fd00::1", 64), -EEXIST);
	assert_int_equal(add6(net, eth0, "fd00::1", 128), -EEXIST); /* per address, any length */
	assert_int_equal(add6(net, eth1, "fd00::1", 64), 0);        /* another device is fine */
	assert_int_equal(add6(net, eth0, "::1", 128), -EINVAL);     /* loopback only on lo */
	assert_int_equal(add6(net, eth0, "ff02::1", 128), -EINVAL);
	assert_int_equal(add6(net, eth0, "::", 128), -EINVAL);
	assert_int_equal(add6(net, eth0, "::ffff:10.0.0.1", 128), -EINVAL);
	assert_int_equal(add6(net, eth0, "fd00::7", 129), -EINVAL);
	assert_int_equal(add6(net, 77, "fd00::7", 64), -ENODEV);
	assert_int_equal(st_net_del_addr(net, eth0, &a, ST_AF_INET6, 48), -EADDRNOTAVAIL);
	assert_int_equal(st_net_del_addr(net, eth0, &a, ST_AF_INET6, 64), 0);
	assert_false(st_net_v6_has_addr(net, &a, eth0));
	assert_true(st_net_v6_has_addr(net, &a, 0)); /* still on eth1 */
	assert_int_equal(st_net_del_addr(net, eth0, &a, ST_AF_INET6, 64), -EADDRNOTAVAIL);

	/* Link-local: the device decides. */
	assert_int_equal(add6(net, eth0, "fe80::1", 64), 0);
	assert_int_equal(add6(net, eth1, "fe80::2", 64), 0);
	dst = addr_of("fe80::99");
	assert_int_equal(st_net_route6(net, &dst, eth1, &src, &ifindex), 0);
	assert_int_equal(ifindex, eth1);
	assert_int_equal(src.b[15], 2);
	dst = addr_of("fe80::1");
	assert_int_equal(st_net_route6(net, &dst, eth1, &src, &ifindex), 0);
	assert_int_equal(src.b[15], 2); /* fe80::1 is not local to eth1 */
	assert_int_equal(st_net_route6(net, &dst, eth0, &src, &ifindex), 0);
	assert_true(st_addr_equal(&src, &dst));
}

/* ---- allocation failure ------------------------------------------------ */

struct snapshot {
	struct st_netconf head;
	struct st_device *devs;
	struct st_route4_entry *routes;
	struct st_addr6_entry *addrs;
};

static void take(struct snapshot *s, const struct st_netconf *c)
{
	s->head = *c;
	s->devs = malloc(sizeof(*c->devs) * (size_t)(c->ndevs + 1));
	s->routes = malloc(sizeof(*c->routes4) * (size_t)(c->nroutes4 + 1));
	s->addrs = malloc(sizeof(*c->addrs6) * (size_t)(c->naddrs6 + 1));
	assert_non_null(s->devs);
	assert_non_null(s->routes);
	assert_non_null(s->addrs);
	if (c->ndevs)
		memcpy(s->devs, c->devs, sizeof(*c->devs) * (size_t)c->ndevs);
	if (c->nroutes4)
		memcpy(s->routes, c->routes4, sizeof(*c->routes4) * (size_t)c->nroutes4);
	if (c->naddrs6)
		memcpy(s->addrs, c->addrs6, sizeof(*c->addrs6) * (size_t)c->naddrs6);
}

static void assert_unchanged(const struct snapshot *s, const struct st_netconf *c)
{
	assert_memory_equal(s->head.sysctl, c->sysctl, sizeof(c->sysctl));
	assert_int_equal(s->head.port_range_hi, c->port_range_hi);
	assert_memory_equal(s->head.reserved_ports, c->reserved_ports, sizeof(c->reserved_ports));
	assert_int_equal(s->head.ndevs, c->ndevs);
	assert_int_equal(s->head.nroutes4, c->nroutes4);
	assert_int_equal(s->head.naddrs6, c->naddrs6);
	if (c->ndevs)
		assert_memory_equal(s->devs, c->devs, sizeof(*c->devs) * (size_t)c->ndevs);
	if (c->nroutes4)
		assert_memory_equal(s->routes, c->routes4, sizeof(*c->routes4) * (size_t)c->nroutes4);
	if (c->naddrs6)
		assert_memory_equal(s->addrs, c->addrs6, sizeof(*c->addrs6) * (size_t)c->naddrs6);
}

static void drop(struct snapshot *s)
{
	free(s->devs);
	free(s->routes);
	free(s->addrs);
}

enum op_kind { OP_ADDR4, OP_ADDR6, OP_DEVICE, OP_ROUTE };

static int run_op(st_net *net, enum op_kind kind, int i)
{
	char text[48];

	switch (kind) {
	case OP_ADDR4:
		return add4(net, 2, V4(10, i / 200, i % 200, 1), 24);
	case OP_ADDR6:
		snprintf(text, sizeof(text), "fd00:%x::1", i + 1);
		return add6(net, 2, text, 64);
	case OP_DEVICE:
		snprintf(text, sizeof(text), "dev%d", i);
		return st_net_add_device(net, text, NULL);
	case OP_ROUTE:
		return st_net_add_route4(net, V4(172, 16, i, 0), 24, ST_RTN_LOCAL, 2, NULL);
	}
	return -EINVAL;
}

/*
 * Make each allocation of one call fail in turn; a failed call must
 * return -ENOMEM and leave the configuration byte-for-byte as it was.
 * Returns how many injected failures actually hit.
 */
static int exhaust(st_net *net, enum op_kind kind, int i)
{
	int hits = 0;

	for (uint64_t k = 1;; k++) {
		struct snapshot s;
		uint64_t seen;
		int rc;

		take(&s, st_net_conf(net));
		st_alloc_fail_at(k);
		rc = run_op(net, kind, i);
		seen = st_alloc_fail_at(0);
		if (seen < k) { /* the call made fewer than k allocations */
			drop(&s);
			if (rc != 0)
				fail_msg("op %d/%d failed with %d without injection", kind, i, rc);
			return hits;
		}
		if (rc != -ENOMEM)
			fail_msg("op %d/%d: allocation %llu failed but rc = %d", kind, i,
				 (unsigned long long)k, rc);
		assert_unchanged(&s, st_net_conf(net));
		drop(&s);
		hits++;
	}
}

static void test_failure_injection(void **state)
{
	st_net *net = *state;
	int hits[4] = { 0 };

	assert_int_equal(new_device(net, "eth0"), 2);
	/*
	 * Enough of each to cross several capacity doublings.  IPv4 goes
	 * last: it shares arrays with IPv6 addresses and explicit routes and
	 * would otherwise leave them so much spare room that those never
	 * allocate.
	 */
	for (int i = 0; i < 40; i++)
		hits[OP_DEVICE] += exhaust(net, OP_DEVICE, i);
	for (int i = 0; i < 40; i++)
		hits[OP_ADDR6] += exhaust(net, OP_ADDR6, i);
	for (int i = 0; i < 40; i++)
		hits[OP_ROUTE] += exhaust(net, OP_ROUTE, i);
	for (int i = 0; i < 300; i++)
		hits[OP_ADDR4] += exhaust(net, OP_ADDR4, i);
	for (int k = 0; k < 4; k++)
		if (hits[k] == 0)
			fail_msg("op kind %d never allocated: the test proved nothing", k);

	/* Everything that finally succeeded is really there. */
	assert_int_equal(st_net_conf(net)->ndevs, 2 + 40);
	assert_true(st_net_v4_bindable(net, V4(10, 1, 99, 1)));
	assert_true(st_net_v4_bindable(net, V4(10, 1, 99, 255)));
	assert_true(st_net_v4_bindable(net, V4(172, 16, 39, 9)));
	assert_false(st_net_v4_bindable(net, V4(172, 16, 40, 9)));
	st_addr a = addr_of("fd00:28::1");
	assert_true(st_net_v6_has_addr(net, &a, 2));
}

static void test_init_failure(void **state)
{
	int hits = 0;

	(void)state;
	for (uint64_t k = 1;; k++) {
		struct st_netconf c;
		uint64_t seen;
		int rc;

		memset(&c, 0x5a, sizeof(c));
		st_alloc_fail_at(k);
		rc = st_netconf_init(&c);
		seen = st_alloc_fail_at(0);
		if (seen < k) {
			assert_int_equal(rc, 0);
			assert_int_equal(c.ndevs, 1);
			st_netconf_destroy(&c);
			break;
		}
		assert_int_equal(rc, -ENOMEM);
		/* Nothing is left allocated (the sanitizer build checks leaks). */
		assert_null(c.devs);
		assert_null(c.routes4);
		assert_null(c.addrs6);
		hits++;
	}
	assert_true(hits > 0);
}

static void test_alloc_countdown(void **state)
{
	void *p, *q;
	char *r;

	(void)state;
	st_alloc_fail_at(0);
	p = st_malloc(8);
	assert_non_null(p);
	st_free(p);
	st_free(NULL);

	/* The count covers attempts since the previous call, failed or not. */
	assert_int_equal(st_alloc_fail_at(1), 1);
	assert_null(st_malloc(8));
	p = st_malloc(8); /* the failure happens once only */
	assert_non_null(p);
	st_free(p);
	assert_int_equal(st_alloc_fail_at(3), 2);

	p = st_calloc(2, 4);
	q = st_malloc(1);
	assert_non_null(p);
	assert_non_null(q);
	assert_int_equal(((char *)p)[7], 0);
	assert_null(st_calloc(1, 16)); /* the third one */
	st_free(p);
	st_free(q);

	/* A failed realloc leaves the block as it was. */
	r = st_malloc(4);
	assert_non_null(r);
	memcpy(r, "abc", 4);
	assert_int_equal(st_alloc_fail_at(1), 4);
	assert_null(st_realloc(r, 1 << 20));
	assert_string_equal(r, "abc");
	r = st_realloc(r, 1 << 20);
	assert_non_null(r);
	assert_string_equal(r, "abc");

	/* Zero-size requests succeed, so NULL only ever means failure; and
	 * 0 disarms: nothing fails however many allocations follow. */
	assert_int_equal(st_alloc_fail_at(0), 2);
	for (int i = 0; i < 100; i++) {
		p = st_malloc(0);
		assert_non_null(p);
		st_free(p);
	}
	r = st_realloc(r, 0);
	assert_non_null(r);
	assert_int_equal(st_alloc_fail_at(0), 101);
	st_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sysctl_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sysctl_port_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sysctl_bounds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sysctl_text, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reserved_ports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_devices, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loopback_routes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_address_routes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_route_lookup_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipv6_addresses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_injection, setup, teardown),
		cmocka_unit_test(test_init_failure),
		cmocka_unit_test(test_alloc_countdown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
