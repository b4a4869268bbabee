"""azure-iot-hub 2.7.0 against Hublet's HTTPS listener on a port of its own
(as when this user may not bind 443), using `hublet connection-string
--service` exactly as printed (HostName=localhost:PORT) and the hub's CA
through REQUESTS_CA_BUNDLE."""

import base64
import json
import os
import queue
import subprocess
import time

import pytest
from azure.iot.device import IoTHubDeviceClient, MethodResponse
from azure.iot.hub import IoTHubRegistryManager
from azure.iot.hub.models import CloudToDeviceMethod
from msrest.exceptions import HttpOperationError


def service_cs(hub):
    out = subprocess.run([os.environ["HUBLET_BIN"], "--data-dir", hub.data_dir, "connection-string", "--service"],
                         check=True, capture_output=True, text=True).stdout.strip()
    assert out.startswith("HostName=localhost:") and "SharedAccessKeyName=iothubowner" in out
    return out


def key():
    return base64.b64encode(os.urandom(32)).decode()


def connected_device(hub, device_id):
    cs = hub.device_connection_string(device_id)
    client = IoTHubDeviceClient.create_from_connection_string(cs, server_verification_cert=hub.ca_pem)
    client.connect()
    messages = queue.Queue()
    client.on_message_received = messages.put

    def on_method(req):
        client.send_method_response(MethodResponse.create_from_method_request(req, 201, {"rebooted": req.payload}))

    client.on_method_request_received = on_method
    time.sleep(0.5)
    return client, messages


def error_code(e):
    """IoT Hub's error in either of its envelopes: the number, for a method
    call that did not complete (JSON inside Message); else the name, from
    `ErrorCode:<Name>;<text>`."""
    message = e.response.json()["Message"]
    if message.startswith("ErrorCode:"):
        name = message[len("ErrorCode:"):].split(";")[0]
        assert e.response.headers["iothub-errorcode"] == name
        return name
    return json.loads(message)["errorCode"]


def test_registry_methods_feedback_and_purge(hub):
    rm = IoTHubRegistryManager.from_connection_string(service_cs(hub))

    created = rm.create_device_with_sas("svc-dev", key(), key(), "enabled")
    assert created.device_id == "svc-dev"
    got = rm.get_device("svc-dev")
    assert got.status == "enabled" and got.authentication.symmetric_key.primary_key
    rm.create_device_with_sas("doomed", key(), key(), "enabled")
    rm.delete_device("doomed")
    with pytest.raises(HttpOperationError) as e:
        rm.get_device("doomed")
    assert e.value.response.status_code == 404
    assert error_code(e.value) == "DeviceNotFound"

    client, messages = connected_device(hub, "svc-dev")
    result = rm.invoke_device_method("svc-dev", CloudToDeviceMethod(method_name="reboot", payload={"delay": 1},
                                                                    response_timeout_in_seconds=15, connect_timeout_in_seconds=5))
    assert result.status == 201
    assert result.payload == {"rebooted": {"delay": 1}}

    rm.create_device_with_sas("offline", key(), key(), "enabled")
    start = time.time()
    with pytest.raises(HttpOperationError) as e:
        rm.invoke_device_method("offline", CloudToDeviceMethod(method_name="reboot", payload=None, connect_timeout_in_seconds=2))
    assert e.value.response.status_code == 404
    assert error_code(e.value) == 404103
    assert e.value.response.headers["iothub-errorcode"] == "DeviceNotOnline"
    assert time.time() - start >= 1.9, "it waited for the connect timeout"

    # Feedback: a message with ack=full, completed by the device.
    hub.call("POST", "/api/devices/svc-dev/messages", json={"body": "on", "messageId": "fb-1", "ack": "full"})
    assert messages.get(timeout=20).message_id == "fb-1"
    hub.wait_trace(kind="feedback.produced", correlation="fb-1")
    c2d = rm.protocol.cloud_to_device_messages
    records = []
    deadline = time.time() + 30
    while not records and time.time() < deadline:
        resp = c2d.receive_feedback_notification(raw=True)
        if resp.response.status_code == 200:
            records = json.loads(resp.response.text)
            lock = resp.response.headers["ETag"].strip('"')
            c2d.complete_feedback_notification(lock)
        else:
            time.sleep(1)
    assert records and records[0]["originalMessageId"] == "fb-1"
    assert records[0]["statusCode"] == "Success"
    assert records[0]["deviceId"] == "svc-dev"

    # Purge.
    client.shutdown()
    for i in range(3):
        hub.call("POST", "/api/devices/offline/messages", json={"body": f"m{i}"})
    purged = c2d.purge_cloud_to_device_message_queue("offline")
    assert purged.total_messages_purged == 3
    assert purged.device_id == "offline"
