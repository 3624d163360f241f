import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
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

  it("childSignal follows its parent with one listener, removed on release; allowListeners silences the leak warning for N slots", async () => {
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

    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on("warning", onWarning);
    try {
      const shared = new AbortController();
      allowListeners(shared.signal, 16);
      for (let i = 0; i < 16; i++) shared.signal.addEventListener("abort", () => {});
      const plain = new AbortController();
      for (let i = 0; i < 11; i++) plain.signal.addEventListener("abort", () => {});
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off("warning", onWarning);
    }
    assert.equal(warnings.length, 1, "only the signal without allowListeners warns (the check can fail)");
  });
});
