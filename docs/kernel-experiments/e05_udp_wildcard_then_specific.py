"""E5: UDP, 1 RA wildcard + N RA specific sockets, then a plain specific bind."""
from common import *

header("E5 UDP RA wildcard + RA specifics, then plain specific",
       ["net.ipv4.udp_hash_entries", "net.ipv4.udp_child_hash_entries"])


def run(tag, P, n):
    section(f"{tag}: RA UDP 0.0.0.0:{P}; RA UDP on 127.0.0.2..{1 + n}:{P}; "
            f"plain UDP 127.0.0.20:{P}; (extra) plain UDP 127.0.0.3:{P}")
    socks = []
    W = udp()
    W.setsockopt(SOL, RA, 1)
    call(f"RA UDP bind 0.0.0.0:{P}", W.bind, ("0.0.0.0", P))
    socks.append(W)
    for i in range(2, 2 + n):
        s = udp()
        s.setsockopt(SOL, RA, 1)
        call(f"RA UDP bind 127.0.0.{i}:{P}", s.bind, (f"127.0.0.{i}", P))
        socks.append(s)
    X = udp()
    call(f"plain UDP bind 127.0.0.20:{P}", X.bind, ("127.0.0.20", P))
    Y = udp()
    call(f"(extra) plain UDP bind 127.0.0.3:{P}", Y.bind, ("127.0.0.3", P))
    Z = udp()
    Z.setsockopt(SOL, RA, 1)
    call(f"(extra) RA UDP bind 127.0.0.20:{P}", Z.bind, ("127.0.0.20", P))
    for s in socks + [X, Y, Z]:
        s.close()


run("E5a (11 sockets on port before the plain bind)", 20500, 10)
run("E5b (6 sockets on port before the plain bind)", 20510, 5)


def run6(tag, P, n):
    section(f"{tag}: RA UDP6 [::]:{P} (dual-stack); RA UDP on 127.0.0.2..{1 + n}:{P}; "
            f"plain UDP 127.0.0.20:{P}")
    socks = []
    W = udp(socket.AF_INET6)
    W.setsockopt(SOL, RA, 1)
    call(f"RA UDP6 bind [::]:{P}", W.bind, ("::", P))
    socks.append(W)
    for i in range(2, 2 + n):
        s = udp()
        s.setsockopt(SOL, RA, 1)
        call(f"RA UDP bind 127.0.0.{i}:{P}", s.bind, (f"127.0.0.{i}", P))
        socks.append(s)
    X = udp()
    call(f"plain UDP bind 127.0.0.20:{P}", X.bind, ("127.0.0.20", P))
    for s in socks + [X]:
        s.close()


run6("E5c (extra, 11 sockets, wildcard is AF_INET6 [::])", 20520, 10)
run6("E5d (extra, 6 sockets, wildcard is AF_INET6 [::])", 20530, 5)
