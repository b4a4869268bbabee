// The end-to-end scenario, written once and run by two drivers: Playwright
// in headless Chromium against `hublet serve --ui`, and WebdriverIO through
// tauri-driver against the real desktop app. `ui` is the driver adapter
// (see browser.mjs and desktop.mjs); `ctx` carries what differs between
// the two (how an export reaches a file).

import assert from "node:assert/strict";
import { fleetSteps } from "./steps/devices.mjs";

const sel = (id, extra = "") => `[data-testid="${id}"]${extra}`;

/** Runs one named step, logging it. */
async function step(name, fn) {
  const t0 = Date.now();
  process.stdout.write(`  · ${name} … `);
  await fn();
  console.log(`ok (${Date.now() - t0} ms)`);
}

export async function scenario(ui, ctx) {
  const suffix = Date.now().toString(36);
  const newDevice = `e2e-device-${suffix}`;
  const messageId = `e2e-msg-${suffix}`;

  await step("the demo fleet is listed", async () => {
    await ui.go("#/devices");
    await ui.waitFor('[data-device="thermostat-1"]');
    await ui.waitFor('[data-device="unresponsive-1"]');
    await ui.screenshot("devices");
  });

  await step("add a device", async () => {
    await ui.fill(sel("device-new-id"), newDevice);
    await ui.click(sel("device-add"));
    await ui.waitFor(`[data-device="${newDevice}"]`);
  });

  await step("add a module identity to the new device on its Modules tab", async () => {
    await ui.go(`#/devices/${newDevice}/modules`);
    await ui.waitFor(sel("module-id"));
    await ui.fill(sel("module-id"), "probe");
    await ui.click(sel("module-submit"));
    await ui.waitFor(sel("module-probe"), 15_000);
    assert.match(await ui.text(sel("module-probe")), /Disconnected/);
    await ui.screenshot("modules");
  });

  await step("send a message with ack=full to a simulated device; it is completed with feedback", async () => {
    await ui.go("#/devices/thermostat-1/messages");
    await ui.waitFor(sel("send-body"));
    await ui.fill(sel("send-body"), '{"setpoint": 21.5}');
    await ui.fill(sel("send-message-id"), messageId);
    await ui.select(sel("send-ack"), "full");
    await ui.click(sel("send-submit"));
    await ui.go(`#/trace/story/${messageId}`);
    await ui.waitFor(sel("story-step", '[data-kind="c2d.completed"]'), 30_000);
    await ui.waitFor(sel("story-step", '[data-kind="feedback.produced"]'), 60_000);
    const outcome = await ui.text(sel("story-outcome"));
    assert.match(outcome, /completed/i);
    assert.match(outcome, /Success/);
    await ui.screenshot("story");
  });

  await step("invoke a method and read the result inline", async () => {
    await ui.go("#/devices/thermostat-1/methods");
    await ui.waitFor(sel("method-name"));
    await ui.fill(sel("method-name"), "setSetpoint");
    await ui.fill(sel("method-payload"), '{"setpoint": 23}');
    await ui.click(sel("method-invoke"));
    await ui.waitFor(sel("method-result", '[data-status="200"]'), 30_000);
    const result = await ui.text(sel("method-result"));
    assert.match(result, /accepted/);
    assert.match(result, /23/);
    await ui.screenshot("method-result");
  });

  await step("edit a desired property on the Twin tab; the thermostat acknowledges it", async () => {
    await ui.go("#/devices/thermostat-1/twin");
    // The simulated thermostat reports its firmware when it connects.
    await ui.waitFor(sel("twin-reported-firmware"), 30_000);
    await ui.fill(sel("twin-editor"), '{"setpoint": 24}');
    await ui.waitFor(sel("twin-patch"));
    await ui.click(sel("twin-apply"));
    await ui.waitFor(sel("twin-desired-setpoint"), 15_000);
    // It answers the IoT Plug and Play way: {"value": 24, "ac": 200, "av": N}.
    await ui.waitFor(sel("twin-reported-setpoint"), 30_000);
    const reported = await ui.text(sel("twin-reported-setpoint"));
    assert.match(reported, /"value":24/);
    assert.match(reported, /"ac":200/);
    await ui.screenshot("twin");
  });

  await step("filter the devices by a twin query", async () => {
    await ui.go("#/devices");
    await ui.waitFor(sel("devices-where"));
    await ui.fill(sel("devices-where"), "properties.reported.firmware = '1.4.2'");
    await ui.click(sel("devices-where-apply"));
    // The demo's two thermostats report firmware 1.4.2; nothing else does.
    for (let i = 0; i < 50 && !/2 match the twin query/.test(await ui.text(sel("devices-count"))); i++) {
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.match(await ui.text(sel("devices-count")), /2 match the twin query/);
  });

  await step("a device that never answers gives 504101, explained", async () => {
    await ui.go("#/devices/unresponsive-1/methods");
    await ui.waitFor(sel("method-name"));
    await ui.fill(sel("method-name"), "ping");
    await ui.fill(sel("method-payload"), "{}");
    await ui.fill(sel("method-response-timeout"), "5");
    await ui.click(sel("method-invoke"));
    await ui.waitFor('[data-error-code="504101"]', 30_000);
    const text = await ui.text('[data-error-code="504101"]');
    assert.match(text, /504101/);
    assert.match(text, /did not answer|response timeout/i);
    await ui.screenshot("method-504101");
    // The error links to the call's story: invoked → delivered → timed out.
    await ui.click(sel("method-failed-story"));
    await ui.waitFor(sel("story-step", '[data-kind="method.timed_out"]'), 15_000);
    await ui.waitFor(sel("story-step", '[data-kind="method.invoked"]'));
  });

  await step("the trace shows the whole story live", async () => {
    await ui.go("#/trace");
    await ui.waitFor(sel("trace-row"), 30_000);
    await ui.screenshot("trace");
  });

  await step("export the trace and parse the file", async () => {
    const text = await ctx.exportTrace(ui);
    const events = text
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => JSON.parse(l));
    assert.ok(events.length > 10, `only ${events.length} events exported`);
    const mine = events.filter((e) => e.messageId === messageId).map((e) => e.kind);
    for (const k of ["c2d.enqueued", "c2d.delivered", "c2d.completed", "feedback.produced"]) {
      assert.ok(mine.includes(k), `${k} missing from the export: ${mine.join(", ")}`);
    }
  });

  await step("feedback, simulator, serial (console in and out) and settings screens", async () => {
    await ui.go("#/feedback");
    await ui.waitFor(sel("feedback-row"), 30_000);
    await ui.screenshot("feedback");
    await ui.go("#/simulator");
    await ui.waitFor(sel("sim-row"), 30_000);
    await ui.screenshot("simulator");
    await ui.go("#/serial");
    await ui.waitFor(sel("board-row", '[data-device="demo-board"]'), 30_000);
    await ui.screenshot("serial");
    await ui.go("#/devices/demo-board/console");
    await ui.waitFor(sel("console-lines", " .line"), 30_000);
    await ui.fill(sel("console-input"), "status");
    await ui.click(sel("console-send"));
    await ui.waitFor(sel("console-lines", ' .line[data-direction="out"]'), 15_000);
    // The emulated board answers typed text like the reference firmware.
    await ui.waitFor(sel("console-lines", ' .line[data-direction="in"]:last-child'), 15_000);
    await ui.screenshot("console");
    await ui.go("#/settings");
    await ui.waitFor(sel("settings-save"));
    await ui.screenshot("settings");
  });
  await fleetSteps(ui, step);

  // For checks run after the scenario: a message with a whole story.
  return { messageId };
}
