#!/usr/bin/env bash
# kine: an etcd API over SQLite, the storage behind the test kube-apiserver (Debian's etcd 3.4 is too
# old for it). Built with CGO_ENABLED=0: kine's sqlite driver then uses its pure-Go SQLite
# (modernc.org/sqlite, selected by a !cgo build tag), so no C toolchain is needed. kine's go.mod has no
# replace directives, so `go install` by version works. Prints the kine binary's path.
set -euo pipefail
. "$(dirname "$0")/go-install.sh"
go_install_component kine github.com/k3s-io/kine v0.17.5 CGO_ENABLED=0
