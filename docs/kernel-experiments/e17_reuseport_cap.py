"""E17: the size limit of a SO_REUSEPORT group.

reuseport_grow() (net/core/sock_reuseport.c) doubles max_socks from 128 and
refuses to go past U16_MAX, so a group should hold at most 32,768 members.
The file limit here is 20,000 per process, so three processes add members
in turn (16,000 + 16,000 + the rest): every socket is RP, same uid, same
address and port.  UDP: bind; TCP: bind + listen.  After the first refusal
the socket's state is probed (getsockname, and for TCP whether its port
stays taken), then one member is closed and a new socket tries again.
"""
import os
from common import *

header("E17 SO_REUSEPORT group size cap")


def member(proto, P):
    s = (udp if proto == "udp" else tcp)()
    s.setsockopt(SOL, RP, 1)
    s.bind(("127.0.0.1", P))
    if proto == "tcp":
        s.listen(1)
    return s


def worker(proto, P, n, last, wfd, rfd):
    socks, failed = [], 0
    for i in range(n):
        try:
            socks.append(member(proto, P))
        except OSError as e:
            name = errno.errorcode.get(e.errno, str(e.errno))
            if failed < 3:
                print(f"  member attempt #{len(socks) + failed + 1} of this process: {name}", flush=True)
            failed += 1
            if last and failed == 1 and proto == "tcp":
                t = tcp()
                t.setsockopt(SOL, RP, 1)
                call(f"fresh RP socket bind 127.0.0.1:{P}", t.bind, ("127.0.0.1", P))
                call("its listen", t.listen, 1)
                call("its getsockname", t.getsockname)
                call("a second listen", t.listen, 1)
                t.close()
            if failed >= 3:
                break
    print(f"  process {os.getpid()}: {len(socks)} members added, {failed} refused", flush=True)
    if last and socks:
        socks.pop().close()
        try:
            socks.append(member(proto, P))
            print("  after closing one member: a new member joins: ok", flush=True)
        except OSError as e:
            print(f"  after closing one member: {errno.errorcode.get(e.errno)}", flush=True)
    os.write(wfd, b"x")
    os.read(rfd, 1)  # hold the sockets until the parent says so
    os._exit(0)


for proto, P in (("udp", 21700), ("tcp", 21701)):
    section(f"E17{'a' if proto == 'udp' else 'b'}: {proto}, RP members on 127.0.0.1:{P}, 3 processes")
    kids = []
    for k, n in enumerate((16000, 16000, 2000)):
        r1, w1 = os.pipe()
        r2, w2 = os.pipe()
        pid = os.fork()
        if pid == 0:
            worker(proto, P, n, k == 2, w1, r2)
        os.read(r1, 1)
        kids.append((pid, w2))
    for pid, w in kids:
        os.write(w, b"x")
        os.waitpid(pid, 0)
