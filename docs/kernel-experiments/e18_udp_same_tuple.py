"""E18: two UDP sockets connected to the same peer from the same local
address and port (allowed with SO_REUSEADDR, C-U1): which one receives the
peer's datagrams -- the one bound last or the one connected last?

A binds first, B second (both RA, same address:port); B connects to the
peer first, then A.  The peer (a socket bound to the peer address) sends
20 datagrams.  E18c: A then re-connects to the same peer again.  E18d: A
connects to another peer and back.
"""
import time
from common import *

header("E18 UDP: duplicate connected 4-tuples")


def run(tag, fam, laddr, paddr, steps):
    section(f"{tag}: A, B RA on {laddr}; " + ", ".join(s[0] + " connect " + str(s[1]) for s in steps))
    P, Q = 21800 + ord(tag[-1]) - 97, {"E18a": 21899, "E18b": 21898, "E18c": 21897, "E18d": 21896}[tag]
    peer = udp(fam)
    call(f"peer bind {paddr}:{Q}", peer.bind, (paddr, Q))
    s = {}
    for n in "AB":
        x = udp(fam)
        x.setsockopt(SOL, RA, 1)
        call(f"{n} bind {laddr}:{P}", x.bind, (laddr, P))
        x.setblocking(False)
        s[n] = x
    for who, port in steps:
        call(f"{who} connect {paddr}:{port}", s[who].connect, (paddr, port))
    for i in range(20):
        peer.sendto(b"x", (laddr, P))
    time.sleep(0.2)
    cnt = {}
    for n, x in s.items():
        k = 0
        while True:
            try:
                x.recv(16); k += 1
            except BlockingIOError:
                break
        cnt[n] = k
    print(f"  received per socket: {cnt}")
    for x in list(s.values()) + [peer]:
        x.close()


run("E18a", socket.AF_INET, "127.0.0.1", "127.0.0.2", [("B", 21899), ("A", 21899)])
run("E18b", socket.AF_INET6, "::1", "::1", [("B", 21898), ("A", 21898)])
run("E18c", socket.AF_INET, "127.0.0.1", "127.0.0.2", [("A", 21897), ("B", 21897), ("A", 21897)])
run("E18d", socket.AF_INET, "127.0.0.1", "127.0.0.2", [("A", 21896), ("B", 21896), ("A", 9), ("A", 21896)])
