/*
 * addr.c - the address type: constructors, classification, and the text
 * forms the scenario language and the tests use.
 *
 * The tables only ever compare 16-byte values, so everything here is about
 * the edges: turning text into those 16 bytes and back.  Two decisions
 * shape the file.
 *
 * Parsing is strict and hand-written rather than delegated to inet_pton.
 * Scenario files are typed by people, and a lenient parser turns a typo
 * ("127.0.0.01", "[::1]:8080x") into a test of some other address instead
 * of an error.  So: dotted quads need exactly four decimal parts without
 * leading zeros (a leading zero means octal to some libcs, and "010" being
 * 8 or 10 depending on who reads it is exactly the ambiguity to refuse);
 * IPv6 follows RFC 4291 section 2.2 (1-4 hex digits a group, at most one
 * "::" standing for at least one zero group, an optional trailing dotted
 * quad); ports and scope ids are plain decimal, again without leading
 * zeros.  Nothing may trail.  Keeping it in-house also keeps the core free
 * of <arpa/inet.h>, so it builds wherever C11 does.
 *
 * Formatting follows RFC 5952 because that is what inet_ntop, ss and the
 * kernel oracle print, and expectations are compared as text: lowercase,
 * no leading zeros, the longest run of two or more zero groups (the first
 * on a tie) becomes "::", and v4-mapped addresses keep their dotted tail.
 * Formatters return the number of characters actually stored (not the
 * snprintf "would have written" count) so a caller appending piecewise can
 * never step past its buffer.
 */
#include "socktab/addr.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

st_addr st_addr_v4(uint32_t host_order)
{
	st_addr a;

	memset(&a, 0, sizeof(a));
	a.b[10] = 0xff;
	a.b[11] = 0xff;
	a.b[12] = (uint8_t)(host_order >> 24);
	a.b[13] = (uint8_t)(host_order >> 16);
	a.b[14] = (uint8_t)(host_order >> 8);
	a.b[15] = (uint8_t)host_order;
	return a;
}

st_addr st_addr_any6(void)
{
	st_addr a;

	memset(&a, 0, sizeof(a));
	return a;
}

/*
 * The predicates below answer 0/false for a NULL address: a caller that
 * asks about nothing learns nothing, and never crashes.
 */
uint32_t st_addr_get_v4(const st_addr *a)
{
	if (a == NULL)
		return 0;
	return (uint32_t)a->b[12] << 24 | (uint32_t)a->b[13] << 16 |
	       (uint32_t)a->b[14] << 8 | (uint32_t)a->b[15];
}

bool st_addr_equal(const st_addr *a, const st_addr *b)
{
	if (a == NULL || b == NULL)
		return false;
	return memcmp(a->b, b->b, sizeof(a->b)) == 0;
}

bool st_addr_is_v4mapped(const st_addr *a)
{
	if (a == NULL)
		return false;
	for (int i = 0; i < 10; i++)
		if (a->b[i] != 0)
			return false;
	return a->b[10] == 0xff && a->b[11] == 0xff;
}

bool st_addr_is_any6(const st_addr *a)
{
	if (a == NULL)
		return false;
	for (int i = 0; i < 16; i++)
		if (a->b[i] != 0)
			return false;
	return true;
}

bool st_addr_is_any4(const st_addr *a)
{
	return st_addr_is_v4mapped(a) && st_addr_get_v4(a) == 0;
}

bool st_addr_is_loopback(const st_addr *a)
{
	if (a == NULL)
		return false;
	if (st_addr_is_v4mapped(a))
		return a->b[12] == 127;
	for (int i = 0; i < 15; i++)
		if (a->b[i] != 0)
			return false;
	return a->b[15] == 1;
}

bool st_addr_is_multicast(const st_addr *a)
{
	if (a == NULL)
		return false;
	if (st_addr_is_v4mapped(a))
		return (a->b[12] & 0xf0) == 0xe0;
	return a->b[0] == 0xff;
}

bool st_addr_is_v4_limited_broadcast(const st_addr *a)
{
	return st_addr_is_v4mapped(a) && st_addr_get_v4(a) == 0xffffffffu;
}

bool st_addr_needs_scope(const st_addr *a)
{
	if (a == NULL)
		return false;
	/* fe80::/10 link-local unicast. */
	if (a->b[0] == 0xfe && (a->b[1] & 0xc0) == 0x80)
		return true;
	/*
	 * Multicast scope is the low nibble of the second byte whatever the
	 * flag bits say, so ff12:: is as link-scoped as ff02:: - the kernel's
	 * ipv6_addr_type() reads it the same way.
	 */
	if (a->b[0] == 0xff) {
		int scope = a->b[1] & 0x0f;
		return scope == 1 || scope == 2;
	}
	return false;
}

/* ---- parsing ---------------------------------------------------------- */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decimal in [s, end), no sign, no leading zeros, at most `max`.  Shared
 * by octets, ports and scope ids so that all three refuse the same things.
 */
static int parse_decimal(const char *s, const char *end, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;

	if (s >= end)
		return -EINVAL;
	if (*s == '0' && end - s > 1)
		return -EINVAL;
	for (const char *p = s; p < end; p++) {
		if (!is_digit(*p))
			return -EINVAL;
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > max)
			return -EINVAL;
	}
	*out = (uint32_t)v;
	return 0;
}

/* Dotted quad in [s, end) into 4 bytes. */
static int parse_v4(const char *s, const char *end, uint8_t out[4])
{
	const char *p = s;

	for (int i = 0; i < 4; i++) {
		const char *q = p;
		uint32_t v;

		while (q < end && *q != '.')
			q++;
		/* Three digits at most: stops "0000001" from hiding as 1. */
		if (q - p > 3 || parse_decimal(p, q, 255, &v) != 0)
			return -EINVAL;
		out[i] = (uint8_t)v;
		if (i < 3) {
			if (q >= end)
				return -EINVAL;
			p = q + 1;
		} else if (q != end) {
			return -EINVAL;
		}
	}
	return 0;
}

/* RFC 4291 text in [s, end) into 16 bytes. */
static int parse_v6(const char *s, const char *end, uint8_t out[16])
{
	uint8_t b[16];
	int n = 0;          /* bytes filled so far */
	int gap = -1;       /* byte offset where "::" stands, -1 if none */
	const char *p = s;

	memset(b, 0, sizeof(b));
	if (p >= end)
		return -EINVAL;
	if (*p == ':') {
		/* Only "::" may open an address; a lone ':' may not. */
		if (end - p < 2 || p[1] != ':')
			return -EINVAL;
		gap = 0;
		p += 2;
		if (p == end)
			goto done;
	}
	for (;;) {
		const char *q = p;
		int v = 0;

		while (q < end && hex_value(*q) >= 0 && q - p < 5)
			q++;
		if (q < end && *q == '.') {
			/* The dotted tail must end the address and fit. */
			if (n > 12 || parse_v4(p, end, b + n) != 0)
				return -EINVAL;
			n += 4;
			break;
		}
		if (q == p || q - p > 4)
			return -EINVAL;
		for (const char *r = p; r < q; r++)
			v = v * 16 + hex_value(*r);
		if (n >= 16)
			return -EINVAL;
		b[n++] = (uint8_t)(v >> 8);
		b[n++] = (uint8_t)v;
		if (q == end)
			break;
		if (*q != ':')
			return -EINVAL;
		p = q + 1;
		if (p < end && *p == ':') {
			if (gap >= 0)
				return -EINVAL;
			gap = n;
			p++;
			if (p == end)
				break;
		} else if (p == end) {
			return -EINVAL; /* trailing single ':' */
		}
	}
done:
	if (gap >= 0) {
		int tail = n - gap;

		/* "::" must stand for at least one group. */
		if (n > 14)
			return -EINVAL;
		memmove(b + 16 - tail, b + gap, (size_t)tail);
		memset(b + gap, 0, (size_t)(16 - n));
	} else if (n != 16) {
		return -EINVAL;
	}
	memcpy(out, b, 16);
	return 0;
}

static int parse_addr_range(const char *s, const char *end, st_addr *out, int *family)
{
	st_addr a;

	if (memchr(s, ':', (size_t)(end - s)) != NULL) {
		if (parse_v6(s, end, a.b) != 0)
			return -EINVAL;
		*family = ST_AF_INET6;
	} else {
		uint8_t v4[4];

		if (parse_v4(s, end, v4) != 0)
			return -EINVAL;
		a = st_addr_v4((uint32_t)v4[0] << 24 | (uint32_t)v4[1] << 16 |
			       (uint32_t)v4[2] << 8 | v4[3]);
		*family = ST_AF_INET;
	}
	*out = a;
	return 0;
}

int st_addr_parse(const char *text, st_addr *out, int *family_out)
{
	st_addr a;
	int family;

	if (text == NULL || out == NULL)
		return -EINVAL;
	if (parse_addr_range(text, text + strlen(text), &a, &family) != 0)
		return -EINVAL;
	*out = a;
	if (family_out != NULL)
		*family_out = family;
	return 0;
}

int st_sockaddr_parse(const char *text, st_sockaddr *out)
{
	st_sockaddr sa;
	const char *end, *colon;
	uint32_t port;

	if (text == NULL || out == NULL)
		return -EINVAL;
	memset(&sa, 0, sizeof(sa));
	end = text + strlen(text);
	if (*text == '[') {
		const char *close = strchr(text, ']');
		const char *pct;
		int family;

		if (close == NULL || close[1] != ':')
			return -EINVAL;
		colon = close + 1;
		pct = memchr(text + 1, '%', (size_t)(close - (text + 1)));
		if (pct != NULL) {
			if (parse_decimal(pct + 1, close, UINT32_MAX, &sa.scope_id) != 0)
				return -EINVAL;
		} else {
			pct = close;
		}
		/* Brackets are for IPv6; "[1.2.3.4]:80" is a typo, not an alias. */
		if (parse_addr_range(text + 1, pct, &sa.addr, &family) != 0 ||
		    family != ST_AF_INET6)
			return -EINVAL;
		sa.family = ST_AF_INET6;
	} else {
		int family;

		colon = strrchr(text, ':');
		if (colon == NULL)
			return -EINVAL;
		if (parse_addr_range(text, colon, &sa.addr, &family) != 0 ||
		    family != ST_AF_INET)
			return -EINVAL;
		sa.family = ST_AF_INET;
	}
	if (parse_decimal(colon + 1, end, 65535, &port) != 0)
		return -EINVAL;
	sa.port = (uint16_t)port;
	*out = sa;
	return 0;
}

/* ---- formatting ------------------------------------------------------- */

/* Copy what fits, always terminate; return the characters stored. */
static int store(const char *s, char *buf, size_t len)
{
	size_t n = strlen(s);

	if (buf == NULL || len == 0)
		return 0;
	if (n >= len)
		n = len - 1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return (int)n;
}

static void format_v4(uint32_t v, char out[16])
{
	snprintf(out, 16, "%u.%u.%u.%u", (unsigned)(v >> 24), (unsigned)(v >> 16) & 0xff,
		 (unsigned)(v >> 8) & 0xff, (unsigned)v & 0xff);
}

static void format_v6(const st_addr *a, char out[ST_ADDR_STRLEN])
{
	uint16_t g[8];
	int best = -1, best_len = 0, ngroups = 8;
	char *p = out;

	for (int i = 0; i < 8; i++)
		g[i] = (uint16_t)(a->b[2 * i] << 8 | a->b[2 * i + 1]);
	if (st_addr_is_v4mapped(a))
		ngroups = 6; /* the last two groups print as a dotted quad */

	for (int i = 0; i < ngroups;) {
		int j = i;

		while (j < ngroups && g[j] == 0)
			j++;
		if (j - i > best_len) {
			best = i;
			best_len = j - i;
		}
		i = j > i ? j : i + 1;
	}
	/* RFC 5952 4.2.2: a single zero group is never shortened. */
	if (best_len < 2)
		best = -1;

	for (int i = 0; i < ngroups; i++) {
		if (i == best) {
			*p++ = ':';
			*p++ = ':';
			i += best_len - 1;
			continue;
		}
		if (p != out && p[-1] != ':')
			*p++ = ':';
		p += sprintf(p, "%x", (unsigned)g[i]);
	}
	if (ngroups == 6) {
		if (p[-1] != ':')
			*p++ = ':';
		format_v4(st_addr_get_v4(a), p);
	} else {
		*p = '\0';
	}
}

int st_addr_format(const st_addr *a, int family, char *buf, size_t len)
{
	char tmp[ST_ADDR_STRLEN];

	if (buf != NULL && len > 0)
		buf[0] = '\0';
	/* No buffer to write into is a mistake unless none was promised. */
	if (a == NULL || (buf == NULL && len > 0))
		return -EINVAL;
	if (family == ST_AF_INET)
		format_v4(st_addr_get_v4(a), tmp);
	else if (family == ST_AF_INET6)
		format_v6(a, tmp);
	else
		return -EINVAL;
	return store(tmp, buf, len);
}

int st_sockaddr_format(const st_sockaddr *sa, char *buf, size_t len)
{
	char addr[ST_ADDR_STRLEN], tmp[ST_SOCKADDR_STRLEN];

	if (buf != NULL && len > 0)
		buf[0] = '\0';
	if (sa == NULL || (buf == NULL && len > 0))
		return -EINVAL;
	if (sa->family == ST_AF_INET) {
		format_v4(st_addr_get_v4(&sa->addr), addr);
		snprintf(tmp, sizeof(tmp), "%s:%u", addr, (unsigned)sa->port);
	} else if (sa->family == ST_AF_INET6) {
		format_v6(&sa->addr, addr);
		if (sa->scope_id != 0)
			snprintf(tmp, sizeof(tmp), "[%s%%%lu]:%u", addr,
				 (unsigned long)sa->scope_id, (unsigned)sa->port);
		else
			snprintf(tmp, sizeof(tmp), "[%s]:%u", addr, (unsigned)sa->port);
	} else {
		return -EINVAL;
	}
	return store(tmp, buf, len);
}

st_sockaddr st_sockaddr_in(uint32_t host_order_v4, uint16_t port)
{
	st_sockaddr sa;

	memset(&sa, 0, sizeof(sa));
	sa.family = ST_AF_INET;
	sa.port = port;
	sa.addr = st_addr_v4(host_order_v4);
	return sa;
}

st_sockaddr st_sockaddr_in6(const st_addr *a, uint16_t port, uint32_t scope_id)
{
	st_sockaddr sa;

	memset(&sa, 0, sizeof(sa));
	sa.family = ST_AF_INET6;
	sa.port = port;
	sa.scope_id = scope_id;
	/* A NULL address is the wildcard ::, as memset left it. */
	if (a != NULL)
		sa.addr = *a;
	return sa;
}
