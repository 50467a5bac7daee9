"""E7: UDP socket bound to 0.0.0.0:P then connected; later binds to P."""
from common import *

header("E7 UDP connect then bind conflict")
P = 20700
section(f"E7: A plain UDP bind 0.0.0.0:{P}; A connect 127.0.0.1:9; B plain bind 0.0.0.0:{P}; C plain bind 127.0.0.2:{P}")
A, B, C = udp(), udp(), udp()
call(f"A bind 0.0.0.0:{P}", A.bind, ("0.0.0.0", P))
call("A getsockname", A.getsockname)
call("A connect 127.0.0.1:9", A.connect, ("127.0.0.1", 9))
call("A getsockname", A.getsockname)
call(f"B bind 0.0.0.0:{P}", B.bind, ("0.0.0.0", P))
call(f"C bind 127.0.0.2:{P}", C.bind, ("127.0.0.2", P))
D = udp()
call(f"(extra) D bind 127.0.0.1:{P}", D.bind, ("127.0.0.1", P))
for s in (A, B, C, D): s.close()
