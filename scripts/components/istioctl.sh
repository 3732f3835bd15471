#!/usr/bin/env bash
# istioctl from the same istio.io/istio module test/istio builds (the current one), for
# `istioctl validate` / `istioctl analyze --use-kube=false` on every render. Prints the binary.
# Istio's release commits are not all served by the Go module proxy; see scripts/components/crds.sh.
set -euo pipefail
. "$(dirname "$0")/go-install.sh"
go_install_component istioctl istio.io/istio/istioctl/cmd/istioctl "${MESHWASM_ISTIO_MODULE_VERSION:-v0.0.0-20260827124520-eed52ebb66ad}"
