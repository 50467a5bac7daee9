/*
 * netconf.h - the configuration half of a network namespace: devices,
 * IPv4 routes (local / broadcast / unicast), IPv6 addresses per device,
 * reserved ports and sysctls.  The socket tables (net.c, tables in
 * bind.c, ...) read it; only the st_net_* configuration calls write it.
 *
 * Internal header: not installed.
 */
#ifndef SOCKTAB_NETCONF_H
#define SOCKTAB_NETCONF_H

#include <stdint.h>
#include <stdbool.h>
#include "socktab/net.h"

enum { ST_IFNAMSIZ = 16 };

struct st_device {
	char name[ST_IFNAMSIZ];
	int ifindex;
	bool loopback;
};

struct st_route4_entry {
	uint32_t prefix;   /* host order, masked */
	int len;
	st_route_type type;
	int ifindex;
	uint32_t prefsrc;  /* host order, 0 = none */
};

struct st_addr6_entry {
	st_addr addr;
	int prefix_len;
	int ifindex;
};

struct st_netconf {
	int sysctl[ST_SYSCTL_COUNT_];
	int port_range_hi;            /* sysctl[IP_LOCAL_PORT_RANGE] holds low */
	uint8_t reserved_ports[65536 / 8]; /* bitmap */

	struct st_device *devs;       /* index i holds ifindex i+1 */
	int ndevs, capdevs;

	struct st_route4_entry *routes4;
	int nroutes4, caproutes4;

	struct st_addr6_entry *addrs6;
	int naddrs6, capaddrs6;
};

/* Set up lo (ifindex 1, loopback) with 127.0.0.1/8 and ::1/128, and the
 * default sysctls.  0 or -ENOMEM (nothing allocated on failure). */
int st_netconf_init(struct st_netconf *c);
void st_netconf_destroy(struct st_netconf *c);

static inline int st_conf_get(const struct st_netconf *c, st_sysctl k)
{
	return c->sysctl[k];
}
static inline void st_conf_port_range(const struct st_netconf *c, int *lo, int *hi)
{
	*lo = c->sysctl[ST_SYSCTL_IP_LOCAL_PORT_RANGE];
	*hi = c->port_range_hi;
}
bool st_conf_device_exists(const struct st_netconf *c, int ifindex);
bool st_conf_device_is_loopback(const struct st_netconf *c, int ifindex);

/* The st_net accessor, implemented in net.c. */
struct st_netconf *st_net_conf(st_net *net);
const struct st_netconf *st_net_conf_c(const st_net *net);

#endif
