import assert from "node:assert/strict";
import { getEventListeners, getMaxListeners, setMaxListeners } from "node:events";
import { describe, it } from "node:test";
import { allowListeners, childSignal, mapBounded } from "../../src/concurrency.js";

/** A task that finishes only when the test says so: in-flight counts are observed, not timed. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => {
    open = r;
  });
  return { open, opened };
}

describe("mapBounded (backup --all's slots, the catalog's manifest reads)", () => {
  it("never runs more than the limit at once, starts the next item as one finishes, keeps the order", async () => {
    const gates = Array.from({ length: 7 }, gate);
    let running = 0;
    let peak = 0;
    const started: number[] = [];
    const done = mapBounded(gates, 3, async (g, i) => {
      started.push(i);
      running++;
      peak = Math.max(peak, running);
      await g.opened;
      running--;
      return i * 10;
    });
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(started, [0, 1, 2]);
    gates[1]?.open();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(started, [0, 1, 2, 3], "a freed slot takes the next item");
    for (const g of gates) g.open();
    assert.deepEqual(await done, [0, 10, 20, 30, 40, 50, 60]);
    assert.equal(peak, 3);
  });

  it("a failure stops new items, waits for the running ones, then rethrows the first error", async () => {
    const slow = gate();
    let finished = 0;
    const started: number[] = [];
    const run = mapBounded([0, 1, 2, 3], 2, async (i) => {
      started.push(i);
      if (i === 1) throw new Error("boom");
      await slow.opened;
      finished++;
    });
    let settled = false;
    run
      .catch(() => {})
      .finally(() => {
        settled = true;
      });
    await new Promise((r) => setImmediate(r));
    assert.equal(settled, false, "item 0 is still running");
    slow.open();
    await assert.rejects(run, /boom/);
    assert.equal(finished, 1);
    assert.deepEqual(started, [0, 1], "nothing new starts after a failure");
  });

  it("refuses a limit below 1; an empty list is an empty result", async () => {
    await assert.rejects(
      mapBounded([1], 0, async () => 1),
      RangeError,
    );
    assert.deepEqual(await mapBounded([], 4, async () => 1), []);
  });

  it("childSignal follows its parent with one listener, removed on release", () => {
    const parent = new AbortController();
    const a = childSignal(parent.signal);
    const b = childSignal(parent.signal);
    assert.equal(getEventListeners(parent.signal, "abort").length, 2);
    b.release();
    assert.equal(getEventListeners(parent.signal, "abort").length, 1);
    parent.abort(new Error("stop"));
    assert.equal(a.signal.aborted, true);
    assert.equal((a.signal.reason as Error).message, "stop");
    assert.equal(b.signal.aborted, false, "a released child no longer follows");
    assert.equal(childSignal(parent.signal).signal.aborted, true, "a child of an aborted parent starts aborted");
    assert.equal(childSignal(undefined).signal.aborted, false, "no parent: a signal of its own");
  });

  it("childSignal: many tasks one after another leave the parent with only the running ones' listeners", async () => {
    const parent = new AbortController();
    const seen: number[] = [];
    await mapBounded(
      Array.from({ length: 50 }, (_, i) => i),
      4,
      async () => {
        const own = childSignal(parent.signal);
        try {
          seen.push(getEventListeners(parent.signal, "abort").length);
          await new Promise((r) => setImmediate(r));
        } finally {
          own.release();
        }
      },
    );
    assert.ok(Math.max(...seen) <= 4, `at most one listener per running task, saw ${Math.max(...seen)}`);
    assert.equal(getEventListeners(parent.signal, "abort").length, 0, "every listener removed");
  });

  // Node warns of a possible leak past its default limit of listeners on one signal (Node 20 does for
  // AbortSignal, 24 no longer does): what we need is the limit raised for N slots, whatever the runtime does with it.
  it("allowListeners raises the signal's listener limit to cover N slots, never lowers it", () => {
    const shared = new AbortController();
    allowListeners(shared.signal, 16);
    assert.ok(getMaxListeners(shared.signal) > 16, `limit ${getMaxListeners(shared.signal)}`);
    const high = new AbortController();
    setMaxListeners(1000, high.signal);
    allowListeners(high.signal, 16);
    assert.equal(getMaxListeners(high.signal), 1000);
    allowListeners(undefined, 16);
  });

  it("allowListeners: 16 slots listening on one signal raise no warning", async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on("warning", onWarning);
    try {
      const shared = new AbortController();
      allowListeners(shared.signal, 16);
      for (let i = 0; i < 16; i++) shared.signal.addEventListener("abort", () => {});
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off("warning", onWarning);
    }
    assert.deepEqual(warnings, []);
  });
});
