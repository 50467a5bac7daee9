/*
 * fuzz/fuzz_wire.c - fuzz target for the wire format (src/stack/wire.h).
 *
 * Every input is used twice:
 *
 * 1. As a packet.  stk_wire_decode() must not read outside the input (ASan
 *    watches; libFuzzer hands over a block of exactly the input's size) and
 *    must return 0 or -EBADMSG / -EPROTONOSUPPORT.  When it accepts, the
 *    record must satisfy the invariants wire.h promises, its text form must
 *    fit STK_WIRE_STRLEN, and it must survive a round trip:
 *    encode(decoded) succeeds, is no longer than the input (we never add
 *    headers Linux's packet did not need), decodes to the same fields, and
 *    encoding that again gives the same bytes.
 *
 * 2. As a description of a packet to build (fields read from the input one
 *    after another, the rest is the payload).  stk_wire_encode() must return
 *    a length or -EINVAL / -EMSGSIZE, and what it builds must decode to the
 *    fields it was given (after dropping the fields that do not belong to
 *    the protocol, and TTL 0 becoming 64).
 *
 * A broken property prints what broke and aborts, which libFuzzer (or the
 * replay driver) reports with the input that caused it.
 */
#include "fuzz.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "socktab/addr.h"
#include "stack/wire.h"

#define CHECK(cond, ...) do { \
		if (!(cond)) { \
			fprintf(stderr, "fuzz_wire: %s:%d: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__); \
			fputc('\n', stderr); \
			abort(); \
		} \
	} while (0)

static uint8_t out1[STK_WIRE_MAX], out2[STK_WIRE_MAX];

static bool is_icmp(const stk_pkt *p)
{
	return p->proto == STK_IPPROTO_ICMP || p->proto == STK_IPPROTO_ICMPV6;
}

static bool icmp_error(const stk_pkt *p)
{
	if (p->family == ST_AF_INET6)
		return p->icmp_type < 128;
	return p->icmp_type == 3 || p->icmp_type == 4 || p->icmp_type == 5 ||
	       p->icmp_type == 11 || p->icmp_type == 12;
}

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static void check_equal(const stk_pkt *a, const stk_pkt *b, const char *what)
{
#define F(f) CHECK(a->f == b->f, "%s: " #f " %llu != %llu", what, \
		   (unsigned long long)a->f, (unsigned long long)b->f)
	F(family); F(proto); F(ttl); F(sport); F(dport); F(seq); F(ack); F(flags); F(window);
	F(mss); F(wscale); F(sack_ok); F(has_ts); F(tsval); F(tsecr); F(icmp_type); F(icmp_code);
	F(inner.family); F(inner.proto); F(inner.sport); F(inner.dport); F(len);
#undef F
	CHECK(st_addr_equal(&a->src, &b->src), "%s: src", what);
	CHECK(st_addr_equal(&a->dst, &b->dst), "%s: dst", what);
	CHECK(st_addr_equal(&a->inner.src, &b->inner.src), "%s: inner.src", what);
	CHECK(st_addr_equal(&a->inner.dst, &b->inner.dst), "%s: inner.dst", what);
	CHECK(a->len == 0 || memcmp(a->payload, b->payload, a->len) == 0, "%s: payload", what);
}

/* The promises of wire.h about a decoded record. */
static void check_record(const stk_pkt *p, const uint8_t *in, size_t size)
{
	bool tcp = p->proto == STK_IPPROTO_TCP, udp = p->proto == STK_IPPROTO_UDP;

	CHECK(p->family == ST_AF_INET || p->family == ST_AF_INET6, "family %u", p->family);
	CHECK(tcp || udp || (p->family == ST_AF_INET ? p->proto == STK_IPPROTO_ICMP
						     : p->proto == STK_IPPROTO_ICMPV6),
	      "proto %u with family %u", p->proto, p->family);
	if (p->family == ST_AF_INET)
		CHECK(st_addr_is_v4mapped(&p->src) && st_addr_is_v4mapped(&p->dst), "v4 not mapped");
	CHECK(p->wscale <= 14 || p->wscale == 0xff, "wscale %u", p->wscale);
	if (p->len)
		CHECK(p->payload >= in && p->payload <= in + size &&
		      p->len <= (size_t)(in + size - p->payload), "payload outside the input");
	if (!tcp)
		CHECK(!p->seq && !p->ack && !p->flags && !p->window && !p->mss && p->wscale == 0xff &&
		      !p->sack_ok && !p->has_ts && !p->tsval && !p->tsecr, "TCP fields on non-TCP");
	if (!tcp && !udp)
		CHECK(!p->sport && !p->dport, "ports on ICMP");
	if (!is_icmp(p)) {
		CHECK(!p->icmp_type && !p->icmp_code && all_zero(&p->inner, sizeof(p->inner)),
		      "ICMP fields on TCP/UDP");
	} else if (icmp_error(p)) {
		CHECK(p->inner.family == p->family, "inner family %u", p->inner.family);
		CHECK(!p->payload && !p->len, "payload on an ICMP error");
		if (p->inner.proto != STK_IPPROTO_TCP && p->inner.proto != STK_IPPROTO_UDP)
			CHECK(!p->inner.sport && !p->inner.dport, "inner ports without TCP/UDP");
		if (p->family == ST_AF_INET)
			CHECK(st_addr_is_v4mapped(&p->inner.src) && st_addr_is_v4mapped(&p->inner.dst),
			      "inner v4 not mapped");
	} else {
		CHECK(all_zero(&p->inner, sizeof(p->inner)), "inner on informational ICMP");
		CHECK(p->len >= 4, "ICMP body %zu", p->len);
	}
}

static void check_format(const stk_pkt *p)
{
	char line[STK_WIRE_STRLEN], small[9];
	int n = stk_wire_format(p, line, sizeof(line));
	int m = stk_wire_format(p, small, sizeof(small));

	CHECK(n >= 0 && (size_t)n == strlen(line), "format length %d", n);
	CHECK((size_t)n < sizeof(line) - 1, "line may not fit STK_WIRE_STRLEN: %s", line);
	CHECK(m >= 0 && (size_t)m == strlen(small) && m <= n && memcmp(small, line, (size_t)m) == 0,
	      "short format is not a prefix");
}

static void decode_side(const uint8_t *data, size_t size)
{
	stk_pkt p, q, want;
	int rc, n1, n2;

	memset(&p, 0x5a, sizeof(p));
	rc = stk_wire_decode(data, size, &p);
	if (rc != 0) {
		CHECK(rc == -EBADMSG || rc == -EPROTONOSUPPORT, "decode returned %d", rc);
		return;
	}
	check_record(&p, data, size);
	check_format(&p);

	n1 = stk_wire_encode(&p, out1, sizeof(out1));
	CHECK(n1 > 0, "re-encoding a decoded packet failed: %d", n1);
	CHECK((size_t)n1 <= size, "re-encoding grew the packet: %d > %zu", n1, size);
	rc = stk_wire_decode(out1, (size_t)n1, &q);
	CHECK(rc == 0, "decoding our own encoding failed: %d", rc);
	want = p;
	if (want.ttl == 0)
		want.ttl = 64;
	check_equal(&want, &q, "decode(encode(decode(input)))");
	n2 = stk_wire_encode(&q, out2, sizeof(out2));
	CHECK(n2 == n1 && memcmp(out1, out2, (size_t)n1) == 0, "encoding is not stable");
}

/* ---- the input as a packet description ---------------------------------- */

typedef struct reader {
	const uint8_t *p;
	size_t n;
} reader;

static uint8_t r8(reader *r)
{
	uint8_t v = 0;

	if (r->n) {
		v = *r->p++;
		r->n--;
	}
	return v;
}

static uint16_t r16(reader *r)
{
	uint16_t hi = r8(r);

	return (uint16_t)(hi << 8 | r8(r));
}

static uint32_t r32(reader *r)
{
	uint32_t hi = r16(r);

	return hi << 16 | r16(r);
}

/* Mostly well-formed addresses for the family, sometimes anything. */
static st_addr raddr(reader *r, int family, bool raw)
{
	st_addr a;

	if (family == ST_AF_INET && !raw)
		return st_addr_v4(r32(r));
	for (int i = 0; i < 16; i++)
		a.b[i] = r8(r);
	return a;
}

static void encode_side(const uint8_t *data, size_t size)
{
	static const uint8_t protos[] = { STK_IPPROTO_TCP, STK_IPPROTO_UDP, STK_IPPROTO_ICMP,
					  STK_IPPROTO_ICMPV6 };
	reader r = { data, size };
	stk_pkt p, q;
	uint8_t sel, k;
	int n, rc;

	memset(&p, 0, sizeof(p));
	sel = r8(&r);
	p.family = (sel & 1) ? ST_AF_INET6 : ST_AF_INET;
	if ((sel & 0x0e) == 0x0e)
		p.family = r8(&r);                        /* any value */
	k = r8(&r);
	p.proto = (k & 0x80) ? k : protos[k % 4];
	p.ttl = r8(&r);
	p.src = raddr(&r, p.family, sel & 0x10);
	p.dst = raddr(&r, p.family, sel & 0x10);
	p.sport = r16(&r);
	p.dport = r16(&r);
	p.seq = r32(&r);
	p.ack = r32(&r);
	p.flags = r8(&r);
	p.window = r16(&r);
	p.mss = r16(&r);
	k = r8(&r);
	p.wscale = (k & 0x80) ? 0xff : (k & 0x40) ? k : (uint8_t)(k % 15);
	p.sack_ok = k & 0x20;
	p.has_ts = sel & 0x20;
	p.tsval = r32(&r);
	p.tsecr = r32(&r);
	p.icmp_type = r8(&r);
	p.icmp_code = r8(&r);
	k = r8(&r);
	p.inner.family = (k & 0x80) ? (uint8_t)(k & 0x7f) : p.family;
	p.inner.proto = (k & 0x40) ? r8(&r) : protos[k % 2];
	p.inner.src = raddr(&r, p.inner.family, sel & 0x40);
	p.inner.dst = raddr(&r, p.inner.family, sel & 0x40);
	p.inner.sport = r16(&r);
	p.inner.dport = r16(&r);
	p.payload = r.n ? r.p : NULL;
	p.len = r.n;
	if (sel & 0x80)
		p.payload = NULL;                         /* NULL with a length: -EINVAL */

	n = stk_wire_encode(&p, out1, sizeof(out1));
	if (n < 0) {
		CHECK(n == -EINVAL || n == -EMSGSIZE, "encode returned %d", n);
		return;
	}
	rc = stk_wire_decode(out1, (size_t)n, &q);
	CHECK(rc == 0, "decoding an encoded description failed: %d", rc);

	/* What should come back: the description minus what has no place on the wire. */
	if (p.ttl == 0)
		p.ttl = 64;
	if (p.proto != STK_IPPROTO_TCP) {
		p.seq = p.ack = 0;
		p.flags = 0;
		p.window = p.mss = 0;
		p.wscale = 0xff;
		p.sack_ok = p.has_ts = false;
	}
	if (!p.has_ts)
		p.tsval = p.tsecr = 0;
	if (is_icmp(&p)) {
		p.sport = p.dport = 0;
		if (icmp_error(&p)) {
			p.payload = NULL;
			p.len = 0;
		} else {
			memset(&p.inner, 0, sizeof(p.inner));
		}
	} else {
		p.icmp_type = p.icmp_code = 0;
		memset(&p.inner, 0, sizeof(p.inner));
	}
	check_record(&q, out1, (size_t)n);
	check_equal(&p, &q, "decode(encode(description))");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	decode_side(data, size);
	encode_side(data, size);
	return 0;
}
