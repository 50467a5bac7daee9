/*
 * socktab/addr.h - addresses as the socket tables see them.
 *
 * Every address is stored the way Linux stores sk_v6_rcv_saddr: 16 bytes,
 * with IPv4 kept as the v4-mapped form ::ffff:a.b.c.d.  One representation
 * means one comparison routine, and it makes rule A2 (a v4-mapped address
 * and the same AF_INET address are the same address) a plain byte compare.
 * The family of the *socket* is kept elsewhere; an st_addr is just a point
 * in the union of both address spaces.
 *
 * st_sockaddr is the argument of bind()/connect(): it mirrors the fields of
 * sockaddr_in / sockaddr_in6 (family, port, flow info, address, scope id)
 * and travels with an explicit length so that the kernel's length checks
 * (B1, B10, C-T1) can be reproduced to the errno.
 */
#ifndef SOCKTAB_ADDR_H
#define SOCKTAB_ADDR_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Address families, with Linux's numbers so errno tables read the same. */
enum {
	ST_AF_UNSPEC = 0,
	ST_AF_INET = 2,
	ST_AF_INET6 = 10,
};

/* Length of the kernel's sockaddr structures, for the length checks. */
enum {
	ST_SOCKADDR_IN_LEN = 16,       /* sizeof(struct sockaddr_in) */
	ST_SOCKADDR_IN6_LEN_RFC2133 = 24, /* sockaddr_in6 without scope id */
	ST_SOCKADDR_IN6_LEN = 28,      /* sizeof(struct sockaddr_in6) */
};

/* A 16-byte address, network byte order; IPv4 as ::ffff:a.b.c.d. */
typedef struct st_addr {
	uint8_t b[16];
} st_addr;

/*
 * A socket address as handed to bind()/connect().  `family` is the
 * sa_family field as the caller wrote it (it may be wrong on purpose:
 * that is what the errno checks are for).  For ST_AF_INET only the IPv4
 * part of `addr` matters; it is stored v4-mapped like everything else.
 * `port` is in host byte order.
 */
typedef struct st_sockaddr {
	uint16_t family;
	uint16_t port;
	uint32_t flowinfo;
	uint32_t scope_id;
	st_addr addr;
} st_sockaddr;

/* Constructors.  v4 takes host-order a.b.c.d as 0xaabbccdd. */
st_addr st_addr_v4(uint32_t host_order);
st_addr st_addr_any6(void);               /* :: */
uint32_t st_addr_get_v4(const st_addr *a); /* host order, low 32 bits */

bool st_addr_equal(const st_addr *a, const st_addr *b);
bool st_addr_is_v4mapped(const st_addr *a); /* ::ffff:0:0/96          */
bool st_addr_is_any6(const st_addr *a);     /* ::                     */
bool st_addr_is_any4(const st_addr *a);     /* ::ffff:0.0.0.0         */
bool st_addr_is_loopback(const st_addr *a); /* 127/8 (mapped) or ::1  */
bool st_addr_is_multicast(const st_addr *a); /* 224/4 (mapped) or ff00::/8 */
bool st_addr_is_v4_limited_broadcast(const st_addr *a); /* 255.255.255.255 */
/* IPv6 addresses that need a scope: fe80::/10 and ff01::/16, ff02::/16. */
bool st_addr_needs_scope(const st_addr *a);

/*
 * Text forms, as the scenario language writes them:
 *   "127.0.0.1"  "::1"  "::ffff:127.0.0.1"  "fe80::1"
 * st_addr_parse accepts either family and reports which one it saw
 * (ST_AF_INET or ST_AF_INET6).  Returns 0 or -EINVAL.
 */
int st_addr_parse(const char *text, st_addr *out, int *family_out);
/* Formats as the family says: ST_AF_INET as dotted quad, ST_AF_INET6 in
 * RFC 5952 form (v4-mapped written ::ffff:a.b.c.d).  Returns the length
 * written (excluding NUL), always NUL-terminates when len > 0. */
int st_addr_format(const st_addr *a, int family, char *buf, size_t len);
enum { ST_ADDR_STRLEN = 46, ST_SOCKADDR_STRLEN = 72 };

/*
 * Endpoint text: "127.0.0.1:80", "[::1]:80", "[fe80::1%2]:80".  The scope
 * is numeric here (the core knows devices by index; names are resolved by
 * the caller).  st_sockaddr_parse returns 0 or -EINVAL.
 */
int st_sockaddr_parse(const char *text, st_sockaddr *out);
int st_sockaddr_format(const st_sockaddr *sa, char *buf, size_t len);

/* Helpers to build st_sockaddr values (family is set as named). */
st_sockaddr st_sockaddr_in(uint32_t host_order_v4, uint16_t port);
st_sockaddr st_sockaddr_in6(const st_addr *a, uint16_t port, uint32_t scope_id);

#ifdef __cplusplus
}
#endif
#endif
