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
