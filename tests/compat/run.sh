#!/usr/bin/env bash
# Compatibility tests with the real Azure IoT SDKs: Python (device and
# service) and the Node service SDK (AMQP C2D send and feedback).
#
# Creates (or reuses) a virtual environment with the pinned SDKs, builds the
# `hublet` binary, and runs pytest. Each test starts its own `hublet serve`.
# The device SDK only dials port 8883, so that port must be free on 127.0.0.1.
#
#   HUBLET_VENV   where the venv lives (default ~/.cache/hublet/compat-venv;
#                 a missing or broken one is rebuilt).
set -euo pipefail
cd "$(dirname "$0")/../.."

venv="${HUBLET_VENV:-$HOME/.cache/hublet/compat-venv}"
stamp="$venv/.requirements"
if ! cmp -s tests/compat/requirements.txt "$stamp" 2>/dev/null || ! "$venv/bin/python" -c "import azure.iot.device, azure.iot.hub" 2>/dev/null; then
  echo "creating the Python environment in $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --upgrade pip
  "$venv/bin/pip" install --quiet -r tests/compat/requirements.txt
  cp tests/compat/requirements.txt "$stamp"
fi

# The Node SDKs (azure-iothub, azure-iot-device and its HTTP and MQTT
# transports), pinned by the lock file; installed again when it changes.
node_stamp=tests/compat/node/node_modules/.hublet-lock
if ! cmp -s tests/compat/node/package-lock.json "$node_stamp" 2>/dev/null; then
  npm ci --prefix tests/compat/node --no-audit --no-fund
  cp tests/compat/node/package-lock.json "$node_stamp"
fi

# tests/run-all.sh passes the binary its `cargo test` built (a second
# `cargo build -p hublet` would rebuild the dependencies with other features).
if [[ -z "${HUBLET_BIN:-}" ]]; then
  cargo build --locked -p hublet
  export HUBLET_BIN="$PWD/target/debug/hublet"
fi
"$venv/bin/python" -m pytest tests/compat -q -p no:cacheprovider "$@"
