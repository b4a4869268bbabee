#!/usr/bin/env bash
# Runs Hublet's whole test suite. This is the README's test command; .ci/run
# calls it after fmt and clippy. It installs what is missing first
# (tests/setup.sh).
#
#   1. Rust: every crate's unit and integration tests (engine, MQTT gateway,
#      REST API, simulator, serial bridge on pseudo-terminals with the
#      reference Arduino sketch compiled by the host's C++ compiler, the
#      composition root, CLI against a real `hublet serve`).
#      The fuzz targets (crates/hublet-fuzz) replay their saved corpus
#      with random mutations in `cargo test`, then libFuzzer runs each,
#      coverage-guided, for 10 s (tests/fuzz/run.sh).
#   2. The TypeScript types generated from the API's DTOs must be committed
#      and current.
#   3. The UI: type check (svelte-check), lint (eslint), unit tests (Vitest),
#      production build.
#   4. Compatibility with the real Azure IoT Python SDKs (tests/compat),
#      and every sh / python snippet in docs/ run as written against a hub
#      (tests/compat/test_docs.py).
#   5. The example QA scenarios (examples/scenarios) with `hublet test`
#      against `hublet serve --demo`, their JUnit reports validated against
#      the Jenkins JUnit schema (tests/scenarios/run.sh).
#   6. End to end: headless Chromium against `hublet serve --ui`, and the
#      real desktop app through tauri-driver and WebKitWebDriver under Xvfb.
#      Screenshots land in tests/e2e/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
# Each step's heading says when it started and how far into the run, so a
# slow CI run shows which step grew.
phase() { echo "==> $* [$(date -u +%H:%M:%S), $((SECONDS / 60)) min $((SECONDS % 60)) s in]"; }

./tests/setup.sh

phase "Rust tests (workspace)"
cargo test --workspace --locked
# The CLI's integration tests made cargo build the hublet binary with the
# workspace's features; the later steps use that one rather than building
# the dependencies again for `-p hublet` alone.
export HUBLET_BIN="$PWD/target/debug/hublet"
test -x "$HUBLET_BIN"

phase "fuzzing: a short coverage-guided run of every target (libFuzzer, stable)"
# A fixed seed, so that the suite checks the same ground on every run; new
# ground is for the long runs (docs/reliability.md), whose finds are added
# to tests/fuzz/corpus and replayed by `cargo test` from then on.
SEED=1 ./tests/fuzz/run.sh all 10
# The instrumented build is about 2 GB that no later step reads; a CI
# machine's disk is not ours to size, so give it back (the corpus and any
# crash artifacts stay under target/fuzz).
rm -rf "target/fuzz/$(rustc -vV | sed -n 's/^host: //p')" target/fuzz/release
df -h . | tail -1

phase "generated TypeScript types are up to date"
if [[ -n "$(git status --porcelain -- ui/src/lib/api/generated 2>/dev/null)" ]]; then
  git status --porcelain -- ui/src/lib/api/generated
  echo "error: ui/src/lib/api/generated differs from the DTOs; run 'cargo test -p hublet-api' and commit the result" >&2
  exit 1
fi

phase "UI: type check, lint, unit tests, build"
npm run --silent check:ui
npm run --silent lint:ui
npm run --silent test:ui
npm run --silent build:ui

phase "compatibility with the Azure IoT Python SDKs"
./tests/compat/run.sh

phase "QA scenarios: examples/scenarios with their own demo hub (test --serve --demo), JUnit reports against their schema"
./tests/scenarios/run.sh

phase "end to end: headless Chromium against hublet serve --ui"
node tests/e2e/browser.mjs --hublet "$HUBLET_BIN"

phase "end to end: the desktop app (tauri-driver, WebKitWebDriver, Xvfb)"
cargo build -p hublet-desktop --features custom-protocol --locked
xvfb-run -a -s "-screen 0 1440x900x24" node tests/e2e/desktop.mjs --app target/debug/hublet-desktop
