"""E4: UDP bind conflict scan when more than 10 sockets share the port.

udp_lib_get_port() switches from scanning the primary (port) hash slot to
scanning secondary (addr,port) hash slots when the primary slot holds more
than 10 sockets.  Note: the primary slot count is per hash slot, and the UDP
table is shared with the host (udp_child_hash_entries = 0), so in principle
unrelated sockets in other namespaces can add to the count.
"""
from common import *

header("E4 UDP > 10 sockets on a port",
       ["net.ipv4.udp_hash_entries", "net.ipv4.udp_child_hash_entries",
        "net.ipv6.bindv6only"])


def specifics(P, n, start=2):
    socks = []
    for i in range(start, start + n):
        s = udp()
        st, _ = call(f"plain UDP bind 127.0.0.{i}:{P}", s.bind, (f"127.0.0.{i}", P))
        socks.append(s)
    return socks


section("E4a: 11 plain UDP on 127.0.0.2..12:20400, then plain 0.0.0.0:20400")
P = 20400
socks = specifics(P, 11)
X = udp()
call(f"plain UDP bind 0.0.0.0:{P}", X.bind, ("0.0.0.0", P))
socks.append(X)
for s in socks: s.close()

section("E4b: 11 plain UDP on 127.0.0.2..12:20410, then plain 127.0.0.2:20410")
P = 20410
socks = specifics(P, 11)
X = udp()
call(f"plain UDP bind 127.0.0.2:{P}", X.bind, ("127.0.0.2", P))
socks.append(X)
for s in socks: s.close()

section("E4c: 5 plain UDP on 127.0.0.2..6:20420, then plain 0.0.0.0:20420")
P = 20420
socks = specifics(P, 5)
X = udp()
call(f"plain UDP bind 0.0.0.0:{P}", X.bind, ("0.0.0.0", P))
socks.append(X)
for s in socks: s.close()

section("E4d: 11 plain UDP on 127.0.0.2..12:20430, then plain AF_INET6 [::]:20430 (dual-stack)")
P = 20430
socks = specifics(P, 11)
X = udp(socket.AF_INET6)
call("X getsockopt(IPV6_V6ONLY)", X.getsockopt, socket.IPPROTO_IPV6, socket.IPV6_V6ONLY)
call(f"plain UDP6 bind [::]:{P}", X.bind, ("::", P))
socks.append(X)
for s in socks: s.close()

section("E4e (control): 5 plain UDP on 127.0.0.2..6:20440, then plain AF_INET6 [::]:20440 (dual-stack)")
P = 20440
socks = specifics(P, 5)
X = udp(socket.AF_INET6)
call(f"plain UDP6 bind [::]:{P}", X.bind, ("::", P))
socks.append(X)
for s in socks: s.close()

section("E4f (extra): 10 plain UDP on 127.0.0.2..11:20450 (count 10, not > 10), then plain 0.0.0.0:20450")
P = 20450
socks = specifics(P, 10)
X = udp()
call(f"plain UDP bind 0.0.0.0:{P}", X.bind, ("0.0.0.0", P))
socks.append(X)
for s in socks: s.close()
