#!/usr/bin/env bash
# Installs what building and testing Eddy needs and is missing. Idempotent: a second
# run does nothing. Needs root (or sudo) for apt on a fresh Debian machine.
set -euo pipefail
cd "$(dirname "$0")/.."

WASM_BINDGEN_VERSION="$(sed -n 's/^wasm-bindgen = "=\(.*\)"/\1/p' web-ui/Cargo.toml)"
APT_PACKAGES=(protobuf-compiler clang libclang-dev binaryen postgresql chromium chromium-driver)

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing apt packages: ${missing[*]}"
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

# The toolchain pinned by rust-toolchain.toml, with the wasm target for the dashboard.
rustup show active-toolchain >/dev/null 2>&1 || rustup toolchain install
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi

# wasm-bindgen-cli must equal the wasm-bindgen crate version of web-ui/Cargo.toml.
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
  echo "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  # Not --locked: its lock file pins a crate the registry no longer serves.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

# moto's S3-compatible server (PyPI) for the object-store checkpoint storage tests, in
# a virtualenv outside the clone.
MOTO_VENV="${EDDY_VENV:-$HOME/.cache/eddy-venv}"
if [ ! -x "$MOTO_VENV/bin/moto_server" ]; then
  echo "installing moto[server] into $MOTO_VENV"
  python3 -m venv "$MOTO_VENV"
  "$MOTO_VENV/bin/pip" install -q "moto[server]>=5,<6"
fi
