#!/usr/bin/env bash
# Runs pola's models in compose and leaves one complete pcap per model in captures/.
#   capture.sh mqtt [tcp ...]  each model in turn: up (ordered by healthchecks), wait for its
#                              tcpdump sidecar, print the pcap's path and counts, down
#   capture.sh mqtt-tls        an encrypted twin (also rest-tls): certificates made first if
#                              missing, and captures/<variant>.pcapng carries the clients' TLS
#                              secrets, so Wireshark and tshark decrypt it with no settings
#   capture.sh reqrep-curve    a CURVE twin (also pubsub-curve): key pairs made first if missing;
#                              nothing can decrypt captures/<variant>.pcap
#   capture.sh up              every model at once, as a plain `docker compose up` does
#   capture.sh down            stop and remove every pola container, network and volume
#   capture.sh down PROJECT... only those compose projects (fault.sh: its own, and pola)
set -euo pipefail
cd "$(dirname "$0")/.."

# models.tsv is the one list of models: the plain ones, then their encrypted twins.
table() { awk "!/^#/ && NF && $1" models.tsv; }
mapfile -t MODELS < <(table '$2 == "-" {print $1}')
mapfile -t VARIANTS < <(table '$2 != "-" {print $1}')
ALL=$(IFS=,; echo "${MODELS[*]}")
POLA=./target/release/pola

die() { echo "capture: $*" >&2; exit 1; }

[[ $# -gt 0 ]] || die "usage: capture.sh MODEL... | up | down [PROJECT...]   (models: ${MODELS[*]} ${VARIANTS[*]})"
[[ $1 == down ]] || for arg in "$@"; do
  [[ $arg == up || $arg == down || " ${MODELS[*]} ${VARIANTS[*]} " == *" $arg "* ]] ||
    die "unknown model '$arg'; valid models: ${MODELS[*]} ${VARIANTS[*]} (or up, down)"
done
docker info >/dev/null 2>&1 || die "the Docker daemon is not running (start it: sudo dockerd, or make setup)"
docker compose version >/dev/null 2>&1 || die "Compose v2 (docker compose) is missing: run make setup"

# How long a run's clients may take before the run fails instead of hanging.
RUN_SECS=${CAPTURE_RUN_SECS:-600}

# The compose project: `up` runs every model in the default one, pola (as `docker compose up`
# does); one model runs in a project of its own, pola-<model>, so that models can be captured side
# by side (the capture tests do). Two runs of one model cannot: its network has a fixed subnet.
PROJECT=pola

# The compose command for a set of profiles ("mqtt", "mqtt,tcp,..." or "*" for all), killed if
# it runs past DC_SECS (120 s unless the caller says otherwise).
dc() { timeout -k 10 "${DC_SECS:-120}" env COMPOSE_PROFILES="$1" COMPOSE_PROJECT_NAME="$PROJECT" docker compose "${@:2}"; }

# The project, every profile, the fault runs' own (scripts/fault.sh) included.
down() { dc '*' down --volumes --remove-orphans --timeout 5 >/dev/null 2>&1 || true; }

# `capture.sh down`: the default project, and every pola-<model> and pola-fault-<scenario> one
# still there.
down_all() {
  down
  local project
  for project in $({ docker ps -a --format '{{.Label "com.docker.compose.project"}}'
                     docker network ls --format '{{.Label "com.docker.compose.project"}}'; } | grep '^pola-' | sort -u); do
    PROJECT=$project down
  done
}

# True if the model is an encrypted twin (TLS or CURVE): its certificates or keys come first.
is_twin() { [[ $(awk -v m="$1" '!/^#/ && $1 == m {print $2}' models.tsv) != - ]]; }

# The lab CA, the servers' certificates and the CURVE key pairs in certs/, made once.
make_certs() {
  [[ -x $POLA ]] || die "$POLA is missing: run make build"
  # Under a lock: two twins captured side by side must not each make a CA of their own.
  flock "${TMPDIR:-/tmp}/pola-certs.lock" "$POLA" certs --dir certs >/dev/null
}

# True if the model's ports carry TLS (an encrypted twin whose capture gets its secrets).
is_tls() { [[ $(awk -v m="$1" '!/^#/ && $1 == m {print $4}' models.tsv) == tls ]]; }

# Shows why a run failed: every container that exited non-zero, with its last log lines.
explain_failure() {
  local profiles=$1 id name code
  for id in $(dc "$profiles" ps -a -q); do
    name=$(docker inspect -f '{{.Name}}' "$id"); code=$(docker inspect -f '{{.State.ExitCode}}' "$id")
    [[ $code == 0 ]] && continue
    echo "--- ${name#/} exited $code; its last lines:" >&2
    docker logs --tail 15 "$id" 2>&1 | sed 's/^/    /' >&2
  done
}

# Writes captures/<model>.hosts (`IP name` per line) from the fixed addresses in compose.yaml, so
# `pola inspect` and `pola report` show service names instead of bare addresses.
write_hosts() {
  local model=$1
  dc "$model" config --format json | jq -r --arg net "$model" -f scripts/hosts.jq >"captures/$model.hosts"
}

# An encrypted twin's clients write their TLS secrets (NSS key log) into captures/keys/<variant>/,
# made writable for them (they run as an unprivileged user); certs/ holds the lab CA.
prepare_tls() {
  local model=$1
  rm -rf "captures/keys/$model" "captures/$model.pcapng"
  mkdir -p "captures/keys/$model"
  chmod 1777 "captures/keys/$model"
}

# Merges the clients' key logs into the capture (a pcapng Decryption Secrets Block, as Wireshark
# reads it), leaving captures/<variant>.pcapng in place of the pcap.
embed_secrets() {
  local model=$1 keys=captures/$model.keys
  cat "captures/keys/$model"/*.keys >"$keys" 2>/dev/null || true
  if [[ ! -s $keys ]]; then
    echo "$model: FAILED, the clients wrote no TLS secrets in captures/keys/$model" >&2
    rm -f "$keys"; return 1
  fi
  editcap --inject-secrets "tls,$keys" "captures/$model.pcap" "captures/$model.pcapng" ||
    { echo "$model: FAILED, editcap could not embed the TLS secrets" >&2; rm -f "$keys"; return 1; }
  rm -rf "captures/$model.pcap" "$keys" "captures/keys/$model"
  rmdir captures/keys 2>/dev/null || true
}

# Waits for the sidecar of each model in $profiles, then prints its verdict and the clients' lines.
report() {
  local profiles=$1 model id code line ok=0
  for model in ${profiles//,/ }; do
    id=$(dc "$profiles" ps -a -q "capture-$model")
    [[ -n $id ]] || { echo "$model: no capture container" >&2; ok=1; continue; }
    code=$(timeout -k 10 60 docker wait "$id") || code="none (still running 60 s after its clients)"
    # The sidecar's stdout holds one line: model=... pcap=... captured=... received=... dropped=... late=...
    line=$(docker logs "$id" 2>/dev/null | tail -n 1)
    if [[ $code == 0 && -f captures/$model.pcap && $line == *captured=* ]]; then
      write_hosts "$model"
      local file=captures/$model.pcap
      if is_tls "$model"; then
        embed_secrets "$model" || { ok=1; continue; }
        file=captures/$model.pcapng
      fi
      echo "$model: $file  ${line#* pcap=* }"
      for svc in $(dc "$model" config --services); do
        [[ $svc == capture-* || $svc == done-* ]] && continue
        docker logs "$(dc "$profiles" ps -a -q "$svc")" 2>/dev/null | grep -E '^sent=' | sed "s/^/    $svc: /" || true
      done
    else
      echo "$model: FAILED, no pcap (sidecar exited $code)" >&2
      docker logs --tail 15 "$id" 2>&1 | sed 's/^/    /' >&2
      ok=1
    fi
  done
  return $ok
}

# Runs the models of $1 (comma-separated) together, from a clean slate: in the default project
# for `up`, else in the model's own.
run() {
  local profiles=$1 model image start=$SECONDS PROJECT=pola
  [[ $profiles == "$ALL" ]] || PROJECT=pola-$profiles
  for image in $(dc "$profiles" config --images | sort -u); do
    docker image inspect "$image" >/dev/null 2>&1 || die "image $image is missing: run make images"
  done
  # The default project's networks hold the same subnets: a `docker compose up` left running
  # goes first.
  [[ $PROJECT == pola ]] || PROJECT=pola down
  down
  mkdir -p captures
  for model in ${profiles//,/ }; do
    rm -f "captures/$model.pcap" "captures/$model.pcap.part" "captures/$model.hosts"
    ! is_twin "$model" || make_certs
    ! is_tls "$model" || prepare_tls "$model"
  done
  trap 'echo "capture: interrupted, cleaning up" >&2; down; exit 130' INT TERM
  # `up -d` returns once every service started, which for done-<model> means every client of the
  # model exited 0; a client that failed makes it fail here.
  local log; log=$(mktemp)
  if ! DC_SECS=$RUN_SECS dc "$profiles" up -d --no-build >"$log" 2>&1; then
    echo "capture: docker compose up failed or its clients ran past $RUN_SECS s for $profiles: $(tail -n 1 "$log")" >&2
    explain_failure "$profiles"
    rm -f "$log"; down; return 1
  fi
  rm -f "$log"
  local status=0
  report "$profiles" || status=1
  down
  trap - INT TERM
  echo "($profiles: $((SECONDS - start)) s)"
  return $status
}

case $1 in
  down)
    if (($# > 1)); then
      for project in "${@:2}"; do PROJECT=$project down; done
    else
      down_all; echo "pola: every container, network and volume removed"
    fi ;;
  up) run "$ALL" ;;
  *)
    failed=()
    for model in "$@"; do run "$model" || failed+=("$model"); done
    ((${#failed[@]} == 0)) || die "no complete pcap for: ${failed[*]}"
    ;;
esac
