// A device on the Azure IoT Node device SDK over MQTT (azure-iot-device +
// azure-iot-device-mqtt, unmodified), with the connection string exactly as
// `hublet device connection-string` prints it. The hub's CA comes from
// NODE_EXTRA_CA_CERTS.
//
//   node device_mqtt.js CONNECTION_STRING
//
// Answers method "reboot" with 200 and its payload, completes every C2D
// message, sends one event; prints one JSON line per step ({"ready": true}
// once connected) and exits 0 after one method call and one message.
"use strict";
const { Client, Message } = require("azure-iot-device");
const { Mqtt } = require("azure-iot-device-mqtt");

const [cs] = process.argv.slice(2);
const client = Client.fromConnectionString(cs, Mqtt);
const say = (o) => console.log(JSON.stringify(o));
let called = false;
let received = false;

function fail(what, err) {
  say({ error: what, message: String(err && (err.message || err)), name: err && err.constructor && err.constructor.name });
  process.exit(1);
}

function maybeDone() {
  if (called && received) client.close().then(() => process.exit(0), () => process.exit(0));
}

async function main() {
  client.on("error", (e) => fail("client", e));
  client.on("message", (msg) => {
    client.complete(msg).then(() => {
      say({ received: msg.getData().toString(), messageId: msg.messageId });
      received = true;
      maybeDone();
    }, (e) => fail("complete", e));
  });
  client.onDeviceMethod("reboot", (req, res) => {
    res.send(200, { rebooted: req.payload }, (e) => {
      if (e) return fail("method response", e);
      say({ method: req.methodName, payload: req.payload });
      called = true;
      maybeDone();
    });
  });
  await client.open();
  const m = new Message("over mqtt");
  m.messageId = "mqtt-1";
  m.properties.add("k", "v");
  await client.sendEvent(m);
  // The C2D and method subscriptions are made when the handlers are added
  // and the client opens; give the SUBSCRIBEs a moment before saying ready.
  setTimeout(() => say({ ready: true }), 1000);
}

main().catch((e) => fail("device", e));
setTimeout(() => fail("timeout", { called, received }), 60000).unref();
