/*
 * src/core/autobind.c - the automatic bind of a UDP socket on first send.
 *
 * Linux gives an unbound UDP socket a port the first time it sends
 * (inet_autobind from udp_sendmsg), with the same search as bind(port 0)
 * but without the "user locks": the address stays the wildcard and the
 * port is not marked as chosen by the user, so a later connect() may still
 * re-hash the local address.  connect() has its own autobind (connect.c);
 * this is the entry point for the stack's sendto().
 */
#include <errno.h>

#include "net_internal.h"

int st_autobind(st_net *net, st_sock *sk)
{
	if (!net || !sk_valid(sk))
		return -EINVAL;
	if (sk->proto != ST_UDP)
		return -EOPNOTSUPP;
	if (sk_has(sk, ST_F_HASHED))
		return 0;
	int kind = kind_of(sk->family, &sk->laddr, sk_has(sk, ST_F_V6ONLY));
	uint16_t port;
	if (udp_find_port(net, sk, kind, &sk->laddr, &port))
		return -EAGAIN;
	st_addr a = sk->laddr;
	return port_take(net, sk, port, kind, &a, false);
}
