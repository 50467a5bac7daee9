/*
 * src/kernel/worker.c - a scenario process on the real kernel.
 *
 * A worker is what `proc liz` becomes: a process forked by the runner,
 * already moved into its host's network namespace and down to its uid and
 * capabilities (backend.c does that before calling kr_worker_main), that
 * executes one system call per request from the control channel and
 * reports exactly what the kernel said.  The worker adds no policy: it
 * does not validate descriptors, families or lengths, because refusing
 * those is the kernel's job and its errno is the answer we want.
 *
 * The few places where a call cannot be passed through as written are
 * deliberate and documented in docs/conformance.md:
 *   - accept and every send/recv never block (the language says so):
 *     accept runs with O_NONBLOCK set for the call, send/recv use
 *     MSG_DONTWAIT, and MSG_NOSIGNAL turns SIGPIPE into EPIPE;
 *   - a blocking connect is issued non-blocking and then waited for with
 *     poll() and a timeout, so a SYN nobody answers cannot hang the
 *     runner; completion is read back by calling connect() again, which is
 *     exactly the code path the kernel's own blocking connect ends in.  On
 *     timeout the attempt is aborted (connect to AF_UNSPEC) and ETIMEDOUT
 *     reported, where Linux itself would keep waiting about two minutes.
 *   - file status flags are restored after each call, so a socket is
 *     always "blocking" between statements, as a fresh socket is.
 *
 * The worker keeps no state besides its descriptors (which is the state
 * being tested) and uses static buffers only: it may have been forked from
 * a runner in any condition, and `fork` forks it again.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kernel/proto.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif
#ifndef IP_LOCAL_PORT_RANGE
#define IP_LOCAL_PORT_RANGE 51
#endif

/* One request with its payload; one response payload. */
static unsigned char in_buf[KR_MSG_MAX];
static unsigned char out_data[KR_DATA_MAX];

/* sc_sockaddr -> kernel sockaddr.  Returns 0 or -ENODEV (unknown scope). */
static int to_kernel(const sc_sockaddr *a, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (a->sa.family == ST_AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(a->sa.port);
		s6->sin6_flowinfo = htonl(a->sa.flowinfo);
		memcpy(&s6->sin6_addr, a->sa.addr.b, 16);
		if (a->ifname[0]) {
			unsigned idx = if_nametoindex(a->ifname);

			if (!idx)
				return -ENODEV;
			s6->sin6_scope_id = idx;
		}
		*len = sizeof(*s6);
		return 0;
	}
	/*
	 * AF_INET, and any other family the scenario wrote on purpose: the
	 * kernel's family and length checks must see what a program passing
	 * a sockaddr_in would pass.
	 */
	{
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = a->sa.family;
		s4->sin_port = htons(a->sa.port);
		memcpy(&s4->sin_addr, a->sa.addr.b + 12, 4);
		*len = sizeof(*s4);
	}
	return 0;
}

/* Kernel sockaddr -> sc_sockaddr.  Returns 1 if there was an address. */
static int from_kernel(const struct sockaddr_storage *ss, socklen_t len, sc_sockaddr *out)
{
	memset(out, 0, sizeof(*out));
	if (len >= (socklen_t)sizeof(struct sockaddr_in6) && ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		out->sa.family = ST_AF_INET6;
		out->sa.port = ntohs(s6->sin6_port);
		out->sa.flowinfo = ntohl(s6->sin6_flowinfo);
		memcpy(out->sa.addr.b, &s6->sin6_addr, 16);
		if (s6->sin6_scope_id && !if_indextoname(s6->sin6_scope_id, out->ifname))
			strcpy(out->ifname, "?");
		return 1;
	}
	if (len >= (socklen_t)sizeof(struct sockaddr_in) && ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		out->sa.family = ST_AF_INET;
		out->sa.port = ntohs(s4->sin_port);
		out->sa.addr.b[10] = 0xff;
		out->sa.addr.b[11] = 0xff;
		memcpy(out->sa.addr.b + 12, &s4->sin_addr, 4);
		return 1;
	}
	return 0;
}

static void fail(kr_rsp *rsp, int err)
{
	rsp->ret = -1;
	rsp->err = err;
}

/* Set O_NONBLOCK on fd for one call; *saved gets the flags to restore. */
static int set_nonblock(int fd, int *saved)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -errno;
	*saved = fl;
	if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

static void restore_flags(int fd, int saved)
{
	int e = errno;

	fcntl(fd, F_SETFL, saved);
	errno = e;
}

static int sock_kind(int kind, int *domain, int *type)
{
	switch (kind) {
	case SC_TCP4: *domain = AF_INET; *type = SOCK_STREAM; return 0;
	case SC_TCP6: *domain = AF_INET6; *type = SOCK_STREAM; return 0;
	case SC_UDP4: *domain = AF_INET; *type = SOCK_DGRAM; return 0;
	case SC_UDP6: *domain = AF_INET6; *type = SOCK_DGRAM; return 0;
	default: return -EINVAL;
	}
}

/* Level and name of an integer-valued option; 0 if it is not one. */
static int int_opt(int opt, int *level, int *name)
{
	switch (opt) {
	case SC_SO_REUSEADDR: *level = SOL_SOCKET; *name = SO_REUSEADDR; return 1;
	case SC_SO_REUSEPORT: *level = SOL_SOCKET; *name = SO_REUSEPORT; return 1;
	case SC_IPV6_V6ONLY: *level = IPPROTO_IPV6; *name = IPV6_V6ONLY; return 1;
	case SC_SO_BROADCAST: *level = SOL_SOCKET; *name = SO_BROADCAST; return 1;
	case SC_IP_FREEBIND: *level = IPPROTO_IP; *name = IP_FREEBIND; return 1;
	case SC_IP_TRANSPARENT: *level = IPPROTO_IP; *name = IP_TRANSPARENT; return 1;
	case SC_IP_BIND_ADDRESS_NO_PORT:
		*level = IPPROTO_IP; *name = IP_BIND_ADDRESS_NO_PORT; return 1;
	case SC_SO_ERROR: *level = SOL_SOCKET; *name = SO_ERROR; return 1;
	default: return 0;
	}
}

static void do_setsockopt(const kr_req *q, kr_rsp *rsp)
{
	int level, name, r;

	if (int_opt(q->arg, &level, &name)) {
		int v;

		/* A value Linux's int cannot hold cannot be passed at all. */
		if (q->val.i < -2147483647 - 1 || q->val.i > 2147483647) {
			fail(rsp, EINVAL);
			return;
		}
		v = (int)q->val.i;
		r = setsockopt(q->fd, level, name, &v, sizeof(v));
	} else if (q->arg == SC_SO_LINGER) {
		struct linger l;

		if (q->val.i < -2147483647 - 1 || q->val.i > 2147483647 ||
		    q->val.i2 < -2147483647 - 1 || q->val.i2 > 2147483647) {
			fail(rsp, EINVAL);
			return;
		}
		l.l_onoff = (int)q->val.i;
		l.l_linger = (int)q->val.i2;
		r = setsockopt(q->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	} else if (q->arg == SC_SO_BINDTODEVICE) {
		size_t n = strnlen(q->val.str, sizeof(q->val.str));

		/* Length 0 is how a program unbinds ("" in the language). */
		r = setsockopt(q->fd, SOL_SOCKET, SO_BINDTODEVICE, q->val.str, (socklen_t)n);
	} else if (q->arg == SC_IP_LOCAL_PORT_RANGE) {
		uint32_t v;

		if (q->val.i < 0 || q->val.i > 65535 || q->val.i2 < 0 || q->val.i2 > 65535) {
			fail(rsp, EINVAL);
			return;
		}
		v = (uint32_t)q->val.i2 << 16 | (uint32_t)q->val.i;
		r = setsockopt(q->fd, IPPROTO_IP, IP_LOCAL_PORT_RANGE, &v, sizeof(v));
	} else {
		fail(rsp, ENOPROTOOPT);
		return;
	}
	if (r < 0)
		fail(rsp, errno);
}

static void do_getsockopt(const kr_req *q, kr_rsp *rsp)
{
	int level, name;

	if (int_opt(q->arg, &level, &name)) {
		int v = 0;
		socklen_t l = sizeof(v);

		if (getsockopt(q->fd, level, name, &v, &l) < 0) {
			fail(rsp, errno);
			return;
		}
		if (q->arg == SC_SO_ERROR) {
			rsp->kind = SC_R_ERRNAME;
			rsp->ival = v;
		} else {
			rsp->kind = SC_R_INT;
			rsp->ival = v;
		}
	} else if (q->arg == SC_SO_LINGER) {
		struct linger lg;
		socklen_t l = sizeof(lg);

		memset(&lg, 0, sizeof(lg));
		if (getsockopt(q->fd, SOL_SOCKET, SO_LINGER, &lg, &l) < 0) {
			fail(rsp, errno);
			return;
		}
		rsp->kind = SC_R_LINGER;
		rsp->ival = lg.l_onoff;
		rsp->ival2 = lg.l_linger;
	} else if (q->arg == SC_SO_BINDTODEVICE) {
		char name_buf[IF_NAMESIZE + 1];
		socklen_t l = IF_NAMESIZE;

		memset(name_buf, 0, sizeof(name_buf));
		if (getsockopt(q->fd, SOL_SOCKET, SO_BINDTODEVICE, name_buf, &l) < 0) {
			fail(rsp, errno);
			return;
		}
		rsp->kind = SC_R_STR;
		memcpy(rsp->str, name_buf, sizeof(rsp->str) - 1);
	} else if (q->arg == SC_IP_LOCAL_PORT_RANGE) {
		uint32_t v = 0;
		socklen_t l = sizeof(v);

		if (getsockopt(q->fd, IPPROTO_IP, IP_LOCAL_PORT_RANGE, &v, &l) < 0) {
			fail(rsp, errno);
			return;
		}
		/* Written "lo,hi" like the setsockopt value: the pair kind. */
		rsp->kind = SC_R_LINGER;
		rsp->ival = v & 0xffff;
		rsp->ival2 = v >> 16;
	} else {
		fail(rsp, ENOPROTOOPT);
	}
}

static void do_connect(const kr_req *q, kr_rsp *rsp)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int saved = 0, r, e;

	r = to_kernel(&q->addr, &ss, &len);
	if (r < 0) {
		fail(rsp, -r);
		return;
	}
	r = set_nonblock(q->fd, &saved);
	if (r < 0) {
		fail(rsp, -r);
		return;
	}
	r = connect(q->fd, (struct sockaddr *)&ss, len);
	e = errno;
	if (r < 0 && !q->arg && (e == EINPROGRESS || e == EALREADY)) {
		/* Blocking connect: wait for the handshake to finish or fail. */
		struct pollfd p = { .fd = q->fd, .events = POLLOUT };
		uint64_t end = kr_now_ns() + (uint64_t)(q->timeout_ms > 0 ? q->timeout_ms : 0) *
						     1000000u;
		int pr;

		for (;;) {
			uint64_t now = kr_now_ns();
			int left = now >= end ? 0 : (int)((end - now + 999999u) / 1000000u);

			pr = poll(&p, 1, left);
			if (pr >= 0 || errno != EINTR)
				break;
		}
		if (pr > 0) {
			/* The kernel's blocking connect ends in this same path. */
			r = connect(q->fd, (struct sockaddr *)&ss, len);
			e = errno;
		} else {
			struct sockaddr unspec;

			memset(&unspec, 0, sizeof(unspec));
			unspec.sa_family = AF_UNSPEC;
			connect(q->fd, &unspec, sizeof(unspec));
			r = -1;
			e = ETIMEDOUT;
		}
	}
	restore_flags(q->fd, saved);
	if (r < 0)
		fail(rsp, e);
}

static void do_accept(const kr_req *q, kr_rsp *rsp)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int saved = 0, r, fd;

	r = set_nonblock(q->fd, &saved);
	if (r < 0) {
		fail(rsp, -r);
		return;
	}
	fd = accept4(q->fd, (struct sockaddr *)&ss, &len, 0);
	restore_flags(q->fd, saved);
	if (fd < 0) {
		fail(rsp, errno);
		return;
	}
	rsp->ret = fd;
	rsp->has_addr = from_kernel(&ss, len, &rsp->addr);
}

/* Execute one request.  *out_len and *out_fd describe what goes back. */
static void dispatch(int chan, const kr_req *q, const unsigned char *payload, int in_fd,
		     kr_rsp *rsp, size_t *out_len, int *out_fd)
{
	struct sockaddr_storage ss;
	socklen_t len;
	ssize_t n;
	int r;

	switch (q->op) {
	case KR_OP_SOCKET: {
		int domain, type;

		if (sock_kind(q->arg, &domain, &type) < 0) {
			fail(rsp, EINVAL);
			break;
		}
		r = socket(domain, type, 0);
		if (r < 0)
			fail(rsp, errno);
		else
			rsp->ret = r;
		break;
	}
	case KR_OP_SETSOCKOPT:
		do_setsockopt(q, rsp);
		break;
	case KR_OP_GETSOCKOPT:
		do_getsockopt(q, rsp);
		break;
	case KR_OP_BIND:
		r = to_kernel(&q->addr, &ss, &len);
		if (r < 0)
			fail(rsp, -r);
		else if (bind(q->fd, (struct sockaddr *)&ss, len) < 0)
			fail(rsp, errno);
		break;
	case KR_OP_LISTEN:
		if (listen(q->fd, q->arg) < 0)
			fail(rsp, errno);
		break;
	case KR_OP_CONNECT:
		do_connect(q, rsp);
		break;
	case KR_OP_ACCEPT:
		do_accept(q, rsp);
		break;
	case KR_OP_SEND:
		n = send(q->fd, payload, q->len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0)
			fail(rsp, errno);
		else
			rsp->ret = (int32_t)n;
		break;
	case KR_OP_SENDTO:
		r = to_kernel(&q->addr, &ss, &len);
		if (r < 0) {
			fail(rsp, -r);
			break;
		}
		n = sendto(q->fd, payload, q->len, MSG_DONTWAIT | MSG_NOSIGNAL,
			   (struct sockaddr *)&ss, len);
		if (n < 0)
			fail(rsp, errno);
		else
			rsp->ret = (int32_t)n;
		break;
	case KR_OP_RECV:
	case KR_OP_RECVFROM:
		len = sizeof(ss);
		memset(&ss, 0, sizeof(ss));
		n = recvfrom(q->fd, out_data, sizeof(out_data), MSG_DONTWAIT, (struct sockaddr *)&ss,
			     &len);
		if (n < 0) {
			fail(rsp, errno);
			break;
		}
		rsp->ret = (int32_t)n;
		*out_len = (size_t)n;
		if (q->op == KR_OP_RECVFROM)
			rsp->has_addr = from_kernel(&ss, len, &rsp->addr);
		break;
	case KR_OP_GETSOCKNAME:
	case KR_OP_GETPEERNAME:
		len = sizeof(ss);
		memset(&ss, 0, sizeof(ss));
		r = q->op == KR_OP_GETSOCKNAME ? getsockname(q->fd, (struct sockaddr *)&ss, &len)
					       : getpeername(q->fd, (struct sockaddr *)&ss, &len);
		if (r < 0)
			fail(rsp, errno);
		else
			rsp->has_addr = from_kernel(&ss, len, &rsp->addr);
		break;
	case KR_OP_SHUTDOWN: {
		int how = q->arg == SC_SHUT_RD ? SHUT_RD : q->arg == SC_SHUT_WR ? SHUT_WR : SHUT_RDWR;

		if (shutdown(q->fd, how) < 0)
			fail(rsp, errno);
		break;
	}
	case KR_OP_CLOSE:
		if (close(q->fd) < 0)
			fail(rsp, errno);
		break;
	case KR_OP_FORK: {
		pid_t pid;

		if (in_fd < 0) {
			fail(rsp, EINVAL);
			break;
		}
		pid = fork();
		if (pid == 0) {
			/*
			 * The child: same descriptors, its own channel in the
			 * place of the parent's, and no answer of its own (the
			 * parent answers with our pid).
			 */
			if (dup2(in_fd, chan) < 0)
				_exit(1);
			close(in_fd);
			*out_fd = -2; /* tells the loop: stay silent */
			return;
		}
		close(in_fd);
		if (pid < 0)
			fail(rsp, errno);
		else
			rsp->ret = pid;
		return;
	}
	case KR_OP_FDOUT:
		if (fcntl(q->fd, F_GETFD) < 0) {
			fail(rsp, errno);
			break;
		}
		*out_fd = q->fd;
		break;
	case KR_OP_FDIN:
		if (in_fd < 0) {
			fail(rsp, EINVAL);
			break;
		}
		/* Received descriptors are close-on-exec in transit; a program's are not. */
		fcntl(in_fd, F_SETFD, 0);
		rsp->ret = in_fd;
		return;
	case KR_OP_EXIT:
		break;
	default:
		fail(rsp, EINVAL);
		break;
	}
	if (in_fd >= 0)
		close(in_fd);
}

_Noreturn void kr_worker_main(int chan)
{
	for (;;) {
		kr_req q;
		kr_rsp rsp;
		size_t out_len = 0;
		int in_fd, out_fd = -1;
		ssize_t n = kr_chan_recv(chan, in_buf, sizeof(in_buf), &in_fd, -1);

		if (n <= 0)
			_exit(0); /* the runner is gone: so are we */
		if ((size_t)n < sizeof(q)) {
			if (in_fd >= 0)
				close(in_fd);
			_exit(3);
		}
		memcpy(&q, in_buf, sizeof(q));
		if (q.len != (size_t)n - sizeof(q)) {
			if (in_fd >= 0)
				close(in_fd);
			_exit(3);
		}
		memset(&rsp, 0, sizeof(rsp));
		if (q.fd == chan) {
			/* The channel is ours, not the scenario's: no such descriptor. */
			if (in_fd >= 0)
				close(in_fd);
			fail(&rsp, EBADF);
		} else {
			dispatch(chan, &q, in_buf + sizeof(q), in_fd, &rsp, &out_len, &out_fd);
		}
		if (out_fd == -2)
			continue; /* a fork child, waiting for its first request */
		rsp.len = (uint32_t)out_len;
		if (kr_chan_send(chan, &rsp, sizeof(rsp), out_data, out_len, out_fd) < 0)
			_exit(0);
		if (q.op == KR_OP_EXIT)
			_exit(0);
	}
}
