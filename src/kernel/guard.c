/*
 * src/kernel/guard.c - leave nothing behind, whatever happens to the runner.
 *
 * A kernel replay creates things that outlive a careless process: named
 * network namespaces (bind mounts under /run/netns persist until
 * unmounted) and processes.  Three mechanisms cover the exit paths:
 *
 *   1. normal end: the backend's destroy removes everything itself;
 *   2. SIGINT / SIGTERM / SIGHUP: a handler kills the registered processes
 *      and removes the registered mounts, then re-raises the signal with
 *      its default action, so the exit status still says "killed by
 *      SIGTERM";
 *   3. anything else, SIGKILL included: the guardian, a child process
 *      forked when the backend is created, holds the other end of a
 *      channel; when the runner dies the kernel closes the runner's end,
 *      the guardian reads end-of-file and does what the handler would have.
 *
 * Workers also exit by themselves when their control channel closes
 * (proto.h), and namespaces without a name die with their last process
 * and descriptor, so (3) matters only for the names and for a worker
 * stuck in a call; it is cheap insurance.
 *
 * The registry is two fixed arrays, because a signal handler may not
 * allocate and must never see a half-written entry: entries are written
 * with every signal blocked and published by a single sig_atomic_t store.
 * Processes are registered by pidfd, never by pid, so a process that has
 * exited and whose pid was recycled can never be hit.  The guardian keeps
 * the same registry, fed over its channel (pidfds travel by SCM_RIGHTS).
 *
 * Signal handlers are installed while at least one guard exists and only
 * for signals whose action was the default: a program that ignores SIGHUP
 * or handles SIGINT itself keeps doing so (and must then destroy the
 * backend itself).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernel/kr.h"
#include "kernel/proto.h"

enum { REG_MOUNTS = 4 * KR_MAX_HOSTS, REG_PROCS = 2 * KR_MAX_PROCS + 16 };

/* ---- the registry (one per process: the runner's, or the guardian's) ---- */

static char reg_path[REG_MOUNTS][KR_PATH_MAX];
static volatile sig_atomic_t reg_path_used[REG_MOUNTS];
static volatile sig_atomic_t reg_pidfd[REG_PROCS]; /* pidfd + 1; 0 = free */

static void kill_all(void)
{
	int i;

	for (i = 0; i < REG_PROCS; i++) {
		int v = reg_pidfd[i];

		if (v > 0)
			syscall(SYS_pidfd_send_signal, v - 1, SIGKILL, NULL, 0);
	}
}

static void unmount_all(void)
{
	int i;

	for (i = 0; i < REG_MOUNTS; i++) {
		if (reg_path_used[i]) {
			umount2(reg_path[i], MNT_DETACH);
			unlink(reg_path[i]);
		}
	}
}

/* ---- signal handlers -------------------------------------------------- */

static const int caught[] = { SIGINT, SIGTERM, SIGHUP };
static bool installed[3];
static int nguards;

static void on_signal(int sig)
{
	int saved = errno;
	struct sigaction sa;

	kill_all();
	unmount_all();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(sig, &sa, NULL);
	/* Pending until we return (the signal is blocked in its handler). */
	raise(sig);
	errno = saved;
}

static void install_handlers(void)
{
	size_t i;

	for (i = 0; i < sizeof(caught) / sizeof(caught[0]); i++) {
		struct sigaction old, sa;

		if (sigaction(caught[i], NULL, &old) < 0 || old.sa_handler != SIG_DFL ||
		    (old.sa_flags & SA_SIGINFO))
			continue;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_signal;
		sigfillset(&sa.sa_mask);
		if (sigaction(caught[i], &sa, NULL) == 0)
			installed[i] = true;
	}
}

static void remove_handlers(void)
{
	size_t i;

	for (i = 0; i < sizeof(caught) / sizeof(caught[0]); i++) {
		struct sigaction sa;

		if (!installed[i])
			continue;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_DFL;
		sigaction(caught[i], &sa, NULL);
		installed[i] = false;
	}
}

/* Registry updates run with every signal blocked, so the handler sees
 * whole entries only. */
#define block_all kr_block_signals
#define unblock kr_restore_signals

/* ---- the guardian ------------------------------------------------------ */

enum { GM_MOUNT = 1, GM_UNMOUNT, GM_PROC, GM_FORGET };

typedef struct guard_msg {
	int op;
	int slot;
	char path[KR_PATH_MAX];
} guard_msg;

static _Noreturn void guardian_main(int chan)
{
	for (;;) {
		guard_msg m;
		int fd;
		ssize_t n = kr_chan_recv(chan, &m, sizeof(m), &fd, -1);

		if (n <= 0)
			break;
		if ((size_t)n != sizeof(m) || m.slot < 0) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		switch (m.op) {
		case GM_MOUNT:
			if (m.slot < REG_MOUNTS) {
				memcpy(reg_path[m.slot], m.path, KR_PATH_MAX);
				reg_path[m.slot][KR_PATH_MAX - 1] = 0;
				reg_path_used[m.slot] = 1;
			}
			break;
		case GM_UNMOUNT:
			if (m.slot < REG_MOUNTS)
				reg_path_used[m.slot] = 0;
			break;
		case GM_PROC:
			if (m.slot < REG_PROCS && fd >= 0) {
				if (reg_pidfd[m.slot] > 0)
					close(reg_pidfd[m.slot] - 1);
				reg_pidfd[m.slot] = fd + 1;
				fd = -1;
			}
			break;
		case GM_FORGET:
			if (m.slot < REG_PROCS && reg_pidfd[m.slot] > 0) {
				close(reg_pidfd[m.slot] - 1);
				reg_pidfd[m.slot] = 0;
			}
			break;
		}
		if (fd >= 0)
			close(fd);
	}
	/* The runner is gone (or done): whatever is still registered goes. */
	kill_all();
	unmount_all();
	_exit(0);
}

static void guard_tell(kr_guard *g, int op, int slot, const char *path, int fd)
{
	guard_msg m;

	if (g->chan < 0)
		return;
	memset(&m, 0, sizeof(m));
	m.op = op;
	m.slot = slot;
	if (path)
		snprintf(m.path, sizeof(m.path), "%s", path);
	/*
	 * A failure means the guardian died: the handler and the backend's own
	 * cleanup still work, only the SIGKILL insurance is lost.
	 */
	kr_chan_send(g->chan, &m, sizeof(m), NULL, 0, fd);
}

int kr_guard_start(kr_guard *g, char *msg, size_t msglen)
{
	int sv[2];
	sigset_t old;
	pid_t pid;

	g->chan = -1;
	g->pid = -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(msg, msglen, "guardian: socketpair: %s", strerror(errno));
		return -errno;
	}
	block_all(&old);
	pid = fork();
	if (pid == 0) {
		/* Its own session: a Ctrl-C at the terminal must not take it down. */
		setsid();
		/* Hold none of the runner's stdin/stdout: a reader waiting for end
		 * of file on the runner's output must not wait for us. */
		kr_child_stdio();
		if (kr_child_reset(sv[1], 3) < 0)
			_exit(1);
		signal(SIGINT, SIG_IGN);
		signal(SIGTERM, SIG_IGN);
		signal(SIGHUP, SIG_IGN);
		signal(SIGPIPE, SIG_IGN);
		memset((void *)reg_path_used, 0, sizeof(reg_path_used));
		memset((void *)reg_pidfd, 0, sizeof(reg_pidfd));
		kr_child_unblock();
		guardian_main(3);
	}
	if (pid < 0) {
		int e = errno;

		unblock(&old);
		close(sv[0]);
		close(sv[1]);
		snprintf(msg, msglen, "guardian: fork: %s", strerror(e));
		return -e;
	}
	close(sv[1]);
	g->chan = sv[0];
	g->pid = pid;
	if (nguards++ == 0)
		install_handlers();
	unblock(&old);
	return 0;
}

void kr_guard_stop(kr_guard *g)
{
	sigset_t old;

	if (g->chan >= 0) {
		close(g->chan);
		g->chan = -1;
	}
	if (g->pid > 0) {
		int st;

		while (waitpid(g->pid, &st, 0) < 0 && errno == EINTR)
			;
		g->pid = -1;
		block_all(&old);
		if (--nguards == 0)
			remove_handlers();
		unblock(&old);
	}
}

int kr_guard_mount(kr_guard *g, const char *path)
{
	sigset_t old;
	int i;

	if (strlen(path) >= KR_PATH_MAX)
		return -ENAMETOOLONG;
	block_all(&old);
	for (i = 0; i < REG_MOUNTS; i++) {
		if (!reg_path_used[i]) {
			snprintf(reg_path[i], KR_PATH_MAX, "%s", path);
			reg_path_used[i] = 1;
			break;
		}
	}
	unblock(&old);
	if (i == REG_MOUNTS)
		return -ENOSPC;
	guard_tell(g, GM_MOUNT, i, path, -1);
	return i;
}

void kr_guard_unmount(kr_guard *g, int slot)
{
	sigset_t old;

	if (slot < 0 || slot >= REG_MOUNTS)
		return;
	block_all(&old);
	if (reg_path_used[slot]) {
		umount2(reg_path[slot], MNT_DETACH);
		unlink(reg_path[slot]);
		reg_path_used[slot] = 0;
	}
	unblock(&old);
	guard_tell(g, GM_UNMOUNT, slot, NULL, -1);
}

void kr_guard_drop_mount(kr_guard *g, int slot)
{
	sigset_t old;

	if (slot < 0 || slot >= REG_MOUNTS)
		return;
	block_all(&old);
	reg_path_used[slot] = 0;
	unblock(&old);
	guard_tell(g, GM_UNMOUNT, slot, NULL, -1);
}

int kr_guard_proc(kr_guard *g, int pidfd)
{
	sigset_t old;
	int i;

	if (pidfd < 0)
		return -EBADF;
	block_all(&old);
	for (i = 0; i < REG_PROCS; i++) {
		if (reg_pidfd[i] == 0) {
			reg_pidfd[i] = pidfd + 1;
			break;
		}
	}
	unblock(&old);
	if (i == REG_PROCS)
		return -ENOSPC;
	/* The guardian gets a duplicate of its own (SCM_RIGHTS). */
	guard_tell(g, GM_PROC, i, NULL, pidfd);
	return i;
}

void kr_guard_forget(kr_guard *g, int slot)
{
	sigset_t old;
	int v;

	if (slot < 0 || slot >= REG_PROCS)
		return;
	block_all(&old);
	v = reg_pidfd[slot];
	reg_pidfd[slot] = 0;
	unblock(&old);
	if (v > 0)
		guard_tell(g, GM_FORGET, slot, NULL, -1);
}
