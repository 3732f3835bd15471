#!/usr/bin/env bash
# The Go peer filter of bench/envoy.mjs (bench/peers/go, proxy-wasm-go-sdk), built with the Go
# toolchain for wasip1 as a c-shared module. Keyed by the Go version and a hash of the sources, so
# an edit rebuilds it. Not in components.sh's default order: only the benchmark needs it, and a cold
# build takes over a minute. Prints the module's path.
set -euo pipefail
src="$(cd "$(dirname "$0")/../../bench/peers/go" && pwd)"
go=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
[[ -x "$go" ]] || { echo "components: bench-go-filter needs Go 1.24+ (not found)" >&2; exit 1; }
key=$("$go" env GOVERSION)-$(cat "$src/go.mod" "$src/go.sum" "$src/main.go" | sha256sum | cut -c1-12)
out="$MESHWASM_CACHE/bench-go-filter-$key"
if [[ ! -s "$out/plugin.wasm" ]]; then
  echo "components: building the Go peer filter into $out" >&2
  mkdir -p "$out"
  (cd "$src" && GOOS=wasip1 GOARCH=wasm "$go" build -trimpath -buildmode=c-shared -ldflags='-s -w' \
    -o "$out/plugin.wasm.tmp" .) >&2
  mv "$out/plugin.wasm.tmp" "$out/plugin.wasm"
fi
echo "$out/plugin.wasm"
