#!/usr/bin/env bash
# The example scenarios (examples/scenarios) with `hublet test --serve
# --demo` (the run starts its own hub, and restarts it for the crash
# scenario), and their JUnit reports checked against the Jenkins JUnit schema
# (junit-10.xsd, the one Jenkins' xunit plugin and pytest's own tests use;
# taken from pytest's source distribution on PyPI, MIT).
#
#   HUBLET_BIN   the hublet binary (default target/debug/hublet)
#   HUBLET_VENV  a Python venv with pip (default: the compatibility tests' one)
set -euo pipefail
cd "$(dirname "$0")/../.."

bin="${HUBLET_BIN:-$PWD/target/debug/hublet}"
out="$PWD/target/scenarios"
mkdir -p "$out"

xsd="$out/junit-10.xsd"
if [[ ! -s "$xsd" ]]; then
  venv="${HUBLET_VENV:-$HOME/.cache/hublet/compat-venv}"
  [[ -x "$venv/bin/pip" ]] || python3 -m venv "$venv"
  "$venv/bin/pip" download -q --no-deps --no-binary :all: pytest==9.2.0 -d "$out/pypi"
  tar -xzf "$out/pypi/pytest-9.2.0.tar.gz" -O pytest-9.2.0/testing/example_scripts/junit-10.xsd > "$xsd"
fi

# The run's own hub (`--serve`) with the demo fleet, on a data directory
# that already holds the example command library.
data="$(mktemp -d)"
trap 'rm -rf "$data"' EXIT
cp examples/commands.toml "$data/commands.toml"

echo "-- examples/scenarios (must pass), against their own hub"
"$bin" --data-dir "$data" test --serve --demo examples/scenarios --junit "$out/examples.xml" --seed 1
xmllint --noout --schema "$xsd" "$out/examples.xml"
grep -q 'failures="0" errors="0"' "$out/examples.xml"

echo "-- tests/scenarios/failing.toml (must fail, and its report must still be valid)"
set +e
"$bin" test --serve tests/scenarios/failing.toml --junit "$out/failing.xml" > "$out/failing.log"
code=$?
set -e
[[ $code == 1 ]] || { cat "$out/failing.log"; echo "expected exit code 1, got $code" >&2; exit 1; }
xmllint --noout --schema "$xsd" "$out/failing.xml"
grep -q '<failure' "$out/failing.xml"
grep -q 'method.responded' "$out/failing.xml"
echo "scenarios: passed (reports in $out)"
