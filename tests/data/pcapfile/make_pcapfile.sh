#!/bin/sh
# Regenerates the pcaps of tests/unit/common/test_pcapfile.c with Wireshark's tools (an independent writer):
# three raw-IP packets (text2pcap), then the same as nanosecond pcap, pcapng, and a two-interface pcapng (mergecap of
# the raw-IP file and an Ethernet one, so each packet names its own link type). Usage: make_pcapfile.sh (in this dir)
set -e
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Packets: IPv4 TCP 198.51.100.2:40000 -> 203.0.113.10:80, payload "GET " (44 bytes), then 45 and 46 bytes.
cat > "$tmp/raw.txt" <<'HEX'
2025-11-25 19:20:01.250000
0000 45 00 00 2c 00 01 40 00 40 06 00 00 c6 33 64 02 cb 00 71 0a 9c 40 00 50 00 00 03 e8 00 00 00 00 50 18 ff ff 00 00 00 00 47 45 54 20
2025-11-25 19:20:02.500001
0000 45 00 00 2d 00 02 40 00 40 06 00 00 c6 33 64 02 cb 00 71 0a 9c 40 00 50 00 00 03 ec 00 00 00 00 50 18 ff ff 00 00 00 00 47 45 54 20 41
2025-11-25 19:20:03.999999
0000 45 00 00 2e 00 03 40 00 40 06 00 00 c6 33 64 02 cb 00 71 0a 9c 40 00 50 00 00 03 f1 00 00 00 00 50 18 ff ff 00 00 00 00 47 45 54 20 41 42
HEX
cat > "$tmp/eth.txt" <<'HEX'
2025-11-25 19:20:05.000000
0000 02 00 00 00 00 02 02 00 00 00 00 01 08 00 45 00 00 2c 00 04 40 00 40 06 00 00 c6 33 64 02 cb 00 71 0a 9c 40 00 50 00 00 03 e8 00 00 00 00 50 18 ff ff 00 00 00 00 47 45 54 20
HEX
TZ=UTC text2pcap -q -F pcap -l 101 -t '%Y-%m-%d %H:%M:%S.%f' "$tmp/raw.txt" raw_usec.pcap
TZ=UTC text2pcap -q -F pcap -l 1 -t '%Y-%m-%d %H:%M:%S.%f' "$tmp/eth.txt" "$tmp/eth.pcap"
editcap -F nsecpcap raw_usec.pcap raw_nsec.pcap
editcap -F pcapng raw_usec.pcap raw.pcapng
editcap -F pcapng raw_nsec.pcap raw_nsec.pcapng
mergecap -F pcapng -w two_interfaces.pcapng raw_usec.pcap "$tmp/eth.pcap"
