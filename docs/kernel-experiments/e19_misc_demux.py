"""E19: three demux/connect details the unit tests encode.

E19a: source address an unbound TCP/UDP socket gets for 127.0.0.2 / 127.9.9.9
      destinations (route "local 127.0.0.0/8 dev lo" has prefsrc 127.0.0.1?).
E19b: SO_REUSEPORT set on a TCP listener *after* listen(): that listener has
      no group; a later RP listener on the same address pairs with it
      (reuseport_add_sock creates a group for it), so both share new SYNs.
E19c: D-U5: a UDP group that had a connected member keeps scoring after
      its pick, so an older socket bound to device lo (score +4) that the
      early return hid would receive -- but a member bound to 0.0.0.0 is
      re-hashed (and so leaves its group) *before* reuseport_has_conns_set
      runs, so its group is not marked.
E19d: the same with the group on 127.0.0.1: no re-hash, the group is
      marked, and the device-bound socket takes over.
"""
import time
from common import *

header("E19 misc demux")

section("E19a: source address for loopback destinations")
L = tcp()
call("listener bind 0.0.0.0:21900", L.bind, ("0.0.0.0", 21900))
call("listener listen", L.listen, 16)
for dst in ("127.0.0.2", "127.9.9.9", "127.0.0.1"):
    c = tcp()
    call(f"tcp connect {dst}:21900", c.connect, (dst, 21900))
    call("getsockname", c.getsockname)
    c.close()
    u = udp()
    call(f"udp connect {dst}:9", u.connect, (dst, 9))
    call("getsockname", u.getsockname)
    u.close()
L.close()


def accept_counts(ls, n):
    counts = {k: 0 for k in ls}
    for k, s in ls.items():
        s.setblocking(False)
        while True:
            try:
                a, _ = s.accept()
            except BlockingIOError:
                break
            counts[k] += 1
            a.close()
    return counts


section("E19b: A listens on 127.0.0.1:21901 without RP, then sets RP; B RP listens; 40 connections")
A = tcp()
call("A bind", A.bind, ("127.0.0.1", 21901))
call("A listen", A.listen, 64)
call("A setsockopt(SO_REUSEPORT,1)", A.setsockopt, SOL, RP, 1)
B = tcp()
B.setsockopt(SOL, RP, 1)
call("B RP bind", B.bind, ("127.0.0.1", 21901))
call("B listen", B.listen, 64)
cs = []
for i in range(40):
    c = tcp()
    c.connect(("127.0.0.1", 21901))
    cs.append(c)
time.sleep(0.2)
print(f"  accepted: {accept_counts({'A': A, 'B': B}, 40)}")
for c in cs:
    c.close()
A.close(); B.close()

section("E19c: S UDP RA+RP bound 0.0.0.0:21902 on device lo first; A, B, C RP 0.0.0.0:21902; C connects")
S = udp()
S.setsockopt(SOL, RA, 1)
S.setsockopt(SOL, RP, 1)
call("S SO_BINDTODEVICE lo", S.setsockopt, SOL, SO_BINDTODEVICE, b"lo")
call("S bind 0.0.0.0:21902", S.bind, ("0.0.0.0", 21902))
g = {}
for n in "ABC":
    x = udp()
    x.setsockopt(SOL, RP, 1)
    call(f"{n} RP bind 0.0.0.0:21902", x.bind, ("0.0.0.0", 21902))
    g[n] = x
socks = dict(g, S=S)
for x in socks.values():
    x.setblocking(False)


def flows(n=150):
    snd = []
    for i in range(n):
        c = udp()
        c.sendto(b"x", ("127.0.0.1", 21902))
        snd.append(c)
    time.sleep(0.2)
    cnt = {}
    for k, x in socks.items():
        m = 0
        while True:
            try:
                x.recv(8); m += 1
            except BlockingIOError:
                break
        cnt[k] = m
    for c in snd:
        c.close()
    print(f"  received per socket: {cnt}")


flows()
call("C connect 127.0.0.1:9", g["C"].connect, ("127.0.0.1", 9))
flows()


section("E19d: S UDP RA+RP bound 127.0.0.1:21903 on device lo first; A, B, C RP 127.0.0.1:21903; C connects")
S = udp()
S.setsockopt(SOL, RA, 1)
S.setsockopt(SOL, RP, 1)
call("S SO_BINDTODEVICE lo", S.setsockopt, SOL, SO_BINDTODEVICE, b"lo")
call("S bind 127.0.0.1:21903", S.bind, ("127.0.0.1", 21903))
g = {}
for n in "ABC":
    x = udp()
    x.setsockopt(SOL, RP, 1)
    call(f"{n} RP bind 127.0.0.1:21903", x.bind, ("127.0.0.1", 21903))
    g[n] = x
socks = dict(g, S=S)
for x in socks.values():
    x.setblocking(False)


def flows2(n=150):
    snd = []
    for i in range(n):
        c = udp()
        c.sendto(b"x", ("127.0.0.1", 21903))
        snd.append(c)
    time.sleep(0.2)
    cnt = {}
    for k, x in socks.items():
        m = 0
        while True:
            try:
                x.recv(8); m += 1
            except BlockingIOError:
                break
        cnt[k] = m
    for c in snd:
        c.close()
    print(f"  received per socket: {cnt}")


flows2()
call("C connect 127.0.0.1:9", g["C"].connect, ("127.0.0.1", 9))
flows2()
