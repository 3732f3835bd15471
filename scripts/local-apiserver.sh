#!/usr/bin/env bash
# A real, local kube-apiserver for trying `meshwasm apply` and for the cluster tests: kine (etcd API
# over SQLite) plus kube-apiserver on free loopback ports, a self-signed serving certificate, static
# tokens for an admin (system:masters) and for a restricted user with no permissions (RBAC tests
# grant it what they need), and the mesh CRDs from the upstream Go modules (scripts/components/crds.sh).
# No controller runs: no scheduler, no controller-manager, no mesh control plane.
#
#   scripts/local-apiserver.sh start   builds what is missing (once, into $MESHWASM_CACHE), starts,
#                                      waits until ready, prints the kubeconfig path (last stdout line)
#   scripts/local-apiserver.sh stop    stops what `start` started in the same state folder
#
# State (certificates, database, logs, pids, kubeconfig) lives in $MESHWASM_APISERVER_DIR (default
# ${TMPDIR:-/tmp}/meshwasm-apiserver-$UID); set it to run several instances side by side.
# The kubeconfig has two contexts: admin (current) and restricted.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export MESHWASM_CACHE="${MESHWASM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meshwasm}"
state="${MESHWASM_APISERVER_DIR:-${TMPDIR:-/tmp}/meshwasm-apiserver-$UID}"

log() { echo "local-apiserver: $*" >&2; }

stop() {
  local name pid
  for name in kube-apiserver kine; do
    [[ -f "$state/$name.pid" ]] || continue
    pid=$(<"$state/$name.pid")
    if kill "$pid" 2>/dev/null; then
      for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$state/$name.pid"
  done
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The binaries: MESHWASM_KINE / MESHWASM_KUBE_APISERVER override, else the component cache (built once).
binary() {
  local name=$1 var=$2
  if [[ -n "${!var:-}" ]]; then echo "${!var}"; return; fi
  if [[ ! -x "$MESHWASM_CACHE/bin/$name" ]]; then bash "$here/components.sh" "$name" >&2; fi
  [[ -x "$MESHWASM_CACHE/bin/$name" ]] || { log "$name could not be built (see above)"; exit 1; }
  echo "$MESHWASM_CACHE/bin/$name"
}

# POSTs every object of a YAML file (several documents; Helm's whole `{{- … }}` lines dropped) to its
# collection. CRDs and the ValidatingAdmissionPolicy that Gateway API ships are all these files hold.
install_file() {
  local file=$1 docs doc kind collection
  docs=$(mktemp -d "$state/docs.XXXX")
  grep -v '^[[:space:]]*{{-.*}}[[:space:]]*$' "$file" | awk -v dir="$docs" '
    /^---/ { n++; next } { print > (dir "/" sprintf("%04d", n) ".yaml") }'
  for doc in "$docs"/*.yaml; do
    kind=$(sed -nE 's/^kind: *([A-Za-z]+).*/\1/p' "$doc" | head -n 1)
    case "$kind" in
      '') continue ;;
      CustomResourceDefinition) collection=apis/apiextensions.k8s.io/v1/customresourcedefinitions ;;
      ValidatingAdmissionPolicy) collection=apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies ;;
      ValidatingAdmissionPolicyBinding) collection=apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings ;;
      *) log "$file: unexpected kind $kind"; exit 1 ;;
    esac
    code=$(api -o "$state/install.out" -w '%{http_code}' -X POST -H 'Content-Type: application/yaml' \
      --data-binary "@$doc" "$server/$collection")
    [[ "$code" == 201 || "$code" == 409 ]] || { log "installing $doc from $file: HTTP $code"; cat "$state/install.out" >&2; exit 1; }
  done
  rm -rf "$docs"
}

api() { curl -sS --cacert "$state/pki/serving.crt" -H "Authorization: Bearer $admin_token" "$@"; }

start() {
  local kine apiserver crds
  kine=$(binary kine MESHWASM_KINE)
  apiserver=$(binary kube-apiserver MESHWASM_KUBE_APISERVER)
  if [[ ! -d "$MESHWASM_CACHE/bin/crds" ]]; then bash "$here/components.sh" crds >&2; fi
  crds="$MESHWASM_CACHE/bin/crds"
  [[ -d "$crds/istio" ]] || { log "no CRDs in $crds (scripts/components.sh crds)"; exit 1; }

  stop
  # Whatever fails below, nothing this run started keeps running.
  trap 'log "start failed; stopping what it started"; stop' ERR
  rm -rf "$state/pki" "$state/db" && mkdir -p "$state/pki" "$state/db"
  local began=$SECONDS pki="$state/pki"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=meshwasm-local-apiserver \
    -addext 'subjectAltName=IP:127.0.0.1,DNS:localhost' \
    -keyout "$pki/serving.key" -out "$pki/serving.crt" 2>/dev/null
  openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
  openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
  admin_token=$(openssl rand -hex 16)
  local restricted_token
  restricted_token=$(openssl rand -hex 16)
  printf '%s,meshwasm-admin,uid-admin,"system:masters"\n%s,meshwasm-restricted,uid-restricted\n' \
    "$admin_token" "$restricted_token" >"$pki/tokens.csv"

  local kine_port port
  kine_port=$(free_port)
  "$kine" --listen-address "127.0.0.1:$kine_port" --metrics-bind-address 0 \
    --endpoint "sqlite://$state/db/state.db?_journal=WAL&cache=shared&_busy_timeout=30000" \
    >"$state/kine.log" 2>&1 &
  echo $! >"$state/kine.pid"

  port=$(free_port)
  # ServiceAccount admission is off: nothing creates the `default` ServiceAccount here (no
  # controller-manager), and the tests create pods to check `meshwasm status` against.
  "$apiserver" --etcd-servers "http://127.0.0.1:$kine_port" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$port" \
    --tls-cert-file "$pki/serving.crt" --tls-private-key-file "$pki/serving.key" \
    --cert-dir "$pki" --token-auth-file "$pki/tokens.csv" --authorization-mode RBAC \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
    --service-cluster-ip-range 10.96.0.0/16 --disable-admission-plugins ServiceAccount \
    --profiling=false --enable-priority-and-fairness=false \
    >"$state/kube-apiserver.log" 2>&1 &
  echo $! >"$state/kube-apiserver.pid"

  server="https://127.0.0.1:$port"
  for _ in $(seq 600); do
    [[ "$(api -o /dev/null -w '%{http_code}' "$server/readyz" 2>/dev/null)" == 200 ]] && break
    kill -0 "$(<"$state/kube-apiserver.pid")" 2>/dev/null || { log "kube-apiserver exited:"; tail -n 20 "$state/kube-apiserver.log" >&2; stop; exit 1; }
    sleep 0.2
  done
  [[ "$(api -o /dev/null -w '%{http_code}' "$server/readyz")" == 200 ]] || { log "not ready after 120 s (logs in $state)"; stop; exit 1; }
  local ready=$((SECONDS - began))

  local file
  for file in "$crds"/istio/*.yaml "$crds"/gateway-api/*.yaml "$crds"/envoy-gateway/*.yaml; do install_file "$file"; done
  # Served once established: wait for the groups meshwasm renders into.
  local group
  for group in extensions.istio.io/v1alpha1 networking.istio.io/v1alpha3 gateway.envoyproxy.io/v1alpha1 gateway.networking.k8s.io/v1; do
    for _ in $(seq 300); do
      [[ "$(api -o /dev/null -w '%{http_code}' "$server/apis/$group")" == 200 ]] && break
      sleep 0.1
    done
  done

  cat >"$state/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: $server
    certificate-authority: $pki/serving.crt
users:
- name: admin
  user:
    token: $admin_token
- name: restricted
  user:
    token: $restricted_token
contexts:
- name: admin
  context: {cluster: local, user: admin}
- name: restricted
  context: {cluster: local, user: restricted}
current-context: admin
EOF
  log "ready in $ready s, CRDs installed after $((SECONDS - began)) s: $server (logs and pids in $state)"
  echo "$state/kubeconfig"
}

mkdir -p "$state"
case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
