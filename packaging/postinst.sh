#!/bin/sh
# Lets the hub serve IoT Hub's standard HTTPS port 443 without root, so
# that one connection string works with every Azure IoT SDK (see
# docs/install.md). Without setcap the hub falls back to 8443 and says so.
set -e
if command -v setcap >/dev/null 2>&1; then
  for bin in /usr/bin/hublet /usr/bin/hublet-desktop; do
    [ -x "$bin" ] && setcap cap_net_bind_service=+ep "$bin" || true
  done
fi
exit 0
