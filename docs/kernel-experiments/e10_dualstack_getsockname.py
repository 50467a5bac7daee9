"""E10: address forms on a socket accepted by a dual-stack [::] listener
from an IPv4 client."""
from common import *

header("E10 dual-stack listener, IPv4 client", ["net.ipv6.bindv6only"])
P = 21000
section(f"E10: AF_INET6 listener [::]:{P} (V6ONLY=0); AF_INET client 127.0.0.1 -> 127.0.0.1:{P}")
L = tcp(socket.AF_INET6)
call("L getsockopt(IPV6_V6ONLY)", L.getsockopt, socket.IPPROTO_IPV6, socket.IPV6_V6ONLY)
call(f"L bind [::]:{P}", L.bind, ("::", P))
call("L listen", L.listen, 5)
call("L getsockname", L.getsockname)
c = tcp()
call(f"client connect 127.0.0.1:{P}", c.connect, ("127.0.0.1", P))
call("client getsockname", c.getsockname)
a, peer = L.accept()
print(f"  accept: ok -> peer {peer!r}")
call("accepted getsockname", a.getsockname)
call("accepted getpeername", a.getpeername)
call("accepted family", lambda: str(a.family))
a.close(); c.close(); L.close()
