"""E6: IPv6 SO_REUSEPORT listeners on [::]:P, one of them SO_BINDTODEVICE lo.

Which listener receives connections from ::1 to [::1]:P, depending on
creation order.
"""
import select
import time
from common import *

header("E6 IPv6 RP listeners + device-bound RP listener")
N = 20


def listener(name, P, dev=False):
    s = tcp(socket.AF_INET6)
    s.setsockopt(SOL, RP, 1)
    if dev:
        call(f"{name} setsockopt(SO_BINDTODEVICE,'lo')", s.setsockopt, SOL, SO_BINDTODEVICE, b"lo")
    call(f"{name} bind [::]:{P}", s.bind, ("::", P))
    call(f"{name} listen", s.listen, 64)
    return s


def trial(tag, P, order):
    section(f"{tag}: creation order {order}, {N} connections ::1 -> [::1]:{P}")
    ls = {}
    for name in order:
        ls[name] = listener(name, P, dev=(name == "L3"))
    clients = []
    for i in range(N):
        c = tcp(socket.AF_INET6)
        c.connect(("::1", P))
        clients.append(c)
    time.sleep(0.2)
    counts = {n: 0 for n in ls}
    for n, s in ls.items():
        s.setblocking(False)
        while True:
            try:
                a, _ = s.accept()
            except BlockingIOError:
                break
            counts[n] += 1
            a.close()
    print(f"  accepted per listener: {counts}  (total {sum(counts.values())})")
    for c in clients:
        c.close()
    for s in ls.values():
        s.close()
    return counts


for rep in range(3):
    trial(f"E6a rep{rep}", 20600 + rep, ["L1", "L2", "L3"])
for rep in range(3):
    trial(f"E6b rep{rep}", 20610 + rep, ["L3", "L1", "L2"])
for rep in range(2):
    trial(f"E6c (extra) rep{rep}", 20620 + rep, ["L1", "L3", "L2"])
trial("E6d (extra, no device-bound listener)", 20630, ["L1", "L2"])
