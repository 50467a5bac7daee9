/*
 * bench/workloads.c - the core's benchmarks (issue 5): binds, port
 * exhaustion, lookups and memory, at 1k to 10M sockets.
 *
 * What is timed is the library call and nothing else: socket records are
 * allocated and initialised (st_sock_init) before the clock starts, and
 * lookup packets are built beforehand, so that a run's ns/op is the cost
 * of bind() or of a lookup as a user of libsocktab would pay it.  Each
 * workload builds its own st_net (seed fixed, so two runs make the same
 * choices) and frees it before the next, and the heap is trimmed between
 * runs so that the RSS growth of one run is not hidden by memory another
 * freed.
 *
 * Nothing here is taken on trust: every timed bind is checked against the
 * answer it must give, exhaustion runs check that every port of the range
 * was handed out exactly once, and lookups are checked one by one in an
 * untimed pass and then by a checksum of each timed pass (which also keeps
 * the compiler from dropping the calls); lookups report the fastest of
 * three timed repetitions.  A wrong answer ends the run
 * with -EPROTO and a message, never with a figure.
 *
 * bytes_per_socket is the growth of the resident set while the tables
 * were built, divided by the sockets: the library's index memory, without
 * the caller's st_sock records (which the `memory` workload includes).
 *
 * lookup-established runs its batched variants a second time from 1M
 * sockets with the caller's records in huge pages ("thp records"): the
 * library is the same, only where the caller put its records differs.
 * The `machine` workload (bench/floor.c) measures what a random line read
 * costs at the same working sets, the floor every figure here stands on.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* malloc_trim; the build defines it already */
#endif
#include "workloads.h"

#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "floor.h"
#include "socktab/socktab.h"

enum {
	BENCH_SEED = 0x5eed,
	BENCH_UID = 1000,
	LOOKUP_PKTS = 1 << 20,     /* distinct packets per lookup run, at most */
	LOOKUP_PKTS_MIN = 1 << 14, /* ... and at least (16 per socket between) */
	LOOKUP_OPS = 1 << 22,      /* timed lookups per repetition */
	LOOKUP_REPS = 3,           /* repetitions; the fastest is reported */
	EXHAUST_REPS = 3,          /* timed exhaustion runs; the fastest is reported */
	BATCH = 256,               /* keys per st_lookup_established_batch */
	THP_RECORDS_MIN = 1000000, /* records in huge pages: from 1M sockets */
	WILDCARD_OPS = 100000,     /* wildcard binds beside N owners */
	LISTENER_GROUP = 1000,     /* the wildcard reuseport group */
	PORTS_PER_ADDR = 64512,    /* 1024..65535 */
	REUSEPORT_GROUP_MAX = 32768, /* Linux's cap on a reuseport group */
};

static const st_cred bench_cred = {BENCH_UID, 0};

/* ---- one measured run ---------------------------------------------- */

typedef struct bench_result {
	const char *workload;
	const char *variant;
	size_t sockets;            /* sockets in the tables while timing */
	uint64_t ops;              /* timed calls */
	double seconds;            /* CPU time of the timed calls */
	double wall;               /* their wall-clock time */
	double bytes_per_socket;   /* RSS growth while building / sockets */
	bool per_call;             /* exhaustion runs: the fields below */
	double last1_ns;           /* median of the last 1% of successful calls */
	double fail_ns;            /* the call that found the range exhausted */
	double decile_ns[10];      /* median call per tenth of the fill */
	double records_huge;       /* share of the records in huge pages; < 0: not asked */
} bench_result;

typedef struct bench_out {
	FILE *f;
	bool json;
	bool header;
	bool machine_header;       /* the machine workload's own columns */
} bench_out;

static void emit(bench_out *o, const bench_result *r)
{
	double ns = r->ops ? r->seconds * 1e9 / (double)r->ops : 0.0;
	double mops = r->seconds > 0 ? (double)r->ops / r->seconds / 1e6 : 0.0;
	if (o->json) {
		fprintf(o->f,
			"{\"workload\":\"%s\",\"variant\":\"%s\",\"sockets\":%zu,\"ops\":%" PRIu64
			",\"seconds\":%.6f,\"ns_per_op\":%.2f,\"mops_per_s\":%.3f,"
			"\"bytes_per_socket\":%.1f,\"record_bytes\":%zu,\"wall_seconds\":%.6f",
			r->workload, r->variant, r->sockets, r->ops, r->seconds, ns, mops,
			r->bytes_per_socket, sizeof(st_sock), r->wall);
		if (r->records_huge >= 0)
			fprintf(o->f, ",\"records_huge_share\":%.3f", r->records_huge);
		if (r->per_call) {
			fprintf(o->f, ",\"last1pct_ns_per_op\":%.1f,\"exhausted_call_ns\":%.1f,"
				      "\"decile_ns_per_op\":[",
				r->last1_ns, r->fail_ns);
			for (int i = 0; i < 10; i++)
				fprintf(o->f, "%s%.1f", i ? "," : "", r->decile_ns[i]);
			fprintf(o->f, "]");
		}
		fprintf(o->f, "}\n");
	} else {
		if (!o->header) {
			fprintf(o->f, "%-18s %-24s %9s %9s %10s %10s %8s %8s  %s\n", "workload",
				"variant", "sockets", "ops", "seconds", "ns/op", "Mops/s", "B/sock",
				"per call as the range fills");
			o->header = true;
		}
		fprintf(o->f, "%-18s %-24s %9zu %9" PRIu64 " %10.4f %10.1f %8.2f %8.1f", r->workload,
			r->variant, r->sockets, r->ops, r->seconds, ns, mops, r->bytes_per_socket);
		if (r->per_call)
			fprintf(o->f, "  last 1%%: %.0f ns, exhausted: %.0f ns, first/last tenth: "
				      "%.0f/%.0f ns",
				r->last1_ns, r->fail_ns, r->decile_ns[0], r->decile_ns[9]);
		if (r->records_huge >= 0)
			fprintf(o->f, "  records in huge pages: %.0f%%", r->records_huge * 100.0);
		fprintf(o->f, "\n");
	}
	fflush(o->f);
}

/* ---- helpers --------------------------------------------------------- */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* CPU time of this thread: what the calls cost, without the time other
 * processes of a shared machine took the CPU away (wall time counts it). */
static uint64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

typedef struct tmark {
	uint64_t cpu, wall;
} tmark;

static tmark mark(void)
{
	tmark m = {cpu_ns(), now_ns()};
	return m;
}

static bench_result result(const char *wl, const char *variant, size_t sockets, uint64_t ops,
			   tmark a, tmark b, double bps)
{
	bench_result r;
	memset(&r, 0, sizeof(r));
	r.workload = wl;
	r.variant = variant;
	r.sockets = sockets;
	r.ops = ops;
	r.seconds = (double)(b.cpu - a.cpu) / 1e9;
	r.wall = (double)(b.wall - a.wall) / 1e9;
	r.bytes_per_socket = bps;
	r.records_huge = -1.0;
	return r;
}

/* Resident set in bytes (second field of /proc/self/statm), 0 if unknown. */
static size_t rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long size = 0, res = 0;
	if (!f)
		return 0;
	if (fscanf(f, "%lu %lu", &size, &res) != 2)
		res = 0;
	fclose(f);
	return (size_t)res * (size_t)sysconf(_SC_PAGESIZE);
}

static double per_socket(size_t before, size_t after, size_t n)
{
	if (!n || after < before)
		return 0.0;
	return (double)(after - before) / (double)n;
}

static uint64_t rng_next(uint64_t *s)
{
	/* xorshift64*: the benchmark's own stream, independent of the net's. */
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static int protoerr(const char *wl, const char *variant, const char *what, size_t i, int rc)
{
	fprintf(stderr, "socktab bench: %s/%s: %s (item %zu, rc %d %s)\n", wl, variant, what, i, rc,
		st_strerror_name(rc));
	return -EPROTO;
}

/*
 * A net and an array of initialised records; freed by env_done.  The
 * records come from calloc (what most callers do: at a million records
 * glibc maps them with 4 KiB pages) or, for the "thp records" layout,
 * from a 2 MiB-aligned mapping with MADV_HUGEPAGE, as a server embedding
 * ten million connections would lay them out.  Invariant: records_map.base
 * is non-NULL exactly when the records live in that mapping.
 */
typedef struct env {
	st_net *net;
	st_sock *socks;
	size_t n;
	st_bench_region records_map;
} env;

static void env_done(env *e)
{
	st_net_free(e->net);
	if (e->records_map.base)
		st_bench_unmap(&e->records_map);
	else
		free(e->socks);
	memset(e, 0, sizeof(*e));
	malloc_trim(0);
}

static int env_new_layout(env *e, size_t n, int proto, bool huge_records)
{
	memset(e, 0, sizeof(*e));
	if (st_net_new(&e->net, BENCH_SEED, NULL) != 0)
		return -ENOMEM;
	size_t count = n ? n : 1;
	if (huge_records) {
		if (count > SIZE_MAX / sizeof(st_sock) ||
		    st_bench_map(&e->records_map, count * sizeof(st_sock), true) != 0) {
			env_done(e);
			return -ENOMEM;
		}
		e->socks = e->records_map.mem; /* zero-filled, as from calloc */
	} else {
		e->socks = calloc(count, sizeof(st_sock));
	}
	if (!e->socks) {
		env_done(e);
		return -ENOMEM;
	}
	e->n = n;
	for (size_t i = 0; i < n; i++)
		if (st_sock_init(e->net, &e->socks[i], proto, ST_AF_INET, BENCH_UID) != 0) {
			env_done(e);
			return -EINVAL;
		}
	return 0;
}

static int env_new(env *e, size_t n, int proto)
{
	return env_new_layout(e, n, proto, false);
}

static int set_flags(env *e, uint32_t opt_mask)
{
	for (size_t i = 0; i < e->n; i++) {
		if ((opt_mask & 1) && st_setsockopt(e->net, &e->socks[i], ST_SO_REUSEADDR, 1, NULL))
			return -EINVAL;
		if ((opt_mask & 2) && st_setsockopt(e->net, &e->socks[i], ST_SO_REUSEPORT, 1, NULL))
			return -EINVAL;
	}
	return 0;
}

enum { OPT_RA = 1, OPT_RP = 2 };

static const int protos[2] = {ST_TCP, ST_UDP};
static const char *const proto_names[2] = {"tcp", "udp"};

/* ---- bind workloads --------------------------------------------------- */

/* Address and port of socket i for each bind shape. */
typedef enum bind_shape { SHAPE_DISTINCT, SHAPE_REUSEPORT, SHAPE_ADDRS } bind_shape;

static st_sockaddr shape_addr(bind_shape s, size_t i)
{
	switch (s) {
	case SHAPE_DISTINCT:
		return st_sockaddr_in(0x7f000001u + (uint32_t)(i / PORTS_PER_ADDR),
				      (uint16_t)(1024 + i % PORTS_PER_ADDR));
	case SHAPE_REUSEPORT:
		return st_sockaddr_in(0x7f000001u, 5000);
	default:
		return st_sockaddr_in(0x7f000001u + (uint32_t)i, 5000);
	}
}

static int run_bind_shape(bench_out *o, const char *wl, bind_shape shape, size_t n)
{
	if (shape == SHAPE_ADDRS && n > 16000000)
		return -EINVAL; /* 127/8 holds 16.7M addresses */
	for (int pi = 0; pi < 2; pi++) {
		/* A UDP socket joins its reuseport group at bind(), and Linux
		 * caps a group at 32,768 members (E17): beyond, no run. */
		if (shape == SHAPE_REUSEPORT && protos[pi] == ST_UDP && n > REUSEPORT_GROUP_MAX) {
			if (!o->json)
				fprintf(o->f, "%-18s %-12s %9zu  (not run: a UDP reuseport group holds at "
					      "most %d sockets)\n", wl, proto_names[pi], n, REUSEPORT_GROUP_MAX);
			continue;
		}
		env e;
		int err = env_new(&e, n, protos[pi]);
		if (err)
			return err;
		if (shape == SHAPE_REUSEPORT && (err = set_flags(&e, OPT_RP)) != 0) {
			env_done(&e);
			return err;
		}
		malloc_trim(0);
		size_t r0 = rss_bytes();
		tmark t0 = mark();
		for (size_t i = 0; i < n; i++) {
			st_sockaddr sa = shape_addr(shape, i);
			int rc = st_bind(e.net, &e.socks[i], &sa, ST_SOCKADDR_IN_LEN, &bench_cred, NULL);
			if (rc) {
				env_done(&e);
				return protoerr(wl, proto_names[pi], "bind failed", i, rc);
			}
		}
		tmark t1 = mark();
		size_t r1 = rss_bytes();
		if (st_net_count(e.net) != n) {
			env_done(&e);
			return protoerr(wl, proto_names[pi], "socket count differs", n, 0);
		}
		bench_result r = result(wl, proto_names[pi], n, n, t0, t1, per_socket(r0, r1, n));
		emit(o, &r);
		env_done(&e);
	}
	return 0;
}

static int wl_bind_distinct(bench_out *o, size_t n)
{
	return run_bind_shape(o, "bind-distinct", SHAPE_DISTINCT, n);
}

static int wl_bind_reuseport(bench_out *o, size_t n)
{
	return run_bind_shape(o, "bind-reuseport", SHAPE_REUSEPORT, n);
}

static int wl_bind_addrs(bench_out *o, size_t n)
{
	return run_bind_shape(o, "bind-addrs", SHAPE_ADDRS, n);
}

/*
 * bind-wildcard: N owners on 127.0.0.1+i:5000, then WILDCARD_OPS binds of
 * 0.0.0.0:5000.  "refused": no flags anywhere, every wildcard bind must be
 * EADDRINUSE.  "ra": SO_REUSEADDR everywhere, every wildcard bind succeeds
 * (TCP: every owner is raok; UDP: every owner is skipped by B-U4) and the
 * socket is closed again; the time includes that close.
 */
static int wl_bind_wildcard(bench_out *o, size_t n)
{
	static const char *const variants[4] = {"tcp-refused", "tcp-ra", "udp-refused", "udp-ra"};
	if (n > 16000000)
		return -EINVAL;
	for (int v = 0; v < 4; v++) {
		int proto = v < 2 ? ST_TCP : ST_UDP;
		bool ra = v & 1;
		env e;
		int err = env_new(&e, n, proto);
		if (err)
			return err;
		if (ra && (err = set_flags(&e, OPT_RA)) != 0) {
			env_done(&e);
			return err;
		}
		malloc_trim(0);
		size_t r0 = rss_bytes();
		for (size_t i = 0; i < n; i++) {
			st_sockaddr sa = shape_addr(SHAPE_ADDRS, i);
			int rc = st_bind(e.net, &e.socks[i], &sa, ST_SOCKADDR_IN_LEN, &bench_cred, NULL);
			if (rc) {
				env_done(&e);
				return protoerr("bind-wildcard", variants[v], "owner bind failed", i, rc);
			}
		}
		size_t r1 = rss_bytes();
		st_sock w;
		st_sockaddr any = st_sockaddr_in(0, 5000);
		int want = ra ? 0 : -EADDRINUSE;
		tmark t0 = mark();
		for (size_t i = 0; i < WILDCARD_OPS; i++) {
			st_sock_init(e.net, &w, proto, ST_AF_INET, BENCH_UID);
			if (ra)
				st_setsockopt(e.net, &w, ST_SO_REUSEADDR, 1, NULL);
			int rc = st_bind(e.net, &w, &any, ST_SOCKADDR_IN_LEN, &bench_cred, NULL);
			if (rc != want) {
				env_done(&e);
				return protoerr("bind-wildcard", variants[v], "unexpected answer", i, rc);
			}
			if (!rc)
				st_close(e.net, &w);
		}
		tmark t1 = mark();
		bench_result r = result("bind-wildcard", variants[v], n, WILDCARD_OPS, t0, t1,
					per_socket(r0, r1, n));
		emit(o, &r);
		env_done(&e);
	}
	return 0;
}

/* ---- exhaustion ------------------------------------------------------- */

static int range_size(st_net *net, int *lo, int *hi)
{
	int v[2];
	if (st_net_sysctl_get(net, ST_SYSCTL_IP_LOCAL_PORT_RANGE, v, 2) != 0)
		return -EINVAL;
	*lo = v[0];
	*hi = v[1];
	return v[1] - v[0] + 1;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

/* Median of v[a..b) (sorts a copy in tmp). */
static double median(const uint32_t *v, size_t a, size_t b, uint32_t *tmp)
{
	if (b <= a)
		return 0.0;
	memcpy(tmp, v + a, (b - a) * sizeof(*v));
	qsort(tmp, b - a, sizeof(*tmp), cmp_u32);
	return tmp[(b - a) / 2];
}

/* Per-call statistics from the wall-clock times of `ok` successes:
 * medians, so that a call during which the machine ran something else
 * does not speak for its neighbours. */
static void per_call_stats(bench_result *r, const uint32_t *call_ns, size_t ok, uint32_t fail_ns,
			   uint32_t *tmp)
{
	r->per_call = true;
	r->fail_ns = fail_ns;
	size_t tail = ok / 100 ? ok / 100 : 1;
	r->last1_ns = median(call_ns, ok - tail, ok, tmp);
	for (int d = 0; d < 10; d++)
		r->decile_ns[d] = median(call_ns, ok * (size_t)d / 10, ok * (size_t)(d + 1) / 10, tmp);
}

/*
 * Call `step` on fresh sockets until it fails; check that it failed with
 * `want_fail` after exactly one success per port of the range and that no
 * port was handed out twice.  Several times, on nets with the same seed
 * (so the same choices): timing the whole run (CPU and wall time), then
 * once timing every call for the per-call figures, whose clock reads
 * would otherwise be part of the total.
 */
typedef int (*exhaust_fn)(st_net *net, st_sock *sk);

static int exhaust_pass(env *e, exhaust_fn step, int lo, int hi, uint32_t *call_ns,
			uint8_t *seen, size_t *ok_out, int *rc_out)
{
	size_t ok = 0, range = (size_t)(hi - lo + 1);
	int rc = 0;
	memset(seen, 0, 65536);
	for (size_t i = 0; i <= range; i++) {
		uint64_t t0 = call_ns ? now_ns() : 0;
		rc = step(e->net, &e->socks[i]);
		if (call_ns) {
			uint64_t dt = now_ns() - t0;
			call_ns[i] = dt > UINT32_MAX ? UINT32_MAX : (uint32_t)dt;
		}
		if (rc)
			break;
		uint16_t p = e->socks[i].lport;
		if (p < lo || p > hi || seen[p]++) {
			rc = -EPROTO;
			break;
		}
		ok++;
	}
	*ok_out = ok;
	*rc_out = rc;
	return 0;
}

static int run_exhaust(bench_out *o, const char *wl, const char *variant, exhaust_fn step,
		       uint32_t opts, int want_fail)
{
	st_net *probe;
	int lo, hi;
	if (st_net_new(&probe, BENCH_SEED, NULL) != 0)
		return -ENOMEM;
	int range = range_size(probe, &lo, &hi);
	st_net_free(probe);
	if (range <= 0)
		return -EINVAL;
	uint32_t *call_ns = calloc((size_t)range + 1, sizeof(uint32_t));
	uint32_t *tmp = calloc((size_t)range + 1, sizeof(uint32_t));
	uint8_t *seen = calloc(65536, 1);
	bench_result r;
	int err = 0;
	if (!call_ns || !tmp || !seen)
		err = -ENOMEM;
	/* Passes 0..EXHAUST_REPS-1 time the whole run (the fastest is
	 * reported, as for lookups: a run lasts tens of milliseconds, and the
	 * machine may be busy with something else for part of one); the last
	 * pass times every call. */
	bool have = false;
	for (int pass = 0; pass <= EXHAUST_REPS && !err; pass++) {
		bool per_call = pass == EXHAUST_REPS;
		env e;
		err = env_new(&e, (size_t)range + 1, ST_TCP);
		if (err)
			break;
		if (opts && (err = set_flags(&e, opts)) != 0) {
			env_done(&e);
			break;
		}
		malloc_trim(0);
		size_t r0 = rss_bytes(), ok;
		int rc;
		tmark t0 = mark();
		exhaust_pass(&e, step, lo, hi, per_call ? call_ns : NULL, seen, &ok, &rc);
		tmark t1 = mark();
		size_t r1 = rss_bytes();
		env_done(&e);
		if (rc != want_fail || ok != (size_t)range) {
			err = protoerr(wl, variant, rc == -EPROTO ? "port out of range or handed out twice"
								  : "range not exhausted as expected",
				       ok, rc);
			break;
		}
		if (per_call) {
			per_call_stats(&r, call_ns, ok, call_ns[ok], tmp);
		} else if (!have || (double)(t1.cpu - t0.cpu) / 1e9 < r.seconds) {
			r = result(wl, variant, ok, ok, t0, t1, per_socket(r0, r1, ok));
			have = true;
		}
	}
	if (!err)
		emit(o, &r);
	free(call_ns);
	free(tmp);
	free(seen);
	return err;
}

static int connect_step(st_net *net, st_sock *sk)
{
	st_sockaddr dst = st_sockaddr_in(0x7f000002u, 80);
	return st_connect(net, sk, &dst, ST_SOCKADDR_IN_LEN, &bench_cred, NULL);
}

static int bind0_addr_step(st_net *net, st_sock *sk)
{
	st_sockaddr sa = st_sockaddr_in(0x7f000001u, 0);
	return st_bind(net, sk, &sa, ST_SOCKADDR_IN_LEN, &bench_cred, NULL);
}

static int bind0_any_step(st_net *net, st_sock *sk)
{
	st_sockaddr sa = st_sockaddr_in(0, 0);
	return st_bind(net, sk, &sa, ST_SOCKADDR_IN_LEN, &bench_cred, NULL);
}

static int wl_connect_exhaust(bench_out *o, size_t n)
{
	(void)n; /* the size is the port range */
	return run_exhaust(o, "connect-exhaust", "one-dest", connect_step, 0, -EADDRNOTAVAIL);
}

static int wl_bind0_exhaust(bench_out *o, size_t n)
{
	(void)n;
	int err = run_exhaust(o, "bind0-exhaust", "addr", bind0_addr_step, 0, -EADDRINUSE);
	if (!err)
		err = run_exhaust(o, "bind0-exhaust", "wildcard", bind0_any_step, 0, -EADDRINUSE);
	if (!err)
		err = run_exhaust(o, "bind0-exhaust", "addr-ra", bind0_addr_step, OPT_RA, -EADDRINUSE);
	return err;
}

/* ---- established sockets (lookup-established, memory) ------------------ */

/* Child i: 127.0.0.1:8080 <- 10.0.0.0+i/60000 : 1024+i%60000. */
static st_sockaddr child_remote(size_t i)
{
	return st_sockaddr_in(0x0a000000u + (uint32_t)(i / 60000), (uint16_t)(1024 + i % 60000));
}

static int listen_on(st_net *net, st_sock *l, uint32_t addr, uint16_t port, bool rp)
{
	st_sockaddr sa = st_sockaddr_in(addr, port);
	int rc = st_sock_init(net, l, ST_TCP, ST_AF_INET, BENCH_UID);
	if (!rc && rp)
		rc = st_setsockopt(net, l, ST_SO_REUSEPORT, 1, NULL);
	if (!rc)
		rc = st_bind(net, l, &sa, ST_SOCKADDR_IN_LEN, &bench_cred, NULL);
	if (!rc)
		rc = st_listen(net, l, &bench_cred, NULL);
	return rc;
}

static int add_children(st_net *net, const st_sock *l, st_sock *socks, size_t n)
{
	st_sockaddr local = st_sockaddr_in(0x7f000001u, 8080);
	for (size_t i = 0; i < n; i++) {
		st_sockaddr rem = child_remote(i);
		int rc = st_accept_child(net, l, &socks[i], &local, &rem, ST_ESTABLISHED);
		if (rc)
			return protoerr("established", "setup", "accept_child failed", i, rc);
	}
	return 0;
}

static st_pkt tcp_pkt(uint32_t saddr, uint16_t sport, uint32_t daddr, uint16_t dport)
{
	st_pkt p;
	memset(&p, 0, sizeof(p));
	p.family = ST_AF_INET;
	p.proto = ST_TCP;
	p.saddr = st_addr_v4(saddr);
	p.sport = sport;
	p.daddr = st_addr_v4(daddr);
	p.dport = dport;
	p.ifindex = ST_IFINDEX_LO;
	return p;
}

static int wl_memory(bench_out *o, size_t n)
{
	malloc_trim(0);
	size_t r0 = rss_bytes();
	st_net *net;
	if (st_net_new(&net, BENCH_SEED, NULL) != 0)
		return -ENOMEM;
	st_sock *socks = calloc(n + 1, sizeof(st_sock));
	if (!socks) {
		st_net_free(net);
		return -ENOMEM;
	}
	tmark t0 = mark();
	int err = listen_on(net, &socks[n], 0x7f000001u, 8080, false);
	for (size_t i = 0; !err && i < n; i++)
		err = st_sock_init(net, &socks[i], ST_TCP, ST_AF_INET, BENCH_UID);
	if (!err)
		err = add_children(net, &socks[n], socks, n);
	tmark t1 = mark();
	size_t r1 = rss_bytes();
	if (!err && st_net_count(net) != n + 1)
		err = protoerr("memory", "established", "socket count differs", n, 0);
	if (!err) {
		bench_result r = result("memory", "established", n, n, t0, t1, per_socket(r0, r1, n));
		emit(o, &r);
	}
	st_net_free(net);
	free(socks);
	malloc_trim(0);
	return err;
}

/* Lookup packets and the answers they must get. */
typedef struct pktset {
	st_pkt *p;
	const st_pkt **pp;
	const st_sock **want;
	size_t m;
} pktset;

/* Packets per run: 16 per socket within [LOOKUP_PKTS_MIN, LOOKUP_PKTS],
 * so that a small table is measured with its packets in cache too, and a
 * large one with packets that reach sockets all over it. */
static size_t pkt_count(size_t sockets)
{
	size_t m = sockets * 16;
	return m < LOOKUP_PKTS_MIN ? LOOKUP_PKTS_MIN : m > LOOKUP_PKTS ? LOOKUP_PKTS : m;
}

static int pktset_new(pktset *s, size_t m)
{
	s->m = m;
	s->p = calloc(m, sizeof(*s->p));
	s->pp = calloc(m, sizeof(*s->pp));
	s->want = calloc(m, sizeof(*s->want));
	if (!s->p || !s->pp || !s->want) {
		free(s->p);
		free(s->pp);
		free(s->want);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m; i++)
		s->pp[i] = &s->p[i];
	return 0;
}

static void pktset_free(pktset *s)
{
	free(s->p);
	free(s->pp);
	free(s->want);
}

typedef st_sock *(*lookup_fn)(st_net *net, const st_pkt *p);

static st_sock *lk_established(st_net *net, const st_pkt *p)
{
	return st_lookup_established(net, p);
}

static st_sock *lk_tcp(st_net *net, const st_pkt *p)
{
	return st_lookup_tcp(net, p, NULL);
}

static st_sock *lk_udp(st_net *net, const st_pkt *p)
{
	return st_lookup_udp(net, p, NULL);
}

/* `passes` passes over the packets, timed; returns the sum of the
 * answers' addresses (which also keeps the calls from being optimised
 * away). */
static uintptr_t timed_lookups(st_net *net, const pktset *s, lookup_fn fn, bool batch,
			       size_t passes, tmark *t0, tmark *t1)
{
	uintptr_t sum = 0;
	st_sock *outb[BATCH];
	*t0 = mark();
	for (size_t pass = 0; pass < passes; pass++) {
		if (batch) {
			for (size_t i = 0; i < s->m; i += BATCH) {
				size_t k = s->m - i < BATCH ? s->m - i : BATCH;
				st_lookup_established_batch(net, s->pp + i, k, outb);
				for (size_t j = 0; j < k; j++)
					sum += (uintptr_t)outb[j];
			}
		} else {
			for (size_t i = 0; i < s->m; i++)
				sum += (uintptr_t)fn(net, &s->p[i]);
		}
	}
	*t1 = mark();
	return sum;
}

/*
 * Check every packet's answer (want[i] non-NULL: exactly that socket;
 * NULL: no socket, unless `check` accepts the answer instead), then time
 * LOOKUP_REPS repetitions of LOOKUP_OPS lookups (single or batched),
 * checking each one's checksum; the fastest is reported.
 */
static int run_lookups(bench_out *o, const char *wl, const char *variant, st_net *net,
		       const pktset *s, lookup_fn fn, bool batch, size_t sockets, double bps,
		       bool (*check)(const st_sock *sk), double records_huge)
{
	uintptr_t want_sum = 0;
	for (size_t i = 0; i < s->m; i++) {
		st_sock *got = fn(net, &s->p[i]);
		bool ok = check ? (got && check(got)) : got == s->want[i];
		if (!ok)
			return protoerr(wl, variant, "lookup answered the wrong socket", i, 0);
		want_sum += (uintptr_t)got;
	}
	size_t passes = LOOKUP_OPS / s->m ? LOOKUP_OPS / s->m : 1;
	/* Best of LOOKUP_REPS timed repetitions: a lookup costs a few
	 * nanoseconds, and another process sharing the core (and its caches)
	 * during one repetition says nothing about the table. */
	tmark best0 = {0, 0}, best1 = {UINT64_MAX / 2, UINT64_MAX / 2};
	for (int rep = 0; rep < LOOKUP_REPS; rep++) {
		tmark t0, t1;
		uintptr_t sum = timed_lookups(net, s, fn, batch, passes, &t0, &t1);
		if (sum != want_sum * passes)
			return protoerr(wl, variant, "timed pass answered differently", 0, 0);
		if (t1.cpu - t0.cpu < best1.cpu - best0.cpu) {
			best0 = t0;
			best1 = t1;
		}
	}
	bench_result r = result(wl, variant, sockets, (uint64_t)(s->m * passes), best0, best1, bps);
	r.records_huge = records_huge;
	emit(o, &r);
	return 0;
}

/*
 * One record layout: N children of one listener, then the variants.  The
 * calloc layout runs all four (single and batched, hits and misses); the
 * "thp records" layout, the same table with the records in huge pages,
 * runs the batched ones, labelled so (its misses read no record, and are
 * the control: they should not change).  Packets are drawn from the same
 * seed in both layouts, so both look up the same sockets.
 */
static int lookup_established_layout(bench_out *o, size_t n, bool huge_records)
{
	env e;
	int err = env_new_layout(&e, n + 1, ST_TCP, huge_records);
	if (err)
		return err;
	malloc_trim(0);
	size_t r0 = rss_bytes();
	err = listen_on(e.net, &e.socks[n], 0x7f000001u, 8080, false);
	if (!err)
		err = add_children(e.net, &e.socks[n], e.socks, n);
	size_t r1 = rss_bytes();
	pktset s;
	if (!err)
		err = pktset_new(&s, pkt_count(n));
	if (err) {
		env_done(&e);
		return err;
	}
	double bps = per_socket(r0, r1, n);
	uint64_t rng = 12345;
	static const char *const variants[4] = {"single-hit", "batch-hit", "single-miss",
						"batch-miss"};
	static const char *const thp_variants[4] = {NULL, "batch-hit (thp records)", NULL,
						    "batch-miss (thp records)"};
	/* What the kernel made of the advice (0 when it could not be read). */
	double huge = -1.0;
	if (huge_records) {
		huge = st_bench_huge_share(e.socks, (n + 1) * sizeof(st_sock));
		huge = huge < 0 ? 0.0 : huge;
	}
	for (int v = 0; v < 4 && !err; v++) {
		if (huge_records && !thp_variants[v])
			continue;
		bool miss = v >= 2;
		for (size_t i = 0; i < s.m; i++) {
			size_t idx = (size_t)(rng_next(&rng) % n);
			st_sockaddr rem = child_remote(idx);
			uint32_t sa = st_addr_get_v4(&rem.addr);
			/* A miss: a peer that no child has (11.x). */
			if (miss)
				sa = 0x0b000000u + (uint32_t)(idx / 60000);
			s.p[i] = tcp_pkt(sa, rem.port, 0x7f000001u, 8080);
			s.want[i] = miss ? NULL : &e.socks[idx];
		}
		err = run_lookups(o, "lookup-established", huge_records ? thp_variants[v] : variants[v],
				  e.net, &s, lk_established, v & 1, n, bps, NULL, huge);
	}
	pktset_free(&s);
	env_done(&e);
	return err;
}

/*
 * One layout in a child process.  glibc raises its mmap threshold each
 * time a mapped block is freed, so a table built after another was freed
 * takes its index from the heap instead of mappings of its own: its RSS
 * growth and the place of its memory differ from the first table's for a
 * reason that is neither layout's.  A child starts from the parent's
 * state, the same for both layouts.  Without fork(), in place.
 */
static int lookup_established_child(bench_out *o, size_t n, bool huge_records)
{
	fflush(o->f);
	pid_t pid = fork();
	if (pid < 0)
		return lookup_established_layout(o, n, huge_records);
	if (pid == 0) {
		int err = lookup_established_layout(o, n, huge_records);
		fflush(o->f);
		_exit(err == 0 ? 0 : err < 0 && err > -255 ? -err : 255);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -ECHILD;
	if (WIFEXITED(st)) {
		int code = WEXITSTATUS(st);
		if (code == 0 && !o->json)
			o->header = true; /* the child printed it with its rows */
		return code == 0 ? 0 : code == 255 ? -EPROTO : -code;
	}
	fprintf(stderr, "socktab bench: lookup-established: the run ended on signal %d\n",
		WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	return -EPROTO;
}

static int wl_lookup_established(bench_out *o, size_t n)
{
	int err = lookup_established_child(o, n, false);
	if (!err && n >= THP_RECORDS_MIN)
		err = lookup_established_child(o, n, true);
	return err;
}

/* ---- listeners -------------------------------------------------------- */

static bool is_wildcard_listener(const st_sock *sk)
{
	return sk->state == ST_LISTEN && sk->lport == 8080 && st_addr_is_any4(&sk->laddr);
}

/*
 * lookup-listener: N listeners on 127.0.0.1+i:8080 and a SO_REUSEPORT
 * group of 1000 on 0.0.0.0:8080 (all SO_REUSEPORT, one uid, so that they
 * may share the port).  "exact": SYNs to a bound address; "wildcard":
 * SYNs to an address with no listener of its own, answered by the group.
 */
static int wl_lookup_listener(bench_out *o, size_t n)
{
	if (n > 16000000)
		return -EINVAL;
	env e;
	size_t total = n + LISTENER_GROUP;
	int err = env_new(&e, total, ST_TCP);
	if (err)
		return err;
	malloc_trim(0);
	size_t r0 = rss_bytes();
	for (size_t i = 0; i < n && !err; i++)
		err = listen_on(e.net, &e.socks[i], 0x7f000001u + (uint32_t)i, 8080, true);
	for (size_t i = n; i < total && !err; i++)
		err = listen_on(e.net, &e.socks[i], 0, 8080, true);
	size_t r1 = rss_bytes();
	if (err) {
		env_done(&e);
		return protoerr("lookup-listener", "setup", "listen failed", 0, err);
	}
	pktset s;
	err = pktset_new(&s, pkt_count(total));
	if (err) {
		env_done(&e);
		return err;
	}
	uint64_t rng = 777;
	for (int v = 0; v < 2 && !err; v++) {
		for (size_t i = 0; i < s.m; i++) {
			uint64_t x = rng_next(&rng);
			size_t idx = (size_t)(x % n);
			uint32_t d = v == 0 ? 0x7f000001u + (uint32_t)idx
					    : 0x7f000001u + (uint32_t)n + (uint32_t)(x % 100000);
			s.p[i] = tcp_pkt(0x0a000000u + (uint32_t)(x >> 40), (uint16_t)(1024 + (x >> 20) % 60000),
					 d, 8080);
			s.want[i] = v == 0 ? &e.socks[idx] : NULL;
		}
		err = run_lookups(o, "lookup-listener", v == 0 ? "exact" : "wildcard-group", e.net, &s,
				  lk_tcp, false, total, per_socket(r0, r1, total),
				  v == 0 ? NULL : is_wildcard_listener, -1.0);
	}
	pktset_free(&s);
	env_done(&e);
	return err;
}

/* ---- UDP -------------------------------------------------------------- */

static st_pkt udp_pkt(uint32_t saddr, uint16_t sport, uint32_t daddr, uint16_t dport)
{
	st_pkt p = tcp_pkt(saddr, sport, daddr, dport);
	p.proto = ST_UDP;
	return p;
}

/*
 * lookup-udp: "connected": N sockets bound to 127.0.0.1+i/60000 :
 * 1024+i%60000 and connected to 127.0.0.1:53 (found by 4-tuple);
 * "unconnected": N sockets bound to 127.0.0.1+i:5353 (found by address).
 */
static int wl_lookup_udp(bench_out *o, size_t n)
{
	if (n > 16000000)
		return -EINVAL;
	int err = 0;
	uint64_t rng = 4242;
	for (int v = 0; v < 2 && !err; v++) {
		env e;
		err = env_new(&e, n, ST_UDP);
		if (err)
			return err;
		malloc_trim(0);
		size_t r0 = rss_bytes();
		st_sockaddr peer = st_sockaddr_in(0x7f000001u, 53);
		for (size_t i = 0; i < n && !err; i++) {
			st_sockaddr sa = v == 0 ? st_sockaddr_in(0x7f000001u + (uint32_t)(i / 60000),
								 (uint16_t)(1024 + i % 60000))
						: st_sockaddr_in(0x7f000001u + (uint32_t)i, 5353);
			err = st_bind(e.net, &e.socks[i], &sa, ST_SOCKADDR_IN_LEN, &bench_cred, NULL);
			if (!err && v == 0)
				err = st_connect(e.net, &e.socks[i], &peer, ST_SOCKADDR_IN_LEN,
						 &bench_cred, NULL);
		}
		size_t r1 = rss_bytes();
		if (err) {
			env_done(&e);
			return protoerr("lookup-udp", v == 0 ? "connected" : "unconnected",
					"setup failed", 0, err);
		}
		pktset s;
		err = pktset_new(&s, pkt_count(n));
		if (err) {
			env_done(&e);
			return err;
		}
		for (size_t i = 0; i < s.m; i++) {
			size_t idx = (size_t)(rng_next(&rng) % n);
			const st_sock *sk = &e.socks[idx];
			s.p[i] = v == 0 ? udp_pkt(0x7f000001u, 53, st_addr_get_v4(&sk->laddr), sk->lport)
					: udp_pkt(0x0a000001u, 4000, st_addr_get_v4(&sk->laddr), 5353);
			s.want[i] = sk;
		}
		err = run_lookups(o, "lookup-udp", v == 0 ? "connected" : "unconnected", e.net, &s,
				  lk_udp, false, n, per_socket(r0, r1, n), NULL, -1.0);
		pktset_free(&s);
		env_done(&e);
	}
	return err;
}

/* ---- the machine (bench/floor.c) -------------------------------------- */

static int wl_machine(bench_out *o, size_t n)
{
	return st_bench_machine(o->f, o->json, &o->machine_header, n);
}

/* ---- the table of workloads ------------------------------------------- */

typedef struct workload {
	const char *name;
	int (*run)(bench_out *o, size_t n);
	size_t max_default;  /* largest default size; 0 = fixed size */
	const char *what;
} workload_def;

static const workload_def workloads[] = {
	{"bind-distinct", wl_bind_distinct, 1000000,
	 "N binds, each its own port (1024-65535, then the next address); tcp and udp"},
	{"bind-reuseport", wl_bind_reuseport, 10000000,
	 "N SO_REUSEPORT binds of 127.0.0.1:5000, one uid; tcp and udp"},
	{"bind-addrs", wl_bind_addrs, 1000000,
	 "N binds of 127.0.0.1+i:5000 (N addresses, one port); tcp and udp"},
	{"bind-wildcard", wl_bind_wildcard, 1000000,
	 "100k binds of 0.0.0.0:5000 beside N owners of 127.0.0.1+i:5000: refused (no flags) "
	 "or admitted and closed again (SO_REUSEADDR everywhere)"},
	{"connect-exhaust", wl_connect_exhaust, 0,
	 "TCP connect() to 127.0.0.2:80 until the 32768-60999 range is exhausted (--sockets "
	 "ignored); per-call time as it fills"},
	{"bind0-exhaust", wl_bind0_exhaust, 0,
	 "TCP bind(127.0.0.1:0), bind(0.0.0.0:0) and bind(127.0.0.1:0) with SO_REUSEADDR until "
	 "EADDRINUSE (--sockets ignored)"},
	{"lookup-established", wl_lookup_established, 10000000,
	 "4-tuple lookups among N established sockets: single and batched, hits and misses"},
	{"lookup-listener", wl_lookup_listener, 1000000,
	 "SYN lookups: N listeners on 127.0.0.1+i:8080 plus a reuseport group of 1000 on "
	 "0.0.0.0:8080; to a bound address (exact) or not (wildcard-group)"},
	{"lookup-udp", wl_lookup_udp, 1000000,
	 "UDP lookups among N connected sockets (4-tuple) or N sockets on N addresses"},
	{"memory", wl_memory, 10000000,
	 "N accepted TCP children of one listener: RSS growth / N, socket records included"},
	{"machine", wl_machine, 10000000,
	 "the memory floor at the working set of N sockets: dependent random line reads "
	 "(latency) and prefetched independent ones (throughput), 4 KiB and huge pages"},
};

static const size_t default_sizes[] = {1000, 10000, 100000, 1000000, 10000000};

static int run_one(const workload_def *w, size_t sockets, bench_out *o)
{
	if (!w->max_default || sockets)
		return w->run(o, sockets ? sockets : 0);
	for (size_t i = 0; i < sizeof(default_sizes) / sizeof(default_sizes[0]); i++) {
		if (default_sizes[i] > w->max_default)
			break;
		int err = w->run(o, default_sizes[i]);
		if (err)
			return err;
	}
	return 0;
}

int st_bench_run(const char *workload, size_t sockets, bool json, FILE *out)
{
	bench_out o = {out ? out : stdout, json, false, false};
	size_t nw = sizeof(workloads) / sizeof(workloads[0]);
	if (!workload)
		return -EINVAL;
	if (sockets > 100000000) {
		fprintf(stderr, "socktab bench: --sockets %zu is more than this benchmark takes "
				"(100000000)\n", sockets);
		return -EINVAL;
	}
	bool all = strcmp(workload, "all") == 0;
	for (size_t i = 0; i < nw; i++) {
		if (!all && strcmp(workload, workloads[i].name) != 0)
			continue;
		int err = run_one(&workloads[i], sockets, &o);
		if (err) {
			if (err == -EINVAL)
				fprintf(stderr, "socktab bench: %s cannot run with %zu sockets\n",
					workloads[i].name, sockets);
			return err;
		}
		if (!all)
			return 0;
	}
	if (all)
		return 0;
	fprintf(stderr, "socktab bench: unknown workload '%s' (try 'list')\n", workload);
	return -EINVAL;
}

void st_bench_list(FILE *out)
{
	size_t nw = sizeof(workloads) / sizeof(workloads[0]);
	for (size_t i = 0; i < nw; i++) {
		char sizes[64];
		if (!workloads[i].max_default)
			snprintf(sizes, sizeof(sizes), "fixed");
		else
			snprintf(sizes, sizeof(sizes), "1k..%s",
				 workloads[i].max_default >= 10000000 ? "10M" : "1M");
		fprintf(out, "%-18s %-8s %s\n", workloads[i].name, sizes, workloads[i].what);
	}
}
