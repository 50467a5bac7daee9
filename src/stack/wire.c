/*
 * src/stack/wire.c - encoding, decoding and printing packets (see wire.h).
 *
 * The decoder is written as a chain of bounded views: every stage receives
 * a pointer and a length it may read, checks the length before each access
 * and hands a narrower view to the next stage (IP -> extension headers ->
 * transport -> options, or -> quoted packet).  No stage ever computes an
 * offset it has not compared against its own view, so "never reads outside
 * [buf, buf+len)" follows from the shape of the code rather than from care
 * at each line; the fuzz target (fuzz/fuzz_wire.c) checks it under ASan.
 *
 * The encoder first computes every length, rejects what does not fit, and
 * only then writes, so a failing call never half-writes a packet the caller
 * might mistake for a good one (the contents of buf are unspecified on
 * error, but the return value is always negative).
 *
 * Checksums are the Internet checksum (RFC 1071): a 16-bit one's-complement
 * sum of big-endian words, odd trailing byte padded with zero.  The
 * pseudo-header of TCP/UDP/ICMPv6 is summed from the addresses as they go
 * on the wire (4 bytes for IPv4, 16 for IPv6), so a checksum computed here
 * is what a receiving kernel verifies.
 */
#include "stack/wire.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum {
	IP4_HLEN = 20,
	IP6_HLEN = 40,
	TCP_HLEN = 20,
	TCP_MAX_HLEN = 60,
	UDP_HLEN = 8,
	ICMP_HLEN = 8,       /* type, code, checksum, 4 bytes of "rest of header" */
	QUOTE_L4 = 8,        /* transport bytes an ICMP error must quote */
	IP_MAXLEN = 65535,
	TCP_MAX_WSCALE = 14, /* RFC 7323; Linux clamps larger values to this */
	DEFAULT_TTL = 64,
};

/* IPv6 next-header values the decoder walks over (or refuses). */
enum {
	NH_HOPOPTS = 0,
	NH_ROUTING = 43,
	NH_FRAGMENT = 44,
	NH_DSTOPTS = 60,
};

/* TCP option kinds (IANA). */
enum {
	OPT_EOL = 0,
	OPT_NOP = 1,
	OPT_MSS = 2,
	OPT_WSCALE = 3,
	OPT_SACK_PERM = 4,
	OPT_TS = 8,
};

/* ---- bytes ------------------------------------------------------------- */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* ---- checksums --------------------------------------------------------- */

/*
 * Adds n bytes to a running sum.  Only the last block of a checksum may
 * have an odd length (callers sum even-length pseudo-header pieces first),
 * so the pad byte never lands in the middle of the data.  A uint64_t cannot
 * overflow here: at most 2^16 + 40 bytes are summed.
 */
static uint64_t csum_add(uint64_t sum, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += get16(p + i);
	if (n & 1)
		sum += (uint64_t)p[n - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Sum of the TCP/UDP/ICMPv6 pseudo-header (RFC 793/768, RFC 8200 8.1). */
static uint64_t csum_pseudo(int family, const st_addr *src, const st_addr *dst,
			    uint8_t proto, size_t l4len)
{
	uint64_t sum = 0;

	if (family == ST_AF_INET) {
		sum = csum_add(sum, src->b + 12, 4);
		sum = csum_add(sum, dst->b + 12, 4);
		sum += proto;
		sum += (uint16_t)l4len;
	} else {
		sum = csum_add(sum, src->b, 16);
		sum = csum_add(sum, dst->b, 16);
		sum += (uint32_t)l4len >> 16;
		sum += (uint16_t)l4len;
		sum += proto;
	}
	return sum;
}

/* ---- small predicates shared by both directions ------------------------ */

static bool icmp_is_error(int family, uint8_t type)
{
	if (family == ST_AF_INET6)
		return type < 128; /* RFC 4443 2.1: error messages have the high bit clear */
	return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

static bool has_ports(uint8_t proto)
{
	return proto == STK_IPPROTO_TCP || proto == STK_IPPROTO_UDP;
}

static bool proto_fits_family(int family, uint8_t proto)
{
	if (proto == STK_IPPROTO_TCP || proto == STK_IPPROTO_UDP)
		return true;
	if (proto == STK_IPPROTO_ICMP)
		return family == ST_AF_INET;
	if (proto == STK_IPPROTO_ICMPV6)
		return family == ST_AF_INET6;
	return false;
}

static bool is_ext6(uint8_t nh)
{
	return nh == NH_HOPOPTS || nh == NH_ROUTING || nh == NH_FRAGMENT || nh == NH_DSTOPTS;
}

static void set_v4mapped(st_addr *a, const uint8_t *v4)
{
	memset(a->b, 0, 10);
	a->b[10] = 0xff;
	a->b[11] = 0xff;
	memcpy(a->b + 12, v4, 4);
}

/* ---- encoding ---------------------------------------------------------- */

static size_t tcp_optlen(const stk_pkt *p)
{
	size_t n = 0;

	if (p->mss)
		n += 4;
	if (p->has_ts)
		n += 12;                /* SACK-permitted rides in the TS word's padding */
	else if (p->sack_ok)
		n += 4;
	if (p->wscale != 0xff)
		n += 4;
	return n;
}

/*
 * Writes the options in the order and with the padding Linux uses
 * (tcp_options_write): MSS; SACK-permitted + timestamps, or NOP NOP
 * timestamps; NOP NOP SACK-permitted; NOP window scale.  Every option group
 * is a whole 32-bit word, so the header needs no trailing padding.
 */
static void tcp_write_opts(const stk_pkt *p, uint8_t *o)
{
	if (p->mss) {
		o[0] = OPT_MSS;
		o[1] = 4;
		put16(o + 2, p->mss);
		o += 4;
	}
	if (p->has_ts) {
		if (p->sack_ok) {
			o[0] = OPT_SACK_PERM;
			o[1] = 2;
		} else {
			o[0] = OPT_NOP;
			o[1] = OPT_NOP;
		}
		o[2] = OPT_TS;
		o[3] = 10;
		put32(o + 4, p->tsval);
		put32(o + 8, p->tsecr);
		o += 12;
	} else if (p->sack_ok) {
		o[0] = OPT_NOP;
		o[1] = OPT_NOP;
		o[2] = OPT_SACK_PERM;
		o[3] = 2;
		o += 4;
	}
	if (p->wscale != 0xff) {
		o[0] = OPT_NOP;
		o[1] = OPT_WSCALE;
		o[2] = 3;
		o[3] = p->wscale;
	}
}

/* Length of the quoted packet of an ICMP error: inner IP header + 8 bytes. */
static size_t quote_len(const stk_pkt *p)
{
	return (p->inner.family == ST_AF_INET ? IP4_HLEN : IP6_HLEN) + QUOTE_L4;
}

static void write_ip4(uint8_t *h, size_t total, uint8_t ttl, uint8_t proto,
		      const st_addr *src, const st_addr *dst)
{
	h[0] = 0x45;                      /* version 4, IHL 5 */
	h[1] = 0;                         /* TOS */
	put16(h + 2, (uint16_t)total);
	put16(h + 4, 0);                  /* id: 0 is fine with DF (RFC 6864) */
	put16(h + 6, 0x4000);             /* DF, offset 0 */
	h[8] = ttl;
	h[9] = proto;
	put16(h + 10, 0);
	memcpy(h + 12, src->b + 12, 4);
	memcpy(h + 16, dst->b + 12, 4);
	put16(h + 10, csum_fold(csum_add(0, h, IP4_HLEN)));
}

static void write_ip6(uint8_t *h, size_t plen, uint8_t hlim, uint8_t nh,
		      const st_addr *src, const st_addr *dst)
{
	put32(h, 0x60000000u);            /* version 6, class 0, flow 0 */
	put16(h + 4, (uint16_t)plen);
	h[6] = nh;
	h[7] = hlim;
	memcpy(h + 8, src->b, 16);
	memcpy(h + 24, dst->b, 16);
}

/* The quoted packet of an ICMP error: what the offender's first bytes were. */
static void write_quote(const stk_pkt *p, uint8_t *q)
{
	uint8_t *t;

	if (p->inner.family == ST_AF_INET) {
		write_ip4(q, IP4_HLEN + QUOTE_L4, DEFAULT_TTL, p->inner.proto,
			  &p->inner.src, &p->inner.dst);
		t = q + IP4_HLEN;
	} else {
		write_ip6(q, QUOTE_L4, DEFAULT_TTL, p->inner.proto, &p->inner.src, &p->inner.dst);
		t = q + IP6_HLEN;
	}
	memset(t, 0, QUOTE_L4);
	if (has_ports(p->inner.proto)) {
		put16(t, p->inner.sport);
		put16(t + 2, p->inner.dport);
		if (p->inner.proto == STK_IPPROTO_UDP)
			put16(t + 4, UDP_HLEN);   /* length of an empty datagram; checksum 0 */
	}
}

static int check_encodable(const stk_pkt *p)
{
	if (p->family != ST_AF_INET && p->family != ST_AF_INET6)
		return -EINVAL;
	if (!proto_fits_family(p->family, p->proto))
		return -EINVAL;
	if (p->family == ST_AF_INET &&
	    (!st_addr_is_v4mapped(&p->src) || !st_addr_is_v4mapped(&p->dst)))
		return -EINVAL;
	if (p->proto == STK_IPPROTO_TCP && p->wscale > TCP_MAX_WSCALE && p->wscale != 0xff)
		return -EINVAL;
	if ((p->proto == STK_IPPROTO_ICMP || p->proto == STK_IPPROTO_ICMPV6) &&
	    icmp_is_error(p->family, p->icmp_type)) {
		if (p->inner.family != p->family)
			return -EINVAL;
		if (p->inner.family == ST_AF_INET &&
		    (!st_addr_is_v4mapped(&p->inner.src) || !st_addr_is_v4mapped(&p->inner.dst)))
			return -EINVAL;
		if (!has_ports(p->inner.proto) && (p->inner.sport || p->inner.dport))
			return -EINVAL;
		/* In IPv6 these numbers announce an extension header, not a transport. */
		if (p->inner.family == ST_AF_INET6 && is_ext6(p->inner.proto))
			return -EINVAL;
		return 0;
	}
	if (p->len > 0 && !p->payload)
		return -EINVAL;
	if ((p->proto == STK_IPPROTO_ICMP || p->proto == STK_IPPROTO_ICMPV6) && p->len < 4)
		return -EINVAL;
	return 0;
}

int stk_wire_encode(const stk_pkt *p, uint8_t *buf, size_t cap)
{
	size_t iph, th, dlen, l4len, total;
	const uint8_t *data;
	uint8_t *l4;
	uint8_t ttl;
	bool icmp_err;
	int rc;

	if (!p || !buf)
		return -EINVAL;
	rc = check_encodable(p);
	if (rc)
		return rc;

	iph = p->family == ST_AF_INET ? IP4_HLEN : IP6_HLEN;
	icmp_err = (p->proto == STK_IPPROTO_ICMP || p->proto == STK_IPPROTO_ICMPV6) &&
		   icmp_is_error(p->family, p->icmp_type);
	data = p->payload;
	dlen = p->len;
	switch (p->proto) {
	case STK_IPPROTO_TCP:
		th = TCP_HLEN + tcp_optlen(p);
		break;
	case STK_IPPROTO_UDP:
		th = UDP_HLEN;
		break;
	default: /* ICMP, ICMPv6 */
		if (icmp_err) {
			th = ICMP_HLEN + quote_len(p);
			data = NULL;
			dlen = 0;
		} else {
			th = 4; /* the rest of the header is the caller's payload */
		}
		break;
	}
	/* Compare before adding, so that a huge len cannot wrap the sums. */
	if (dlen > IP_MAXLEN)
		return -EMSGSIZE;
	l4len = th + dlen;
	if (p->family == ST_AF_INET ? iph + l4len > IP_MAXLEN : l4len > IP_MAXLEN)
		return -EMSGSIZE;
	total = iph + l4len;
	if (total > cap)
		return -EMSGSIZE;

	l4 = buf + iph;
	/* Data first: the payload may live inside buf (a forwarded packet). */
	if (dlen)
		memmove(l4 + th, data, dlen);
	ttl = p->ttl ? p->ttl : DEFAULT_TTL;
	if (p->family == ST_AF_INET)
		write_ip4(buf, total, ttl, p->proto, &p->src, &p->dst);
	else
		write_ip6(buf, l4len, ttl, p->proto, &p->src, &p->dst);

	switch (p->proto) {
	case STK_IPPROTO_TCP: {
		uint64_t sum;

		put16(l4, p->sport);
		put16(l4 + 2, p->dport);
		put32(l4 + 4, p->seq);
		put32(l4 + 8, p->ack);
		l4[12] = (uint8_t)((th / 4) << 4);
		l4[13] = p->flags;
		put16(l4 + 14, p->window);
		put16(l4 + 16, 0);
		put16(l4 + 18, 0);          /* urgent pointer */
		tcp_write_opts(p, l4 + TCP_HLEN);
		sum = csum_pseudo(p->family, &p->src, &p->dst, STK_IPPROTO_TCP, l4len);
		put16(l4 + 16, csum_fold(csum_add(sum, l4, l4len)));
		break;
	}
	case STK_IPPROTO_UDP: {
		uint64_t sum;
		uint16_t c;

		put16(l4, p->sport);
		put16(l4 + 2, p->dport);
		put16(l4 + 4, (uint16_t)l4len);
		put16(l4 + 6, 0);
		sum = csum_pseudo(p->family, &p->src, &p->dst, STK_IPPROTO_UDP, l4len);
		c = csum_fold(csum_add(sum, l4, l4len));
		/* 0 on the wire means "no checksum" (RFC 768); its stand-in is 0xffff. */
		put16(l4 + 6, c ? c : 0xffff);
		break;
	}
	default: {
		uint64_t sum = 0;

		l4[0] = p->icmp_type;
		l4[1] = p->icmp_code;
		put16(l4 + 2, 0);
		if (icmp_err) {
			put32(l4 + 4, 0);
			write_quote(p, l4 + ICMP_HLEN);
		}
		if (p->proto == STK_IPPROTO_ICMPV6)
			sum = csum_pseudo(p->family, &p->src, &p->dst, STK_IPPROTO_ICMPV6, l4len);
		put16(l4 + 2, csum_fold(csum_add(sum, l4, l4len)));
		break;
	}
	}
	return (int)total;
}

/* ---- decoding ---------------------------------------------------------- */

/* An IP header, once parsed: where the transport part is and what it is. */
typedef struct ipview {
	int family;
	uint8_t proto, ttl;
	st_addr src, dst;
	const uint8_t *l4;
	size_t l4len;
} ipview;

/*
 * Walks IPv6 extension headers in [b + *off, b + end).  *nh is the next
 * header value that introduced b + *off; on return it names the upper layer
 * found at the new *off.  Hop-by-hop options are only valid right after the
 * fixed header (RFC 8200 4.1; Linux drops the packet otherwise).  A routing
 * header with segments left is a packet to forward, not to deliver, so the
 * outer decoder refuses it; in a quoted packet (`quoted`) it is what we sent
 * and is skipped.
 */
static int skip_ext6(const uint8_t *b, size_t end, uint8_t *nh, size_t *off, bool quoted)
{
	size_t o = *off;
	uint8_t n = *nh;
	bool first = true;

	for (;;) {
		size_t hl;

		if (n == NH_FRAGMENT)
			return -EPROTONOSUPPORT;
		if (n != NH_HOPOPTS && n != NH_ROUTING && n != NH_DSTOPTS)
			break;
		if (n == NH_HOPOPTS && !first)
			return -EBADMSG;
		if (end - o < 8)            /* every extension header is >= 8 bytes */
			return -EBADMSG;
		hl = ((size_t)b[o + 1] + 1) * 8;
		if (end - o < hl)
			return -EBADMSG;
		if (n == NH_ROUTING && b[o + 3] != 0 && !quoted)
			return -EPROTONOSUPPORT;
		n = b[o];
		o += hl;
		first = false;
	}
	*nh = n;
	*off = o;
	return 0;
}

static int parse_ip4(const uint8_t *b, size_t len, ipview *v)
{
	size_t ihl, tot;
	uint16_t frag;

	if (len < IP4_HLEN)
		return -EBADMSG;
	ihl = (size_t)(b[0] & 0x0f) * 4;
	if (ihl < IP4_HLEN || ihl > len)
		return -EBADMSG;
	tot = get16(b + 2);
	if (tot < ihl || tot > len)
		return -EBADMSG;
	if (csum_fold(csum_add(0, b, ihl)) != 0)
		return -EBADMSG;
	frag = get16(b + 6);
	if ((frag & 0x2000) || (frag & 0x1fff))  /* MF, or a non-zero offset */
		return -EPROTONOSUPPORT;
	v->family = ST_AF_INET;
	v->ttl = b[8];
	v->proto = b[9];
	set_v4mapped(&v->src, b + 12);
	set_v4mapped(&v->dst, b + 16);
	v->l4 = b + ihl;                      /* options, if any, are skipped */
	v->l4len = tot - ihl;
	return 0;
}

static int parse_ip6(const uint8_t *b, size_t len, ipview *v)
{
	size_t end, off = IP6_HLEN;
	uint8_t nh;
	int rc;

	if (len < IP6_HLEN)
		return -EBADMSG;
	end = IP6_HLEN + (size_t)get16(b + 4);
	if (end > len)
		return -EBADMSG;
	nh = b[6];
	rc = skip_ext6(b, end, &nh, &off, false);
	if (rc)
		return rc;
	v->family = ST_AF_INET6;
	v->ttl = b[7];
	v->proto = nh;
	memcpy(v->src.b, b + 8, 16);
	memcpy(v->dst.b, b + 24, 16);
	v->l4 = b + off;
	v->l4len = end - off;
	return 0;
}

static uint16_t l4_csum(const ipview *v, size_t n)
{
	uint64_t sum = 0;

	if (v->proto != STK_IPPROTO_ICMP)
		sum = csum_pseudo(v->family, &v->src, &v->dst, v->proto, n);
	return csum_fold(csum_add(sum, v->l4, n));
}

/*
 * TCP options in [o, o + n).  Structure errors (a length byte missing, a
 * length below 2 or past the header) make the segment malformed; a known
 * kind with an unexpected length is skipped like an unknown one, which is
 * what Linux's tcp_parse_options does with it.
 */
static int parse_tcp_opts(const uint8_t *o, size_t n, stk_pkt *p)
{
	size_t i = 0;

	while (i < n) {
		uint8_t kind = o[i], olen;

		if (kind == OPT_EOL)
			break;
		if (kind == OPT_NOP) {
			i++;
			continue;
		}
		if (n - i < 2)
			return -EBADMSG;
		olen = o[i + 1];
		if (olen < 2 || olen > n - i)
			return -EBADMSG;
		switch (kind) {
		case OPT_MSS:
			if (olen == 4)
				p->mss = get16(o + i + 2);
			break;
		case OPT_WSCALE:
			if (olen == 3)
				p->wscale = o[i + 2] > TCP_MAX_WSCALE ? TCP_MAX_WSCALE : o[i + 2];
			break;
		case OPT_SACK_PERM:
			if (olen == 2)
				p->sack_ok = true;
			break;
		case OPT_TS:
			if (olen == 10) {
				p->has_ts = true;
				p->tsval = get32(o + i + 2);
				p->tsecr = get32(o + i + 6);
			}
			break;
		default:
			break;
		}
		i += olen;
	}
	return 0;
}

static int parse_tcp(const ipview *v, stk_pkt *p)
{
	const uint8_t *t = v->l4;
	size_t doff;
	int rc;

	if (v->l4len < TCP_HLEN)
		return -EBADMSG;
	doff = (size_t)(t[12] >> 4) * 4;
	if (doff < TCP_HLEN || doff > v->l4len)
		return -EBADMSG;
	if (l4_csum(v, v->l4len) != 0)
		return -EBADMSG;
	p->sport = get16(t);
	p->dport = get16(t + 2);
	p->seq = get32(t + 4);
	p->ack = get32(t + 8);
	p->flags = t[13];
	p->window = get16(t + 14);
	rc = parse_tcp_opts(t + TCP_HLEN, doff - TCP_HLEN, p);
	if (rc)
		return rc;
	p->payload = t + doff;
	p->len = v->l4len - doff;
	return 0;
}

static int parse_udp(const ipview *v, stk_pkt *p)
{
	const uint8_t *u = v->l4;
	size_t ulen;
	uint16_t c;

	if (v->l4len < UDP_HLEN)
		return -EBADMSG;
	ulen = get16(u + 4);
	if (ulen < UDP_HLEN || ulen > v->l4len)
		return -EBADMSG;
	c = get16(u + 6);
	if (c == 0) {
		/* "No checksum" exists only for IPv4 (RFC 8200 8.1). */
		if (v->family == ST_AF_INET6)
			return -EBADMSG;
	} else if (l4_csum(v, ulen) != 0) {
		return -EBADMSG;
	}
	p->sport = get16(u);
	p->dport = get16(u + 2);
	p->payload = u + UDP_HLEN;
	p->len = ulen - UDP_HLEN;
	return 0;
}

/*
 * The packet quoted by an ICMP error.  Only its addresses, protocol and
 * ports matter, and it is usually truncated, so its lengths and checksums
 * are not checked; what must be there is what Linux pulls before looking up
 * the socket: the IP header (with its extension headers) and 8 bytes of
 * transport header.
 */
static int parse_quote(int family, const uint8_t *q, size_t n, stk_pkt *p)
{
	size_t off;
	uint8_t proto;

	if (family == ST_AF_INET) {
		if (n < IP4_HLEN || (q[0] >> 4) != 4)
			return -EBADMSG;
		off = (size_t)(q[0] & 0x0f) * 4;
		if (off < IP4_HLEN || off > n)
			return -EBADMSG;
		proto = q[9];
		set_v4mapped(&p->inner.src, q + 12);
		set_v4mapped(&p->inner.dst, q + 16);
	} else {
		int rc;

		if (n < IP6_HLEN || (q[0] >> 4) != 6)
			return -EBADMSG;
		off = IP6_HLEN;
		proto = q[6];
		rc = skip_ext6(q, n, &proto, &off, true);
		if (rc)
			return rc;
		memcpy(p->inner.src.b, q + 8, 16);
		memcpy(p->inner.dst.b, q + 24, 16);
	}
	if (n - off < QUOTE_L4)
		return -EBADMSG;
	p->inner.family = (uint8_t)family;
	p->inner.proto = proto;
	if (has_ports(proto)) {
		p->inner.sport = get16(q + off);
		p->inner.dport = get16(q + off + 2);
	}
	return 0;
}

static int parse_icmp(const ipview *v, stk_pkt *p)
{
	const uint8_t *m = v->l4;

	if (v->l4len < ICMP_HLEN)
		return -EBADMSG;
	if (l4_csum(v, v->l4len) != 0)
		return -EBADMSG;
	p->icmp_type = m[0];
	p->icmp_code = m[1];
	if (icmp_is_error(v->family, m[0]))
		return parse_quote(v->family, m + ICMP_HLEN, v->l4len - ICMP_HLEN, p);
	p->payload = m + 4;
	p->len = v->l4len - 4;
	return 0;
}

int stk_wire_decode(const uint8_t *buf, size_t len, stk_pkt *out)
{
	ipview v;
	stk_pkt p;
	int rc;

	if (!out || (!buf && len > 0))
		return -EINVAL;
	if (len < 1)
		return -EBADMSG;
	memset(&v, 0, sizeof(v));
	switch (buf[0] >> 4) {
	case 4:
		rc = parse_ip4(buf, len, &v);
		break;
	case 6:
		rc = parse_ip6(buf, len, &v);
		break;
	default:
		rc = -EBADMSG;
		break;
	}
	if (rc)
		return rc;
	if (!proto_fits_family(v.family, v.proto))
		return -EPROTONOSUPPORT;

	memset(&p, 0, sizeof(p));
	p.family = (uint8_t)v.family;
	p.proto = v.proto;
	p.ttl = v.ttl;
	p.src = v.src;
	p.dst = v.dst;
	p.wscale = 0xff;
	switch (v.proto) {
	case STK_IPPROTO_TCP:
		rc = parse_tcp(&v, &p);
		break;
	case STK_IPPROTO_UDP:
		rc = parse_udp(&v, &p);
		break;
	default:
		rc = parse_icmp(&v, &p);
		break;
	}
	if (rc)
		return rc;
	*out = p;
	return 0;
}

/* ---- text -------------------------------------------------------------- */

/* An appender that never overruns and remembers how much it wrote. */
typedef struct textbuf {
	char *buf;
	size_t cap, used;
} textbuf;

static void tb_puts(textbuf *t, const char *s)
{
	while (*s && t->cap > 0 && t->used + 1 < t->cap)
		t->buf[t->used++] = *s++;
	if (t->cap > 0)
		t->buf[t->used] = '\0';
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void tb_printf(textbuf *t, const char *fmt, ...)
{
	char tmp[96];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	tb_puts(t, tmp);
}

static void tb_addr(textbuf *t, const st_addr *a, int family)
{
	char s[ST_ADDR_STRLEN];

	if (st_addr_format(a, family, s, sizeof(s)) < 0)
		snprintf(s, sizeof(s), "?");
	tb_puts(t, s);
}

static void tb_endpoint(textbuf *t, const st_addr *a, int family, uint16_t port)
{
	if (family == ST_AF_INET6)
		tb_puts(t, "[");
	tb_addr(t, a, family);
	tb_printf(t, "%s:%u", family == ST_AF_INET6 ? "]" : "", (unsigned)port);
}

static const char *proto_name(int family, uint8_t proto)
{
	switch (proto) {
	case STK_IPPROTO_TCP:
		return "TCP";
	case STK_IPPROTO_UDP:
		return "UDP";
	case STK_IPPROTO_ICMP:
		return family == ST_AF_INET ? "ICMP" : NULL;
	case STK_IPPROTO_ICMPV6:
		return family == ST_AF_INET6 ? "ICMP6" : NULL;
	default:
		return NULL;
	}
}

static const char *icmp4_name(uint8_t type, uint8_t code)
{
	static const char *const unreach[] = {
		"net unreachable", "host unreachable", "protocol unreachable",
		"port unreachable", "fragmentation needed", "source route failed",
	};

	switch (type) {
	case 0: return "echo reply";
	case 3: return code < sizeof(unreach) / sizeof(unreach[0]) ? unreach[code] : NULL;
	case 4: return "source quench";
	case 5: return "redirect";
	case 8: return "echo request";
	case 11: return "time exceeded";
	case 12: return "parameter problem";
	default: return NULL;
	}
}

static const char *icmp6_name(uint8_t type, uint8_t code)
{
	static const char *const unreach[] = {
		"no route", "admin prohibited", "beyond scope", "address unreachable",
		"port unreachable",
	};

	switch (type) {
	case 1: return code < sizeof(unreach) / sizeof(unreach[0]) ? unreach[code] : NULL;
	case 2: return "packet too big";
	case 3: return "time exceeded";
	case 4: return "parameter problem";
	case 128: return "echo request";
	case 129: return "echo reply";
	default: return NULL;
	}
}

static void format_tcp(textbuf *t, const stk_pkt *p)
{
	static const struct { uint8_t bit; char c; } fl[] = {
		{ STK_TH_FIN, 'F' }, { STK_TH_SYN, 'S' }, { STK_TH_RST, 'R' }, { STK_TH_PSH, 'P' },
		{ STK_TH_ACK, '.' }, { STK_TH_URG, 'U' }, { STK_TH_ECE, 'E' }, { STK_TH_CWR, 'W' },
	};
	char f[12];
	size_t i, n = 0;

	for (i = 0; i < sizeof(fl) / sizeof(fl[0]); i++)
		if (p->flags & fl[i].bit)
			f[n++] = fl[i].c;
	f[n] = '\0';
	tb_printf(t, " [%s] seq %lu", n ? f : "none", (unsigned long)p->seq);
	if (p->flags & STK_TH_ACK)
		tb_printf(t, " ack %lu", (unsigned long)p->ack);
	tb_printf(t, " win %u", (unsigned)p->window);
	if (p->mss)
		tb_printf(t, " mss %u", (unsigned)p->mss);
	if (p->wscale != 0xff)
		tb_printf(t, " wscale %u", (unsigned)p->wscale);
	if (p->sack_ok)
		tb_puts(t, " sackOK");
	if (p->has_ts)
		tb_printf(t, " TS val %lu ecr %lu", (unsigned long)p->tsval, (unsigned long)p->tsecr);
	if (p->len)
		tb_printf(t, " len %zu", p->len);
}

static void format_icmp(textbuf *t, const stk_pkt *p, const char *pname)
{
	const char *name = p->family == ST_AF_INET ? icmp4_name(p->icmp_type, p->icmp_code)
						   : icmp6_name(p->icmp_type, p->icmp_code);

	tb_puts(t, pname);
	if (name)
		tb_printf(t, " %s ", name);
	else
		tb_printf(t, " type %u code %u ", (unsigned)p->icmp_type, (unsigned)p->icmp_code);
	tb_addr(t, &p->src, p->family);
	tb_puts(t, " > ");
	tb_addr(t, &p->dst, p->family);
	if (!icmp_is_error(p->family, p->icmp_type)) {
		tb_printf(t, " len %zu", p->len);
		return;
	}
	if (has_ports(p->inner.proto)) {
		tb_printf(t, " (%s ", proto_name(p->inner.family, p->inner.proto));
		tb_endpoint(t, &p->inner.src, p->inner.family, p->inner.sport);
		tb_puts(t, " > ");
		tb_endpoint(t, &p->inner.dst, p->inner.family, p->inner.dport);
	} else {
		const char *in = proto_name(p->inner.family, p->inner.proto);

		if (in)
			tb_printf(t, " (%s ", in);
		else
			tb_printf(t, " (proto %u ", (unsigned)p->inner.proto);
		tb_addr(t, &p->inner.src, p->inner.family);
		tb_puts(t, " > ");
		tb_addr(t, &p->inner.dst, p->inner.family);
	}
	tb_puts(t, ")");
}

int stk_wire_format(const stk_pkt *p, char *buf, size_t len)
{
	textbuf t = { buf, len, 0 };
	const char *pname;

	if (!p || (!buf && len > 0))
		return -EINVAL;
	if (len > 0)
		buf[0] = '\0';
	if (p->family != ST_AF_INET && p->family != ST_AF_INET6) {
		tb_printf(&t, "bad family %u", (unsigned)p->family);
		return (int)t.used;
	}
	pname = proto_name(p->family, p->proto);
	if (!pname) {
		tb_printf(&t, "IP proto %u ", (unsigned)p->proto);
		tb_addr(&t, &p->src, p->family);
		tb_puts(&t, " > ");
		tb_addr(&t, &p->dst, p->family);
		return (int)t.used;
	}
	if (p->proto == STK_IPPROTO_ICMP || p->proto == STK_IPPROTO_ICMPV6) {
		format_icmp(&t, p, pname);
		return (int)t.used;
	}
	tb_printf(&t, "%s ", pname);
	tb_endpoint(&t, &p->src, p->family, p->sport);
	tb_puts(&t, " > ");
	tb_endpoint(&t, &p->dst, p->family, p->dport);
	if (p->proto == STK_IPPROTO_TCP)
		format_tcp(&t, p);
	else
		tb_printf(&t, " len %zu", p->len);
	return (int)t.used;
}
