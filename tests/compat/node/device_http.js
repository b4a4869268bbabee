// A device on the Azure IoT Node device SDK over HTTP (azure-iot-device +
// azure-iot-device-http, unmodified), with the connection string exactly as
// `hublet device connection-string` prints it. The hub's CA comes from
// NODE_EXTRA_CA_CERTS.
//
//   node device_http.js CONNECTION_STRING
//
// Sends one event with properties and a batch of two, then settles the C2D
// messages it receives by their body: "complete", "reject", and "abandon"
// (abandoned once, completed when it comes back). Prints one JSON line per
// step and exits 0 once all four settlements are done.
"use strict";
const { Client, Message } = require("azure-iot-device");
const { Http } = require("azure-iot-device-http");

const [cs] = process.argv.slice(2);
const client = Client.fromConnectionString(cs, Http);
const say = (o) => console.log(JSON.stringify(o));

function fail(what, err) {
  say({ error: what, message: String(err && (err.message || err)), name: err && err.constructor && err.constructor.name });
  process.exit(1);
}

const settled = [];
let abandoned = false;

async function main() {
  await client.open();
  const m = new Message(JSON.stringify({ temperature: 21.5 }));
  m.messageId = "http-1";
  m.correlationId = "http-corr";
  m.contentType = "application/json";
  m.contentEncoding = "utf-8";
  m.properties.add("temp", "21.5");
  await client.sendEvent(m);
  const batch = ["b1", "b2"].map((id) => {
    const b = new Message("batch " + id);
    b.properties.add("part", id);
    return b;
  });
  await client.sendEventBatch(batch);
  say({ sent: 3 });

  client.on("error", (e) => fail("client", e));
  client.on("message", async (msg) => {
    const body = msg.getData().toString();
    try {
      let action = body;
      if (body === "abandon" && !abandoned) {
        abandoned = true;
        await client.abandon(msg);
      } else if (body === "reject") {
        await client.reject(msg);
      } else {
        action = body === "abandon" ? "complete-after-abandon" : "complete";
        await client.complete(msg);
      }
      settled.push(action);
      say({ received: body, messageId: msg.messageId, action });
      if (settled.length === 4) {
        await client.close();
        process.exit(0);
      }
    } catch (e) {
      fail("settle " + body, e);
    }
  });
}

main().catch((e) => fail("device", e));
setTimeout(() => fail("timeout", "settled " + JSON.stringify(settled)), 60000).unref();
