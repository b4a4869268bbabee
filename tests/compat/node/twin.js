// Device twins with the Azure IoT Node SDKs, unmodified: a device over MQTT
// (azure-iot-device: getTwin, reported update, desired events) and the
// service (azure-iothub Registry: getTwin, updateTwin, createQuery), with
// the connection strings exactly as `hublet` prints them. The hub's CA
// comes from NODE_EXTRA_CA_CERTS.
//
//   node twin.js DEVICE_CONNECTION_STRING SERVICE_CONNECTION_STRING DEVICE_ID
//
// Prints one JSON line per step; exits 0 when the device has seen the
// desired patch the service made.
"use strict";
const { Client } = require("azure-iot-device");
const { Mqtt } = require("azure-iot-device-mqtt");
const { Registry } = require("azure-iothub");

const [deviceCs, serviceCs, deviceId] = process.argv.slice(2);
const say = (o) => console.log(JSON.stringify(o));
function fail(what, err) {
  say({ error: what, message: String(err && (err.message || err)), name: err && err.name });
  process.exit(1);
}

async function main() {
  const device = Client.fromConnectionString(deviceCs, Mqtt);
  await device.open();
  const twin = await device.getTwin();
  say({ step: "device-get", desiredVersion: twin.properties.desired.$version });
  await new Promise((resolve, reject) =>
    twin.properties.reported.update({ firmware: "2.0.0", battery: { level: 87 } }, (e) => (e ? reject(e) : resolve())),
  );
  say({ step: "reported" });

  const gotDesired = new Promise((resolve) => {
    twin.on("properties.desired", (delta) => {
      if (delta.setpoint !== undefined) resolve(delta);
    });
  });

  const registry = Registry.fromConnectionString(serviceCs);
  const fetched = (await registry.getTwin(deviceId)).responseBody;
  say({ step: "service-get", firmware: fetched.properties.reported.firmware, etag: fetched.etag });
  const updated = (await registry.updateTwin(deviceId, { tags: { site: "bench" }, properties: { desired: { setpoint: 23 } } }, fetched.etag)).responseBody;
  say({ step: "service-update", tags: updated.tags, desiredVersion: updated.properties.desired.$version });

  const delta = await gotDesired;
  say({ step: "device-desired", setpoint: delta.setpoint, version: delta.$version });

  const query = registry.createQuery("SELECT * FROM devices WHERE tags.site = 'bench'", 10);
  const rows = (await query.nextAsTwin()).result;
  say({ step: "query", ids: rows.map((t) => t.deviceId), more: query.hasMoreResults });

  await device.close();
  process.exit(0);
}

main().catch((e) => fail("twin", e));
setTimeout(() => fail("timeout", "no desired patch within 60 s"), 60000).unref();
