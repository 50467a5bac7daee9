/*
 * tests/kernel/test_kernel_cleanup.c - a kernel replay leaves nothing behind.
 *
 * The binary plays two roles.  Run as `test_kernel_cleanup --driver MODE`
 * it is a runner: it creates a backend with three hosts (local, a, b), a
 * veth link, a delayed link (so a relay process exists), processes in two
 * namespaces and a forked one, prints READY, and then ends the way MODE
 * says: destroy normally, exit without destroying, abort(), lose a worker
 * to SIGKILL and carry on, or wait to be killed by SIGTERM, SIGINT or
 * SIGKILL.  Run without arguments it is the test: for each mode it starts
 * a driver, records what the driver created (the driver's descendant
 * processes, the /run/netns names and the namespaces' inode numbers),
 * ends it, and then checks within a few seconds that every one of those
 * processes is gone, every name is gone, and no process is left in any of
 * those namespaces.  The test makes itself a child subreaper so orphaned
 * workers come back to it to be reaped instead of lingering as zombies
 * of some unrelated init.
 */
#include "kr_test.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- the driver ------------------------------------------------------ */

static void drv_world(int r, const char *what)
{
	if (r < 0) {
		printf("FAIL %s: %s\n", what, kt_msg);
		fflush(stdout);
		exit(3);
	}
}

static int drv_sock(int p, sc_kind k)
{
	sc_result r;
	int fd;

	kt_b->ops->socket(kt_b, p, k, &r);
	fd = r.kind == SC_R_ERR ? -1 : r.fd;
	sc_result_clear(&r);
	return fd;
}

/* Our child processes that live in another network namespace. */
static int children_elsewhere(pid_t *out, int max)
{
	char path[64], line[1024], mine[64];
	FILE *f;
	int n = 0;
	ssize_t lm = readlink("/proc/self/ns/net", mine, sizeof(mine) - 1);

	snprintf(path, sizeof(path), "/proc/self/task/%ld/children", (long)getpid());
	f = fopen(path, "r");
	if (!f || lm <= 0)
		return 0;
	if (fgets(line, sizeof(line), f)) {
		char *p = line, *end;
		long pid;

		while ((pid = strtol(p, &end, 10)), end != p) {
			char lp[64], ns[64];
			ssize_t l;

			p = end;
			snprintf(lp, sizeof(lp), "/proc/%ld/ns/net", pid);
			l = readlink(lp, ns, sizeof(ns) - 1);
			if (l > 0 && (l != lm || memcmp(ns, mine, (size_t)l) != 0) && n < max)
				out[n++] = (pid_t)pid;
		}
	}
	fclose(f);
	return n;
}

static int driver(const char *mode)
{
	int skip = 0, liz, tim, timc = -1, s, t;
	sc_backend_config cfg;
	st_addr a1, a2, d1, d2;
	int fam;
	sc_result r;
	char line[64];
	sc_sockaddr la = kt_addr("127.0.0.1:7000"), ta = kt_addr("10.0.0.1:80");

	memset(&cfg, 0, sizeof(cfg));
	kt_b = kr_backend_new(&cfg, kt_msg, sizeof(kt_msg), &skip);
	if (!kt_b) {
		printf("%s %s\n", skip ? "SKIP" : "FAIL", kt_msg);
		return skip ? 77 : 3;
	}
	st_addr_parse("10.0.0.1", &a1, &fam);
	st_addr_parse("10.0.0.2", &a2, &fam);
	st_addr_parse("10.9.0.1", &d1, &fam);
	st_addr_parse("10.9.0.2", &d2, &fam);
	drv_world(kt_b->ops->host(kt_b, "a", kt_msg, sizeof(kt_msg)), "host a");
	drv_world(kt_b->ops->host(kt_b, "b", kt_msg, sizeof(kt_msg)), "host b");
	drv_world(kt_b->ops->link(kt_b, "a", &a1, ST_AF_INET, 24, "b", &a2, ST_AF_INET, 24, 0,
				  kt_msg, sizeof(kt_msg)),
		  "link");
	drv_world(kt_b->ops->link(kt_b, "a", &d1, ST_AF_INET, 24, "b", &d2, ST_AF_INET, 24,
				  20000000, kt_msg, sizeof(kt_msg)),
		  "delayed link");
	liz = kt_b->ops->proc(kt_b, "liz", "local", 1000, 0, kt_msg, sizeof(kt_msg));
	drv_world(liz, "proc liz");
	tim = kt_b->ops->proc(kt_b, "tim", "a", 0, ST_CAP_ALL, kt_msg, sizeof(kt_msg));
	drv_world(tim, "proc tim");
	s = drv_sock(liz, SC_TCP4);
	kt_b->ops->bind(kt_b, liz, s, &la, &r);
	sc_result_clear(&r);
	t = drv_sock(tim, SC_TCP4);
	kt_b->ops->bind(kt_b, tim, t, &ta, &r);
	sc_result_clear(&r);
	kt_b->ops->listen(kt_b, tim, t, 128, &r);
	sc_result_clear(&r);
	kt_b->ops->fork(kt_b, tim, "timc", &timc, &r);
	if (r.kind == SC_R_ERR || timc < 0) {
		printf("FAIL fork\n");
		return 3;
	}
	sc_result_clear(&r);
	printf("READY\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		line[0] = 0;

	if (strcmp(mode, "normal") == 0) {
		kt_b->ops->destroy(kt_b);
		return 0;
	}
	if (strcmp(mode, "exit") == 0)
		_exit(0); /* a runner that forgets to destroy (and no leak report) */
	if (strcmp(mode, "abort") == 0) {
		struct rlimit nocore = { 0, 0 };

		setrlimit(RLIMIT_CORE, &nocore); /* a crash, not a core file */
		abort();
	}
	if (strcmp(mode, "crash-child") == 0) {
		pid_t kids[8];
		int n = children_elsewhere(kids, 8), i;

		/* liz is the only direct child in "local"... kill every worker we
		 * forked ourselves (liz and tim; timc is tim's child). */
		for (i = 0; i < n; i++)
			kill(kids[i], SIGKILL);
		kt_b->ops->listen(kt_b, liz, s, 128, &r);
		printf("%s\n", r.kind == SC_R_ERR && r.err == ESRCH ? "ESRCH-OK" : "ESRCH-MISSING");
		sc_result_clear(&r);
		/* timc lost its parent but not its runner: it still answers. */
		kt_b->ops->getsockname(kt_b, timc, t, &r);
		printf("%s\n", r.kind == SC_R_ADDR ? "TIMC-OK" : "TIMC-MISSING");
		sc_result_clear(&r);
		fflush(stdout);
		kt_b->ops->destroy(kt_b);
		return 0;
	}
	/* sigterm, sigint, sigkill: the test kills us while we wait. */
	for (;;)
		pause();
}

/* ---- the test --------------------------------------------------------- */

static char self_exe[4096];

typedef struct snapshot {
	pid_t pids[64];
	int npids;
	char names[8][300];
	int nnames;
	ino_t ns[8];
	int nns;
} snapshot;

static pid_t parent_of(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	long pp = -1;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f)) {
		p = strrchr(buf, ')');
		if (p && sscanf(p + 2, "%*c %ld", &pp) != 1)
			pp = -1;
	}
	fclose(f);
	return (pid_t)pp;
}

/* The guardian is the descendant that leads its own session. */
static pid_t session_leader(const snapshot *s)
{
	int i;

	for (i = 0; i < s->npids; i++) {
		char path[64], buf[512], *p;
		long sid = -1;
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%ld/stat", (long)s->pids[i]);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f)) {
			p = strrchr(buf, ')');
			if (p && sscanf(p + 2, "%*c %*d %*d %ld", &sid) != 1)
				sid = -1;
		}
		fclose(f);
		if (sid == (long)s->pids[i])
			return s->pids[i];
	}
	return -1;
}

static bool alive(pid_t pid)
{
	char path[64], buf[512], *p, st = '?';
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (fgets(buf, sizeof(buf), f)) {
		p = strrchr(buf, ')');
		if (p)
			st = p[2];
	}
	fclose(f);
	return st != 'Z' && st != 'X';
}

/* Every process whose ancestry leads to `root`. */
static void descendants(pid_t root, snapshot *s)
{
	DIR *d = opendir("/proc");
	struct dirent *e;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		pid_t pid = (pid_t)atol(e->d_name), p;
		int depth;

		if (pid <= 0 || pid == root)
			continue;
		for (p = pid, depth = 0; p > 1 && depth < 64; depth++) {
			p = parent_of(p);
			if (p == root) {
				if (s->npids < 64)
					s->pids[s->npids++] = pid;
				break;
			}
		}
	}
	closedir(d);
}

static void netns_names(pid_t drv, snapshot *s)
{
	char prefix[64];
	DIR *d = opendir("/run/netns");
	struct dirent *e;

	snprintf(prefix, sizeof(prefix), "st-%ld-", (long)drv);
	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		struct stat st;

		if (strncmp(e->d_name, prefix, strlen(prefix)) != 0 || s->nnames == 8)
			continue;
		snprintf(s->names[s->nnames], sizeof(s->names[0]), "/run/netns/%s", e->d_name);
		if (stat(s->names[s->nnames], &st) == 0 && s->nns < 8)
			s->ns[s->nns++] = st.st_ino;
		s->nnames++;
	}
	closedir(d);
}

/* Is any process still in one of the recorded namespaces? */
static long proc_in_ns(const snapshot *s)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	long found = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL && !found) {
		char path[300];
		struct stat st;
		int i;

		if (atol(e->d_name) <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%s/ns/net", e->d_name);
		if (stat(path, &st) != 0)
			continue;
		for (i = 0; i < s->nns; i++)
			if (st.st_ino == s->ns[i] && alive((pid_t)atol(e->d_name)))
				found = atol(e->d_name);
	}
	closedir(d);
	return found;
}

static void reap_all(void)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

/* Wait up to 5 s for everything in s to disappear; fail saying what stayed. */
static void expect_clean(const snapshot *s)
{
	double end = kt_now() + 5.0;
	const char *what = NULL;
	long who = 0;
	int i;

	for (;;) {
		reap_all();
		what = NULL;
		for (i = 0; i < s->npids && !what; i++)
			if (alive(s->pids[i])) {
				what = "process";
				who = s->pids[i];
			}
		for (i = 0; i < s->nnames && !what; i++)
			if (access(s->names[i], F_OK) == 0) {
				what = s->names[i];
				who = 0;
			}
		if (!what) {
			who = proc_in_ns(s);
			if (who)
				what = "process inside a replay namespace";
		}
		if (!what || kt_now() > end)
			break;
		usleep(20000);
	}
	if (what)
		fail_msg("left behind: %s %ld", what, who);
}

static void run_mode(const char *mode, int sig, int want_exit, int want_signal,
		     const char *want_line)
{
	int in[2], out[2], st;
	pid_t drv;
	FILE *from;
	char line[512], rest[4096] = "";
	snapshot s;
	bool ready = false;
	pid_t guardian = -1;

	memset(&s, 0, sizeof(s));
	assert_int_equal(pipe(in), 0);
	assert_int_equal(pipe(out), 0);
	drv = fork();
	assert_true(drv >= 0);
	if (drv == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execl(self_exe, self_exe, "--driver", mode, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	from = fdopen(out[0], "r");
	assert_non_null(from);
	while (fgets(line, sizeof(line), from)) {
		if (strncmp(line, "SKIP", 4) == 0) {
			fprintf(stderr, "skipped: %s", line);
			exit(77);
		}
		if (strncmp(line, "READY", 5) == 0) {
			ready = true;
			break;
		}
		fail_msg("driver %s: %s", mode, line);
	}
	assert_true(ready);
	descendants(drv, &s);
	netns_names(drv, &s);
	/* guardian, relay, liz, tim, timc */
	if (s.npids < 5)
		fail_msg("driver %s: expected at least 5 helper processes, found %d", mode, s.npids);
	if (s.nnames != 3 || s.nns != 3)
		fail_msg("driver %s: expected 3 named namespaces, found %d", mode, s.nnames);

	/*
	 * SIGTERM and SIGINT run the runner's handler, which removes the names
	 * before the process dies.  To see that it does (and not the guardian,
	 * which would do it a moment later), the guardian is frozen meanwhile.
	 */
	if (sig == SIGTERM || sig == SIGINT) {
		guardian = session_leader(&s);
		assert_true(guardian > 0);
		assert_int_equal(kill(guardian, SIGSTOP), 0);
	}
	if (sig)
		kill(drv, sig);
	else if (write(in[1], "go\n", 3) != 3)
		fail_msg("driver %s: cannot write", mode);
	while (fgets(line, sizeof(line), from))
		if (strlen(rest) + strlen(line) < sizeof(rest))
			strcat(rest, line);
	fclose(from);
	close(in[1]);
	assert_int_equal(waitpid(drv, &st, 0), drv);
	if (want_signal) {
		if (!WIFSIGNALED(st) || WTERMSIG(st) != want_signal)
			fail_msg("driver %s: status %#x, expected signal %d", mode, st, want_signal);
	} else {
		if (!WIFEXITED(st) || WEXITSTATUS(st) != want_exit)
			fail_msg("driver %s: status %#x, expected exit %d", mode, st, want_exit);
	}
	if (guardian > 0) {
		int i;

		for (i = 0; i < s.nnames; i++)
			if (access(s.names[i], F_OK) == 0) {
				kill(guardian, SIGCONT);
				fail_msg("driver %s: %s still there when the runner died", mode,
					 s.names[i]);
			}
		kill(guardian, SIGCONT);
	}
	/* want_line: words that must each appear in the driver's output */
	if (want_line) {
		char words[256], *w, *save = NULL;

		snprintf(words, sizeof(words), "%s", want_line);
		for (w = strtok_r(words, " ", &save); w; w = strtok_r(NULL, " ", &save))
			if (!strstr(rest, w))
				fail_msg("driver %s: no %s in its output:\n%s", mode, w, rest);
	}
	expect_clean(&s);
}

static void test_normal(void **state)
{
	(void)state;
	run_mode("normal", 0, 0, 0, NULL);
}

static void test_exit_without_destroy(void **state)
{
	(void)state;
	run_mode("exit", 0, 0, 0, NULL);
}

static void test_abort(void **state)
{
	(void)state;
	run_mode("abort", 0, 0, SIGABRT, NULL);
}

static void test_crashed_children(void **state)
{
	(void)state;
	run_mode("crash-child", 0, 0, 0, "ESRCH-OK TIMC-OK");
}

static void test_sigterm(void **state)
{
	(void)state;
	run_mode("wait", SIGTERM, 0, SIGTERM, NULL);
}

static void test_sigint(void **state)
{
	(void)state;
	run_mode("wait", SIGINT, 0, SIGINT, NULL);
}

static void test_sigkill(void **state)
{
	(void)state;
	run_mode("wait", SIGKILL, 0, SIGKILL, NULL);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normal),
		cmocka_unit_test(test_exit_without_destroy),
		cmocka_unit_test(test_abort),
		cmocka_unit_test(test_crashed_children),
		cmocka_unit_test(test_sigterm),
		cmocka_unit_test(test_sigint),
		cmocka_unit_test(test_sigkill),
	};
	ssize_t n;

	if (argc == 3 && strcmp(argv[1], "--driver") == 0)
		return driver(argv[2]);
	n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	if (n <= 0)
		return 1;
	self_exe[n] = 0;
	/* Orphans of a dead driver come back to us to be reaped. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
