/*
 * bench/linux_ops.c - the kernel side of bench/compare: the same bind,
 * bind(0) and connect-exhaust operations as socktab_bench's, made as real
 * system calls, timed the same way, printed in the same JSON shape
 * ("system": "linux").
 *
 *   linux_ops WORKLOAD N
 *     bind-distinct   N TCP sockets, each its own port on 127.0.0.1 (then
 *                     127.0.0.2, ... past 64,512)
 *     bind-addrs      N TCP sockets on 127.0.0.1+i : 5000
 *     bind-reuseport  N TCP SO_REUSEPORT sockets on 127.0.0.1:5000
 *     bind0-exhaust   bind(127.0.0.1:0) until EADDRINUSE (N ignored)
 *     connect-exhaust connect() to a listener on 127.0.0.2:8080 until
 *                     EADDRNOTAVAIL (N ignored)
 *
 * It is meant to run inside a fresh network namespace (bench/compare
 * makes one), where it may change net.core.somaxconn and where nothing
 * else holds ports.  Only bind()/connect() are timed (socket() and
 * setsockopt() are not), as in socktab_bench: "seconds" is the CPU time
 * of the loop of calls (user and kernel), per-call figures are medians of
 * wall-clock times.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * A process may hold only RLIMIT_NOFILE descriptors, and without
 * CAP_SYS_RESOURCE (as in this workplace) the hard limit cannot be
 * raised, so sockets are spread over worker processes of CHUNK sockets
 * each.  Workers run one after the other: worker k creates and binds (or
 * connects) its share while workers 0..k-1 still hold theirs, so every
 * call meets the whole table built so far, as in one process.  A worker
 * reports its per-call times through a pipe and then waits, holding its
 * sockets, until the parent ends them all (by pid).
 */
enum { CHUNK_MAX = 19000 };

static size_t chunk_size(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 1000;
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	size_t c = rl.rlim_cur > 200 ? (size_t)rl.rlim_cur - 100 : 100;
	return c > CHUNK_MAX ? CHUNK_MAX : c;
}

static struct sockaddr_in sin4(uint32_t addr, uint16_t port)
{
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(addr);
	a.sin_port = htons(port);
	return a;
}

typedef enum op { OP_DISTINCT, OP_ADDRS, OP_REUSEPORT, OP_BIND0, OP_CONNECT } op;

static uint64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* socket() and the options, before any clock runs. */
static int make_socket(op o)
{
	int fd = socket(AF_INET, SOCK_STREAM | (o == OP_CONNECT ? SOCK_NONBLOCK : 0), 0);
	if (fd >= 0 && o == OP_REUSEPORT) {
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	}
	return fd;
}

/* One socket's operation; returns 0 or errno.  Only the call is timed. */
static int do_one(op o, int fd, size_t i, uint32_t *ns)
{
	struct sockaddr_in a;
	switch (o) {
	case OP_DISTINCT:
		a = sin4(0x7f000001u + (uint32_t)(i / 64512), (uint16_t)(1024 + i % 64512));
		break;
	case OP_ADDRS:
		a = sin4(0x7f000001u + (uint32_t)i, 5000);
		break;
	case OP_REUSEPORT:
		a = sin4(0x7f000001u, 5000);
		break;
	case OP_BIND0:
		a = sin4(0x7f000001u, 0);
		break;
	default:
		a = sin4(0x7f000002u, 8080);
		break;
	}
	uint64_t t0 = now_ns();
	int rc = o == OP_CONNECT ? connect(fd, (struct sockaddr *)&a, sizeof(a))
				 : bind(fd, (struct sockaddr *)&a, sizeof(a));
	if (rc != 0 && o == OP_CONNECT && errno == EINPROGRESS)
		rc = 0;
	int err = rc ? errno : 0;
	uint64_t dt = now_ns() - t0;
	*ns = dt > UINT32_MAX ? UINT32_MAX : (uint32_t)dt;
	return err;
}

struct chunk_hdr {
	uint64_t ok;
	uint64_t cpu_ns;         /* CPU time of the timed loop */
	int32_t err;
	uint32_t fail_ns;
};

static int read_full(int fd, void *buf, size_t len)
{
	char *p = buf;
	while (len) {
		ssize_t r = read(fd, p, len);
		if (r <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			return -1;
		}
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

/* Run `total` operations (or until one fails, when until_fail) over worker
 * processes; per-call times into call[]; returns calls that succeeded. */
static size_t run_spread(op o, size_t total, bool until_fail, uint32_t *call, int *err_out,
			 uint32_t *fail_ns, uint64_t *cpu_total)
{
	*cpu_total = 0;
	size_t chunk = chunk_size(), done = 0;
	pid_t pids[1024];
	int np = 0;
	*err_out = 0;
	while (done < total && np < 1024) {
		int pfd[2];
		if (pipe(pfd) != 0)
			break;
		size_t n = total - done < chunk ? total - done : chunk;
		pid_t pid = fork();
		if (pid == 0) {
			close(pfd[0]);
			struct chunk_hdr h = {0, 0, 0, 0};
			uint32_t *ns = calloc(n, sizeof(uint32_t));
			int *fds = calloc(n, sizeof(int));
			for (size_t i = 0; ns && fds && i < n; i++)
				if ((fds[i] = make_socket(o)) < 0)
					h.err = errno;
			uint64_t c0 = cpu_ns();
			for (size_t i = 0; ns && fds && !h.err && i < n; i++) {
				uint32_t t = 0;
				int e = do_one(o, fds[i], done + i, &t);
				if (e) {
					h.err = e;
					h.fail_ns = t;
					break;
				}
				ns[h.ok++] = t;
			}
			h.cpu_ns = cpu_ns() - c0;
			if (!ns || !fds)
				h.err = ENOMEM;
			if (write(pfd[1], &h, sizeof(h)) != (ssize_t)sizeof(h) ||
			    (h.ok && write(pfd[1], ns, h.ok * sizeof(uint32_t)) !=
					     (ssize_t)(h.ok * sizeof(uint32_t))))
				_exit(1);
			close(pfd[1]);
			for (;;)
				pause(); /* hold the sockets until the parent ends us */
		}
		close(pfd[1]);
		if (pid < 0) {
			close(pfd[0]);
			*err_out = errno;
			break;
		}
		pids[np++] = pid;
		struct chunk_hdr h;
		if (read_full(pfd[0], &h, sizeof(h)) != 0 ||
		    read_full(pfd[0], call + done, h.ok * sizeof(uint32_t)) != 0) {
			close(pfd[0]);
			*err_out = EPIPE;
			break;
		}
		close(pfd[0]);
		done += h.ok;
		*cpu_total += h.cpu_ns;
		if (h.err) {
			*err_out = h.err;
			*fail_ns = h.fail_ns;
			break;
		}
	}
	(void)until_fail;
	for (int i = 0; i < np; i++) {
		kill(pids[i], SIGKILL);
		waitpid(pids[i], NULL, 0);
	}
	return done;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

/* Median of v[a..b): per-call figures are wall-clock times, and a median
 * keeps a call during which the machine ran something else from
 * speaking for its neighbours. */
static double median(const uint32_t *v, size_t a, size_t b)
{
	if (b <= a)
		return 0.0;
	uint32_t *t = malloc((b - a) * sizeof(*t));
	if (!t)
		return 0.0;
	memcpy(t, v + a, (b - a) * sizeof(*t));
	qsort(t, b - a, sizeof(*t), cmp_u32);
	double m = t[(b - a) / 2];
	free(t);
	return m;
}

static void emit(const char *wl, const char *variant, size_t sockets, const uint32_t *call,
		 size_t ncalls, long fail_ns, bool per_call, uint64_t cpu)
{
	uint64_t wall = 0;
	for (size_t i = 0; i < ncalls; i++)
		wall += call[i];
	printf("{\"system\":\"linux\",\"workload\":\"%s\",\"variant\":\"%s\",\"sockets\":%zu,"
	       "\"ops\":%zu,\"seconds\":%.6f,\"ns_per_op\":%.2f,\"wall_seconds\":%.6f",
	       wl, variant, sockets, ncalls, (double)cpu / 1e9,
	       ncalls ? (double)cpu / (double)ncalls : 0.0, (double)wall / 1e9);
	if (per_call && ncalls) {
		size_t tail = ncalls / 100 ? ncalls / 100 : 1;
		printf(",\"last1pct_ns_per_op\":%.1f,\"exhausted_call_ns\":%ld,\"decile_ns_per_op\":[",
		       median(call, ncalls - tail, ncalls), fail_ns);
		for (int d = 0; d < 10; d++)
			printf("%s%.1f", d ? "," : "",
			       median(call, ncalls * (size_t)d / 10, ncalls * (size_t)(d + 1) / 10));
		printf("]");
	}
	printf("}\n");
	fflush(stdout);
}

static int range_size(void)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	int lo = 0, hi = -1;
	if (f) {
		if (fscanf(f, "%d %d", &lo, &hi) != 2)
			hi = -1;
		fclose(f);
	}
	return hi - lo + 1;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: linux_ops WORKLOAD [N]\n");
		return 2;
	}
	size_t n = argc > 2 ? (size_t)strtoull(argv[2], NULL, 10) : 0;
	const char *wl = argv[1];
	op o;
	if (!strcmp(wl, "bind-distinct"))
		o = OP_DISTINCT;
	else if (!strcmp(wl, "bind-addrs"))
		o = OP_ADDRS;
	else if (!strcmp(wl, "bind-reuseport"))
		o = OP_REUSEPORT;
	else if (!strcmp(wl, "bind0-exhaust"))
		o = OP_BIND0;
	else if (!strcmp(wl, "connect-exhaust"))
		o = OP_CONNECT;
	else {
		fprintf(stderr, "linux_ops: unknown workload %s\n", wl);
		return 2;
	}
	bool exhaust = o == OP_BIND0 || o == OP_CONNECT;
	if (exhaust) {
		int r = range_size();
		if (r <= 0)
			return 1;
		n = (size_t)r + 1; /* one more than the range: the failing call */
	} else if (!n || n > 1000000) {
		fprintf(stderr, "linux_ops: N from 1 to 1000000\n");
		return 2;
	}
	int lfd = -1;
	if (o == OP_CONNECT) {
		/* A listener whose accept queue takes what it can; once it is
		 * full, SYNs are dropped and the clients stay in SYN-SENT,
		 * still holding their ports, which is all exhaustion needs. */
		FILE *f = fopen("/proc/sys/net/core/somaxconn", "w");
		if (f) {
			fprintf(f, "65535\n");
			fclose(f);
		}
		struct sockaddr_in dst = sin4(0x7f000002u, 8080);
		lfd = socket(AF_INET, SOCK_STREAM, 0);
		if (lfd < 0 || bind(lfd, (struct sockaddr *)&dst, sizeof(dst)) != 0 ||
		    listen(lfd, 65535) != 0) {
			fprintf(stderr, "linux_ops: listener: %s\n", strerror(errno));
			return 1;
		}
	}
	uint32_t *call = calloc(n, sizeof(uint32_t));
	if (!call)
		return 1;
	int err;
	uint32_t fail_ns = 0;
	uint64_t cpu;
	size_t ok = run_spread(o, n, exhaust, call, &err, &fail_ns, &cpu);
	if (lfd >= 0)
		close(lfd);
	int want = !exhaust ? 0 : o == OP_CONNECT ? EADDRNOTAVAIL : EADDRINUSE;
	if (err != want || ok != (exhaust ? n - 1 : n)) {
		fprintf(stderr, "linux_ops: %s: %zu calls succeeded, then %s\n", wl, ok,
			err ? strerror(err) : "no failure");
		return 1;
	}
	emit(wl, o == OP_CONNECT ? "one-dest" : exhaust ? "addr" : "tcp", ok, call, ok, fail_ns,
	     exhaust, cpu);
	free(call);
	return 0;
}
