"""E9: bind/connect over a TIME_WAIT 4-tuple 127.0.0.1:X -> 127.0.0.1:L."""
import time
from common import *

header("E9 TIME_WAIT bind/connect",
       ["net.ipv4.tcp_tw_reuse", "net.ipv4.tcp_tw_reuse_delay",
        "net.ipv4.tcp_timestamps"])


def make_tw(L, X, client_ra):
    """Listener on L stays open. Client bound to X connects, server accepts,
    client closes first, then the accepted socket closes."""
    lst = tcp()
    lst.setsockopt(SOL, RA, 1)
    call(f"listener bind 127.0.0.1:{L}", lst.bind, ("127.0.0.1", L))
    call("listener listen", lst.listen, 16)
    c = tcp()
    if client_ra:
        call("client setsockopt(SO_REUSEADDR,1)", c.setsockopt, SOL, RA, 1)
    call(f"client bind 127.0.0.1:{X}", c.bind, ("127.0.0.1", X))
    call(f"client connect 127.0.0.1:{L}", c.connect, ("127.0.0.1", L))
    a, peer = lst.accept()
    print(f"  server accept: ok -> peer {peer}")
    call("client close (first)", c.close)
    time.sleep(0.1)
    call("accepted close", a.close)
    time.sleep(0.2)
    print("  ss -tan (after both closes):")
    ss(["-tan"])
    return lst


def try_reuse(X, L, ra, do_connect, delay=0.0):
    if delay:
        time.sleep(delay)
        print(f"  (slept {delay}s)")
    n = tcp()
    if ra:
        call("new setsockopt(SO_REUSEADDR,1)", n.setsockopt, SOL, RA, 1)
    st, _ = call(f"new {'RA' if ra else 'plain'} bind 127.0.0.1:{X}", n.bind, ("127.0.0.1", X))
    if st == "ok" and do_connect:
        st2, _ = call(f"new connect 127.0.0.1:{L}", n.connect, ("127.0.0.1", L))
        if st2 == "ok":
            call("new getsockname", n.getsockname)
            print("  ss -tan (after connect):")
            ss(["-tan"])
    return n


section("E9a: original client WITHOUT RA; new RA socket binds 127.0.0.1:X")
L, X = 20900, 20901
lst = make_tw(L, X, client_ra=False)
n1 = try_reuse(X, L, ra=True, do_connect=True)
n2 = try_reuse(X, L, ra=False, do_connect=False)
for s in (n1, n2, lst): s.close()

section("E9b: original client WITH RA; new RA socket binds 127.0.0.1:X and connects to L immediately")
L, X = 20910, 20911
lst = make_tw(L, X, client_ra=True)
n1 = try_reuse(X, L, ra=True, do_connect=True)
a, peer = lst.accept()
print(f"  server accept: ok -> peer {peer}")
a.close(); n1.close(); lst.close()

section("E9c (extra): original client WITH RA; new PLAIN socket binds 127.0.0.1:X")
L, X = 20920, 20921
lst = make_tw(L, X, client_ra=True)
n1 = try_reuse(X, L, ra=False, do_connect=False)
n1.close(); lst.close()

section("E9d (extra): original client WITH RA; new RA socket binds X, connects to L after 1.5s")
L, X = 20930, 20931
lst = make_tw(L, X, client_ra=True)
n1 = try_reuse(X, L, ra=True, do_connect=True, delay=1.5)
n1.close(); lst.close()
