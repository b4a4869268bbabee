"""The Event Hub-compatible endpoint with the unmodified Event Hubs SDK for
Python (`azure-eventhub` 5.x, its own pure-Python AMQP stack): a back end
reads what devices sent over MQTT with the connection string `hublet
connection-string --events` prints, from the earliest event, from the latest
(only new ones) and from an offset, with every property and annotation IoT
Hub sets, and reads the hub's and a partition's properties; over AMQP and
over WebSockets, and found from the IoT Hub connection string alone by the
redirect the Azure CLI follows. The SDK always
dials 5671, so this runs on a hub on IoT Hub's standard ports."""

import base64
import hashlib
import hmac
import threading
import time
import urllib.parse
from collections import namedtuple

import pytest
from azure.eventhub import EventHubConsumerClient, TransportType
from azure.iot.device import IoTHubDeviceClient, Message

from test_node_sdks import hublet

AccessToken = namedtuple("AccessToken", ["token", "expires_on"])


def partition_of(device_id, partitions=4):
    """FNV-1a (32-bit) of the device id, modulo the partition count (docs/semantics.md)."""
    h = 0x811C9DC5
    for b in device_id.encode():
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return str(h % partitions)


def send(hub, device_id, bodies):
    client = IoTHubDeviceClient.create_from_connection_string(
        hublet(hub, "device", "connection-string", device_id), server_verification_cert=hub.ca_pem)
    client.connect()
    try:
        for i, body in enumerate(bodies):
            m = Message(body, message_id=f"{device_id}-{i}", content_encoding="utf-8",
                        content_type="application/json")
            m.custom_properties["room"] = "lab"
            client.send_message(m)
    finally:
        client.shutdown()


def receive(consumer, partition, position, want, inclusive=False, meanwhile=None, contexts=None):
    """Up to `want` events of one partition from `position`; calls
    `meanwhile` every second until they arrived (for `@latest`, whose
    reader sees only what is sent after it attached)."""
    got, done = [], threading.Event()

    def on_event(ctx, event):
        if event is None:
            return
        got.append(event)
        if contexts is not None:
            contexts.append(dict(ctx.last_enqueued_event_properties or {}))
        if len(got) >= want:
            done.set()

    t = threading.Thread(target=consumer.receive, kwargs=dict(
        on_event=on_event, partition_id=partition, starting_position=position,
        starting_position_inclusive=inclusive,
        track_last_enqueued_event_properties=contexts is not None), daemon=True)
    t.start()
    if meanwhile:
        for _ in range(30):
            if done.wait(1):
                break
            meanwhile()
    assert done.wait(30), f"only {len(got)} of {want} events arrived"
    consumer.close()
    t.join(10)
    return got


def test_a_back_end_reads_device_telemetry_as_from_iot_hub(standard_hub):
    hub = standard_hub
    hub.add_device("eh-dev")
    send(hub, "eh-dev", ['{"t": 1}', '{"t": 2}', '{"t": 3}'])
    cs = hublet(hub, "connection-string", "--events")
    assert cs.startswith("Endpoint=sb://localhost/;SharedAccessKeyName=iothubowner;") and cs.endswith(";EntityPath=localhost")
    consumer = lambda: EventHubConsumerClient.from_connection_string(  # noqa: E731
        cs, consumer_group="$Default", connection_verify=hub.ca_path)
    p = partition_of("eh-dev")

    c = consumer()
    assert c.get_partition_ids() == ["0", "1", "2", "3"]
    props = c.get_partition_properties(p)
    assert props["beginning_sequence_number"] == 0
    assert props["last_enqueued_sequence_number"] == 2
    assert props["is_empty"] is False
    c.close()

    events = receive(consumer(), p, "-1", 3)
    assert [e.body_as_json() for e in events] == [{"t": 1}, {"t": 2}, {"t": 3}]
    assert [e.sequence_number for e in events] == [0, 1, 2]
    first = events[0]
    assert first.properties == {b"room": b"lab"}
    sp = first.system_properties
    assert sp[b"message-id"] == b"eh-dev-0"
    assert sp[b"content-type"] == b"application/json"
    assert sp[b"content-encoding"] == b"utf-8"
    assert sp[b"iothub-connection-device-id"] == b"eh-dev"
    assert sp[b"iothub-message-source"] == b"Telemetry"
    assert b"scope" in sp[b"iothub-connection-auth-method"]
    assert isinstance(sp[b"iothub-enqueuedtime"], int)
    assert first.enqueued_time is not None
    assert int(events[1].offset) > int(first.offset)

    # From an offset (exclusive): the events after it, each with the
    # partition's last enqueued event for a reader that tracks it.
    contexts = []
    after = receive(consumer(), p, first.offset, 2, contexts=contexts)
    assert [e.sequence_number for e in after] == [1, 2]
    assert contexts[0]["sequence_number"] == 2
    assert contexts[0]["offset"] == events[2].offset
    assert contexts[0]["enqueued_time"] == events[2].enqueued_time
    assert contexts[0]["retrieval_time"] is not None

    # From the latest: only what is sent after the reader attached (sent
    # again each second until the reader, attaching meanwhile, gets one).
    new = receive(consumer(), p, "@latest", 1, meanwhile=lambda: send(hub, "eh-dev", ['{"t": 4}']))
    assert [e.body_as_json() for e in new] == [{"t": 4}]
    assert new[0].sequence_number >= 3


def test_a_back_end_reads_over_websockets_on_port_443(standard_hub):
    """`TransportType.AmqpOverWebsocket`: the same reader through
    `wss://localhost/$servicebus/websocket` (subprotocol AMQPWSB10), as
    back ends behind a firewall that passes only 443 read IoT Hub."""
    hub = standard_hub
    hub.add_device("ws-dev")
    send(hub, "ws-dev", ['{"w": 1}', '{"w": 2}'])
    cs = hublet(hub, "connection-string", "--events")
    consumer = lambda: EventHubConsumerClient.from_connection_string(  # noqa: E731
        cs, consumer_group="$Default", connection_verify=hub.ca_path,
        transport_type=TransportType.AmqpOverWebsocket)
    c = consumer()
    assert c.get_partition_ids() == ["0", "1", "2", "3"]
    c.close()
    events = receive(consumer(), partition_of("ws-dev"), "-1", 2)
    assert [e.body_as_json() for e in events] == [{"w": 1}, {"w": 2}]
    assert events[0].system_properties[b"iothub-connection-device-id"] == b"ws-dev"
    assert "amqp-ws" in hublet(hub, "trace", "--kind", "service.connected", "--json")


def iot_hub_sas(host, policy, key, ttl=360):
    """A service SAS token as the Azure CLI's extension makes it from an IoT
    Hub connection string: resource = the host name, key base64-decoded."""
    expiry = int(time.time() + ttl)
    resource = urllib.parse.quote_plus(host)
    sig = hmac.new(base64.b64decode(key), f"{resource}\n{expiry}".encode(), hashlib.sha256).digest()
    sig = urllib.parse.quote_plus(base64.b64encode(sig).decode())
    return f"SharedAccessSignature sr={resource}&sig={sig}&se={expiry}&skn={policy}"


def test_the_iot_hub_connection_string_alone_finds_the_event_hub(standard_hub):
    """`az iot hub monitor-events --login "<IoT Hub connection string>"`:
    the Azure CLI's extension attaches to IoT Hub's own
    `messages/events/$management` with the SDK's AMQP stack, expects
    `amqp:link:redirect` naming the Event Hub-compatible endpoint, and
    reads from there (its hub_target_builder, step by step)."""
    from azure.eventhub._pyamqp import ReceiveClient
    from azure.eventhub._pyamqp.authentication import _CBSAuth
    from azure.eventhub._pyamqp.error import AMQPLinkRedirect

    hub = standard_hub
    hub.add_device("redir-dev")
    send(hub, "redir-dev", ['{"r": 1}'])
    parts = dict(kv.split("=", 1) for kv in hublet(hub, "connection-string", "--service").split(";"))
    host, policy, key = parts["HostName"], parts["SharedAccessKeyName"], parts["SharedAccessKey"]
    source = f"amqps://{host}/messages/events/$management"
    auth = _CBSAuth(source, host, b"servicebus.windows.net:sastoken",
                    lambda: AccessToken(iot_hub_sas(host, policy, key), time.time() + 360),
                    expires_in=360)
    client = ReceiveClient(host, source=source, auth=auth, timeout=30000, prefetch=1,
                           connection_verify=hub.ca_path)
    try:
        client.open()
        with pytest.raises(AMQPLinkRedirect) as redirect:
            client.receive_message_batch(max_batch_size=1, timeout=5000)
    finally:
        client.close()
    r = redirect.value
    assert r.hostname == "localhost" and r.network_host == "localhost" and r.port == 5671
    assert r.address == "amqps://localhost:5671/localhost/$management"
    # The CLI's parsing of the address: the Event Hub's name.
    path = r.address.replace("amqps://", "").split("/", 1)[1]
    path = path[: -len("/$management")]
    cs = f"Endpoint=sb://{r.hostname}/;SharedAccessKeyName={policy};SharedAccessKey={key};EntityPath={path}"
    consumer = EventHubConsumerClient.from_connection_string(
        cs, consumer_group="$Default", connection_verify=hub.ca_path)
    events = receive(consumer, partition_of("redir-dev"), "-1", 1)
    assert [e.body_as_json() for e in events] == [{"r": 1}]


def test_offsets_survive_a_killed_hub_and_a_reader_resumes_exactly_after_its_own(standard_hub):
    """A back end checkpoints the offset of the last event it handled; the
    hub is killed (SIGKILL) and started again; resuming from that offset
    gives exactly the events after it, and every stored event keeps its
    sequence number and offset."""
    hub = standard_hub
    hub.add_device("ckpt-dev")
    send(hub, "ckpt-dev", ['{"k": 1}', '{"k": 2}', '{"k": 3}'])
    cs = hublet(hub, "connection-string", "--events")
    consumer = lambda: EventHubConsumerClient.from_connection_string(  # noqa: E731
        cs, consumer_group="$Default", connection_verify=hub.ca_path)
    p = partition_of("ckpt-dev")
    before = receive(consumer(), p, "-1", 3)
    checkpoint = before[1].offset

    hub.kill_and_restart()
    send(hub, "ckpt-dev", ['{"k": 4}', '{"k": 5}'])
    resumed = receive(consumer(), p, checkpoint, 3)
    assert [e.body_as_json() for e in resumed] == [{"k": 3}, {"k": 4}, {"k": 5}]
    assert [e.sequence_number for e in resumed] == [2, 3, 4]
    assert resumed[0].offset == before[2].offset
    everything = receive(consumer(), p, "-1", 5)
    assert [(e.sequence_number, e.offset) for e in everything[:3]] == [(e.sequence_number, e.offset) for e in before]
