// A module identity with the Azure IoT Node SDKs, unmodified: a
// ModuleClient over MQTT with the module's connection string as `hublet
// module connection-string` prints it (a method handler, the module twin),
// and the service (azure-iothub Registry and Client: module list, module
// twin update, a method invoked on the module).
//
//   node module.js MODULE_CONNECTION_STRING SERVICE_CONNECTION_STRING DEVICE_ID MODULE_ID
//
// Prints one JSON line per step; exits 0 when every step passed.
"use strict";
const { ModuleClient } = require("azure-iot-device");
const { Mqtt } = require("azure-iot-device-mqtt");
const { Registry, Client } = require("azure-iothub");

const [moduleCs, serviceCs, deviceId, moduleId] = process.argv.slice(2);
const say = (o) => console.log(JSON.stringify(o));
function fail(what, err) {
  say({ error: what, message: String(err && (err.message || err)), name: err && err.name });
  process.exit(1);
}

async function main() {
  const registry = Registry.fromConnectionString(serviceCs);
  const listed = (await registry.getModulesOnDevice(deviceId)).responseBody;
  say({ step: "list", modules: listed.map((m) => m.moduleId) });

  const mod = ModuleClient.fromConnectionString(moduleCs, Mqtt);
  await mod.open();
  mod.onMethod("ping", (req, res) => res.send(200, { pong: req.payload.n }, () => {}));
  const twin = await mod.getTwin();
  await new Promise((resolve, reject) =>
    twin.properties.reported.update({ version: "m-1" }, (e) => (e ? reject(e) : resolve())),
  );
  const gotDesired = new Promise((resolve) => {
    twin.on("properties.desired", (delta) => {
      if (delta.level !== undefined) resolve(delta);
    });
  });
  say({ step: "module-open" });

  const fetched = (await registry.getModuleTwin(deviceId, moduleId)).responseBody;
  say({ step: "service-get", moduleId: fetched.moduleId, reported: fetched.properties.reported.version });
  await registry.updateModuleTwin(deviceId, moduleId, { properties: { desired: { level: 3 } } }, fetched.etag);
  const delta = await gotDesired;
  say({ step: "module-desired", level: delta.level, version: delta.$version });

  const service = Client.fromConnectionString(serviceCs);
  const r = (await service.invokeDeviceMethod(deviceId, moduleId, { methodName: "ping", payload: { n: 7 }, responseTimeoutInSeconds: 20 })).result;
  say({ step: "method", status: r.status, payload: r.payload });

  await mod.close();
  process.exit(0);
}

main().catch((e) => fail("module", e));
setTimeout(() => fail("timeout", "the module steps did not finish within 60 s"), 60000).unref();
