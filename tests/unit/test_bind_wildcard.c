/*
 * test_bind_wildcard.c - the 132 cases of the kernel selftest
 * tools/testing/selftests/net/bind_wildcard.c (linux-semantics.md 13.1):
 * 44 variants x {plain, reuseaddr, reuseport}.
 *
 * Procedure per case, as the selftest does it: up to 8 TCP sockets are
 * bound in order, all to the same port.  s0 binds the variant's first
 * address with port 0 (default sysctls), the port it got is read back with
 * getsockname, then s1 (the variant's second address) and the fixed
 * addresses 0.0.0.0, 127.0.0.1, ::, ::1, ::ffff:0.0.0.0, ::ffff:127.0.0.1
 * bind that port.  RA (reuseaddr test) or RP (reuseport test) is set on s0
 * and s1 only, V6ONLY only where the variant marks it.  A socket whose
 * bind fails is closed at once and not kept.  Every socket is TCP, owned
 * by uid 1000, and every bind is made with creds {1000, no caps}.
 *
 * Expected strings: one character per bind, '.' = success, 'X' =
 * -EADDRINUSE.  The reuseaddr and reuseport tests share one column.
 */
#include "helpers.h"

enum { WC_MODE_PLAIN, WC_MODE_REUSEADDR, WC_MODE_REUSEPORT, WC_MODES };
static const char *const wc_mode_name[WC_MODES] = { "plain", "reuseaddr", "reuseport" };

struct wc_variant {
	int num;              /* row number in section 13.1 */
	const char *addr0;    /* s0 */
	bool v6only0;
	const char *addr1;    /* s1 */
	bool v6only1;
	const char *plain;    /* expected, test "plain" */
	const char *reuse;    /* expected, tests "reuseaddr" and "reuseport" */
};

#define V4ANY "0.0.0.0"
#define V4LO "127.0.0.1"
#define V6ANY "::"
#define V6LO "::1"
#define MAPANY "::ffff:0.0.0.0"
#define MAPLO "::ffff:127.0.0.1"

/* Transcribed from linux-semantics.md section 13.1. */
static const struct wc_variant wc_variants[] = {
	{  1, V4ANY,  false, V4LO,   false, ".XXXX.XX", "..XXX.XX" },
	{  2, V4LO,   false, V4ANY,  false, ".XXXX.XX", "..XXX.XX" },
	{  3, V4ANY,  false, V6ANY,  false, ".XXXX.XX", "..XXXXXX" },
	{  4, V4ANY,  false, V6ANY,  true,  "..XXXXXX", "..XXXXXX" },
	{  5, V4ANY,  false, V6LO,   false, "..XXXXXX", "..XXXXXX" },
	{  6, V4ANY,  false, MAPANY, false, ".XXXX.XX", "..XXX.XX" },
	{  7, V4ANY,  false, MAPLO,  false, ".XXXX.XX", "..XXX.XX" },
	{  8, V4LO,   false, V6ANY,  false, ".XXXX.XX", "..XXXXXX" },
	{  9, V4LO,   false, V6ANY,  true,  "..XXXXXX", "..XXXXXX" },
	{ 10, V4LO,   false, V6LO,   false, "..XXXXXX", "..XXXXXX" },
	{ 11, V4LO,   false, MAPANY, false, ".XXXX.XX", "..XXX.XX" },
	{ 12, V4LO,   false, MAPLO,  false, ".XXXX.XX", "..XXX.XX" },
	{ 13, V6ANY,  false, V4ANY,  false, ".XXXXXXX", "..XXXXXX" },
	{ 14, V6ANY,  true,  V4ANY,  false, "..XXXXXX", "..XXXXXX" },
	{ 15, V6ANY,  false, V4LO,   false, ".XXXXXXX", "..XXXXXX" },
	{ 16, V6ANY,  true,  V4LO,   false, "..XXXXXX", "..XXXXXX" },
	{ 17, V6LO,   false, V4ANY,  false, "..XXXXXX", "..XXXXXX" },
	{ 18, V6LO,   false, V4LO,   false, "..XXXXXX", "..XXXXXX" },
	{ 19, MAPANY, false, V4ANY,  false, ".XXXX.XX", "..XXX.XX" },
	{ 20, MAPANY, false, V4LO,   false, ".XXXX.XX", "..XXX.XX" },
	{ 21, MAPLO,  false, V4ANY,  false, ".XXXX.XX", "..XXX.XX" },
	{ 22, MAPLO,  false, V4LO,   false, ".XXXX.XX", "..XXX.XX" },
	{ 23, V6ANY,  false, V6ANY,  false, ".XXXXXXX", "..XXXXXX" },
	{ 24, V6ANY,  true,  V6ANY,  false, ".X.XXXXX", "..XXXXXX" },
	{ 25, V6ANY,  false, V6ANY,  true,  ".XXXXXXX", "..XXXXXX" },
	{ 26, V6ANY,  true,  V6ANY,  true,  ".X.XXXXX", "...XXXXX" },
	{ 27, V6ANY,  false, V6LO,   false, ".XXXXXXX", "..XXXXXX" },
	{ 28, V6ANY,  true,  V6LO,   false, ".X.XXXXX", "...XXXXX" },
	{ 29, V6ANY,  false, MAPANY, false, ".XXXXXXX", "..XXXXXX" },
	{ 30, V6ANY,  true,  MAPANY, false, "..XXXXXX", "..XXXXXX" },
	{ 31, V6ANY,  false, MAPLO,  false, ".XXXXXXX", "..XXXXXX" },
	{ 32, V6ANY,  true,  MAPLO,  false, "..XXXXXX", "..XXXXXX" },
	{ 33, V6LO,   false, V6ANY,  false, ".X.XXXXX", "..XXXXXX" },
	{ 34, V6LO,   false, V6ANY,  true,  ".X.XXXXX", "...XXXXX" },
	{ 35, V6LO,   false, MAPANY, false, "..XXXXXX", "..XXXXXX" },
	{ 36, V6LO,   false, MAPLO,  false, "..XXXXXX", "..XXXXXX" },
	{ 37, MAPANY, false, V6ANY,  false, ".XXXX.XX", "..XXXXXX" },
	{ 38, MAPANY, false, V6ANY,  true,  "..XXXXXX", "..XXXXXX" },
	{ 39, MAPANY, false, V6LO,   false, "..XXXXXX", "..XXXXXX" },
	{ 40, MAPANY, false, MAPLO,  false, ".XXXX.XX", "..XXX.XX" },
	{ 41, MAPLO,  false, V6ANY,  false, ".XXXX.XX", "..XXXXXX" },
	{ 42, MAPLO,  false, V6ANY,  true,  "..XXXXXX", "..XXXXXX" },
	{ 43, MAPLO,  false, V6LO,   false, "..XXXXXX", "..XXXXXX" },
	{ 44, MAPLO,  false, MAPANY, false, ".XXXX.XX", "..XXX.XX" },
};

enum { WC_NVARIANTS = sizeof wc_variants / sizeof wc_variants[0], WC_NSOCKS = 8 };

/* Sockets s2..s7 of every case. */
static const char *const wc_fixed[WC_NSOCKS - 2] = { V4ANY, V4LO, V6ANY, V6LO, MAPANY, MAPLO };

struct wc_case {
	const struct wc_variant *v;
	int mode;
	char name[128];
};

static struct wc_case wc_cases[WC_NVARIANTS * WC_MODES];

static void wc_case_name(const struct wc_variant *v, int mode, char *buf, size_t len)
{
	snprintf(buf, len, "bind_wildcard #%02d %s%s + %s%s [%s]", v->num, v->addr0,
		 v->v6only0 ? " (v6only)" : "", v->addr1, v->v6only1 ? " (v6only)" : "",
		 wc_mode_name[mode]);
}

static void test_wildcard_case(void **state)
{
	const struct wc_case *c = *state;
	const struct wc_variant *v = c->v;
	const char *want = c->mode == WC_MODE_PLAIN ? v->plain : v->reuse;
	char got[WC_NSOCKS + 1];
	char detail[WC_NSOCKS][200];
	char ep[96];
	unsigned port = 0;
	bool mismatch = false;
	h_env e;

	h_env_init(&e, WC_NSOCKS, c->name);
	assert_int_equal((int)strlen(want), WC_NSOCKS);

	for (int i = 0; i < WC_NSOCKS; i++) {
		const char *addr = i == 0 ? v->addr0 : i == 1 ? v->addr1 : wc_fixed[i - 2];
		bool v6only = (i == 0 && v->v6only0) || (i == 1 && v->v6only1);
		int family = h_addr_family(addr);
		unsigned flags = 0;
		st_sock *sk;
		int rc;

		h_ctx(&e, "%s, s%d", c->name, i);
		sk = h_sock(&e, ST_TCP, family, H_UID);
		if (v6only)
			flags |= H_V6ONLY;
		if (i < 2 && c->mode == WC_MODE_REUSEADDR)
			flags |= H_RA;
		if (i < 2 && c->mode == WC_MODE_REUSEPORT)
			flags |= H_RP;
		h_flags(&e, sk, flags);

		h_ep(ep, sizeof ep, addr, port);
		rc = h_bind_cred(&e, sk, ep, H_UID, 0);

		if (i == 0) {
			/* s0: bind(addr, 0) must work and pick an ephemeral port. */
			H_ASSERT(&e, rc == 0, "s0 bind(%s) with flags %s returned %s, expected 0",
				 ep, h_flags_name(flags), h_rc(rc));
			port = h_port(sk);
			H_ASSERT(&e, port >= 32768 && port <= 60999,
				 "s0 bind(%s) got port %u, expected one of the default range "
				 "32768-60999", ep, port);
		}

		got[i] = rc == 0 ? '.' : rc == -EADDRINUSE ? 'X' : '?';
		snprintf(detail[i], sizeof detail[i], "s%d %s%s flags %s -> %s", i, ep,
			 v6only ? " (v6only)" : "", h_flags_name(flags), h_rc(rc));
		if (got[i] != want[i])
			mismatch = true;

		if (rc == 0) {
			/* A successful bind shows the requested address and port. */
			H_ASSERT(&e, h_port(sk) == port,
				 "s%d bound to %s but getsockname shows port %u", i, ep,
				 (unsigned)h_port(sk));
		} else {
			h_close(&e, sk);
		}
	}
	got[WC_NSOCKS] = '\0';

	if (mismatch) {
		char msg[WC_NSOCKS * 210 + 200];
		size_t off = 0;
		off += (size_t)snprintf(msg + off, sizeof msg - off,
					"results \"%s\", expected \"%s\" (port %u):", got, want, port);
		for (int i = 0; i < WC_NSOCKS && off < sizeof msg; i++)
			off += (size_t)snprintf(msg + off, sizeof msg - off, "\n      %s%s",
						detail[i], got[i] != want[i] ? "   <-- wrong" : "");
		h_ctx(&e, "%s", c->name);
		e.last[0] = '\0';
		e.ex_valid = false;
		H_FAIL(&e, "%s", msg);
	}

	h_ctx(&e, "%s, teardown", c->name);
	h_env_done(&e);
}

int main(void)
{
	h_tests t = { 0 };
	int n = 0;

	/* Sanity of the transcription itself. */
	if (WC_NVARIANTS != 44) {
		fprintf(stderr, "bind_wildcard table has %d variants, expected 44\n",
			(int)WC_NVARIANTS);
		return 1;
	}
	for (int m = 0; m < WC_MODES; m++) {
		for (int i = 0; i < WC_NVARIANTS; i++) {
			struct wc_case *c = &wc_cases[n++];
			c->v = &wc_variants[i];
			c->mode = m;
			wc_case_name(c->v, m, c->name, sizeof c->name);
			h_tests_add(&t, c->name, test_wildcard_case, c);
		}
	}
	return h_tests_run(&t, "bind_wildcard (132 cases)");
}
