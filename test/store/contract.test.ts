import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { CancelledError, StoreError } from "../../src/errors.js";
import type { StoredObject } from "../../src/store/store.js";
import { generatedBody, sha256Of, stallingBody } from "../support/bodies.js";
import { STORE_FACTORIES, type StoreBackend } from "./store-factories.js";

const MiB = 1024 * 1024;

async function listAll(it: AsyncIterable<StoredObject>): Promise<StoredObject[]> {
  const out: StoredObject[] = [];
  for await (const o of it) out.push(o);
  return out.sort((a, b) => a.key.localeCompare(b.key));
}

async function readAll(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(c);
  return Buffer.concat(parts);
}

const isStoreError = (re: RegExp) => (err: unknown) => {
  assert.ok(err instanceof StoreError, String(err));
  assert.match(err.message, re);
  assert.doesNotMatch(err.message, /\n/);
  return true;
};

for (const factory of STORE_FACTORIES) {
  describe(`Store contract: ${factory.name}`, () => {
    let backend: StoreBackend;
    let n = 0;
    const fresh = () => backend.fixture(`case-${++n}`);

    before(async () => {
      backend = await factory.start();
    });
    after(async () => {
      await backend?.stop();
    });

    it("put, get, read, exists, list and delete round-trip objects", async () => {
      const { store } = await fresh();
      assert.deepEqual(await listAll(store.list("")), [], "a new store is empty");
      const small = Buffer.from("manifest-ish\n");
      await store.put("lab/1/manifest.json", small, { contentType: "application/json" });
      const streamed = randomBytes(300_000);
      await store.put(
        "lab/1/snapshot.db",
        (async function* () {
          for (let off = 0; off < streamed.length; off += 32_768) yield streamed.subarray(off, off + 32_768);
        })(),
      );
      await store.put("other/2/snapshot.db", Buffer.from("x"));
      assert.deepEqual(await store.read("lab/1/manifest.json"), small);
      assert.deepEqual(await readAll(store.get("lab/1/snapshot.db")), streamed);
      assert.equal(await store.exists("lab/1/snapshot.db"), true);
      assert.equal(await store.exists("lab/1/missing"), false);
      assert.equal(await store.exists("lab/1"), false, "a folder is not an object");
      const all = await listAll(store.list(""));
      assert.deepEqual(
        all.map((o) => [o.key, o.size]),
        [
          ["lab/1/manifest.json", small.length],
          ["lab/1/snapshot.db", streamed.length],
          ["other/2/snapshot.db", 1],
        ],
      );
      for (const o of all) assert.ok(Math.abs(o.lastModified.getTime() - Date.now()) < 120_000);
      assert.deepEqual(
        (await listAll(store.list("lab"))).map((o) => o.key),
        ["lab/1/manifest.json", "lab/1/snapshot.db"],
      );
      assert.deepEqual(await listAll(store.list("nothing-here")), []);
      await store.put("lab/1/manifest.json", Buffer.from("replaced"));
      assert.equal((await store.read("lab/1/manifest.json")).toString(), "replaced");
      await store.delete(["lab/1/manifest.json", "lab/1/snapshot.db", "lab/1/never-existed"]);
      assert.equal(await store.exists("lab/1/snapshot.db"), false);
      assert.deepEqual(
        (await listAll(store.list(""))).map((o) => o.key),
        ["other/2/snapshot.db"],
      );
      await assert.rejects(store.read("lab/1/snapshot.db"), StoreError);
      await assert.rejects(readAll(store.get("lab/1/snapshot.db")), StoreError);
    });

    it("hides leftovers of interrupted puts from list, and abortIncomplete removes them under its prefix", async () => {
      const f = await fresh();
      await f.makeLeftover("lab/1/snapshot.db");
      await f.makeLeftover("keep/1/snapshot.db");
      assert.equal(await f.leftovers(), 2);
      assert.deepEqual(await listAll(f.store.list("")), [], "a leftover is not an object");
      assert.equal(await f.store.exists("lab/1/snapshot.db"), false);
      const future = new Date(Date.now() + 60_000);
      assert.equal(await f.store.abortIncomplete("lab", future), 1);
      assert.equal(await f.leftovers(), 1, "the other prefix was left alone");
      assert.equal(await f.store.abortIncomplete("", new Date(Date.now() - 24 * 3600_000)), 0, "too young");
      assert.equal(await f.store.abortIncomplete("", future), 1);
      assert.equal(await f.leftovers(), 0);
    });

    it("a put cancelled through its signal, even with the body stuck, leaves nothing visible", async () => {
      const f = await fresh();
      const controller = new AbortController();
      // 9 MiB: more than one S3 part has gone out when the source stalls.
      const put = f.store.put(
        "lab/1/snapshot.db",
        stallingBody(9 * MiB, () => setImmediate(() => controller.abort())),
        { signal: controller.signal, sizeHint: 20 * MiB },
      );
      await assert.rejects(put, (err: unknown) => {
        assert.ok(err instanceof CancelledError, String(err));
        assert.equal(err.name, "CancelledError");
        assert.match(err.message, /cancelled$/);
        return true;
      });
      assert.equal(await f.store.exists("lab/1/snapshot.db"), false);
      assert.deepEqual(await listAll(f.store.list("")), []);
      assert.equal(await f.leftovers(), 0);
    });

    it("every operation given an aborted signal rejects with CancelledError", async () => {
      const { store } = await fresh();
      await store.put("a/b", Buffer.from("x"));
      const signal = AbortSignal.abort();
      await assert.rejects(store.put("a/c", Buffer.from("x"), { signal }), CancelledError);
      await assert.rejects(store.read("a/b", { signal }), CancelledError);
      await assert.rejects(readAll(store.get("a/b", { signal })), CancelledError);
      await assert.rejects(store.exists("a/b", { signal }), CancelledError);
      await assert.rejects(listAll(store.list("", { signal })), CancelledError);
      await assert.rejects(store.delete(["a/b"], { signal }), CancelledError);
      await assert.rejects(store.abortIncomplete("", new Date(), { signal }), CancelledError);
      await assert.rejects(store.check({ signal }), CancelledError);
      assert.equal(await store.exists("a/b"), true, "the cancelled delete deleted nothing");
      assert.equal(await store.exists("a/c"), false);
    });

    it("streams a 40 MiB body generated on the fly (several parts) and reads back the same SHA-256", async () => {
      const { store } = await fresh();
      const gen = generatedBody(40 * MiB, 64 * 1024);
      await store.put("big/1/snapshot.db", gen.body, { sizeHint: 40 * MiB });
      const back = await sha256Of(store.get("big/1/snapshot.db"));
      assert.equal(back.size, 40 * MiB);
      assert.equal(back.sha256, gen.sha256());
      assert.deepEqual(
        (await listAll(store.list("big"))).map((o) => o.size),
        [40 * MiB],
      );
    });

    it("concurrent writers to distinct keys each get their own bytes", async () => {
      const { store } = await fresh();
      const bodies = Array.from({ length: 6 }, (_, i) => randomBytes(MiB + i * 4099));
      await Promise.all(
        bodies.map((b, i) =>
          store.put(
            `lab/${i}/snapshot.db`,
            (async function* () {
              for (let off = 0; off < b.length; off += 65_536) yield b.subarray(off, off + 65_536);
            })(),
          ),
        ),
      );
      for (const [i, b] of bodies.entries()) {
        const got = await store.read(`lab/${i}/snapshot.db`);
        assert.equal(createHash("sha256").update(got).digest("hex"), createHash("sha256").update(b).digest("hex"));
      }
      assert.equal((await listAll(store.list("lab"))).length, bodies.length);
    });

    it("rejects keys that escape the root or are empty, with one clear line, before touching anything", async () => {
      const f = await fresh();
      for (const key of ["../x", "a/../../x", "a/./b", ".."]) {
        await assert.rejects(f.store.put(key, Buffer.from("x")), isStoreError(/invalid key/), key);
        await assert.rejects(f.store.read(key), isStoreError(/invalid key/), key);
        await assert.rejects(f.store.exists(key), isStoreError(/invalid key/), key);
        await assert.rejects(f.store.delete([key]), isStoreError(/invalid key/), key);
      }
      for (const key of ["", "/", "//"]) {
        await assert.rejects(f.store.put(key, Buffer.from("x")), isStoreError(/empty key/), JSON.stringify(key));
      }
      await assert.rejects(listAll(f.store.list("../")), isStoreError(/invalid prefix/));
      await assert.rejects(f.store.abortIncomplete("..", new Date()), isStoreError(/invalid prefix/));
      assert.deepEqual(await listAll(f.store.list("")), []);
    });
  });
}
