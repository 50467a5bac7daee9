/*
 * src/cli/steer.c - port steering for `socktab diff`: the model takes the
 * ephemeral port Linux chose, if Linux could have chosen it.
 *
 * Linux picks automatic ports (connect, bind to port 0, listen on an
 * unbound socket, a UDP socket's first send) with secret randomness: a
 * keyed hash and a perturbation table for connect, a random start for the
 * others.  The model's choice, made with its own keys, is as legitimate
 * but almost never the same number, and with a small ip_local_port_range
 * the difference changes outcomes, not just numbers: two sockets that
 * happen to get the same port on one side and different ports on the
 * other, a later bind to a fixed port that hits a chosen one on one side
 * only.  Pairing numbers afterwards (diff.h) cannot tell such chance
 * apart from a wrong answer.
 *
 * So both runs are made to take the same chance.  The kernel runs each
 * statement first; after every call that may choose a port, the wrapper
 * around the kernel backend asks the kernel which port the socket now has
 * (getsockname, which changes nothing).  The wrapper around the model
 * hands that port to the model before the same call (sc_model_port_hint),
 * and the model's port search takes it only if Linux's algorithm could
 * have produced it: inside the range, not reserved, free for this socket
 * under the rules of the search round that would have found it, and no
 * port free in an earlier round (the parity order, the lower half first
 * with SO_REUSEADDR, the ip_autobind_reuse round; for connect, usable for
 * the 4-tuple and no port of the first parity usable).  A port the model
 * refuses is a divergence, reported with the model's reason.
 *
 * The wrappers are plain sc_backend objects that forward every operation
 * to the backend they wrap, so the runner (run.c) drives them unchanged.
 */
#include <stdlib.h>
#include <string.h>

#include "cli/steer.h"
#include "scenario/model.h"

typedef struct steer {
	sc_backend base;
	sc_backend *in;
	bool kernel;         /* the kernel side: reports; else the model side */
	sc_steer *ctx;
} steer;

static steer *S(sc_backend *b)
{
	return (steer *)b;
}

/* ---- the two halves of one call -------------------------------------- */

/* Kernel side, after a call that may have chosen a port for (p, fd). */
static void learn(steer *s, int p, int fd)
{
	sc_result r;
	memset(&r, 0, sizeof(r));
	s->in->ops->getsockname(s->in, p, fd, &r);
	if (r.kind == SC_R_ADDR && r.addr.sa.port)
		s->ctx->port = r.addr.sa.port;
	sc_result_clear(&r);
}

/* Model side, before and after the same call. */
static void before(steer *s, int p, int fd)
{
	sc_model_port_hint(s->in, p, fd, s->ctx->port);
}

static void after(steer *s)
{
	const char *why = NULL;
	int st = sc_model_port_hint_done(s->in, &why);
	if (st > 0) {
		s->ctx->taken++;
	} else if (st < 0) {
		s->ctx->refused = true;
		s->ctx->refused_port = s->ctx->port;
		s->ctx->why = why ? why : "no reason given";
	}
}

#define AROUND(call)                                     \
	do {                                             \
		steer *s_ = S(b);                        \
		if (!s_->kernel)                         \
			before(s_, p, fd);               \
		call;                                    \
		if (s_->kernel)                          \
			learn(s_, p, fd);                \
		else                                     \
			after(s_);                       \
	} while (0)

static void w_bind(sc_backend *b, int p, int fd, const sc_sockaddr *a, sc_result *r)
{
	AROUND(S(b)->in->ops->bind(S(b)->in, p, fd, a, r));
}

static void w_listen(sc_backend *b, int p, int fd, int backlog, sc_result *r)
{
	AROUND(S(b)->in->ops->listen(S(b)->in, p, fd, backlog, r));
}

static void w_connect(sc_backend *b, int p, int fd, const sc_sockaddr *a, bool nonblock, sc_result *r)
{
	AROUND(S(b)->in->ops->connect(S(b)->in, p, fd, a, nonblock, r));
}

static void w_send(sc_backend *b, int p, int fd, const uint8_t *data, size_t len, sc_result *r)
{
	AROUND(S(b)->in->ops->send(S(b)->in, p, fd, data, len, r));
}

static void w_sendto(sc_backend *b, int p, int fd, const sc_sockaddr *a, const uint8_t *data,
		     size_t len, sc_result *r)
{
	AROUND(S(b)->in->ops->sendto(S(b)->in, p, fd, a, data, len, r));
}

/* ---- plain forwarding ------------------------------------------------- */

static int w_host(sc_backend *b, const char *name, char *msg, size_t msglen)
{
	return S(b)->in->ops->host(S(b)->in, name, msg, msglen);
}

static int w_addr(sc_backend *b, const char *host, const st_addr *a, int family, int prefixlen,
		  char *msg, size_t msglen)
{
	return S(b)->in->ops->addr(S(b)->in, host, a, family, prefixlen, msg, msglen);
}

static int w_link(sc_backend *b, const char *h1, const st_addr *a1, int f1, int p1, const char *h2,
		  const st_addr *a2, int f2, int p2, uint64_t delay_ns, char *msg, size_t msglen)
{
	return S(b)->in->ops->link(S(b)->in, h1, a1, f1, p1, h2, a2, f2, p2, delay_ns, msg, msglen);
}

static int w_sysctl(sc_backend *b, const char *host, const char *key, const char *const *values,
		    int nvalues, char *msg, size_t msglen)
{
	return S(b)->in->ops->sysctl(S(b)->in, host, key, values, nvalues, msg, msglen);
}

static int w_proc(sc_backend *b, const char *name, const char *host, uint32_t uid, uint32_t caps,
		  char *msg, size_t msglen)
{
	return S(b)->in->ops->proc(S(b)->in, name, host, uid, caps, msg, msglen);
}

static void w_socket(sc_backend *b, int p, sc_kind kind, sc_result *r)
{
	S(b)->in->ops->socket(S(b)->in, p, kind, r);
}

static void w_setsockopt(sc_backend *b, int p, int fd, sc_opt opt, const sc_optval *v, sc_result *r)
{
	S(b)->in->ops->setsockopt(S(b)->in, p, fd, opt, v, r);
}

static void w_getsockopt(sc_backend *b, int p, int fd, sc_opt opt, sc_result *r)
{
	S(b)->in->ops->getsockopt(S(b)->in, p, fd, opt, r);
}

static void w_accept(sc_backend *b, int p, int fd, sc_result *r)
{
	S(b)->in->ops->accept(S(b)->in, p, fd, r);
}

static void w_recv(sc_backend *b, int p, int fd, sc_result *r)
{
	S(b)->in->ops->recv(S(b)->in, p, fd, r);
}

static void w_recvfrom(sc_backend *b, int p, int fd, sc_result *r)
{
	S(b)->in->ops->recvfrom(S(b)->in, p, fd, r);
}

static void w_getsockname(sc_backend *b, int p, int fd, sc_result *r)
{
	S(b)->in->ops->getsockname(S(b)->in, p, fd, r);
}

static void w_getpeername(sc_backend *b, int p, int fd, sc_result *r)
{
	S(b)->in->ops->getpeername(S(b)->in, p, fd, r);
}

static void w_shutdown(sc_backend *b, int p, int fd, sc_shut how, sc_result *r)
{
	S(b)->in->ops->shutdown(S(b)->in, p, fd, how, r);
}

static void w_close(sc_backend *b, int p, int fd, sc_result *r)
{
	S(b)->in->ops->close(S(b)->in, p, fd, r);
}

static void w_fork(sc_backend *b, int p, const char *child, int *child_out, sc_result *r)
{
	S(b)->in->ops->fork(S(b)->in, p, child, child_out, r);
}

static void w_sendfd(sc_backend *b, int p, int fd, int to, sc_result *r)
{
	S(b)->in->ops->sendfd(S(b)->in, p, fd, to, r);
}

static void w_exit(sc_backend *b, int p, sc_result *r)
{
	S(b)->in->ops->exit(S(b)->in, p, r);
}

static void w_sleep(sc_backend *b, uint64_t ns)
{
	S(b)->in->ops->sleep(S(b)->in, ns);
}

static int w_ls(sc_backend *b, const char *host, sc_lsrow **rows, size_t *nrows)
{
	return S(b)->in->ops->ls(S(b)->in, host, rows, nrows);
}

static int w_nofile(sc_backend *b, int p, int limit, char *msg, size_t msglen)
{
	return S(b)->in->ops->nofile(S(b)->in, p, limit, msg, msglen);
}

/* The wrapper is freed by destroy; the wrapped backend is not (the
 * caller created it and destroys it). */
static void w_destroy(sc_backend *b)
{
	free(b);
}

/* Both sides wrap the same way; the name is the side's (sc_steer_wrap). */
static const sc_backend_ops wrapped_ops = {
	.host = w_host, .addr = w_addr, .link = w_link, .sysctl = w_sysctl,
	.proc = w_proc, .socket = w_socket, .setsockopt = w_setsockopt, .getsockopt = w_getsockopt,
	.bind = w_bind, .listen = w_listen, .connect = w_connect, .accept = w_accept,
	.send = w_send, .sendto = w_sendto, .recv = w_recv, .recvfrom = w_recvfrom,
	.getsockname = w_getsockname, .getpeername = w_getpeername, .shutdown = w_shutdown,
	.close = w_close, .fork = w_fork, .sendfd = w_sendfd, .exit = w_exit, .sleep = w_sleep,
	.ls = w_ls, .destroy = w_destroy, .nofile = w_nofile,
};

sc_backend *sc_steer_wrap(sc_backend *in, bool kernel, sc_steer *ctx)
{
	if (!in || !ctx || !in->ops->getsockname)
		return NULL;
	/* A wrapped backend without the optional nofile operation keeps
	 * that absence visible to the runner. */
	steer *s = calloc(1, sizeof(*s) + sizeof(sc_backend_ops));
	if (!s)
		return NULL;
	sc_backend_ops *ops = (sc_backend_ops *)(s + 1);
	*ops = wrapped_ops;
	ops->name = kernel ? "kernel" : "model";
	if (!in->ops->nofile)
		ops->nofile = NULL;
	s->base.ops = ops;
	s->in = in;
	s->kernel = kernel;
	s->ctx = ctx;
	return &s->base;
}

void sc_steer_begin(sc_steer *ctx)
{
	ctx->port = 0;
	ctx->refused = false;
	ctx->refused_port = 0;
	ctx->why = NULL;
}
