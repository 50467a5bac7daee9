/*
 * bench/lwip_ops.c - the lwIP 2.1.3 peer of bench/compare (Debian's
 * liblwip-dev): what a user of an embedded stack pays for the same table
 * operations, printed in socktab_bench's JSON shape ("system": "lwip").
 *
 *   lwip_ops WORKLOAD N
 *     bind-distinct  N tcp_bind() calls, each its own port (N <= 64,512)
 *     bind-addrs     N tcp_bind() calls on 127.0.0.1+i : 5000
 *     demux-udp      N UDP pcbs on ports 1024+i; timed: ip4_input() of
 *                    datagrams to random ones (udp_input's list walk)
 *     demux-tcp      N listening pcbs on ports 1024+i; timed: ip4_input()
 *                    of RST segments to random ones (tcp_input's walk of
 *                    its pcb lists; a RST to a listener is dropped there)
 *
 * lwIP keeps its pcbs in linked lists and scans them on every bind and
 * every segment, so its costs grow with N; the sizes compare/run keep it
 * to what finishes in seconds.  Debian builds it with NO_SYS=0 and core
 * locking, so everything here runs under LOCK_TCPIP_CORE after
 * tcpip_init.  Demux packets are allocated per packet (pbuf_alloc) as a
 * driver would; that cost is in the figure and is measured alone at N=1.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lwip/inet_chksum.h"
#include "lwip/ip4.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/prot/ip4.h"
#include "lwip/prot/tcp.h"
#include "lwip/prot/udp.h"
#include "lwip/tcp.h"
#include "lwip/tcpip.h"
#include "lwip/udp.h"

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void emit(const char *wl, const char *variant, size_t sockets, uint64_t ops, uint64_t ns)
{
	printf("{\"system\":\"lwip\",\"workload\":\"%s\",\"variant\":\"%s\",\"sockets\":%zu,"
	       "\"ops\":%llu,\"seconds\":%.6f,\"ns_per_op\":%.2f}\n",
	       wl, variant, sockets, (unsigned long long)ops, (double)ns / 1e9,
	       ops ? (double)ns / (double)ops : 0.0);
	fflush(stdout);
}

static int bind_n(const char *wl, size_t n, int addrs)
{
	uint64_t total = 0;
	for (size_t i = 0; i < n; i++) {
		struct tcp_pcb *pcb = tcp_new();
		if (!pcb) {
			fprintf(stderr, "lwip_ops: tcp_new #%zu failed\n", i);
			return 1;
		}
		ip_addr_t a;
		IP_ADDR4(&a, 127, (uint8_t)((i + 1) >> 16), (uint8_t)((i + 1) >> 8), (uint8_t)(i + 1));
		if (!addrs)
			IP_ADDR4(&a, 127, 0, 0, 1);
		u16_t port = addrs ? 5000 : (u16_t)(1024 + i);
		uint64_t t0 = now_ns();
		err_t e = tcp_bind(pcb, &a, port);
		total += now_ns() - t0;
		if (e != ERR_OK) {
			fprintf(stderr, "lwip_ops: tcp_bind #%zu: %d\n", i, (int)e);
			return 1;
		}
	}
	emit(wl, "tcp", n, n, total);
	return 0;
}

/* ---- demux: a netif whose input we call directly ---------------------- */

static struct netif nif;
static unsigned long delivered;

static err_t nif_out(struct netif *n, struct pbuf *p, const ip4_addr_t *dst)
{
	(void)n;
	(void)p;
	(void)dst;
	return ERR_OK; /* a RST or ICMP answer goes nowhere */
}

static err_t nif_init(struct netif *n)
{
	n->name[0] = 'b';
	n->name[1] = 'n';
	n->mtu = 1500;
	n->output = nif_out;
	n->flags = NETIF_FLAG_LINK_UP;
	return ERR_OK;
}

static void udp_rx(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr, u16_t port)
{
	(void)arg;
	(void)pcb;
	(void)addr;
	(void)port;
	delivered++;
	pbuf_free(p);
}

/* An IPv4 packet 10.0.0.2:sport -> 10.0.0.1:dport, UDP or TCP RST. */
static struct pbuf *make_pkt(int tcp, u16_t sport, u16_t dport)
{
	u16_t l4 = tcp ? TCP_HLEN : UDP_HLEN;
	struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)(IP_HLEN + l4), PBUF_RAM);
	if (!p)
		return NULL;
	uint8_t *b = p->payload;
	memset(b, 0, IP_HLEN + l4);
	struct ip_hdr *ip = (struct ip_hdr *)b;
	IPH_VHL_SET(ip, 4, IP_HLEN / 4);
	IPH_LEN_SET(ip, lwip_htons(IP_HLEN + l4));
	IPH_TTL_SET(ip, 64);
	IPH_PROTO_SET(ip, tcp ? IP_PROTO_TCP : IP_PROTO_UDP);
	IP4_ADDR(&ip->src, 10, 0, 0, 2);
	IP4_ADDR(&ip->dest, 10, 0, 0, 1);
	IPH_CHKSUM_SET(ip, inet_chksum(ip, IP_HLEN));
	if (tcp) {
		struct tcp_hdr *t = (struct tcp_hdr *)(b + IP_HLEN);
		t->src = lwip_htons(sport);
		t->dest = lwip_htons(dport);
		t->seqno = lwip_htonl(1);
		TCPH_HDRLEN_FLAGS_SET(t, TCP_HLEN / 4, TCP_RST);
		t->wnd = lwip_htons(1024);
		ip_addr_t s4, d4;
		IP_ADDR4(&s4, 10, 0, 0, 2);
		IP_ADDR4(&d4, 10, 0, 0, 1);
		pbuf_remove_header(p, IP_HLEN);
		t->chksum = ip_chksum_pseudo(p, IP_PROTO_TCP, l4, &s4, &d4);
		pbuf_add_header(p, IP_HLEN);
	} else {
		struct udp_hdr *u = (struct udp_hdr *)(b + IP_HLEN);
		u->src = lwip_htons(sport);
		u->dest = lwip_htons(dport);
		u->len = lwip_htons(UDP_HLEN);
		u->chksum = 0; /* none, allowed for IPv4 */
	}
	return p;
}

static int demux(const char *wl, size_t n, int tcp)
{
	ip4_addr_t a, m, g;
	IP4_ADDR(&a, 10, 0, 0, 1);
	IP4_ADDR(&m, 255, 255, 255, 0);
	IP4_ADDR(&g, 0, 0, 0, 0);
	if (!netif_add(&nif, &a, &m, &g, NULL, nif_init, ip4_input)) {
		fprintf(stderr, "lwip_ops: netif_add failed\n");
		return 1;
	}
	netif_set_up(&nif);
	for (size_t i = 0; i < n; i++) {
		if (tcp) {
			struct tcp_pcb *pcb = tcp_new();
			if (!pcb || tcp_bind(pcb, IP_ADDR_ANY, (u16_t)(1024 + i)) != ERR_OK ||
			    !tcp_listen(pcb)) {
				fprintf(stderr, "lwip_ops: listener #%zu failed\n", i);
				return 1;
			}
		} else {
			struct udp_pcb *pcb = udp_new();
			if (!pcb || udp_bind(pcb, IP_ADDR_ANY, (u16_t)(1024 + i)) != ERR_OK) {
				fprintf(stderr, "lwip_ops: udp pcb #%zu failed\n", i);
				return 1;
			}
			udp_recv(pcb, udp_rx, NULL);
		}
	}
	size_t ops = n * 20 < 20000 ? 20000 : n * 20 > 400000 ? 400000 : n * 20;
	uint64_t rng = 88172645463325252ULL, total = 0;
	for (size_t k = 0; k < ops; k++) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		struct pbuf *p = make_pkt(tcp, 4000, (u16_t)(1024 + rng % n));
		if (!p)
			return 1;
		uint64_t t0 = now_ns();
		nif.input(p, &nif);
		total += now_ns() - t0;
	}
	if (!tcp && delivered != ops) {
		fprintf(stderr, "lwip_ops: %lu of %zu datagrams delivered\n", delivered, ops);
		return 1;
	}
	emit(wl, tcp ? "listener-rst" : "unconnected", n, ops, total);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: lwip_ops WORKLOAD N\n");
		return 2;
	}
	size_t n = (size_t)strtoull(argv[2], NULL, 10);
	if (!n || n > 1000000) {
		fprintf(stderr, "lwip_ops: N from 1 to 1000000\n");
		return 2;
	}
	tcpip_init(NULL, NULL);
	LOCK_TCPIP_CORE();
	int rc;
	if (!strcmp(argv[1], "bind-distinct"))
		rc = n > 64512 ? 2 : bind_n(argv[1], n, 0);
	else if (!strcmp(argv[1], "bind-addrs"))
		rc = bind_n(argv[1], n, 1);
	else if (!strcmp(argv[1], "demux-udp"))
		rc = n > 64000 ? 2 : demux(argv[1], n, 0);
	else if (!strcmp(argv[1], "demux-tcp"))
		rc = n > 64000 ? 2 : demux(argv[1], n, 1);
	else
		rc = 2;
	UNLOCK_TCPIP_CORE();
	if (rc == 2)
		fprintf(stderr, "lwip_ops: unknown workload or N too large for it\n");
	return rc;
}
