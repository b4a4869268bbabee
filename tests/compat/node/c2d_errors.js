// Sends C2D messages that Hublet must refuse, and prints the error class
// the Azure IoT Node service SDK raises for each (as against IoT Hub).
//
//   node c2d_errors.js CONNECTION_STRING
"use strict";
const { Client } = require("azure-iothub");
const { Message } = require("azure-iothub/dist/common-core/message");

const client = Client.fromConnectionString(process.argv[2]);
const cases = [
  ["unknown device", "no-such-device", new Message("x")],
  ["too large", "d-err", new Message("x".repeat(70 * 1024))],
];
const out = {};
client.open((err) => {
  if (err) {
    console.log(JSON.stringify({ error: "open", message: String(err) }));
    process.exit(1);
  }
  let left = cases.length;
  for (const [name, device, msg] of cases) {
    client.send(device, msg, (e) => {
      out[name] = e ? e.constructor.name : "ok";
      if (--left === 0) {
        console.log(JSON.stringify(out));
        client.close(() => process.exit(0));
      }
    });
  }
});
setTimeout(() => { console.log(JSON.stringify({ error: "timeout", got: out })); process.exit(1); }, 60000).unref();
