import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { prng } from "../../src/demo/sample-data.js";
import { SnapshotFileError } from "../../src/snapshot/errors.js";
import { liveKeys } from "../../src/snapshot/keys.js";
import { snapshotStatus } from "../../src/snapshot/status.js";
import { StreamingStatus } from "../../src/snapshot/stream-status.js";
import { verifySnapshot } from "../../src/snapshot/verify.js";
import { makeRealSnapshots, type RealSnapshots } from "../support/snapshot-fixtures.js";

const CASES = 2400;
const SEED = 20261125;

describe("seeded fuzzing of real snapshots", () => {
  let snaps: RealSnapshots;
  before(async () => {
    snaps = await makeRealSnapshots();
  });
  after(async () => {
    await snaps?.cleanup();
  });

  it(`${CASES} random bit flips, byte overwrites and truncations: no uncaught exception (file and streaming readers), every change flagged`, async () => {
    const real = [snaps.small, snaps.overflow, snaps.many, snaps.auth].map((p) => ({
      bytes: readFileSync(p),
      etcd: true,
    }));
    // The synthetic page-size file is not etcd data: check its structure only, so only real damage can fail it.
    const synthetic = {
      bytes: readFileSync(fileURLToPath(new URL("../fixtures/bbolt-page-sizes/db_4096_fl.db", import.meta.url))),
      etcd: false,
    };
    const sources = [...real, synthetic];
    const rand = prng(SEED);
    const pick = (n: number) => Math.floor(rand() * n);
    const path = join(snaps.dir, "fuzz.db");
    const tally = { flips: 0, overwrites: 0, truncations: 0, unchanged: 0 };
    for (let i = 0; i < CASES; i++) {
      const source = sources[pick(sources.length)] as { bytes: Buffer; etcd: boolean };
      const src = source.bytes;
      let bytes = Buffer.from(src);
      const kind = pick(3);
      if (kind === 0) {
        for (let n = 1 + pick(4); n > 0; n--) {
          const at = pick(bytes.length);
          bytes[at] = (bytes[at] as number) ^ (1 << pick(8));
        }
        tally.flips++;
      } else if (kind === 1) {
        // Bias towards the structure: half of the overwrites hit the first pages (metas, root).
        const at = rand() < 0.5 ? pick(Math.min(bytes.length, 5 * 4096)) : pick(bytes.length);
        const len = 1 + pick(16);
        for (let k = 0; k < len && at + k < bytes.length; k++) bytes[at + k] = pick(256);
        tally.overwrites++;
      } else {
        bytes = bytes.subarray(0, pick(bytes.length));
        tally.truncations++;
      }
      const changed = !bytes.equals(src);
      if (!changed) {
        tally.unchanged++;
        continue;
      }
      writeFileSync(path, bytes);
      const context = `case ${i} (seed ${SEED}, kind ${kind}, ${bytes.length} bytes)`;
      const report = await verifySnapshot(path, { etcdChecks: source.etcd }).catch((err: unknown) =>
        assert.fail(`${context}: verify threw ${String(err)}`),
      );
      assert.equal(report.ok, false, `${context}: changed bytes passed verification`);
      const streamed = () => {
        const s = new StreamingStatus();
        for (let off = 0; off < bytes.length - 32; off += 32 * 1024)
          s.update(bytes.subarray(off, Math.min(off + 32 * 1024, bytes.length - 32)));
        return s.finish();
      };
      for (const read of [() => snapshotStatus(path), () => liveKeys(path), streamed]) {
        try {
          read();
        } catch (err) {
          if (!(err instanceof SnapshotFileError)) assert.fail(`${context}: ${String(err)}`);
        }
      }
    }
    assert.ok(tally.flips > 500 && tally.overwrites > 500 && tally.truncations > 500, JSON.stringify(tally));
  });
});
