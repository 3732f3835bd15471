#!/usr/bin/env bash
# Envoy Gateway's controller (`envoy-gateway server`), built from its Go module at the pinned version
# into a version-keyed cache folder. The tests run it in standalone mode (file provider, host
# infrastructure), which needs no Kubernetes. Prints the binary's path.
set -euo pipefail
. "$(dirname "$0")/go-install.sh"
go_install_component envoy-gateway github.com/envoyproxy/gateway/cmd/envoy-gateway v1.9.0
