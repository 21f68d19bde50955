#!/usr/bin/env bash
# Builds every pola image offline: for each role, stage a rootfs (the release binary, the shared
# libraries ldd lists, the dynamic loader, /etc/passwd with a non-root user, an empty /tmp) and
# `docker build` it FROM scratch with services/Dockerfile; the same for the tcpdump sidecar
# (pola-capture + Debian's tcpdump, and nft and tc for the network faults it injects).
# Prints each image's size. Usage: images.sh [image...]
set -euo pipefail
cd "$(dirname "$0")/.."

ROLES=(mqtt-broker mqtt-publisher mqtt-subscriber tcp-echo-server tcp-echo-client rest-api rest-client
       zmq-rep-server zmq-req-client zmq-pusher zmq-worker zmq-sink zmq-publisher zmq-subscriber)
# Size goals, in MB of 10^6 bytes as docker prints them: the broker 12, every other image 15.
goal_mb() { if [[ $1 == mqtt-broker ]]; then echo 12; else echo 15; fi; }
STAGE=build/images

docker info >/dev/null 2>&1 || { echo "images: the Docker daemon is not running (start it: dockerd, or make setup)" >&2; exit 1; }

# Copies each file with the libraries and loader it needs into rootfs, at the paths ldd names.
stage_binaries() {
  local rootfs=$1; shift
  for bin in "$@"; do
    [[ -x $bin ]] || { echo "images: $bin is missing: run cargo build --release" >&2; exit 1; }
    # Our binaries go to /<name>; a system one (tcpdump) keeps its path.
    if [[ $bin == /* ]]; then install -D -m 0755 "$bin" "$rootfs$bin"; else install -D -m 0755 "$bin" "$rootfs/$(basename "$bin")"; fi
    # "libc.so.6 => /lib/.../libc.so.6 (0x...)" and "/lib64/ld-linux-x86-64.so.2 (0x...)"
    ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | while read -r lib; do
      [[ -e $rootfs$lib ]] || install -D -m 0755 "$(readlink -f "$lib")" "$rootfs$lib"
    done
  done
}

# The files every image shares: users for USER and for tcpdump's -Z root, a hosts lookup order
# for the compose network's DNS, and a /tmp any user may write (ready files).
stage_etc() {
  local rootfs=$1
  mkdir -p "$rootfs/etc" "$rootfs/tmp"
  chmod 1777 "$rootfs/tmp"
  printf 'root:x:0:0:root:/:/nonexistent\npola:x:65532:65532:pola:/:/nonexistent\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\npola:x:65532:\n' >"$rootfs/etc/group"
  printf 'hosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
}

# build <image name> <user> <entry binary> <files...>
build() {
  local name=$1 user=$2 entry=$3; shift 3
  local dir=$STAGE/$name
  rm -rf "$dir" && mkdir -p "$dir/rootfs"
  stage_binaries "$dir/rootfs" "$@"
  stage_etc "$dir/rootfs"
  ln -s "/$entry" "$dir/rootfs/entrypoint"
  # Skip docker build when the image already holds exactly this rootfs (a warm `make capture`).
  local sum current
  sum=$(tar -C "$dir/rootfs" --sort=name --mtime=@0 --owner=0 --group=0 -c . | sha256sum | cut -c1-16)
  current=$(docker image inspect -f '{{index .Config.Labels "pola.rootfs"}}' "pola/$name:latest" 2>/dev/null || true)
  if [[ $current != "$sum" ]]; then
    docker build -q -f services/Dockerfile --build-arg "USER=$user" --label "pola.rootfs=$sum" \
      -t "pola/$name:latest" "$dir" >/dev/null 2> >(grep -v -e DEPRECATED -e 'legacy builder' -e 'Install the buildx' -e 'BuildKit is currently' -e '^ *https://docs.docker.com' -e '^$' >&2) ||
      { echo "images: docker build of pola/$name failed" >&2; exit 1; }
  fi
  local bytes mb
  bytes=$(docker image inspect -f '{{.Size}}' "pola/$name:latest")
  mb=$(awk -v b="$bytes" 'BEGIN {printf "%.1f", b / 1e6}')
  printf '%-28s %6s MB%s\n' "pola/$name:latest" "$mb" "$(awk -v b="$bytes" -v g="$(goal_mb "$name")" 'BEGIN {if (b > g * 1e6) printf "  (over the %d MB goal)", g}')"
}

wanted=("$@")
[[ ${#wanted[@]} -gt 0 ]] || wanted=("${ROLES[@]}" capture)
for name in "${wanted[@]}"; do
  if [[ $name == capture ]]; then
    build capture 0 pola-capture target/release/pola-capture /usr/bin/tcpdump /usr/sbin/nft /usr/sbin/tc
  elif [[ " ${ROLES[*]} " == *" $name "* ]]; then
    build "$name" 65532:65532 "$name" "target/release/$name"
  else
    echo "images: unknown image '$name'; valid: ${ROLES[*]} capture" >&2; exit 1
  fi
done
