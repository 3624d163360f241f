import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { CancelledError } from "../../src/errors.js";
import { abortable } from "../../src/store/cancel.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

async function* chunks(n: number, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < n; i++) yield Buffer.alloc(size, i & 0xff);
}

describe("abortable(): cancellation for a stream of chunks", () => {
  it("keeps no chunk it has passed on: memory stays flat over 256 MiB of 32 KiB chunks", async () => {
    gc();
    const before = process.memoryUsage().arrayBuffers;
    let seen = 0;
    for await (const c of abortable(chunks(8192, 32 * 1024), new AbortController().signal, "test")) seen += c.length;
    // V8 frees the backing stores of collected buffers after the collection, not during it: a second
    // collection after the current task lets the count catch up (one run counted 37 MiB without it).
    gc();
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    const retained = process.memoryUsage().arrayBuffers - before;
    assert.equal(seen, 256 * 1024 * 1024);
    // A race against one long-lived promise per chunk kept every chunk (the whole 256 MiB); a quarter
    // of that is far from both the leak and what a correct version retains.
    assert.ok(retained < 64 * 1024 * 1024, `retained ${(retained / 1048576).toFixed(0)} MiB`);
  });

  it("rejects a next() that never comes as soon as the signal fires", async () => {
    const stuck: AsyncIterable<Buffer> = {
      [Symbol.asyncIterator]: () => ({ next: () => new Promise<IteratorResult<Buffer>>(() => {}) }),
    };
    const ac = new AbortController();
    const pending = (async () => {
      for await (const _ of abortable(stuck, ac.signal, "the upload of k")) {
        // never reached
      }
    })();
    ac.abort();
    await assert.rejects(
      pending,
      (err: Error) => err instanceof CancelledError && /the upload of k was cancelled/.test(err.message),
    );
  });

  it("maps the source's own failure, not a cancellation", async () => {
    async function* failing(): AsyncGenerator<Buffer> {
      yield Buffer.from("a");
      throw new Error("stream broke");
    }
    await assert.rejects(
      (async () => {
        for await (const _ of abortable(
          failing(),
          new AbortController().signal,
          "x",
          (e) => new RangeError(String(e)),
        )) {
          // drain
        }
      })(),
      (err: Error) => err instanceof RangeError && /stream broke/.test(err.message),
    );
  });
});
