/*
 * test_pcap.c - the capture writer (src/sim/pcap.h).
 *
 * Two independent readers check the file: this test's own parser of the
 * classic format (header fields, record headers, nanosecond timestamps,
 * truncation at the snaplen), and Wireshark's tshark, which must dissect
 * every packet encoded by src/stack/wire.c with the right TCP/UDP/ICMP
 * fields and find no checksum error with checksum validation switched on.
 * Without tshark (apt-get install tshark) the tshark test is skipped with
 * a message; the rest always runs.
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
#include <unistd.h>

#include "socktab/addr.h"
#include "sim/pcap.h"
#include "stack/wire.h"

static char tmpdir[64];

static int setup(void **state)
{
	const char *base = getenv("TMPDIR");

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "%s/socktab-pcap-XXXXXX", base && *base ? base : "/tmp");
	if (strlen(tmpdir) >= sizeof(tmpdir) - 1 || !mkdtemp(tmpdir)) {
		snprintf(tmpdir, sizeof(tmpdir), "/tmp/socktab-pcap-XXXXXX");
		if (!mkdtemp(tmpdir))
			return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void path_in_tmp(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	b = malloc((size_t)n + 1);
	assert_non_null(b);
	assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return b;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static st_addr addr(const char *text)
{
	st_addr a;
	int fam;

	assert_int_equal(st_addr_parse(text, &a, &fam), 0);
	return a;
}

static stk_pkt pkt(const char *src, const char *dst, uint8_t proto)
{
	stk_pkt p;

	memset(&p, 0, sizeof(p));
	p.family = strchr(src, ':') ? ST_AF_INET6 : ST_AF_INET;
	p.proto = proto;
	p.src = addr(src);
	p.dst = addr(dst);
	p.wscale = 0xff;
	return p;
}

/* The packets of the tshark test; their fields are checked in test_tshark. */
enum { NPKT = 9 };

static size_t build(int i, uint8_t *buf, size_t cap)
{
	stk_pkt p;
	int n;

	switch (i) {
	case 0:
		p = pkt("192.0.2.1", "192.0.2.2", STK_IPPROTO_TCP);
		p.sport = 40000, p.dport = 8080, p.seq = 1000, p.flags = STK_TH_SYN;
		p.window = 64240, p.mss = 1460, p.sack_ok = true, p.wscale = 7;
		p.has_ts = true, p.tsval = 111;
		break;
	case 1:
		p = pkt("192.0.2.2", "192.0.2.1", STK_IPPROTO_TCP);
		p.sport = 8080, p.dport = 40000, p.seq = 5000, p.ack = 1001;
		p.flags = STK_TH_SYN | STK_TH_ACK, p.window = 65160, p.mss = 1460, p.sack_ok = true;
		p.wscale = 7, p.has_ts = true, p.tsval = 222, p.tsecr = 111;
		break;
	case 2:
		p = pkt("192.0.2.1", "192.0.2.2", STK_IPPROTO_TCP);
		p.sport = 40000, p.dport = 8080, p.seq = 1001, p.ack = 5001;
		p.flags = STK_TH_PSH | STK_TH_ACK, p.window = 502, p.has_ts = true;
		p.tsval = 112, p.tsecr = 222;
		p.payload = (const uint8_t *)"hello", p.len = 5;
		break;
	case 3:
		/* Ports nothing dissects (6000 would be X11). */
		p = pkt("192.0.2.1", "192.0.2.2", STK_IPPROTO_UDP);
		p.sport = 34000, p.dport = 35000;
		p.payload = (const uint8_t *)"abc", p.len = 3;
		break;
	case 4:
		p = pkt("2001:db8::1", "2001:db8::2", STK_IPPROTO_UDP);
		p.sport = 34000, p.dport = 35000;
		p.payload = (const uint8_t *)"xyz!", p.len = 4;
		break;
	case 5:
		p = pkt("192.0.2.2", "192.0.2.1", STK_IPPROTO_ICMP);
		p.icmp_type = 3, p.icmp_code = 3;
		p.inner.family = ST_AF_INET, p.inner.proto = STK_IPPROTO_UDP;
		p.inner.src = addr("192.0.2.1"), p.inner.dst = addr("192.0.2.2");
		p.inner.sport = 5000, p.inner.dport = 6001;
		break;
	case 6:
		p = pkt("2001:db8::2", "2001:db8::1", STK_IPPROTO_ICMPV6);
		p.icmp_type = 1, p.icmp_code = 4;
		p.inner.family = ST_AF_INET6, p.inner.proto = STK_IPPROTO_UDP;
		p.inner.src = addr("2001:db8::1"), p.inner.dst = addr("2001:db8::2");
		p.inner.sport = 5000, p.inner.dport = 6001;
		break;
	case 7:
		p = pkt("2001:db8::2", "2001:db8::1", STK_IPPROTO_TCP);
		p.sport = 9, p.dport = 40001, p.ack = 77, p.flags = STK_TH_RST | STK_TH_ACK;
		break;
	case 8:
		p = pkt("192.0.2.1", "192.0.2.2", STK_IPPROTO_ICMP);
		p.icmp_type = 8;
		p.payload = (const uint8_t *)"\x12\x34\x00\x01ping", p.len = 8;
		break;
	default:
		fail();
	}
	n = stk_wire_encode(&p, buf, cap);
	assert_true(n > 0);
	return (size_t)n;
}

/* Time of packet i: crosses a second boundary, nanoseconds significant. */
static uint64_t when(int i)
{
	return 1700000000ull * 1000000000ull + 999999990ull + (uint64_t)i * 3;
}

static void write_capture(const char *path)
{
	sim_pcap *pc = NULL;
	uint8_t buf[256];

	assert_int_equal(sim_pcap_open(path, &pc), 0);
	assert_non_null(pc);
	for (int i = 0; i < NPKT; i++) {
		size_t n = build(i, buf, sizeof(buf));

		assert_int_equal(sim_pcap_write(pc, when(i), buf, n), 0);
	}
	assert_int_equal(sim_pcap_close(pc), 0);
}

/* Reads the file back with this test's own parser. */
static void test_file_format(void **state)
{
	char path[128];
	uint8_t *f, pk[256];
	size_t len, off;

	(void)state;
	path_in_tmp(path, sizeof(path), "format.pcap");
	write_capture(path);
	f = slurp(path, &len);
	assert_true(len >= 24);
	assert_int_equal(le32(f), 0xa1b23c4du);
	assert_int_equal(le16(f + 4), 2);
	assert_int_equal(le16(f + 6), 4);
	assert_int_equal(le32(f + 8), 0);
	assert_int_equal(le32(f + 12), 0);
	assert_int_equal(le32(f + 16), 65535);
	assert_int_equal(le32(f + 20), 101);
	off = 24;
	for (int i = 0; i < NPKT; i++) {
		size_t n = build(i, pk, sizeof(pk));
		uint64_t t = when(i);

		assert_true(off + 16 <= len);
		assert_int_equal(le32(f + off), (uint32_t)(t / 1000000000u));
		assert_int_equal(le32(f + off + 4), (uint32_t)(t % 1000000000u));
		assert_int_equal(le32(f + off + 8), n);
		assert_int_equal(le32(f + off + 12), n);
		assert_true(off + 16 + n <= len);
		assert_memory_equal(f + off + 16, pk, n);
		off += 16 + n;
	}
	assert_int_equal(off, len);
	free(f);
}

/* Over the snaplen: stored cut to 65535 with the original length. */
static void test_snaplen(void **state)
{
	char path[128];
	sim_pcap *pc;
	static uint8_t big[STK_WIRE_MAX];
	uint8_t *f;
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 13);
	path_in_tmp(path, sizeof(path), "snap.pcap");
	assert_int_equal(sim_pcap_open(path, &pc), 0);
	assert_int_equal(sim_pcap_write(pc, 5, big, sizeof(big)), 0);
	assert_int_equal(sim_pcap_write(pc, 6, big, 0), 0);
	assert_int_equal(sim_pcap_write(pc, 7, NULL, 0), 0);
	assert_int_equal(sim_pcap_close(pc), 0);
	f = slurp(path, &len);
	assert_int_equal(len, 24 + 16 + 65535 + 16 + 16);
	assert_int_equal(le32(f + 24), 0);
	assert_int_equal(le32(f + 28), 5);
	assert_int_equal(le32(f + 32), 65535);
	assert_int_equal(le32(f + 36), STK_WIRE_MAX);
	assert_memory_equal(f + 40, big, 65535);
	assert_int_equal(le32(f + 40 + 65535 + 8), 0);
	assert_int_equal(le32(f + 40 + 65535 + 4), 6);
	free(f);
}

static void test_errors(void **state)
{
	char path[128];
	sim_pcap *pc = (sim_pcap *)&pc, *keep = pc;
	uint8_t b[4] = { 0 };

	(void)state;
	assert_int_equal(sim_pcap_open(NULL, &pc), -EINVAL);
	path_in_tmp(path, sizeof(path), "x.pcap");
	assert_int_equal(sim_pcap_open(path, NULL), -EINVAL);
	path_in_tmp(path, sizeof(path), "no/such/dir/x.pcap");
	assert_int_equal(sim_pcap_open(path, &pc), -ENOENT);
	assert_ptr_equal(pc, keep);                     /* untouched on failure */
	assert_int_equal(sim_pcap_open(tmpdir, &pc), -EISDIR);
	assert_int_equal(sim_pcap_close(NULL), 0);
	assert_int_equal(sim_pcap_write(NULL, 0, b, 4), -EINVAL);

	path_in_tmp(path, sizeof(path), "err.pcap");
	assert_int_equal(sim_pcap_open(path, &pc), 0);
	assert_int_equal(sim_pcap_write(pc, 0, NULL, 4), -EINVAL);
	/* 2^32 seconds does not fit the record header. */
	assert_int_equal(sim_pcap_write(pc, 4294967296ull * 1000000000ull, b, 4), -ERANGE);
	assert_int_equal(sim_pcap_write(pc, 4294967295ull * 1000000000ull + 999999999ull, b, 4), 0);
	assert_int_equal(sim_pcap_close(pc), 0);

	/* A full disk: the error surfaces by close at the latest, and sticks. */
	if (access("/dev/full", W_OK) == 0) {
		static uint8_t big[60000];
		int rc = 0;

		assert_int_equal(sim_pcap_open("/dev/full", &pc), 0);
		for (int i = 0; i < 8 && rc == 0; i++)
			rc = sim_pcap_write(pc, 0, big, sizeof(big));
		assert_int_equal(rc, -ENOSPC);          /* stdio's buffer is smaller */
		assert_int_equal(sim_pcap_write(pc, 0, b, 4), -ENOSPC);
		assert_int_equal(sim_pcap_close(pc), -ENOSPC);

		assert_int_equal(sim_pcap_open("/dev/full", &pc), 0);
		assert_int_equal(sim_pcap_write(pc, 0, b, 4), 0);  /* buffered */
		assert_int_equal(sim_pcap_close(pc), -ENOSPC);
	}
}

/* ---- tshark ------------------------------------------------------------- */

static bool have_tshark(void)
{
	return system("command -v tshark >/dev/null 2>&1") == 0;
}

/* Runs a command and returns its stdout (malloc'd, NUL-terminated). */
static char *run(const char *cmd)
{
	FILE *p = popen(cmd, "r");
	size_t cap = 1 << 16, len = 0, n;
	char *out = malloc(cap);
	int st;

	assert_non_null(p);
	assert_non_null(out);
	while ((n = fread(out + len, 1, cap - len - 1, p)) > 0) {
		len += n;
		if (cap - len - 1 == 0) {
			cap *= 2;
			out = realloc(out, cap);
			assert_non_null(out);
		}
	}
	out[len] = '\0';
	st = pclose(p);
	if (st != 0)
		fail_msg("command failed (%d): %s", st, cmd);
	return out;
}

/*
 * What tshark must print for each packet: `tshark -T fields` with the
 * fields below, joined by '|'.  Checksum statuses: 1 = good (0 would be
 * bad, 2 unverified, 3 not present).  A field found twice (ICMP errors: the
 * outer and the quoted header) is printed comma-separated, quoted packet
 * second; the quoted UDP header carries checksum 0, hence status 3.
 */
enum {
	F_TIME, F_IP_SRC, F_IP6_SRC, F_IP_DST, F_IP6_DST,
	F_TCP_SPORT, F_TCP_DPORT, F_TCP_SEQ, F_TCP_ACK, F_TCP_FLAGS, F_TCP_WIN,
	F_MSS, F_WSCALE, F_SACK_PERM, F_TSVAL, F_TSECR, F_TCP_LEN,
	F_UDP_SPORT, F_UDP_DPORT, F_UDP_LEN,
	F_ICMP_TYPE, F_ICMP_CODE, F_ICMP6_TYPE, F_ICMP6_CODE,
	F_IP_CSUM, F_TCP_CSUM, F_UDP_CSUM, F_ICMP_CSUM, F_ICMP6_CSUM,
	F_COUNT
};

static const char *const FIELD_NAMES[F_COUNT] = {
	"frame.time_epoch", "ip.src", "ipv6.src", "ip.dst", "ipv6.dst",
	"tcp.srcport", "tcp.dstport", "tcp.seq", "tcp.ack", "tcp.flags", "tcp.window_size_value",
	"tcp.options.mss_val", "tcp.options.wscale.shift", "tcp.options.sack_perm",
	"tcp.options.timestamp.tsval", "tcp.options.timestamp.tsecr", "tcp.len",
	"udp.srcport", "udp.dstport", "udp.length",
	"icmp.type", "icmp.code", "icmpv6.type", "icmpv6.code",
	"ip.checksum.status", "tcp.checksum.status", "udp.checksum.status",
	"icmp.checksum.status", "icmpv6.checksum.status",
};

/* Fields not named are empty (the protocol is not in the packet). */
static const char *const WANT[NPKT][F_COUNT] = {
	{ [F_TIME] = "1700000000.999999990", [F_IP_SRC] = "192.0.2.1", [F_IP_DST] = "192.0.2.2",
	  [F_TCP_SPORT] = "40000", [F_TCP_DPORT] = "8080", [F_TCP_SEQ] = "1000", [F_TCP_ACK] = "0",
	  [F_TCP_FLAGS] = "0x0002", [F_TCP_WIN] = "64240", [F_MSS] = "1460", [F_WSCALE] = "7",
	  [F_SACK_PERM] = "0402" /* the option's bytes */, [F_TSVAL] = "111", [F_TSECR] = "0",
	  [F_TCP_LEN] = "0", [F_IP_CSUM] = "1", [F_TCP_CSUM] = "1" },
	{ [F_TIME] = "1700000000.999999993", [F_IP_SRC] = "192.0.2.2", [F_IP_DST] = "192.0.2.1",
	  [F_TCP_SPORT] = "8080", [F_TCP_DPORT] = "40000", [F_TCP_SEQ] = "5000",
	  [F_TCP_ACK] = "1001", [F_TCP_FLAGS] = "0x0012", [F_TCP_WIN] = "65160", [F_MSS] = "1460",
	  [F_WSCALE] = "7", [F_SACK_PERM] = "0402", [F_TSVAL] = "222", [F_TSECR] = "111",
	  [F_TCP_LEN] = "0", [F_IP_CSUM] = "1", [F_TCP_CSUM] = "1" },
	{ [F_TIME] = "1700000000.999999996", [F_IP_SRC] = "192.0.2.1", [F_IP_DST] = "192.0.2.2",
	  [F_TCP_SPORT] = "40000", [F_TCP_DPORT] = "8080", [F_TCP_SEQ] = "1001",
	  [F_TCP_ACK] = "5001", [F_TCP_FLAGS] = "0x0018", [F_TCP_WIN] = "502", [F_TSVAL] = "112",
	  [F_TSECR] = "222", [F_TCP_LEN] = "5", [F_IP_CSUM] = "1", [F_TCP_CSUM] = "1" },
	{ [F_TIME] = "1700000000.999999999", [F_IP_SRC] = "192.0.2.1", [F_IP_DST] = "192.0.2.2",
	  [F_UDP_SPORT] = "34000", [F_UDP_DPORT] = "35000", [F_UDP_LEN] = "11",
	  [F_IP_CSUM] = "1", [F_UDP_CSUM] = "1" },
	{ [F_TIME] = "1700000001.000000002", [F_IP6_SRC] = "2001:db8::1",
	  [F_IP6_DST] = "2001:db8::2", [F_UDP_SPORT] = "34000", [F_UDP_DPORT] = "35000",
	  [F_UDP_LEN] = "12", [F_UDP_CSUM] = "1" },
	{ [F_TIME] = "1700000001.000000005", [F_IP_SRC] = "192.0.2.2,192.0.2.1",
	  [F_IP_DST] = "192.0.2.1,192.0.2.2", [F_UDP_SPORT] = "5000", [F_UDP_DPORT] = "6001",
	  [F_UDP_LEN] = "8", [F_ICMP_TYPE] = "3", [F_ICMP_CODE] = "3", [F_IP_CSUM] = "1,1",
	  [F_UDP_CSUM] = "3", [F_ICMP_CSUM] = "1" },
	{ [F_TIME] = "1700000001.000000008", [F_IP6_SRC] = "2001:db8::2,2001:db8::1",
	  [F_IP6_DST] = "2001:db8::1,2001:db8::2", [F_UDP_SPORT] = "5000", [F_UDP_DPORT] = "6001",
	  [F_UDP_LEN] = "8", [F_ICMP6_TYPE] = "1", [F_ICMP6_CODE] = "4", [F_UDP_CSUM] = "3",
	  [F_ICMP6_CSUM] = "1" },
	{ [F_TIME] = "1700000001.000000011", [F_IP6_SRC] = "2001:db8::2",
	  [F_IP6_DST] = "2001:db8::1", [F_TCP_SPORT] = "9", [F_TCP_DPORT] = "40001",
	  [F_TCP_SEQ] = "0", [F_TCP_ACK] = "77", [F_TCP_FLAGS] = "0x0014", [F_TCP_WIN] = "0",
	  [F_TCP_LEN] = "0", [F_TCP_CSUM] = "1" },
	{ [F_TIME] = "1700000001.000000014", [F_IP_SRC] = "192.0.2.1", [F_IP_DST] = "192.0.2.2",
	  [F_ICMP_TYPE] = "8", [F_ICMP_CODE] = "0", [F_IP_CSUM] = "1", [F_ICMP_CSUM] = "1" },
};

static void want_line(int i, char *buf, size_t len)
{
	size_t used = 0;

	for (int f = 0; f < F_COUNT; f++) {
		int n = snprintf(buf + used, len - used, "%s%s", f ? "|" : "",
				 WANT[i][f] ? WANT[i][f] : "");

		assert_true(n >= 0 && (size_t)n < len - used);
		used += (size_t)n;
	}
}

#define TSHARK_PREFS "-o tcp.check_checksum:TRUE -o udp.check_checksum:TRUE " \
		     "-o ip.check_checksum:TRUE -o tcp.relative_sequence_numbers:FALSE"

static void test_tshark(void **state)
{
	char path[128], cmd[2048];
	char *out, *line, *save = NULL;
	size_t used;
	int i = 0;

	(void)state;
	if (!have_tshark()) {
		print_message("SKIP: tshark not found (apt-get install tshark); "
			      "the capture was not checked by Wireshark\n");
		skip();
	}
	path_in_tmp(path, sizeof(path), "tshark.pcap");
	write_capture(path);

	used = (size_t)snprintf(cmd, sizeof(cmd), "tshark -n -r '%s' " TSHARK_PREFS
				" -T fields -E separator='|'", path);
	for (int f = 0; f < F_COUNT; f++)
		used += (size_t)snprintf(cmd + used, sizeof(cmd) - used, " -e %s", FIELD_NAMES[f]);
	assert_true(used + 20 < sizeof(cmd));
	snprintf(cmd + used, sizeof(cmd) - used, " 2>/dev/null");
	out = run(cmd);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save), i++) {
		char want[1024];

		if (i >= NPKT)
			fail_msg("tshark printed an extra line: %s", line);
		want_line(i, want, sizeof(want));
		if (strcmp(line, want) != 0)
			fail_msg("packet %d:\n  tshark: %s\n  wanted: %s", i + 1, line, want);
	}
	assert_int_equal(i, NPKT);
	free(out);

	/* The full dissection: no checksum complaint, nothing malformed. */
	snprintf(cmd, sizeof(cmd), "tshark -n -r '%s' " TSHARK_PREFS " -V 2>/dev/null", path);
	out = run(cmd);
	assert_non_null(strstr(out, "Internet Control Message Protocol v6"));
	assert_non_null(strstr(out, "Type: 3 (Destination unreachable)\n    Code: 3 (Port unreachable)"));
	assert_non_null(strstr(out, "Type: Destination Unreachable (1)\n    Code: 4 (Port unreachable)"));
	assert_non_null(strstr(out, "Type: 8 (Echo (ping) request)"));
	assert_non_null(strstr(out, "Options: (20 bytes), Maximum segment size, SACK permitted, "
				    "Timestamps, No-Operation (NOP), Window scale"));
	static const char *const bad[] = { "incorrect", "Bad", "Malformed", "Error/Checksum" };
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		const char *hit = strstr(out, bad[k]);

		if (hit) {
			const char *s = hit;

			while (s > out && s[-1] != '\n')
				s--;
			fail_msg("tshark -V says \"%s\" in: %.200s", bad[k], s);
		}
	}
	free(out);

	/* And the check is not blind: a corrupted TCP checksum is reported. */
	{
		sim_pcap *pc;
		uint8_t buf[256];
		size_t n = build(0, buf, sizeof(buf));

		buf[20 + 16] ^= 0x01;
		path_in_tmp(path, sizeof(path), "bad.pcap");
		assert_int_equal(sim_pcap_open(path, &pc), 0);
		assert_int_equal(sim_pcap_write(pc, 0, buf, n), 0);
		assert_int_equal(sim_pcap_close(pc), 0);
		snprintf(cmd, sizeof(cmd), "tshark -n -r '%s' " TSHARK_PREFS " -V 2>/dev/null", path);
		out = run(cmd);
		assert_non_null(strstr(out, "incorrect"));
		free(out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_format),
		cmocka_unit_test(test_snaplen),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_tshark),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
