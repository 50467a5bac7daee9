"""E15: UDP chain order after connect + AF_UNSPEC, scan order with IPv6
SO_REUSEPORT owners, and the size limit of a SO_REUSEPORT group.

E15a-d: three sockets on one address (RA duplicates, or an RP group); one
of them connects to port 9 and disconnects again; which socket then
receives 200 unconnected flows tells where it now sits in the hash2 chain.
E15e-f: bind-conflict scan order (B-U4) when an IPv6 RP owner exists:
sk_add_node_rcu() appends IPv6 RP sockets at the *tail* of the port's
primary chain, so the newest-first reading of B-U4 does not hold for them.
(The group-size cap is E17.)
"""
import time
from common import *

header("E15 UDP chain order, scan order, group cap")
N = 200


def mk(name, P, fam, addr, opts):
    s = udp(fam)
    for o in opts:
        s.setsockopt(SOL, o, 1)
    call(f"{name} bind {addr}:{P}", s.bind, (addr, P))
    s.setblocking(False)
    return s


def flows(P, socks, fam, addr, n=N):
    senders = []
    for i in range(n):
        c = udp(fam)
        c.sendto(b"x", (addr, P))
        senders.append(c)
    time.sleep(0.2)
    counts = {}
    for name, s in socks.items():
        k = 0
        while True:
            try:
                s.recv(16)
                k += 1
            except BlockingIOError:
                break
        counts[name] = k
    for c in senders:
        c.close()
    print(f"  received per socket: {counts} (total {sum(counts.values())} of {n})")


def trial(tag, P, fam, addr, opts, who):
    optname = "+".join("RA" if o == RA else "RP" for o in opts)
    section(f"{tag}: A, B, C {optname} on {addr}:{P}; {who} connects to port 9 and disconnects")
    s = {n: mk(n, P, fam, addr, opts) for n in "ABC"}
    flows(P, s, fam, addr)
    call(f"{who} connect port 9", s[who].connect, (addr, 9))
    call(f"{who} connect(AF_UNSPEC)", connect_unspec, s[who])
    flows(P, s, fam, addr)
    for x in s.values():
        x.close()


trial("E15a", 21500, socket.AF_INET, "127.0.0.1", [RA], "A")
trial("E15b", 21501, socket.AF_INET6, "::1", [RA], "A")
trial("E15c", 21502, socket.AF_INET6, "::1", [RP], "B")
trial("E15d", 21503, socket.AF_INET, "127.0.0.1", [RP], "A")
trial("E15d2", 21504, socket.AF_INET, "127.0.0.1", [RP], "B")

section("E15e: S2 [::]:21505 RA bound first, S1 [::1]:21505 RA+RP, then C [::1]:21505 RP")
S2 = mk("S2", 21505, socket.AF_INET6, "::", [RA])
S1 = mk("S1", 21505, socket.AF_INET6, "::1", [RA, RP])
C = mk("C", 21505, socket.AF_INET6, "::1", [RP])
for x in (S2, S1, C):
    x.close()
section("E15e2 (order swapped): S1 [::1]:21506 RA+RP first, S2 [::]:21506 RA, then C [::1]:21506 RP")
S1 = mk("S1", 21506, socket.AF_INET6, "::1", [RA, RP])
S2 = mk("S2", 21506, socket.AF_INET6, "::", [RA])
C = mk("C", 21506, socket.AF_INET6, "::1", [RP])
for x in (S2, S1, C):
    x.close()
section("E15f (IPv4 control): S2 0.0.0.0:21507 RA first, S1 127.0.0.1:21507 RA+RP, C 127.0.0.1:21507 RP")
S2 = mk("S2", 21507, socket.AF_INET, "0.0.0.0", [RA])
S1 = mk("S1", 21507, socket.AF_INET, "127.0.0.1", [RA, RP])
C = mk("C", 21507, socket.AF_INET, "127.0.0.1", [RP])
for x in (S2, S1, C):
    x.close()

