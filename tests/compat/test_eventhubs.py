"""The Event Hub-compatible endpoint with the unmodified Event Hubs SDK for
Python (`azure-eventhub` 5.x, its own pure-Python AMQP stack): a back end
reads what devices sent over MQTT with the connection string `hublet
connection-string --events` prints, from the earliest event, from the latest
(only new ones) and from an offset, with every property and annotation IoT
Hub sets, and reads the hub's and a partition's properties. The SDK always
dials 5671, so this runs on a hub on IoT Hub's standard ports."""

import threading

from azure.eventhub import EventHubConsumerClient
from azure.iot.device import IoTHubDeviceClient, Message

from test_node_sdks import hublet


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
