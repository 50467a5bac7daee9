/*
 * src/sim/proc.c - processes and their descriptor tables.
 *
 * Sockets are shared the way Unix shares them: a descriptor is a reference,
 * fork copies every descriptor of the parent into the child (same numbers),
 * SCM_RIGHTS installs one more reference in another process at its lowest
 * free number, and close() or exit drops references.  The socket is closed
 * -- FIN, RST, listener teardown -- only when the last reference goes,
 * which is why "the server exited" and "the server closed its socket" are
 * different events when a child still holds the listener.
 *
 * Descriptors 0-2 are taken (stdin/out/err), so sockets start at 3 as in a
 * shell; the per-process limit is RLIMIT_NOFILE's usual soft value, 1024.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_internal.h"
#include "alloc.h"

enum { FIRST_FD = 3 };

int sim_proc_new(sim_world *w, const char *name, sim_host *h, uint32_t uid, uint32_t caps,
		 sim_proc **out)
{
	if (!name || strlen(name) >= sizeof(((sim_proc *)0)->name) || !h)
		return -EINVAL;
	if (w->nprocs >= SIM_MAX_PROCS)
		return -EAGAIN;
	if (w->nprocs == w->capprocs) {
		int ncap = w->capprocs ? 2 * w->capprocs : 16;
		sim_proc **np = st_realloc(w->procs, (size_t)ncap * sizeof(*np));
		if (!np)
			return -ENOMEM;
		w->procs = np;
		w->capprocs = ncap;
	}
	sim_proc *p = st_calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	strcpy(p->name, name);
	p->world = w;
	p->host = h;
	p->uid = uid;
	p->caps = caps;
	p->alive = true;
	p->nofile = SIM_DEFAULT_NOFILE;
	w->procs[w->nprocs++] = p;
	*out = p;
	return 0;
}

const char *sim_proc_name(const sim_proc *p)
{
	return p->name;
}

sim_host *sim_proc_host(sim_proc *p)
{
	return p->host;
}

st_cred sim_proc_cred(const sim_proc *p)
{
	st_cred c = { p->uid, p->caps };
	return c;
}

bool sim_proc_alive(const sim_proc *p)
{
	return p->alive;
}

void sim_proc_set_nofile(sim_proc *p, int limit)
{
	p->nofile = limit < FIRST_FD ? FIRST_FD : limit;
}

static int lowest_free(sim_proc *p)
{
	for (int i = FIRST_FD; i < p->nfds; i++)
		if (!p->fds[i])
			return i;
	return p->nfds < FIRST_FD ? FIRST_FD : p->nfds;
}

static int put_fd(sim_proc *p, int fd, stk_sock *sk)
{
	if (fd >= p->nfds) {
		int n = p->nfds ? p->nfds : 16;
		while (n <= fd)
			n *= 2;
		stk_sock **nf = st_realloc(p->fds, (size_t)n * sizeof(*nf));
		if (!nf)
			return -ENOMEM;
		memset(nf + p->nfds, 0, (size_t)(n - p->nfds) * sizeof(*nf));
		p->fds = nf;
		p->nfds = n;
	}
	p->fds[fd] = sk;
	return fd;
}

int sim_fd_install(sim_proc *p, stk_sock *sk)
{
	if (!p->alive)
		return -EBADF;
	int fd = lowest_free(p);
	if (fd >= p->nofile)
		return -EMFILE;
	return put_fd(p, fd, sk);
}

int sim_fd_reserve(sim_proc *p)
{
	if (!p->alive)
		return -EBADF;
	int fd = lowest_free(p);
	if (fd >= p->nofile)
		return -EMFILE;
	if (fd < p->nfds)
		return 0;
	/* Grow the table now; put_fd() then finds the slot in place. */
	int err = put_fd(p, fd, NULL);
	return err < 0 ? err : 0;
}

bool sim_fd_room(sim_proc *p)
{
	return p->alive && lowest_free(p) < p->nofile;
}

stk_sock *sim_fd_get(sim_proc *p, int fd)
{
	if (!p->alive || fd < 0 || fd >= p->nfds)
		return NULL;
	return p->fds[fd];
}

int sim_fd_close(sim_proc *p, int fd)
{
	stk_sock *sk = sim_fd_get(p, fd);
	if (!sk)
		return -EBADF;
	p->fds[fd] = NULL;
	stk_release(sk);
	return 0;
}

int sim_proc_fork(sim_proc *p, const char *child, sim_proc **out)
{
	if (!p->alive)
		return -ESRCH;
	sim_proc *c;
	int err = sim_proc_new(p->world, child, p->host, p->uid, p->caps, &c);
	if (err)
		return err;
	c->nofile = p->nofile;
	if (p->nfds) {
		c->fds = st_calloc((size_t)p->nfds, sizeof(*c->fds));
		if (!c->fds) {
			/* Undo: the child was the last process added. */
			p->world->nprocs--;
			st_free(c);
			return -ENOMEM;
		}
		c->nfds = p->nfds;
		for (int i = 0; i < p->nfds; i++) {
			if (p->fds[i]) {
				c->fds[i] = p->fds[i];
				stk_hold(p->fds[i]);
			}
		}
	}
	*out = c;
	return 0;
}

/*
 * An exiting process lets go of its descriptors the way Linux does:
 * exit_files() hands each file to fput(), which queues the release as
 * task work, and task work runs newest first -- so the highest descriptor
 * is released first.  Each release (tcp_close) ends by running the
 * softirq work it caused, so what a close put on loopback is delivered
 * before the next descriptor goes: a client closed before its listener
 * gets its FIN to the listener's queued child, which then ends in
 * TIME-WAIT instead of being reset.
 */
void sim_proc_exit(sim_proc *p)
{
	if (!p->alive)
		return;
	for (int i = p->nfds; i-- > 0;)
		if (p->fds[i]) {
			sim_fd_close(p, i);
			sim_settle(p->world);
		}
	p->alive = false;
}

void sim_foreach_fd(sim_world *w, void (*fn)(sim_proc *p, int fd, stk_sock *sk, void *ctx), void *ctx)
{
	for (int i = 0; i < w->nprocs; i++) {
		sim_proc *p = w->procs[i];
		if (!p->alive)
			continue;
		for (int fd = 0; fd < p->nfds; fd++)
			if (p->fds[fd])
				fn(p, fd, p->fds[fd], ctx);
	}
}

void sim_foreach_fdtable(sim_world *w,
			 void (*fn)(sim_proc *p, stk_sock *const *fds, int nfds, void *ctx),
			 void *ctx)
{
	for (int i = 0; i < w->nprocs; i++) {
		sim_proc *p = w->procs[i];
		if (p->alive && p->nfds)
			fn(p, p->fds, p->nfds, ctx);
	}
}
