import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { copyFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { diffSnapshots } from "../../src/snapshot/diff.js";
import { liveKeys, sortedKeys } from "../../src/snapshot/keys.js";
import { snapshotStatus } from "../../src/snapshot/status.js";
import { formatStatus } from "../../src/snapshot/status-format.js";
import { verifySnapshot } from "../../src/snapshot/verify.js";
import { runCli } from "../support/cli.js";
import { etcdctl, etcdctlStatus } from "../support/etcdctl.js";
import { flipByte } from "../support/files.js";
import { makeRealSnapshots, type RealSnapshots } from "../support/snapshot-fixtures.js";

const KINDS = ["empty", "small", "overflow", "many", "compacted", "auth"] as const;

describe("real etcd snapshots (made by etcd 3.4 during the run, etcdctl as the oracle)", () => {
  let snaps: RealSnapshots;
  before(async () => {
    snaps = await makeRealSnapshots();
  });
  after(async () => {
    await snaps?.cleanup();
  });

  for (const kind of KINDS) {
    it(`${kind}: status equals etcdctl snapshot status byte for byte in all four formats`, async () => {
      const status = snapshotStatus(snaps[kind]);
      for (const format of ["json", "table", "simple", "fields"] as const) {
        assert.equal(formatStatus(status, format, "3.4"), await etcdctlStatus(snaps[kind], format), format);
      }
      // 3.5 counts like 3.4.
      assert.deepEqual(snapshotStatus(snaps[kind], "3.5"), status);
    });

    it(`${kind}: verify finds nothing`, async () => {
      const report = await verifySnapshot(snaps[kind]);
      assert.deepEqual(report.findings, []);
      assert.equal(report.ok, true);
      assert.equal(report.trailer.ok, true);
      assert.deepEqual(report.status, snapshotStatus(snaps[kind]));
    });
  }

  it("the streaming status (no random access) equals the file status for every snapshot, in any chunking", async () => {
    const { StreamingStatus } = await import("../../src/snapshot/stream-status.js");
    for (const kind of KINDS) {
      const bytes = readFileSync(snaps[kind]);
      const image = bytes.subarray(0, bytes.length - 32);
      for (const chunk of [1, 4093, 32 * 1024, image.length]) {
        const s = new StreamingStatus();
        for (let off = 0; off < image.length; off += chunk) s.update(image.subarray(off, off + chunk));
        assert.deepEqual(s.finish(), snapshotStatus(snaps[kind]), `${kind}, ${chunk}-byte chunks`);
      }
    }
  });

  it("3.6 mode counts live keys: equal to the keys etcd serves", async () => {
    // Nothing was written after the last snapshot, so the live etcd is the oracle for it.
    const served = JSON.parse(await etcdctl(snaps.cluster, ["get", "", "--prefix", "--keys-only", "-w", "json"])) as {
      count: number;
    };
    const s36 = snapshotStatus(snaps.auth, "3.6");
    assert.equal(s36.totalKey, served.count);
    assert.equal(s36.version, "", "etcd 3.4 records no storage version");
    assert.notEqual(snapshotStatus(snaps.auth, "3.4").totalKey, s36.totalKey, "3.4 counts revisions, not keys");
  });

  it("keys agrees with etcdctl get --prefix on the etcd it came from", async () => {
    const got = JSON.parse(await etcdctl(snaps.cluster, ["get", "/registry/", "--prefix", "-w", "json"])) as {
      kvs: Array<{
        key: string;
        create_revision: number;
        mod_revision: number;
        version: number;
        value: string;
        lease?: number | string;
      }>;
    };
    const ours = sortedKeys(liveKeys(snaps.auth, { prefix: Buffer.from("/registry/") }));
    assert.equal(ours.length, got.kvs.length);
    assert.ok(ours.length > 400);
    ours.forEach((k, i) => {
      const e = got.kvs[i];
      assert.ok(e);
      assert.equal(k.key.toString("latin1"), Buffer.from(e.key, "base64").toString("latin1"));
      assert.equal(Number(k.createRevision), e.create_revision);
      assert.equal(Number(k.modRevision), e.mod_revision);
      assert.equal(Number(k.version), e.version);
      assert.equal(k.valueSize, Buffer.from(e.value, "base64").length);
    });
    const leased = ours.find((k) => k.key.toString() === "/registry/leased");
    assert.ok(leased && leased.lease !== 0n, "the leased key keeps its lease");
  });

  it("diff of two snapshots reports exactly the writes made between them", () => {
    const d = diffSnapshots(snaps.many, snaps.compacted);
    const names = (l: ReadonlyArray<{ key: Buffer }>) => l.map((k) => k.key.toString());
    assert.deepEqual(names(d.added), ["/registry/new-1", "/registry/new-2"]);
    assert.deepEqual(names(d.removed), ["/registry/a", "/registry/many/0002"]);
    assert.deepEqual(names(d.changed), ["/registry/many/0001"]);
    assert.deepEqual(d.changed[0]?.what, ["value", "revision"]);
    const same = diffSnapshots(snaps.compacted, snaps.auth, { prefix: Buffer.from("/registry/") });
    assert.equal(same.added.length + same.removed.length + same.changed.length, 0);
  });

  it("the CLI prints status like etcdctl and exits 3 on a corrupt file, 1 on a missing one", async () => {
    const status = await runCli(["snapshot", "status", snaps.many, "-w", "table"]);
    assert.equal(status.code, 0, status.stderr);
    assert.equal(status.stdout, await etcdctlStatus(snaps.many, "table"));

    const ok = await runCli(["snapshot", "verify", snaps.many, "-o", "json"]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((JSON.parse(ok.stdout) as { ok: boolean }).ok, true);

    const bad = join(snaps.dir, "flipped.db");
    await copyFile(snaps.many, bad);
    await flipByte(bad, 9000);
    const failed = await runCli(["snapshot", "verify", bad]);
    assert.equal(failed.code, 3);
    assert.match(failed.stdout, /error \[trailer-mismatch\]/);
    assert.match(failed.stderr, /^hcp-etcd-backup: .*failed verification: \d+ finding/);

    const missing = await runCli(["snapshot", "verify", join(snaps.dir, "nope.db")]);
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      /^hcp-etcd-backup: cannot read snapshot file .*nope\.db: no such file or directory\n$/,
    );

    const keys = await runCli(["snapshot", "keys", snaps.small, "--prefix", "/registry/", "-o", "json"]);
    assert.equal(keys.code, 0, keys.stderr);
    assert.deepEqual(
      (JSON.parse(keys.stdout) as Array<{ key: string }>).map((k) => k.key),
      ["/registry/a", "/registry/leased"],
    );
  });

  it("snapshot save authenticates with a user and password, and never prints the password", async () => {
    // The fixture cluster ends with auth enabled and user root / not-a-secret.
    const save = (file: string, extra: string[]) =>
      runCli(
        [
          "snapshot",
          "save",
          join(snaps.dir, file),
          "--endpoints",
          snaps.cluster.endpoint(0),
          ...snaps.cluster.tlsFlags,
          ...extra,
        ],
        {
          env: { HCPEB_ETCD_PASSWORD: "not-a-secret" },
        },
      );
    const good = await save("authed.db", ["--user", "root"]);
    assert.equal(good.code, 0, good.stderr);
    assert.ok(!good.stdout.includes("not-a-secret"));
    // --password wins over the environment.
    const bad = await save("denied.db", ["--user", "root", "--password", "wrong-password-42"]);
    assert.equal(bad.code, 1);
    assert.match(
      bad.stderr,
      /^hcp-etcd-backup: etcd at https:\/\/127\.0\.0\.1:\d+ refused the credentials \(Auth\.Authenticate\): .*authentication failed.*\n$/,
    );
    assert.ok(!bad.stderr.includes("wrong-password-42") && !bad.stdout.includes("wrong-password-42"));
  });
});
