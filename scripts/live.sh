#!/usr/bin/env bash
# Runs one model's capture and shows its packets while they are captured: in Wireshark with the
# ZMTP dissector when a display is available, else in `pola inspect -`. The sidecar still writes
# captures/<model>.pcap complete; this only reads the growing captures/<model>.pcap.part from the
# host (tail follows the file through its rename and stops when capture.sh has finished).
# usage: scripts/live.sh MODEL   (make live MODEL=pubsub)
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-}
[[ -n $model ]] || { echo "usage: make live MODEL=<model>, one of: $(awk '!/^#/ && NF && $2 == "-" {print $1}' models.tsv | xargs)" >&2; exit 2; }
part=captures/$model.pcap.part
pola=./target/release/pola
[[ -x $pola ]] || { echo "live: $pola not built (make build)" >&2; exit 1; }

# The model's addresses are fixed in compose.yaml: the last run's hosts file names this run too.
hosts=$(mktemp)
trap 'rm -f "$hosts"' EXIT
[[ -f captures/$model.hosts ]] && cp "captures/$model.hosts" "$hosts"

bash scripts/capture.sh "$model" >&2 &
capture=$!
# capture.sh removes the last run's files first, then the sidecar starts tcpdump.
for _ in $(seq 600); do
    [[ -f $part ]] && break
    kill -0 "$capture" 2>/dev/null || { wait "$capture"; echo "live: the capture ended before it began" >&2; exit 1; }
    sleep 0.2
done
[[ -f $part ]] || { echo "live: no $part after 120 s" >&2; kill "$capture"; exit 1; }

# tail -f follows the open file, so it keeps reading after the sidecar renames it to .pcap;
# --pid ends it (after a last read) once capture.sh, which waits for that rename, has exited.
stream() { tail -c +1 -f -s 0.2 --pid="$capture" "$part"; }
if command -v wireshark >/dev/null && [[ -n ${DISPLAY:-}${WAYLAND_DISPLAY:-} ]]; then
    stream | wireshark -X lua_script:wireshark/zmtp.lua -k -i -
else
    stream | "$pola" inspect - --hosts "$hosts"
fi
wait "$capture"
echo "live: the complete capture is captures/$model.pcap" >&2
