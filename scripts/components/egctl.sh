#!/usr/bin/env bash
# egctl, Envoy Gateway's CLI, built from its Go module at the pinned version (the same as
# envoy-gateway.sh) into a version-keyed cache folder. The tests use `egctl x translate`, which runs
# Envoy Gateway's own Gateway API to xDS translation offline. Prints the binary's path.
set -euo pipefail
version=v1.9.0
out="$MESHWASM_CACHE/egctl-$version"
bin="$out/egctl"
if [[ ! -x "$bin" ]]; then
  echo "components: building egctl $version (a few minutes the first time)" >&2
  mkdir -p "$out"
  GOBIN="$out" go install -trimpath "github.com/envoyproxy/gateway/cmd/egctl@$version" >&2
fi
echo "$bin"
