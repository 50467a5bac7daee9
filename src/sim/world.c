/*
 * src/sim/world.c - hosts, links, and packets in flight.
 *
 * A host is a stack plus its devices: lo (index 1) and one ethN per link.
 * The stack's environment callbacks land here: "now" is the world's clock,
 * timers go into the world's heap, and a transmitted packet is copied into
 * an in-flight event that delivers it to the other end of the device --
 * this host for lo, the peer for a link -- after the link's delay.
 * Copying at transmit time is what a wire does: the sender may reuse its
 * buffer at once, and the capture file sees the packet when it was sent.
 *
 * Every host's tables are told the time whenever it moves, so rules that
 * read the clock (TIME_WAIT reuse after 1 s, expiry after 60 s) see the
 * same time the stack does.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/clock.h"
#include "sim/pcap.h"
#include "sim/sim_internal.h"
#include "alloc.h"

static uint64_t env_now(void *ctx)
{
	sim_host *h = ctx;
	return h->world->clock.now;
}

static void env_arm(void *ctx, stk_timer *t, uint64_t when)
{
	sim_host *h = ctx;
	sim_clock_arm(&h->world->clock, t, when);
}

static void env_cancel(void *ctx, stk_timer *t)
{
	sim_host *h = ctx;
	sim_clock_cancel(&h->world->clock, t);
}

typedef struct sim_inflight {
	stk_timer t;         /* first: the timer's owner */
	sim_host *to;
	int ifindex;
	size_t len;
	uint8_t data[];
} sim_inflight;

static void inflight_fire(stk_timer *t)
{
	sim_inflight *f = (sim_inflight *)t;
	stk_input(f->to->stack, f->ifindex, f->data, f->len);
	st_free(f);
}

/*
 * Test hook: lose one packet on purpose.  The allocation-failure walk
 * (tests/unit/test_full_alloc_walk.c) says that a failed allocation on a
 * packet's path "behaves as if the packet was lost"; it checks that by
 * running the scenario again with this hook dropping the packet instead.
 * Process-wide like st_alloc_fail_at, and for the same reason: tests arm
 * it from one thread around one run.
 */
static uint64_t drop_countdown; /* 0 = disarmed; 1 = the next packet */
static uint64_t xmit_count;     /* packets sent since the last arming */

uint64_t sim_fault_drop_packet(uint64_t n)
{
	uint64_t seen = xmit_count;

	xmit_count = 0;
	drop_countdown = n;
	return seen;
}

static void env_xmit(void *ctx, int ifindex, const uint8_t *pkt, size_t len)
{
	sim_host *h = ctx;
	sim_world *w = h->world;
	sim_host *to = h;
	int to_if = ST_IFINDEX_LO;
	uint64_t delay = 0;
	if (ifindex != ST_IFINDEX_LO) {
		sim_dev *d = NULL;
		for (int i = 0; i < h->ndevs; i++)
			if (h->devs[i].ifindex == ifindex)
				d = &h->devs[i];
		if (!d)
			return;
		to = d->peer;
		to_if = d->peer_ifindex;
		delay = d->delay;
	}
	if (w->pcap)
		sim_pcap_write(w->pcap, w->clock.now, pkt, len);
	xmit_count++;
	if (drop_countdown && --drop_countdown == 0)
		return;
	sim_inflight *f = st_malloc(sizeof(*f) + len);
	if (!f)
		return;   /* the packet is lost, as on a congested wire */
	memset(&f->t, 0, sizeof(f->t));
	f->t.heap_idx = STK_TIMER_IDLE;
	f->t.fn = inflight_fire;
	f->to = to;
	f->ifindex = to_if;
	f->len = len;
	memcpy(f->data, pkt, len);
	if (sim_clock_arm(&w->clock, &f->t, w->clock.now + delay))
		st_free(f);
}

static void env_trace(void *ctx, const char *text)
{
	sim_host *h = ctx;
	sim_world *w = h->world;
	if (w->trace)
		w->trace(w->trace_ctx, text);
}

int sim_world_new(sim_world **out, uint64_t seed)
{
	sim_world *w = st_calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	sim_clock_init(&w->clock);
	w->seed = seed;
	*out = w;
	return 0;
}

void sim_world_free(sim_world *w)
{
	if (!w)
		return;
	for (int i = 0; i < w->nprocs; i++)
		sim_proc_exit(w->procs[i]);
	/* Packets still in flight own their memory; drain them. */
	stk_timer *t;
	while ((t = sim_clock_peek(&w->clock)) != NULL) {
		sim_clock_cancel(&w->clock, t);
		if (t->fn == inflight_fire)
			st_free(t);
	}
	for (int i = 0; i < w->nhosts; i++) {
		stk_stack_free(w->hosts[i]->stack);
		st_free(w->hosts[i]);
	}
	for (int i = 0; i < w->nprocs; i++) {
		st_free(w->procs[i]->fds);
		st_free(w->procs[i]);
	}
	st_free(w->procs);
	sim_clock_destroy(&w->clock);
	if (w->pcap)
		sim_pcap_close(w->pcap);
	st_free(w);
}

int sim_world_pcap(sim_world *w, const char *path)
{
	if (w->pcap)
		return -EEXIST;
	return sim_pcap_open(path, &w->pcap);
}

void sim_world_trace(sim_world *w, void (*fn)(void *ctx, const char *text), void *ctx)
{
	w->trace = fn;
	w->trace_ctx = ctx;
	for (int i = 0; i < w->nhosts; i++)
		stk_set_tracing(w->hosts[i]->stack, fn != NULL);
}

uint64_t sim_now(const sim_world *w)
{
	return w->clock.now;
}

static void sync_time(sim_world *w)
{
	for (int i = 0; i < w->nhosts; i++)
		st_net_set_time(stk_stack_net(w->hosts[i]->stack), w->clock.now);
}

bool sim_step(sim_world *w)
{
	stk_timer *t = sim_clock_pop(&w->clock);
	if (!t)
		return false;
	sync_time(w);
	t->fn(t);
	return true;
}

bool sim_step_until(sim_world *w, uint64_t when)
{
	stk_timer *t = sim_clock_peek(&w->clock);
	if (!t || t->when > when)
		return false;
	return sim_step(w);
}

void sim_settle(sim_world *w)
{
	stk_timer *t;
	while ((t = sim_clock_peek(&w->clock)) != NULL && t->when <= w->clock.now)
		sim_step(w);
}

void sim_run_until(sim_world *w, uint64_t when)
{
	stk_timer *t;
	while ((t = sim_clock_peek(&w->clock)) != NULL && t->when <= when)
		sim_step(w);
	if (w->clock.now < when)
		w->clock.now = when;
	sync_time(w);
}

int sim_host_add(sim_world *w, const char *name, sim_host **out)
{
	if (!name || strlen(name) >= sizeof(((sim_host *)0)->name))
		return -EINVAL;
	if (sim_host_find(w, name))
		return -EEXIST;
	if (w->nhosts >= SIM_MAX_HOSTS)
		return -ENOSPC;
	sim_host *h = st_calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	strcpy(h->name, name);
	h->world = w;
	stk_env env = {
		.ctx = h, .now = env_now, .arm = env_arm, .cancel = env_cancel,
		.xmit = env_xmit, .trace = env_trace,
	};
	/* Each host gets its own keys, derived from the world's seed. */
	int err = stk_stack_new(&h->stack, &env, w->seed * 0x9e3779b97f4a7c15ull + (uint64_t)w->nhosts + 1);
	if (err) {
		st_free(h);
		return err;
	}
	stk_set_tracing(h->stack, w->trace != NULL);
	st_net_set_time(stk_stack_net(h->stack), w->clock.now);
	w->hosts[w->nhosts++] = h;
	if (out)
		*out = h;
	return 0;
}

sim_host *sim_host_find(sim_world *w, const char *name)
{
	for (int i = 0; i < w->nhosts; i++)
		if (strcmp(w->hosts[i]->name, name) == 0)
			return w->hosts[i];
	return NULL;
}

const char *sim_host_name(const sim_host *h)
{
	return h->name;
}

stk_stack *sim_host_stack(sim_host *h)
{
	return h->stack;
}

st_net *sim_host_net(sim_host *h)
{
	return stk_stack_net(h->stack);
}

int sim_host_addr(sim_host *h, const st_addr *a, int family, int prefix_len)
{
	return st_net_add_addr(sim_host_net(h), ST_IFINDEX_LO, a, family, prefix_len);
}

static int add_eth(sim_host *h, int *ifindex)
{
	if (h->ndevs >= SIM_MAX_DEVS)
		return -ENOSPC;
	char name[16];
	snprintf(name, sizeof(name), "eth%d", h->neth);
	int err = st_net_add_device(sim_host_net(h), name, ifindex);
	if (err)
		return err;
	h->neth++;
	return 0;
}

int sim_link(sim_world *w, sim_host *a, const st_addr *aa, int afam, int aplen, sim_host *b,
	     const st_addr *ba, int bfam, int bplen, uint64_t delay_ns)
{
	(void)w;
	if (a == b)
		return -EINVAL;
	if (a->ndevs >= SIM_MAX_DEVS || b->ndevs >= SIM_MAX_DEVS)
		return -ENOSPC;
	int ia, ib, err;
	if ((err = add_eth(a, &ia)) != 0)
		return err;
	if ((err = add_eth(b, &ib)) != 0)
		return err;
	if ((err = st_net_add_addr(sim_host_net(a), ia, aa, afam, aplen)) != 0)
		return err;
	if ((err = st_net_add_addr(sim_host_net(b), ib, ba, bfam, bplen)) != 0)
		return err;
	a->devs[a->ndevs++] = (sim_dev){ ia, b, ib, delay_ns };
	b->devs[b->ndevs++] = (sim_dev){ ib, a, ia, delay_ns };
	return 0;
}
