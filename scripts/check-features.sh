#!/usr/bin/env bash
# Fails if cargo would compile a shared dependency with other features for `make test` than for
# `make up` or `make build`: each such crate (and everything above it) would then be compiled twice,
# once per build, and each build would undo the other's. The fix is a line in the
# workspace-hack list of services/common/Cargo.toml.
set -euo pipefail
cd "$(dirname "$0")/.."

# Every package of a build as `name version features`, one line each.
features() { cargo tree "$@" -f '{p} {f}' --prefix none 2>/dev/null | sed 's/ (\*)$//; s/ (proc-macro)//' | sort -u; }

tests=$(features --workspace -e normal,build,dev)
status=0
for build in "roles:--workspace --exclude pola --exclude pola-compose-tests" "bins:--workspace"; do
  name=${build%%:*}
  # A package whose line the test build does not have verbatim has other features there.
  differ=$(comm -23 <(features ${build#*:} -e normal,build) <(echo "$tests"))
  if [[ -n $differ ]]; then
    echo "check-features: the $name build and the test build compile these with other features:" >&2
    sed 's/^/  /' <<<"$differ" >&2
    status=1
  fi
done
[[ $status == 0 ]] && echo "check-features: the roles, bins and test builds share every dependency's features"
exit $status
