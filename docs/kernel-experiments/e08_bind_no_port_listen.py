"""E8: listen() on a TCP socket bound with IP_BIND_ADDRESS_NO_PORT to port 0."""
from common import *

header("E8 IP_BIND_ADDRESS_NO_PORT then listen",
       ["net.ipv4.ip_local_port_range"])

section("E8a: single detailed run")
A = tcp()
call("A setsockopt(IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT=24, 1)", A.setsockopt, socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
call("A bind 127.0.0.1:0", A.bind, ("127.0.0.1", 0))
call("A getsockname", A.getsockname)
call("A listen", A.listen, 5)
st, name = call("A getsockname", A.getsockname)
print(f"  port parity: {'odd' if name[1] % 2 else 'even'}")
A.close()

section("E8b: 40 repetitions, parity of the port after listen")
par = {"odd": 0, "even": 0}
ports = []
for i in range(40):
    s = tcp()
    s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
    s.bind(("127.0.0.1", 0))
    pre = s.getsockname()[1]
    s.listen(5)
    p = s.getsockname()[1]
    ports.append(p)
    par["odd" if p % 2 else "even"] += 1
    s.close()
print(f"  ports: {ports}")
print(f"  parity counts: {par}")

section("E8c (extra, comparison): 40x plain bind 127.0.0.1:0 parity; 40x connect() autobind parity")
bpar = {"odd": 0, "even": 0}
for i in range(40):
    s = tcp(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]
    bpar["odd" if p % 2 else "even"] += 1; s.close()
print(f"  plain bind(port 0) parity counts: {bpar}")
L = tcp(); L.bind(("127.0.0.1", 29999)); L.listen(128)
cpar = {"odd": 0, "even": 0}
cs = []
for i in range(40):
    c = tcp(); c.connect(("127.0.0.1", 29999)); p = c.getsockname()[1]
    cpar["odd" if p % 2 else "even"] += 1; cs.append(c)
print(f"  connect() autobind parity counts: {cpar}")
for c in cs: c.close()
L.close()
