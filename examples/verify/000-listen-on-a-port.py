#!/usr/bin/env python3
"""Verify examples/000-listen-on-a-port.scn on the real kernel.

Runs the scenario with scnkernel.py (every expectation and `ls` table
checked against Linux), then what a scenario cannot say:
  - over many connections a SO_REUSEPORT pair really spreads them (the
    scenario can only allow either member for each accept);
  - net.ipv6.bindv6only is 0 in a fresh namespace (why [::] takes IPv4).
Run as root:  python3 examples/verify/000-listen-on-a-port.py
"""
import socket
import sys

import scnkernel

N = 200


def reuseport_spreads():
    """SO_REUSEPORT spreads 200 connections over both listeners"""
    ls = []
    for _ in range(2):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        s.bind(("127.0.0.1", 8080))
        s.listen(N)
        s.setblocking(False)
        ls.append(s)
    clients = []
    counts = [0, 0]
    for _ in range(N):
        c = socket.socket()
        c.connect(("127.0.0.1", 8080))
        clients.append(c)
        for i, s in enumerate(ls):
            try:
                a, _ = s.accept()
                a.close()
                counts[i] += 1
            except BlockingIOError:
                pass
    print("    accepted by server3a: %d, by server3b: %d" % tuple(counts))
    # Binomial(200, 1/2): below 20 on one side has probability < 1e-30.
    return sum(counts) == N and min(counts) >= 20


def bindv6only_default():
    """net.ipv6.bindv6only is 0 by default"""
    with open("/proc/sys/net/ipv6/bindv6only") as f:
        v = f.read().strip()
    print("    net.ipv6.bindv6only = %s" % v)
    return v == "0"


if __name__ == "__main__":
    sys.exit(scnkernel.verify_example("000-listen-on-a-port.scn",
                                      [reuseport_spreads, bindv6only_default]))
