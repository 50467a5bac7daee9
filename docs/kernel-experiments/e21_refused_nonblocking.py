"""E21: what a refused connect (RST to the SYN) leaves behind, blocking and
non-blocking.

tcp_done() (the RST) moves the socket to CLOSE and, without
SOCK_BINDPORT_LOCK, releases the port; it does not reset the source
address.  __inet_stream_connect() additionally calls tcp_disconnect() when
it *reports* the failure (sock_error), which resets an unlocked address.
So a non-blocking connect whose failure is read with SO_ERROR should keep
the source address, and a blocking one should not.
"""
import select
import time
from common import *

header("E21 refused connect: blocking vs non-blocking")
SO_ERROR = socket.SO_ERROR


def probe(port):
    t = tcp()
    call(f"probe bind 127.0.0.1:{port}", t.bind, ("127.0.0.1", port))
    t.close()


def nonblocking(tag, bind_to):
    section(f"{tag}: non-blocking connect to a closed port, bind {bind_to}")
    s = tcp()
    if bind_to:
        call(f"bind {bind_to}", s.bind, bind_to)
    s.setblocking(False)
    call("connect 127.0.0.1:9", s.connect_ex, ("127.0.0.1", 9))
    st, name = call("getsockname (connecting)", s.getsockname)
    time.sleep(0.2)
    call("getsockopt SO_ERROR", lambda: errno.errorcode.get(s.getsockopt(SOL, SO_ERROR), 0))
    st, name2 = call("getsockname (after RST)", s.getsockname)
    probe(name[1])
    call("connect again 127.0.0.1:9", s.connect_ex, ("127.0.0.1", 9))
    call("getsockname (after the second connect)", s.getsockname)
    s.close()


nonblocking("E21a", None)
nonblocking("E21b", ("0.0.0.0", 22100))
nonblocking("E21c", ("127.0.0.1", 0))

section("E21d: blocking connect to a closed port, bind 0.0.0.0:22101")
s = tcp()
call("bind 0.0.0.0:22101", s.bind, ("0.0.0.0", 22101))
call("connect 127.0.0.1:9", s.connect, ("127.0.0.1", 9))
call("getsockname", s.getsockname)
s.close()
section("E21e: blocking connect to a closed port, unbound")
s = tcp()
call("connect 127.0.0.1:9", s.connect, ("127.0.0.1", 9))
call("getsockname", s.getsockname)
s.close()
