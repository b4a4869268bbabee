// Sends one C2D message with the Azure IoT Node service SDK (azure-iothub,
// unmodified) and waits for its feedback record on the feedback receiver.
//
//   node c2d.js CONNECTION_STRING DEVICE_ID MESSAGE_ID [websocket]
//
// With `websocket`, the client's transport is AmqpWs (AMQP over WebSockets
// to wss://HOST:443/$iothub/websocket).
// Prints one JSON line per step: {"sent": ...}, then {"feedback": [...]}.
// The hub's CA comes from NODE_EXTRA_CA_CERTS.
"use strict";
const { Client, AmqpWs } = require("azure-iothub");
const { Message } = require("azure-iothub/dist/common-core/message");

const [cs, deviceId, messageId, transport] = process.argv.slice(2);
const client = transport === "websocket" ? Client.fromConnectionString(cs, AmqpWs) : Client.fromConnectionString(cs);

function fail(what, err) {
  console.log(JSON.stringify({ error: what, message: String(err && (err.message || err)), name: err && err.constructor && err.constructor.name }));
  process.exit(1);
}

client.open((err) => {
  if (err) return fail("open", err);
  client.getFeedbackReceiver((err, receiver) => {
    if (err) return fail("getFeedbackReceiver", err);
    receiver.on("errorReceived", (e) => fail("feedback", e));
    receiver.on("message", (msg) => {
      const records = JSON.parse(msg.getData().toString());
      const mine = records.filter((r) => r.originalMessageId === messageId);
      if (mine.length === 0) return;
      console.log(JSON.stringify({ feedback: mine }));
      client.close(() => process.exit(0));
    });
    const m = new Message("from node");
    m.messageId = messageId;
    m.ack = "full";
    m.correlationId = "node-corr";
    m.contentType = "text/plain";
    m.contentEncoding = "utf-8";
    m.properties.add("color", "blue");
    client.send(deviceId, m, (err, res) => {
      if (err) return fail("send", err);
      console.log(JSON.stringify({ sent: res && res.constructor ? res.constructor.name : String(res) }));
    });
  });
});
setTimeout(() => fail("timeout", "no feedback within 90 s"), 90000).unref();
