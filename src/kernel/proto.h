/*
 * src/kernel/proto.h - the control channel between the runner and the
 * processes of a kernel replay, and the small helpers every process of the
 * replay shares.
 *
 * Each scenario process is a real process (worker.c) that owns exactly one
 * end of an AF_UNIX SOCK_SEQPACKET socket pair; the runner owns the other.
 * The protocol is strict request/response: the runner writes one kr_req
 * (optionally followed by a payload, optionally carrying one descriptor by
 * SCM_RIGHTS), the worker answers with one kr_rsp (same shape).  A
 * SEQPACKET message is a record, so a request never arrives torn and
 * there is no framing to get wrong; the largest message is a header plus
 * 65,536 bytes of data, well under the socket buffer.
 *
 * End of file on the channel means "the other side is gone": a worker that
 * reads it exits at once, and the runner that reads it reports the process
 * as dead.  That rule alone guarantees no worker outlives its runner, even
 * a runner killed by SIGKILL, because the kernel closes the runner's ends.
 *
 * Addresses cross the channel as sc_sockaddr (interface names, not
 * indexes): the worker translates names to indexes inside its own network
 * namespace, where they mean something.
 */
#ifndef SOCKTAB_KERNEL_PROTO_H
#define SOCKTAB_KERNEL_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <sys/types.h>

#include "scenario/backend.h"

/* Largest datagram or stream chunk a recv returns (the language's limit). */
enum { KR_DATA_MAX = 65536 };

/* Requests.  The comment says what the fields mean for each. */
typedef enum kr_op {
	KR_OP_READY = 1,   /* worker -> runner only: setup finished (rsp.ret 0/-1) */
	KR_OP_SOCKET,      /* arg = sc_kind */
	KR_OP_SETSOCKOPT,  /* fd, arg = sc_opt, val */
	KR_OP_GETSOCKOPT,  /* fd, arg = sc_opt */
	KR_OP_BIND,        /* fd, addr */
	KR_OP_LISTEN,      /* fd, arg = backlog */
	KR_OP_CONNECT,     /* fd, addr, arg = nonblock, timeout_ms */
	KR_OP_ACCEPT,      /* fd */
	KR_OP_SEND,        /* fd, payload */
	KR_OP_SENDTO,      /* fd, addr, payload */
	KR_OP_RECV,        /* fd */
	KR_OP_RECVFROM,    /* fd */
	KR_OP_GETSOCKNAME, /* fd */
	KR_OP_GETPEERNAME, /* fd */
	KR_OP_SHUTDOWN,    /* fd, arg = sc_shut */
	KR_OP_CLOSE,       /* fd */
	KR_OP_FORK,        /* carries the child's channel end; rsp.ret = child pid */
	KR_OP_FDOUT,       /* fd: the response carries a duplicate of it */
	KR_OP_FDIN,        /* carries a descriptor; rsp.ret = its number here */
	KR_OP_EXIT,        /* the worker answers, then exits */
} kr_op;

typedef struct kr_req {
	uint32_t op;        /* kr_op */
	int32_t fd;
	int32_t arg;
	int32_t timeout_ms; /* CONNECT: how long a blocking connect may wait */
	sc_sockaddr addr;
	sc_optval val;
	uint32_t len;       /* bytes of payload after the header */
} kr_req;

typedef struct kr_rsp {
	int32_t ret;        /* >= 0 success (fd, pid, byte count), -1 failure */
	int32_t err;        /* positive errno when ret == -1 */
	int32_t kind;       /* GETSOCKOPT: the sc_rkind of the value */
	int32_t has_addr;   /* addr is meaningful */
	sc_sockaddr addr;
	int64_t ival, ival2;
	char str[16];
	char where[32];     /* READY failure: the step that failed */
	uint32_t len;       /* bytes of payload after the header */
} kr_rsp;

/* Largest message on a channel. */
enum { KR_MSG_MAX = (int)sizeof(kr_req) + (int)sizeof(kr_rsp) + KR_DATA_MAX };

/*
 * Send one message made of a header and an optional payload, with an
 * optional descriptor (fd < 0: none).  Returns 0 or -errno.  Never raises
 * SIGPIPE.
 */
int kr_chan_send(int chan, const void *hdr, size_t hlen, const void *data, size_t dlen,
		 int fd);

/*
 * Receive one message into buf (at most cap bytes).  *fd_out gets a
 * received descriptor (close-on-exec) or -1; descriptors beyond the first
 * are closed.  Returns the message length, 0 at end of file, or -errno.
 * timeout_ms < 0 waits forever.  A message longer than cap is -EMSGSIZE.
 */
ssize_t kr_chan_recv(int chan, void *buf, size_t cap, int *fd_out, int timeout_ms);

/* The worker's main loop (worker.c).  Never returns. */
_Noreturn void kr_worker_main(int chan);

/*
 * Setup of a process forked by the runner (which forks with every signal
 * blocked): default signal actions, `keep` moved to descriptor `at`
 * (at >= 3) and every other descriptor from 3 up closed, so a child holds
 * nothing of the runner's (channels, namespace handles) that would keep
 * them alive.  The signal mask is left alone: the child unblocks with
 * kr_child_unblock() once its own signal actions are in place.  Returns 0
 * or -errno.
 */
int kr_child_reset(int keep, int at);
void kr_child_unblock(void);
/* Point stdin and stdout at /dev/null (stderr stays, for crash reports). */
void kr_child_stdio(void);

/* Block every signal (around fork), and put the old mask back. */
void kr_block_signals(sigset_t *old);
void kr_restore_signals(const sigset_t *old);

/* Monotonic clock in nanoseconds. */
uint64_t kr_now_ns(void);

#endif
