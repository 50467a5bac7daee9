/*
 * test_parse.c - the scenario parser: what it accepts, what it builds, and
 * every class of error with its exact LINE:COLUMN and message.
 *
 * The error table is the contract users see (FILE:LINE:COLUMN: message),
 * so each case pins the whole first diagnostic, not just "it failed".  The
 * acceptance tests check the AST the runner relies on: resolved slots,
 * fork pairs, sendfd targets, parsed expectations and ls rows.  The last
 * test checks that parsing is linear: a 1,000,000-line scenario against
 * a 100,000-line one of the same shape.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "scenario/ast.h"
#include "scenario/names.h"
#include "socktab/sock.h"

/* Under ASan, freed blocks of the big-file test would sit in quarantine. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "quarantine_size_mb=16";
}

static sc_script *parse_ok(const char *src)
{
	sc_script *s = NULL;
	sc_diags d;

	if (sc_parse("t.scn", src, strlen(src), &s, &d) != 0) {
		for (uint32_t i = 0; i < d.n; i++)
			print_error("%u:%u: %s\n", d.d[i].loc.line, d.d[i].loc.col, d.d[i].msg);
		fail_msg("rejected a valid scenario:\n%s", src);
	}
	return s;
}

/* Mismatches are counted, not fatal, so one run shows every wrong case;
 * each test ends with assert_no_mismatch(). */
static int mismatches;

static void assert_no_mismatch(void)
{
	int n = mismatches;

	mismatches = 0;
	if (n != 0)
		fail_msg("%d diagnostic(s) differ", n);
}

static void first_error(const char *src, size_t len, const char *want)
{
	sc_script *s = NULL;
	sc_diags d;
	char got[300];
	int rc = sc_parse("t.scn", src, len, &s, &d);

	if (rc == 0) {
		sc_script_free(s);
		print_error("accepted an invalid scenario (wanted \"%s\"):\n%s\n", want, src);
		mismatches++;
		return;
	}
	assert_int_equal(rc, -EINVAL);
	assert_true(d.n >= 1);
	snprintf(got, sizeof(got), "%u:%u: %s", d.d[0].loc.line, d.d[0].loc.col, d.d[0].msg);
	if (strcmp(got, want) != 0) {
		print_error("for\n%.300s\nwanted: %s\n   got: %s\n", src, want, got);
		mismatches++;
	}
}

#define ERR(src, want) first_error(src, sizeof(src) - 1, want)

#define P "proc liz\n"
#define PS "proc liz\nliz: s = socket tcp4\n"

/* ---- errors ----------------------------------------------------------- */

static void test_lexical_errors(void **state)
{
	char longline[SC_MAX_LINE + 20];

	(void)state;
	ERR(PS "liz: send s \"ab\\q\"\n", "3:16: unknown escape \\q in a string");
	ERR(PS "liz: send s \"ab\n", "3:13: unterminated string");
	ERR(PS "liz: send s \"ab\\\n", "3:13: unterminated string");
	ERR(PS "liz: send s \"\\x4g\"\n", "3:14: \\x needs exactly two hex digits (\\x00 .. \\xff)");
	ERR(PS "liz: send s \"\\400\"\n", "3:14: octal escape \\400 is larger than \\377");
	ERR(PS "liz: send s \"a\x01" "b\"\n", "3:15: control character 0x01 in a string (write \\x01)");
	ERR("proc l\0iz\n", "1:7: NUL byte in the file");
	ERR("proc liz # caf\xc3\n", "1:15: invalid UTF-8 (byte 0xc3)");
	ERR("proc liz # \xc0\xaf\n", "1:12: invalid UTF-8 (byte 0xc0)");
	ERR("proc liz # \xed\xa0\x80\n", "1:12: invalid UTF-8 (byte 0xed)");
	ERR("proc liz\rx\n", "1:9: carriage return in the middle of a line");
	ERR("proc l\xc3\xafz\n", "1:7: non-ASCII character outside a string or comment");
	ERR("proc liz\x7f\n", "1:9: control character 0x7f");

	memset(longline, 'x', sizeof(longline));
	longline[0] = '#';
	first_error(longline, SC_MAX_LINE + 1, "1:4097: line is longer than 4096 bytes");
	/* exactly the limit is fine */
	{
		sc_script *s;
		sc_diags d;

		assert_int_equal(sc_parse("t.scn", longline, SC_MAX_LINE, &s, &d), 0);
		sc_script_free(s);
	}
	assert_no_mismatch();
}

static void test_value_errors(void **state)
{
	(void)state;
	ERR("sleep 5\n", "1:8: duration '5' needs a unit (ns, us, ms, s, min, h)");
	ERR("sleep 1.5x\n", "1:10: bad duration unit in '1.5x' (ns, us, ms, s, min, h)");
	ERR("sleep s\n", "1:7: bad duration 's': write e.g. 61s, 200ms, 1.5s");
	ERR("sleep 0.0000000001s\n", "1:7: duration '0.0000000001s' is finer than a nanosecond");
	ERR("sleep 1.0000000005s\n", "1:7: duration '1.0000000005s' is finer than a nanosecond");
	ERR("sleep 9999999999999h\n", "1:7: duration '9999999999999h' is too long");
	ERR(PS "liz: bind s 127.0.0.1:70000\n", "3:23: port 70000 is out of range (0..65535)");
	ERR(PS "liz: bind s 127.0.0.1:\n", "3:23: missing port after ':'");
	ERR(PS "liz: bind s 127.0.0.1:8o\n", "3:23: bad port '8o': expected a decimal number");
	ERR(PS "liz: bind s 127.0.0.1:*\n", "3:23: port '*' (any port) is only allowed in an expectation");
	ERR(PS "liz: bind s 1.2.3:80\n", "3:13: bad IPv4 address '1.2.3'");
	ERR(PS "liz: bind s 127.0.0.1\n", "3:13: bad address '127.0.0.1': write ADDR:PORT or [ADDR6]:PORT");
	ERR(PS "liz: bind s ::1:80\n", "3:13: an IPv6 address is written in brackets: [ADDR]:PORT");
	ERR(PS "liz: bind s [::1:80\n", "3:13: missing ']' in address '[::1:80'");
	ERR(PS "liz: bind s [::1]80\n", "3:18: missing ':PORT' after ']'");
	ERR(PS "liz: bind s [::g]:80\n", "3:14: bad IPv6 address '::g'");
	ERR(PS "liz: bind s [fe80::1%]:80\n", "3:22: missing interface name");
	ERR(PS "liz: bind s [fe80::1%averyveryverylongname]:80\n",
	    "3:22: interface name 'averyveryverylongname' is longer than 15 bytes");
	ERR(PS "liz: bind s [fe80::1%e/0]:80\n", "3:23: bad interface name 'e/0'");
	ERR(PS "liz: bind s 10.0.0.1%eth0:80\n",
	    "3:21: a scope (%IFNAME) is only valid on an IPv6 address: [fe80::1%eth0]:PORT");
	ERR("proc liz uid=4294967295\n", "1:14: uid 4294967295 is out of range (0..4294967294)");
	ERR("proc liz uid=-1\n", "1:14: bad uid '-1': expected a decimal number");
	ERR(PS "liz: listen s 99999999999\n", "3:15: backlog 99999999999 is out of range (-2147483648..2147483647)");
	ERR(PS "liz: setsockopt s SO_LINGER 1\n", "3:29: bad SO_LINGER value '1': expected two numbers A,B");
	ERR(PS "liz: setsockopt s IP_LOCAL_PORT_RANGE 1,70000\n", "3:41: port 70000 is out of range (0..65535)");
	ERR(PS "liz: setsockopt s SO_BINDTODEVICE \"0123456789abcdef\"\n",
	    "3:36: interface name '0123456789abcdef' is longer than 15 bytes");
	ERR(PS "liz: setsockopt s SO_ERROR 1\n", "3:19: SO_ERROR is read-only (use getsockopt)");
	ERR(PS "liz: setsockopt s SO_REUSEADDR yes\n", "3:32: bad option value 'yes': expected a decimal number");
	ERR("addr local 10.0.0.1\n", "1:20: missing /PREFIX (write e.g. 10.1.1.1/24 or fd00::1/64)");
	ERR("addr local 10.0.0.1/33\n", "1:21: prefix length 33 is out of range (0..32)");
	ERR("addr local fd00::1/129\n", "1:20: prefix length 129 is out of range (0..128)");
	ERR("addr local fe80::1%lo/64\n", "1:12: an address with a scope cannot be a local address");
	assert_no_mismatch();
}

static void test_name_errors(void **state)
{
	(void)state;
	ERR(P "liz: binf s\n", "2:6: unknown verb 'binf'");
	ERR(P "liz: sleep 1s\n", "2:6: 'sleep' is a statement of its own, not a verb: write it without 'liz:'");
	ERR("bind s 127.0.0.1:80\n", "1:1: 'bind' needs a process: write 'PROC: bind ...'");
	ERR("frobnicate\n", "1:1: unknown statement 'frobnicate' (an operation is written 'PROC: VERB ...')");
	ERR(PS "liz: setsockopt s SO_FOO 1\n", "3:19: unknown socket option 'SO_FOO'");
	ERR(PS "liz: getsockopt s so_reuseaddr\n", "3:19: unknown socket option 'so_reuseaddr'");
	ERR("sysctl net.ipv4.tcp_fin_timeout 30\n", "1:8: unknown sysctl key 'net.ipv4.tcp_fin_timeout'");
	ERR(P "liz: s = socket tcp5\n", "2:17: unknown socket kind 'tcp5' (tcp4, tcp6, udp4, udp6)");
	ERR(PS "liz: shutdown s both\n", "3:17: expected rd, wr or rdwr, got 'both'");
	ERR(PS "liz: connect s 127.0.0.1:1 nonblocking\n", "3:28: expected 'nonblock', got 'nonblocking'");
	ERR("proc liz caps=net_admin,net_fly\n", "1:25: unknown capability 'net_fly' (known: net_bind_service, net_admin, net_raw)");
	ERR("proc liz gid=3\n", "1:10: unknown process option 'gid' (write 'proc NAME[@HOST] [uid=N] [caps=CAP,...] [nofile=N]')");
	ERR("proc liz uid=1 uid=2\n", "1:16: option 'uid' given twice");
	ERR("proc liz uid\n", "1:10: expected an option KEY=VALUE, got 'uid' (write 'proc NAME[@HOST] [uid=N] [caps=CAP,...] [nofile=N]')");
	ERR("proc liz uid=\n", "1:14: missing value after 'uid='");
	ERR("proc 9liz\n", "1:6: bad process name '9liz': a name starts with a letter or '_'");
	ERR("proc li.z\n", "1:8: bad process name 'li.z': a name has letters, digits, '_' and '-'");
	ERR("proc abcdefghijklmnopqrstuvwxyz012345\n",
	    "1:6: process name 'abcdefghijklmnopqrst...' is longer than 31 bytes");
	ERR("host a\nlink a:10.0.0.1/24 local:10.0.0.2/24 jitter=1ms\n",
	    "2:38: unknown link option 'jitter' (write 'link HOST:CIDR HOST:CIDR [delay=DURATION]')");
	assert_no_mismatch();
}

static void test_arity_errors(void **state)
{
	(void)state;
	ERR(PS "liz: bind s\n", "3:13: missing ADDR (write 'bind SOCKET ADDR')");
	ERR(PS "liz: bind\n", "3:11: missing SOCKET (write 'bind SOCKET ADDR')");
	ERR(PS "liz: close s t\n", "3:14: unexpected argument 't' (write 'close SOCKET')");
	ERR(PS "liz: listen s 1 2\n", "3:17: unexpected argument '2' (write 'listen SOCKET [BACKLOG]')");
	ERR(PS "liz: shutdown s rd|wr\n", "3:19: unexpected '|' (write 'shutdown SOCKET rd|wr|rdwr')");
	ERR(PS "liz: send s hello\n", "3:13: expected a string \"DATA\", got 'hello'");
	ERR(PS "liz: exit now\n", "3:11: unexpected argument 'now' (write 'exit')");
	ERR(P "liz: socket tcp4\n", "2:6: socket creates a socket: write 'VAR = socket KIND'");
	ERR(PS "liz: x = bind s 127.0.0.1:1\n", "3:6: bind does not create a socket: remove 'x ='");
	ERR(P "liz: s =\n", "2:10: missing verb after '='");
	ERR(P "liz:\n", "2:6: missing verb after 'liz:'");
	ERR(P ":bind\n", "2:1: missing process name before ':'");
	ERR("host\n", "1:6: missing NAME (write 'host NAME')");
	ERR("host a b\n", "1:8: unexpected argument 'b' (write 'host NAME')");
	ERR("addr local\n", "1:12: missing CIDR (write 'addr HOST CIDR')");
	ERR("sleep\n", "1:7: missing DURATION (write 'sleep DURATION')");
	ERR("ls local local\n", "1:10: unexpected argument 'local' (write 'ls [HOST]')");
	ERR("sysctl\n", "1:8: missing KEY (write 'sysctl [HOST] KEY VALUE...')");
	ERR("sysctl net.ipv4.ip_local_port_range 40000\n", "1:43: net.ipv4.ip_local_port_range takes 2 values");
	ERR("sysctl net.ipv6.bindv6only 1 0\n", "1:30: net.ipv6.bindv6only takes 1 value");
	ERR("sysctl net.ipv6.bindv6only\n", "1:28: missing value for net.ipv6.bindv6only");
	ERR("sysctl net.ipv4.ip_local_port_range 50000 40000\n",
	    "1:43: net.ipv4.ip_local_port_range: the low end 50000 is above the high end 40000");
	ERR("sysctl net.ipv4.tcp_tw_reuse 3\n", "1:30: value 3 is out of range (0..2)");
	ERR("sysctl net.ipv4.ip_local_reserved_ports 1,2-x\n", "1:45: bad port 'x': expected a decimal number");
	ERR("sysctl net.ipv4.ip_local_reserved_ports 9-3\n", "1:41: port range 9-3 is empty");
	ERR("sysctl net.ipv4.ip_local_reserved_ports 1,\n", "1:42: trailing ',' in the port list");
	ERR(P "liz: s = socket tcp4 => ok => ok\n", "2:28: a second '=>' on one line");
	ERR("=> ok\n", "1:1: '=>' without a statement before it");
	ERR(PS "liz: close s =>\n", "3:16: missing expectation after '=>'");
	ERR(PS "liz: close s => ok |\n", "3:20: empty alternative in the expectation");
	ERR(PS "liz: close s => | ok\n", "3:17: empty alternative in the expectation");
	assert_no_mismatch();
}

static void test_declaration_errors(void **state)
{
	(void)state;
	ERR("bob: s = socket tcp4\n", "1:1: unknown process 'bob' (declare it with 'proc bob')");
	ERR("proc liz@mars\n", "1:10: unknown host 'mars' (declare it with 'host mars')");
	ERR("addr mars 10.0.0.1/8\n", "1:6: unknown host 'mars' (declare it with 'host mars')");
	ERR("ls mars\n", "1:4: unknown host 'mars' (declare it with 'host mars')");
	ERR("sysctl mars net.ipv6.bindv6only 1\n", "1:8: unknown host 'mars' (declare it with 'host mars')");
	ERR("host a\nhost a\n", "2:6: host 'a' is already declared at line 1");
	ERR("host local\n", "1:6: host 'local' always exists; do not declare it");
	ERR("proc liz\nproc liz\n", "2:6: process 'liz' is already declared at line 1");
	ERR(P "liz: bind s 127.0.0.1:80\n", "2:11: process 'liz' has no socket variable 's'");
	ERR(PS "liz: s = socket udp4\n", "3:6: 's' is still open (bound at line 2); close it before binding the name again");
	ERR(PS "liz: close s\nliz: bind s 127.0.0.1:1\n", "4:11: 's' of process 'liz' was closed at line 3");
	ERR(PS "liz: exit\nliz: bind s 127.0.0.1:1\n", "4:1: process 'liz' exited at line 3");
	ERR(PS "liz: exit\nliz: exit\n", "4:1: process 'liz' exited at line 3");
	ERR(PS "proc tim\nliz: fork tim\n", "4:11: process 'tim' already exists (declared at line 3)");
	ERR(PS "liz: fork liz\n", "3:11: process 'liz' already exists (declared at line 1)");
	ERR(PS "liz: sendfd s liz\n", "3:15: sendfd to itself: 'liz' already holds 's'");
	ERR(PS "liz: sendfd s bob\n", "3:15: unknown process 'bob' (declare it with 'proc bob')");
	ERR(PS "proc tim\ntim: exit\nliz: sendfd s tim\n", "5:15: process 'tim' exited at line 4");
	ERR(PS "proc tim\ntim: s = socket udp4\nliz: sendfd s tim\n",
	    "5:15: process 'tim' already has an open socket 's' (line 4); close it first");
	/* after a fork the child holds the name; the parent's close does not close the child's */
	ERR(PS "liz: fork kid\nliz: close s\nkid: close s\nkid: close s\n",
	    "6:12: 's' of process 'kid' was closed at line 5");
	/* a variable of another process is not visible */
	ERR(PS "proc tim\ntim: close s\n", "4:12: process 'tim' has no socket variable 's'");
	/* accept on a variable being rebound */
	ERR(PS "liz: s = accept s\n", "3:6: 's' is still open (bound at line 2); close it before binding the name again");
	assert_no_mismatch();
}

static void test_expectation_errors(void **state)
{
	(void)state;
	ERR(PS "liz: bind s 127.0.0.1:1 => \"data\"\n", "3:28: bind prints ok or an errno, never a string");
	ERR(PS "liz: bind s 127.0.0.1:1 => ok 127.0.0.1:1\n", "3:28: bind prints ok or an errno, never ok ADDR");
	ERR(PS "liz: recv s => ok\n", "3:16: recv prints \"DATA\" or an errno, never ok");
	ERR(PS "liz: recv s => \"a\" from 127.0.0.1:1\n", "3:16: recv prints \"DATA\" or an errno, never \"DATA\" from ADDR");
	ERR(PS "liz: getsockname s => ok\n", "3:23: getsockname prints an address or an errno, never ok");
	ERR(PS "liz: a = accept s => \"x\"\n", "3:22: accept prints ok PEERADDR or an errno, never a string");
	ERR(PS "liz: getsockopt s SO_LINGER => 1\n", "3:32: getsockopt SO_LINGER prints ON,SECONDS or an errno, never a number");
	ERR(PS "liz: getsockopt s SO_REUSEADDR => ok\n", "3:35: getsockopt SO_REUSEADDR prints a number or an errno, never ok");
	ERR(PS "liz: getsockopt s SO_BINDTODEVICE => 1\n", "3:38: getsockopt SO_BINDTODEVICE prints a string (the interface name) or an errno, never a number");
	ERR(PS "liz: close s => EWOULDBLOCK\n", "3:17: write EAGAIN, the name Linux prints, not EWOULDBLOCK");
	ERR(PS "liz: close s => ENOTSUP\n", "3:17: write EOPNOTSUPP, the name Linux prints, not ENOTSUP");
	ERR(PS "liz: close s => EFOO\n", "3:17: unknown errno name 'EFOO'");
	ERR(PS "liz: close s => okay\n", "3:17: cannot read the expectation 'okay' (expected ok, ok ADDR, an errno name, \"DATA\", \"DATA\" from ADDR, ADDR or a number)");
	ERR(PS "liz: close s => ok EAGAIN\n", "3:20: bad address 'EAGAIN': write ADDR:PORT or [ADDR6]:PORT");
	ERR(PS "liz: close s => EAGAIN EBADF\n", "3:24: unexpected 'EBADF' in the expectation (separate alternatives with '|')");
	ERR(PS "liz: recvfrom s => \"x\" to 1.2.3.4:5\n", "3:24: expected 'from ADDR' or the end of the alternative after the string");
	ERR(PS "liz: recvfrom s => \"x\" from\n", "3:29: missing ADDR after 'from'");
	ERR(PS "liz: close s => ok|ok|ok|ok|ok|ok|ok|ok|ok|ok|ok|ok|ok|ok|ok|ok|ok\n", "3:65: more than 16 alternatives");
	ERR("host a => ok\n", "1:8: 'host' prints no result; remove '=> ...'");
	ERR("ls => ok\n", "1:4: ls is checked with '|' rows on the lines after it, not '=>'");
	assert_no_mismatch();
}

static void test_ls_row_errors(void **state)
{
	(void)state;
	ERR(P "| tcp4 LISTEN 127.0.0.1:80 * liz\n", "2:1: an expected row '|' must directly follow an 'ls' line or its rows");
	ERR(P "ls\n\n| tcp4 LISTEN 127.0.0.1:80 * liz\n", "4:1: an expected row '|' must directly follow an 'ls' line or its rows");
	ERR(P "ls\n# a comment\n| tcp4 LISTEN 127.0.0.1:80 * liz\n", "4:1: an expected row '|' must directly follow an 'ls' line or its rows");
	ERR(P "ls\n| tcp4 LISTEN 127.0.0.1:80 *\n", "3:30: an ls row has 5 fields, this one 4 (write '| PROTO STATE LOCAL PEER OWNERS')");
	ERR(P "ls\n| tcp4 LISTEN 127.0.0.1:80 * liz x\n", "3:34: an ls row has 5 fields, this one 6 (write '| PROTO STATE LOCAL PEER OWNERS')");
	ERR(P "ls\n| tcp4 LISTENING 127.0.0.1:80 * liz\n", "3:8: unknown STATE 'LISTENING'");
	ERR(P "ls\n| sctp4 LISTEN 127.0.0.1:80 * liz\n", "3:3: unknown PROTO 'sctp4' (tcp4, tcp6, udp4, udp6)");
	ERR(P "ls\n| tcp4 LISTEN 127.0.0.1 * liz\n", "3:15: bad address '127.0.0.1': write ADDR:PORT or [ADDR6]:PORT");
	ERR(P "ls\n| tcp4 LISTEN 127.0.0.1:80 * bob\n", "3:30: unknown process 'bob' in the owners");
	ERR(P "ls\n| tcp4 LISTEN 127.0.0.1:80 * liz,liz\n", "3:30: owner 'liz' is listed twice");
	ERR(P "ls\n| tcp4 LISTEN 127.0.0.1:80 * liz,\n", "3:34: missing owner process name");
	ERR(P "ls\n| tcp4 LISTEN 127.0.0.1:80 * liz => ok\n", "3:34: unexpected '=>' in an ls row (write '| PROTO STATE LOCAL PEER OWNERS')");
	ERR(P "ls\n| tcp4 LISTEN 127.0.0.1:80 \"*\" liz\n", "3:28: unexpected a string in an ls row (write '| PROTO STATE LOCAL PEER OWNERS')");
	assert_no_mismatch();
}

static void test_world_errors(void **state)
{
	(void)state;
	ERR("host a\nlink a:10.0.0.1/24 a:10.0.0.2/24\n", "2:20: a link joins two different hosts");
	ERR("host a\nlink a:10.0.0.1/24 local:fd00::2/64\n", "2:20: both ends of a link must have the same address family");
	ERR("host a\nlink a:10.0.0.1/24 local:10.0.0.2/24 delay=fast\n", "2:44: bad duration 'fast': write e.g. 61s, 200ms, 1.5s");
	ERR("host a\nlink a10.0.0.1/24 local:10.0.0.2/24\n", "2:6: expected HOST:ADDR/PREFIX, got 'a10.0.0.1/24'");
	ERR("host a\nlink a:10.0.0.1/24\n", "2:20: missing HOST:CIDR (write 'link HOST:CIDR HOST:CIDR [delay=DURATION]')");
	assert_no_mismatch();
}

static void test_limits(void **state)
{
	char *buf = malloc(1 << 20);
	size_t n = 0;
	sc_script *s;
	sc_diags d;

	(void)state;
	assert_non_null(buf);
	/* 63 hosts besides local are fine; the 64th is not */
	for (int i = 0; i < SC_MAX_HOSTS; i++)
		n += (size_t)sprintf(buf + n, "host h%d\n", i);
	first_error(buf, n, "64:6: too many hosts (at most 64, counting 'local')");

	n = 0;
	for (int i = 0; i < SC_MAX_PROCS; i++)
		n += (size_t)sprintf(buf + n, "proc p%d\n", i);
	assert_int_equal(sc_parse("t.scn", buf, n, &s, &d), 0);
	assert_int_equal(s->nprocs, SC_MAX_PROCS);
	sc_script_free(s);
	n += (size_t)sprintf(buf + n, "p0: fork p4096\n");
	first_error(buf, n, "4097:10: too many processes (at most 4096, counting fork children)");

	n = (size_t)sprintf(buf, "proc liz\n");
	for (int i = 0; i < SC_MAX_VARS_PER_PROC; i++)
		n += (size_t)sprintf(buf + n, "liz: s%d = socket udp4\n", i);
	assert_int_equal(sc_parse("t.scn", buf, n, &s, &d), 0);
	sc_script_free(s);
	n += (size_t)sprintf(buf + n, "liz: one_more = socket udp4\n");
	first_error(buf, n, "1002:6: process 'liz' would hold more than 1000 open sockets");
	/* closing one makes room again */
	n -= strlen("liz: one_more = socket udp4\n");
	n += (size_t)sprintf(buf + n, "liz: close s7\nliz: one_more = socket udp4\n");
	assert_int_equal(sc_parse("t.scn", buf, n, &s, &d), 0);
	sc_script_free(s);

	/* total sleep */
	n = (size_t)sprintf(buf, "sleep 876000h\nsleep 876000h\n");
	first_error(buf, n, "2:7: the sleeps of this file add up to more than 146 years");
	assert_no_mismatch();
	free(buf);
}

static void test_many_errors_and_recovery(void **state)
{
	sc_script *s = NULL;
	sc_diags d;
	char buf[4096];
	size_t n = 0;
	const char *src;

	(void)state;
	/* a bad declaration still declares: one error, not a cascade */
	src = "proc liz uid=x\nliz: s = socket tcp9\nliz: bind s 127.0.0.1:1\nliz: close s\n";
	assert_int_equal(sc_parse("t.scn", src, strlen(src), &s, &d), -EINVAL);
	assert_int_equal(d.n, 2);
	assert_int_equal(d.d[0].loc.line, 1);
	assert_int_equal(d.d[1].loc.line, 2);

	/* at most SC_MAX_ERRORS recorded, the rest counted */
	for (int i = 0; i < 13; i++)
		n += (size_t)sprintf(buf + n, "bogus%d\n", i);
	assert_int_equal(sc_parse("t.scn", buf, n, &s, &d), -EINVAL);
	assert_int_equal(d.n, SC_MAX_ERRORS);
	assert_int_equal(d.dropped, 3);
	assert_int_equal(d.d[9].loc.line, 10);

	/* printing */
	{
		char out[4096] = "";
		FILE *f = fmemopen(out, sizeof(out), "w");

		assert_non_null(f);
		sc_diags_print(&d, "x.scn", f);
		fclose(f);
		assert_non_null(strstr(out, "x.scn:1:1: unknown statement 'bogus0'"));
		assert_non_null(strstr(out, "x.scn: 3 more errors not shown\n"));
	}
}

/* ---- acceptance --------------------------------------------------------- */

static const char spec_example[] =
	"proc liz\n"
	"proc tim\n"
	"liz: s1 = socket tcp4\n"
	"liz: bind s1 127.0.0.1:8080             => ok\n"
	"liz: listen s1                          => ok\n"
	"liz: s2 = socket udp4\n"
	"liz: bind s2 127.0.0.1:8080             => ok\n"
	"tim: c = socket tcp4\n"
	"tim: connect c 127.0.0.1:8080           => ok\n"
	"liz: a = accept s1                      => ok 127.0.0.1:*\n"
	"liz: exit\n"
	"tim: c2 = socket tcp4\n"
	"tim: connect c2 127.0.0.1:8080          => ECONNREFUSED\n";

static void test_spec_example(void **state)
{
	sc_script *s = parse_ok(spec_example);
	const sc_stmt *st;

	(void)state;
	assert_int_equal(s->nstmts, 13);
	assert_int_equal(s->nprocs, 2);
	assert_int_equal(s->nhosts, 1);
	assert_string_equal(s->hosts[0].name, "local");
	assert_int_equal(s->nslots, 5); /* liz:s1 s2 a, tim:c c2 */
	assert_int_equal(s->procs[0].uid, 1000);
	assert_int_equal(s->procs[0].caps, 0);

	st = &s->stmts[2];
	assert_int_equal(st->kind, SC_S_OP);
	assert_int_equal(st->verb, SC_V_SOCKET);
	assert_int_equal(st->u.kind, SC_TCP4);
	assert_string_equal(s->slots[st->var].name, "s1");
	assert_int_equal(s->slots[st->var].proc, 0);

	st = &s->stmts[3];
	assert_int_equal(st->verb, SC_V_BIND);
	assert_int_equal(st->sock, s->stmts[2].var);
	assert_int_equal(st->u.io.addr->sa.family, ST_AF_INET);
	assert_int_equal(st->u.io.addr->sa.port, 8080);
	assert_true(st->u.io.addr->sa.addr.b[10] == 0xff && st->u.io.addr->sa.addr.b[12] == 127);
	assert_int_equal(st->expect.nalts, 1);
	assert_int_equal(st->expect.alts[0].kind, SC_E_OK);
	assert_int_equal(st->expect.loc.col, 41);
	assert_int_equal(st->text_len, strlen("liz: bind s1 127.0.0.1:8080"));
	assert_memory_equal(sc_stmt_text(s, st), "liz: bind s1 127.0.0.1:8080", st->text_len);

	st = &s->stmts[4];
	assert_int_equal(st->verb, SC_V_LISTEN);
	assert_int_equal(st->u.backlog, 128);

	st = &s->stmts[9];
	assert_int_equal(st->verb, SC_V_ACCEPT);
	assert_int_equal(st->expect.alts[0].kind, SC_E_OK_ADDR);
	assert_true(st->expect.alts[0].addr.any_port);
	assert_memory_equal(s->src + st->expect.text_off, "ok 127.0.0.1:*", st->expect.text_len);

	st = &s->stmts[12];
	assert_int_equal(st->expect.alts[0].kind, SC_E_ERR);
	assert_int_equal(st->expect.alts[0].err, ECONNREFUSED);
	assert_int_equal(st->loc.line, 13);
	sc_script_free(s);
}

static void test_every_verb(void **state)
{
	const char *src =
		"host far\n"
		"proc liz uid=0\n"
		"proc tim@far caps=net_bind_service,net_raw uid=7\n"
		"liz: s = socket tcp6\n"
		"liz: setsockopt s SO_REUSEPORT 1\n"
		"liz: setsockopt s SO_LINGER 1,0\n"
		"liz: setsockopt s SO_BINDTODEVICE \"\"\n"
		"liz: setsockopt s SO_BINDTODEVICE lo\n"
		"liz: setsockopt s IP_LOCAL_PORT_RANGE 40000,40010\n"
		"liz: getsockopt s SO_ERROR => 0 | ECONNRESET\n"
		"liz: getsockopt s SO_LINGER => 1,0\n"
		"liz: bind s [fe80::1%lo]:80 => EADDRNOTAVAIL | ok\n"
		"liz: listen s -1\n"
		"liz: connect s [::ffff:127.0.0.1]:9 nonblock => EINPROGRESS\n"
		"liz: c = accept s => EAGAIN | ok [::1]:*\n"
		"liz: send s \"\\x00\\xff\\\"\\n\\101\"\n"
		"liz: sendto s 127.0.0.1:9 \"\"\n"
		"liz: recv s => \"\" | \"a b\"\n"
		"liz: recvfrom s => \"x\" from [::1]:5 | EAGAIN | \"y\"\n"
		"liz: getsockname s => [::]:80\n"
		"liz: getpeername s => ENOTCONN\n"
		"liz: shutdown s rdwr\n"
		"liz: fork kid\n"
		"liz: sendfd c tim\n"
		"kid:bind s 127.0.0.1:1\n"
		"liz: close s\n"
		"liz: s = socket udp4   # rebinding a closed name\n"
		"liz: exit\n"
		"tim: close c\n"
		"sleep 1.5s\n"
		"ls far\n"
		"| tcp6 LISTEN [::]:80 * tim,kid\n"
		"| udp4 UNCONN 127.0.0.1:* 10.0.0.1:5 -\n";
	sc_script *s = parse_ok(src);
	const sc_stmt *st = s->stmts;
	int32_t liz_s, liz_c;

	(void)state;
	assert_int_equal(s->nhosts, 2);
	assert_int_equal(s->procs[0].uid, 0);
	assert_int_equal(s->procs[0].caps, ST_CAP_ALL);
	assert_int_equal(s->procs[1].host, 1);
	assert_int_equal(s->procs[1].uid, 7);
	assert_int_equal(s->procs[1].caps, ST_CAP_NET_BIND_SERVICE | ST_CAP_NET_RAW);
	assert_int_equal(st[3].u.kind, SC_TCP6);
	liz_s = st[3].var;
	assert_int_equal(st[4].u.opt.opt, SC_SO_REUSEPORT);
	assert_int_equal(st[4].u.opt.val->i, 1);
	assert_int_equal(st[5].u.opt.val->i, 1);
	assert_int_equal(st[5].u.opt.val->i2, 0);
	assert_string_equal(st[6].u.opt.val->str, "");
	assert_string_equal(st[7].u.opt.val->str, "lo");
	assert_int_equal(st[8].u.opt.val->i, 40000);
	assert_int_equal(st[8].u.opt.val->i2, 40010);
	assert_int_equal(st[9].u.opt.opt, SC_SO_ERROR);
	assert_null(st[9].u.opt.val);
	assert_int_equal(st[9].expect.nalts, 2);
	assert_int_equal(st[9].expect.alts[0].kind, SC_E_INT);
	assert_int_equal(st[9].expect.alts[1].err, ECONNRESET);
	assert_int_equal(st[10].expect.alts[0].kind, SC_E_LINGER);
	assert_string_equal(st[11].u.io.addr->ifname, "lo");
	assert_int_equal(st[11].u.io.addr->sa.family, ST_AF_INET6);
	assert_int_equal(st[11].u.io.addr->sa.addr.b[0], 0xfe);
	assert_int_equal(st[12].u.backlog, -1);
	assert_true(st[13].u.io.nonblock);
	assert_int_equal(st[13].u.io.addr->sa.family, ST_AF_INET6);
	assert_int_equal(st[13].u.io.addr->sa.addr.b[10], 0xff);
	liz_c = st[14].var;
	assert_int_equal(st[14].expect.alts[1].kind, SC_E_OK_ADDR);
	assert_int_equal(st[15].u.io.len, 5);
	assert_memory_equal(st[15].u.io.data, "\x00\xff\"\nA", 5);
	assert_int_equal(st[16].u.io.len, 0);
	assert_int_equal(st[17].expect.alts[0].len, 0);
	assert_memory_equal(st[17].expect.alts[1].data, "a b", 3);
	assert_int_equal(st[18].expect.nalts, 3);
	assert_int_equal(st[18].expect.alts[0].kind, SC_E_DATA_FROM);
	assert_int_equal(st[18].expect.alts[0].addr.sa.sa.port, 5);
	assert_int_equal(st[18].expect.alts[2].kind, SC_E_DATA);
	assert_int_equal(st[19].expect.alts[0].kind, SC_E_ADDR);
	assert_int_equal(st[21].u.shut, SC_SHUT_RDWR);
	/* fork: the child gets s and c, under the same names */
	assert_int_equal(st[22].verb, SC_V_FORK);
	assert_string_equal(s->procs[st[22].u.fork.child].name, "kid");
	assert_int_equal(s->procs[st[22].u.fork.child].parent, 0);
	assert_int_equal(s->procs[st[22].u.fork.child].uid, 0);
	assert_int_equal(st[22].u.fork.npairs, 2);
	for (uint32_t i = 0; i < 2; i++) {
		int32_t from = st[22].u.fork.pairs[2 * i], to = st[22].u.fork.pairs[2 * i + 1];

		assert_true(from == liz_s || from == liz_c);
		assert_int_equal(s->slots[to].proc, st[22].u.fork.child);
		assert_string_equal(s->slots[to].name, s->slots[from].name);
	}
	/* sendfd: tim gets c */
	assert_int_equal(st[23].u.sendfd.to, 1);
	assert_string_equal(s->slots[st[23].u.sendfd.to_slot].name, "c");
	assert_int_equal(st[23].sock, liz_c);
	/* `kid:bind` written without a blank */
	assert_int_equal(st[24].verb, SC_V_BIND);
	assert_int_equal(st[24].proc, st[22].u.fork.child);
	assert_int_equal(st[24].verb_col, 4);
	/* rebinding after close keeps the slot; the comment is kept aside */
	assert_int_equal(st[26].var, liz_s);
	assert_int_equal(st[26].u.kind, SC_UDP4);
	assert_memory_equal(s->src + st[26].line_off + st[26].comment_col, "# rebinding a closed name",
			    st[26].comment_len);
	assert_int_equal(st[28].sock, st[23].u.sendfd.to_slot);
	assert_int_equal(st[29].u.sleep_ns, 1500000000ULL);
	/* ls rows: owners sorted, peers, wildcards */
	assert_int_equal(st[30].host, 1);
	assert_true(st[30].u.ls->has_rows);
	assert_int_equal(st[30].u.ls->nrows, 2);
	assert_int_equal(st[30].u.ls->last_line, 33);
	assert_string_equal(st[30].u.ls->rows[0].owners, "kid,tim");
	assert_false(st[30].u.ls->rows[0].has_peer);
	assert_string_equal(st[30].u.ls->rows[0].state, "LISTEN");
	assert_int_equal(st[30].u.ls->rows[1].kind, SC_UDP4);
	assert_true(st[30].u.ls->rows[1].local.any_port);
	assert_true(st[30].u.ls->rows[1].has_peer);
	assert_int_equal(st[30].u.ls->rows[1].peer.sa.sa.port, 5);
	assert_string_equal(st[30].u.ls->rows[1].owners, "-");
	assert_int_equal(s->nstmts, 31);
	sc_script_free(s);
}

static void test_world(void **state)
{
	const char *src =
		"host a\r\n"
		"host b\r\n"
		"addr a 10.1.1.1/24\r\n"
		"addr local fd00::1/64\r\n"
		"link a:10.0.0.1/30 b:10.0.0.2/30 delay=50ms\r\n"
		"link a:[fd01::1]/64 local:fd01::2/64\r\n"
		"sysctl net.ipv4.ip_local_port_range 40000 40009\r\n"
		"sysctl b net.ipv4.ip_local_reserved_ports \"\"\r\n"
		"sysctl net.ipv4.ip_local_reserved_ports 40000,40010-40020\r\n"
		"sysctl a net.core.somaxconn 2147483647\r\n"
		"sleep 200ms\r\n"
		"sleep 61s\r\n"
		"sleep 2min\r\n"
		"sleep 1h\r\n"
		"sleep 1.25us\r\n"
		"sleep 100ns\r\n"
		"sleep .5s";
	sc_script *s = parse_ok(src);
	const sc_stmt *st = s->stmts;

	(void)state;
	assert_int_equal(s->nstmts, 17);
	assert_int_equal(st[0].kind, SC_S_HOST);
	assert_int_equal(st[0].host, 1);
	assert_int_equal(st[2].u.cidr->host, 1);
	assert_int_equal(st[2].u.cidr->plen, 24);
	assert_int_equal(st[2].u.cidr->family, ST_AF_INET);
	assert_int_equal(st[3].u.cidr->family, ST_AF_INET6);
	assert_int_equal(st[3].u.cidr->host, 0);
	assert_int_equal(st[4].u.link->delay_ns, 50000000ULL);
	assert_int_equal(st[4].u.link->ifindex[0], 0);
	assert_int_equal(st[4].u.link->ifindex[1], 0);
	assert_int_equal(st[5].u.link->ifindex[0], 1); /* a's eth1 */
	assert_int_equal(st[5].u.link->ifindex[1], 0); /* local's eth0 */
	assert_int_equal(st[5].u.link->end[0].family, ST_AF_INET6);
	assert_string_equal(st[6].u.sysctl->key, "net.ipv4.ip_local_port_range");
	assert_int_equal(st[6].u.sysctl->nvalues, 2);
	assert_string_equal(st[6].u.sysctl->values[1], "40009");
	assert_int_equal(st[6].host, 0);
	assert_int_equal(st[7].host, 2);
	assert_string_equal(st[7].u.sysctl->values[0], "");
	assert_string_equal(st[8].u.sysctl->values[0], "40000,40010-40020");
	assert_int_equal(st[10].u.sleep_ns, 200000000ULL);
	assert_int_equal(st[11].u.sleep_ns, 61000000000ULL);
	assert_int_equal(st[12].u.sleep_ns, 120000000000ULL);
	assert_int_equal(st[13].u.sleep_ns, 3600000000000ULL);
	assert_int_equal(st[14].u.sleep_ns, 1250ULL);
	assert_int_equal(st[15].u.sleep_ns, 100ULL);
	assert_int_equal(st[16].u.sleep_ns, 500000000ULL);
	/* CRLF: the CR is not part of the text */
	assert_int_equal(st[0].text_len, 6);
	sc_script_free(s);
}

static void test_empty_and_comments(void **state)
{
	sc_script *s = parse_ok("");

	(void)state;
	assert_int_equal(s->nstmts, 0);
	sc_script_free(s);
	s = parse_ok("# only a comment\n\n   \t\n# \"not a string\n");
	assert_int_equal(s->nstmts, 0);
	assert_int_equal(s->nlines, 4);
	sc_script_free(s);
	/* '#' in a string is not a comment; '|' in a string is data */
	s = parse_ok(PS "liz: send s \"a#b|c\" => ok # real comment\n");
	assert_int_equal(s->stmts[2].u.io.len, 5);
	assert_int_equal(s->stmts[2].comment_len, strlen("# real comment"));
	sc_script_free(s);
}

static void test_names(void **state)
{
	(void)state;
	for (int v = 0; v < SC_V_COUNT_; v++)
		assert_int_equal(sc_verb_lookup(sc_verb_name((sc_verb)v), strlen(sc_verb_name((sc_verb)v))), v);
	for (int o = 0; o < SC_OPT_COUNT_; o++)
		assert_int_equal(sc_opt_lookup(sc_opt_name((sc_opt)o), strlen(sc_opt_name((sc_opt)o))), o);
	assert_string_equal(sc_errno_name(EADDRINUSE), "EADDRINUSE");
	assert_string_equal(sc_errno_name(EAGAIN), "EAGAIN");
	assert_string_equal(sc_errno_name(EOPNOTSUPP), "EOPNOTSUPP");
	assert_int_equal(sc_errno_lookup("ECONNREFUSED", 12), ECONNREFUSED);
	assert_int_equal(sc_errno_lookup("EWOULDBLOCK", 11), 0);
	assert_null(sc_errno_name(0));
	assert_null(sc_errno_name(100000));
}

/* ---- linear time ----------------------------------------------------------- */

/* A scenario of `lines` lines: 100 processes, then socket/bind/close
 * triples over ever new variable names (so every table keeps growing). */
static char *gen(size_t lines, size_t *len)
{
	size_t cap = lines * 64 + 4096, n = 0, k = 0, i;
	char *b = malloc(cap);

	assert_non_null(b);
	for (i = 0; i < 100 && i < lines; i++)
		n += (size_t)snprintf(b + n, cap - n, "proc p%zu\n", i);
	while (i < lines) {
		size_t p = k % 100;

		n += (size_t)snprintf(b + n, cap - n, "p%zu: s%zu = socket tcp4\n", p, k);
		if (++i == lines)
			break;
		n += (size_t)snprintf(b + n, cap - n, "p%zu: bind s%zu 127.0.0.1:%zu => ok | EADDRINUSE\n",
				      p, k, 1024 + k % 60000);
		if (++i == lines)
			break;
		n += (size_t)snprintf(b + n, cap - n, "p%zu: close s%zu  # done\n", p, k);
		i++;
		k++;
	}
	*len = n;
	return b;
}

static double cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double time_parse(size_t lines, size_t *nstmts)
{
	size_t len;
	char *src = gen(lines, &len);
	sc_script *s;
	sc_diags d;
	double t0, t1, best = 1e9;

	/* best of two, to keep a scheduler hiccup out of the ratio */
	for (int rep = 0; rep < 2; rep++) {
		t0 = cpu_seconds();
		assert_int_equal(sc_parse("big.scn", src, len, &s, &d), 0);
		t1 = cpu_seconds();
		*nstmts = s->nstmts;
		sc_script_free(s);
		if (t1 - t0 < best)
			best = t1 - t0;
	}
	free(src);
	return best;
}

static void test_linear_time(void **state)
{
	size_t n1, n2;
	double t1, t2;

	(void)state;
	t1 = time_parse(100000, &n1);
	t2 = time_parse(1000000, &n2);
	assert_int_equal(n1, 100000);
	assert_int_equal(n2, 1000000);
	print_message("parse: 100k lines %.3fs, 1M lines %.3fs, ratio %.1f (linear: 10)\n", t1, t2,
		      t2 / t1);
	/* Linear gives ~10; quadratic would give ~100.  25 leaves room for
	 * cache effects of the larger tables. */
	assert_true(t2 / t1 < 25.0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lexical_errors),
		cmocka_unit_test(test_value_errors),
		cmocka_unit_test(test_name_errors),
		cmocka_unit_test(test_arity_errors),
		cmocka_unit_test(test_declaration_errors),
		cmocka_unit_test(test_expectation_errors),
		cmocka_unit_test(test_ls_row_errors),
		cmocka_unit_test(test_world_errors),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_many_errors_and_recovery),
		cmocka_unit_test(test_spec_example),
		cmocka_unit_test(test_every_verb),
		cmocka_unit_test(test_world),
		cmocka_unit_test(test_empty_and_comments),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_linear_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
