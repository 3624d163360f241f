// What a finished backup prints, pinned byte for byte: scripts and the docs read these lines, and the
// plain and hosted forms print through one function (src/cli/backup-report.ts) that must keep both.
import assert from "node:assert/strict";
import { it } from "node:test";
import type { AnyBackupResult } from "../../src/cli/backup-report.js";
import { printBackup } from "../../src/cli/backup-report.js";

function printed(result: unknown, output: "text" | "json"): string {
  const original = process.stdout.write.bind(process.stdout);
  let out = "";
  process.stdout.write = ((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  }) as typeof process.stdout.write;
  try {
    printBackup(result as AnyBackupResult, output);
  } finally {
    process.stdout.write = original;
  }
  return out;
}

const manifest = (over: object = {}) => ({
  backupId: "20261206T180000Z-r42-abcdef",
  mode: "online",
  source: { member: { name: "etcd-0", isLeader: true }, etcdVersion: "3.5.9" },
  snapshot: { revision: 42, totalKeys: 1234, statusHash: 0xdeadbeef, objectSize: 5_000_000, sha256: "ab".repeat(4) },
  timings: { totalSeconds: 3.1, snapshotSeconds: 0.777 },
  ...over,
});

it("plain etcd: summary with throughput, JSON with member and mibPerSecond", () => {
  const r = { ref: "file:///backups/x", manifest: manifest() };
  assert.equal(
    printed(r, "text"),
    [
      "backup 20261206T180000Z-r42-abcdef stored and verified",
      "  ref       file:///backups/x",
      "  member    etcd-0 (leader, etcd 3.5.9)",
      "  revision  42, 1234 stored entries (etcdctl's TOTAL KEYS, not live keys), status hash deadbeef",
      "  size      5000000 bytes, sha256 abababab",
      "  duration  3.10s (6.1 MiB/s)",
      "",
    ].join("\n"),
  );
  assert.deepEqual(Object.keys(JSON.parse(printed(r, "json"))), [
    "ref",
    "backupId",
    "member",
    "snapshot",
    "timings",
    "mibPerSecond",
  ]);
  assert.equal(JSON.parse(printed(r, "json")).mibPerSecond, 6.1);
});

it("hosted cluster: summary with mode, downtime, how etcd was reached and the key; JSON with etcdAccess", () => {
  const r = {
    dryRun: false,
    plan: { cluster: "clusters/example" },
    ref: "s3://b/p",
    access: "port-forward",
    manifest: manifest({
      mode: "quiesced",
      source: { member: { name: "etcd-1", isLeader: false }, etcdVersion: "3.5.9" },
      writerDowntime: { seconds: 1.234, startedAt: "t0", endedAt: "t1" },
      encryption: { type: "aescbc", keys: [{ keyName: "active" }], object: "k.age" },
    }),
  };
  assert.equal(
    printed(r, "text"),
    [
      "backup 20261206T180000Z-r42-abcdef of clusters/example stored and verified",
      "  ref       s3://b/p",
      "  mode      quiesced; writers down 1.2s (t0 to t1)",
      "  member    etcd-1 (follower, etcd 3.5.9, reached by port-forward)",
      "  revision  42, 1234 stored entries (etcdctl's TOTAL KEYS, not live keys), status hash deadbeef",
      "  size      5000000 bytes, sha256 abababab",
      "  key       aescbc active saved as k.age (age)",
      "  duration  3.10s",
      "",
    ].join("\n"),
  );
  assert.deepEqual(Object.keys(JSON.parse(printed(r, "json"))), [
    "ref",
    "backupId",
    "mode",
    "writerDowntime",
    "snapshot",
    "encryption",
    "timings",
    "etcdAccess",
  ]);
});

it("hosted dry run: the numbered plan, or {dryRun, plan}", () => {
  const r = { dryRun: true, plan: { cluster: "c/e", mode: "quiesced", steps: ["pause", "snapshot"] } };
  assert.equal(printed(r, "text"), "plan for c/e (quiesced; nothing was changed):\n  1. pause\n  2. snapshot\n");
  assert.deepEqual(JSON.parse(printed(r, "json")), { dryRun: true, plan: r.plan });
});
