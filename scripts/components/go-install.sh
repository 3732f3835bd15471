# Sourced by the component scripts that `go install` a Go module's command at a pinned version (no
# replace directives in its go.mod): builds it once into $MESHWASM_CACHE/NAME-VERSION and prints the
# binary's path.
#
#   go_install_component NAME PACKAGE VERSION [VAR=VALUE...]   (VAR=VALUE: extra build environment)
go_install_component() {
  local name=$1 package=$2 version=$3
  shift 3
  local out="$MESHWASM_CACHE/$name-$version"
  local bin="$out/${package##*/}"
  if [[ ! -x "$bin" ]]; then
    echo "components: building $name $version into $out (minutes the first time)" >&2
    mkdir -p "$out"
    # From an empty folder, so only the module's own go.mod decides the dependencies.
    (cd "$(mktemp -d)" && env GOBIN="$out" "$@" go install -trimpath "$package@$version") >&2
  fi
  echo "$bin"
}
