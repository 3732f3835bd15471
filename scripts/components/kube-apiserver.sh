#!/usr/bin/env bash
# kube-apiserver, built from k8s.io/kubernetes as the Go module proxy serves it. That module replaces
# its staging modules with local paths, so test/kube-apiserver/go.mod requires it and points each
# staging module at the published one of the same minor (v1.X.Y <-> v0.X.Y). The version variables
# are set the way the upstream release build sets them, so /version reports the real release.
# Prints the kube-apiserver binary's path.
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
mod="$here/test/kube-apiserver"
version=$(cd "$mod" && go list -m -f '{{.Version}}' k8s.io/kubernetes)
[[ -n "$version" ]] || { echo "components: no k8s.io/kubernetes version in $mod/go.mod" >&2; exit 1; }
out="$MESHWASM_CACHE/kube-apiserver-$version"
if [[ ! -x "$out/kube-apiserver" ]]; then
  echo "components: building kube-apiserver $version into $out (several minutes the first time)" >&2
  mkdir -p "$out"
  minor=${version#v1.}
  minor=${minor%%.*}
  pkg=k8s.io/component-base/version
  ldflags="-s -w -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  (cd "$mod" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$out/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver) >&2
  mv "$out/kube-apiserver.tmp" "$out/kube-apiserver"
fi
echo "$out/kube-apiserver"
