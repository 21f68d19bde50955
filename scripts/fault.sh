#!/usr/bin/env bash
# Runs pola's fault scenarios (scripts/faults.tsv): each one a model in compose with a fault injected
# on purpose, captured from outage to recovery in captures/fault-<name>.pcap, with every client's
# summary line and exit code judged against what the scenario expects. The moments the faults hit
# and the clients' lines go to captures/fault-<name>.events (Unix times, the pcap's clock), with the
# RSS of every server sampled before the first fault, after each one and once the clients are done;
# bench/faults.json keeps the latest RSS figures and client lines of every scenario.
#   fault.sh NAME...   the named scenarios, one after another
#   fault.sh all       every scenario in the table
#   fault.sh list      the table: name, model, promise
#   fault.sh load SECS NAME...   load runs: the scenario's clients as a steady stream for SECS
#                      seconds (scripts/load.tsv), its fault in the middle, every server's RSS
#                      sampled each second; the figures go to bench/faults.json as load-<name>
set -euo pipefail
cd "$(dirname "$0")/.."

TABLE=${FAULT_TABLE:-scripts/faults.tsv}
COMEBACK_SECS=${FAULT_COMEBACK_SECS:-20}   # how long a restarted service has to be healthy again
CLIENT_SECS=${FAULT_CLIENT_SECS:-90}   # how long the clients have to finish after the last step
STEP_SECS=${FAULT_STEP_SECS:-120}   # how long any one docker command may take before the run fails

die() { echo "fault: $*" >&2; exit 1; }

# The table's rows without comments, fields trimmed: name|model|env|steps|exits|promise
rows() { sed -e '/^[[:space:]]*#/d' -e '/^[[:space:]]*$/d' -e 's/[[:space:]]*|[[:space:]]*/|/g' -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' "$TABLE"; }
names() { rows | cut -d'|' -f1; }

[[ $# -gt 0 ]] || die "usage: fault.sh NAME... | all | list | load SECS NAME...   (scenarios: $(names | xargs))"
LOAD_SECS=
if [[ $1 == load ]]; then
  [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || { echo "fault: load wants a whole number of seconds, not '${2:-}'" >&2; exit 2; }
  LOAD_SECS=$2
  shift 2
  [[ $# -gt 0 ]] || die "usage: fault.sh load SECS NAME..."
fi
case $1 in
  list) rows | awk -F'|' '{printf "%-22s %-9s %s\n", $1, $2, $6}'; exit 0 ;;
  all) set -- $(names) ;;
esac
for arg in "$@"; do
  names | grep -qx -- "$arg" || { echo "fault: unknown scenario '$arg'; valid: $(names | xargs)" >&2; exit 2; }
done
docker info >/dev/null 2>&1 || die "the Docker daemon is not running (start it: sudo dockerd, or make setup)"
docker compose version >/dev/null 2>&1 || die "Compose v2 (docker compose) is missing: run make setup"

now() { date +%s.%3N; }

# The container of service $1 in this run's project (running ones; `-a` as $2: stopped ones too),
# found by its compose labels with docker itself: a compose call can take seconds on a busy
# machine, and the steps' timing is what a scenario is built around.
container() {
  docker ps -q ${2:-} --filter "label=com.docker.compose.project=$project" \
    --filter "label=com.docker.compose.service=$1"
}

# Appends the resident memory of every running server of the model (the services in the capture's
# namespace) to the events file: `rss phase=<phase> service=<svc> kb=<VmRSS> at=<time>`; false
# when no server was running.
rss() {
  local phase=$1 svc id pid kb any=1
  for svc in $servers; do
    id=$(container "$svc" 2>/dev/null) || continue
    [[ -n $id ]] || continue
    pid=$(docker inspect -f '{{.State.Pid}}' "$id")
    kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null) || continue
    [[ -n $kb ]] || continue
    echo "rss phase=$phase service=$svc kb=$kb at=$(now)" >>"$events"
    any=0
  done
  return $any
}

# Records this run's RSS samples and client lines under its name in bench/faults.json, under a
# lock: other runs may be writing it at the same moment.
record() {
  local lock
  exec {lock}>"${TMPDIR:-/tmp}/pola-faults-json.lock"
  flock "$lock"
  local file=bench/faults.json tmp
  [[ -f $file ]] || echo '{}' >"$file"
  tmp=$(mktemp)
  jq --arg name "$1" --rawfile ev "$events" --arg date "$(date -u +%FT%TZ)" '
    ($ev | split("\n") | map(select(length > 0) | split(" ")
      | map(select(contains("=")) | capture("^(?<k>[^=]+)=(?<v>.*)$") | {(.k): .v}) | add)) as $lines
    | .[$name] = {
        date: $date,
        rss_kb: ($lines | map(select(.phase)) | group_by(.service)
          | map({(.[0].service): (map({(.phase): (.kb | tonumber)}) | add)}) | add // {}),
        # Every sample as [Unix time, KiB] per server (a load run takes one a second).
        rss_series: ($lines | map(select(.phase)) | group_by(.service)
          | map({(.[0].service): map([(.at | tonumber), (.kb | tonumber)])}) | add // {}),
        clients: ($lines | map(select(.client)) | map({(.client): del(.client)}) | add // {})
      }' "$file" >"$tmp" && mv "$tmp" "$file"
  exec {lock}>&-
}

# True once a restarted container is running and, if it has a healthcheck, has passed one since
# this start (Docker keeps the health status of the previous life for a while).
back() {
  docker inspect "$1" | jq -e '.[0].State | .StartedAt as $s | .Running and
    (.Health == null or ([.Health.Log[] | select(.Start > $s and .ExitCode == 0)] | length > 0))' >/dev/null
}

# A load run's RSS per server from its events: before the fault, the most while it ran, at the end.
load_rss() {
  awk '$1 == "rss" {
      for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
      s = f["service"]; kb = f["kb"]
      if (f["phase"] == "before") before[s] = kb
      if (f["phase"] == "end") end[s] = kb
      if (kb > most[s]) most[s] = kb
      n[s]++
    }
    END { for (s in n) printf "    %s RSS: %s KiB before the fault, %s KiB at most (%d samples), %s\n", s, before[s], most[s], n[s],
            (s in end) ? end[s] " KiB at the end" : "stopped with the clients" }' "$events"
}

# A load run's steps from the scenario's: the link capped (the scenario's own cap, else the
# model's in scripts/load.tsv), the clients started, half the run, the faults, the other half,
# then the clients stopped (each prints its summary of what it did so far).
load_steps() {
  local steps=$1 cap=$2 step verb args ups=() faults=() link=
  IFS=';' read -ra list <<<"$steps"
  for step in "${list[@]}"; do
    read -r verb args <<<"$step"
    if [[ $verb == up ]]; then ups+=("$verb $args")
    elif [[ $verb == net && $args == rate* ]]; then link="$verb $args"
    # The scenario's own pause before its first fault: the load run waits half its time instead.
    elif [[ $verb == sleep && ${#faults[@]} -eq 0 ]]; then :
    else faults+=("$verb $args"); fi
  done
  [[ -n $link || $cap == - ]] || link="net rate $cap"
  { [[ -z $link ]] || echo "$link"; printf '%s\n' "${ups[@]}"; echo "sleep $((LOAD_SECS / 2))"
    printf '%s\n' "${faults[@]}"; echo "sleep $((LOAD_SECS - LOAD_SECS / 2))"; echo "stop-clients"; } | paste -sd';'
}

# The model's row of scripts/load.tsv: "env|cap".
load_row() {
  sed -e '/^[[:space:]]*#/d' -e 's/[[:space:]]*|[[:space:]]*/|/g' scripts/load.tsv |
    awk -F'|' -v m="$1" '$1 == m {print $2 "|" $3}'
}

# One scenario's run; the globals below belong to it.
run() {
  local name=$1 row model env steps exits promise
  row=$(rows | awk -F'|' -v n="$name" '$1 == n')
  IFS='|' read -r _ model env steps exits promise <<<"$row"
  local capture=fault-$name
  if [[ -n $LOAD_SECS ]]; then
    local load load_env cap
    load=$(load_row "$model")
    [[ -n $load ]] || { echo "fault: no load row for $model in scripts/load.tsv" >&2; return 1; }
    IFS='|' read -r load_env cap <<<"$load"
    capture=load-$name env="$env $load_env" steps=$(load_steps "$steps" "$cap")
    promise="load run, $LOAD_SECS s: $promise"
  fi
  local events=captures/$capture.events start=$SECONDS
  # The run's compose: its model's profile plus the services only faults use, its variables, and
  # a project and subnets of the scenario's own (pola-fault-<name>, 10.<POLA_NET>.x.0/24 with
  # POLA_NET from the scenario's place in scripts/faults.tsv: 202, 203, ...), so any scenarios can
  # go side by side, with each other and with `make up`'s models (10.201.x.0/24).
  local project=pola-fault-$name net
  net=$(TABLE=scripts/faults.tsv; rows | awk -F'|' -v n="$name" '$1 == n {print 201 + NR; exit}')
  local dc_cmd=(env $env CAPTURE_NAME="$capture" POLA_NET="${net:-250}" COMPOSE_PROFILES="$model,fault-$model" COMPOSE_PROJECT_NAME="$project" docker compose)
  # Every docker command is bounded: a daemon or compose that stops answering fails the run instead
  # of hanging it.
  dc() { timeout -k 10 "$STEP_SECS" "${dc_cmd[@]}" "$@"; }
  # The clients this run started: what done-<model> waits for, and the fault-only services.
  clients() {
    local started; started=$(dc ps -a --services | xargs)
    jq -r --arg d "done-$model" --arg m "$model" --arg started " $started " '
      ((.services[$d].depends_on | keys) + [.services | to_entries[] | select((.value.profiles // []) | index("fault-\($m)")) | .key])
      | .[] | . as $s | select($started | contains(" \($s) "))' <<<"$config"
  }
  # Clears this run's project.
  down() { timeout -k 10 "$STEP_SECS" bash scripts/capture.sh down "$project" >/dev/null 2>&1 || true; }
  fail() { echo "$capture: FAILED: $*" >&2; wait_bg; down; return 1; }
  local bg=()
  wait_bg() { local p; for p in "${bg[@]}"; do wait "$p" 2>/dev/null || true; done; bg=(); }

  # The run's compose configuration, read once (every compose call costs a second on a busy machine).
  local config
  config=$(dc config --format json) || die "docker compose config failed for $name"
  for image in $(jq -r '.services[].image' <<<"$config" | sort -u); do
    docker image inspect "$image" >/dev/null 2>&1 || die "image $image is missing: run make images"
  done
  # What an earlier run of this scenario left, the broker's stored sessions included (asked of
  # docker itself: a compose call takes longer).
  local left=() kind
  for kind in "ps -a" "network ls" "volume ls"; do
    left+=($(docker $kind -q --filter "label=com.docker.compose.project=$project"))
  done
  ((${#left[@]} == 0)) || down
  rm -f "captures/$capture.pcap" "captures/$capture.pcap.part"
  mkdir -p captures
  : >"$events"
  trap 'echo "fault: interrupted, cleaning up" >&2; down; exit 130' INT TERM
  echo "== $capture ($model): $promise"
  dc up -d --wait --wait-timeout 60 "capture-$model" >/dev/null 2>&1 || { fail "capture-$model did not become healthy"; return 1; }

  # The steps, each logged with its moment.
  local step verb args sampled=0 servers
  servers=$(jq -r --arg c "service:capture-$model" '.services | to_entries[] | select(.value.network_mode == $c) | .key' <<<"$config")
  # A load run samples every server's RSS once a second while its steps run.
  local sampler=
  if [[ -n $LOAD_SECS ]]; then
    { while sleep 1; do rss load || true; done; } &
    sampler=$!
  fi
  IFS=';' read -ra step_list <<<"$steps"
  for step in "${step_list[@]}"; do
    read -r verb args <<<"$step"
    printf '  %5s s  %s\n' "$((SECONDS - start))" "$verb $args"
    # RSS before the first fault, once the servers are up.
    [[ $verb == up || $verb == sleep || $sampled == 1 ]] || { rss before && sampled=1; }
    case $verb in
      net | 'net&')
        # The sidecar prints its own fault= lines with the moment the rule took effect.
        local lines; lines=$(wc -l <"$events")
        if [[ $verb == 'net&' ]]; then
          { dc exec -T "capture-$model" /pola-capture fault $args >>"$events" 2>"$events.err" </dev/null ||
              echo "fault=failed what='$args' at=$(now)" >>"$events"; } &
          bg+=($!)
          # The next step waits until the sidecar said the rule is in place (or that it failed).
          local before=$lines t
          for t in $(seq 100); do
            (($(wc -l <"$events") > before)) && break
            sleep 0.05
          done
          grep -q "fault=failed" "$events" && { fail "fault '$args' could not be applied: $(tail -n 1 "$events.err")"; return 1; }
        else
          dc exec -T "capture-$model" /pola-capture fault $args >>"$events" 2>"$events.err" ||
            { fail "fault '$args' could not be applied: $(tail -n 1 "$events.err")"; return 1; }
        fi ;;
      up)
        dc up -d $args >/dev/null 2>"$events.err" || { fail "could not start $args: $(tail -n 1 "$events.err")"; return 1; }
        echo "fault=up service=$(tr " " "\n" <<<"$args" | grep -v "^-" | paste -sd,) at=$(now)" >>"$events" ;;
      sleep) sleep "$args" ;;
      stop-clients)
        local from running; from=$(now)
        running=$(clients | xargs)
        dc stop $running >/dev/null 2>&1 || { fail "docker compose stop $running failed"; return 1; }
        echo "fault=stop-clients service=${running// /,} from=$from at=$(now)" >>"$events" ;;
      kill | pause | unpause | stop)
        # The fault hits between from= (called) and at= (returned). kill, pause and unpause go to
        # docker itself, at once; stop goes through compose, which keeps the service's grace period.
        local from ids; from=$(now)
        if [[ $verb == stop ]]; then
          dc stop $args >/dev/null 2>&1 || { fail "docker compose stop $args failed"; return 1; }
        else
          # Through compose as well when docker itself could not (the container not found, or
          # refused), so the reason compose gives is the one reported.
          ids=$(for svc in $args; do container "$svc"; done)
          if [[ -z $ids ]] || ! timeout -k 10 "$STEP_SECS" docker "$verb" $ids >/dev/null 2>"$events.err"; then
            echo "fault: docker $verb $args: ${ids:+$(tail -n 1 "$events.err")}${ids:-no container found}; through compose" >&2
            dc "$verb" $args >/dev/null 2>"$events.err" ||
              { fail "docker compose $verb $args failed: $(tail -n 1 "$events.err")"; return 1; }
          fi
        fi
        echo "fault=$verb service=$args from=$from at=$(now)" >>"$events" ;;
      start)
        local t0 id
        t0=$(now)
        # compose start is never cut short (a start killed half-way can leave the container in
        # a state that the clean-up then waits on); the limit is judged once it returned.
        dc start $args >/dev/null 2>&1 || { fail "$args could not be started (docker compose start)"; return 1; }
        id=$(container "$args" -a)
        late() { awk -v a="$(now)" -v b="$t0" -v l="$COMEBACK_SECS" 'BEGIN { exit !(a - b > l) }'; }
        until back "$id" && ! late; do
          late && { fail "$args did not come back within $COMEBACK_SECS s"; return 1; }
          sleep 0.1
        done
        echo "fault=back service=$args at=$(now)" >>"$events" ;;
      *) fail "unknown step '$step' in $TABLE"; return 1 ;;
    esac
    [[ $verb == up || $verb == sleep || $verb == stop-clients ]] || rss "after-${verb%&}" || true
  done
  [[ -z $sampler ]] || { kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true; }
  rm -f "$events.err"

  # Every client this run started (what done-<model> waits for, and the fault-only services) must
  # end with its expected code (a load run only reports them: it stopped them itself).
  local clients svc id code want ok=0
  clients=$(clients)
  local deadline=$((SECONDS + CLIENT_SECS))
  for svc in $clients; do
    id=$(container "$svc" -a)
    until [[ $(timeout 30 docker inspect -f '{{.State.Status}}' "$id") == exited ]]; do
      ((SECONDS < deadline)) || {
        docker logs --tail 6 "$id" 2>&1 | sed "s/^/    $svc: /" >&2
        fail "$svc still running $CLIENT_SECS s after the last step"; return 1; }
      sleep 0.2
    done
  done
  wait_bg
  rss end || true
  local report=()
  for svc in $clients; do
    id=$(container "$svc" -a)
    code=$(docker inspect -f '{{.State.ExitCode}}' "$id")
    want=$(tr ' ' '\n' <<<"$exits" | sed -n "s/^$svc=//p")
    want=${want:-0}
    line=$(docker logs "$id" 2>/dev/null | grep -E '^sent=' | tail -n 1 || true)
    echo "client=$svc exit=$code ${line:-no summary line}" >>"$events"
    report+=("    $svc (exit $code): ${line:-no summary line}")
    if [[ $code != "$want" && -z $LOAD_SECS ]]; then
      report+=("      expected exit $want; its last lines:")
      while IFS= read -r l; do report+=("        $l"); done < <(docker logs --tail 8 "$id" 2>&1)
      ok=1
    fi
  done

  # The capture: told the clients are done, the sidecar keeps the pcap only if it is complete.
  local cid verdict
  cid=$(container "capture-$model" -a)
  timeout -k 10 "$STEP_SECS" docker exec "$cid" /pola-capture --mark-done >/dev/null 2>&1 || true
  code=$(timeout -k 10 60 docker wait "$cid") || code="none (still running 60 s after it was told the clients are done)"
  verdict=$(docker logs "$cid" 2>/dev/null | tail -n 1)
  if [[ $code == 0 && -f captures/$capture.pcap && $verdict == *captured=* ]]; then
    jq -r --arg net "$model" -f scripts/hosts.jq <<<"$config" >"captures/$capture.hosts"
    echo "$capture: captures/$capture.pcap  ${verdict#* pcap=* }"
  else
    # The sidecar's reason is on its stderr, with its logs.
    verdict=$(docker logs "$cid" 2>&1 | grep -v '^[[:space:]]*$' | tail -n 1)
    echo "$capture: broken capture, no pcap (sidecar exited $code): $verdict" >&2
    ok=1
  fi
  printf '%s\n' "${report[@]}"
  [[ -z $LOAD_SECS ]] || load_rss
  record "${capture#fault-}"
  down
  trap - INT TERM
  if ((ok == 0)) && [[ -n $LOAD_SECS ]]; then
    echo "$capture: done ($((SECONDS - start)) s); figures in bench/faults.json under $capture"
  elif ((ok == 0)); then
    echo "$capture: as the model promises ($((SECONDS - start)) s)"
  else
    echo "$capture: FAILED: a client did not end as expected or the capture is broken" >&2
  fi
  return $ok
}

failed=()
for name in "$@"; do run "$name" || failed+=("$name"); done
((${#failed[@]} == 0)) || die "failed: ${failed[*]}"
