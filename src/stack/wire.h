/*
 * src/stack/wire.h - IPv4/IPv6 + TCP/UDP/ICMP packets in real wire format.
 *
 * The simulated hosts talk to each other with the same bytes Linux would put
 * on a link: an IP header, a transport header and data, with every checksum
 * right.  Doing it for real (instead of passing structs around) buys three
 * things: a capture of a simulation opens in Wireshark (src/sim/pcap.h), the
 * receive path of the stack has to cope with exactly the malformed input a
 * kernel copes with, and the decoder can be fuzzed in isolation.
 *
 * This file owns the translation between bytes and one flat record,
 * stk_pkt, and nothing else: no routing, no sockets, no TCP state.  The
 * record is flat on purpose (every field a scalar, the quoted packet of an
 * ICMP error a small embedded struct) so that a caller can build a packet
 * with a designated initializer and compare two decoded packets field by
 * field.  It holds what socktab's rules can observe, not every header bit:
 * TOS/traffic class, flow label, IP id and URG pointer are written as zero
 * and ignored on input, SACK blocks are skipped.
 *
 * Encoding writes the headers Linux writes (IPv4 with DF and id 0, IPv6
 * without extension headers, TCP options in Linux's order and padding), so
 * encoder output can be compared byte for byte with captured Linux packets.
 * Decoding is strict where the kernel is strict (lengths, checksums) and
 * tolerant where it is tolerant (IPv4 options, IPv6 extension headers,
 * trailing bytes after the IP total length, unknown TCP options).
 */
#ifndef SOCKTAB_STACK_WIRE_H
#define SOCKTAB_STACK_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "socktab/addr.h"

/* IP protocol numbers (IANA), as in the IPv4 protocol / IPv6 next header. */
enum { STK_IPPROTO_ICMP = 1, STK_IPPROTO_TCP = 6, STK_IPPROTO_UDP = 17, STK_IPPROTO_ICMPV6 = 58 };

/* TCP header flag bits (byte 13 of the header). */
enum { STK_TH_FIN = 0x01, STK_TH_SYN = 0x02, STK_TH_RST = 0x04, STK_TH_PSH = 0x08,
       STK_TH_ACK = 0x10, STK_TH_URG = 0x20, STK_TH_ECE = 0x40, STK_TH_CWR = 0x80 };

enum { STK_WIRE_MAX = 65535 + 40 };   /* largest packet we build */

/* A buffer of this size always holds a whole stk_wire_format() line. */
enum { STK_WIRE_STRLEN = 256 };

/*
 * One packet.  Invariants of a decoded record (and requirements for
 * encoding):
 *   - family is ST_AF_INET or ST_AF_INET6; for ST_AF_INET, src and dst are
 *     v4-mapped (::ffff:a.b.c.d).
 *   - proto is TCP or UDP for either family, ICMP only with ST_AF_INET,
 *     ICMPV6 only with ST_AF_INET6.
 *   - Fields that do not belong to proto are zero after decoding (wscale
 *     0xff) and ignored by encoding.
 *   - wscale is 0..14 or 0xff; a wire value above 14 decodes as 14, which
 *     is what Linux uses (tcp_parse_options clamps it), and encoding refuses
 *     15..254.
 *   - mss 0 means "absent": an MSS option with the value 0 decodes as
 *     absent, as Linux ignores it.
 *
 * ICMP messages come in two shapes:
 *   - errors (ICMPv4 types 3, 4, 5, 11, 12; ICMPv6 types below 128): the
 *     quoted packet is in `inner` (inner.family = the outer family) and
 *     payload/len are NULL/0.  Only ports are taken from the quoted
 *     transport header, and only for TCP and UDP (other inner protocols
 *     have inner ports 0).  The 4 bytes after the checksum (unused, MTU,
 *     pointer, gateway) are written as zero and ignored.
 *   - everything else (echo, ...): inner is all zero and the payload is
 *     everything after type, code and checksum (for echo: identifier,
 *     sequence, data), at least 4 bytes.
 */
typedef struct stk_pkt {
	uint8_t family;        /* ST_AF_INET or ST_AF_INET6 (the IP header) */
	uint8_t proto;         /* STK_IPPROTO_* */
	uint8_t ttl;           /* TTL / hop limit; 0 on encode means 64 */
	st_addr src, dst;      /* IPv4 kept v4-mapped, as everywhere in socktab */
	uint16_t sport, dport; /* TCP/UDP, host order */
	/* TCP */
	uint32_t seq, ack;
	uint8_t flags;         /* STK_TH_* */
	uint16_t window;       /* raw 16-bit field */
	uint16_t mss;          /* option, 0 = absent */
	uint8_t wscale;        /* option, 0xff = absent */
	bool sack_ok;
	bool has_ts; uint32_t tsval, tsecr;
	/* ICMP / ICMPv6 */
	uint8_t icmp_type, icmp_code;
	struct {               /* the offending packet quoted in an error */
		uint8_t family, proto;
		st_addr src, dst;
		uint16_t sport, dport;
	} inner;
	/* payload (TCP/UDP data); on decode points into the input buffer */
	const uint8_t *payload;
	size_t len;
} stk_pkt;

/*
 * Builds IP header + transport header (+ options) + payload with correct
 * checksums (IPv4 header checksum, TCP/UDP/ICMPv6 pseudo-header checksums,
 * ICMP checksum).  For ICMP errors (v4: type 3 code 3 port unreachable; v6:
 * type 1 code 4, or any other error type) the quoted part is built from
 * `inner` as an IP header + the first 8 bytes of the transport header
 * (ports; checksum 0), and payload is ignored.  IPv4 packets carry DF and
 * id 0.  The payload may overlap buf.
 *
 * Returns the length, or a negative errno: -EINVAL (NULL arguments, bad
 * family/proto, IPv4 addresses not v4-mapped, inner family not the outer
 * family, ports on a non-TCP/UDP inner packet, an IPv6 inner protocol that
 * is an extension header number (0, 43, 44, 60), wscale 15..254, payload NULL
 * with len > 0, informational ICMP payload shorter than 4 bytes), -EMSGSIZE
 * (doesn't fit cap, or the IP/UDP length fields would exceed 65535).
 * Nothing beyond the returned length is written; on error buf's contents
 * are unspecified.
 */
int stk_wire_encode(const stk_pkt *p, uint8_t *buf, size_t cap);

/*
 * Parses one packet.  Validates version, header lengths, total length vs
 * buffer (trailing bytes beyond total length ignored), IPv4 header
 * checksum, fragments (reject: -EPROTONOSUPPORT), IPv4 options (skip), IPv6
 * extension headers (skip hop-by-hop, which must come first, routing with
 * segments left 0, and destination options; reject the fragment header and
 * a routing header still to be processed: -EPROTONOSUPPORT), TCP data
 * offset and options (MSS, wscale, SACK-permitted, timestamps, NOP/EOL;
 * unknown kinds and known kinds of the wrong length are skipped by length,
 * as Linux does; an option running past the header -> -EBADMSG), TCP/UDP/
 * ICMP checksums (-EBADMSG on mismatch; UDP over IPv4 checksum 0 = none,
 * over IPv6 -EBADMSG), the UDP length (shorter than the IP payload:
 * trailing bytes ignored; longer or < 8: -EBADMSG), ICMP error quoting
 * (fill inner; the quote must hold the inner IP header and 8 bytes of
 * transport, as Linux requires before it looks up a socket).  Unknown
 * protocols: -EPROTONOSUPPORT.  Other malformed input: -EBADMSG; NULL
 * out, or NULL buf with len > 0: -EINVAL.  Never reads outside
 * [buf, buf+len).  Returns 0 and fills *out only on success.
 */
int stk_wire_decode(const uint8_t *buf, size_t len, stk_pkt *out);

/*
 * One line of text for logs and --explain:
 *   "TCP 127.0.0.1:40000 > 127.0.0.1:8080 [S] seq 1 win 65535 mss 65495"
 *   "UDP [::1]:5 > [::1]:6 len 3"
 *   "ICMP port unreachable 127.0.0.1 > 127.0.0.1 (UDP 127.0.0.1:1 > 127.0.0.1:2)"
 * TCP flags as tcpdump writes them (F S R P . U E W, "." = ACK); then
 * "ack N" when ACK is set, "win N", the options present (mss N, wscale N,
 * sackOK, TS val N ecr N) and "len N" when there is data.  Returns the
 * length written (excluding the NUL; shorter than the whole line when len
 * is too small), always NUL-terminated if len>0; -EINVAL if p is NULL, or
 * buf is NULL with len > 0.
 */
int stk_wire_format(const stk_pkt *p, char *buf, size_t len);

#endif
