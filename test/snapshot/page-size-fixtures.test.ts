import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { snapshotStatus } from "../../src/snapshot/status.js";
import { formatStatus } from "../../src/snapshot/status-format.js";
import { verifySnapshot } from "../../src/snapshot/verify.js";

// bbolt files with 4, 16 and 64 KiB pages, with and without a persisted freelist, and the bytes
// etcdctl 3.4.23 printed for them (see the fixture folder's README).
const DIR = fileURLToPath(new URL("../fixtures/bbolt-page-sizes/", import.meta.url));
const NAMES = ["db_4096_fl", "db_4096_nofl", "db_16384_fl", "db_16384_nofl", "db_65536_fl", "db_65536_nofl"];

describe("bbolt page-size fixtures", () => {
  for (const name of NAMES) {
    it(`${name}: status equals etcdctl's in every format`, () => {
      const status = snapshotStatus(`${DIR}${name}.db`);
      for (const format of ["json", "table", "simple", "fields"] as const) {
        assert.equal(
          formatStatus(status, format, "3.4"),
          readFileSync(`${DIR}${name}.status.${format}`, "utf8"),
          format,
        );
      }
    });

    it(`${name}: verify finds nothing wrong with the structure`, async () => {
      const report = await verifySnapshot(`${DIR}${name}.db`, { etcdChecks: false });
      assert.deepEqual(report.findings, []);
      assert.equal(report.ok, true);
      assert.equal(report.trailer.ok, true);
      assert.equal(report.pageSize, Number(name.split("_")[1]));
    });
  }

  it("the streaming status equals the file status at every page size, nested buckets and freelists included", async () => {
    const { StreamingStatus } = await import("../../src/snapshot/stream-status.js");
    for (const name of NAMES) {
      const bytes = readFileSync(`${DIR}${name}.db`);
      const s = new StreamingStatus();
      for (let off = 0; off < bytes.length - 32; off += 32 * 1024)
        s.update(bytes.subarray(off, Math.min(off + 32 * 1024, bytes.length - 32)));
      assert.deepEqual(s.finish(), snapshotStatus(`${DIR}${name}.db`), name);
    }
  });

  it("flags the synthetic values as not etcd KeyValues when etcd checks are on", async () => {
    // These files imitate etcd's buckets with random values; a real snapshot never looks like this.
    const report = await verifySnapshot(`${DIR}db_4096_nofl.db`);
    assert.equal(report.ok, false);
    assert.deepEqual([...new Set(report.findings.map((f) => f.code))], ["key-value"]);
  });
});
