"""E14: which SO_REUSEPORT group a new UDP socket joins when the newest
matching owner of the port has left its group (6.13+: connect() detaches a
UDP socket from its group, D-U9).

udp_reuseport_add_sock() (6.12 source) takes the *first* owner in the
port's primary chain (newest first) with the same family, V6ONLY, device,
uid, SO_REUSEPORT and exactly the same address, and joins *its* group,
creating one for it if it has none.  So if that owner is a connected (or
connected-then-disconnected) socket, the newcomer would pair with it
instead of joining the surviving group.  Flows: 300 datagrams from 300
fresh unconnected senders (distinct source ports); receivers are counted.
"""
import time
from common import *

header("E14 UDP reuseport: joining after a member connected")
N = 300


def rp_udp(name, P, fam=socket.AF_INET, addr="127.0.0.1"):
    s = udp(fam)
    s.setsockopt(SOL, RP, 1)
    call(f"{name} RP bind {addr}:{P}", s.bind, (addr, P))
    s.setblocking(False)
    return s


def flows(P, socks, fam=socket.AF_INET, addr="127.0.0.1", n=N):
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


def trial(tag, P, disconnect, fam=socket.AF_INET, addr="127.0.0.1", peer=("127.0.0.1", 9)):
    section(f"{tag}: A, B, C RP on {addr}:{P}; C connects to {peer}"
            f"{' and disconnects' if disconnect else ''}; D RP binds the same")
    s = {n: rp_udp(n, P, fam, addr) for n in "ABC"}
    flows(P, s, fam, addr)
    call(f"C connect {peer}", s["C"].connect, peer)
    if disconnect:
        call("C connect(AF_UNSPEC)", connect_unspec, s["C"])
    call("C getsockname", s["C"].getsockname)
    flows(P, s, fam, addr)
    s["D"] = rp_udp("D", P, fam, addr)
    flows(P, s, fam, addr)
    s["E"] = rp_udp("E", P, fam, addr)
    flows(P, s, fam, addr)
    for x in s.values():
        x.close()


trial("E14a", 21400, False)
trial("E14b", 21401, True)
trial("E14c", 21402, False, socket.AF_INET6, "::1", ("::1", 9))
trial("E14d", 21403, True, socket.AF_INET6, "::1", ("::1", 9))

section("E14e: A, B RP on 127.0.0.1:21404; A connects; B closes; D RP binds")
A = rp_udp("A", 21404)
B = rp_udp("B", 21404)
call("A connect 127.0.0.1:9", A.connect, ("127.0.0.1", 9))
B.close()
D = rp_udp("D", 21404)
flows(21404, {"A": A, "D": D})
A.close(); D.close()
