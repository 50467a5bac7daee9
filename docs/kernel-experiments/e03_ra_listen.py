"""E3: two SO_REUSEADDR sockets bound to the same addr:port, then listen both."""
from common import *

header("E3 RA bind twice, then listen (TCP)")
P = 20300
section(f"E3: A RA bind 127.0.0.1:{P}; B RA bind 127.0.0.1:{P}; A listen; B listen")
A, B = tcp(), tcp()
call("A setsockopt(SO_REUSEADDR,1)", A.setsockopt, SOL, RA, 1)
call(f"A bind 127.0.0.1:{P}", A.bind, ("127.0.0.1", P))
call("B setsockopt(SO_REUSEADDR,1)", B.setsockopt, SOL, RA, 1)
call(f"B bind 127.0.0.1:{P}", B.bind, ("127.0.0.1", P))
call("A listen", A.listen, 5)
call("B listen", B.listen, 5)
call("B getsockname", B.getsockname)
A.close(); B.close()
