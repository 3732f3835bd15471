#!/usr/bin/env bash
# istioctl from the same istio.io/istio module test/istio builds (the current one), for
# `istioctl validate` / `istioctl analyze --use-kube=false` on every render. Prints the binary.
# Istio's release commits are not all served by the Go module proxy; see scripts/components/crds.sh.
set -euo pipefail
version=${MESHWASM_ISTIO_MODULE_VERSION:-v0.0.0-20260827124520-eed52ebb66ad}
out="$MESHWASM_CACHE/istioctl-$version"
if [[ ! -x "$out/istioctl" ]]; then
  mkdir -p "$out"
  start=$SECONDS
  # Outside any module, so only the module's own go.mod decides the dependencies.
  (cd "$(mktemp -d)" && GOBIN="$out" go install -trimpath "istio.io/istio/istioctl/cmd/istioctl@$version") >&2
  echo "components: istioctl built in $((SECONDS - start)) s" >&2
fi
echo "$out/istioctl"
