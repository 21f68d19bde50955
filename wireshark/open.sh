#!/usr/bin/env bash
# Opens captures/<model>.pcap with everything decoded: Wireshark with pola's ZMTP dissector
# (zmtp.lua), or, where no Wireshark GUI is installed, tshark's packet list with the same dissector.
# usage: wireshark/open.sh MODEL   (a model of models.tsv, such as pubsub or mqtt-tls; or a pcap path)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
model=${1:-}
models=$(awk '!/^#/ && NF {print $1}' "$root/models.tsv" | xargs)
[[ -n $model ]] || { echo "usage: make wireshark MODEL=<model>, one of: $models" >&2; exit 2; }
pcap=$model
[[ -f $pcap ]] || pcap=$root/captures/$model.pcap
# An encrypted twin's capture is a pcapng that carries its TLS secrets.
[[ -f $pcap ]] || [[ ! -f $root/captures/$model.pcapng ]] || pcap=$root/captures/$model.pcapng
[[ -f $pcap ]] || { echo "no capture $pcap: run 'make capture-$model' first" >&2; exit 1; }
if command -v wireshark >/dev/null && [[ -n ${DISPLAY:-}${WAYLAND_DISPLAY:-} ]]; then
    exec wireshark -X "lua_script:$here/zmtp.lua" -r "$pcap"
fi
echo "(no Wireshark GUI here: tshark's view with the same dissector; add -V for every field)" >&2
exec tshark -X "lua_script:$here/zmtp.lua" -r "$pcap" "${@:2}"
