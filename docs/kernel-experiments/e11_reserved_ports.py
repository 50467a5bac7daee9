"""E11: formatting of net.ipv4.ip_local_reserved_ports (per netns)."""
from common import *

header("E11 ip_local_reserved_ports formatting")
path = "/proc/sys/net/ipv4/ip_local_reserved_ports"


def show(label):
    with open(path) as f:
        print(f"  {label}: {f.read()!r}")


def write(v):
    def w():
        with open(path, "w") as f:
            f.write(v)
    call(f"write {v!r}", w)


section("E11a: write '40000,40010-40020,40005'")
show("initial read")
write("40000,40010-40020,40005")
show("read back")

section("E11b (extra): overlapping / adjacent ranges")
for v in ["40000-40005,40006,40008", "40003,40001-40002,40000", "40000-40010,40005-40015",
          "40000,40000", "", "65535", "1-3"]:
    write(v)
    show("read back")
