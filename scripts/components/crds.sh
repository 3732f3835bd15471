#!/usr/bin/env bash
# The upstream CRDs, as the Go module proxy serves the modules that define them (`go mod download
# -json` gives each module's directory; nothing is copied into the repository). Prints a cache
# folder of links: istio/*.yaml (the current Istio), istio-1.26/*.yaml (the last minor before the
# 1.27 EnvoyFilter targetRefs change), envoy-gateway/*.yaml, gateway-api/*.yaml. The Envoy Gateway files are
# Helm templates: their only template lines are whole `{{- if … }}`/`{{- end }}` lines, which a reader drops.
set -euo pipefail
# Istio's release tags carry no `v`, so the proxy serves them as pseudo-versions, and it serves few
# release commits: master after release-1.30 stands in for 1.30.x; tag 1.26.0 is served as is.
# The same two versions test/istio builds (scripts/components/istio-xds.sh).
istio=${MESHWASM_ISTIO_MODULE_VERSION:-v0.0.0-20260827124520-eed52ebb66ad}
istio126=v0.0.0-20250506181944-c2e9871f340c # tag 1.26.0
eg=v1.9.0
gwapi=v1.6.1 # the version Envoy Gateway v1.9.0's go.mod requires
out="$MESHWASM_CACHE/crds-istio-$istio-$istio126-eg-$eg-gwapi-$gwapi"

moddir() {
  (cd "$(mktemp -d)" && go mod download -json "$1" | sed -nE 's/^\s*"Dir": "(.*)",?$/\1/p')
}

if [[ ! -f "$out/.done" ]]; then
  rm -rf "$out" && mkdir -p "$out/istio" "$out/istio-1.26" "$out/envoy-gateway" "$out/gateway-api"
  d=$(moddir "istio.io/istio@$istio")
  ln -s "$d/manifests/charts/base/files/crd-all.gen.yaml" "$out/istio/crd-all.gen.yaml"
  d=$(moddir "istio.io/istio@$istio126")
  ln -s "$d/manifests/charts/base/files/crd-all.gen.yaml" "$out/istio-1.26/crd-all.gen.yaml"
  d=$(moddir "github.com/envoyproxy/gateway@$eg")
  for f in "$d"/charts/gateway-crds-helm/templates/generated/*.yaml; do
    [[ -f "$f" ]] && ln -sf "$f" "$out/envoy-gateway/$(basename "$f")"
  done
  d=$(moddir "sigs.k8s.io/gateway-api@$gwapi")
  for f in "$d"/config/crd/experimental/gateway.networking*.yaml; do ln -s "$f" "$out/gateway-api/$(basename "$f")"; done
  for sub in istio istio-1.26 envoy-gateway gateway-api; do
    compgen -G "$out/$sub/*.yaml" >/dev/null || { echo "components: no $sub CRDs found" >&2; exit 1; }
  done
  touch "$out/.done"
fi
echo "$out"
