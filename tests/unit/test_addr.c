/*
 * test_addr.c - unit tests for the address type and its text forms.
 *
 * Scenario files and expectations are text, so a parser that accepts too
 * much or a formatter that prints a non-canonical form silently turns one
 * test into another.  These tests therefore pin three things: exact bytes
 * for accepted input, rejection of near misses (each a plausible typo),
 * and RFC 5952 output, including a randomized format -> parse round trip
 * over addresses biased towards zero runs, where the "::" rules bite.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "socktab/addr.h"

static st_addr parse_ok(const char *text, int want_family)
{
	st_addr a;
	int family = -1;

	memset(&a, 0xaa, sizeof(a));
	if (st_addr_parse(text, &a, &family) != 0)
		fail_msg("rejected valid address \"%s\"", text);
	assert_int_equal(family, want_family);
	return a;
}

static void expect_format6(const st_addr *a, const char *want)
{
	char buf[ST_ADDR_STRLEN];
	int n = st_addr_format(a, ST_AF_INET6, buf, sizeof(buf));

	assert_string_equal(buf, want);
	assert_int_equal(n, (int)strlen(want));
}

static void test_v4_parse(void **state)
{
	(void)state;
	st_addr a = parse_ok("127.0.0.1", ST_AF_INET);
	static const uint8_t want[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1 };

	assert_memory_equal(a.b, want, 16);
	assert_int_equal(st_addr_get_v4(&a), 0x7f000001);

	a = parse_ok("0.0.0.0", ST_AF_INET);
	assert_true(st_addr_is_any4(&a));
	a = parse_ok("255.255.255.255", ST_AF_INET);
	assert_true(st_addr_is_v4_limited_broadcast(&a));
	a = parse_ok("10.200.3.4", ST_AF_INET);
	assert_int_equal(st_addr_get_v4(&a), 0x0ac80304);
}

static void test_v4_reject(void **state)
{
	static const char *bad[] = {
		"", "1", "1.2.3", "1.2.3.4.5", "256.0.0.1", "1.2.3.256", "01.2.3.4", "1.2.3.00",
		"1..2.3", ".1.2.3", "1.2.3.", " 1.2.3.4", "1.2.3.4 ", "1.2.3.4x", "a.b.c.d",
		"0x1.2.3.4", "1.2.3.-4", "+1.2.3.4", "1234.1.1.1", "1.2.3.4/8", "1.2.3.4:80",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		st_addr a = st_addr_v4(0x01020304), before = a;
		int family = 77;

		if (st_addr_parse(bad[i], &a, &family) != -EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
		/* A rejected parse must not leave half an answer behind. */
		assert_memory_equal(&a, &before, sizeof(a));
		assert_int_equal(family, 77);
	}
	assert_int_equal(st_addr_parse(NULL, &(st_addr){ { 0 } }, NULL), -EINVAL);
}

static void test_v6_parse_bytes(void **state)
{
	static const uint8_t b1[16] = { 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3 };
	static const uint8_t b2[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
					0, 0, 0, 0, 0xab, 0xcd, 0, 0 };
	static const uint8_t b3[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4 };
	st_addr a;

	(void)state;
	a = parse_ok("1:2::3", ST_AF_INET6);
	assert_memory_equal(a.b, b1, 16);
	a = parse_ok("2001:DB8::AbCd:0", ST_AF_INET6);
	assert_memory_equal(a.b, b2, 16);
	a = parse_ok("::ffff:1.2.3.4", ST_AF_INET6);
	assert_memory_equal(a.b, b3, 16);
	a = parse_ok("0:0:0:0:0:ffff:1.2.3.4", ST_AF_INET6);
	assert_memory_equal(a.b, b3, 16);
	a = parse_ok("::", ST_AF_INET6);
	assert_true(st_addr_is_any6(&a));
	a = parse_ok("::1", ST_AF_INET6);
	assert_true(st_addr_is_loopback(&a));
	/* A v4-mapped address is still reported as IPv6 text. */
	a = parse_ok("::ffff:127.0.0.1", ST_AF_INET6);
	assert_true(st_addr_is_v4mapped(&a));
	assert_int_equal(st_addr_get_v4(&a), 0x7f000001);
}

static void test_v6_canonical(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "::", "::" },
		{ "::1", "::1" },
		{ "1::", "1::" },
		{ "2001:DB8::1", "2001:db8::1" },
		{ "2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1" },
		/* Equal runs: the first one is compressed. */
		{ "2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1" },
		/* The longer run wins even when it comes second. */
		{ "1:0:0:2:0:0:0:3", "1:0:0:2::3" },
		/* A single zero group is never shortened. */
		{ "2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1" },
		{ "1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0" },
		{ "::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8" },
		{ "fe80::0001", "fe80::1" },
		{ "ff02::1", "ff02::1" },
		{ "::ffff:127.0.0.1", "::ffff:127.0.0.1" },
		{ "::FFFF:7f00:1", "::ffff:127.0.0.1" },
		{ "::ffff:0.0.0.0", "::ffff:0.0.0.0" },
		/* Only v4-mapped keeps a dotted tail. */
		{ "::1.2.3.4", "::102:304" },
		{ "1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304" },
		{ "::ffff:0:1.2.3.4", "::ffff:0:102:304" },
		{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		st_addr a = parse_ok(cases[i].in, ST_AF_INET6);

		expect_format6(&a, cases[i].out);
	}
}

static void test_v6_reject(void **state)
{
	static const char *bad[] = {
		":", ":::", "1:::2", "1::2::3", ":1::", "1::2:", ":1:2:3:4:5:6:7:8", "12345::",
		"1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8::", "::1:2:3:4:5:6:7:8",
		"1::3:4:5:6:7:8:9", "g::1", "::1%1", "[::1]", "::ffff:1.2.3", "::ffff:1.2.3.4.5",
		"::ffff:256.1.1.1", "::ffff:01.1.1.1", "1.2.3.4::", "::1.2.3.4:1",
		"1:2:3:4:5:6:7:1.2.3.4", "1:2:3:4:5:6:7:8:1.2.3.4", " ::1", "::1 ", "::1/128",
		"fe80::-1", "::+1",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		st_addr a;

		if (st_addr_parse(bad[i], &a, NULL) != -EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
	}
}

static void test_format_v4_and_errors(void **state)
{
	char buf[ST_ADDR_STRLEN];
	char small[6];
	st_addr a = st_addr_v4(0xc0a80a01);

	(void)state;
	assert_int_equal(st_addr_format(&a, ST_AF_INET, buf, sizeof(buf)), 12);
	assert_string_equal(buf, "192.168.10.1");
	expect_format6(&a, "::ffff:192.168.10.1");

	/* Truncation stores what fits, terminates, and says how much. */
	memset(small, 'x', sizeof(small));
	assert_int_equal(st_addr_format(&a, ST_AF_INET, small, sizeof(small)), 5);
	assert_string_equal(small, "192.1");
	assert_int_equal(st_addr_format(&a, ST_AF_INET, small, 0), 0);
	assert_int_equal(small[0], '1'); /* len 0: nothing written */

	assert_int_equal(st_addr_format(&a, ST_AF_UNSPEC, buf, sizeof(buf)), -EINVAL);
	assert_string_equal(buf, "");
}

static void test_sockaddr_parse(void **state)
{
	st_sockaddr sa;
	st_addr any6 = st_addr_any6();

	(void)state;
	assert_int_equal(st_sockaddr_parse("127.0.0.1:8080", &sa), 0);
	assert_int_equal(sa.family, ST_AF_INET);
	assert_int_equal(sa.port, 8080);
	assert_int_equal(sa.scope_id, 0);
	assert_int_equal(st_addr_get_v4(&sa.addr), 0x7f000001);
	assert_true(st_addr_is_v4mapped(&sa.addr));

	assert_int_equal(st_sockaddr_parse("0.0.0.0:0", &sa), 0);
	assert_true(st_addr_is_any4(&sa.addr));
	assert_int_equal(sa.port, 0);

	assert_int_equal(st_sockaddr_parse("[::]:65535", &sa), 0);
	assert_int_equal(sa.family, ST_AF_INET6);
	assert_int_equal(sa.port, 65535);
	assert_memory_equal(&sa.addr, &any6, sizeof(any6));

	assert_int_equal(st_sockaddr_parse("[::ffff:127.0.0.1]:8080", &sa), 0);
	assert_int_equal(sa.family, ST_AF_INET6);
	assert_true(st_addr_is_v4mapped(&sa.addr));

	assert_int_equal(st_sockaddr_parse("[fe80::1%2]:80", &sa), 0);
	assert_int_equal(sa.family, ST_AF_INET6);
	assert_int_equal(sa.scope_id, 2);
	assert_int_equal(sa.port, 80);
	assert_int_equal(sa.addr.b[0], 0xfe);
	assert_int_equal(sa.addr.b[15], 1);

	assert_int_equal(st_sockaddr_parse("[fe80::1%4294967295]:1", &sa), 0);
	assert_int_equal(sa.scope_id, 4294967295u);
}

static void test_sockaddr_reject(void **state)
{
	static const char *bad[] = {
		"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:080",
		"127.0.0.1:80x", "127.0.0.1: 80", "127.0.0.1:+80", "127.0.0.1:99999999999",
		"::1:80", "[::1]80", "[::1]:", "[::1", "::1]:80", "[1.2.3.4]:80", "[fe80::1%]:80",
		"[fe80::1%eth0]:80", "[fe80::1%4294967296]:80", "[fe80::1%-1]:80", "[[::1]]:80",
		"[::1]]:80", "1.2.3.4:80:80", "[::1]:80 ", " [::1]:80", "1.2.3.4%1:80", "[]:80",
		"[::1%1%2]:80", "256.1.1.1:80", "localhost:80",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		st_sockaddr sa = st_sockaddr_in(0x01020304, 7), before = sa;

		if (st_sockaddr_parse(bad[i], &sa) != -EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_memory_equal(&sa, &before, sizeof(sa));
	}
}

static void test_sockaddr_round_trip(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "127.0.0.1:8080", "127.0.0.1:8080" },
		{ "0.0.0.0:0", "0.0.0.0:0" },
		{ "[::1]:8080", "[::1]:8080" },
		{ "[::]:8080", "[::]:8080" },
		{ "[::ffff:127.0.0.1]:8080", "[::ffff:127.0.0.1]:8080" },
		{ "[FE80:0::1%3]:443", "[fe80::1%3]:443" },
		{ "[fe80::1%0]:1", "[fe80::1]:1" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		st_sockaddr sa;
		char buf[ST_SOCKADDR_STRLEN];
		int n;

		assert_int_equal(st_sockaddr_parse(cases[i].in, &sa), 0);
		n = st_sockaddr_format(&sa, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].out);
		assert_int_equal(n, (int)strlen(cases[i].out));
	}
}

static void test_sockaddr_helpers(void **state)
{
	char buf[ST_SOCKADDR_STRLEN];
	st_addr ll;
	st_sockaddr sa;

	(void)state;
	sa = st_sockaddr_in(0x7f000001, 80);
	assert_int_equal(sa.family, ST_AF_INET);
	assert_int_equal(sa.flowinfo, 0);
	assert_int_equal(st_sockaddr_format(&sa, buf, sizeof(buf)), 12);
	assert_string_equal(buf, "127.0.0.1:80");

	assert_int_equal(st_addr_parse("fe80::1", &ll, NULL), 0);
	sa = st_sockaddr_in6(&ll, 443, 3);
	assert_int_equal(sa.family, ST_AF_INET6);
	assert_int_equal(sa.scope_id, 3);
	st_sockaddr_format(&sa, buf, sizeof(buf));
	assert_string_equal(buf, "[fe80::1%3]:443");

	/* An AF_INET6 sockaddr holding a mapped address stays bracketed. */
	sa = st_sockaddr_in6(&(st_addr){ .b = { [10] = 0xff, [11] = 0xff, [12] = 10, [15] = 1 } },
			     9, 0);
	st_sockaddr_format(&sa, buf, sizeof(buf));
	assert_string_equal(buf, "[::ffff:10.0.0.1]:9");

	sa.family = 99;
	assert_int_equal(st_sockaddr_format(&sa, buf, sizeof(buf)), -EINVAL);
}

static void test_classification(void **state)
{
	static const struct {
		const char *text;
		bool mapped, loopback, multicast, scope;
	} cases[] = {
		{ "127.0.0.1", true, true, false, false },
		{ "127.255.1.2", true, true, false, false },
		{ "128.0.0.1", true, false, false, false },
		{ "126.255.255.255", true, false, false, false },
		{ "224.0.0.1", true, false, true, false },
		{ "239.255.255.255", true, false, true, false },
		{ "240.0.0.1", true, false, false, false },
		{ "223.255.255.255", true, false, false, false },
		{ "::1", false, true, false, false },
		{ "::2", false, false, false, false },
		{ "::ffff:127.0.0.1", true, true, false, false },
		{ "::ffff:224.0.0.5", true, false, true, false },
		{ "::fffe:127.0.0.1", false, false, false, false },
		{ "0:0:0:0:1:ffff:127.0.0.1", false, false, false, false },
		{ "ff02::1", false, false, true, true },
		{ "ff01::1", false, false, true, true },
		{ "ff12::1", false, false, true, true },
		{ "ff05::1", false, false, true, false },
		{ "ff0e::1", false, false, true, false },
		{ "fe80::1", false, false, false, true },
		{ "febf:ffff::1", false, false, false, true },
		{ "fec0::1", false, false, false, false },
		{ "fe7f::1", false, false, false, false },
		{ "2001:db8::1", false, false, false, false },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		st_addr a;

		assert_int_equal(st_addr_parse(cases[i].text, &a, NULL), 0);
		if (st_addr_is_v4mapped(&a) != cases[i].mapped ||
		    st_addr_is_loopback(&a) != cases[i].loopback ||
		    st_addr_is_multicast(&a) != cases[i].multicast ||
		    st_addr_needs_scope(&a) != cases[i].scope)
			fail_msg("wrong classification of %s", cases[i].text);
	}
}

static void test_any_and_equal(void **state)
{
	st_addr any6 = st_addr_any6(), any4 = st_addr_v4(0), a, b;

	(void)state;
	assert_true(st_addr_is_any6(&any6));
	assert_false(st_addr_is_any4(&any6));
	assert_true(st_addr_is_any4(&any4));
	assert_false(st_addr_is_any6(&any4));
	assert_false(st_addr_equal(&any4, &any6));

	/* Rule A2: the mapped and the AF_INET spelling are the same bytes. */
	assert_int_equal(st_addr_parse("::ffff:10.1.2.3", &a, NULL), 0);
	assert_int_equal(st_addr_parse("10.1.2.3", &b, NULL), 0);
	assert_true(st_addr_equal(&a, &b));
	b = st_addr_v4(0x0a010204);
	assert_false(st_addr_equal(&a, &b));
	assert_false(st_addr_is_v4_limited_broadcast(&b));

	for (uint32_t v = 1, i = 0; i < 100000; v = v * 2654435761u + 12345, i++) {
		st_addr m = st_addr_v4(v);

		if (st_addr_get_v4(&m) != v || !st_addr_is_v4mapped(&m))
			fail_msg("v4 round trip of %08x", (unsigned)v);
	}
}

/*
 * Random addresses whose groups are mostly zero (so that runs of every
 * length and position occur) must print canonically and parse back to
 * the same bytes.  Canonical means: no "0000"-style padding, no upper
 * case, at most one "::", never a zero group beside a "::".
 */
static void test_v6_round_trip_random(void **state)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;

	(void)state;
	for (int iter = 0; iter < 20000; iter++) {
		st_addr a, back;
		char buf[ST_ADDR_STRLEN];
		int family;

		for (int g = 0; g < 8; g++) {
			uint16_t v;

			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			v = (x & 3) == 0 ? (uint16_t)(x >> 20) : 0;
			if ((x & 0x30) == 0x10)
				v = (uint16_t)((x >> 40) & 0xf);
			a.b[2 * g] = (uint8_t)(v >> 8);
			a.b[2 * g + 1] = (uint8_t)v;
		}
		if (iter % 7 == 0) { /* sprinkle in mapped addresses */
			memset(a.b, 0, 10);
			a.b[10] = a.b[11] = 0xff;
		}
		st_addr_format(&a, ST_AF_INET6, buf, sizeof(buf));
		if (st_addr_parse(buf, &back, &family) != 0 || family != ST_AF_INET6 ||
		    !st_addr_equal(&a, &back))
			fail_msg("round trip failed for \"%s\"", buf);
		/* A zero group beside "::" means the run was not maximal. */
		if (strstr(buf, ":::") || strstr(buf, "::0:") || strstr(buf, ":0::") ||
		    strncmp(buf, "0::", 3) == 0 || strpbrk(buf, "ABCDEF"))
			fail_msg("not canonical: \"%s\"", buf);
		if (strstr(buf, "::") && strstr(strstr(buf, "::") + 1, "::"))
			fail_msg("two '::' in \"%s\"", buf);
		for (const char *p = buf; *p; p++)
			if (*p == '0' && (p == buf || p[-1] == ':') && p[1] != ':' && p[1] != '\0' &&
			    p[1] != '.')
				fail_msg("leading zero in \"%s\"", buf);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v4_parse),
		cmocka_unit_test(test_v4_reject),
		cmocka_unit_test(test_v6_parse_bytes),
		cmocka_unit_test(test_v6_canonical),
		cmocka_unit_test(test_v6_reject),
		cmocka_unit_test(test_format_v4_and_errors),
		cmocka_unit_test(test_sockaddr_parse),
		cmocka_unit_test(test_sockaddr_reject),
		cmocka_unit_test(test_sockaddr_round_trip),
		cmocka_unit_test(test_sockaddr_helpers),
		cmocka_unit_test(test_classification),
		cmocka_unit_test(test_any_and_equal),
		cmocka_unit_test(test_v6_round_trip_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
