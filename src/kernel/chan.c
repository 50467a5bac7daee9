/*
 * src/kernel/chan.c - one record over a SEQPACKET channel, with at most
 * one descriptor riding along, and the reset every forked helper does.
 *
 * All processes of a replay (runner, workers, guardian, relay) talk through
 * these two functions, so the delicate parts live once: MSG_NOSIGNAL (a
 * peer that died must give EPIPE, not kill us), MSG_CMSG_CLOEXEC (a
 * descriptor in transit must not leak into the next fork), closing any
 * surplus descriptors a confused peer sent, and EINTR.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "kernel/proto.h"

int kr_chan_send(int chan, const void *hdr, size_t hlen, const void *data, size_t dlen, int fd)
{
	struct iovec iov[2];
	struct msghdr mh;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cm;
	int niov = 0;

	iov[niov].iov_base = (void *)hdr;
	iov[niov].iov_len = hlen;
	niov++;
	if (dlen) {
		iov[niov].iov_base = (void *)data;
		iov[niov].iov_len = dlen;
		niov++;
	}
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	mh.msg_iovlen = (size_t)niov;
	if (fd >= 0) {
		struct cmsghdr *c;

		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof(cm.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	for (;;) {
		ssize_t n = sendmsg(chan, &mh, MSG_NOSIGNAL);

		if (n >= 0)
			return (size_t)n == hlen + dlen ? 0 : -EMSGSIZE;
		if (errno != EINTR)
			return -errno;
	}
}

/* Close every descriptor a message carried, keeping the first in *keep. */
static void take_fds(struct msghdr *mh, int *keep)
{
	struct cmsghdr *c;

	for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		size_t n, i;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*keep < 0)
				*keep = fd;
			else
				close(fd);
		}
	}
}

ssize_t kr_chan_recv(int chan, void *buf, size_t cap, int *fd_out, int timeout_ms)
{
	struct iovec iov;
	struct msghdr mh;
	union {
		char buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} cm;
	int fd = -1;
	ssize_t n;

	*fd_out = -1;
	if (timeout_ms >= 0) {
		struct pollfd p = { .fd = chan, .events = POLLIN };
		uint64_t end = kr_now_ns() + (uint64_t)timeout_ms * 1000000u;
		int pr;

		for (;;) {
			uint64_t now = kr_now_ns();
			int left = now >= end ? 0 : (int)((end - now + 999999u) / 1000000u);

			pr = poll(&p, 1, left);
			if (pr > 0)
				break;
			if (pr == 0)
				return -ETIMEDOUT;
			if (errno != EINTR)
				return -errno;
		}
	}
	iov.iov_base = buf;
	iov.iov_len = cap;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.buf;
	mh.msg_controllen = sizeof(cm.buf);
	do
		n = recvmsg(chan, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == ECONNRESET ? 0 : -errno;
	take_fds(&mh, &fd);
	if (mh.msg_flags & MSG_TRUNC) {
		if (fd >= 0)
			close(fd);
		return -EMSGSIZE;
	}
	*fd_out = fd;
	return n;
}

int kr_child_reset(int keep, int at)
{
	int sig;

	/*
	 * The runner's SIGINT/SIGTERM handler cleans up the runner's namespaces;
	 * a child that inherited it would do that on the runner's behalf at the
	 * wrong moment.  Back to defaults, all of them.
	 */
	for (sig = 1; sig < NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		signal(sig, SIG_DFL);
	}

	if (keep != at) {
		if (dup2(keep, at) < 0)
			return -errno;
	}
	if (at > 3 && close_range(3, (unsigned)at - 1, 0) < 0)
		return -errno;
	if (close_range((unsigned)at + 1, ~0u, 0) < 0)
		return -errno;
	return 0;
}

void kr_child_stdio(void)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (null < 0)
		return;
	dup2(null, 0);
	dup2(null, 1);
	close(null);
}

void kr_child_unblock(void)
{
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

void kr_block_signals(sigset_t *old)
{
	sigset_t all;

	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, old);
}

void kr_restore_signals(const sigset_t *old)
{
	sigprocmask(SIG_SETMASK, old, NULL);
}

uint64_t kr_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
