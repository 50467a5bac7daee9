#!/usr/bin/env python3
"""Verify examples/002-sockets-and-processes.scn on the real kernel.

Runs the scenario with scnkernel.py (its processes are real processes:
fork is fork(2), sendfd is SCM_RIGHTS over a Unix socket, exit is exit),
then one check the scenario's two-port range relies on:
  - connect() takes the ports of the range's own parity first (five even
    ports of 40000-40009, then an odd one), and shares them across
    destinations.
Run as root:  python3 examples/verify/002-sockets-and-processes.py
"""
import socket
import sys

import scnkernel


def connect_parity_and_sharing():
    """connect() uses even ports first and shares them across destinations"""
    with open("/proc/sys/net/ipv4/ip_local_port_range", "w") as f:
        f.write("40000 40009\n")
    l = socket.socket()
    l.bind(("0.0.0.0", 9999))
    l.listen(64)
    keep, first, second = [], [], []
    for dst, out in (("127.0.0.1", first), ("127.0.0.2", second)):
        for _ in range(6):
            c = socket.socket()
            c.connect((dst, 9999))
            out.append(c.getsockname()[1])
            keep.append(c)
    print("    ports towards 127.0.0.1: %s" % first)
    print("    ports towards 127.0.0.2: %s" % second)
    evens_first = all(p % 2 == 0 for p in first[:5]) and first[5] % 2 == 1
    shared = set(first[:5]) == set(second[:5])
    return evens_first and shared and len(set(first)) == 6


if __name__ == "__main__":
    sys.exit(scnkernel.verify_example("002-sockets-and-processes.scn",
                                      [connect_parity_and_sharing]))
