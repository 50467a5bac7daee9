/*
 * src/kernel/relay.c - links with a delay: two TUN devices and a relay.
 *
 * The kernels this project targets have no netem, so `link a:... b:...
 * delay=50ms` cannot be a veth pair with a qdisc.  Instead each end is a
 * TUN device (named ethN like a veth end would be) and a relay process
 * reads every IP packet one end emits, holds it for the delay, and writes
 * it into the other end, where the kernel receives it as if it had come
 * off a wire.  Per direction the delay is constant, so packets leave in
 * the order they came: a FIFO per direction is the whole timer structure,
 * and the next wake-up is the earliest head.
 *
 * The relay is a process, not a thread of the runner, for two reasons:
 * the runner forks workers all the time and a fork from a multithreaded
 * process is best avoided, and a process dies cleanly with the runner
 * (PR_SET_PDEATHSIG plus end-of-file on its channel) and takes the TUN
 * devices with it, since a TUN device lives as long as its descriptor.
 *
 * A direction holds at most RELAY_QUEUE packets; beyond that packets are
 * dropped, as a full queue on a real link would drop them.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kernel/kr.h"
#include "kernel/proto.h"

enum { RELAY_QUEUE = 1024, RELAY_MTU = 65536 };

typedef struct relay_pkt {
	uint64_t due;
	size_t len;
	unsigned char data[];
} relay_pkt;

/* Packets read from fd[dir], waiting to be written to fd[!dir]. */
typedef struct relay_queue {
	relay_pkt *p[RELAY_QUEUE];
	unsigned head, count;
} relay_queue;

typedef struct relay_link {
	int fd[2];
	uint64_t delay;
	relay_queue q[2];
} relay_link;

/* Messages on the relay's channel: one per TUN descriptor. */
typedef struct relay_msg {
	int side;        /* 0: first end (starts a link), 1: second end */
	uint64_t delay;  /* side 0 */
} relay_msg;

static relay_link links[KR_MAX_LINKS];
static int nlinks;

static void relay_read(relay_link *l, int dir, uint64_t now)
{
	static unsigned char buf[RELAY_MTU];

	for (;;) {
		ssize_t n = read(l->fd[dir], buf, sizeof(buf));
		relay_queue *q = &l->q[dir];
		relay_pkt *p;

		if (n <= 0)
			return;
		if (q->count == RELAY_QUEUE)
			continue; /* queue full: dropped */
		p = malloc(sizeof(*p) + (size_t)n);
		if (!p)
			continue; /* no memory: dropped, like a full queue */
		p->due = now + l->delay;
		p->len = (size_t)n;
		memcpy(p->data, buf, (size_t)n);
		q->p[(q->head + q->count) % RELAY_QUEUE] = p;
		q->count++;
	}
}

static void relay_flush(relay_link *l, int dir, uint64_t now)
{
	relay_queue *q = &l->q[dir];

	while (q->count && q->p[q->head]->due <= now) {
		relay_pkt *p = q->p[q->head];

		/* A write that fails is a packet lost on the wire. */
		if (write(l->fd[!dir], p->data, p->len) < 0 && errno == EINTR)
			continue;
		free(p);
		q->head = (q->head + 1) % RELAY_QUEUE;
		q->count--;
	}
}

static _Noreturn void relay_main(int chan)
{
	int pending = -1;         /* first end of a link being added */
	uint64_t pending_delay = 0;

	for (;;) {
		struct pollfd pfd[1 + 2 * KR_MAX_LINKS];
		uint64_t now = kr_now_ns(), next = UINT64_MAX;
		struct timespec ts, *tp = NULL;
		int i, d, n = 0;

		pfd[n].fd = chan;
		pfd[n++].events = POLLIN;
		for (i = 0; i < nlinks; i++) {
			for (d = 0; d < 2; d++) {
				relay_queue *q = &links[i].q[d];

				pfd[n].fd = links[i].fd[d];
				pfd[n++].events = POLLIN;
				if (q->count && q->p[q->head]->due < next)
					next = q->p[q->head]->due;
			}
		}
		if (next != UINT64_MAX) {
			uint64_t wait = next > now ? next - now : 0;

			ts.tv_sec = (time_t)(wait / 1000000000u);
			ts.tv_nsec = (long)(wait % 1000000000u);
			tp = &ts;
		}
		if (ppoll(pfd, (nfds_t)n, tp, NULL) < 0 && errno != EINTR)
			_exit(1);
		now = kr_now_ns();
		if (pfd[0].revents) {
			relay_msg m;
			int fd, st = 0;
			ssize_t r = kr_chan_recv(chan, &m, sizeof(m), &fd, 0);

			if (r == 0 || (r < 0 && r != -ETIMEDOUT && r != -EINTR))
				_exit(0); /* the runner is gone */
			if (r == (ssize_t)sizeof(m) && fd >= 0) {
				if (m.side == 0) {
					if (pending >= 0)
						close(pending);
					pending = fd;
					pending_delay = m.delay;
					fd = -1;
				} else if (pending < 0 || nlinks == KR_MAX_LINKS) {
					st = -ENOSPC;
				} else {
					relay_link *l = &links[nlinks++];

					memset(l, 0, sizeof(*l));
					l->fd[0] = pending;
					l->fd[1] = fd;
					l->delay = pending_delay;
					pending = -1;
					fd = -1;
				}
				if (m.side == 1)
					kr_chan_send(chan, &st, sizeof(st), NULL, 0, -1);
			}
			if (fd >= 0)
				close(fd);
		}
		for (i = 0; i < nlinks; i++) {
			for (d = 0; d < 2; d++)
				if (pfd[1 + 2 * i + d].revents & POLLIN)
					relay_read(&links[i], d, now);
		}
		for (i = 0; i < nlinks; i++)
			for (d = 0; d < 2; d++)
				relay_flush(&links[i], d, now);
	}
}

static int relay_start(kr_relay *r, kr_guard *g, char *msg, size_t msglen)
{
	int sv[2], pidfd, slot;
	pid_t parent = getpid(), pid;
	sigset_t old;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(msg, msglen, "relay: socketpair: %s", strerror(errno));
		return -errno;
	}
	kr_block_signals(&old);
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		/* Hold none of the runner's stdin/stdout: a reader waiting for end
		 * of file on the runner's output must not wait for us. */
		kr_child_stdio();
		if (kr_child_reset(sv[1], 3) < 0)
			_exit(1);
		signal(SIGPIPE, SIG_IGN);
		kr_child_unblock();
		relay_main(3);
	}
	kr_restore_signals(&old);
	close(sv[1]);
	if (pid < 0) {
		int e = errno;

		close(sv[0]);
		snprintf(msg, msglen, "relay: fork: %s", strerror(e));
		return -e;
	}
	r->chan = sv[0];
	r->pid = pid;
	r->guard_slot = -1;
	r->pidfd = -1;
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd >= 0) {
		r->pidfd = pidfd;
		slot = kr_guard_proc(g, pidfd);
		if (slot >= 0)
			r->guard_slot = slot;
	}
	return 0;
}

int kr_relay_add(kr_relay *r, kr_guard *g, int fd_a, int fd_b, uint64_t delay_ns, char *msg,
		 size_t msglen)
{
	relay_msg m;
	int st = 0, e, fd;
	ssize_t n;

	if (r->chan < 0) {
		e = relay_start(r, g, msg, msglen);
		if (e < 0) {
			close(fd_a);
			close(fd_b);
			return e;
		}
	}
	memset(&m, 0, sizeof(m));
	m.side = 0;
	m.delay = delay_ns;
	e = kr_chan_send(r->chan, &m, sizeof(m), NULL, 0, fd_a);
	if (e == 0) {
		m.side = 1;
		e = kr_chan_send(r->chan, &m, sizeof(m), NULL, 0, fd_b);
	}
	close(fd_a);
	close(fd_b);
	if (e == 0) {
		n = kr_chan_recv(r->chan, &st, sizeof(st), &fd, 5000);
		if (fd >= 0)
			close(fd);
		e = n == (ssize_t)sizeof(st) ? st : n < 0 ? (int)n : -EPIPE;
	}
	if (e < 0)
		snprintf(msg, msglen, "relay: adding a link: %s%s", strerror(-e),
			 e == -ENOSPC ? " (too many delayed links)" : "");
	return e;
}

void kr_relay_stop(kr_relay *r, kr_guard *g)
{
	if (r->chan >= 0) {
		close(r->chan);
		r->chan = -1;
	}
	if (r->pid > 0) {
		int st;

		while (waitpid(r->pid, &st, 0) < 0 && errno == EINTR)
			;
		r->pid = -1;
	}
	if (r->guard_slot >= 0) {
		kr_guard_forget(g, r->guard_slot);
		r->guard_slot = -1;
	}
	if (r->pidfd >= 0) {
		close(r->pidfd);
		r->pidfd = -1;
	}
}
