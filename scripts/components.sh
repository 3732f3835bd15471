#!/usr/bin/env bash
# Installs or builds the real components the tests run (Envoy, Go-built tools, ...) into one cache,
# each keyed by its version, so only the first run pays. Used by `npm test` (pretest) and .ci/run.
#
#   scripts/components.sh            every component, in the order below
#   scripts/components.sh NAME...    only those
#
# Each scripts/components/NAME.sh is idempotent and prints the path of what it installed as the last
# line of stdout (progress goes to stderr). This script links $MESHWASM_CACHE/bin/NAME to that path,
# which is where test/helpers/components.ts looks.
#
# With CI set, any failure fails the run. Outside CI a component that cannot be had is reported and
# the run goes on: the tests that need it skip and print why.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export MESHWASM_CACHE="${MESHWASM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meshwasm}"
mkdir -p "$MESHWASM_CACHE/bin"

# Cheapest first. A component's script may rely on the ones before it.
order=(envoy crds node22 go-sdk-module envoy-gateway egctl kine kube-apiserver istio-xds istioctl)
if (($#)); then order=("$@"); fi

failed=0
for name in "${order[@]}"; do
  script="$here/components/$name.sh"
  [[ -f "$script" ]] || { echo "components: no such component: $name" >&2; failed=1; continue; }
  start=$SECONDS
  if path=$(bash "$script" | tail -n 1) && [[ -n "$path" && -e "$path" ]]; then
    ln -sfn "$path" "$MESHWASM_CACHE/bin/$name"
    ((SECONDS - start > 5)) && echo "components: $name ready in $((SECONDS - start)) s: $path" >&2
  else
    echo "components: $name could not be installed (see above)" >&2
    rm -f "$MESHWASM_CACHE/bin/$name"
    failed=1
  fi
done

if ((failed)) && [[ -n "${CI:-}" ]]; then exit 1; fi
exit 0
