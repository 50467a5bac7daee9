#!/usr/bin/env python3
"""Verify examples/003-reuseport-clients-and-simultaneous-open.scn on the
real kernel.

Runs the scenario with scnkernel.py.  Its simultaneous open runs between
two network namespaces joined by two TUN devices and a relay that holds
each packet 200 ms (this kernel has no netem); the expectations taken 300 ms
and 800 ms after the connects sit in the middle of their windows, and
`--repeat N` runs the whole scenario N times to show they do not depend on
luck.  Run as root:
    python3 examples/verify/003-reuseport-clients-and-simultaneous-open.py --repeat 5
"""
import sys

import scnkernel

if __name__ == "__main__":
    sys.exit(scnkernel.verify_example(
        "003-reuseport-clients-and-simultaneous-open.scn"))
