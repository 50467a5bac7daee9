"""E16: which call moves an IPv6 UDP socket bound to a specific address to
the head of its hash2 chain -- connect() or connect(AF_UNSPEC)?  (E15b/c
showed that connect + AF_UNSPEC does, for IPv6 only.)

A, B, C bind ::1:P with SO_REUSEADDR (plain duplicates: the first socket
in the chain receives every unconnected datagram, D-U4).  A connects,
B connects, B disconnects, A disconnects: if the disconnect moves a
socket to the head, A (disconnected last) receives; if the connect does,
B (connected last) does.  E16b reverses the disconnect order.  E16c: a
connect without disconnect, then a second connect to another peer, then
AF_UNSPEC, against a socket that only connected once.  E16e: does a
re-connect of an already connected socket move it again?  E16f: the same
with AF_INET6 sockets bound to a v4-mapped address.
"""
import time
from common import *

header("E16 IPv6 UDP: connect vs AF_UNSPEC and chain position")


def mk(name, P):
    s = udp(socket.AF_INET6)
    s.setsockopt(SOL, RA, 1)
    call(f"{name} RA bind [::1]:{P}", s.bind, ("::1", P))
    s.setblocking(False)
    return s


def flows(P, socks, n=100):
    senders = []
    for i in range(n):
        c = udp(socket.AF_INET6)
        c.sendto(b"x", ("::1", P))
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
    print(f"  received per socket: {counts}")


section("E16a: A connect, B connect, B AF_UNSPEC, A AF_UNSPEC")
s = {n: mk(n, 21600) for n in "ABC"}
call("A connect [::1]:9", s["A"].connect, ("::1", 9))
call("B connect [::1]:9", s["B"].connect, ("::1", 9))
call("B AF_UNSPEC", connect_unspec, s["B"])
call("A AF_UNSPEC", connect_unspec, s["A"])
flows(21600, s)
for x in s.values(): x.close()

section("E16b: A connect, B connect, A AF_UNSPEC, B AF_UNSPEC")
s = {n: mk(n, 21601) for n in "ABC"}
call("A connect [::1]:9", s["A"].connect, ("::1", 9))
call("B connect [::1]:9", s["B"].connect, ("::1", 9))
call("A AF_UNSPEC", connect_unspec, s["A"])
call("B AF_UNSPEC", connect_unspec, s["B"])
flows(21601, s)
for x in s.values(): x.close()

section("E16c: A connect 9, A connect 10, B connect 9; B AF_UNSPEC; A AF_UNSPEC")
s = {n: mk(n, 21602) for n in "ABC"}
call("A connect [::1]:9", s["A"].connect, ("::1", 9))
call("A connect [::1]:10", s["A"].connect, ("::1", 10))
call("B connect [::1]:9", s["B"].connect, ("::1", 9))
call("B AF_UNSPEC", connect_unspec, s["B"])
call("A AF_UNSPEC", connect_unspec, s["A"])
flows(21602, s)
for x in s.values(): x.close()

section("E16e: A connect 9, B connect 9, A connect 10 (re-connect); B AF_UNSPEC; A AF_UNSPEC")
s = {n: mk(n, 21604) for n in "ABC"}
call("A connect [::1]:9", s["A"].connect, ("::1", 9))
call("B connect [::1]:9", s["B"].connect, ("::1", 9))
call("A connect [::1]:10", s["A"].connect, ("::1", 10))
call("B AF_UNSPEC", connect_unspec, s["B"])
call("A AF_UNSPEC", connect_unspec, s["A"])
flows(21604, s)
for x in s.values(): x.close()

section("E16d (control, IPv4): the E16a sequence on 127.0.0.1")
s = {}
for n in "ABC":
    x = udp()
    x.setsockopt(SOL, RA, 1)
    call(f"{n} RA bind 127.0.0.1:21603", x.bind, ("127.0.0.1", 21603))
    x.setblocking(False)
    s[n] = x
call("A connect 127.0.0.1:9", s["A"].connect, ("127.0.0.1", 9))
call("B connect 127.0.0.1:9", s["B"].connect, ("127.0.0.1", 9))
call("B AF_UNSPEC", connect_unspec, s["B"])
call("A AF_UNSPEC", connect_unspec, s["A"])
senders = []
for i in range(100):
    c = udp()
    c.sendto(b"x", ("127.0.0.1", 21603))
    senders.append(c)
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

section("E16f: AF_INET6 sockets on [::ffff:127.0.0.1]:21605 RA; A connect, B connect, B AF_UNSPEC, A AF_UNSPEC; IPv4 flows")
s = {}
for n in "ABC":
    x = udp(socket.AF_INET6)
    x.setsockopt(SOL, RA, 1)
    call(f"{n} RA bind [::ffff:127.0.0.1]:21605", x.bind, ("::ffff:127.0.0.1", 21605))
    x.setblocking(False)
    s[n] = x
call("A connect [::ffff:127.0.0.1]:9", s["A"].connect, ("::ffff:127.0.0.1", 9))
call("B connect [::ffff:127.0.0.1]:9", s["B"].connect, ("::ffff:127.0.0.1", 9))
call("B AF_UNSPEC", connect_unspec, s["B"])
call("A AF_UNSPEC", connect_unspec, s["A"])
senders = []
for i in range(100):
    c = udp()
    c.sendto(b"x", ("127.0.0.1", 21605))
    senders.append(c)
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
