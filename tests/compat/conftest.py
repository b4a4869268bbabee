"""Fixtures: a real `hublet serve` per test, and a small REST helper."""

import json
import os
import signal
import subprocess
import tempfile
import time

import pytest
import requests

HUB_NAME = "myhub.azure-devices.net"


class Hub:
    def __init__(self, data_dir, proc, args=()):
        self.data_dir = data_dir
        self.proc = proc
        self.args = list(args)
        self._load()

    def _load(self):
        data_dir = self.data_dir
        info = json.load(open(os.path.join(data_dir, "hub.json")))
        self.api = info["api"]
        self.https = info["https"]
        self.token = open(os.path.join(data_dir, "api-token")).read().strip()
        self.ca_path = os.path.join(data_dir, "tls", "ca.pem")
        self.ca_pem = open(self.ca_path).read()

    def kill_and_restart(self):
        """SIGKILL the hub (nothing flushed, no goodbye), then start it again
        on the same data directory and ports."""
        self.proc.kill()
        self.proc.wait(timeout=20)
        self.proc = spawn(self.data_dir, self.args)
        self._load()

    def call(self, method, path, **kw):
        r = requests.request(method, self.api + path, headers={"Authorization": "Bearer " + self.token}, timeout=60, **kw)
        if r.status_code >= 400:
            raise AssertionError(f"{method} {path}: {r.status_code} {r.text}")
        return r.json() if r.content else None

    def add_device(self, device_id):
        return self.call("POST", "/api/devices", json={"deviceId": device_id})

    def device_connection_string(self, device_id, gateway="localhost"):
        return self.call("GET", f"/api/devices/{device_id}/connection-string", params={"gateway": gateway})["connectionString"]

    def service_connection_string(self):
        return self.call("GET", "/api/connection-string/service")["connectionString"]

    def trace(self, **params):
        return self.call("GET", "/api/trace", params=params)

    def wait_trace(self, timeout=20, **params):
        deadline = time.time() + timeout
        while time.time() < deadline:
            events = self.trace(**params)
            if events:
                return events
            time.sleep(0.1)
        raise AssertionError(f"no trace events for {params}")


def may_bind_443():
    import socket
    s = socket.socket()
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 443))
        return True
    except OSError:
        return False
    finally:
        s.close()


@pytest.fixture
def hub():
    """A hub named like a real IoT hub, HTTPS on a port of its own (what
    connection strings look like when 443 may not be bound)."""
    yield from serve(["--hub-name", HUB_NAME, "--mqtt", "off", "--mqtts", "127.0.0.1:8883",
                      "--api", "127.0.0.1:0", "--https", "127.0.0.1:0"])


@pytest.fixture
def standard_hub():
    """A hub on IoT Hub's standard ports (HTTPS 443, MQTT/TLS 8883, AMQP/TLS
    5671) with its default name, as `hublet serve` starts when it may bind
    443 (CI runs as root)."""
    if not may_bind_443():
        pytest.skip("this user may not bind port 443 (see docs/connecting-azure-sdk.md: setcap)")
    yield from serve(["--mqtt", "off", "--mqtts", "127.0.0.1:8883", "--api", "127.0.0.1:0",
                      "--https", "127.0.0.1:443", "--amqps", "127.0.0.1:5671"])


def spawn(data_dir, args):
    """Starts `hublet serve` and waits until its hub.json names it."""
    proc = subprocess.Popen(
        [os.environ["HUBLET_BIN"], "--data-dir", data_dir, "serve", *args],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    path = os.path.join(data_dir, "hub.json")
    deadline = time.time() + 30
    while True:
        try:
            if json.load(open(path)).get("pid") == proc.pid:
                return proc
        except (OSError, ValueError):
            pass
        if proc.poll() is not None:
            raise RuntimeError("hublet serve exited: " + proc.stderr.read().decode())
        if time.time() > deadline:
            raise RuntimeError("hublet serve did not start")
        time.sleep(0.05)


def serve(args):
    with tempfile.TemporaryDirectory() as data_dir:
        proc = spawn(data_dir, args)
        h = Hub(data_dir, proc, args)
        os.environ["REQUESTS_CA_BUNDLE"] = h.ca_path
        try:
            yield h
        finally:
            os.environ.pop("REQUESTS_CA_BUNDLE", None)
            h.proc.send_signal(signal.SIGTERM)
            try:
                h.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                h.proc.kill()
