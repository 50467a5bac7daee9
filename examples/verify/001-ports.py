#!/usr/bin/env python3
"""Verify examples/001-ports.scn on the real kernel.

Runs the scenario with scnkernel.py, then what a scenario cannot say:
  - the defaults the comments quote, in a fresh namespace: the ephemeral
    range 32768-60999, ip_unprivileged_port_start 1024, and no
    tcp_tw_recycle any more (removed in Linux 4.12);
  - bind(0) takes a port of the parity opposite to the range's low end
    first, whatever its random start (50 tries);
  - the UDP SO_REUSEADDR rule is "the socket bound last gets unicast",
    not "a particular process": the same test with the order reversed.
Run as root:  python3 examples/verify/001-ports.py
"""
import os
import socket
import sys

import scnkernel


def read(name):
    with open("/proc/sys/" + name.replace(".", "/")) as f:
        return f.read().split()


def defaults():
    """default port range, unprivileged port start, no tcp_tw_recycle"""
    rng = read("net.ipv4.ip_local_port_range")
    start = read("net.ipv4.ip_unprivileged_port_start")
    recycle = os.path.exists("/proc/sys/net/ipv4/tcp_tw_recycle")
    print("    ip_local_port_range = %s, ip_unprivileged_port_start = %s, "
          "tcp_tw_recycle exists: %s" % (" ".join(rng), start[0], recycle))
    return rng == ["32768", "60999"] and start == ["1024"] and not recycle


def bind0_parity():
    """bind(0) picks an odd port first when the range starts even"""
    with open("/proc/sys/net/ipv4/ip_local_port_range", "w") as f:
        f.write("40000 40999\n")
    ports = []
    for _ in range(50):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        ports.append(s.getsockname()[1])
        s.close()
    odd = sum(p % 2 for p in ports)
    print("    %d of 50 bind(0) ports odd, %d distinct" % (odd, len(set(ports))))
    return odd == 50 and all(40000 <= p <= 40999 for p in ports)


def udp_last_bound_wins():
    """UDP SO_REUSEADDR: unicast goes to the socket bound last"""
    ok = True
    for order in ((0, 1), (1, 0), (2, 0, 1)):
        socks = {}
        for i in order:
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            u.bind(("127.0.0.1", 5353))
            u.setblocking(False)
            socks[i] = u
        q = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for k in range(5):
            q.sendto(b"query %d" % k, ("127.0.0.1", 5353))
        got = {}
        for i, u in socks.items():
            n = 0
            while True:
                try:
                    u.recv(100)
                    n += 1
                except BlockingIOError:
                    break
            got[i] = n
        last = order[-1]
        print("    bind order %s: datagrams received %s" % (order, got))
        ok &= got[last] == 5 and sum(got.values()) == 5
        for u in socks.values():
            u.close()
        q.close()
    return ok


if __name__ == "__main__":
    sys.exit(scnkernel.verify_example("001-ports.scn",
                                      [defaults, bind0_parity,
                                       udp_last_bound_wins]))
