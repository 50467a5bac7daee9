#!/usr/bin/env python3
# tests/unit/wire_reference_capture.py - how the REF packets of test_wire.c
# were produced.  Needs root (network namespaces) and only Python's standard
# library.  Prints one line per captured packet: "<label> <n> <hex>".
#
# Two network namespaces joined by a veth pair (192.0.2.1 / 2001:db8::1 and
# 192.0.2.2 / 2001:db8::2, net.ipv6.auto_flowlabels=0); tx checksum offload
# is switched off on both ends with the SIOCETHTOOL ioctl so that every
# TCP/UDP checksum on the wire is complete (on loopback it cannot be, which
# is why loopback is not used); an AF_PACKET socket on the second end
# records the IP packets.  The namespaces are deleted on exit.
import subprocess

def sh(*args):
    subprocess.run(args, check=True)

def setup(a, b):
    sh("ip", "netns", "add", a)
    sh("ip", "netns", "add", b)
    sh("ip", "link", "add", "wa", "netns", a, "type", "veth", "peer", "name", "wb", "netns", b)
    for ns in (a, b):
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv6.auto_flowlabels=0")
    sh("ip", "-n", a, "addr", "add", "192.0.2.1/24", "dev", "wa")
    sh("ip", "-n", a, "addr", "add", "2001:db8::1/64", "dev", "wa", "nodad")
    sh("ip", "-n", b, "addr", "add", "192.0.2.2/24", "dev", "wb")
    sh("ip", "-n", b, "addr", "add", "2001:db8::2/64", "dev", "wb", "nodad")
    sh("ip", "-n", a, "link", "set", "wa", "up")
    sh("ip", "-n", b, "link", "set", "wb", "up")

import socket, ctypes, fcntl, struct, time, os, sys, errno

libc = ctypes.CDLL(None, use_errno=True)
def enter(path):
    fd = os.open(path, os.O_RDONLY)
    if libc.setns(fd, 0x40000000) != 0:
        raise OSError(ctypes.get_errno(), "setns")
    os.close(fd)

def txcsum_off(ifname):
    class EV(ctypes.Structure):
        _fields_ = [("cmd", ctypes.c_uint32), ("data", ctypes.c_uint32)]
    ev = EV(0x17, 0)  # ETHTOOL_STXCSUM
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    fcntl.ioctl(s.fileno(), 0x8946, struct.pack("16sP", ifname.encode(), ctypes.addressof(ev)))
    g = EV(0x16, 0)  # ETHTOOL_GTXCSUM
    fcntl.ioctl(s.fileno(), 0x8946, struct.pack("16sP", ifname.encode(), ctypes.addressof(g)))
    s.close()
    assert g.data == 0

NS_A, NS_B = "wire-ref-%d-a" % os.getpid(), "wire-ref-%d-b" % os.getpid()
A, B = "/run/netns/" + NS_A, "/run/netns/" + NS_B
HOME = os.open("/proc/self/ns/net", os.O_RDONLY)
try:
    setup(NS_A, NS_B)
    time.sleep(1)
    enter(A); txcsum_off("wa")
    enter(B); txcsum_off("wb")
    cap = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(3))
    cap.bind(("wb", 0))
    cap.setblocking(False)

    def interesting(d):
        v = d[0] >> 4
        if v == 4:
            return d[9] in (1, 6, 17)
        if v == 6:
            return d[6] in (6, 17) or (d[6] == 58 and d[40] < 128)
        return False

    def drain(label):
        time.sleep(0.1)
        n = 0
        while True:
            try:
                data, addr = cap.recvfrom(70000)
            except BlockingIOError:
                break
            if interesting(data):
                print("%s %d %s" % (label, n, data.hex()))
                n += 1

    def tcp(fam, a, b):
        enter(B)
        ls = socket.socket(fam, socket.SOCK_STREAM)
        ls.bind((b, 8080)); ls.listen(1)
        enter(A)
        c = socket.socket(fam, socket.SOCK_STREAM)
        c.bind((a, 40000))
        c.connect((b, 8080))
        conn, _ = ls.accept()
        c.send(b"hello")
        time.sleep(0.05)
        conn.recv(10)
        c.close(); time.sleep(0.05); conn.close(); ls.close()
        drain("tcp%d" % (4 if fam == socket.AF_INET else 6))

    def udp(fam, a, b):
        enter(B)
        r = socket.socket(fam, socket.SOCK_DGRAM)
        r.bind((b, 6000))
        enter(A)
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.bind((a, 5000))
        s.sendto(b"abc", (b, 6000))      # odd length: checksum pad byte
        r.recv(10)
        s.sendto(b"ping", (b, 6001))     # closed port: ICMP port unreachable
        drain("udp%d" % (4 if fam == socket.AF_INET else 6))
        s.close(); r.close()

    def rst(fam, a, b):
        enter(A)
        c = socket.socket(fam, socket.SOCK_STREAM)
        c.bind((a, 40001))
        try:
            c.connect((b, 9))
        except OSError as e:
            assert e.errno == errno.ECONNREFUSED
        c.close()
        drain("rst%d" % (4 if fam == socket.AF_INET else 6))

    time.sleep(0.3)
    drain("junk")
    tcp(socket.AF_INET, "192.0.2.1", "192.0.2.2")
    tcp(socket.AF_INET6, "2001:db8::1", "2001:db8::2")
    udp(socket.AF_INET, "192.0.2.1", "192.0.2.2")
    udp(socket.AF_INET6, "2001:db8::1", "2001:db8::2")
    rst(socket.AF_INET, "192.0.2.1", "192.0.2.2")

finally:
    libc.setns(HOME, 0x40000000)
    for ns in (NS_A, NS_B):
        subprocess.run(["ip", "netns", "del", ns])
