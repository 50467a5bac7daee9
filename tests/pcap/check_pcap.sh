#!/bin/sh
# tests/pcap/check_pcap.sh SOCKTAB SCENARIO WORKDIR
#
# `socktab run --pcap` end to end: the capture of a scenario must be read by
# tshark without a single malformed packet or bad checksum, and must show
# what the scenario does on the wire: handshakes, a RST for the refused
# connection, the UDP datagram and the ICMP port unreachable.
# Exit 77 (ctest SKIP_RETURN_CODE) when tshark is not installed.
set -eu
socktab=$1 scn=$2 work=$3
if ! command -v tshark >/dev/null 2>&1; then
	echo "tshark not installed (apt-get install tshark): skipped"
	exit 77
fi
mkdir -p "$work"
pcap="$work/trace.pcap"
rm -f "$pcap"
"$socktab" run --pcap "$pcap" "$scn" >/dev/null
test -s "$pcap" || { echo "no capture written"; exit 1; }
# tshark refuses to run as root from some directories; use a plain one.
cd "$work"
opts="-o tcp.check_checksum:TRUE -o udp.check_checksum:TRUE -o ip.check_checksum:TRUE"
tshark -r "$pcap" $opts -V > decoded.txt 2> tshark.err || { cat tshark.err; exit 1; }
if grep -E "incorrect|Bad checksum|Malformed|\[Checksum Status: Bad\]" decoded.txt >/dev/null; then
	echo "tshark found a bad packet:"
	grep -nE "incorrect|Bad checksum|Malformed|Status: Bad" decoded.txt | head
	exit 1
fi
tshark -r "$pcap" $opts -T fields -e frame.number -e ip.proto -e ipv6.nxt -e tcp.flags.str \
	-e udp.dstport -e icmp.type -e icmpv6.type > fields.txt
n=$(wc -l < fields.txt)
echo "tshark read $n packets"
syn=$(awk -F'\t' '$4 ~ /S/ && $4 !~ /A/' fields.txt | wc -l)
rst=$(awk -F'\t' '$4 ~ /R/' fields.txt | wc -l)
udp=$(awk -F'\t' '$5 != ""' fields.txt | wc -l)
icmp=$(awk -F'\t' '$6 == "3" || $7 == "1"' fields.txt | wc -l)
echo "SYN-only $syn, RST $rst, UDP $udp, ICMP unreachable $icmp"
[ "$n" -gt 10 ] && [ "$syn" -gt 0 ] && [ "$rst" -gt 0 ] && [ "$udp" -gt 0 ] && [ "$icmp" -gt 0 ] || {
	echo "the capture lacks packets the scenario must produce"; exit 1; }
echo "pcap ok"
