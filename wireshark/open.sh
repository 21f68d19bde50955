#!/usr/bin/env bash
# Opens captures/<model>.pcap with everything decoded: Wireshark with pola's ZMTP dissector
# (zmtp.lua), or, where no Wireshark GUI is installed, tshark's packet list with the same dissector.
# usage: wireshark/open.sh MODEL   (mqtt, tcp, rest, reqrep, pushpull, pubsub; or a pcap path)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
model=${1:-}
[[ -n $model ]] || { echo "usage: make wireshark MODEL=pubsub (or mqtt, tcp, rest, reqrep, pushpull)" >&2; exit 2; }
pcap=$model
[[ -f $pcap ]] || pcap=$root/captures/$model.pcap
[[ -f $pcap ]] || { echo "no capture $pcap: run 'make capture-$model' first" >&2; exit 1; }
if command -v wireshark >/dev/null && [[ -n ${DISPLAY:-}${WAYLAND_DISPLAY:-} ]]; then
    exec wireshark -X "lua_script:$here/zmtp.lua" -r "$pcap"
fi
echo "(no Wireshark GUI here: tshark's view with the same dissector; add -V for every field)" >&2
exec tshark -X "lua_script:$here/zmtp.lua" -r "$pcap" "${@:2}"
