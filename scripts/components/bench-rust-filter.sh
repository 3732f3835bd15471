#!/usr/bin/env bash
# The Rust peer filter of bench/envoy.mjs (bench/peers/rust, the proxy-wasm crate), built for
# wasm32-unknown-unknown. The only wasm32 Rust standard library the registries offer is Debian's
# libstd-rust-dev-wasm32, for Debian's rustc 1.63, so this uses Debian's rustc and cargo (installed
# here when missing) and the crate versions pinned in Cargo.lock that still build with 1.63. Cargo
# 1.65 reads crates.io through its sparse index only as an unstable feature, hence RUSTC_BOOTSTRAP.
# The wasm32 target links with rust-lld, which Debian's rustc does not ship: Debian's lld-14 (which
# libstd-rust-dev-wasm32 recommends) provides the same linker as wasm-ld-14.
# Not in components.sh's default order: only the benchmark needs it. Prints the module's path.
set -euo pipefail
src="$(cd "$(dirname "$0")/../../bench/peers/rust" && pwd)"
if [[ ! -x /usr/bin/cargo || ! -d /usr/lib/rustlib/wasm32-unknown-unknown || ! -x /usr/bin/wasm-ld-14 ]]; then
  echo "components: installing Debian's rustc, cargo, libstd-rust-dev-wasm32 and lld-14" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    rustc cargo libstd-rust-dev-wasm32 lld-14 >&2
fi
key=$(/usr/bin/rustc --version | cut -d' ' -f2)-$(cat "$src/Cargo.toml" "$src/Cargo.lock" "$src/src/lib.rs" | sha256sum | cut -c1-12)
out="$MESHWASM_CACHE/bench-rust-filter-$key"
if [[ ! -s "$out/plugin.wasm" ]]; then
  echo "components: building the Rust peer filter into $out" >&2
  mkdir -p "$out"
  # Debian's toolchain, not a rustup one that may sit earlier on PATH.
  (cd "$src" && PATH=/usr/bin:/bin RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 CARGO_HOME="$out/cargo-home" \
    CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=/usr/bin/wasm-ld-14 \
    /usr/bin/cargo -Z sparse-registry build --locked --release --target wasm32-unknown-unknown \
    --target-dir "$out/target") >&2 2> >(grep -v 'rustc-check-cfg' >&2)
  cp "$out/target/wasm32-unknown-unknown/release/bench_rust_filter.wasm" "$out/plugin.wasm"
  rm -rf "$out/target" "$out/cargo-home"
fi
echo "$out/plugin.wasm"
