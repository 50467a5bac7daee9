/*
 * st-tour.c - a guided run through the first seed article ("what does it
 * mean to listen on a port?") using libsocktab directly.
 *
 * Each step makes the call Liz or Tim makes in the story, prints Linux's
 * answer as the library computes it, and, for refusals and deliveries,
 * the library's explanation of *why*.  It is the README's first command
 * because it shows in a minute what the tables do.
 */
#include <socktab/socktab.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static st_net *net;
static const st_cred user = {1000, 0};

static void show(const char *what, int rc, const st_explain *ex)
{
	printf("  %-52s => %s\n", what, rc ? st_strerror_name(rc) : "ok");
	if (rc && ex && ex->text[0])
		printf("     why (%s): %s\n", st_rule_name(ex->rule), ex->text);
}

static int bind_to(st_sock *sk, const char *ep, st_explain *ex)
{
	st_sockaddr sa;
	if (st_sockaddr_parse(ep, &sa))
		return -EINVAL;
	return st_bind(net, sk, &sa, sa.family == ST_AF_INET ? ST_SOCKADDR_IN_LEN : ST_SOCKADDR_IN6_LEN,
		       &user, ex);
}

static void who_gets(int proto, const char *src, const char *dst)
{
	st_sockaddr s, d;
	st_sockaddr_parse(src, &s);
	st_sockaddr_parse(dst, &d);
	st_pkt p = {.family = (uint8_t)(st_addr_is_v4mapped(&d.addr) ? ST_AF_INET : ST_AF_INET6),
		    .proto = (uint8_t)proto,
		    .sport = s.port,
		    .dport = d.port,
		    .ifindex = ST_IFINDEX_LO,
		    .saddr = s.addr,
		    .daddr = d.addr};
	st_lookup_explain ex;
	st_sock *sk = proto == ST_TCP ? st_lookup_tcp(net, &p, &ex) : st_lookup_udp(net, &p, &ex);
	printf("  %s packet %s -> %s\n     %s%s\n", proto == ST_TCP ? "TCP SYN" : "UDP", src, dst,
	       ex.text, sk ? "" : (proto == ST_TCP ? " (the client gets ECONNREFUSED)" : ""));
}

int main(void)
{
	if (st_net_new(&net, 42, NULL))
		return 1;
	st_sock s1, s2, s3, s4, w, v6;
	st_explain ex;

	puts("1. TCP and UDP have separate port tables");
	st_sock_init(net, &s1, ST_TCP, ST_AF_INET, 1000);
	show("liz: bind tcp4 127.0.0.1:8080", bind_to(&s1, "127.0.0.1:8080", &ex), &ex);
	show("liz: listen", st_listen(net, &s1, &user, &ex), &ex);
	st_sock_init(net, &s2, ST_UDP, ST_AF_INET, 1000);
	show("liz: bind udp4 127.0.0.1:8080", bind_to(&s2, "127.0.0.1:8080", &ex), &ex);
	who_gets(ST_TCP, "127.0.0.1:59558", "127.0.0.1:8080");
	who_gets(ST_UDP, "127.0.0.1:59559", "127.0.0.1:8080");

	puts("\n2. A second TCP socket on the same address and port");
	st_sock_init(net, &s3, ST_TCP, ST_AF_INET, 1000);
	show("tim: bind tcp4 127.0.0.1:8080", bind_to(&s3, "127.0.0.1:8080", &ex), &ex);

	puts("\n3. 127.0.0.2 is a different address: 127/8 is one local route");
	show("tim: bind tcp4 127.0.0.2:8080", bind_to(&s3, "127.0.0.2:8080", &ex), &ex);
	show("tim: listen", st_listen(net, &s3, &user, &ex), &ex);
	who_gets(ST_TCP, "127.0.0.1:40000", "127.0.0.2:8080");

	puts("\n4. 0.0.0.0 covers every IPv4 address, so it overlaps both");
	st_sock_init(net, &w, ST_TCP, ST_AF_INET, 1000);
	show("tim: bind tcp4 0.0.0.0:8080", bind_to(&w, "0.0.0.0:8080", &ex), &ex);

	puts("\n5. [::] takes IPv4 too, unless IPV6_V6ONLY");
	st_sock_init(net, &v6, ST_TCP, ST_AF_INET6, 1000);
	show("tim: bind tcp6 [::]:8080", bind_to(&v6, "[::]:8080", &ex), &ex);
	st_setsockopt(net, &v6, ST_IPV6_V6ONLY, 1, &user);
	show("tim: setsockopt IPV6_V6ONLY 1; bind tcp6 [::]:8080", bind_to(&v6, "[::]:8080", &ex), &ex);
	show("tim: listen", st_listen(net, &v6, &user, &ex), &ex);
	who_gets(ST_TCP, "[::1]:40001", "[::1]:8080");
	who_gets(ST_TCP, "127.0.0.1:40002", "127.0.0.3:8080");

	puts("\n6. SO_REUSEPORT: two listeners share the port, the kernel spreads connections");
	st_sock_init(net, &s4, ST_TCP, ST_AF_INET, 1000);
	st_sock s5;
	st_sock_init(net, &s5, ST_TCP, ST_AF_INET, 1000);
	st_setsockopt(net, &s4, ST_SO_REUSEPORT, 1, &user);
	st_setsockopt(net, &s5, ST_SO_REUSEPORT, 1, &user);
	show("liz: bind tcp4 127.0.0.1:9090 (SO_REUSEPORT)", bind_to(&s4, "127.0.0.1:9090", &ex), &ex);
	show("liz: listen", st_listen(net, &s4, &user, &ex), &ex);
	show("liz: bind tcp4 127.0.0.1:9090 (SO_REUSEPORT)", bind_to(&s5, "127.0.0.1:9090", &ex), &ex);
	show("liz: listen", st_listen(net, &s5, &user, &ex), &ex);
	int hits[2] = {0, 0};
	for (int i = 0; i < 100; i++) {
		st_pkt p = {.family = ST_AF_INET, .proto = ST_TCP, .sport = (uint16_t)(40000 + i),
			    .dport = 9090, .ifindex = ST_IFINDEX_LO,
			    .saddr = st_addr_v4(0x7f000001), .daddr = st_addr_v4(0x7f000001)};
		st_sock *got = st_lookup_tcp(net, &p, NULL);
		hits[got == &s5]++;
	}
	printf("  100 connections from different source ports: %d to the first, %d to the second\n",
	       hits[0], hits[1]);

	puts("\n7. The server exits: nobody listens, the client is refused");
	st_close(net, &s1);
	who_gets(ST_TCP, "127.0.0.1:59560", "127.0.0.1:8080");

	st_close(net, &s2);
	st_close(net, &s3);
	st_close(net, &s4);
	st_close(net, &s5);
	st_close(net, &w);
	st_close(net, &v6);
	st_net_free(net);
	return 0;
}
