"""The Azure IoT service SDKs' C2D send over AMQP, unmodified, against
Hublet: Python azure-iot-hub 2.7.0 (uamqp, dials port 5671 whatever the
connection string's port) and Node azure-iothub 1.16 (rhea, dials the port
in HostName, i.e. Hublet's HTTPS port, which serves AMQP too). A device on
MQTT (the Python device SDK) completes each message, and the feedback
record is read back."""

import json
import os
import shutil
import subprocess
import tempfile
import time

import certifi
import pytest
import uamqp.authentication.common as uamqp_common
from azure.iot.device import IoTHubDeviceClient
from azure.iot.hub import IoTHubRegistryManager

from test_service_sdk import service_cs

NODE_DIR = os.path.join(os.path.dirname(__file__), "node")


@pytest.fixture
def uamqp_trusts_the_hub(hub, monkeypatch):
    """uamqp verifies TLS against certifi's bundle, not the system's or
    REQUESTS_CA_BUNDLE; docs/connecting-azure-sdk.md has users append the
    hub's CA to it once. Here, a copy with the CA appended stands in."""
    bundle = tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False)
    with open(certifi.where()) as original:
        shutil.copyfileobj(original, bundle)
    bundle.write(hub.ca_pem)
    bundle.close()
    monkeypatch.setattr(uamqp_common.certifi, "where", lambda: bundle.name)
    yield
    os.unlink(bundle.name)


def device(hub, device_id):
    hub.add_device(device_id)
    client = IoTHubDeviceClient.create_from_connection_string(
        hub.device_connection_string(device_id), server_verification_cert=hub.ca_pem)
    client.connect()
    return client


def feedback_for(hub, message_id, timeout=40):
    rm_https = IoTHubRegistryManager.from_connection_string(service_cs(hub))
    c2d = rm_https.protocol.cloud_to_device_messages
    deadline = time.time() + timeout
    while time.time() < deadline:
        resp = c2d.receive_feedback_notification(raw=True)
        if resp.response.status_code == 200:
            lock = resp.response.headers["ETag"].strip('"')
            c2d.complete_feedback_notification(lock)
            mine = [r for r in json.loads(resp.response.text) if r["originalMessageId"] == message_id]
            if mine:
                return mine[0]
        else:
            time.sleep(0.5)
    raise AssertionError(f"no feedback for {message_id}")


def test_python_send_c2d_message_with_every_property_and_its_feedback(hub, uamqp_trusts_the_hub):
    client = device(hub, "py-amqp")
    rm = IoTHubRegistryManager.from_connection_string(service_cs(hub))
    expiry_ms = int((time.time() + 600) * 1000)
    rm.send_c2d_message("py-amqp", "hello over amqp", properties={
        "messageId": "py-amqp-1",
        "correlationId": "corr-7",
        "contentType": "application/json",
        "contentEncoding": "utf-8",
        "expiryTimeUtc": expiry_ms,
        "iothub-ack": "full",
        "color": "red",
    })
    m = client.receive_message(timeout=20)
    assert m is not None, "the device got nothing"
    assert m.data == b"hello over amqp"
    assert m.message_id == "py-amqp-1"
    assert m.correlation_id == "corr-7"
    assert m.content_type == "application/json"
    assert m.content_encoding == "utf-8"
    assert m.custom_properties.get("color") == "red"
    enq = hub.wait_trace(kind="c2d.enqueued", correlation="py-amqp-1")
    assert enq[0]["detail"]["via"] == "amqp"
    record = feedback_for(hub, "py-amqp-1")
    assert record["statusCode"] == "Success"
    assert record["deviceId"] == "py-amqp"
    client.shutdown()
    rm.amqp_svc_client.disconnect_sync()


def test_python_send_to_an_unknown_device_fails_and_enqueues_nothing(hub, uamqp_trusts_the_hub):
    rm = IoTHubRegistryManager.from_connection_string(service_cs(hub))
    with pytest.raises(Exception) as e:
        rm.send_c2d_message("nobody", "x")
    assert "C2D message send failure" in str(e.value)
    hub.wait_trace(kind="service.link_attached")
    assert hub.trace(kind="c2d.enqueued") == []
    rm.amqp_svc_client.disconnect_sync()


@pytest.fixture
def node_sdk():
    if not all(os.path.isdir(os.path.join(NODE_DIR, "node_modules", p))
               for p in ("azure-iothub", "azure-iot-device", "azure-iot-device-http", "azure-iot-device-mqtt")):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True)
    return NODE_DIR


def run_node(hub, script, *args, timeout=120):
    env = dict(os.environ, NODE_EXTRA_CA_CERTS=hub.ca_path)
    out = subprocess.run(["node", os.path.join(NODE_DIR, script), *args], env=env,
                         capture_output=True, text=True, timeout=timeout)
    lines = [json.loads(l) for l in out.stdout.splitlines() if l.startswith("{")]
    assert out.returncode == 0, f"{script}: {out.stdout}\n{out.stderr}"
    return lines


def test_node_client_send_and_feedback_receiver(hub, node_sdk):
    client = device(hub, "node-amqp")
    received = []
    client.on_message_received = received.append
    lines = run_node(hub, "c2d.js", service_cs(hub), "node-amqp", "node-amqp-1")
    assert lines[0] == {"sent": "MessageEnqueued"}
    feedback = lines[1]["feedback"][0]
    assert feedback["statusCode"] == "Success"
    assert feedback["deviceId"] == "node-amqp"
    assert received and received[0].message_id == "node-amqp-1"
    assert received[0].custom_properties.get("color") == "blue"
    assert received[0].correlation_id == "node-corr"
    client.shutdown()


def test_node_client_over_websockets_on_port_443(standard_hub, node_sdk):
    """The same send and feedback with the AmqpWs transport, which dials
    wss://HOST:443/$iothub/websocket whatever the connection string says."""
    hub = standard_hub
    client = device(hub, "node-ws")
    received = []
    client.on_message_received = received.append
    cs = subprocess.run([os.environ["HUBLET_BIN"], "--data-dir", hub.data_dir, "connection-string", "--service"],
                        check=True, capture_output=True, text=True).stdout.strip()
    lines = run_node(hub, "c2d.js", cs, "node-ws", "node-ws-1", "websocket")
    assert lines[0] == {"sent": "MessageEnqueued"}
    assert lines[1]["feedback"][0]["statusCode"] == "Success"
    assert received and received[0].message_id == "node-ws-1"
    trace = subprocess.run([os.environ["HUBLET_BIN"], "--data-dir", hub.data_dir, "trace", "--kind",
                            "service.connected", "--json"], check=True, capture_output=True, text=True)
    assert "amqp-ws" in trace.stdout
    client.shutdown()


def test_node_gets_iot_hubs_error_classes(hub, node_sdk):
    hub.add_device("d-err")
    lines = run_node(hub, "c2d_errors.js", service_cs(hub))
    assert lines[0] == {"unknown device": "DeviceNotFoundError", "too large": "MessageTooLargeError"}
