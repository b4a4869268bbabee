#!/usr/bin/env bash
# Coverage-guided fuzzing of Hublet's targets with libFuzzer, on the stable
# toolchain (no cargo-fuzz or nightly needed: the coverage instrumentation
# is passed to rustc directly; AddressSanitizer is not used, as it needs
# nightly, and Rust's own checks stand in for it).
#
#   tests/fuzz/run.sh                      every target, 30 s each
#   tests/fuzz/run.sh all 10               every target, 10 s each (CI)
#   tests/fuzz/run.sh mqtt_session 3600    one target for an hour
#   RUNS=10000000 tests/fuzz/run.sh all    every target until 10 million inputs
#   SEED=1 tests/fuzz/run.sh all 10        a fixed seed: the same mutations on every run
#
# New interesting inputs go to target/fuzz/corpus/<target> (the saved seeds in
# tests/fuzz/corpus/<target> are read, never written); a crash is saved in
# target/fuzz/artifacts/<target>/ and the script exits non-zero.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
targets=(mqtt_session amqp_session mqtt_topics property_bag sas_token serial_line rest_body)
if [[ $# -ge 1 && "$1" != "all" ]]; then targets=("$1"); fi
seconds="${2:-30}"
export CARGO_TARGET_DIR="$root/target/fuzz"
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions"
# Overflow checks come from Cargo.toml's profile: on, except in serde_amqp,
# which is built as in production (see the note there).
# With an explicit --target, RUSTFLAGS reach only the fuzzed code, not build
# scripts and proc-macros (which cannot link the coverage hooks).
host="$(rustc -vV | sed -n 's/^host: //p')"
cargo build --manifest-path "$here/Cargo.toml" --release --bins --quiet --locked --target "$host"
for t in "${targets[@]}"; do
  work="$CARGO_TARGET_DIR/corpus/$t"
  artifacts="$CARGO_TARGET_DIR/artifacts/$t"
  mkdir -p "$work" "$artifacts"
  limit=(-max_total_time="$seconds")
  if [[ -n "${RUNS:-}" ]]; then limit=(-runs="$RUNS"); fi
  if [[ -n "${SEED:-}" ]]; then limit+=(-seed="$SEED"); fi
  echo "== $t (${RUNS:+$RUNS inputs}${RUNS:-$seconds s})"
  "$CARGO_TARGET_DIR/$host/release/$t" "$work" "$here/corpus/$t" \
    -artifact_prefix="$artifacts/" -timeout=20 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 "${limit[@]}" 2>&1 | grep -E "^(#[0-9]+ +(DONE|INITED)|stat::|==[0-9]+==|SUMMARY|Done [0-9]+ runs)|panicked|^thread" || true
  if compgen -G "$artifacts/crash-*" > /dev/null || compgen -G "$artifacts/timeout-*" > /dev/null; then
    echo "!! $t: a crash or timeout was saved in $artifacts" >&2
    exit 1
  fi
done
