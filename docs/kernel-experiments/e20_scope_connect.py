"""E20: connect() to a link-local IPv6 address with a scope id binds the
socket to that device (tcp_v6_connect / __ip6_datagram_connect set
sk_bound_dev_if from sin6_scope_id).  A veth pair d0/d1 inside the
namespace carries fe80::1 (d0) and fe80::2 (d1), without DAD.
"""
import subprocess
from common import *

header("E20 scope id at connect")
for cmd in ("ip link add d0 type veth peer name d1",
            "ip link set d0 up", "ip link set d1 up",
            "ip -6 addr add fe80::1/64 dev d0 nodad",
            "ip -6 addr add fe80::2/64 dev d1 nodad"):
    subprocess.run(cmd.split(), check=True)
d0 = socket.if_nametoindex("d0")
d1 = socket.if_nametoindex("d1")
print(f"  d0 index {d0}, d1 index {d1}")

L = tcp(socket.AF_INET6)
call("listener bind [::]:22000", L.bind, ("::", 22000))
call("listener listen", L.listen, 8)

section("E20a: TCP, unbound, connect [fe80::2%d0]:22000")
c = tcp(socket.AF_INET6)
call("SO_BINDTODEVICE before", c.getsockopt, SOL, SO_BINDTODEVICE, 16)
call("connect", c.connect, ("fe80::2", 22000, 0, d0))
call("getsockname", c.getsockname)
call("SO_BINDTODEVICE after", c.getsockopt, SOL, SO_BINDTODEVICE, 16)
call("connect(AF_UNSPEC)", connect_unspec, c)
call("SO_BINDTODEVICE after AF_UNSPEC", c.getsockopt, SOL, SO_BINDTODEVICE, 16)
c.close()

section("E20b: TCP bound to [::]:22001 first, then connect [fe80::2%d0]:22000; a probe binds [::]:22001 on d1")
c = tcp(socket.AF_INET6)
call("bind [::]:22001", c.bind, ("::", 22001))
call("connect", c.connect, ("fe80::2", 22000, 0, d0))
call("getsockname", c.getsockname)
p = tcp(socket.AF_INET6)
call("probe SO_BINDTODEVICE d1", p.setsockopt, SOL, SO_BINDTODEVICE, b"d1")
call("probe bind [::]:22001", p.bind, ("::", 22001))
p.close()
c.close()

section("E20c: UDP, unbound, connect [fe80::2%d0]:9, then AF_UNSPEC")
u = udp(socket.AF_INET6)
call("connect", u.connect, ("fe80::2", 9, 0, d0))
call("getsockname", u.getsockname)
call("SO_BINDTODEVICE after", u.getsockopt, SOL, SO_BINDTODEVICE, 16)
call("connect(AF_UNSPEC)", connect_unspec, u)
call("SO_BINDTODEVICE after AF_UNSPEC", u.getsockopt, SOL, SO_BINDTODEVICE, 16)
u.close()

section("E20d: TCP bound to device lo (SO_BINDTODEVICE), connect [fe80::2%d0]")
c = tcp(socket.AF_INET6)
call("SO_BINDTODEVICE lo", c.setsockopt, SOL, SO_BINDTODEVICE, b"lo")
call("connect", c.connect, ("fe80::2", 22000, 0, d0))
c.close()
L.close()
