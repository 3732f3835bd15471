#!/usr/bin/env bash
# Builds test/istio (istiod's own xDS translation over our renders) once per Istio version into
# $MESHWASM_CACHE/istio-xds-<version>/. Prints the folder: one binary per Istio version,
# meshwasm-xds-<label>, so one component serves both versions the tests run.
#
# The Go module proxy serves Istio's release tags only as pseudo-versions, and not every release
# commit: the versions below are the ones it serves (see test/istio/README.md for how they were found).
#   current  test/istio/go.mod         istio.io/istio master after release-1.30 (VERSION 1.31)
#   1.26     test/istio/go.1.26.mod    istio.io/istio tag 1.26.0 (before the 1.27 targetRefs change)
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)/test/istio"
key=$(cat "$here"/main.go "$here"/go*.mod "$here"/go*.sum | sha256sum | cut -c1-12)
out="$MESHWASM_CACHE/istio-xds-$key"
if [[ ! -f "$out/.done" ]]; then
  rm -rf "$out" && mkdir -p "$out"
  for modfile in go.mod go.1.26.mod; do
    label=$( [[ $modfile == go.mod ]] && echo current || echo "${modfile#go.}" | sed 's/\.mod$//')
    start=$SECONDS
    (cd "$here" && go build -trimpath -modfile="$modfile" -o "$out/meshwasm-xds-$label" .) >&2
    echo "components: istio-xds $label built in $((SECONDS - start)) s" >&2
  done
  touch "$out/.done"
fi
echo "$out"
