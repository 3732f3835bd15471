#!/usr/bin/env bash
# A proxy-wasm module that is not ours: test/go-sdk-module (proxy-wasm-go-sdk from the Go module
# proxy), built for wasip1 as a reactor (-buildmode=c-shared) into the cache, keyed by the SDK
# version and a hash of the module's sources. Prints the .wasm path.
set -euo pipefail
src="$(cd "$(dirname "$0")/../../test/go-sdk-module" && pwd)"
go=$(command -v go || echo /usr/local/go/bin/go)
sdk=$(sed -nE 's/^require github.com\/proxy-wasm\/proxy-wasm-go-sdk (\S+)$/\1/p' "$src/go.mod")
key=$(cat "$src/go.mod" "$src/go.sum" "$src"/*.go | sha256sum | cut -c1-12)
out="$MESHWASM_CACHE/go-sdk-module-$sdk-$key"
if [[ ! -f "$out/gosdk.wasm" ]]; then
  echo "components: building test/go-sdk-module (proxy-wasm-go-sdk $sdk)" >&2
  mkdir -p "$out"
  (cd "$src" && GOOS=wasip1 GOARCH=wasm "$go" build -trimpath -buildmode=c-shared -o "$out/gosdk.wasm.tmp" . >&2)
  mv "$out/gosdk.wasm.tmp" "$out/gosdk.wasm"
fi
echo "$out/gosdk.wasm"
