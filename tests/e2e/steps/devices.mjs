// Fleets as a unit, in both drivers (called from scenario.mjs with its
// `step`): a small simulated fleet chosen on Devices with the fleet filter
// and "select all", stopped in one go while the demo devices stay
// connected, then deleted as a unit; and another fleet deleted from the
// Simulator screen's fleet list.

const sel = (id, extra = "") => `[data-testid="${id}"]${extra}`;
const row = (id, connection = "") => `[data-device="${id}"]${connection ? `[data-connection="${connection}"]` : ""}`;

/** Waits until the text of `selector` matches `re`. */
async function waitText(ui, selector, re, timeout = 20_000) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    last = await ui.text(selector).catch(() => "");
    if (re.test(last)) return last;
    if (Date.now() > deadline) throw new Error(`${selector}: waited for ${re}, saw ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Waits until nothing matches `selector`. */
async function waitGone(ui, selector, timeout = 20_000) {
  const deadline = Date.now() + timeout;
  while (!(await ui.gone(selector))) {
    if (Date.now() > deadline) throw new Error(`${selector} is still there`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Starts `count` door locks named `{prefix}-n` with `seed` on the Simulator screen. */
async function startFleet(ui, prefix, count, seed) {
  await ui.go("#/simulator");
  await ui.waitFor(sel("fleet-profile", ' option[value="door-lock"]'));
  await ui.select(sel("fleet-profile"), "door-lock");
  await ui.fill(sel("fleet-count"), String(count));
  await ui.fill(sel("fleet-prefix"), prefix);
  await ui.fill(sel("fleet-seed"), String(seed));
  await ui.click(sel("fleet-start"));
  await ui.waitFor(sel("fleet-started"));
}

export async function fleetSteps(ui, step) {
  const bulk = [1, 2, 3].map((n) => `bulk-${n}`);

  await step("select one fleet on Devices and stop it in one go; the demo devices stay connected", async () => {
    await startFleet(ui, "bulk", 3, 4242);
    await ui.go("#/devices");
    await ui.waitFor(sel("devices-fleet", ' option[value="door-lock#4242"]'), 15_000);
    await ui.select(sel("devices-fleet"), "door-lock#4242");
    await waitText(ui, sel("devices-count"), /· 3 shown/);
    for (const id of bulk) await ui.waitFor(row(id, "Connected"), 20_000);
    await ui.click(sel("devices-select-all"));
    await waitText(ui, sel("devices-selection"), /3 selected/);
    await ui.screenshot("devices-fleet-selected");
    await ui.click(sel("bulk-stop"));
    for (const id of bulk) await ui.waitFor(row(id, "Disconnected"), 20_000);
    await ui.select(sel("devices-fleet"), "");
    await ui.waitFor(row("thermostat-1", "Connected"));
    await ui.waitFor(row("door-lock-1", "Connected"));
  });

  await step("delete the stopped fleet as a unit from Devices", async () => {
    await ui.select(sel("devices-fleet"), "door-lock#4242");
    await ui.waitFor(sel("fleet-delete"));
    await ui.acceptConfirms();
    await ui.click(sel("fleet-delete"));
    for (const id of bulk) await waitGone(ui, row(id));
    await ui.waitFor(row("thermostat-1"));
  });

  await step("delete a running fleet from the Simulator screen's fleet list", async () => {
    await startFleet(ui, "unit", 2, 4343);
    const fleet = sel("sim-fleet", '[data-fleet="door-lock#4343"]');
    await ui.waitFor(fleet, 15_000);
    await waitText(ui, fleet, /unit-/);
    await ui.screenshot("simulator-fleets");
    await ui.acceptConfirms();
    await ui.click(`${fleet} ${sel("sim-fleet-delete")}`);
    await waitGone(ui, fleet);
    for (const id of ["unit-1", "unit-2"]) await waitGone(ui, sel("sim-row", `[data-device="${id}"]`));
    // The demo's fleets still run.
    await ui.waitFor(sel("sim-row", '[data-device="thermostat-1"]'));
    await ui.go("#/devices");
    await ui.waitFor(row("thermostat-1"));
    for (const id of ["unit-1", "unit-2"]) await waitGone(ui, row(id));
  });
}
