"""The Azure IoT Node SDKs, unmodified, against a hub on IoT Hub's standard
ports, each with its connection string exactly as `hublet` prints it and no
client-side workaround (the hub's CA through NODE_EXTRA_CA_CERTS, as for any
private CA): azure-iot-device over HTTP (telemetry, batch, C2D receive,
complete, reject, abandon) and over MQTT (telemetry, C2D, a direct method),
and azure-iothub's Registry and direct methods with IoT Hub's typed errors."""

import json
import os
import subprocess
import time

import pytest
from azure.iot.device import IoTHubDeviceClient

from test_amqp import NODE_DIR, node_sdk, run_node  # noqa: F401 (node_sdk is a fixture)


def hublet(hub, *args):
    out = subprocess.run([os.environ["HUBLET_BIN"], "--data-dir", hub.data_dir, *args],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


def test_connection_strings_name_no_port_on_standard_ports(standard_hub):
    hub = standard_hub
    service = hublet(hub, "connection-string", "--service")
    assert service.startswith("HostName=localhost;SharedAccessKeyName=iothubowner;"), service
    hub.add_device("plain")
    device = hublet(hub, "device", "connection-string", "plain")
    assert device.startswith("HostName=localhost;DeviceId=plain;"), device
    assert hub.call("GET", "/api/hub")["listeners"]["ports"] == "standard"


def test_node_http_device_sends_and_settles(standard_hub, node_sdk):
    hub = standard_hub
    hub.add_device("node-http")
    for body in ["complete", "reject", "abandon"]:
        hub.call("POST", "/api/devices/node-http/messages",
                 json={"body": body, "messageId": f"m-{body}", "ack": "full"})
    cs = hublet(hub, "device", "connection-string", "node-http")
    lines = run_node(hub, "device_http.js", cs, timeout=90)
    assert lines[0] == {"sent": 3}
    actions = sorted(l["action"] for l in lines[1:])
    assert actions == ["abandon", "complete", "complete-after-abandon", "reject"], lines

    events = hub.wait_trace(kind="telemetry.received", deviceId="node-http")
    deadline = time.time() + 10
    while len(events) < 3 and time.time() < deadline:
        time.sleep(0.1)
        events = hub.trace(kind="telemetry.received", deviceId="node-http")
    details = sorted((e["detail"] for e in events), key=lambda d: d.get("messageId") or "")
    assert len(details) == 3, details
    single = [d for d in details if d.get("messageId") == "http-1"][0]
    assert single["via"] == "http"
    assert single["correlationId"] == "http-corr"
    assert single["contentType"] == "application/json"
    assert single["contentEncoding"] == "utf-8"
    assert single["properties"] == {"temp": "21.5"}
    parts = sorted(d["properties"]["part"] for d in details if "part" in d["properties"])
    assert parts == ["b1", "b2"]

    statuses = {}
    deadline = time.time() + 20
    while len(statuses) < 3 and time.time() < deadline:
        for r in hub.call("GET", "/api/feedback"):
            statuses[r["originalMessageId"]] = r["statusCode"]
        time.sleep(0.2)
    assert statuses == {"m-complete": "Success", "m-reject": "Rejected", "m-abandon": "Success"}, statuses


def test_node_mqtt_device_gets_a_message_and_a_method(standard_hub, node_sdk):
    hub = standard_hub
    hub.add_device("node-mqtt")
    cs = hublet(hub, "device", "connection-string", "node-mqtt")
    env = dict(os.environ, NODE_EXTRA_CA_CERTS=hub.ca_path)
    proc = subprocess.Popen(["node", os.path.join(NODE_DIR, "device_mqtt.js"), cs], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = json.loads(proc.stdout.readline() or "{}")
        assert first == {"ready": True}, (first, proc.stderr.read() if proc.poll() is not None else "")
        hub.call("POST", "/api/devices/node-mqtt/messages", json={"body": "hello node", "messageId": "nm-1"})
        r = hub.call("POST", "/api/devices/node-mqtt/methods",
                     json={"methodName": "reboot", "payload": {"delay": 2}, "responseTimeoutInSeconds": 20})
        assert r["status"] == 200 and r["payload"] == {"rebooted": {"delay": 2}}, r
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, out + err
        lines = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
        assert {"received": "hello node", "messageId": "nm-1"} in lines
    finally:
        if proc.poll() is None:
            proc.kill()
    sent = hub.wait_trace(kind="telemetry.received", deviceId="node-mqtt")
    assert sent[0]["detail"]["messageId"] == "mqtt-1" and sent[0]["detail"]["properties"] == {"k": "v"}


def test_node_registry_and_methods_raise_iot_hubs_typed_errors(standard_hub, node_sdk):
    hub = standard_hub
    hub.add_device("silent")
    # A device subscribed to methods that never answers: 504101.
    silent = IoTHubDeviceClient.create_from_connection_string(
        hublet(hub, "device", "connection-string", "silent"), server_verification_cert=hub.ca_pem)
    silent.connect()
    silent.on_method_request_received = lambda req: None
    time.sleep(0.5)
    try:
        lines = run_node(hub, "registry.js", hublet(hub, "connection-string", "--service"), "silent", timeout=120)
    finally:
        silent.shutdown()
    steps = {l["step"]: l for l in lines}
    assert steps["create"] == {"step": "create", "deviceId": "node-reg", "key": True}
    assert steps["get"]["status"] == "enabled"
    assert "node-reg" in steps["list"]["ids"] and "silent" in steps["list"]["ids"]
    assert steps["create-again"]["error"]["name"] == "DeviceAlreadyExistsError"
    assert steps["get-deleted"]["error"]["name"] == "DeviceNotFoundError"
    assert steps["invoke-unknown"]["error"]["name"] == "DeviceNotFoundError"
    assert steps["invoke-silent"]["error"]["name"] == "GatewayTimeoutError"
    assert steps["invoke-silent"]["error"]["status"] == 504


def test_node_device_and_service_twins(standard_hub, node_sdk):
    hub = standard_hub
    hub.add_device("node-twin")
    lines = run_node(hub, "twin.js", hublet(hub, "device", "connection-string", "node-twin"),
                     hublet(hub, "connection-string", "--service"), "node-twin", timeout=90)
    steps = {l["step"]: l for l in lines}
    assert steps["device-get"]["desiredVersion"] == 1
    assert steps["service-get"]["firmware"] == "2.0.0"
    assert steps["service-update"] == {"step": "service-update", "tags": {"site": "bench"}, "desiredVersion": 2}
    assert steps["device-desired"] == {"step": "device-desired", "setpoint": 23, "version": 2}
    assert steps["query"] == {"step": "query", "ids": ["node-twin"], "more": False}


def test_node_module_client_and_service(standard_hub, node_sdk):
    hub = standard_hub
    hub.add_device("node-edge")
    hublet(hub, "module", "add", "node-edge", "pinger")
    lines = run_node(hub, "module.js", hublet(hub, "module", "connection-string", "node-edge", "pinger"),
                     hublet(hub, "connection-string", "--service"), "node-edge", "pinger", timeout=90)
    steps = {l["step"]: l for l in lines}
    assert steps["list"]["modules"] == ["pinger"]
    assert steps["service-get"] == {"step": "service-get", "moduleId": "pinger", "reported": "m-1"}
    assert steps["module-desired"] == {"step": "module-desired", "level": 3, "version": 2}
    assert steps["method"] == {"step": "method", "status": 200, "payload": {"pong": 7}}


@pytest.mark.parametrize("transport", ["amqp", "websocket"])
def test_node_event_hubs_consumer_reads_device_telemetry(standard_hub, node_sdk, transport):
    """Over AMQP on 5671, and over WebSockets on 443 (`webSocketOptions`)."""
    from test_eventhubs import partition_of, send
    hub = standard_hub
    hub.add_device("node-eh")
    send(hub, "node-eh", ['{"n": 1}', '{"n": 2}'])
    p = partition_of("node-eh")
    lines = run_node(hub, "eventhubs.js", hublet(hub, "connection-string", "--events"), p, "2", transport,
                     timeout=90)
    steps = [l for l in lines if l.get("step") != "error"]
    assert steps[0] == {"step": "hub", "name": "localhost", "partitionIds": ["0", "1", "2", "3"]}
    assert steps[1] == {"step": "partition", "last": 1, "empty": False}
    events = [l for l in steps if l["step"] == "event"]
    assert [e["body"] for e in events] == [{"n": 1}, {"n": 2}]
    assert [e["sequenceNumber"] for e in events] == [0, 1]
    assert events[0]["messageId"] == "node-eh-0"
    assert events[0]["properties"] == {"room": "lab"}
    assert events[0]["device"] == "node-eh"
    assert events[0]["source"] == "Telemetry"
    via = hublet(hub, "trace", "--kind", "service.connected", "--json")
    assert ("amqp-ws" in via) == (transport == "websocket")
