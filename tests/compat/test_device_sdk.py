"""azure-iot-device 2.14.0 against Hublet's MQTT/TLS listener.

The connection string carries a production-looking HostName and
GatewayHostName=localhost; the SDK dials localhost:8883 and trusts only the
hub's exported CA.
"""

import queue
import time

import pytest
from azure.iot.device import IoTHubDeviceClient, Message, MethodResponse

from conftest import HUB_NAME


def device_client(hub, device_id, **kw):
    cs = hub.device_connection_string(device_id)
    assert cs.startswith(f"HostName={HUB_NAME};DeviceId={device_id};")
    assert cs.endswith(";GatewayHostName=localhost")
    return IoTHubDeviceClient.create_from_connection_string(cs, server_verification_cert=hub.ca_pem, **kw)


def wire_handlers(client):
    messages = queue.Queue()
    client.on_message_received = messages.put

    def on_method(req):
        client.send_method_response(MethodResponse.create_from_method_request(req, 200, {"method": req.name, "got": req.payload}))

    client.on_method_request_received = on_method
    return messages


def send_c2d(hub, device_id, message_id, body="{\"setpoint\": 21}"):
    return hub.call("POST", f"/api/devices/{device_id}/messages", json={
        "body": body, "messageId": message_id, "correlationId": "corr-" + message_id,
        "contentType": "application/json", "contentEncoding": "utf-8", "ack": "full",
        "properties": {"color": "blue", "priority": "high"},
    })


def invoke(hub, device_id, name, payload):
    return hub.call("POST", f"/api/devices/{device_id}/methods", json={
        "methodName": name, "payload": payload, "responseTimeoutInSeconds": 15, "connectTimeoutInSeconds": 10})


def test_c2d_methods_telemetry_and_reconnect(hub):
    hub.add_device("sdk-dev")
    client = device_client(hub, "sdk-dev")
    client.connect()
    messages = wire_handlers(client)
    hub.wait_trace(deviceId="sdk-dev", kind="device.attached")
    time.sleep(0.5)  # the SDK subscribes in the background

    send_c2d(hub, "sdk-dev", "m-1")
    m = messages.get(timeout=20)
    assert m.data == b"{\"setpoint\": 21}"
    assert m.message_id == "m-1"
    assert m.correlation_id == "corr-m-1"
    assert m.content_type == "application/json"
    assert m.content_encoding == "utf-8"
    assert m.ack == "full"
    assert m.custom_properties == {"color": "blue", "priority": "high"}
    feedback = hub.wait_trace(kind="feedback.produced", correlation="m-1")
    assert feedback[0]["detail"]["statusCode"] == "Success"

    result = invoke(hub, "sdk-dev", "blink", {"times": 3})
    assert result["status"] == 200
    assert result["payload"] == {"method": "blink", "got": {"times": 3}}

    t = Message("{\"temperature\": 21.5}")
    t.content_type = "application/json"
    t.content_encoding = "utf-8"
    t.custom_properties["alert"] = "none"
    client.send_message(t)
    tel = hub.wait_trace(deviceId="sdk-dev", kind="telemetry.received")
    assert tel[0]["detail"]["body"]["text"] == "{\"temperature\": 21.5}"
    assert tel[0]["detail"]["properties"]["alert"] == "none"
    assert tel[0]["detail"]["contentType"] == "application/json"

    # Disconnect, queue a message while away, reconnect: the SDK never
    # subscribes again, so this works only because the session persists.
    client.disconnect()
    send_c2d(hub, "sdk-dev", "m-2")
    client.connect()
    m2 = messages.get(timeout=20)
    assert m2.message_id == "m-2"
    result = invoke(hub, "sdk-dev", "ping", None)
    assert result["status"] == 200
    attached = hub.trace(deviceId="sdk-dev", kind="device.attached")
    assert len(attached) == 2
    client.shutdown()


def test_a_wrong_key_is_refused(hub):
    hub.add_device("sdk-bad")
    cs = hub.device_connection_string("sdk-bad")
    parts = dict(p.split("=", 1) for p in cs.split(";"))
    parts["SharedAccessKey"] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
    bad = ";".join(f"{k}={v}" for k, v in parts.items())
    client = IoTHubDeviceClient.create_from_connection_string(bad, server_verification_cert=hub.ca_pem, connection_retry=False)
    with pytest.raises(Exception):
        client.connect()
    failed = hub.wait_trace(deviceId="sdk-bad", kind="device.auth_failed")
    assert "signature" in failed[0]["detail"]["reason"]
    client.shutdown()
