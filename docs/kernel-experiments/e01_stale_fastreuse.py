"""E1: stale tb->fastreuse cache after clearing SO_REUSEADDR (TCP)."""
from common import *

header("E1 stale fastreuse cache (TCP)")

section("E1a: A RA bind; A clears RA; B RA bind (port 20100)")
P = 20100
A, B = tcp(), tcp()
call("A setsockopt(SO_REUSEADDR,1)", A.setsockopt, SOL, RA, 1)
call("A bind 127.0.0.1:%d" % P, A.bind, ("127.0.0.1", P))
call("A setsockopt(SO_REUSEADDR,0)", A.setsockopt, SOL, RA, 0)
call("A getsockopt(SO_REUSEADDR)", A.getsockopt, SOL, RA)
call("B setsockopt(SO_REUSEADDR,1)", B.setsockopt, SOL, RA, 1)
call("B bind 127.0.0.1:%d" % P, B.bind, ("127.0.0.1", P))
for s in (A, B): s.close()

section("E1b: A RA bind; B RA bind; A clears RA; C RA bind (port 20101)")
P = 20101
A, B, C = tcp(), tcp(), tcp()
call("A setsockopt(SO_REUSEADDR,1)", A.setsockopt, SOL, RA, 1)
call("A bind 127.0.0.1:%d" % P, A.bind, ("127.0.0.1", P))
call("B setsockopt(SO_REUSEADDR,1)", B.setsockopt, SOL, RA, 1)
call("B bind 127.0.0.1:%d" % P, B.bind, ("127.0.0.1", P))
call("A setsockopt(SO_REUSEADDR,0)", A.setsockopt, SOL, RA, 0)
call("C setsockopt(SO_REUSEADDR,1)", C.setsockopt, SOL, RA, 1)
call("C bind 127.0.0.1:%d" % P, C.bind, ("127.0.0.1", P))
for s in (A, B, C): s.close()

section("E1c (control, no clearing): A plain bind; B RA bind (port 20102)")
P = 20102
A, B = tcp(), tcp()
call("A bind 127.0.0.1:%d" % P, A.bind, ("127.0.0.1", P))
call("B setsockopt(SO_REUSEADDR,1)", B.setsockopt, SOL, RA, 1)
call("B bind 127.0.0.1:%d" % P, B.bind, ("127.0.0.1", P))
for s in (A, B): s.close()

section("E1d (control): A RA bind; A clears RA; B plain bind (port 20103)")
P = 20103
A, B = tcp(), tcp()
call("A setsockopt(SO_REUSEADDR,1)", A.setsockopt, SOL, RA, 1)
call("A bind 127.0.0.1:%d" % P, A.bind, ("127.0.0.1", P))
call("A setsockopt(SO_REUSEADDR,0)", A.setsockopt, SOL, RA, 0)
call("B bind 127.0.0.1:%d" % P, B.bind, ("127.0.0.1", P))
for s in (A, B): s.close()

section("E1e (extra): A RA bind 0.0.0.0; A clears RA; B RA bind 0.0.0.0 (port 20104)")
P = 20104
A, B = tcp(), tcp()
call("A setsockopt(SO_REUSEADDR,1)", A.setsockopt, SOL, RA, 1)
call("A bind 0.0.0.0:%d" % P, A.bind, ("0.0.0.0", P))
call("A setsockopt(SO_REUSEADDR,0)", A.setsockopt, SOL, RA, 0)
call("B setsockopt(SO_REUSEADDR,1)", B.setsockopt, SOL, RA, 1)
call("B bind 0.0.0.0:%d" % P, B.bind, ("0.0.0.0", P))
for s in (A, B): s.close()

section("E1f (extra, control): A RA bind; B RA bind; C RA bind, nobody clears (port 20105)")
P = 20105
socks = []
for n in "ABC":
    s = tcp()
    s.setsockopt(SOL, RA, 1)
    call(f"{n} RA bind 127.0.0.1:{P}", s.bind, ("127.0.0.1", P))
    socks.append(s)
for s in socks: s.close()
