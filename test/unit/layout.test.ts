import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { UsageError } from "../../src/errors.js";
import { backupFolder, backupId, parseBackupId, validateLabel } from "../../src/store/layout.js";

describe("backup ids and labels", () => {
  const at = new Date("2026-11-25T13:01:02.789Z");

  it("an id is UTC time to the second, the revision and a random suffix", () => {
    assert.equal(backupId(at, 12001, "3f9a1c"), "20261125T130102Z-r12001-3f9a1c");
    assert.match(backupId(at, 7), /^20261125T130102Z-r7-[0-9a-f]{6}$/);
  });

  it("ids made in the same second for the same revision differ (no check-then-write needed)", () => {
    const ids = new Set(Array.from({ length: 200 }, () => backupId(at, 5)));
    assert.equal(ids.size, 200);
  });

  it("ids sort by time, whatever their suffix", () => {
    const earlier = backupId(new Date("2026-11-25T13:01:02Z"), 999999, "ffffff");
    const later = backupId(new Date("2026-11-25T13:01:03Z"), 1, "000000");
    assert.ok(earlier < later);
  });

  it("parses new ids and the ids written before the suffix existed; rejects others", () => {
    assert.deepEqual(parseBackupId("20261125T130102Z-r12001-3f9a1c"), {
      at: new Date("2026-11-25T13:01:02Z"),
      revision: 12001,
    });
    assert.deepEqual(parseBackupId("20261125T130102Z-r12001"), {
      at: new Date("2026-11-25T13:01:02Z"),
      revision: 12001,
    });
    for (const bad of [
      "20261125T130102Z",
      "x20261125T130102Z-r1",
      "20261125T130102Z-r1-XYZ123",
      "20261399T990000Z-r1",
    ]) {
      assert.equal(parseBackupId(bad), undefined, bad);
    }
  });

  it("labels: plain names and <namespace>/<cluster>; nothing that escapes the store", () => {
    assert.equal(validateLabel("prod-etcd"), "prod-etcd");
    assert.equal(validateLabel("clusters/my.cluster_1"), "clusters/my.cluster_1");
    for (const bad of ["", "..", "a/../b", "/abs", "a//b", "a b", "a/", "ü"]) {
      assert.throws(() => validateLabel(bad), UsageError, JSON.stringify(bad));
    }
    assert.equal(backupFolder("ns/c", "20261125T130102Z-r1-abcdef"), "ns/c/20261125T130102Z-r1-abcdef");
  });
});
