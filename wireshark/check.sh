#!/usr/bin/env bash
# Checks that pola and Wireshark read every capture the same way: for each pcap, pola's count of
# each MQTT packet type, HTTP method and HTTP status equals tshark's, and the Lua ZMTP dissector
# (wireshark/zmtp.lua) finds both greetings on every ZMTP connection and the same commands and
# messages as `pola inspect`. tshark is told the ports pola found (`-d tcp.port==P,mqtt|http`),
# since a capture on an unusual port is recognised by pola from its bytes, by tshark only by port.
# usage: wireshark/check.sh [PCAP...]   (default: captures/*.pcap; POLA=path/to/pola)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
pola=${POLA:-$root/target/release/pola}
lua=$here/zmtp.lua
[[ -x $pola ]] || { echo "check.sh: $pola not built (cargo build --release -p pola)" >&2; exit 1; }
command -v tshark >/dev/null || { echo "check.sh: tshark not installed" >&2; exit 1; }

if [[ $# -eq 0 ]]; then
    shopt -s nullglob
    set -- "$root"/captures/*.pcap "$root"/captures/*.pcapng
    # Nothing to check proves nothing: that is a failure, not a pass.
    [[ $# -gt 0 ]] || { echo "check.sh: no captures in $root/captures, nothing to check" >&2; exit 1; }
fi

failed=0
for pcap in "$@"; do
    ours=$("$pola" inspect --counts "$pcap")
    # A TLS capture: the handshake messages still in the clear must be counted alike; then what
    # both decrypted with the capture's embedded secrets (the MQTT or HTTP inside) is compared
    # below like a plain capture's.
    if [[ $(jq '.tls // {} | length' <<<"$ours") != 0 ]]; then
        mine=$(jq -S '{ClientHello: (.tls.ClientHello // 0), ServerHello: (.tls.ServerHello // 0)}' <<<"$ours")
        theirs=$(tshark -r "$pcap" -T fields -E occurrence=a -E aggregator=, -e tls.handshake.type 2>/dev/null |
            tr ',' '\n' | jq -R -s -S '[split("\n")[] | select(. != "")] as $t
                | {ClientHello: ($t | map(select(. == "1")) | length), ServerHello: ($t | map(select(. == "2")) | length)}')
        if [[ $mine == "$theirs" ]]; then
            echo "ok   $pcap $(jq -c . <<<"$mine")"
        else
            failed=1
            echo "FAIL $pcap: pola and tshark disagree on the TLS handshakes"
            diff <(echo "$mine") <(echo "$theirs") | sed 's/^</  pola  /; s/^>/  tshark/' || true
        fi
    fi
    # A port pola found TLS on carries the protocol inside TLS (`tls.port`), not on TCP itself.
    tls_ports=" $(jq -r '.ports.tls // [] | join(" ")' <<<"$ours") "
    decode_as=()
    for proto in mqtt http; do
        for p in $(jq -r ".ports.$proto // [] | .[]" <<<"$ours"); do
            if [[ $tls_ports == *" $p "* ]]; then
                decode_as+=(-d "tcp.port==$p,tls" -d "tls.port==$p,$proto")
            else
                decode_as+=(-d "tcp.port==$p,$proto")
            fi
        done
    done
    # One tshark pass with the Lua dissector; every field's occurrences are comma-joined per frame.
    # Out-of-order reassembly on, as pola does it: a segment that arrives after a later one (the
    # retransmission of what a lossy link dropped) is put back in its place, not lost.
    theirs=$(tshark -o tcp.reassemble_out_of_order:TRUE -X "lua_script:$lua" -r "$pcap" "${decode_as[@]}" -T fields \
            -E separator=/t -E occurrence=a -E aggregator=, \
            -e tcp.stream -e mqtt.msgtype -e http.request.method -e http.response.code \
            -e polazmtp.greeting.version -e polazmtp.command.name -e polazmtp.message.frames 2>/dev/null |
        awk -F'\t' '
            function each(field, prefix,   n, i, v) {
                if (field == "") return 0
                n = split(field, v, ",")
                for (i = 1; i <= n; i++) count[prefix v[i]]++
                return n
            }
            {
                each($2, "mqtt\t"); each($3, "method\t"); each($4, "status\t"); each($6, "command\t")
                g = each($5, "greeting\t"); greetings[$1] += g
                each($7, "message\t")
            }
            END {
                for (k in count) print k "\t" count[k]
                for (s in greetings) if (greetings[s] > 0) print "conn\t" greetings[s] "\t1"
            }' |
        jq -R -s '
            [split("\n")[] | select(length > 0) | split("\t")] as $rows |
            def table(kind): [$rows[] | select(.[0] == kind) | {(.[1]): (.[2] | tonumber)}] | add // {};
            def total(kind): [$rows[] | select(.[0] == kind) | .[2] | tonumber] | add // 0;
            {
              mqtt: table("mqtt"),
              http_methods: table("method"),
              http_status: table("status"),
              zmtp_greetings: total("greeting"),
              zmtp_connections: ([$rows[] | select(.[0] == "conn" and .[1] == "2")] | length),
              zmtp_half_greeted: ([$rows[] | select(.[0] == "conn" and .[1] != "2")] | length),
              zmtp_commands: table("command"),
              zmtp_messages: total("message")
            }')
    # MQTT by packet type number on both sides (tshark's mqtt.msgtype); pola names them in .mqtt.
    mine=$(jq '{mqtt: .mqtt_types, http_methods, http_status, zmtp_greetings, zmtp_connections, zmtp_half_greeted: 0,
                zmtp_commands, zmtp_messages}' <<<"$ours")
    if [[ $(jq -S . <<<"$mine") == $(jq -S . <<<"$theirs") ]]; then
        echo "ok   $pcap $(jq -c '{mqtt, http_methods, http_status, zmtp_connections, zmtp_commands, zmtp_messages}
                              | with_entries(select(.value != {} and .value != 0))' <<<"$ours")"
    else
        failed=1
        echo "FAIL $pcap: pola and tshark disagree"
        diff <(jq -S . <<<"$mine") <(jq -S . <<<"$theirs") | sed 's/^</  pola  /; s/^>/  tshark/' || true
    fi
done
exit $failed
