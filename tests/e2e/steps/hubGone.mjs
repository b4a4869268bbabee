// The hub going away under an open UI: a frozen hub (SIGSTOP: the
// connection stays open, nothing arrives) and a stopped one (SIGTERM, as
// Ctrl-C). Each time the banner shows within a second, what was on screen
// stays, errors read as plain words, and when the hub is back the banner
// goes by itself. `restart()` starts the hub again on its data directory
// and ports (the caller keeps the new one, to stop it at the end).

import assert from "node:assert/strict";

const BANNER = '[data-testid="hub-unreachable"]';
const ROW = '[data-device="thermostat-1"]';

/** Milliseconds from `act` until the banner shows (fails over `ms`),
 * timed in the page, so the driver's own round trips do not count. */
async function bannerAfter(page, act, ms = 1000) {
  const t0 = await page.evaluate((banner) => {
    window.__bannerAt = null;
    const seen = new MutationObserver(() => {
      if (document.querySelector(banner)) {
        window.__bannerAt = performance.now();
        seen.disconnect();
      }
    });
    seen.observe(document.body, { subtree: true, childList: true });
    return performance.now();
  }, BANNER);
  await act();
  await page.waitForSelector(BANNER, { timeout: ms * 5 });
  const took = Math.round((await page.evaluate(() => window.__bannerAt)) - t0);
  assert.ok(took <= ms, `the banner took ${took} ms to show (at most ${ms})`);
  return took;
}

export async function hubGone(page, hub, { restart, shots, log = console.log }) {
  await page.evaluate(() => (window.location.hash = "#/devices"));
  await page.waitForSelector(ROW);
  assert.equal(await page.$(BANNER), null, "no banner while the hub answers");

  // A quiet hub is not a gone one: with the simulated fleet stopped, only
  // its heartbeats keep the stream alive, and no banner may flash.
  const r = await fetch(`${hub.api}/api/sim/devices`, { method: "DELETE", headers: { authorization: `Bearer ${hub.token}` } });
  assert.equal(r.status, 200, "stop the simulated devices");
  await page.evaluate((banner) => {
    window.__bannerSeen = false;
    new MutationObserver(() => (window.__bannerSeen ||= !!document.querySelector(banner))).observe(document.body, { subtree: true, childList: true });
  }, BANNER);
  await page.waitForTimeout(3000);
  assert.equal(await page.evaluate(() => window.__bannerSeen), false, "the banner showed while the hub was quiet but there");
  log("  · a quiet hub stays live on its heartbeats … ok");

  const frozen = await bannerAfter(page, () => hub.signal("SIGSTOP"));
  assert.ok(await page.$(ROW), "the devices stay on screen");
  assert.match(await page.innerText(BANNER), /The hub is not answering; retrying…/);
  await page.screenshot({ path: `${shots}/hub-not-answering.png` });
  hub.signal("SIGCONT");
  await page.waitForSelector(BANNER, { state: "detached", timeout: 15_000 });
  log(`  · a frozen hub: banner after ${frozen} ms, gone when it runs again … ok`);

  const stopped = await bannerAfter(page, () => hub.stop());
  assert.ok(await page.$(ROW), "the devices stay on screen");
  // A screen that asks the hub now says so in words, not "Failed to fetch".
  await page.evaluate(() => (window.location.hash = "#/feedback"));
  const error = await (await page.waitForSelector("[data-error-code]", { timeout: 5000 })).innerText();
  assert.match(error, /The hub is not answering/);
  assert.doesNotMatch(error, /TypeError|Failed to fetch|Load failed/);
  await restart();
  await page.waitForSelector(BANNER, { state: "detached", timeout: 15_000 });
  await page.evaluate(() => (window.location.hash = "#/devices"));
  await page.waitForSelector(ROW);
  log(`  · a stopped hub: banner after ${stopped} ms, gone once it is restarted … ok`);
}
