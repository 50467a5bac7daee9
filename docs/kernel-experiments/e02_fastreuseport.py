"""E2: tb->fastreuseport ANY vs STRICT after clearing SO_REUSEPORT (TCP)."""
from common import *

header("E2 fastreuseport ANY vs STRICT (TCP)")


def variant(tag, P, a_addr, b_addr, extra_listen=True):
    section(f"{tag}: A RP bind {a_addr}:{P}; A clears RP; B RP bind {b_addr}:{P}")
    A, B = tcp(), tcp()
    call("A setsockopt(SO_REUSEPORT,1)", A.setsockopt, SOL, RP, 1)
    call(f"A bind {a_addr}:{P}", A.bind, (a_addr, P))
    call("A setsockopt(SO_REUSEPORT,0)", A.setsockopt, SOL, RP, 0)
    call("B setsockopt(SO_REUSEPORT,1)", B.setsockopt, SOL, RP, 1)
    st, _ = call(f"B bind {b_addr}:{P}", B.bind, (b_addr, P))
    if extra_listen and st == "ok":
        print("  (extra) listen after both binds:")
        call("A listen", A.listen, 5)
        call("B listen", B.listen, 5)
    A.close(); B.close()


variant("E2a", 20200, "127.0.0.1", "0.0.0.0")
variant("E2b", 20201, "0.0.0.0", "127.0.0.1")
variant("E2c", 20202, "127.0.0.1", "127.0.0.1")
variant("E2e (extra)", 20204, "0.0.0.0", "0.0.0.0")

section("E2d (control, no clearing): A plain bind 127.0.0.1:20203; B RP bind 127.0.0.1:20203")
A, B = tcp(), tcp()
call("A bind 127.0.0.1:20203", A.bind, ("127.0.0.1", 20203))
call("B setsockopt(SO_REUSEPORT,1)", B.setsockopt, SOL, RP, 1)
call("B bind 127.0.0.1:20203", B.bind, ("127.0.0.1", 20203))
A.close(); B.close()

section("E2f (extra, control, no clearing): A RP bind 127.0.0.1:20205; B RP bind 0.0.0.0:20205")
A, B = tcp(), tcp()
A.setsockopt(SOL, RP, 1); B.setsockopt(SOL, RP, 1)
call("A RP bind 127.0.0.1:20205", A.bind, ("127.0.0.1", 20205))
call("B RP bind 0.0.0.0:20205", B.bind, ("0.0.0.0", 20205))
A.close(); B.close()
