#!/usr/bin/env bash
# Installs what the test suite needs and a fresh Debian or Ubuntu machine
# (with Rust and Node.js) lacks. Idempotent and quick when all is there;
# run by tests/run-all.sh and .ci/run.
#
#   - Debian packages: Python venv (Azure SDK compatibility tests), g++ (the
#     reference Arduino sketch), WebKitGTK and GTK headers (the Tauri desktop
#     app), Xvfb + WebKitWebDriver (its end-to-end tests), Chromium (the
#     browser end-to-end tests), xmllint (JUnit reports of the example
#     scenarios checked against their schema).
#   - tauri-driver (cargo install), the npm packages (npm ci).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
need_pkg() { dpkg -s "$1" >/dev/null 2>&1 || missing+=("$1"); }
for p in python3 python3-venv g++ pkg-config libwebkit2gtk-4.1-dev libgtk-3-dev librsvg2-dev \
         libsoup-3.0-dev libjavascriptcoregtk-4.1-dev xvfb xauth webkit2gtk-driver chromium \
         x11-apps netpbm libxml2-utils; do
  need_pkg "$p"
done
if ((${#missing[@]})); then
  echo "==> installing Debian packages: ${missing[*]}"
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: please install (Debian names): ${missing[*]}" >&2
    exit 1
  fi
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v tauri-driver >/dev/null 2>&1; then
  echo "==> cargo install tauri-driver"
  cargo install tauri-driver --locked --version "^2" --quiet
fi

if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "==> npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
