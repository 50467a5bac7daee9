/*
 * src/cli/bench_sim.c - benchmarks that need the whole simulator.
 *
 *   sim-connections  full TCP connections (socket, connect, accept, one
 *                    request byte each way, close on both sides) through
 *                    the simulated stack -- every segment encoded and
 *                    decoded, every lookup through the tables -- measured
 *                    beside the same loop on this machine's kernel over
 *                    loopback, in the same run, so the figure is a ratio.
 *   ls               the model's `ls` of N bound sockets, 1000 per
 *                    process (descriptor tables, rows, owners), per
 *                    socket: the call alone, fresh row memory included.
 *
 * The kernel peer runs in the current network namespace on 127.0.0.1 with
 * an ephemeral listener, SO_LINGER {1,0} on the client so that TIME_WAIT
 * does not exhaust the port range (the simulator pays for the same RST
 * path), and blocking calls, as a simple client/server pair would.
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli/bench_sim.h"
#include "scenario/model.h"
#include "sim/sim.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void emit(FILE *out, bool json, const char *wl, const char *variant, size_t sockets,
		 size_t ops, double secs, double extra_ratio, const char *ratio_name)
{
	double nsop = ops ? secs * 1e9 / (double)ops : 0;
	if (json) {
		fprintf(out, "{\"workload\":\"%s\",\"variant\":\"%s\",\"sockets\":%zu,\"ops\":%zu,"
			     "\"seconds\":%.6f,\"ns_per_op\":%.1f,\"ops_per_sec\":%.0f,"
			     "\"bytes_per_socket\":null",
			wl, variant, sockets, ops, secs, nsop, secs > 0 ? (double)ops / secs : 0);
		if (ratio_name)
			fprintf(out, ",\"%s\":%.2f", ratio_name, extra_ratio);
		fprintf(out, "}\n");
	} else {
		fprintf(out, "%-16s %-10s %9zu %9zu %9.3f s %10.1f ns/op %12.0f op/s", wl, variant, sockets,
			ops, secs, nsop, secs > 0 ? (double)ops / secs : 0);
		if (ratio_name)
			fprintf(out, "  %s %.2f", ratio_name, extra_ratio);
		fprintf(out, "\n");
	}
}

/* ---- sim-connections ----------------------------------------------------- */

static int sim_conns(size_t n, double *secs)
{
	sim_world *w;
	sim_host *h;
	sim_proc *srv, *cli;
	if (sim_world_new(&w, 1) || sim_host_add(w, "local", &h))
		return -ENOMEM;
	if (sim_proc_new(w, "srv", h, 1000, 0, &srv) || sim_proc_new(w, "cli", h, 1000, 0, &cli)) {
		sim_world_free(w);
		return -ENOMEM;
	}
	stk_stack *st = sim_host_stack(h);
	st_cred cred = { 1000, 0 };
	stk_sock *l;
	int err = stk_socket(st, ST_TCP, ST_AF_INET, &cred, &l);
	st_sockaddr la = st_sockaddr_in(0x7f000001, 8080);
	if (!err)
		err = stk_bind(l, &la, &cred, NULL);
	if (!err)
		err = stk_listen(l, 4096, &cred, NULL);
	if (err) {
		sim_world_free(w);
		return err;
	}
	stk_optval linger = { 1, 0 };
	uint8_t byte = 'x', buf[16];
	double t0 = now_s();
	for (size_t i = 0; i < n && !err; i++) {
		stk_sock *c, *a;
		err = stk_socket(st, ST_TCP, ST_AF_INET, &cred, &c);
		if (err)
			break;
		stk_setsockopt(c, STK_SO_LINGER, &linger, &cred);
		int r = stk_connect(c, &la, &cred, NULL);
		sim_settle(w);
		if (r == -EINPROGRESS)
			r = stk_connect(c, &la, &cred, NULL);
		st_sockaddr peer;
		if (r == 0)
			r = stk_accept(l, &a, &peer);
		if (r) {
			stk_release(c);
			err = r;
			break;
		}
		size_t got;
		stk_send(c, &byte, 1);
		sim_settle(w);
		stk_recv(a, buf, sizeof(buf), &got, NULL);
		stk_send(a, &byte, 1);
		sim_settle(w);
		stk_recv(c, buf, sizeof(buf), &got, NULL);
		stk_release(c);   /* RST: SO_LINGER {1,0} */
		sim_settle(w);
		stk_release(a);
		sim_settle(w);
	}
	*secs = now_s() - t0;
	size_t left = stk_sock_count(st);
	stk_release(l);
	sim_world_free(w);
	if (!err && left != 1)
		err = -EPROTO;   /* something leaked inside the stack */
	return err;
}

static int kernel_conns(size_t n, double *secs)
{
	int l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0)
		return -errno;
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(0x7f000001);
	socklen_t al = sizeof(a);
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 4096) ||
	    getsockname(l, (struct sockaddr *)&a, &al)) {
		int e = errno;
		close(l);
		return -e;
	}
	struct linger lg = { 1, 0 };
	char byte = 'x', buf[16];
	int err = 0;
	double t0 = now_s();
	for (size_t i = 0; i < n; i++) {
		int c = socket(AF_INET, SOCK_STREAM, 0);
		if (c < 0) {
			err = -errno;
			break;
		}
		setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		if (connect(c, (struct sockaddr *)&a, sizeof(a))) {
			err = -errno;
			close(c);
			break;
		}
		int s = accept(l, NULL, NULL);
		if (s < 0) {
			err = -errno;
			close(c);
			break;
		}
		if (send(c, &byte, 1, 0) != 1 || recv(s, buf, sizeof(buf), 0) != 1 ||
		    send(s, &byte, 1, 0) != 1 || recv(c, buf, sizeof(buf), 0) != 1)
			err = -EPROTO;
		close(c);
		close(s);
		if (err)
			break;
	}
	*secs = now_s() - t0;
	close(l);
	return err;
}

static int run_sim_connections(size_t n, bool json, FILE *out)
{
	static const size_t sizes[] = { 1000, 10000, 100000 };
	size_t lo = 0, hi = 3;
	if (n) {
		lo = 0;
		hi = 1;
	}
	for (size_t k = lo; k < hi; k++) {
		size_t cnt = n ? n : sizes[k];
		double ts = 0, tk = 0;
		int err = sim_conns(cnt, &ts);
		if (err) {
			fprintf(stderr, "socktab bench: sim-connections: %s\n", strerror(-err));
			return err;
		}
		int kerr = kernel_conns(cnt, &tk);
		emit(out, json, "sim-connections", "model", cnt, cnt, ts, 0, NULL);
		if (kerr) {
			fprintf(stderr, "socktab bench: the kernel peer failed: %s\n", strerror(-kerr));
		} else {
			double ratio = ts > 0 ? tk / ts : 0;
			emit(out, json, "sim-connections", "linux-lo", cnt, cnt, tk, ratio, "model_speedup");
		}
	}
	return 0;
}

/* ---- ls --------------------------------------------------------------------- */

static int ls_once(size_t n, bool json, FILE *out)
{
	char msg[256];
	sc_backend_config cfg = { .seed = 1, .explain = false, .pcap = NULL };
	sc_backend *b = sc_model_new(&cfg, msg, sizeof(msg));
	if (!b)
		return -ENOMEM;
	/* Each process holds at most 1000 sockets (the model enforces the
	 * usual RLIMIT_NOFILE of 1024), so N sockets take N/1000 owners. */
	int err = 0, p = -1;
	for (size_t i = 0; i < n && !err; i++) {
		sc_result r;
		if (i % 1000 == 0) {
			char name[32];
			snprintf(name, sizeof(name), "o%zu", i / 1000);
			p = b->ops->proc(b, name, "local", 0, ST_CAP_ALL, msg, sizeof(msg));
			if (p < 0) {
				err = p;
				break;
			}
		}
		b->ops->socket(b, p, (i & 1) ? SC_UDP4 : SC_TCP4, &r);
		int fd = r.fd;
		if (r.kind == SC_R_ERR)
			err = -r.err;
		sc_result_clear(&r);
		if (err)
			break;
		sc_sockaddr a;
		memset(&a, 0, sizeof(a));
		a.sa.family = ST_AF_INET;
		a.sa.addr = st_addr_v4(0x7f000000u | (uint32_t)(1 + i / 60000));
		a.sa.port = (uint16_t)(1024 + i % 60000);
		b->ops->bind(b, p, fd, &a, &r);
		if (r.kind == SC_R_ERR)
			err = -r.err;
		sc_result_clear(&r);
	}
	if (err) {
		fprintf(stderr, "socktab bench: ls: setting up %zu sockets: %s\n", n, strerror(-err));
		b->ops->destroy(b);
		return err;
	}
	sc_lsrow *rows = NULL;
	size_t nrows = 0;
	double t0 = now_s();
	err = b->ops->ls(b, "local", &rows, &nrows);
	double secs = now_s() - t0;
	free(rows);
	b->ops->destroy(b);
	if (err)
		return err;
	if (nrows != n) {
		fprintf(stderr, "socktab bench: ls listed %zu of %zu sockets\n", nrows, n);
		return -EPROTO;
	}
	emit(out, json, "ls", "model", n, n, secs, 0, NULL);
	return 0;
}

static int run_ls(size_t n, bool json, FILE *out)
{
	static const size_t sizes[] = { 1000, 10000, 100000, 1000000 };
	if (n)
		return ls_once(n, json, out);
	for (size_t k = 0; k < 4; k++) {
		int err = ls_once(sizes[k], json, out);
		if (err)
			return err;
	}
	return 0;
}

void bench_sim_list(FILE *out)
{
	fprintf(out, "%-16s %-24s %s\n", "sim-connections", "1k 10k 100k",
		"TCP connect+accept+1 byte each way+close through the simulator, and on Linux loopback");
	fprintf(out, "%-16s %-24s %s\n", "ls", "1k 10k 100k 1M", "the model's ls of N bound sockets, per socket");
}

int bench_sim_run(const char *workload, size_t sockets, bool json, FILE *out)
{
	if (!strcmp(workload, "sim-connections"))
		return run_sim_connections(sockets, json, out);
	if (!strcmp(workload, "ls"))
		return run_ls(sockets, json, out);
	return -ENOENT;
}
