"""E12: the local address of AF_INET6 sockets after connect(AF_UNSPEC).

Question: an AF_INET6 socket bound to ::ffff:0.0.0.0 (a v4-mapped wildcard)
connects to an IPv4 peer, so connect() gives it the source ::ffff:127.0.0.1;
what address does it show and hold after connect(AF_UNSPEC)?  The kernel's
inet_reset_saddr() writes :: for every AF_INET6 socket, but it only runs
when SOCK_BINDADDR_LOCK is clear, and __inet6_bind sets that lock for every
address type other than IPV6_ADDR_ANY -- ::ffff:0.0.0.0 is MAPPED.  After
each disconnect a second socket probes which bind-table address the first
one still holds: 127.0.0.2:P (free unless the first covers all IPv4),
[::1]:P (free unless the first is dual-stack ::) and 127.0.0.1:P.
"""
from common import *

header("E12 AF_INET6 disconnect: local address reset")
L = 21200
lst = tcp()
lst.setsockopt(SOL, RA, 1)
call(f"listener bind 127.0.0.1:{L}", lst.bind, ("127.0.0.1", L))
call("listener listen", lst.listen, 64)
lst6 = tcp(socket.AF_INET6)
lst6.setsockopt(SOL, RA, 1)
call(f"listener6 bind [::1]:{L}", lst6.bind, ("::1", L))
call("listener6 listen", lst6.listen, 64)


def probes(P, proto):
    mk = tcp if proto == "tcp" else udp
    for addr, fam in (("127.0.0.2", socket.AF_INET), ("::1", socket.AF_INET6),
                      ("127.0.0.1", socket.AF_INET)):
        s = mk(fam)
        call(f"probe {proto} bind {addr}:{P}", s.bind, (addr, P))
        s.close()


def run(tag, proto, bind_to, dst, P):
    section(f"{tag}: {proto}6 socket, bind {bind_to}, connect {dst}, AF_UNSPEC")
    mk = tcp if proto == "tcp" else udp
    s = mk(socket.AF_INET6)
    if bind_to is not None:
        call(f"bind [{bind_to[0]}]:{bind_to[1]}", s.bind, bind_to)
        call("getsockname", s.getsockname)
    call(f"connect {dst}", s.connect, dst)
    st, name = call("getsockname", s.getsockname)
    port = name[1] if name else 0
    if proto == "tcp":
        a, _ = (lst6 if ":" in dst[0] and not dst[0].startswith("::ffff:") else lst).accept()
        a.close()
    call("connect(AF_UNSPEC)", connect_unspec, s)
    st, name = call("getsockname", s.getsockname)
    probes(P if P else port, proto)
    s.close()


run("E12a", "tcp", ("::ffff:0.0.0.0", 21201), ("::ffff:127.0.0.1", L), 21201)
run("E12b", "tcp", ("::ffff:0.0.0.0", 0), ("::ffff:127.0.0.1", L), 0)
run("E12c", "tcp", ("::", 21203), ("::ffff:127.0.0.1", L), 21203)
run("E12d", "tcp", None, ("::ffff:127.0.0.1", L), 0)
run("E12e", "tcp", ("::", 21205), ("::1", L), 21205)
run("E12f", "udp", ("::ffff:0.0.0.0", 21206), ("::ffff:127.0.0.1", 9), 21206)
run("E12g", "udp", ("::ffff:0.0.0.0", 0), ("::ffff:127.0.0.1", 9), 0)
run("E12h", "udp", ("::", 21208), ("::ffff:127.0.0.1", 9), 21208)
run("E12i", "udp", None, ("::ffff:127.0.0.1", 9), 0)

section("E12j: tcp6 listener on [::ffff:0.0.0.0]:21210, AF_UNSPEC, listen again")
s = tcp(socket.AF_INET6)
call("bind [::ffff:0.0.0.0]:21210", s.bind, ("::ffff:0.0.0.0", 21210))
call("listen", s.listen, 5)
call("connect(AF_UNSPEC)", connect_unspec, s)
call("getsockname", s.getsockname)
probes(21210, "tcp")
call("listen again", s.listen, 5)
s.close()

section("E12k: tcp4 socket bound 0.0.0.0:21211 connects, AF_UNSPEC (control)")
s = tcp()
call("bind 0.0.0.0:21211", s.bind, ("0.0.0.0", 21211))
call(f"connect 127.0.0.1:{L}", s.connect, ("127.0.0.1", L))
lst.accept()[0].close()
call("getsockname", s.getsockname)
call("connect(AF_UNSPEC)", connect_unspec, s)
call("getsockname", s.getsockname)
probes(21211, "tcp")
s.close()
