/*
 * src/kernel/diag.c - the kernel's socket tables, as NETLINK_SOCK_DIAG
 * dumps them (what `ss -a` reads).
 *
 * One inet_diag dump per (family, protocol): TCP and UDP, v4 and v6.  A
 * netlink socket belongs to the namespace it was created in, so each host
 * has its own diag socket, opened while the runner's thread stood in that
 * namespace; after that the dumps need no setns at all.
 *
 * idiag_states asks for every state, including TCP_BOUND_INACTIVE, the
 * pseudo-state Linux 6.x (since 6.9) understands as "also walk the bind
 * hash and report sockets that hold a port but are neither listening nor
 * connected".  Those come back with state TCP_CLOSE, and `ls` calls them
 * BOUND.  A never-bound socket is in no table at all and is not reported,
 * which is what the language wants (unbound sockets are not listed).
 * Without that flag (or on an older kernel) bound-inactive TCP sockets
 * would silently disappear from `ls`.
 *
 * Rows carry the socket's inode: the owners of a socket are the processes
 * whose /proc/PID/fd has a link "socket:[INODE]" (backend.c).  TIME_WAIT
 * and request sockets, and children not yet accepted, have inode 0 and no
 * owner.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "kernel/kr.h"

#ifdef SOCKTAB_HAVE_LIBMNL
#include <libmnl/libmnl.h>

typedef struct dump_ctx {
	sc_kind kind;
	kr_diag_row *rows;
	size_t n, cap;
	int err;
} dump_ctx;

static int on_msg(const struct nlmsghdr *nlh, void *data)
{
	dump_ctx *c = data;
	const struct inet_diag_msg *m;
	kr_diag_row *row;

	if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY)
		return MNL_CB_OK;
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*m)) {
		c->err = -EPROTO;
		return MNL_CB_ERROR;
	}
	m = mnl_nlmsg_get_payload(nlh);
	if (c->n == c->cap) {
		size_t ncap = c->cap ? 2 * c->cap : 32;
		kr_diag_row *nr = realloc(c->rows, ncap * sizeof(*nr));

		if (!nr) {
			c->err = -ENOMEM;
			return MNL_CB_ERROR;
		}
		c->rows = nr;
		c->cap = ncap;
	}
	row = &c->rows[c->n++];
	memset(row, 0, sizeof(*row));
	row->kind = c->kind;
	row->state = m->idiag_state;
	row->sport = ntohs(m->id.idiag_sport);
	row->dport = ntohs(m->id.idiag_dport);
	row->ifindex = m->id.idiag_if;
	row->inode = m->idiag_inode;
	row->rqueue = m->idiag_rqueue;
	row->wqueue = m->idiag_wqueue;
	if (m->idiag_family == AF_INET) {
		row->src[10] = row->src[11] = 0xff;
		row->dst[10] = row->dst[11] = 0xff;
		memcpy(row->src + 12, &m->id.idiag_src[0], 4);
		memcpy(row->dst + 12, &m->id.idiag_dst[0], 4);
	} else {
		memcpy(row->src, m->id.idiag_src, 16);
		memcpy(row->dst, m->id.idiag_dst, 16);
	}
	return MNL_CB_OK;
}

static int dump_one(kr_diag *d, sc_kind kind, dump_ctx *c)
{
	static char buf[32768]; /* a dump batch; larger than a page, as ss uses */
	struct mnl_socket *nl = d->nl;
	struct nlmsghdr *nlh;
	struct inet_diag_req_v2 *req;
	uint32_t seq = ++d->seq, portid = mnl_socket_get_portid(nl);
	ssize_t n;
	int ret;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
	req->sdiag_family = (kind == SC_TCP4 || kind == SC_UDP4) ? AF_INET : AF_INET6;
	req->sdiag_protocol = (kind == SC_TCP4 || kind == SC_TCP6) ? IPPROTO_TCP : IPPROTO_UDP;
	/*
	 * Every state, TCP_BOUND_INACTIVE included (13 in
	 * include/net/tcp_states.h; not exported to user space).
	 */
	req->idiag_states = ~0u;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	c->kind = kind;
	for (;;) {
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		ret = mnl_cb_run(buf, (size_t)n, seq, portid, on_msg, c);
		if (ret == MNL_CB_ERROR)
			return c->err ? c->err : -errno;
		if (ret == MNL_CB_STOP)
			return 0;
	}
}

int kr_diag_open(kr_diag *d)
{
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_SOCK_DIAG, SOCK_CLOEXEC);

	d->nl = NULL;
	d->seq = (uint32_t)time(NULL);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int e = errno;

		mnl_socket_close(nl);
		return -e;
	}
	d->nl = nl;
	return 0;
}

void kr_diag_close(kr_diag *d)
{
	if (d->nl)
		mnl_socket_close(d->nl);
	d->nl = NULL;
}

int kr_diag_dump(kr_diag *d, kr_diag_row **rows, size_t *nrows)
{
	static const sc_kind kinds[] = { SC_TCP4, SC_TCP6, SC_UDP4, SC_UDP6 };
	dump_ctx c;
	size_t i;

	if (!d->nl)
		return -EBADF;
	memset(&c, 0, sizeof(c));
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		int r = dump_one(d, kinds[i], &c);

		if (r < 0) {
			free(c.rows);
			return r;
		}
	}
	*rows = c.rows;
	*nrows = c.n;
	return 0;
}

#else /* !SOCKTAB_HAVE_LIBMNL */

int kr_diag_open(kr_diag *d)
{
	d->nl = NULL;
	return -ENOTSUP;
}

void kr_diag_close(kr_diag *d)
{
	d->nl = NULL;
}

int kr_diag_dump(kr_diag *d, kr_diag_row **rows, size_t *nrows)
{
	(void)d;
	(void)rows;
	(void)nrows;
	return -ENOTSUP;
}

#endif
