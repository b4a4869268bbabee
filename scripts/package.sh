#!/usr/bin/env bash
# Builds Hublet's Linux packages with the Tauri bundler: a .deb and an .rpm
# with the desktop app (hublet-desktop), the hublet CLI, a desktop entry and
# icons, man pages and bash/zsh/fish completions. No AppImage: its tools are
# downloaded at build time, which an offline machine cannot do.
#
#   scripts/package.sh            # → target/release/bundle/{deb,rpm}/
#
# Release binaries are built without debug information and stripped, for a
# small install.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_STRIP=true
# The Tauri CLI comes from the lock file (npm ci), never fetched by npx.
[[ -x node_modules/.bin/tauri ]] || npm ci --no-audit --no-fund
# One cargo build for both binaries: built apart (the CLI here, the app by
# `tauri build`), each would resolve the shared dependencies with its own
# features (the app's serde has `rc`), so nearly everything compiled twice.
# Built together they share one feature set, and `tauri bundle` then packages
# what is built. The UI is embedded at compile time, so it is built first.
npm run build:ui
cargo build --release --locked -p hublet -p hublet-desktop --features hublet-desktop/custom-protocol
stage=target/package
rm -rf "$stage"
mkdir -p "$stage/man" "$stage/completions"
target/release/hublet man --out "$stage/man" 2>/dev/null
gzip -9n "$stage"/man/*.1
target/release/hublet completions bash > "$stage/completions/hublet"
target/release/hublet completions zsh > "$stage/completions/_hublet"
target/release/hublet completions fish > "$stage/completions/hublet.fish"
npx --no-install tauri bundle --bundles deb,rpm --features custom-protocol
ls -l target/release/bundle/deb/*.deb target/release/bundle/rpm/*.rpm
