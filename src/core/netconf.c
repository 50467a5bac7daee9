/*
 * netconf.c - the configuration half of a network namespace: sysctls,
 * reserved ports, devices, IPv4 routes and the address lists.
 *
 * Linux answers "is 127.1.2.3 mine?" with a route lookup, not an address
 * list (B20, B21), and the answers that surprise people - all of 127/8 is
 * bindable, 127.255.255.255 is too, 127.1.2.3 stops being bindable when lo
 * carries 127.0.0.1/32 instead of /8 - all fall out of which routes an
 * address installs.  So an IPv4 address here is only the reason some
 * routes exist: adding a/len on device d installs what fib_add_ifaddr
 * installs (local a/32; the prefix route, type local on a loopback device
 * and unicast elsewhere; the subnet broadcast /32 when len < 31), and the
 * questions are answered from routes4 alone.
 *
 * Two addresses can imply the same route (10.0.0.1/24 and 10.0.0.2/24 on
 * one device share 10.0.0.0/24), so deleting one address must not take a
 * route the other still needs.  netconf.h has no reference counts, so the
 * routes are recomputed instead: the configured IPv4 addresses are kept,
 * v4-mapped, in the same addrs6 array as the IPv6 ones (the 16-byte form
 * is the project's one address representation anyway), and on deletion a
 * route survives if any remaining address implies it; its preferred
 * source then moves to that address.  That is Linux with
 * promote_secondaries=1; with the kernel default (0) deleting a primary
 * address also deletes the secondaries of its subnet.  That is not
 * modelled: here an address disappears only when it is itself deleted.
 *
 * Consequence for readers of struct st_netconf: addrs6 entries with a
 * v4-mapped address are IPv4 addresses and must be skipped when asking
 * IPv6 questions (the functions here do).  The reserved-port bitmap keeps
 * port p at byte p / 8, bit p % 8 (least significant first).
 *
 * Lookups are Linux's rule order, not one global longest match: table
 * "local" (LOCAL and BROADCAST routes) is consulted first and any match
 * there wins; only then table "main" (UNICAST).  This matters when a
 * unicast route is more specific than a covering local prefix, and it is
 * what inet_addr_type_table does for the bind check.
 *
 * Failure rule: every mutating call reserves all the memory it may need
 * before it changes anything, so a failed allocation leaves the
 * configuration exactly as it was (only an array's spare capacity may
 * have grown, which nobody can observe).  Deletions never allocate.
 *
 * Sysctl bounds are the kernel's (proc_dou8vec_minmax without explicit
 * bounds means 0..255, so ip_nonlocal_bind=2 is accepted as on Linux).
 * Numbers in text are plain decimal without leading zeros: the kernel
 * reads "010" as octal, and refusing it beats silently meaning 10.
 */
#include "netconf.h"
#include "alloc.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

/* ---- sysctls ----------------------------------------------------------- */

struct sysctl_desc {
	const char *name;
	int nvalues;
	int min, max;
	int dflt;
};

static const struct sysctl_desc sysctl_descs[ST_SYSCTL_COUNT_] = {
	[ST_SYSCTL_IP_LOCAL_PORT_RANGE] = { "net.ipv4.ip_local_port_range", 2, 1, 65535, 32768 },
	[ST_SYSCTL_IP_UNPRIVILEGED_PORT_START] = { "net.ipv4.ip_unprivileged_port_start", 1, 0,
						    65535, 1024 },
	[ST_SYSCTL_IPV6_BINDV6ONLY] = { "net.ipv6.bindv6only", 1, 0, 255, 0 },
	[ST_SYSCTL_TCP_TW_REUSE] = { "net.ipv4.tcp_tw_reuse", 1, 0, 2, 2 },
	/* 1 .. TCP_PAWS_MSL seconds, in ms, as in 6.14+. */
	[ST_SYSCTL_TCP_TW_REUSE_DELAY] = { "net.ipv4.tcp_tw_reuse_delay", 1, 1, 60000, 1000 },
	[ST_SYSCTL_TCP_TIMESTAMPS] = { "net.ipv4.tcp_timestamps", 1, 0, 255, 1 },
	[ST_SYSCTL_IP_NONLOCAL_BIND] = { "net.ipv4.ip_nonlocal_bind", 1, 0, 255, 0 },
	[ST_SYSCTL_IPV6_IP_NONLOCAL_BIND] = { "net.ipv6.ip_nonlocal_bind", 1, 0, 255, 0 },
	[ST_SYSCTL_IP_AUTOBIND_REUSE] = { "net.ipv4.ip_autobind_reuse", 1, 0, 1, 0 },
	[ST_SYSCTL_SOMAXCONN] = { "net.core.somaxconn", 1, 0, INT_MAX, 4096 },
	[ST_SYSCTL_TCP_MIGRATE_REQ] = { "net.ipv4.tcp_migrate_req", 1, 0, 1, 0 },
};

static const char reserved_ports_name[] = "net.ipv4.ip_local_reserved_ports";
enum { DEFAULT_PORT_RANGE_HI = 60999 };

static int conf_sysctl_set(struct st_netconf *c, st_sysctl key, const int *v, int n)
{
	const struct sysctl_desc *d;

	if ((unsigned)key >= ST_SYSCTL_COUNT_ || v == NULL)
		return -EINVAL;
	d = &sysctl_descs[key];
	if (n != d->nvalues)
		return -EINVAL;
	for (int i = 0; i < n; i++)
		if (v[i] < d->min || v[i] > d->max)
			return -EINVAL;
	/*
	 * The two port sysctls guard each other (P-6): the ephemeral range
	 * may not reach below the privileged ports, whichever side moves.
	 */
	if (key == ST_SYSCTL_IP_LOCAL_PORT_RANGE) {
		if (v[0] > v[1] || v[0] < c->sysctl[ST_SYSCTL_IP_UNPRIVILEGED_PORT_START])
			return -EINVAL;
		c->port_range_hi = v[1];
	} else if (key == ST_SYSCTL_IP_UNPRIVILEGED_PORT_START) {
		if (v[0] > c->sysctl[ST_SYSCTL_IP_LOCAL_PORT_RANGE])
			return -EINVAL;
	}
	c->sysctl[key] = v[0];
	return 0;
}

int st_net_sysctl_set(st_net *net, st_sysctl key, const int *values, int n)
{
	if (net == NULL)
		return -EINVAL;
	return conf_sysctl_set(st_net_conf(net), key, values, n);
}

int st_net_sysctl_get(const st_net *net, st_sysctl key, int *values, int n)
{
	const struct st_netconf *c = st_net_conf_c(net);

	if (c == NULL || (unsigned)key >= ST_SYSCTL_COUNT_ || values == NULL ||
	    n < sysctl_descs[key].nvalues)
		return -EINVAL;
	values[0] = c->sysctl[key];
	if (key == ST_SYSCTL_IP_LOCAL_PORT_RANGE)
		values[1] = c->port_range_hi;
	return 0;
}

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n';
}

static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

/*
 * Unsigned decimal at *pp, no leading zeros, at most `max`; advances *pp
 * past the digits.  The caller decides what may follow.
 */
static int parse_uint(const char **pp, long long max, long long *out)
{
	const char *p = *pp;
	long long v = 0;

	if (!is_digit(*p))
		return -EINVAL;
	if (*p == '0' && is_digit(p[1]))
		return -EINVAL;
	for (; is_digit(*p); p++) {
		v = v * 10 + (*p - '0');
		if (v > max)
			return -EINVAL;
	}
	*pp = p;
	*out = v;
	return 0;
}

/* Blank-separated ints, exactly `want` of them. */
static int parse_int_list(const char *s, int *out, int want)
{
	int n = 0;

	for (;;) {
		bool neg = false;
		long long v;

		while (is_blank(*s))
			s++;
		if (*s == '\0')
			break;
		if (n == want)
			return -EINVAL; /* too many values */
		if (*s == '-') {
			neg = true;
			s++;
		}
		if (parse_uint(&s, (long long)INT_MAX + 1, &v) != 0)
			return -EINVAL;
		if (*s != '\0' && !is_blank(*s))
			return -EINVAL;
		if (!neg && v > INT_MAX)
			return -EINVAL;
		out[n++] = neg ? (int)-v : (int)v;
	}
	return n == want ? 0 : -EINVAL;
}

/*
 * "40000,40010-40020" into a fresh bitmap.  Like the kernel's large-bitmap
 * handler: no blanks inside the list, a trailing comma is tolerated, a
 * range must not run backwards, the empty string clears.
 */
static int parse_port_list(const char *s, uint8_t bm[65536 / 8])
{
	const char *end;

	memset(bm, 0, 65536 / 8);
	while (is_blank(*s))
		s++;
	end = s + strlen(s);
	while (end > s && is_blank(end[-1]))
		end--;
	while (s < end) {
		long long a, b;

		if (parse_uint(&s, 65535, &a) != 0)
			return -EINVAL;
		b = a;
		if (s < end && *s == '-') {
			s++;
			if (parse_uint(&s, 65535, &b) != 0 || b < a)
				return -EINVAL;
		}
		for (long long p = a; p <= b; p++)
			bm[p / 8] |= (uint8_t)(1u << (p % 8));
		if (s == end)
			break;
		if (*s != ',')
			return -EINVAL;
		s++;
	}
	return 0;
}

static bool bit_is_set(const uint8_t *bm, long p)
{
	return (bm[p / 8] >> (p % 8)) & 1;
}

/* Linux's canonical large-bitmap text: runs as "a-b", singles as "a". */
static int format_port_list(const uint8_t *bm, char *buf, size_t len)
{
	size_t used = 0;
	long p = 0;

	if (len == 0)
		return -ERANGE;
	buf[0] = '\0';
	while (p < 65536) {
		long q;
		char item[16];
		int k;

		if (!bit_is_set(bm, p)) {
			p++;
			continue;
		}
		q = p;
		while (q + 1 < 65536 && bit_is_set(bm, q + 1))
			q++;
		if (q == p)
			k = snprintf(item, sizeof(item), "%s%ld", used ? "," : "", p);
		else
			k = snprintf(item, sizeof(item), "%s%ld-%ld", used ? "," : "", p, q);
		if (used + (size_t)k + 1 > len)
			return -ERANGE;
		memcpy(buf + used, item, (size_t)k + 1);
		used += (size_t)k;
		p = q + 1;
	}
	return 0;
}

static int sysctl_by_name(const char *key)
{
	for (int i = 0; i < ST_SYSCTL_COUNT_; i++)
		if (strcmp(sysctl_descs[i].name, key) == 0)
			return i;
	return -ENOENT;
}

int st_net_sysctl_set_text(st_net *net, const char *key, const char *value)
{
	struct st_netconf *c = st_net_conf(net);
	int k, v[2];

	if (c == NULL || key == NULL || value == NULL)
		return -EINVAL;
	if (strcmp(key, reserved_ports_name) == 0) {
		uint8_t bm[65536 / 8];

		/* Parsed aside so that a bad list leaves the old one alone. */
		if (parse_port_list(value, bm) != 0)
			return -EINVAL;
		memcpy(c->reserved_ports, bm, sizeof(bm));
		return 0;
	}
	k = sysctl_by_name(key);
	if (k < 0)
		return k;
	if (parse_int_list(value, v, sysctl_descs[k].nvalues) != 0)
		return -EINVAL;
	return conf_sysctl_set(c, (st_sysctl)k, v, sysctl_descs[k].nvalues);
}

int st_net_sysctl_get_text(const st_net *net, const char *key, char *buf, size_t len)
{
	const struct st_netconf *c = st_net_conf_c(net);
	int k, n;

	if (c == NULL || key == NULL || buf == NULL)
		return -EINVAL;
	if (strcmp(key, reserved_ports_name) == 0)
		return format_port_list(c->reserved_ports, buf, len);
	k = sysctl_by_name(key);
	if (k < 0)
		return k;
	/* The kernel separates vector values with a tab. */
	if (k == ST_SYSCTL_IP_LOCAL_PORT_RANGE)
		n = snprintf(buf, len, "%d\t%d", c->sysctl[k], c->port_range_hi);
	else
		n = snprintf(buf, len, "%d", c->sysctl[k]);
	if (n < 0 || (size_t)n >= len)
		return -ERANGE;
	return 0;
}

bool st_net_port_is_reserved(const st_net *net, uint16_t port)
{
	if (net == NULL)
		return false;
	return bit_is_set(st_net_conf_c(net)->reserved_ports, port);
}

/* ---- storage ----------------------------------------------------------- */

/*
 * Make room for `need` elements.  Returns the (possibly moved) array, or
 * NULL with the old array untouched; the caller stores it only on
 * success, which is what keeps failures side-effect free.
 */
static void *reserve(void *arr, int *cap, int need, size_t elem)
{
	int ncap;
	void *p;

	if (need <= *cap)
		return arr;
	ncap = *cap > 0 ? *cap : 4;
	while (ncap < need)
		ncap *= 2;
	p = st_realloc(arr, (size_t)ncap * elem);
	if (p == NULL)
		return NULL;
	*cap = ncap;
	return p;
}

/* ---- devices ----------------------------------------------------------- */

bool st_conf_device_exists(const struct st_netconf *c, int ifindex)
{
	return ifindex >= 1 && ifindex <= c->ndevs;
}

bool st_conf_device_is_loopback(const struct st_netconf *c, int ifindex)
{
	return st_conf_device_exists(c, ifindex) && c->devs[ifindex - 1].loopback;
}

static int find_device(const struct st_netconf *c, const char *name)
{
	for (int i = 0; i < c->ndevs; i++)
		if (strcmp(c->devs[i].name, name) == 0)
			return c->devs[i].ifindex;
	return -ENODEV;
}

/* dev_valid_name()'s rules: the name becomes a path component in sysfs. */
static bool valid_devname(const char *name)
{
	size_t n = 0;

	while (n < ST_IFNAMSIZ && name[n] != '\0')
		n++;

	if (n == 0 || n >= ST_IFNAMSIZ)
		return false;
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (name[i] == '/' || name[i] == ':' || is_blank(name[i]) || name[i] == '\r' ||
		    name[i] == '\v' || name[i] == '\f')
			return false;
	return true;
}

static int conf_add_device(struct st_netconf *c, const char *name, bool loopback, int *out)
{
	struct st_device *devs;
	struct st_device *d;

	if (name == NULL || !valid_devname(name))
		return -EINVAL;
	if (find_device(c, name) >= 0)
		return -EEXIST;
	devs = reserve(c->devs, &c->capdevs, c->ndevs + 1, sizeof(*devs));
	if (devs == NULL)
		return -ENOMEM;
	c->devs = devs;
	d = &c->devs[c->ndevs];
	memset(d, 0, sizeof(*d));
	strcpy(d->name, name);
	d->ifindex = c->ndevs + 1;
	d->loopback = loopback;
	c->ndevs++;
	if (out != NULL)
		*out = d->ifindex;
	return 0;
}

int st_net_add_device(st_net *net, const char *name, int *ifindex_out)
{
	if (net == NULL)
		return -EINVAL;
	return conf_add_device(st_net_conf(net), name, false, ifindex_out);
}

int st_net_device_index(const st_net *net, const char *name)
{
	if (net == NULL)
		return -EINVAL;
	if (name == NULL)
		return -ENODEV;
	return find_device(st_net_conf_c(net), name);
}

const char *st_net_device_name(const st_net *net, int ifindex)
{
	const struct st_netconf *c = st_net_conf_c(net);

	if (c == NULL || !st_conf_device_exists(c, ifindex))
		return NULL;
	return c->devs[ifindex - 1].name;
}

/* ---- IPv4 routes ------------------------------------------------------- */

static uint32_t mask_of(int len)
{
	return len == 0 ? 0 : 0xffffffffu << (32 - len);
}

/* Table "local" holds LOCAL and BROADCAST, "main" holds UNICAST. */
static bool in_local_table(st_route_type t)
{
	return t != ST_RTN_UNICAST;
}

static bool valid_type(st_route_type t)
{
	return t == ST_RTN_UNICAST || t == ST_RTN_LOCAL || t == ST_RTN_BROADCAST;
}

static bool same_route(const struct st_route4_entry *a, const struct st_route4_entry *b)
{
	return a->prefix == b->prefix && a->len == b->len && a->type == b->type &&
	       a->ifindex == b->ifindex;
}

static int find_route(const struct st_netconf *c, const struct st_route4_entry *r)
{
	for (int i = 0; i < c->nroutes4; i++)
		if (same_route(&c->routes4[i], r))
			return i;
	return -1;
}

static void remove_route_at(struct st_netconf *c, int i)
{
	memmove(&c->routes4[i], &c->routes4[i + 1],
		(size_t)(c->nroutes4 - i - 1) * sizeof(c->routes4[0]));
	c->nroutes4--;
}

/*
 * The routes an IPv4 address implies, in the spirit of fib_add_ifaddr:
 * the host route always; prefix and subnet broadcast only for a real
 * prefix (not /32, and not one inside 0.0.0.0, which the kernel skips).
 */
static int implied_routes(const struct st_netconf *c, uint32_t a, int len, int ifindex,
			  struct st_route4_entry out[3])
{
	uint32_t mask = mask_of(len), prefix = a & mask;
	int n = 0;

	out[n++] = (struct st_route4_entry){ a, 32, ST_RTN_LOCAL, ifindex, a };
	if (prefix != 0 && len < 32) {
		st_route_type t = st_conf_device_is_loopback(c, ifindex) ? ST_RTN_LOCAL
									  : ST_RTN_UNICAST;
		out[n++] = (struct st_route4_entry){ prefix, len, t, ifindex, a };
		if (len < 31)
			out[n++] = (struct st_route4_entry){ prefix | ~mask, 32, ST_RTN_BROADCAST,
							     ifindex, a };
	}
	return n;
}

int st_net_add_route4(st_net *net, uint32_t prefix, int len, st_route_type type, int ifindex,
		      const uint32_t *prefsrc)
{
	struct st_netconf *c = st_net_conf(net);
	struct st_route4_entry *routes;

	if (c == NULL || len < 0 || len > 32 || !valid_type(type) || (prefix & ~mask_of(len)) != 0)
		return -EINVAL;
	if (!st_conf_device_exists(c, ifindex))
		return -ENODEV;
	/* "ip route add" is exclusive per table, prefix and length. */
	for (int i = 0; i < c->nroutes4; i++) {
		const struct st_route4_entry *r = &c->routes4[i];

		if (r->prefix == prefix && r->len == len &&
		    in_local_table(r->type) == in_local_table(type))
			return -EEXIST;
	}
	routes = reserve(c->routes4, &c->caproutes4, c->nroutes4 + 1, sizeof(*routes));
	if (routes == NULL)
		return -ENOMEM;
	c->routes4 = routes;
	c->routes4[c->nroutes4++] = (struct st_route4_entry){ prefix, len, type, ifindex,
							       prefsrc ? *prefsrc : 0 };
	return 0;
}

int st_net_del_route4(st_net *net, uint32_t prefix, int len, st_route_type type)
{
	struct st_netconf *c = st_net_conf(net);

	if (c == NULL || len < 0 || len > 32 || !valid_type(type) || (prefix & ~mask_of(len)) != 0)
		return -EINVAL;
	for (int i = 0; i < c->nroutes4; i++) {
		const struct st_route4_entry *r = &c->routes4[i];

		if (r->prefix == prefix && r->len == len && r->type == type) {
			remove_route_at(c, i);
			return 0;
		}
	}
	return -ESRCH;
}

/* Longest match within one table; -1 if none. */
static int lookup_table(const struct st_netconf *c, uint32_t dst, bool local)
{
	int best = -1;

	for (int i = 0; i < c->nroutes4; i++) {
		const struct st_route4_entry *r = &c->routes4[i];

		if (in_local_table(r->type) != local || (dst & mask_of(r->len)) != r->prefix)
			continue;
		if (best < 0 || r->len > c->routes4[best].len)
			best = i;
	}
	return best;
}

int st_net_route4(const st_net *net, uint32_t dst, st_route4 *out)
{
	const struct st_netconf *c = st_net_conf_c(net);
	const struct st_route4_entry *r;
	int i;

	/* Every caller wants the answer: a NULL out is a mistake. */
	if (c == NULL || out == NULL)
		return -EINVAL;
	i = lookup_table(c, dst, true);
	if (i < 0)
		i = lookup_table(c, dst, false);
	if (i < 0)
		return -ENETUNREACH;
	r = &c->routes4[i];
	out->type = r->type;
	out->ifindex = r->ifindex;
	out->prefsrc = r->prefsrc;
	out->prefix_len = r->len;
	return 0;
}

bool st_net_v4_bindable(const st_net *net, uint32_t a)
{
	if (net == NULL)
		return false;
	/* 0/32, limited broadcast and 224/4 never reach the table (B22). */
	if (a == 0 || a == 0xffffffffu || (a & 0xf0000000u) == 0xe0000000u)
		return true;
	/* Table local holds only LOCAL and BROADCAST, so any hit is one. */
	return lookup_table(st_net_conf_c(net), a, true) >= 0;
}

/* ---- addresses --------------------------------------------------------- */

static int find_addr(const struct st_netconf *c, int ifindex, const st_addr *a, int plen)
{
	for (int i = 0; i < c->naddrs6; i++) {
		const struct st_addr6_entry *e = &c->addrs6[i];

		if (e->ifindex == ifindex && st_addr_equal(&e->addr, a) &&
		    (plen < 0 || e->prefix_len == plen))
			return i;
	}
	return -1;
}

static void remove_addr_at(struct st_netconf *c, int i)
{
	memmove(&c->addrs6[i], &c->addrs6[i + 1],
		(size_t)(c->naddrs6 - i - 1) * sizeof(c->addrs6[0]));
	c->naddrs6--;
}

static int add_addr4(struct st_netconf *c, int ifindex, const st_addr *a, int plen)
{
	struct st_route4_entry want[3];
	struct st_addr6_entry *addrs;
	struct st_route4_entry *routes;
	bool missing[3];
	int n, nmissing = 0;
	uint32_t v4 = st_addr_get_v4(a);

	if (!st_addr_is_v4mapped(a) || plen < 0 || plen > 32)
		return -EINVAL;
	/* Same address and mask on the same device: __inet_insert_ifa's rule. */
	if (find_addr(c, ifindex, a, plen) >= 0)
		return -EEXIST;
	n = implied_routes(c, v4, plen, ifindex, want);
	for (int i = 0; i < n; i++) {
		missing[i] = find_route(c, &want[i]) < 0;
		nmissing += missing[i];
	}

	addrs = reserve(c->addrs6, &c->capaddrs6, c->naddrs6 + 1, sizeof(*addrs));
	if (addrs == NULL)
		return -ENOMEM;
	c->addrs6 = addrs;
	routes = reserve(c->routes4, &c->caproutes4, c->nroutes4 + nmissing, sizeof(*routes));
	if (routes == NULL)
		return -ENOMEM;
	c->routes4 = routes;

	for (int i = 0; i < n; i++)
		if (missing[i])
			c->routes4[c->nroutes4++] = want[i];
	c->addrs6[c->naddrs6++] = (struct st_addr6_entry){ *a, plen, ifindex };
	return 0;
}

/* Some remaining IPv4 address that implies route r, or -1. */
static int addr_implying(const struct st_netconf *c, const struct st_route4_entry *r)
{
	for (int i = 0; i < c->naddrs6; i++) {
		const struct st_addr6_entry *e = &c->addrs6[i];
		struct st_route4_entry imp[3];
		int n;

		if (!st_addr_is_v4mapped(&e->addr))
			continue;
		n = implied_routes(c, st_addr_get_v4(&e->addr), e->prefix_len, e->ifindex, imp);
		for (int j = 0; j < n; j++)
			if (same_route(&imp[j], r))
				return i;
	}
	return -1;
}

static int del_addr4(struct st_netconf *c, int ifindex, const st_addr *a, int plen)
{
	struct st_route4_entry had[3];
	uint32_t v4 = st_addr_get_v4(a);
	int i, n;

	if (!st_addr_is_v4mapped(a) || plen < 0 || plen > 32)
		return -EINVAL;
	i = find_addr(c, ifindex, a, plen);
	if (i < 0)
		return -EADDRNOTAVAIL;
	n = implied_routes(c, v4, plen, ifindex, had);
	remove_addr_at(c, i);
	for (int k = 0; k < n; k++) {
		int r = find_route(c, &had[k]);
		int keeper;

		if (r < 0)
			continue; /* already removed by hand */
		keeper = addr_implying(c, &had[k]);
		if (keeper < 0)
			remove_route_at(c, r);
		else if (c->routes4[r].prefsrc == v4)
			c->routes4[r].prefsrc = st_addr_get_v4(&c->addrs6[keeper].addr);
	}
	return 0;
}

static int add_addr6(struct st_netconf *c, int ifindex, const st_addr *a, int plen)
{
	struct st_addr6_entry *addrs;

	/* v4-mapped entries mean IPv4 here (see the top of the file). */
	if (st_addr_is_v4mapped(a) || st_addr_is_any6(a) || st_addr_is_multicast(a) ||
	    plen < 0 || plen > 128)
		return -EINVAL;
	/* ipv6_add_addr() keeps ::1 to loopback devices. */
	if (st_addr_is_loopback(a) && !st_conf_device_is_loopback(c, ifindex))
		return -EINVAL;
	/* One address per device, whatever the prefix length. */
	if (find_addr(c, ifindex, a, -1) >= 0)
		return -EEXIST;
	addrs = reserve(c->addrs6, &c->capaddrs6, c->naddrs6 + 1, sizeof(*addrs));
	if (addrs == NULL)
		return -ENOMEM;
	c->addrs6 = addrs;
	c->addrs6[c->naddrs6++] = (struct st_addr6_entry){ *a, plen, ifindex };
	return 0;
}

static int del_addr6(struct st_netconf *c, int ifindex, const st_addr *a, int plen)
{
	int i;

	if (st_addr_is_v4mapped(a) || plen < 0 || plen > 128)
		return -EINVAL;
	i = find_addr(c, ifindex, a, plen);
	if (i < 0)
		return -EADDRNOTAVAIL;
	remove_addr_at(c, i);
	return 0;
}

static int conf_add_addr(struct st_netconf *c, int ifindex, const st_addr *a, int family,
			 int plen)
{
	if (a == NULL)
		return -EINVAL;
	if (!st_conf_device_exists(c, ifindex))
		return -ENODEV;
	if (family == ST_AF_INET)
		return add_addr4(c, ifindex, a, plen);
	if (family == ST_AF_INET6)
		return add_addr6(c, ifindex, a, plen);
	return -EINVAL;
}

int st_net_add_addr(st_net *net, int ifindex, const st_addr *a, int family, int prefix_len)
{
	if (net == NULL)
		return -EINVAL;
	return conf_add_addr(st_net_conf(net), ifindex, a, family, prefix_len);
}

int st_net_del_addr(st_net *net, int ifindex, const st_addr *a, int family, int prefix_len)
{
	struct st_netconf *c = st_net_conf(net);

	if (c == NULL || a == NULL)
		return -EINVAL;
	if (!st_conf_device_exists(c, ifindex))
		return -ENODEV;
	if (family == ST_AF_INET)
		return del_addr4(c, ifindex, a, prefix_len);
	if (family == ST_AF_INET6)
		return del_addr6(c, ifindex, a, prefix_len);
	return -EINVAL;
}

bool st_net_v6_has_addr(const st_net *net, const st_addr *a, int ifindex)
{
	const struct st_netconf *c = st_net_conf_c(net);

	if (c == NULL || a == NULL || st_addr_is_v4mapped(a))
		return false;
	for (int i = 0; i < c->naddrs6; i++) {
		const struct st_addr6_entry *e = &c->addrs6[i];

		if ((ifindex == 0 || e->ifindex == ifindex) && st_addr_equal(&e->addr, a))
			return true;
	}
	return false;
}

static bool prefix_contains(const st_addr *net, int plen, const st_addr *a)
{
	int whole = plen / 8, bits = plen % 8;

	if (memcmp(net->b, a->b, (size_t)whole) != 0)
		return false;
	if (bits == 0)
		return true;
	return ((net->b[whole] ^ a->b[whole]) & (uint8_t)(0xff << (8 - bits))) == 0;
}

int st_net_route6(const st_net *net, const st_addr *dst, int ifindex, st_addr *src_out,
		  int *ifindex_out)
{
	const struct st_netconf *c = st_net_conf_c(net);
	int best = -1;
	bool local;

	if (c == NULL || dst == NULL)
		return -EINVAL;
	if (st_addr_is_v4mapped(dst))
		return -ENETUNREACH;
	/*
	 * A local destination is reached through itself, so it is its own
	 * source; that is checked first so that ::1 beats any covering
	 * prefix.  A non-zero ifindex (SO_BINDTODEVICE, a scope id) limits
	 * both steps to that device.
	 */
	for (int i = 0; i < c->naddrs6 && best < 0; i++) {
		const struct st_addr6_entry *e = &c->addrs6[i];

		if ((ifindex == 0 || e->ifindex == ifindex) && st_addr_equal(&e->addr, dst))
			best = i;
	}
	local = best >= 0;
	for (int i = 0; i < c->naddrs6 && !local; i++) {
		const struct st_addr6_entry *e = &c->addrs6[i];

		if (st_addr_is_v4mapped(&e->addr) || (ifindex != 0 && e->ifindex != ifindex) ||
		    !prefix_contains(&e->addr, e->prefix_len, dst))
			continue;
		if (best < 0 || e->prefix_len > c->addrs6[best].prefix_len)
			best = i;
	}
	if (best < 0)
		return -ENETUNREACH;
	if (src_out != NULL)
		*src_out = c->addrs6[best].addr;
	if (ifindex_out != NULL)
		*ifindex_out = c->addrs6[best].ifindex;
	return 0;
}

/* ---- life cycle -------------------------------------------------------- */

int st_netconf_init(struct st_netconf *c)
{
	st_addr a;

	memset(c, 0, sizeof(*c));
	for (int i = 0; i < ST_SYSCTL_COUNT_; i++)
		c->sysctl[i] = sysctl_descs[i].dflt;
	c->port_range_hi = DEFAULT_PORT_RANGE_HI;

	if (conf_add_device(c, "lo", true, NULL) != 0)
		goto fail;
	a = st_addr_v4(0x7f000001);
	if (conf_add_addr(c, ST_IFINDEX_LO, &a, ST_AF_INET, 8) != 0)
		goto fail;
	a = st_addr_any6();
	a.b[15] = 1;
	if (conf_add_addr(c, ST_IFINDEX_LO, &a, ST_AF_INET6, 128) != 0)
		goto fail;
	return 0;
fail:
	st_netconf_destroy(c);
	return -ENOMEM;
}

void st_netconf_destroy(struct st_netconf *c)
{
	st_free(c->devs);
	st_free(c->routes4);
	st_free(c->addrs6);
	memset(c, 0, sizeof(*c));
}
