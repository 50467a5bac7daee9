/*
 * socktab/net.h - a network namespace: devices, local addresses, routes,
 * sysctls, the clock, and (opaquely) every socket table.
 *
 * Linux keeps all of this per netns, and sockets in different namespaces
 * never conflict or see each other's packets, so st_net is the one object
 * everything else hangs off.  It owns no sockets: callers own their
 * st_sock records and lend them to the tables (see sock.h).
 *
 * Local addresses are kept as routes, not as a list (B20, B21): adding
 * 127.0.0.1/8 to `lo` installs "local 127.0.0.0/8", which is why 127.1.2.3
 * is bindable; IPv4 "is this address mine?" is a longest-prefix match over
 * local and broadcast routes.  IPv6 keeps per-device address lists, as the
 * kernel's ipv6_chk_addr() does (B17).
 *
 * The core does no I/O and reads no clock: time is whatever the caller
 * last set with st_net_set_time() (nanoseconds, monotonic).
 */
#ifndef SOCKTAB_NET_H
#define SOCKTAB_NET_H

#include <stdint.h>
#include <stdbool.h>
#include "socktab/addr.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct st_net st_net;
typedef struct st_sock st_sock;

/* Index of the loopback device, which every st_net has. */
enum { ST_IFINDEX_LO = 1 };

/*
 * Sysctls.  Values and defaults are Linux 6.18's.  Writes are validated as
 * the kernel validates them (P-6: the port range must satisfy
 * unprivileged_port_start <= low <= high, else -EINVAL).
 */
typedef enum st_sysctl {
	ST_SYSCTL_IP_LOCAL_PORT_RANGE,      /* two values: low high (32768 60999) */
	ST_SYSCTL_IP_UNPRIVILEGED_PORT_START, /* 1024 */
	ST_SYSCTL_IPV6_BINDV6ONLY,          /* 0 */
	ST_SYSCTL_TCP_TW_REUSE,             /* 2 (loopback only) */
	ST_SYSCTL_TCP_TW_REUSE_DELAY,       /* 1000 (ms) */
	ST_SYSCTL_TCP_TIMESTAMPS,           /* 1 */
	ST_SYSCTL_IP_NONLOCAL_BIND,         /* 0 */
	ST_SYSCTL_IPV6_IP_NONLOCAL_BIND,    /* 0 */
	ST_SYSCTL_IP_AUTOBIND_REUSE,        /* 0 */
	ST_SYSCTL_SOMAXCONN,                /* 4096 */
	ST_SYSCTL_TCP_MIGRATE_REQ,          /* 0 */
	ST_SYSCTL_COUNT_
} st_sysctl;

typedef struct st_net_ops {
	/*
	 * Called when the tables drop a TIME_WAIT record on their own: when a
	 * connect() takes over its 4-tuple (T-4).  The record is already
	 * unhashed; the owner may free it.  May be NULL.
	 */
	void (*tw_reclaimed)(st_sock *tw, void *ctx);
	void *ctx;
} st_net_ops;

/* Creation: lo (index 1) with 127.0.0.1/8 and ::1/128, default sysctls.
 * `seed` keys every hash (ehash, reuseport selection, port offsets); two
 * nets with the same seed make the same choices.  Returns 0 or -ENOMEM. */
int st_net_new(st_net **out, uint64_t seed, const st_net_ops *ops);
/* Frees the net and its tables.  Sockets still hashed are simply
 * forgotten (their records belong to the caller). */
void st_net_free(st_net *net);

/* Clock, nanoseconds. */
void st_net_set_time(st_net *net, uint64_t now_ns);
uint64_t st_net_time(const st_net *net);

/* Sysctls by number. Values: one int, except the port range (two). */
int st_net_sysctl_set(st_net *net, st_sysctl key, const int *values, int n);
int st_net_sysctl_get(const st_net *net, st_sysctl key, int *values, int n);
/* By Linux name ("net.ipv4.ip_local_port_range"), values as text
 * ("40000 40009"); also accepts net.ipv4.ip_local_reserved_ports as a
 * comma-separated list of ports and ranges ("40000,40010-40020", "" clears).
 * Returns 0, -ENOENT for an unknown key, -EINVAL for a bad value. */
int st_net_sysctl_set_text(st_net *net, const char *key, const char *value);
int st_net_sysctl_get_text(const st_net *net, const char *key, char *buf, size_t len);
bool st_net_port_is_reserved(const st_net *net, uint16_t port);

/* Devices.  Names are at most 15 characters (IFNAMSIZ - 1). */
int st_net_add_device(st_net *net, const char *name, int *ifindex_out);
int st_net_device_index(const st_net *net, const char *name); /* -ENODEV */
const char *st_net_device_name(const st_net *net, int ifindex); /* NULL */

/*
 * Addresses.  An IPv4 address a/len on device d installs, as Linux's
 * fib_add_ifaddr does: "local a/32"; if len < 32, the prefix route, which
 * is *local* when d is a loopback device (so 127.0.0.1/8 on lo makes all of
 * 127/8 local) and unicast otherwise; and if len < 31 "broadcast" for the
 * prefix's broadcast address.  An IPv6 address is added to d's list.
 * Returns 0, -EINVAL, -EEXIST, -ENODEV or -ENOMEM.
 */
int st_net_add_addr(st_net *net, int ifindex, const st_addr *a, int family, int prefix_len);
int st_net_del_addr(st_net *net, int ifindex, const st_addr *a, int family, int prefix_len);

/* Route types, as in Linux's table "local" and "main". */
typedef enum st_route_type {
	ST_RTN_UNICAST = 1,
	ST_RTN_LOCAL = 2,
	ST_RTN_BROADCAST = 3,
} st_route_type;

/* Add a route explicitly ("ip route add local 127.5.0.0/16 dev lo table
 * local").  prefsrc may be NULL (no preferred source). */
int st_net_add_route4(st_net *net, uint32_t prefix_host_order, int len, st_route_type type,
		      int ifindex, const uint32_t *prefsrc_host_order);
int st_net_del_route4(st_net *net, uint32_t prefix_host_order, int len, st_route_type type);

/* Route lookup for IPv4 (host order).  Returns 0 and fills type, device
 * and preferred source, or -ENETUNREACH. */
typedef struct st_route4 {
	st_route_type type;
	int ifindex;
	uint32_t prefsrc;   /* host order, 0 when none */
	int prefix_len;
} st_route4;
/* 0, -ENETUNREACH without a route, -EINVAL for a NULL net or out. */
int st_net_route4(const st_net *net, uint32_t dst, st_route4 *out);

/* Is this IPv4 address acceptable to bind (B20-B22, without the nonlocal
 * escapes)?  local, broadcast, multicast routes, 255.255.255.255, 0.0.0.0. */
bool st_net_v4_bindable(const st_net *net, uint32_t a);
/* IPv6: configured on any device (ifindex 0) or on that device. */
bool st_net_v6_has_addr(const st_net *net, const st_addr *a, int ifindex);
/* IPv6 source for a destination: the destination itself if local, else an
 * address of the device a link prefix points to.  0, -ENETUNREACH (also
 * for a v4-mapped destination), or -EINVAL for a NULL net or destination. */
int st_net_route6(const st_net *net, const st_addr *dst, int ifindex, st_addr *src_out,
		  int *ifindex_out);

#ifdef __cplusplus
}
#endif
#endif
