#!/usr/bin/env bash
# Measures `pola inspect` against `tshark -r` on one large capture: PCAP is repeated TIMES times
# with mergecap (a long conversation with fresh streams), both print their summary to /dev/null,
# and the packets per second of each and their ratio are printed, with pola's peak memory.
# usage: wireshark/speed.sh PCAP [TIMES]   (POLA=path/to/pola)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
pola=${POLA:-$(dirname "$here")/target/release/pola}
pcap=${1:?usage: wireshark/speed.sh PCAP [TIMES]}
times=${2:-25}
big=$(mktemp --suffix=.pcap)
trap 'rm -f "$big"' EXIT
mergecap -a -F pcap -w "$big" $(for _ in $(seq "$times"); do echo "$pcap"; done)
packets=$(capinfos -M -c "$big" | awk -F: '/Number of packets/ {gsub(/ /, "", $2); print $2}')
seconds() { /usr/bin/time -f "%e %M" "$@" >/dev/null 2>"$big.time"; tail -1 "$big.time"; }
read -r pola_s pola_kb < <(seconds "$pola" inspect "$big")
read -r tshark_s _ < <(seconds tshark -r "$big")
rm -f "$big.time"
awk -v n="$packets" -v p="$pola_s" -v t="$tshark_s" -v kb="$pola_kb" -v mb="$(du -m "$big" | cut -f1)" 'BEGIN {
    printf "%d packets (%d MB): pola %.0f packets/s (%.2f s, peak %d KB), tshark %.0f packets/s (%.2f s); pola/tshark = %.1fx\n",
        n, mb, n / p, p, kb, n / t, t, t / p }'
