// Reading what a message carried, in Chromium after the scenario: the
// trace's text search in any case, a body as text, hex and base64 in the
// event's detail, and a queued binary message that expired while its
// device holds it, explained in the mailbox.

import assert from "node:assert/strict";

const sel = (id, extra = "") => `[data-testid="${id}"]${extra}`;

/** `messageId` was sent with the body `body` (text). */
export async function bodies(page, hub, { messageId, body, log = console.log }) {
  await page.evaluate(() => (window.location.hash = "#/trace"));
  await page.fill(sel("trace-filter-text"), messageId.toUpperCase());
  await page.waitForSelector(sel("trace-row", '[data-kind="c2d.enqueued"]'), { timeout: 15_000 });
  const kinds = await page.$$eval(sel("trace-row"), (rows) => rows.map((r) => r.getAttribute("data-kind")));
  assert.ok(kinds.includes("c2d.completed"), `the message's steps, found in upper case: ${kinds.join(", ")}`);
  log("  · the trace's text search ignores case … ok");

  // Times are typed on the 24-hour clock; "1 pm" is not one.
  await page.fill(sel("trace-filter-since"), "1 pm");
  await page.press(sel("trace-filter-since"), "Enter");
  assert.equal(await page.getAttribute(sel("trace-filter-since"), "aria-invalid"), "true");
  await page.fill(sel("trace-filter-since"), "2099-01-01 13:00");
  await page.press(sel("trace-filter-since"), "Enter");
  await page.waitForSelector(sel("trace-row"), { state: "detached", timeout: 15_000 });
  assert.equal(await page.inputValue(sel("trace-filter-since")), "2099-01-01 13:00:00");
  await page.fill(sel("trace-filter-since"), "");
  await page.press(sel("trace-filter-since"), "Enter");
  await page.waitForSelector(sel("trace-row", '[data-kind="c2d.enqueued"]'), { timeout: 15_000 });
  log("  · the trace's time window on a 24-hour clock … ok");

  await page.click(sel("trace-row", '[data-kind="c2d.enqueued"]'));
  const shown = () => page.innerText(sel("body-view-text"));
  assert.equal(await shown(), body);
  const bytes = Buffer.from(body);
  await page.click(`${sel("body-view")} button[data-view="hex"]`);
  assert.match(await shown(), new RegExp(`^0000  ${[...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, "0")).join(" ")}`));
  await page.click(`${sel("body-view")} button[data-view="base64"]`);
  assert.equal(await shown(), bytes.toString("base64"));
  await page.fill(sel("trace-filter-text"), "");
  log("  · a body as text, hex and base64 … ok");

  // The demo's unresponsive device takes every message and never settles
  // it: its lock lasts a minute, the message's time to live one second.
  const r = await fetch(`${hub.api}/api/devices/unresponsive-1/messages`, {
    method: "POST",
    headers: { authorization: `Bearer ${hub.token}`, "content-type": "application/json" },
    body: JSON.stringify({ body: "3q2+7w==", bodyEncoding: "base64", messageId: `${messageId}-held`, ttlSeconds: 1 }),
  });
  assert.equal(r.status, 201, await r.text());
  await page.evaluate(() => (window.location.hash = "#/devices/unresponsive-1/messages"));
  const row = `[data-testid="mailbox-row"][data-message-id="${messageId}-held"]`;
  const note = await page.waitForSelector(`[data-testid="mailbox-note"][data-message-id="${messageId}-held"]`, { timeout: 15_000 });
  assert.match(await note.innerText(), /may still complete it until its lock ends/);
  assert.equal(await page.getAttribute(row, "data-state"), "Invisible");
  await page.click(`${row} ${sel("mailbox-body-toggle")}`);
  assert.match(await page.innerText(sel("body-view-text")), /^0000 {2}de ad be ef/);
  log("  · a binary message that expired while locked, explained, its body in hex … ok");
}
