// An idle etcd writes no segment: the follower asks etcd's watch how far it got at each interval and
// extends the newest record's coverage instead, so the RPO, `list` and `--at-time` stay current
// without a new object per interval.
import assert from "node:assert/strict";
import { access, readdir, readFile, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { describe, it } from "node:test";
import { readChain } from "../../src/continuous/chain.js";
import {
  type BaseCoverage,
  coverageKey,
  coveredUntil,
  recordKey,
  type SegmentRecord,
} from "../../src/continuous/segment.js";
import { readCatalog } from "../../src/store/catalog.js";
import { DELTAS_DIR } from "../../src/store/layout.js";
import { openStore } from "../../src/store/open-store.js";
import { joinKey } from "../../src/store/store.js";
import { type RunningCli, runCli } from "../support/cli.js";
import { continuousLab, liveAt, type PointRestore, restoredState } from "../support/pitr.js";
import { waitFor } from "../support/wait.js";

describe("continuous backup of an idle etcd: coverage extended in place", () => {
  let run: RunningCli | undefined;
  let idleRecord: SegmentRecord;
  /** The coverage times the follower recorded while etcd was idle, in the order seen. */
  const covered: string[] = [];

  const lab = continuousLab({ members: 1 });

  const chainNow = async () => {
    const store = openStore(lab.storeDir);
    const [b] = (await readCatalog(store, { label: "idle" })).backups;
    if (!b) return undefined;
    const chain = await readChain(store, b.folder, b.manifest.snapshot.revision);
    return { backup: b, chain };
  };
  /** The objects under the chain's deltas/ now (one listing: the catalog's and the chain's are two). */
  const deltaObjects = async (folder: string) => {
    const keys: string[] = [];
    for await (const o of openStore(lab.storeDir).list(joinKey(folder, DELTAS_DIR))) keys.push(o.key);
    return keys.sort();
  };

  it("an idle follower's newest record says, at each interval, that nothing is missing up to then", async () => {
    run = lab.follow("idle");
    await waitFor("the full backup", () => (/^full backup /m.test(run?.stdout() ?? "") ? true : undefined), 30_000);
    let last = 0;
    for (let i = 0; i < 10; i++) last = await lab.client.put(`idle/k${i % 3}`, `v${i}`);
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

    const listed = await runCli(["list", "--from", lab.storeDir, "-o", "json"]);
    assert.equal(listed.code, 0, listed.stderr);
    const [row] = JSON.parse(listed.stdout) as Array<{ chain: { toRevision: number; toTime: string } }>;
    assert.equal(row?.chain.toRevision, last);
    assert.ok(
      Date.parse(row?.chain.toTime ?? "") >= Date.parse(idleRecord.coveredAt ?? ""),
      `list's window ends at the coverage (${row?.chain.toTime}), not at the close (${closed.closedAt})`,
    );
    const fleet = await runCli(["list", "--fleet", "--from", lab.storeDir, "-o", "json"]);
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
        join(lab.work, name),
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
    const expected = await liveAt(lab.cluster, idleRecord.toRevision);
    assert.deepEqual(await restoreAt("at-idle"), expected);
    const after = await lab.client.put("idle/after", "written after the idle period");
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
    const record = join(lab.storeDir, recordKey(c.backup.folder, newest.fromRevision, newest.toRevision));
    // What put() leaves when the process dies between creating its temp file and the rename.
    await writeFile(`${record}.part`, "{ half a record");
    const since = coveredUntil(newest);
    run = lab.follow("idle");
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
  const lab = continuousLab({ members: 3 });

  it("with the other members stopped, the watched one still answers its watch but coverage stops and the watch is cancelled", async () => {
    const store = openStore(lab.storeDir);
    const newestRecord = async () => {
      const [b] = (await readCatalog(store, { label: "cut-off" })).backups;
      return b ? (await readChain(store, b.folder, b.manifest.snapshot.revision)).records.at(-1) : undefined;
    };
    const run = lab.follow("cut-off", { members: [0] });
    await waitFor("the full backup", () => (/^full backup /m.test(run.stdout()) ? true : undefined), 30_000);
    const last = await lab.client.put("cut-off/k", "v");
    await waitFor(
      "a coverage extension of the segment",
      async () => ((await newestRecord())?.coveredAt ? true : undefined),
      30_000,
    );
    // Member 0 keeps its data and answers its watch (progress included) with its own revision, which
    // no longer says anything about the cluster's: only the linearizable read can tell.
    const others = [1, 2].map((i) => lab.cluster.pid(i) as number);
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

describe("continuous backup idle since its full backup: the base's coverage", () => {
  let run: RunningCli | undefined;
  let baseRevision = 0;
  let baseCoverage: BaseCoverage | undefined;
  /** Every coverage time read while the chain had no segment, in the order seen. */
  const seen: string[] = [];

  const lab = continuousLab({
    members: 1,
    seed: async (c) => {
      for (let i = 0; i < 5; i++) await c.put(`fresh/k${i}`, `v${i}`);
    },
  });

  const newestBackup = async (label: string) => (await readCatalog(openStore(lab.storeDir), { label })).backups[0];
  /** The base's coverage object as stored now (undefined when there is none). */
  const storedCoverage = async (folder: string): Promise<BaseCoverage | undefined> => {
    try {
      return JSON.parse(await readFile(join(lab.storeDir, coverageKey(folder)), "utf8")) as BaseCoverage;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
  };
  const listJson = async () => {
    const listed = await runCli(["list", "--from", lab.storeDir, "-o", "json"]);
    assert.equal(listed.code, 0, listed.stderr);
    return JSON.parse(listed.stdout) as Array<{
      createdAt: string;
      chain?: { toRevision: number; toTime: string; segments: number; baseCoveredAt?: string; problems: string[] };
    }>;
  };

  it("no segment yet: the follower keeps the base's coverage, and list, list --fleet and --at-time use it", async () => {
    run = lab.follow("fresh");
    await waitFor("the full backup", () => (/^full backup /m.test(run?.stdout() ?? "") ? true : undefined), 30_000);
    const b = await newestBackup("fresh");
    assert.ok(b);
    baseRevision = b.manifest.snapshot.revision;
    const createdAt = Date.parse(b.manifest.createdAt);
    // Idle from the full backup on: the coverage moves on, in the same object, for 10 s at least.
    const covered = await waitFor(
      "the base's coverage 10 s past the full backup",
      async () => {
        if (run?.child.exitCode !== null) throw new Error(`the follower exited: ${run?.stderr()}`);
        const c = await storedCoverage(b.folder);
        if (c && c.coveredAt !== seen.at(-1)) seen.push(c.coveredAt);
        return c && Date.parse(c.coveredAt) - createdAt >= 10_000 ? c : undefined;
      },
      60_000,
    );
    assert.deepEqual(
      { ...covered, coveredAt: undefined },
      { schemaVersion: 1, baseBackupId: b.manifest.backupId, baseRevision, coveredAt: undefined },
    );
    assert.ok(seen.length >= 2, `extended in place more than once: ${seen.join(", ")}`);
    const times = [createdAt, ...seen.map(Date.parse)];
    for (let i = 1; i < times.length; i++) assert.ok((times[i] as number) > (times[i - 1] as number), seen.join(", "));
    const objects: string[] = [];
    for await (const o of openStore(lab.storeDir).list(joinKey(b.folder, DELTAS_DIR))) objects.push(o.key);
    assert.deepEqual(objects, [coverageKey(b.folder)], "one object, no segment");

    const [row] = await listJson();
    assert.equal(row?.chain?.toRevision, baseRevision);
    assert.equal(row?.chain?.segments, 0);
    assert.deepEqual(row?.chain?.problems, []);
    assert.ok(
      Date.parse(row?.chain?.toTime ?? "") >= Date.parse(covered.coveredAt),
      `list's window ends at the coverage (${row?.chain?.toTime}), not at the full backup (${row?.createdAt})`,
    );
    // The full backup is over 10 s old: STALE at an 8 s limit if the RPO counted from it.
    const fleet = await runCli(["list", "--fleet", "--from", lab.storeDir, "--max-age", "8s", "-o", "json"]);
    assert.equal(fleet.code, 0, fleet.stdout + fleet.stderr);
    const [c] = JSON.parse(fleet.stdout) as Array<{
      status: string;
      rpo: { at: string; revision: number; from: string };
    }>;
    assert.equal(c?.status, "ok");
    assert.equal(c?.rpo.from, "coverage");
    assert.equal(c?.rpo.revision, baseRevision);
    assert.ok(Date.parse(c?.rpo.at ?? "") >= Date.parse(covered.coveredAt), `RPO from ${c?.rpo.at}`);

    // A time inside the idle period restores the base's state; one past the coverage is refused.
    const inside = new Date((createdAt + Date.parse(covered.coveredAt)) / 2).toISOString();
    const r = await runCli([
      "restore",
      "local",
      b.ref,
      "--data-dir",
      join(lab.work, "at-fresh"),
      "--at-time",
      inside,
      "-o",
      "json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as PointRestore;
    assert.equal(out.replayedRevision, baseRevision);
    assert.deepEqual(
      restoredState((out.members[0] as { dataDir: string }).dataDir),
      await liveAt(lab.cluster, baseRevision),
    );
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const refused = await runCli([
      "restore",
      "local",
      b.ref,
      "--data-dir",
      join(lab.work, "later"),
      "--at-time",
      later,
    ]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /is after the chain's coverage/);
    baseCoverage = covered;
  });

  it("the first segment takes over: the coverage object is removed, the window is the segment's, and it never claimed past the change", async () => {
    const b = await newestBackup("fresh");
    assert.ok(b && baseCoverage);
    const first = await lab.client.put("fresh/after", "the first change");
    const chain = await waitFor(
      `a committed segment up to revision ${first}, the coverage object gone`,
      async () => {
        if (run?.child.exitCode !== null) throw new Error(`the follower exited: ${run?.stderr()}`);
        const c = await storedCoverage(b.folder);
        if (c && c.coveredAt !== seen.at(-1)) seen.push(c.coveredAt);
        const ch = await readChain(openStore(lab.storeDir), b.folder, baseRevision);
        return ch.contiguousTo >= first && !c ? ch : undefined;
      },
      30_000,
    );
    assert.equal(chain.coverage, undefined);
    const record = chain.records[0] as SegmentRecord;
    assert.equal(record.fromRevision, baseRevision + 1);
    const lastCoverage = seen.at(-1) as string;
    assert.ok(
      Date.parse(lastCoverage) <= Date.parse(record.firstEventAt ?? ""),
      `the base's coverage (${lastCoverage}) ends by the first change at ${record.firstEventAt}`,
    );
    const [row] = await listJson();
    assert.equal(row?.chain?.toRevision, chain.records.at(-1)?.toRevision);
    assert.ok((row?.chain?.segments ?? 0) >= 1);
    assert.equal(row?.chain?.baseCoveredAt, undefined);
    // Stopped: its last segment committed. The window is the records' (list runs after the stop).
    run?.child.kill("SIGTERM");
    await run?.exited;
    const stopped = await readChain(openStore(lab.storeDir), b.folder, baseRevision);
    const [again] = await listJson();
    assert.equal(again?.chain?.toTime, coveredUntil(stopped.records.at(-1) as SegmentRecord));
  });

  it("prune removes the base's coverage object with its backup", async () => {
    const follower = lab.follow("pruned");
    await waitFor("the full backup", () => (/^full backup /m.test(follower.stdout()) ? true : undefined), 30_000);
    const old = await newestBackup("pruned");
    assert.ok(old);
    await waitFor(
      "the base's coverage",
      async () => {
        if (follower.child.exitCode !== null) throw new Error(`the follower exited: ${follower.stderr()}`);
        return (await storedCoverage(old.folder)) ? true : undefined;
      },
      30_000,
    );
    follower.child.kill("SIGTERM");
    await follower.exited;
    // A newer backup of the label, so that --keep-last 1 removes the idle chain.
    const plain = await runCli([
      "backup",
      "--endpoints",
      lab.cluster.endpoint(0),
      ...lab.cluster.tlsFlags,
      "--to",
      lab.storeDir,
      "--name",
      "pruned",
    ]);
    assert.equal(plain.code, 0, plain.stderr);
    const pruned = await runCli(["prune", "--from", lab.storeDir, "--keep-last", "1", "--min-age", "0", "-o", "json"]);
    assert.equal(pruned.code, 0, pruned.stderr);
    const result = JSON.parse(pruned.stdout) as { remove: string[]; removedDeltaObjects: number };
    assert.deepEqual(result.remove, [old.ref]);
    assert.equal(result.removedDeltaObjects, 1, "the coverage object counted with its backup");
    await assert.rejects(access(join(lab.storeDir, old.folder)), { code: "ENOENT" });
    assert.deepEqual((await readCatalog(openStore(lab.storeDir), { label: "pruned" })).leftovers, []);
  });
});
