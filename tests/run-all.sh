#!/usr/bin/env bash
# Runs Hublet's whole test suite: every Rust crate's unit and integration tests.
# This is the README's test command; .ci/run calls it after fmt and clippy.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> Rust tests (workspace)"
cargo test --workspace --locked
