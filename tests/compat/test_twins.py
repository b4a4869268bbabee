"""Device twins with the unmodified Azure IoT Python SDKs: the device SDK's
get_twin, patch_twin_reported_properties and desired-patch handler over
MQTT, and the service SDK's get_twin, update_twin and replace_twin over
HTTPS, against one hub."""

import queue
import time

import pytest
from azure.iot.device import IoTHubDeviceClient
from azure.iot.hub import IoTHubRegistryManager
from azure.iot.hub.models import Twin, TwinProperties
from msrest.exceptions import HttpOperationError

from test_service_sdk import error_code, service_cs


def test_device_and_service_share_one_twin(hub):
    hub.add_device("twin-dev")
    client = IoTHubDeviceClient.create_from_connection_string(
        hub.device_connection_string("twin-dev"), server_verification_cert=hub.ca_pem)
    patches = queue.Queue()
    client.on_twin_desired_properties_patch_received = patches.put
    client.connect()
    rm = IoTHubRegistryManager.from_connection_string(service_cs(hub))
    try:
        twin = client.get_twin()
        assert twin["desired"]["$version"] == 1 and twin["reported"]["$version"] == 1
        assert "$metadata" not in twin["desired"]

        client.patch_twin_reported_properties({"firmware": "1.4.2", "net": {"rssi": -61}})

        fetched = rm.get_twin("twin-dev")
        assert fetched.device_id == "twin-dev"
        assert fetched.properties.reported["firmware"] == "1.4.2"
        assert fetched.properties.reported["$version"] == 2
        assert fetched.etag == "AAAAAAAAAAE="

        patch = Twin(tags={"room": "lab"}, properties=TwinProperties(desired={"setpoint": 22}))
        updated = rm.update_twin("twin-dev", patch, fetched.etag)
        assert updated.tags == {"room": "lab"}
        assert updated.properties.desired["setpoint"] == 22
        assert updated.etag != fetched.etag

        got = patches.get(timeout=20)
        assert got["setpoint"] == 22 and got["$version"] == 2

        # The old etag is stale now: 412 PreconditionFailed, nothing changed.
        with pytest.raises(HttpOperationError) as e:
            rm.update_twin("twin-dev", Twin(properties=TwinProperties(desired={"setpoint": 5})), fetched.etag)
        assert e.value.response.status_code == 412
        assert error_code(e.value) == "PreconditionFailed"

        # replace_twin with the fetched twin edited, as apps do: read-only
        # members come back and are ignored.
        current = rm.get_twin("twin-dev")
        current.properties.desired = {"mode": "eco"}
        current.tags = {"room": "attic"}
        replaced = rm.replace_twin("twin-dev", current)
        assert replaced.tags == {"room": "attic"}
        assert "setpoint" not in replaced.properties.desired
        got = patches.get(timeout=20)
        assert got["mode"] == "eco" and got["$version"] == 3

        deadline = time.time() + 10
        while time.time() < deadline and not hub.trace(kind="twin.updated", deviceId="twin-dev"):
            time.sleep(0.1)
        kinds = [e["detail"]["by"] for e in hub.trace(kind="twin.updated", deviceId="twin-dev")]
        assert kinds.count("device") == 1 and kinds.count("service") == 2, kinds
    finally:
        client.shutdown()


def test_an_unknown_device_has_no_twin(hub):
    rm = IoTHubRegistryManager.from_connection_string(service_cs(hub))
    with pytest.raises(HttpOperationError) as e:
        rm.get_twin("nobody")
    assert e.value.response.status_code == 404
    assert error_code(e.value) == "DeviceNotFound"


def test_query_iot_hub_pages_through_twins(hub):
    from azure.iot.hub.models import QuerySpecification

    rm = IoTHubRegistryManager.from_connection_string(service_cs(hub))
    for i in range(5):
        hub.add_device(f"qd-{i}")
        rm.update_twin(f"qd-{i}", Twin(tags={"building": "43" if i < 3 else "44", "i": i}), "*")
    spec = QuerySpecification(query="SELECT * FROM devices WHERE tags.building = '43'")
    seen, token = [], None
    while True:
        page = rm.query_iot_hub(spec, token, 2)
        assert page.type == "twin"
        seen += [t.device_id for t in page.items]
        token = page.continuation_token
        if not token:
            break
    assert seen == ["qd-0", "qd-1", "qd-2"]

    counts = rm.query_iot_hub(QuerySpecification(
        query="SELECT tags.building AS building, COUNT() AS n FROM devices WHERE STARTSWITH(deviceId, 'qd-') GROUP BY tags.building"))
    assert counts.type == "raw"
    rows = sorted((r.additional_properties["building"], r.additional_properties["n"]) for r in counts.items)
    assert rows == [("43", 3), ("44", 2)]

    with pytest.raises(HttpOperationError) as e:
        rm.query_iot_hub(QuerySpecification(query="SELECT * FROM devices WHERE"))
    assert e.value.response.status_code == 400
