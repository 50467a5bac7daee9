#!/usr/bin/env python3
"""scnkernel.py - run a socktab scenario (.scn) on the real Linux kernel.

Why this exists: every expectation in examples/*.scn must be what Linux
answers, not what the model answers.  The project's own kernel replay
(`socktab run --kernel`, src/kernel) was being written at the same time as
the examples, so the examples are checked by this small, independent
interpreter instead: a second opinion that shares no code with the project.

What it does, statement by statement:
  - the whole run happens in a fresh network namespace (unshare(CLONE_NEWNET)
    in a forked child), which is host `local`; `host NAME` makes one more
    namespace, held open by a file descriptor, and the runner's thread
    setns()es into it whenever it configures that host;
  - every `proc` is a real process forked inside its host's namespace, with
    the given uid and capabilities, serving requests over an AF_UNIX
    SOCK_SEQPACKET channel; its sockets are real file descriptors, so `fork`
    is fork(2), `sendfd` is SCM_RIGHTS and `exit` really ends the process;
  - `link A:CIDR B:CIDR delay=D` is two TUN devices (one per namespace)
    joined by a relay thread in the runner that holds each packet for D;
    this kernel has no netem, and TUN devices need no ARP;
  - `ls HOST` dumps the host's TCP and UDP tables with NETLINK_SOCK_DIAG
    (what `ss` reads, plus TCP's bound-inactive sockets) and names the
    owners of each row by its inode: the processes whose descriptors are
    that socket.  TIME-WAIT sockets, orphans and connections still waiting
    in an accept queue have inode 0 and no owner (`-`).
All sockets are non-blocking, except during a blocking `connect`, so that
`accept` and `recv` answer EAGAIN instead of waiting, as the language says.

It implements the parts of scenario-language.md v1 that the examples use
(every verb, option and world statement of the spec except SO_BINDTODEVICE
scopes in addresses) and prints a transcript in the spirit of
`socktab run`: each statement, `=> RESULT`, and `FAIL` lines.  Exit status:
0 all expectations held, 1 one failed, 2 malformed file or setup failure.

Run as root (it needs namespaces and TUN): python3 scnkernel.py FILE.scn
"""
import ctypes
import errno
import heapq
import ipaddress
import os
import pickle
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback

CLONE_NEWNET = 0x40000000
PR_SET_KEEPCAPS = 8
TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
IP_FREEBIND = 15
IP_TRANSPARENT = 19
IP_BIND_ADDRESS_NO_PORT = 24
SO_BINDTODEVICE = 25
TCP_INFO = 11

CAPS = {"net_bind_service": 10, "net_broadcast": 11, "net_admin": 12,
        "net_raw": 13, "sys_admin": 21}

# tcpi_state -> the language's state names (include/net/tcp_states.h).
TCP_STATES = {1: "ESTAB", 2: "SYN-SENT", 3: "SYN-RECV", 4: "FIN-WAIT-1",
              5: "FIN-WAIT-2", 6: "TIME-WAIT", 7: "CLOSE", 8: "CLOSE-WAIT",
              9: "LAST-ACK", 10: "LISTEN", 11: "CLOSING", 12: "SYN-RECV"}

# Python's errno.errorcode picks the alias for some numbers; the language
# wants Linux's primary names.
ERRNO_NAMES = dict(errno.errorcode)
ERRNO_NAMES.update({errno.EAGAIN: "EAGAIN", errno.EOPNOTSUPP: "EOPNOTSUPP",
                    errno.EDEADLK: "EDEADLK"})

KINDS = {"tcp4": (socket.AF_INET, socket.SOCK_STREAM),
         "tcp6": (socket.AF_INET6, socket.SOCK_STREAM),
         "udp4": (socket.AF_INET, socket.SOCK_DGRAM),
         "udp6": (socket.AF_INET6, socket.SOCK_DGRAM)}

libc = ctypes.CDLL(None, use_errno=True)


def errname(e):
    return ERRNO_NAMES.get(e, "E%d" % e)


def check_libc(rc):
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


class ScnError(Exception):
    """A malformed scenario or a setup failure (exit 2)."""


# --------------------------------------------------------------------------
# Values: strings, addresses, durations
# --------------------------------------------------------------------------

def parse_cstring(tok):
    """A double-quoted string with C escapes -> bytes."""
    if len(tok) < 2 or tok[0] != '"' or tok[-1] != '"':
        raise ScnError("not a string: %s" % tok)
    s, out, i = tok[1:-1], bytearray(), 0
    simple = {"n": 10, "t": 9, "r": 13, "0": 0, "\\": 92, '"': 34, "'": 39,
              "a": 7, "b": 8, "f": 12, "v": 11}
    while i < len(s):
        c = s[i]
        if c != "\\":
            out += c.encode()
            i += 1
            continue
        i += 1
        if i >= len(s):
            raise ScnError("dangling backslash in %s" % tok)
        c = s[i]
        if c == "x":
            m = re.match(r"[0-9a-fA-F]{1,2}", s[i + 1:])
            if not m:
                raise ScnError("bad \\x escape in %s" % tok)
            out.append(int(m.group(0), 16))
            i += 1 + len(m.group(0))
        elif c in simple:
            out.append(simple[c])
            i += 1
        else:
            raise ScnError("unknown escape \\%s in %s" % (c, tok))
    return bytes(out)


def fmt_bytes(b):
    out = []
    for x in b:
        c = chr(x)
        if c == "\n":
            out.append("\\n")
        elif c == "\t":
            out.append("\\t")
        elif c == "\r":
            out.append("\\r")
        elif c in '\\"':
            out.append("\\" + c)
        elif 32 <= x < 127:
            out.append(c)
        else:
            out.append("\\x%02x" % x)
    return '"' + "".join(out) + '"'


ADDR_RE = re.compile(r"^(?:\[([0-9A-Fa-f:.]+)(?:%([A-Za-z0-9_.-]+))?\]|"
                     r"(\d+\.\d+\.\d+\.\d+)):(\d+|\*)$")


def parse_addr(tok, wildcard_ok=False):
    """'127.0.0.1:80' / '[::1]:80' -> (family, ip-text, port or None, scope)."""
    m = ADDR_RE.match(tok)
    if not m:
        raise ScnError("not an address: %s" % tok)
    v6, scope, v4, port = m.groups()
    if port == "*":
        if not wildcard_ok:
            raise ScnError("port * only in expectations: %s" % tok)
        port = None
    else:
        port = int(port)
        if port > 65535:
            raise ScnError("port out of range: %s" % tok)
    try:
        if v4 is not None:
            return (socket.AF_INET, str(ipaddress.IPv4Address(v4)), port, None)
        return (socket.AF_INET6, v6text(ipaddress.IPv6Address(v6).packed),
                port, scope)
    except ValueError:
        raise ScnError("bad address: %s" % tok)


def v6text(packed):
    """RFC 5952 text, with IPv4-mapped addresses in dotted form
    (::ffff:127.0.0.1), as Linux's inet_ntop and the language write them."""
    return socket.inet_ntop(socket.AF_INET6, packed)


def is_addr(tok):
    return ADDR_RE.match(tok) is not None


def fmt_sockaddr(family, sa):
    if family == socket.AF_INET:
        return "%s:%d" % (sa[0], sa[1])
    host = v6text(ipaddress.IPv6Address(sa[0].split("%")[0]).packed)
    scope = ""
    if len(sa) > 3 and sa[3]:
        try:
            scope = "%" + socket.if_indextoname(sa[3])
        except OSError:
            scope = "%%%d" % sa[3]
    return "[%s%s]:%d" % (host, scope, sa[1])


def parse_duration(tok):
    m = re.match(r"^(\d+(?:\.\d+)?)(ms|s)$", tok)
    if not m:
        raise ScnError("bad duration: %s" % tok)
    v = float(m.group(1))
    return v / 1000.0 if m.group(2) == "ms" else v


# --------------------------------------------------------------------------
# Lexing and parsing
# --------------------------------------------------------------------------

def split_words(text, lineno):
    """Split on blanks, keeping double-quoted strings whole; drop comments."""
    words, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t\r":
            i += 1
            continue
        if c == "#":
            break
        j = i
        while j < n and text[j] not in " \t\r#":
            if text[j] == '"':
                j += 1
                while j < n and text[j] != '"':
                    j += 2 if text[j] == "\\" else 1
                if j >= n:
                    raise ScnError("%d: unterminated string" % lineno)
            j += 1
        words.append(text[i:j])
        i = j
    return words


def strip_comment(raw):
    """The line without its comment (a '#' inside a string is kept)."""
    inside, i = False, 0
    while i < len(raw):
        c = raw[i]
        if inside and c == "\\":
            i += 2
            continue
        if c == '"':
            inside = not inside
        elif c == "#" and not inside:
            return raw[:i].rstrip()
        i += 1
    return raw.rstrip()


class Stmt:
    def __init__(self, lineno, text, words):
        self.lineno = lineno
        self.text = text
        self.words = words
        self.expect = None      # list of alternatives, each a list of words
        self.table = None       # for ls: list of expected rows (word lists)


def parse_file(path):
    stmts = []
    with open(path) as f:
        lines = f.read().split("\n")
    for lineno, raw in enumerate(lines, 1):
        words = split_words(raw, lineno)
        if not words:
            continue
        if words[0].startswith("|"):
            row = split_words(raw.strip()[1:], lineno)
            if not stmts or stmts[-1].words[0] != "ls":
                raise ScnError("%d: '|' row without an ls" % lineno)
            if len(row) != 5:
                raise ScnError("%d: an ls row has 5 fields" % lineno)
            if stmts[-1].table is None:
                stmts[-1].table = []
            stmts[-1].table.append(row)
            continue
        st = Stmt(lineno, strip_comment(raw), words)
        if "=>" in words:
            k = words.index("=>")
            st.words, exp = words[:k], words[k + 1:]
            alts, cur = [], []
            for w in exp:
                if w == "|":
                    alts.append(cur)
                    cur = []
                else:
                    cur.append(w)
            alts.append(cur)
            if any(not a for a in alts):
                raise ScnError("%d: empty expectation" % lineno)
            st.expect = alts
        stmts.append(st)
    return stmts


# --------------------------------------------------------------------------
# Matching results against expectations
# --------------------------------------------------------------------------

def word_match(exp, act):
    if exp.startswith('"') and act.startswith('"'):
        return parse_cstring(exp) == parse_cstring(act)
    if is_addr(exp) and is_addr(act):
        e = parse_addr(exp, True)
        a = parse_addr(act)
        return e[0] == a[0] and e[1] == a[1] and e[3] == a[3] and \
            (e[2] is None or e[2] == a[2])
    return exp == act


def result_words(result):
    return split_words(result, 0)


def expect_match(alts, result):
    act = result_words(result)
    for alt in alts:
        if len(alt) == len(act) and all(word_match(e, a)
                                        for e, a in zip(alt, act)):
            return True
    return False


def table_match(expected, actual):
    """Set comparison with port wildcards: a perfect matching must exist."""
    if len(expected) != len(actual):
        return False
    used = [False] * len(actual)

    def row_ok(e, a):
        return all(word_match(x, y) for x, y in zip(e, a))

    def go(i):
        if i == len(expected):
            return True
        for j, a in enumerate(actual):
            if not used[j] and row_ok(expected[i], a):
                used[j] = True
                if go(i + 1):
                    return True
                used[j] = False
        return False
    return go(0)


# --------------------------------------------------------------------------
# The worker: one real process per `proc`
# --------------------------------------------------------------------------

def send_msg(chan, obj, fds=()):
    data = pickle.dumps(obj)
    if fds:
        socket.send_fds(chan, [data], list(fds))
    else:
        chan.send(data)


def recv_msg(chan):
    data, fds, _, _ = socket.recv_fds(chan, 1 << 20, 4)
    if not data:
        raise EOFError("channel closed")
    return pickle.loads(data), fds


def drop_privileges(uid, caps):
    if uid == 0 and caps is None:
        return
    if caps:
        check_libc(libc.prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0))
    if uid != 0:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    mask = 0
    for c in caps or []:
        mask |= 1 << CAPS[c]
    hdr = struct.pack("Ii", 0x20080522, 0)
    data = struct.pack("IIIIII", mask & 0xffffffff, mask & 0xffffffff, 0,
                       mask >> 32, mask >> 32, 0)
    check_libc(libc.capset(ctypes.c_char_p(hdr), ctypes.c_char_p(data)))


class Worker:
    """Runs in the child process.  `socks` maps variable -> socket object."""

    def __init__(self, chan, socks=None):
        self.chan = chan
        self.socks = socks if socks is not None else {}

    def serve(self):
        while True:
            try:
                req, fds = recv_msg(self.chan)
            except (EOFError, ConnectionError):
                os._exit(0)
            op = req["op"]
            if op == "fork":
                self.do_fork(req, fds)
                continue
            if op == "exit":
                for s in list(self.socks.values()):
                    s.close()
                self.socks.clear()
                send_msg(self.chan, {"result": "ok"})
                os._exit(0)
            if op == "sendfd_out":
                s = self.socks[req["var"]]
                send_msg(self.chan, {"result": "ok"}, [s.fileno()])
                continue
            if op == "sendfd_in":
                old = self.socks.get(req["var"])
                s = socket.socket(fileno=fds[0])
                s.setblocking(False)
                if old is not None and old.fileno() != s.fileno():
                    old.close()
                self.socks[req["var"]] = s
                send_msg(self.chan, {"result": "ok"})
                continue
            try:
                res = getattr(self, "op_" + op)(req)
            except OSError as e:
                res = errname(e.errno) if e.errno else "ERROR %s" % e
            except Exception as e:  # a bug of this script, never of Linux
                res = "INTERNAL %s: %s" % (type(e).__name__, e)
            send_msg(self.chan, {"result": res})

    def do_fork(self, req, fds):
        newchan = socket.socket(fileno=fds[0])
        pid = os.fork()
        if pid == 0:
            self.chan.close()
            self.chan = newchan
            send_msg(self.chan, {"result": "ready"})
            self.serve()
            os._exit(0)
        newchan.close()
        send_msg(self.chan, {"result": "ok", "pid": pid})

    def sock(self, req):
        return self.socks[req["var"]]

    @staticmethod
    def sockaddr(family, a):
        fam, host, port, scope = a
        if family == socket.AF_INET6 and fam == socket.AF_INET:
            raise ScnError("an IPv4 address given to an IPv6 socket")
        if fam == socket.AF_INET:
            return (host, port)
        return (host, port, 0, socket.if_nametoindex(scope) if scope else 0)

    def op_socket(self, req):
        fam, typ = KINDS[req["kind"]]
        s = socket.socket(fam, typ)
        s.setblocking(False)
        old = self.socks.get(req["var"])
        if old is not None:
            old.close()
        self.socks[req["var"]] = s
        return "ok"

    def op_setsockopt(self, req):
        s, opt, val = self.sock(req), req["opt"], req["value"]
        if opt == "SO_LINGER":
            on, secs = val
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         struct.pack("ii", on, secs))
        elif opt == "SO_BINDTODEVICE":
            s.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, val)
        else:
            lvl, num = self.optnum(opt)
            s.setsockopt(lvl, num, val)
        return "ok"

    @staticmethod
    def optnum(opt):
        return {"SO_REUSEADDR": (socket.SOL_SOCKET, socket.SO_REUSEADDR),
                "SO_REUSEPORT": (socket.SOL_SOCKET, socket.SO_REUSEPORT),
                "SO_BROADCAST": (socket.SOL_SOCKET, socket.SO_BROADCAST),
                "IPV6_V6ONLY": (socket.IPPROTO_IPV6, socket.IPV6_V6ONLY),
                "IP_FREEBIND": (socket.SOL_IP, IP_FREEBIND),
                "IP_TRANSPARENT": (socket.SOL_IP, IP_TRANSPARENT),
                "IP_BIND_ADDRESS_NO_PORT": (socket.SOL_IP,
                                            IP_BIND_ADDRESS_NO_PORT),
                "SO_ERROR": (socket.SOL_SOCKET, socket.SO_ERROR)}[opt]

    def op_getsockopt(self, req):
        s, opt = self.sock(req), req["opt"]
        if opt == "SO_LINGER":
            on, secs = struct.unpack("ii", s.getsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, 8))
            return "%d,%d" % (on, secs)
        if opt == "SO_BINDTODEVICE":
            raw = s.getsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, 16)
            return fmt_bytes(raw.split(b"\0")[0])
        lvl, num = self.optnum(opt)
        v = s.getsockopt(lvl, num)
        if opt == "SO_ERROR":
            return "0" if v == 0 else errname(v)
        return str(v)

    def op_bind(self, req):
        s = self.sock(req)
        s.bind(self.sockaddr(s.family, req["addr"]))
        return "ok"

    def op_listen(self, req):
        self.sock(req).listen(req["backlog"])
        return "ok"

    def op_connect(self, req):
        s = self.sock(req)
        sa = self.sockaddr(s.family, req["addr"])
        if req["nonblock"]:
            rc = s.connect_ex(sa)
            return "ok" if rc == 0 else errname(rc)
        # A truly blocking connect(2).  (Python's settimeout() would make
        # it a non-blocking connect plus poll, after which Linux answers the
        # next connect with 0 once instead of EISCONN.)  An alarm guards
        # against a SYN that is never answered.
        def expired(signum, frame):
            raise TimeoutError("blocking connect took more than 30 s")
        old = signal.signal(signal.SIGALRM, expired)
        s.setblocking(True)
        signal.alarm(30)
        try:
            rc = s.connect_ex(sa)
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old)
            s.setblocking(False)
        return "ok" if rc == 0 else errname(rc)

    def op_accept(self, req):
        conn, peer = self.sock(req).accept()
        conn.setblocking(False)
        old = self.socks.get(req["newvar"])
        if old is not None:
            old.close()
        self.socks[req["newvar"]] = conn
        return "ok " + fmt_sockaddr(conn.family, peer)

    def op_send(self, req):
        self.sock(req).send(req["data"], socket.MSG_NOSIGNAL)
        return "ok"

    def op_sendto(self, req):
        s = self.sock(req)
        s.sendto(req["data"], socket.MSG_NOSIGNAL,
                 self.sockaddr(s.family, req["addr"]))
        return "ok"

    def op_recv(self, req):
        return fmt_bytes(self.sock(req).recv(65536))

    def op_recvfrom(self, req):
        s = self.sock(req)
        data, peer = s.recvfrom(65536)
        return "%s from %s" % (fmt_bytes(data), fmt_sockaddr(s.family, peer))

    def op_getsockname(self, req):
        s = self.sock(req)
        return fmt_sockaddr(s.family, s.getsockname())

    def op_getpeername(self, req):
        s = self.sock(req)
        return fmt_sockaddr(s.family, s.getpeername())

    def op_shutdown(self, req):
        how = {"rd": socket.SHUT_RD, "wr": socket.SHUT_WR,
               "rdwr": socket.SHUT_RDWR}[req["how"]]
        self.sock(req).shutdown(how)
        return "ok"

    def op_close(self, req):
        self.socks.pop(req["var"]).close()
        return "ok"

    def op_list(self, req):
        """The inodes of every socket this process holds."""
        return sorted({os.fstat(s.fileno()).st_ino
                       for s in self.socks.values()})


# --------------------------------------------------------------------------
# The relay: TUN devices joined with a delay
# --------------------------------------------------------------------------

class Relay(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.pairs = {}      # fd -> (peer fd, delay)
        self.lock = threading.Lock()
        self.wake_r, self.wake_w = os.pipe()
        self.stopping = False

    def add(self, fd_a, fd_b, delay):
        with self.lock:
            self.pairs[fd_a] = (fd_b, delay)
            self.pairs[fd_b] = (fd_a, delay)
        os.write(self.wake_w, b"x")

    def stop(self):
        self.stopping = True
        os.write(self.wake_w, b"x")

    def run(self):
        queue, seq = [], 0
        while not self.stopping:
            with self.lock:
                fds = list(self.pairs)
            timeout = None
            if queue:
                timeout = max(0.0, queue[0][0] - time.monotonic())
            r, _, _ = select.select(fds + [self.wake_r], [], [], timeout)
            for fd in r:
                if fd == self.wake_r:
                    os.read(self.wake_r, 64)
                    continue
                try:
                    pkt = os.read(fd, 65536)
                except OSError:
                    continue
                peer, delay = self.pairs[fd]
                seq += 1
                heapq.heappush(queue, (time.monotonic() + delay, seq, peer,
                                       pkt))
            now = time.monotonic()
            while queue and queue[0][0] <= now:
                _, _, peer, pkt = heapq.heappop(queue)
                try:
                    os.write(peer, pkt)
                except OSError:
                    pass


# --------------------------------------------------------------------------
# The runner
# --------------------------------------------------------------------------

class Proc:
    def __init__(self, name, host, chan, pid, direct):
        self.name = name
        self.host = host
        self.chan = chan
        self.pid = pid
        self.direct = direct    # our child (waitpid) or a worker's child
        self.alive = True


class Runner:
    def __init__(self, out):
        self.out = out
        self.hosts = {}         # name -> netns fd
        self.links = {}         # host -> number of links so far
        self.procs = {}
        self.relay = None
        self.zero_delay_link = False
        self.tun_fds = []
        self.failures = 0
        self.current = None

    # -- namespaces -------------------------------------------------------
    def setns(self, host):
        if self.current != host:
            check_libc(libc.setns(self.hosts[host], CLONE_NEWNET))
            self.current = host

    def sh(self, host, *argv):
        self.setns(host)
        r = subprocess.run(list(argv), capture_output=True, text=True)
        if r.returncode != 0:
            raise ScnError("%s: %s" % (" ".join(argv), r.stderr.strip()))
        return r.stdout

    def new_host(self, name):
        if name in self.hosts:
            raise ScnError("host %s declared twice" % name)
        if self.hosts:
            check_libc(libc.unshare(CLONE_NEWNET))
        self.hosts[name] = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        self.current = name
        self.links[name] = 0
        self.sh(name, "ip", "link", "set", "lo", "up")

    def write_sysctl(self, host, key, values):
        self.setns(host)
        path = "/proc/sys/" + key.replace(".", "/")
        try:
            with open(path, "w") as f:
                f.write("\t".join(values) + "\n")
        except OSError as e:
            raise ScnError("sysctl %s: %s" % (key, e))

    def open_tun(self, host, cidr):
        self.setns(host)
        ifname = "eth%d" % self.links[host]
        self.links[host] += 1
        fd = os.open("/dev/net/tun", os.O_RDWR)
        import fcntl
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", ifname.encode(),
                                               IFF_TUN | IFF_NO_PI))
        self.tun_fds.append(fd)
        # IPv6 autoconfiguration would send packets of its own; not ours.
        self.write_sysctl(host, "net.ipv6.conf.%s.disable_ipv6" % ifname,
                          ["0" if ":" in cidr else "1"])
        self.sh(host, "ip", "addr", "add", cidr, "dev", ifname)
        self.sh(host, "ip", "link", "set", ifname, "up")
        return fd

    # -- processes --------------------------------------------------------
    def new_proc(self, name, host, uid, caps):
        parent, child = socket.socketpair(socket.AF_UNIX,
                                          socket.SOCK_SEQPACKET)
        self.setns(host)
        pid = os.fork()
        if pid == 0:
            try:
                parent.close()
                keep = child.fileno()
                os.closerange(3, keep)
                os.closerange(keep + 1, 65536)
                signal.signal(signal.SIGPIPE, signal.SIG_IGN)
                drop_privileges(uid, caps)
                send_msg(child, {"result": "ready"})
                Worker(child).serve()
            except BaseException:
                traceback.print_exc()
            os._exit(3)
        child.close()
        msg, _ = recv_msg(parent)
        if msg["result"] != "ready":
            raise ScnError("proc %s did not start" % name)
        self.procs[name] = Proc(name, host, parent, pid, True)

    def call(self, proc, req, fds=()):
        send_msg(proc.chan, req, fds)
        msg, rfds = recv_msg(proc.chan)
        return msg, rfds

    # -- ls ----------------------------------------------------------------
    def diag_dump(self, host, family, proto):
        """NETLINK_SOCK_DIAG dump of one (family, protocol) table of a host:
        a list of (state, local, peer, inode).  For TCP the state mask asks
        for TCP_BOUND_INACTIVE too (Linux >= 6.9), so sockets that hold a
        port without listening or being connected come back (as TCP_CLOSE);
        a socket whose connect failed no longer holds its port and is not
        reported, although getsockname still shows the port."""
        self.setns(host)
        nl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 4)
        try:
            states = 0xffffffff
            req = struct.pack("=BBBBI", family, proto, 0, 0, states) + \
                bytes(48)
            hdr = struct.pack("=IHHII", 16 + len(req), 20, 0x301, 1, 0)
            nl.sendto(hdr + req, (0, 0))
            rows, done = [], False
            while not done:
                data = nl.recv(1 << 16)
                off = 0
                while off + 16 <= len(data):
                    ln, typ, _, _, _ = struct.unpack_from("=IHHII", data, off)
                    if typ == 3:            # NLMSG_DONE
                        done = True
                        break
                    if typ == 2:            # NLMSG_ERROR
                        err = struct.unpack_from("=i", data, off + 16)[0]
                        raise ScnError("sock_diag: %s" % os.strerror(-err))
                    rows.append(self.diag_row(data[off + 16:off + ln],
                                              family, proto))
                    off += (ln + 3) & ~3
            return rows
        finally:
            nl.close()

    @staticmethod
    def diag_row(m, family, proto):
        fam, state = m[0], m[1]
        sport, dport = struct.unpack_from(">HH", m, 4)
        src, dst = m[8:24], m[24:40]
        ifindex = struct.unpack_from("=I", m, 40)[0]
        inode = struct.unpack_from("=I", m, 68)[0]

        def addr(raw, port):
            if fam == socket.AF_INET:
                return "%s:%d" % (socket.inet_ntop(socket.AF_INET, raw[:4]),
                                  port)
            scope = ""
            if ipaddress.IPv6Address(raw).is_link_local and ifindex:
                scope = "%" + socket.if_indextoname(ifindex)
            return "[%s%s]:%d" % (v6text(raw), scope, port)
        local = addr(src, sport)
        peer = "*" if dport == 0 else addr(dst, dport)
        if proto == socket.IPPROTO_TCP:
            name = "BOUND" if state == 7 else TCP_STATES.get(state,
                                                             "?%d" % state)
        else:
            name = "ESTAB" if state == 1 else "UNCONN"
        if name in ("BOUND", "UNCONN"):
            peer = "*"      # a failed connect leaves a stale destination
        return (name, local, peer, inode)

    def table(self, host):
        owners = {}
        for p in self.procs.values():
            if not p.alive or p.host != host:
                continue
            msg, _ = self.call(p, {"op": "list"})
            for ino in msg["result"]:
                owners.setdefault(ino, set()).add(p.name)
        lines = []
        for kind, (fam, typ) in sorted(KINDS.items()):
            proto = socket.IPPROTO_TCP if typ == socket.SOCK_STREAM \
                else socket.IPPROTO_UDP
            for state, local, peer, ino in self.diag_dump(host, fam, proto):
                who = ",".join(sorted(owners.get(ino, ()))) if ino else ""
                lines.append([kind, state, local, peer, who or "-"])
        return lines

    # -- statements -------------------------------------------------------
    def report(self, st, result, ok):
        line = st.text.split("=>")[0].rstrip() if st.expect is not None \
            else st.text.rstrip()
        self.out.write("%-48s => %s\n" % (line, result))
        if not ok:
            self.failures += 1
            self.out.write("  FAIL line %d: expected %s\n" % (
                st.lineno, " | ".join(" ".join(a) for a in st.expect)))

    def run(self, stmts):
        self.new_host("local")
        for st in stmts:
            self.statement(st)
        return self.failures

    def statement(self, st):
        w = st.words
        verb = w[0]
        if verb == "host":
            self.new_host(w[1])
            self.setns("local")
        elif verb == "addr":
            fam = "-6" if ":" in w[2] else "-4"
            self.sh(w[1], "ip", fam, "addr", "add", w[2], "dev", "lo")
        elif verb == "link":
            delay = 0.0
            ends = []
            for x in w[1:]:
                if x.startswith("delay="):
                    delay = parse_duration(x[6:])
                else:
                    h, _, cidr = x.partition(":")
                    if h not in self.hosts:
                        raise ScnError("%d: no host %s" % (st.lineno, h))
                    ends.append((h, cidr))
            if len(ends) != 2:
                raise ScnError("%d: a link has two ends" % st.lineno)
            fa = self.open_tun(*ends[0])
            fb = self.open_tun(*ends[1])
            if self.relay is None:
                self.relay = Relay()
                self.relay.start()
            self.relay.add(fa, fb, delay)
            if delay == 0:
                self.zero_delay_link = True
        elif verb == "sysctl":
            if w[1] in self.hosts and "." not in w[1]:
                self.write_sysctl(w[1], w[2], w[3:])
            else:
                self.write_sysctl("local", w[1], w[2:])
        elif verb == "proc":
            name, _, host = w[1].partition("@")
            host = host or "local"
            if host not in self.hosts:
                raise ScnError("%d: no host %s" % (st.lineno, host))
            uid, caps = 1000, None
            for x in w[2:]:
                if x.startswith("uid="):
                    uid = int(x[4:])
                elif x.startswith("caps="):
                    caps = x[5:].split(",")
            self.new_proc(name, host, uid, caps)
        elif verb == "sleep":
            time.sleep(parse_duration(w[1]))
        elif verb == "ls":
            host = w[1] if len(w) > 1 else "local"
            lines = self.table(host)
            self.out.write(st.text.rstrip() + "\n")
            for ln in sorted(lines):
                self.out.write("  | %s\n" % " ".join(ln))
            if st.table is not None and not table_match(st.table, lines):
                self.failures += 1
                self.out.write("  FAIL line %d: expected table\n" % st.lineno)
                for row in st.table:
                    self.out.write("  |? %s\n" % " ".join(row))
        elif verb.endswith(":"):
            self.operation(st)
        else:
            raise ScnError("%d: unknown statement %s" % (st.lineno, verb))
        # Let loopback and zero-delay links settle.  Delayed packets are
        # the business of `sleep`: a long settle here would let delayed
        # packets arrive between statements that run at one instant in the
        # model.
        time.sleep(0.02 if self.zero_delay_link else 0.002)

    def operation(self, st):
        w = st.words
        pname = w[0][:-1]
        p = self.procs.get(pname)
        if p is None or not p.alive:
            raise ScnError("%d: no live process %s" % (st.lineno, pname))
        rest = w[1:]
        var = None
        if len(rest) >= 2 and rest[1] == "=":
            var, rest = rest[0], rest[2:]
        verb, args = rest[0], rest[1:]
        req = {"op": verb}
        if verb == "socket":
            req.update(var=var, kind=args[0])
        elif verb == "accept":
            req.update(var=args[0], newvar=var)
        elif verb in ("setsockopt", "getsockopt"):
            req.update(var=args[0], opt=args[1])
            if verb == "setsockopt":
                v = args[2]
                if args[1] == "SO_LINGER":
                    on, secs = v.split(",")
                    req["value"] = (int(on), int(secs))
                elif v.startswith('"'):
                    req["value"] = parse_cstring(v)
                else:
                    req["value"] = int(v)
        elif verb in ("bind", "connect"):
            req.update(var=args[0], addr=parse_addr(args[1]),
                       nonblock="nonblock" in args[2:])
        elif verb == "listen":
            req.update(var=args[0],
                       backlog=int(args[1]) if len(args) > 1 else 128)
        elif verb == "send":
            req.update(var=args[0], data=parse_cstring(args[1]))
        elif verb == "sendto":
            req.update(var=args[0], addr=parse_addr(args[1]),
                       data=parse_cstring(args[2]))
        elif verb in ("recv", "recvfrom", "getsockname", "getpeername",
                      "close"):
            req.update(var=args[0])
        elif verb == "shutdown":
            req.update(var=args[0], how=args[1])
        elif verb == "fork":
            self.fork(st, p, args[0])
            return
        elif verb == "sendfd":
            self.sendfd(st, p, args[0], args[1])
            return
        elif verb == "exit":
            msg, _ = self.call(p, {"op": "exit"})
            p.alive = False
            if p.direct:
                os.waitpid(p.pid, 0)
            self.finish(st, msg["result"])
            return
        else:
            raise ScnError("%d: unknown verb %s" % (st.lineno, verb))
        msg, _ = self.call(p, req)
        self.finish(st, msg["result"])

    def finish(self, st, result):
        ok = st.expect is None or expect_match(st.expect, result)
        self.report(st, result, ok)

    def fork(self, st, p, child):
        if child in self.procs:
            raise ScnError("%d: process %s exists" % (st.lineno, child))
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        msg, _ = self.call(p, {"op": "fork"}, [b.fileno()])
        b.close()
        ready, _ = recv_msg(a)
        if ready["result"] != "ready":
            raise ScnError("fork failed")
        self.procs[child] = Proc(child, p.host, a, msg["pid"], False)
        self.finish(st, msg["result"])

    def sendfd(self, st, p, var, target):
        q = self.procs.get(target)
        if q is None or not q.alive:
            raise ScnError("%d: no live process %s" % (st.lineno, target))
        msg, fds = self.call(p, {"op": "sendfd_out", "var": var})
        try:
            msg2, _ = self.call(q, {"op": "sendfd_in", "var": var}, fds)
        finally:
            for fd in fds:
                os.close(fd)    # the runner must not keep the socket alive
        self.finish(st, msg2["result"])

    def cleanup(self):
        for p in self.procs.values():
            if p.alive:
                try:
                    os.kill(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                if p.direct:
                    try:
                        os.waitpid(p.pid, 0)
                    except ChildProcessError:
                        pass
        if self.relay:
            self.relay.stop()


def run_file(path, out=sys.stdout):
    """Run one scenario in a fresh namespace (in a child); its exit status."""
    stmts = parse_file(path)     # a malformed file runs nothing
    out.flush()
    pid = os.fork()
    if pid == 0:
        code = 2
        try:
            check_libc(libc.unshare(CLONE_NEWNET))
            r = Runner(out)
            try:
                code = 1 if r.run(stmts) else 0
            finally:
                r.cleanup()
        except ScnError as e:
            out.write("%s: %s\n" % (path, e))
        except BaseException:
            traceback.print_exc()
        out.flush()
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def in_fresh_netns(fn, *args):
    """Run fn(*args) in a forked child inside a new network namespace with
    `lo` up; return True when it returned True.  For the extra checks of
    the per-example scripts (things a scenario cannot say, such as a
    distribution over many connections, or a sysctl's default)."""
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        ok = False
        try:
            check_libc(libc.unshare(CLONE_NEWNET))
            subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
            ok = bool(fn(*args))
        except BaseException:
            traceback.print_exc()
        sys.stdout.flush()
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def verify_example(scn, checks=(), argv=None):
    """The body of examples/verify/NNN-*.py: run the scenario on the kernel
    (`--repeat N` runs it N times, for the timing-sensitive ones), then each
    extra check in its own fresh namespace.  Exit status 0 when all pass."""
    argv = sys.argv[1:] if argv is None else argv
    repeat = 1
    if len(argv) == 2 and argv[0] == "--repeat":
        repeat = int(argv[1])
    elif argv:
        sys.stderr.write("usage: %s [--repeat N]\n" % sys.argv[0])
        return 2
    if os.geteuid() != 0:
        sys.stderr.write("%s: needs root (network namespaces)\n" % sys.argv[0])
        return 2
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", scn)
    path = os.path.normpath(path)
    bad = 0
    for i in range(repeat):
        code = run_file(path)
        print("%s: run %d/%d: %s" % (scn, i + 1, repeat,
                                     "all expectations hold" if code == 0
                                     else "FAILED (status %d)" % code))
        bad += code != 0
    for check in checks:
        print("--- check: %s" % check.__doc__.strip().splitlines()[0])
        ok = in_fresh_netns(check)
        print("--- %s" % ("ok" if ok else "FAILED"))
        bad += not ok
    print("%s: %s" % (scn, "VERIFIED on Linux %s" % os.uname().release
                      if bad == 0 else "NOT verified"))
    return 0 if bad == 0 else 1


def main(argv):
    if len(argv) < 2:
        sys.stderr.write("usage: scnkernel.py FILE.scn...\n")
        return 2
    if os.geteuid() != 0:
        sys.stderr.write("scnkernel.py: needs root (network namespaces)\n")
        return 2
    worst = 0
    for path in argv[1:]:
        try:
            code = run_file(path)
        except ScnError as e:
            sys.stderr.write("%s: %s\n" % (path, e))
            code = 2
        sys.stdout.write("%s: %s\n" % (path, {0: "all expectations hold",
                                              1: "FAILED"}.get(code,
                                                               "ERROR")))
        worst = max(worst, code)
    return worst


if __name__ == "__main__":
    sys.exit(main(sys.argv))
