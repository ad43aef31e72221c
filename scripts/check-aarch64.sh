#!/usr/bin/env bash
# The Python package on Linux aarch64: its Rust (the binding and the core under it) checked and
# linted for aarch64-unknown-linux-gnu from this x86-64 machine, so an aarch64-only break (code
# behind x86-64 cfgs, a C dependency that does not cross-build) fails CI. Installs the rustup
# target and Debian's cross C compiler (zstd's and mimalloc's C sources) when missing.
#
# A wheel for aarch64, the same way (what the README shows):
#   CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
#   CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc \
#   maturin build --release -m python/Cargo.toml --target aarch64-unknown-linux-gnu
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target list --installed | grep -qx aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu
if ! command -v aarch64-linux-gnu-gcc >/dev/null; then
  sudo_=""; [ "$(id -u)" = 0 ] || sudo_="sudo"
  $sudo_ apt-get update -qq
  $sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    gcc-aarch64-linux-gnu libc6-dev-arm64-cross >/dev/null
fi
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
cargo clippy --locked --target aarch64-unknown-linux-gnu -p synth-forward-python -- -D warnings
