/*
 * src/kernel/netns.c - network namespaces and what goes in them.
 *
 * A host is a namespace created with unshare(CLONE_NEWNET) by the runner's
 * own thread, which grabs a descriptor of it and immediately returns home
 * with setns().  Nothing is forked and no `ip` is spawned: the descriptor
 * keeps the namespace alive, and every later configuration step enters it
 * for the length of a few system calls (namespaces are per thread, so this
 * is invisible to anything else).  Configuration speaks rtnetlink through
 * libmnl, the way `ip` does, so the devices and addresses are exactly what
 * `ip link add ... type veth` and `ip addr add` would make:
 *
 *   - addresses get IFA_F_NODAD: an IPv6 address otherwise stays
 *     "tentative" for a second or two after it is added and bind() fails
 *     with EADDRNOTAVAIL meanwhile, which the scenario did not ask for;
 *   - an IPv4 address in 127/8 gets host scope, as `ip` gives it;
 *   - the subnet broadcast route needs nothing: fib_add_ifaddr adds it for
 *     any prefix shorter than /31.
 *
 * Names under /run/netns are bind mounts of the namespace, as `ip netns
 * add` makes them, so `ip netns exec st-123-0-a ss -ant` works while a
 * scenario runs.  The name is a convenience for people; the replay itself
 * only ever uses the descriptor.
 *
 * sysctl keys are restricted to net.*: those are the per-namespace ones (a
 * net.* key that is not per namespace does not exist inside a new
 * namespace), so a scenario can never change the machine it runs on.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <net/if.h> /* before the linux/ headers: libc-compat.h then skips linux/if.h's copies */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kernel/kr.h"

#ifdef SOCKTAB_HAVE_LIBMNL
#include <libmnl/libmnl.h>

/* Send one rtnetlink request and wait for its acknowledgement. */
static int rtnl_talk(struct nlmsghdr *nlh)
{
	static uint32_t seq_counter;
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl;
	uint32_t portid, seq;
	ssize_t n;
	int ret, e;

	nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		e = errno;
		mnl_socket_close(nl);
		return -e;
	}
	portid = mnl_socket_get_portid(nl);
	seq = (uint32_t)time(NULL) + ++seq_counter;
	nlh->nlmsg_seq = seq;
	nlh->nlmsg_flags |= NLM_F_ACK;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		e = errno;
		mnl_socket_close(nl);
		return -e;
	}
	for (;;) {
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0) {
			ret = -errno;
			break;
		}
		ret = mnl_cb_run(buf, (size_t)n, seq, portid, NULL, NULL);
		if (ret < 0) {
			ret = -errno;
			break;
		}
		if (ret == MNL_CB_STOP) {
			ret = 0;
			break;
		}
	}
	mnl_socket_close(nl);
	return ret;
}

int kr_link_up(const char *ifname)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifm;
	unsigned idx = if_nametoindex(ifname);

	if (!idx)
		return -ENODEV;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = (int)idx;
	ifm->ifi_change = IFF_UP;
	ifm->ifi_flags = IFF_UP;
	return rtnl_talk(nlh);
}

int kr_addr_add(const char *ifname, int family, const uint8_t addr16[16], int plen)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;
	unsigned idx = if_nametoindex(ifname);

	if (!idx)
		return -ENODEV;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_prefixlen = (unsigned char)plen;
	ifa->ifa_index = idx;
	if (family == ST_AF_INET) {
		ifa->ifa_family = AF_INET;
		ifa->ifa_scope = addr16[12] == 127 ? RT_SCOPE_HOST : RT_SCOPE_UNIVERSE;
		mnl_attr_put(nlh, IFA_LOCAL, 4, addr16 + 12);
		mnl_attr_put(nlh, IFA_ADDRESS, 4, addr16 + 12);
	} else {
		ifa->ifa_family = AF_INET6;
		ifa->ifa_scope = RT_SCOPE_UNIVERSE;
		mnl_attr_put(nlh, IFA_LOCAL, 16, addr16);
		mnl_attr_put(nlh, IFA_ADDRESS, 16, addr16);
	}
	mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
	return rtnl_talk(nlh);
}

int kr_veth_add(const char *name, const char *peer, int peer_nsfd)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifm;
	struct nlattr *linkinfo, *data, *peer_nest;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL;
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	peer_nest = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
	/* The peer's attributes follow an ifinfomsg of their own. */
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, peer);
	mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)peer_nsfd);
	mnl_attr_nest_end(nlh, peer_nest);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, linkinfo);
	return rtnl_talk(nlh);
}

#else /* !SOCKTAB_HAVE_LIBMNL */

int kr_link_up(const char *ifname)
{
	(void)ifname;
	return -ENOTSUP;
}

int kr_addr_add(const char *ifname, int family, const uint8_t addr16[16], int plen)
{
	(void)ifname;
	(void)family;
	(void)addr16;
	(void)plen;
	return -ENOTSUP;
}

int kr_veth_add(const char *name, const char *peer, int peer_nsfd)
{
	(void)name;
	(void)peer;
	(void)peer_nsfd;
	return -ENOTSUP;
}

#endif

int kr_ns_enter(int nsfd)
{
	return setns(nsfd, CLONE_NEWNET) < 0 ? -errno : 0;
}

int kr_ns_leave(int home)
{
	return setns(home, CLONE_NEWNET) < 0 ? -errno : 0;
}

int kr_ns_create(int home, int *nsfd, char *msg, size_t msglen)
{
	int fd, r;

	if (unshare(CLONE_NEWNET) < 0) {
		r = -errno;
		snprintf(msg, msglen, "unshare(CLONE_NEWNET): %s", strerror(-r));
		return r;
	}
	fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(msg, msglen, "open /proc/thread-self/ns/net: %s", strerror(-r));
	} else {
		r = kr_link_up("lo");
		if (r < 0) {
			snprintf(msg, msglen, "bringing lo up: %s", strerror(-r));
			close(fd);
		}
	}
	if (kr_ns_leave(home) < 0) {
		int e = errno;

		/* Stranded in the new namespace: the caller must give up. */
		if (fd >= 0 && r == 0)
			close(fd);
		snprintf(msg, msglen, "setns back to the runner's namespace: %s", strerror(e));
		return -ENOTRECOVERABLE;
	}
	if (r < 0)
		return r;
	*nsfd = fd;
	return 0;
}

int kr_ns_mount(int nsfd, const char *path)
{
	char src[64];
	int fd;

	if (mkdir("/run/netns", 0755) < 0 && errno != EEXIST)
		return -errno;
	fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	close(fd);
	snprintf(src, sizeof(src), "/proc/self/fd/%d", nsfd);
	if (mount(src, path, "none", MS_BIND, NULL) < 0) {
		int e = errno;

		unlink(path);
		return -e;
	}
	return 0;
}

int kr_tun_open(const char *name)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

/* A key is net.WORD(.WORD)*, words of [A-Za-z0-9_-]. */
static bool key_ok(const char *key)
{
	const char *p;
	bool word = false;

	if (strncmp(key, "net.", 4) != 0 || strlen(key) > 200)
		return false;
	for (p = key; *p; p++) {
		if (*p == '.') {
			if (!word)
				return false;
			word = false;
		} else if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			   (*p >= '0' && *p <= '9') || *p == '_' || *p == '-') {
			word = true;
		} else {
			return false;
		}
	}
	return word;
}

int kr_sysctl_write(const char *key, const char *const *values, int nvalues)
{
	char path[256], text[1024];
	size_t used = 0;
	ssize_t n;
	int i, fd, e;

	if (!key_ok(key))
		return -EPERM;
	snprintf(path, sizeof(path), "/proc/sys/%s", key);
	for (i = 9; path[i]; i++)
		if (path[i] == '.')
			path[i] = '/';
	for (i = 0; i < nvalues; i++) {
		size_t l = strlen(values[i]);

		if (strchr(values[i], '\n') || used + l + 2 > sizeof(text))
			return -EINVAL;
		if (i)
			text[used++] = ' ';
		memcpy(text + used, values[i], l);
		used += l;
	}
	text[used++] = '\n';
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, text, used);
	e = n < 0 ? errno : (size_t)n != used ? EINVAL : 0;
	close(fd);
	return -e;
}
