// Accessibility and narrow windows, in Chromium after the scenario: axe-core
// on every screen in both themes (any "serious" or "critical" violation
// fails the run), then every screen at 1024×700, the smallest window the
// app supports, checked for squeezed controls and saved as narrow-*.png.

import { createRequire } from "node:module";
import { join } from "node:path";

const axeSource = createRequire(import.meta.url)("axe-core").source;

const sel = (id, extra = "") => `[data-testid="${id}"]${extra}`;

/** Every screen: its route and what shows once its data is in (a story's
 * route is the message's). */
const SCREENS = [
  { name: "devices", hash: "#/devices", ready: '[data-device="thermostat-1"]' },
  { name: "device-messages", hash: "#/devices/thermostat-1/messages", ready: sel("send-body") },
  { name: "device-methods", hash: "#/devices/thermostat-1/methods", ready: sel("method-name") },
  { name: "device-telemetry", hash: "#/devices/thermostat-1/telemetry", ready: sel("telemetry-row") },
  { name: "device-twin", hash: "#/devices/thermostat-1/twin", ready: sel("twin-reported-firmware") },
  { name: "device-modules", hash: "#/devices/thermostat-1/modules", ready: sel("module-id") },
  { name: "device-console", hash: "#/devices/demo-board/console", ready: sel("console-lines", " .line") },
  { name: "trace", hash: "#/trace", ready: sel("trace-row") },
  { name: "trace-story", hash: (key) => `#/trace/story/${encodeURIComponent(key)}`, ready: sel("story-step") },
  { name: "feedback", hash: "#/feedback", ready: sel("feedback-row") },
  { name: "simulator", hash: "#/simulator", ready: sel("sim-row") },
  { name: "serial", hash: "#/serial", ready: sel("board-row") },
  { name: "scenarios", hash: "#/scenarios", ready: sel("history-row") },
  { name: "settings", hash: "#/settings", ready: sel("settings-save") },
];

/** Opens `screen` and waits for its data. */
async function open(page, screen, storyKey) {
  const hash = typeof screen.hash === "function" ? screen.hash(storyKey) : screen.hash;
  await page.evaluate((h) => (window.location.hash = h), hash);
  await page.waitForSelector(screen.ready, { timeout: 30_000, state: "attached" });
  // The story's first step open, with the message's body.
  if (screen.name === "trace-story") {
    await page.click(sel("story-step", '[data-kind="c2d.enqueued"] button.label'));
    await page.waitForSelector(sel("body-view"));
  }
  // Let lists and charts settle (live refreshes are throttled to ~300 ms).
  await page.waitForTimeout(400);
}

/** Switches the theme the way a user does, with the nav's toggle. */
async function setTheme(page, theme) {
  const now = await page.evaluate(() => document.documentElement.dataset.theme);
  if (now !== theme) await page.click(sel("theme-toggle"));
  await page.waitForFunction((t) => document.documentElement.dataset.theme === t, theme);
}

/** The serious and critical violations axe finds on the page, as text. */
async function axeProblems(page) {
  if (!(await page.evaluate(() => "axe" in window))) await page.addScriptTag({ content: axeSource });
  const violations = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => `${n.target.join(" ")}: ${n.failureSummary?.split("\n").slice(1).join(" ").trim()}`),
    }));
  });
  return violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `  [${v.impact}] ${v.id}: ${v.help}\n${v.nodes.map((n) => `      ${n}`).join("\n")}`);
}

/** Form fields named only by a placeholder or a title, or not at all: axe
 * accepts a placeholder, but it is gone once the field holds text. */
async function unlabelled(page) {
  return page.evaluate(() =>
    [...document.querySelectorAll("input:not([type=hidden]), select, textarea")]
      .filter((el) => !el.labels?.length && !el.getAttribute("aria-label") && !el.getAttribute("aria-labelledby"))
      .map((el) => `  [label] ${el.getAttribute("data-testid") ?? el.outerHTML.slice(0, 100)} has no label`),
  );
}

/** What is too narrow to use at this size: inputs squeezed, text clipped. */
async function squeezed(page) {
  return page.evaluate(() => {
    const out = [];
    const seen = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";
    const label = (el) => el.getAttribute("data-testid") ?? el.getAttribute("aria-label") ?? el.getAttribute("name") ?? el.outerHTML.slice(0, 80);
    for (const el of document.querySelectorAll("main input:not([type=checkbox]):not([type=radio]):not([type=file]), main textarea")) {
      if (!seen(el)) continue;
      const w = el.getBoundingClientRect().width;
      if (w < 120) out.push(`${label(el)} is ${Math.round(w)} px wide`);
      // A number field narrower than its value cuts the digits off.
      if (el.tagName === "INPUT" && el.scrollWidth > el.clientWidth + 1) out.push(`${label(el)} clips its value`);
    }
    // A select shows only its chosen option: narrower than ~4 characters, it is cut.
    for (const el of document.querySelectorAll("main select")) {
      if (seen(el) && el.getBoundingClientRect().width < 60) out.push(`${label(el)} is ${Math.round(el.getBoundingClientRect().width)} px wide`);
    }
    // The trace's summary keeps room to read beside a story and a detail.
    const summary = document.querySelector('[data-testid="trace-row"] .summary');
    if (summary && summary.getBoundingClientRect().width < 150) out.push(`the trace summary is ${Math.round(summary.getBoundingClientRect().width)} px wide`);
    // Nothing may stick out of the window sideways.
    const main = document.querySelector("main");
    if (main && main.scrollWidth > main.clientWidth + 1) out.push(`the screen scrolls sideways (${main.scrollWidth} > ${main.clientWidth} px)`);
    return out;
  });
}

/**
 * Runs axe on every screen in both themes and the narrow-window checks;
 * throws with every problem found. `storyKey` is a message id whose story
 * exists.
 */
export async function accessibility(page, { shots, storyKey, log = console.log }) {
  const problems = [];
  for (const theme of ["light", "dark"]) {
    for (const screen of SCREENS) {
      await open(page, screen, storyKey);
      await setTheme(page, theme);
      const found = [...(await axeProblems(page)), ...(theme === "light" ? await unlabelled(page) : [])];
      if (found.length) problems.push(`${screen.name} (${theme} theme):\n${found.join("\n")}`);
    }
    log(`  · axe: every screen in the ${theme} theme … ${problems.length ? "violations" : "ok"}`);
  }
  await setTheme(page, "light");
  const size = page.viewportSize();
  await page.setViewportSize({ width: 1024, height: 700 });
  try {
    for (const screen of SCREENS) {
      await open(page, screen, storyKey);
      // The trace's detail pane opens beside the story, the narrowest layout.
      if (screen.name === "trace-story") await page.click(sel("trace-row"));
      await page.screenshot({ path: join(shots, `narrow-${screen.name}.png`) });
      const found = await squeezed(page);
      if (found.length) problems.push(`${screen.name} at 1024×700:\n${found.map((f) => `  ${f}`).join("\n")}`);
    }
    log(`  · every screen at 1024×700 … ${problems.length ? "problems" : "ok"}`);
  } finally {
    if (size) await page.setViewportSize(size);
  }
  if (problems.length) throw new Error(`accessibility and narrow-window problems:\n${problems.join("\n")}`);
}
