#!/usr/bin/env bash
# Envoy Gateway's controller (`envoy-gateway server`), built from its Go module at the pinned version
# into a version-keyed cache folder. The tests run it in standalone mode (file provider, host
# infrastructure), which needs no Kubernetes. Prints the binary's path.
set -euo pipefail
version=v1.9.0
out="$MESHWASM_CACHE/envoy-gateway-$version"
bin="$out/envoy-gateway"
if [[ ! -x "$bin" ]]; then
  echo "components: building envoy-gateway $version (a few minutes the first time)" >&2
  mkdir -p "$out"
  GOBIN="$out" go install -trimpath "github.com/envoyproxy/gateway/cmd/envoy-gateway@$version" >&2
fi
echo "$bin"
