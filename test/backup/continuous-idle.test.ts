// An idle etcd writes no segment: the follower asks etcd's watch how far it got at each interval and
// extends the newest record's coverage instead, so the RPO, `list` and `--at-time` stay current
// without a new object per interval.
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { readChain } from "../../src/continuous/chain.js";
import { coveredUntil, recordKey, type SegmentRecord } from "../../src/continuous/segment.js";
import type { EtcdClient } from "../../src/etcd/client.js";
import { readCatalog } from "../../src/store/catalog.js";
import { DELTAS_DIR } from "../../src/store/layout.js";
import { openStore } from "../../src/store/open-store.js";
import { joinKey } from "../../src/store/store.js";
import { type RunningCli, runCli } from "../support/cli.js";
import { EtcdCluster } from "../support/etcd-cluster.js";
import { liveAt, type PointRestore, restoredState, spawnFollower } from "../support/pitr.js";
import { waitFor } from "../support/wait.js";

describe("continuous backup of an idle etcd: coverage extended in place", () => {
  let cluster: EtcdCluster;
  let client: EtcdClient;
  let work: string;
  let storeDir: string;
  let run: RunningCli | undefined;
  let idleRecord: SegmentRecord;
  /** The coverage times the follower recorded while etcd was idle, in the order seen. */
  const covered: string[] = [];

  before(async () => {
    cluster = await EtcdCluster.start({ members: 1 });
    client = await cluster.client(0);
    work = await mkdtemp(join(tmpdir(), "hcpeb-test-"));
    storeDir = join(work, "store");
    await mkdir(storeDir);
  });
  after(async () => {
    if (run && run.child.exitCode === null && run.child.signalCode === null) run.child.kill("SIGKILL");
    await run?.exited;
    client?.close();
    await cluster?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const chainNow = async () => {
    const store = openStore(storeDir);
    const [b] = (await readCatalog(store, { label: "idle" })).backups;
    if (!b) return undefined;
    const chain = await readChain(store, b.folder, b.manifest.snapshot.revision);
    return { backup: b, chain };
  };
  /** The objects under the chain's deltas/ now (one listing: the catalog's and the chain's are two). */
  const deltaObjects = async (folder: string) => {
    const keys: string[] = [];
    for await (const o of openStore(storeDir).list(joinKey(folder, DELTAS_DIR))) keys.push(o.key);
    return keys.sort();
  };

  it("an idle follower's newest record says, at each interval, that nothing is missing up to then", async () => {
    run = spawnFollower(cluster, storeDir, "idle");
    await waitFor("the full backup", () => (/^full backup /m.test(run?.stdout() ?? "") ? true : undefined), 30_000);
    let last = 0;
    for (let i = 0; i < 10; i++) last = await client.put(`idle/k${i % 3}`, `v${i}`);
    const first = await waitFor(
      `a committed segment up to revision ${last}`,
      async () => {
        const c = await chainNow();
        return c && c.chain.contiguousTo >= last ? c : undefined;
      },
      30_000,
    );
    const closed = first.chain.records.at(-1) as SegmentRecord;
    const objectsBefore = await deltaObjects(first.backup.folder);
    // Idle from here: the same record, its coverage moving on.
    await waitFor(
      "three coverage extensions of the newest record",
      async () => {
        const c = await chainNow();
        const r = c?.chain.records.at(-1);
        if (r?.coveredAt && r.coveredAt !== covered.at(-1)) covered.push(r.coveredAt);
        return covered.length >= 3 ? c : undefined;
      },
      30_000,
    );
    const now = await chainNow();
    assert.ok(now);
    idleRecord = now.chain.records.at(-1) as SegmentRecord;
    assert.equal(now.chain.records.length, first.chain.records.length, "no new segment while idle");
    assert.deepEqual(
      await deltaObjects(now.backup.folder),
      objectsBefore,
      "no new object while idle: the record is rewritten in place",
    );
    assert.deepEqual(
      { ...idleRecord, coveredAt: undefined },
      { ...closed, coveredAt: undefined },
      "only the coverage changed",
    );
    assert.equal(idleRecord.toRevision, last);
    // Order only (how far apart they are depends on the machine's load): the first extension follows
    // the close, and each next one the one before.
    const times = [closed.closedAt, ...covered].map(Date.parse);
    for (let i = 1; i < times.length; i++)
      assert.ok((times[i] as number) > (times[i - 1] as number), `coverage ${i}: ${covered.join(", ")}`);

    const listed = await runCli(["list", "--from", storeDir, "-o", "json"]);
    assert.equal(listed.code, 0, listed.stderr);
    const [row] = JSON.parse(listed.stdout) as Array<{ chain: { toRevision: number; toTime: string } }>;
    assert.equal(row?.chain.toRevision, last);
    assert.ok(
      Date.parse(row?.chain.toTime ?? "") >= Date.parse(idleRecord.coveredAt ?? ""),
      `list's window ends at the coverage (${row?.chain.toTime}), not at the close (${closed.closedAt})`,
    );
    const fleet = await runCli(["list", "--fleet", "--from", storeDir, "-o", "json"]);
    assert.equal(fleet.code, 0, fleet.stderr);
    const [c] = JSON.parse(fleet.stdout) as Array<{ rpo: { at: string; revision: number; from: string } }>;
    assert.equal(c?.rpo.from, "segment");
    assert.equal(c?.rpo.revision, last);
    assert.ok(Date.parse(c?.rpo.at ?? "") >= Date.parse(idleRecord.coveredAt ?? ""), `RPO from ${c?.rpo.at}`);
  });

  it("--at-time inside the idle period restores the last revision before it, before and after a later change", async () => {
    const atTime = new Date((Date.parse(idleRecord.closedAt) + Date.parse(coveredUntil(idleRecord))) / 2);
    const ref = (await chainNow())?.backup.ref as string;
    const restoreAt = async (name: string) => {
      const r = await runCli([
        "restore",
        "local",
        ref,
        "--data-dir",
        join(work, name),
        "--at-time",
        atTime.toISOString(),
        "-o",
        "json",
      ]);
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as PointRestore;
      assert.equal(out.replayedRevision, idleRecord.toRevision);
      assert.equal(out.revisionsAligned, true);
      return restoredState((out.members[0] as { dataDir: string }).dataDir);
    };
    // The chain still ends with the idle record: the time is after its close, inside its coverage.
    const expected = await liveAt(cluster, idleRecord.toRevision);
    assert.deepEqual(await restoreAt("at-idle"), expected);
    const after = await client.put("idle/after", "written after the idle period");
    await waitFor(
      `a committed segment up to revision ${after}`,
      async () => {
        const c = await chainNow();
        return c && c.chain.contiguousTo >= after ? c : undefined;
      },
      30_000,
    );
    // The idle record's coverage ends before the change the next segment starts with: it never claims
    // a time at which etcd already had a revision the chain did not.
    const records = (await chainNow())?.chain.records ?? [];
    const next = records.find((r) => r.fromRevision === idleRecord.toRevision + 1);
    const old = records.find((r) => r.toRevision === idleRecord.toRevision);
    const oldCoverage = old?.coveredAt;
    assert.ok(next && oldCoverage, `the idle record and the next segment: ${JSON.stringify(records)}`);
    assert.ok(
      Date.parse(oldCoverage) <= Date.parse(next.firstEventAt ?? ""),
      `coverage ${oldCoverage} ends by the next change at ${next.firstEventAt}`,
    );
    const again = await restoreAt("at-idle-again");
    assert.deepEqual(again, expected);
    assert.equal(again.has("idle/after"), false);
  });

  it("a temp file left by a rewrite killed midway does not stop the next follower's rewrites", async () => {
    run?.child.kill("SIGTERM");
    await run?.exited;
    const c = await chainNow();
    const newest = c?.chain.records.at(-1);
    assert.ok(c && newest);
    const record = join(storeDir, recordKey(c.backup.folder, newest.fromRevision, newest.toRevision));
    // What put() leaves when the process dies between creating its temp file and the rename.
    await writeFile(`${record}.part`, "{ half a record");
    const since = coveredUntil(newest);
    run = spawnFollower(cluster, storeDir, "idle");
    const extended = await waitFor(
      "the newest record's coverage extended after the restart",
      async () => {
        if (run?.child.exitCode !== null) throw new Error(`the follower exited: ${run?.stderr()}`);
        const r = (await chainNow())?.chain.records.at(-1);
        return r?.coveredAt && Date.parse(r.coveredAt) > Date.parse(since) ? r : undefined;
      },
      30_000,
    );
    assert.equal(extended.toRevision, newest.toRevision);
    const parts = (await readdir(dirname(record))).filter((f) => f.endsWith(".part"));
    assert.deepEqual(parts, [basename(`${record}.part`)], "the rewrites left no temp file of their own");
  });
});

describe("continuous backup watching a member without a leader: no coverage claimed", () => {
  let cluster: EtcdCluster;
  let client: EtcdClient;
  let work: string;
  let storeDir: string;
  let run: RunningCli | undefined;

  before(async () => {
    cluster = await EtcdCluster.start({ members: 3 });
    client = await cluster.client(0);
    work = await mkdtemp(join(tmpdir(), "hcpeb-test-"));
    storeDir = join(work, "store");
    await mkdir(storeDir);
  });
  after(async () => {
    if (run && run.child.exitCode === null && run.child.signalCode === null) run.child.kill("SIGKILL");
    await run?.exited;
    client?.close();
    await cluster?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("with the other members stopped, the watched one still answers its watch but coverage stops and the watch is cancelled", async () => {
    const store = openStore(storeDir);
    const newestRecord = async () => {
      const [b] = (await readCatalog(store, { label: "cut-off" })).backups;
      return b ? (await readChain(store, b.folder, b.manifest.snapshot.revision)).records.at(-1) : undefined;
    };
    run = spawnFollower(cluster, storeDir, "cut-off", { members: [0] });
    await waitFor("the full backup", () => (/^full backup /m.test(run?.stdout() ?? "") ? true : undefined), 30_000);
    const last = await client.put("cut-off/k", "v");
    await waitFor(
      "a coverage extension of the segment",
      async () => ((await newestRecord())?.coveredAt ? true : undefined),
      30_000,
    );
    // Member 0 keeps its data and answers its watch (progress included) with its own revision, which
    // no longer says anything about the cluster's: only the linearizable read can tell.
    const others = [1, 2].map((i) => cluster.pid(i) as number);
    let stoppedAt = 0;
    try {
      for (const pid of others) process.kill(pid, "SIGSTOP");
      stoppedAt = Date.now();
      // Require-leader: etcd cancels the watch of a member without a leader, and the follower exits.
      const child = run.child;
      await waitFor("the follower to exit", () => (child.exitCode !== null ? true : undefined), 60_000);
      const exited = await run.exited; // its output read to the end
      assert.notEqual(exited.code, 0, run.stdout());
      assert.match(run.stderr(), /no leader/);
    } finally {
      for (const pid of others) process.kill(pid, "SIGCONT");
    }
    const final = await newestRecord();
    assert.equal(final?.toRevision, last);
    assert.ok(
      Date.parse(final?.coveredAt ?? "") < stoppedAt,
      `no coverage claimed after the others stopped (${new Date(stoppedAt).toISOString()}): ${final?.coveredAt}`,
    );
  });
});
