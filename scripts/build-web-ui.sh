#!/usr/bin/env bash
# Builds Eddy's dashboard (web-ui/, a Leptos CSR app) into web-ui/dist:
# cargo → wasm32, wasm-bindgen → ES module, wasm-opt -Oz when available, then the
# static index.html and style.css. The master serves web-ui/dist at its root.
#
# Needs: the wasm32-unknown-unknown target and wasm-bindgen-cli matching the
# wasm-bindgen version pinned in web-ui/Cargo.toml. Honours CARGO_TARGET_DIR.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

target_dir="${CARGO_TARGET_DIR:-$HOME/.cache/eddy-target}"
export CARGO_TARGET_DIR="$target_dir"
dist_dir="web-ui/dist"
# Built into a staging dir and swapped in only when something changed, so an unchanged
# dashboard does not touch web-ui/dist (whose change recompiles the control plane).
out_dir="web-ui/dist.staging"

if ! command -v wasm-bindgen >/dev/null 2>&1; then
    echo "error: wasm-bindgen not found; install it with:" >&2
    echo "  cargo install wasm-bindgen-cli --version 0.2.130" >&2
    exit 1
fi

cargo build --release --target wasm32-unknown-unknown --manifest-path web-ui/Cargo.toml

wasm="$target_dir/wasm32-unknown-unknown/release/eddy_web_ui.wasm"
rm -rf "$out_dir"
mkdir -p "$out_dir"
wasm-bindgen --target web --no-typescript --out-dir "$out_dir" --out-name eddy_web_ui "$wasm"

# Binaryen before v111 merged externref into anyref and rewrites wasm-bindgen's externref
# table into one browsers reject at startup ("Table.set(): Argument 1 is invalid"), so
# only a recent wasm-opt is used; v116 is a conservative floor.
min_wasm_opt=116
if command -v wasm-opt >/dev/null 2>&1; then
    wasm_opt_version="$(wasm-opt --version | grep -oE '[0-9]+' | head -n1 || true)"
    if [[ -n "$wasm_opt_version" && "$wasm_opt_version" -ge "$min_wasm_opt" ]]; then
        # No --all-features: wasm-opt takes the features rustc used from the module's
        # target_features section. A failure only costs size: keep the unoptimised module.
        if wasm-opt -Oz -o "$out_dir/eddy_web_ui_bg.wasm.opt" "$out_dir/eddy_web_ui_bg.wasm"; then
            mv "$out_dir/eddy_web_ui_bg.wasm.opt" "$out_dir/eddy_web_ui_bg.wasm"
        else
            rm -f "$out_dir/eddy_web_ui_bg.wasm.opt"
            echo "warning: wasm-opt failed; keeping the unoptimised module" >&2
        fi
    else
        echo "note: wasm-opt ${wasm_opt_version:-of unknown version} is older than" \
            "v$min_wasm_opt and breaks externref modules; skipping it" >&2
    fi
else
    echo "note: wasm-opt not on PATH; skipping size optimisation" >&2
fi

cp web-ui/index.html web-ui/style.css "$out_dir/"

if [ -d "$dist_dir" ] && diff -rq "$out_dir" "$dist_dir" >/dev/null; then
    rm -rf "$out_dir"
else
    rm -rf "$dist_dir"
    mv "$out_dir" "$dist_dir"
fi
out_dir="$dist_dir"

echo "dashboard built in $out_dir:"
ls -l "$out_dir"
