#!/usr/bin/env bash
# egctl, Envoy Gateway's CLI, built from its Go module at the pinned version (the same as
# envoy-gateway.sh) into a version-keyed cache folder. The tests use `egctl x translate`, which runs
# Envoy Gateway's own Gateway API to xDS translation offline. Prints the binary's path.
set -euo pipefail
. "$(dirname "$0")/go-install.sh"
go_install_component egctl github.com/envoyproxy/gateway/cmd/egctl v1.9.0
