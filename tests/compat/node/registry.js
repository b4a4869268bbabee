// The Azure IoT Node service SDK (azure-iothub, unmodified) over HTTPS with
// the service connection string exactly as `hublet connection-string
// --service` prints it: Registry create/get/list/delete, and the typed
// errors IoT Hub's answers become. The hub's CA comes from NODE_EXTRA_CA_CERTS.
//
//   node registry.js CONNECTION_STRING SILENT_DEVICE_ID
//
// SILENT_DEVICE_ID is connected and subscribed to methods but never
// answers. Prints one JSON line per step.
"use strict";
const { Registry, Client } = require("azure-iothub");

const [cs, silent] = process.argv.slice(2);
const registry = Registry.fromConnectionString(cs);
const client = Client.fromConnectionString(cs);
const say = (o) => console.log(JSON.stringify(o));
const errorOf = (e) => ({ name: e.name, class: e.constructor && e.constructor.name, status: e.response && e.response.statusCode });

async function expectError(step, p) {
  try {
    await p;
    say({ step, error: null });
  } catch (e) {
    say({ step, error: errorOf(e) });
  }
}

async function main() {
  const created = await registry.create({ deviceId: "node-reg", status: "enabled" });
  say({ step: "create", deviceId: created.responseBody.deviceId, key: Boolean(created.responseBody.authentication.symmetricKey.primaryKey) });
  const got = await registry.get("node-reg");
  say({ step: "get", deviceId: got.responseBody.deviceId, status: got.responseBody.status });
  const list = await registry.list();
  say({ step: "list", ids: list.responseBody.map((d) => d.deviceId) });
  await expectError("create-again", registry.create({ deviceId: "node-reg" }));
  await registry.delete("node-reg");
  say({ step: "delete" });
  await expectError("get-deleted", registry.get("node-reg"));
  await expectError("invoke-unknown", client.invokeDeviceMethod("no-such-device", { methodName: "m", payload: {}, responseTimeoutInSeconds: 5, connectTimeoutInSeconds: 5 }));
  await expectError("invoke-silent", client.invokeDeviceMethod(silent, { methodName: "m", payload: {}, responseTimeoutInSeconds: 5, connectTimeoutInSeconds: 5 }));
  process.exit(0);
}

main().catch((e) => {
  say({ step: "unexpected", error: errorOf(e), message: String(e.message) });
  process.exit(1);
});
setTimeout(() => {
  say({ step: "timeout" });
  process.exit(1);
}, 90000).unref();
