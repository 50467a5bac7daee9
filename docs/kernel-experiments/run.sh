#!/bin/sh
# Run each given experiment script (default: all e*.py) in its own fresh
# network namespace with lo up and ip_local_port_range = 20000 30000.
# Must be run as root.  Usage: ./run.sh [e01_stale_fastreuse.py ...]
cd "$(dirname "$0")" || exit 1
[ $# -eq 0 ] && set -- e*.py
for s in "$@"; do
    unshare -n sh -c '
        ip link set lo up &&
        sysctl -qw net.ipv4.ip_local_port_range="20000 30000" &&
        exec python3 "$0"' "$s"
    echo
done
