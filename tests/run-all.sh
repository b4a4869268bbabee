#!/usr/bin/env bash
# Runs Hublet's whole test suite. This is the README's test command; .ci/run
# calls it after fmt and clippy.
#
#   1. Rust: every crate's unit and integration tests (engine, MQTT gateway,
#      REST API, simulator, serial bridge on pseudo-terminals with the
#      reference Arduino sketch compiled by the host's C++ compiler, CLI
#      against a real `hublet serve`).
#   2. The TypeScript types generated from the API's DTOs must be committed
#      and current.
#   3. Compatibility with the real Azure IoT Python SDKs (tests/compat).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> Rust tests (workspace)"
cargo test --workspace --locked

echo "==> generated TypeScript types are up to date"
if [[ -n "$(git status --porcelain -- ui/src/lib/api/generated 2>/dev/null)" ]]; then
  git status --porcelain -- ui/src/lib/api/generated
  echo "error: ui/src/lib/api/generated differs from the DTOs; run 'cargo test -p hublet-api' and commit the result" >&2
  exit 1
fi

echo "==> compatibility with the Azure IoT Python SDKs"
./tests/compat/run.sh
