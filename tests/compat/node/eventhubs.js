// The Event Hub-compatible endpoint with the Event Hubs SDK for Node,
// unmodified (@azure/event-hubs on rhea), with the connection string
// `hublet connection-string --events` prints. The hub's CA comes from
// NODE_EXTRA_CA_CERTS.
//
//   node eventhubs.js EVENTS_CONNECTION_STRING PARTITION COUNT [websocket]
//
// Prints the hub's and the partition's properties, then each of the first
// COUNT events of PARTITION from the earliest, one JSON line each. With
// `websocket`, AMQP goes over WebSockets on port 443 (the SDK's
// `webSocketOptions`, with the `ws` package as its documentation shows).
"use strict";
const { EventHubConsumerClient, earliestEventPosition } = require("@azure/event-hubs");
const WebSocket = require("ws");

const [cs, partition, count, transport] = process.argv.slice(2);
const say = (o) => console.log(JSON.stringify(o));
function fail(what, err) {
  say({ error: what, message: String(err && (err.message || err)), code: err && err.code });
  process.exit(1);
}

async function main() {
  const options = transport === "websocket" ? { webSocketOptions: { webSocket: WebSocket } } : {};
  const client = new EventHubConsumerClient("$Default", cs, options);
  const hub = await client.getEventHubProperties();
  say({ step: "hub", name: hub.name, partitionIds: hub.partitionIds });
  const p = await client.getPartitionProperties(partition);
  say({ step: "partition", last: p.lastEnqueuedSequenceNumber, empty: p.isEmpty });
  let seen = 0;
  const sub = client.subscribe(
    partition,
    {
      processEvents: async (events) => {
        for (const e of events) {
          say({
            step: "event",
            body: e.body,
            sequenceNumber: e.sequenceNumber,
            offset: String(e.offset),
            messageId: e.messageId,
            properties: e.properties,
            device: e.systemProperties["iothub-connection-device-id"],
            source: e.systemProperties["iothub-message-source"],
          });
          seen++;
        }
        if (seen >= Number(count)) {
          await sub.close();
          await client.close();
          process.exit(0);
        }
      },
      processError: async (err) => say({ step: "error", message: String(err.message || err), code: err.code }),
    },
    { startPosition: earliestEventPosition },
  );
}

main().catch((e) => fail("eventhubs", e));
setTimeout(() => fail("timeout", "the events did not arrive within 60 s"), 60000).unref();
