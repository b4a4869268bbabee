"""Module identities with the unmodified Azure IoT Python SDKs: the service
SDK creates a module, reads and updates its twin, queries devices.modules
and invokes a module method; the device SDK's IoTHubModuleClient connects
over MQTT with the module's connection string, answers the method, reports
properties and hears desired patches."""

import queue
import time

import pytest
from azure.iot.device import IoTHubModuleClient, Message, MethodResponse
from azure.iot.hub import IoTHubRegistryManager
from azure.iot.hub.models import CloudToDeviceMethod, QuerySpecification, Twin, TwinProperties
from msrest.exceptions import HttpOperationError

from test_service_sdk import error_code, service_cs


def module_connection_string(hub, device_id, module_id):
    return hub.call("GET", f"/api/devices/{device_id}/modules/{module_id}/connection-string",
                    params={"gateway": "localhost"})["connectionString"]


def test_module_identity_twin_and_method_end_to_end(hub):
    hub.add_device("edge-1")
    rm = IoTHubRegistryManager.from_connection_string(service_cs(hub))
    created = rm.create_module_with_sas("edge-1", "scanner", "lab", None, None)
    assert created.module_id == "scanner" and created.device_id == "edge-1"
    assert created.managed_by == "lab"
    assert created.authentication.symmetric_key.primary_key
    with pytest.raises(HttpOperationError) as e:
        rm.create_module_with_sas("edge-1", "scanner", None, None, None)
    assert e.value.response.status_code == 409
    assert error_code(e.value) == "ModuleAlreadyExistsOnDevice"
    assert [m.module_id for m in rm.get_modules("edge-1")] == ["scanner"]

    cs = module_connection_string(hub, "edge-1", "scanner")
    assert ";ModuleId=scanner;" in cs
    client = IoTHubModuleClient.create_from_connection_string(cs, server_verification_cert=hub.ca_pem)
    patches = queue.Queue()

    def on_method(req):
        client.send_method_response(MethodResponse.create_from_method_request(
            req, 200, {"scanned": req.payload["area"], "by": "scanner"}))

    client.on_method_request_received = on_method
    client.on_twin_desired_properties_patch_received = patches.put
    client.connect()
    try:
        assert rm.get_module("edge-1", "scanner").connection_state == "Connected"
        client.patch_twin_reported_properties({"firmware": "2.0.1"})
        client.send_message(Message('{"items": 3}'))

        twin = rm.get_module_twin("edge-1", "scanner")
        assert twin.module_id == "scanner"
        assert twin.properties.reported["firmware"] == "2.0.1"
        updated = rm.update_module_twin(
            "edge-1", "scanner", Twin(properties=TwinProperties(desired={"interval": 30})), twin.etag)
        assert updated.properties.desired["interval"] == 30
        got = patches.get(timeout=20)
        assert got["interval"] == 30 and got["$version"] == 2
        assert client.get_twin()["desired"]["interval"] == 30

        result = rm.invoke_device_module_method("edge-1", "scanner", CloudToDeviceMethod(
            method_name="scan", payload={"area": "A4"}, response_timeout_in_seconds=20))
        assert result.status == 200
        assert result.payload == {"scanned": "A4", "by": "scanner"}

        page = rm.query_iot_hub(QuerySpecification(
            query="SELECT * FROM devices.modules WHERE properties.reported.firmware = '2.0.1'"))
        assert [(t.device_id, t.module_id) for t in page.items] == [("edge-1", "scanner")]

        # The module's telemetry is traced under edge-1/scanner and shows
        # with the device's events.
        events = hub.wait_trace(deviceId="edge-1", kind="telemetry.received")
        assert events[0]["deviceId"] == "edge-1/scanner"
    finally:
        client.shutdown()

    # The device itself is a separate identity: no module method reaches it.
    with pytest.raises(HttpOperationError) as e:
        rm.invoke_device_module_method("edge-1", "nobody", CloudToDeviceMethod(method_name="scan", payload={}))
    assert e.value.response.status_code == 404
    assert error_code(e.value) == "ModuleNotFound"

    rm.delete_module("edge-1", "scanner")
    with pytest.raises(HttpOperationError) as e:
        rm.get_module_twin("edge-1", "scanner")
    assert e.value.response.status_code == 404
