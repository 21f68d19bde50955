# captures/<name>.hosts from `docker compose config --format json`: one `IP name` line per service
# with a fixed address on the network $net, a namespace's aliases joined by `/` (pusher/sink).
# Used by capture.sh and fault.sh: jq -r --arg net MODEL -f scripts/hosts.jq
.services | to_entries[] | select(.value.networks[$net].ipv4_address != null)
| .value.networks[$net] as $n
| "\($n.ipv4_address) \(if ($n.aliases // []) == [] then .key else ($n.aliases | join("/")) end)"
