"""E13: IP_LOCAL_PORT_RANGE (per-socket ephemeral range, 6.3+) against the
netns range 20000-30000.

Option checks (length, lo > hi, reading back), then which ports TCP bind(0),
UDP bind(0) and TCP connect() use when the socket range lies inside,
straddles or lies outside the netns range, and whether connect() keeps the
low-parity-first rule (P-T12 says: not when the option is set).
"""
from common import *

header("E13 IP_LOCAL_PORT_RANGE", ["net.ipv4.ip_local_port_range"])

section("E13a: option checks")
s = tcp()
call("getsockopt before set", get_port_range, s)
call("set 25000-25009", set_port_range, s, 25000, 25009)
call("getsockopt", get_port_range, s)
call("set lo 25009 > hi 25000", set_port_range, s, 25009, 25000)
call("getsockopt (unchanged?)", get_port_range, s)
call("set with optlen 2", set_port_range, s, 25000, 25009, 2)
call("set with optlen 8", set_port_range, s, 25000, 25009, 8)
call("set lo 25000 hi 0", set_port_range, s, 25000, 0)
call("getsockopt", get_port_range, s)
call("set lo 0 hi 25000", set_port_range, s, 0, 25000)
call("set 1000-2000 (outside)", set_port_range, s, 1000, 2000)
call("getsockopt", get_port_range, s)
call("set 0 (unset)", set_port_range, s, 0, 0)
call("getsockopt", get_port_range, s)
s.close()
s = tcp(socket.AF_INET6)
call("AF_INET6 socket: set 25000-25009 at SOL_IP", set_port_range, s, 25000, 25009)
call("AF_INET6 getsockopt", get_port_range, s)
s.close()
s = udp()
call("UDP: set 25000-25009", set_port_range, s, 25000, 25009)
s.close()
s = tcp()
call("bind 127.0.0.1:0 first", s.bind, ("127.0.0.1", 0))
call("then set 25000-25009 on a bound socket", set_port_range, s, 25000, 25009)
s.close()


def bind0(tag, lo, hi, n, proto="tcp", ra=False):
    section(f"{tag}: {proto} bind(127.0.0.1:0) x{n} with range {lo}-{hi}{' RA' if ra else ''}")
    keep, ports = [], []
    for i in range(n):
        s = tcp() if proto == "tcp" else udp()
        if ra:
            s.setsockopt(SOL, RA, 1)
        set_port_range(s, lo, hi)
        st, _ = call(f"bind #{i}", s.bind, ("127.0.0.1", 0))
        if st == "ok":
            ports.append(s.getsockname()[1])
        keep.append(s)
    print(f"  ports: {ports}")
    for s in keep:
        s.close()
    return ports


def stats(tag, ports):
    if not ports:
        print(f"  {tag}: none")
        return
    odd = sum(p & 1 for p in ports)
    print(f"  {tag}: n={len(ports)} min={min(ports)} max={max(ports)} odd={odd} distinct={len(set(ports))}")


bind0("E13b", 25000, 25009, 11)
bind0("E13c", 25000, 25002, 4)
bind0("E13d", 25000, 25002, 4, proto="udp")
bind0("E13e", 25000, 25000, 2)
bind0("E13f", 29995, 0, 7)
bind0("E13g", 0, 20003, 5)
bind0("E13h", 10000, 20003, 5)
bind0("E13i", 29996, 40000, 6)
section("E13j: range 1000-2000 (outside): TCP bind(0) x40")
p = bind0("E13j", 1000, 2000, 40)
stats("E13j", p)

L = 8080
lst = tcp()
call(f"listener bind 127.0.0.1:{L}", lst.bind, ("127.0.0.1", L))
call("listener listen", lst.listen, 4096)


def connects(tag, lo, hi, n, show=True, no_port=False):
    section(f"{tag}: TCP connect 127.0.0.1:{L} x{n} with range {lo}-{hi}{' NO_PORT bind' if no_port else ''}")
    keep, ports, errs = [], [], {}
    for i in range(n):
        s = tcp()
        if lo or hi:
            set_port_range(s, lo, hi)
        if no_port:
            s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            s.bind(("127.0.0.1", 0))
        try:
            s.connect(("127.0.0.1", L))
            ports.append(s.getsockname()[1])
        except OSError as e:
            name = errno.errorcode.get(e.errno, str(e.errno))
            errs[name] = errs.get(name, 0) + 1
        keep.append(s)
        while True:
            lst.setblocking(False)
            try:
                lst.accept()[0].close()
            except BlockingIOError:
                break
    if show:
        print(f"  ports: {ports}")
    stats(tag, ports)
    print(f"  errors: {errs}")
    for s in keep:
        s.close()


connects("E13k", 25000, 25002, 4)
connects("E13l", 25000, 25003, 5)
connects("E13m", 25000, 25999, 100, show=False)
connects("E13n", 1000, 2000, 100, show=False)
connects("E13o (control, no option)", 0, 0, 100, show=False)
connects("E13p", 29990, 40000, 12)
connects("E13q", 25000, 25009, 3, no_port=True)
lst.close()
