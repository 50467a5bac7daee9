"""Shared helpers for the socktab kernel experiments.

Every experiment script is meant to run inside a fresh network namespace
with `lo` up (see run.sh).  Each call is printed as `label: ok [-> value]`
or `label: ERRNONAME`.
"""
import errno
import os
import socket
import subprocess

SOL = socket.SOL_SOCKET
RA = socket.SO_REUSEADDR
RP = socket.SO_REUSEPORT
IP_BIND_ADDRESS_NO_PORT = 24  # from <linux/in.h>
SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)


def call(label, fn, *args):
    """Run fn(*args); print and return ('ok', value) or (ERRNO, None)."""
    try:
        r = fn(*args)
    except OSError as e:
        name = errno.errorcode.get(e.errno, str(e.errno))
        print(f"  {label}: {name}")
        return name, None
    if r is None:
        print(f"  {label}: ok")
    else:
        print(f"  {label}: ok -> {r!r}")
    return "ok", r


def tcp(family=socket.AF_INET):
    return socket.socket(family, socket.SOCK_STREAM)


def udp(family=socket.AF_INET):
    return socket.socket(family, socket.SOCK_DGRAM)


def sysctl(name):
    path = "/proc/sys/" + name.replace(".", "/")
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError as e:
        return f"<{errno.errorcode.get(e.errno, e.errno)}>"


def header(title, sysctls=()):
    print(f"=== {title}")
    print(f"  kernel: {os.uname().release}")
    print(f"  netns: {os.readlink('/proc/self/ns/net')}")
    for s in sysctls:
        print(f"  sysctl {s} = {sysctl(s)!r}")


def section(title):
    print(f"--- {title}")


def ss(args):
    out = subprocess.run(["ss"] + args, capture_output=True, text=True).stdout
    for line in out.rstrip().splitlines():
        print("  | " + line)


# --- added for E12 and later ------------------------------------------------
import ctypes
import struct

_libc = ctypes.CDLL(None, use_errno=True)
IP_LOCAL_PORT_RANGE = 51  # from <linux/in.h>


def connect_unspec(s):
    """connect(fd, {sa_family = AF_UNSPEC}, 16): the disconnect of C-T11/C-U6
    (Python's socket.connect cannot build an AF_UNSPEC address)."""
    buf = ctypes.create_string_buffer(28)
    if _libc.connect(s.fileno(), buf, 16) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def set_port_range(s, lo, hi, optlen=4):
    """IP_LOCAL_PORT_RANGE = hi << 16 | lo, with a chosen option length."""
    val = struct.pack("=I", (hi << 16) | lo)
    if optlen != 4:
        val = (val + b"\0" * 8)[:optlen]
    s.setsockopt(socket.IPPROTO_IP, IP_LOCAL_PORT_RANGE, val)


def get_port_range(s):
    return s.getsockopt(socket.IPPROTO_IP, IP_LOCAL_PORT_RANGE)


def v6only(s, on=1):
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, on)
