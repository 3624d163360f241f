import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Writable } from "node:stream";
import { describe, it } from "node:test";
import { readChain } from "../../src/continuous/chain.js";
import { replayChain, replayFactsOf } from "../../src/continuous/replay.js";
import { segmentKey } from "../../src/continuous/segment.js";
import { createLogger } from "../../src/logging.js";
import { readCatalog } from "../../src/store/catalog.js";
import { openStore } from "../../src/store/open-store.js";
import { runCli } from "../support/cli.js";
import { continuousLab, liveAt, restoreAtRevision, restoredState, sha256, startLoad } from "../support/pitr.js";
import { waitFor } from "../support/wait.js";

describe("continuous backup and point-in-time restore", () => {
  const lab = continuousLab({ members: 3 });
  const follow = (label = "pitr") => lab.follow(label, { members: [0, 1, 2] });
  const backupFolder = async () => {
    const { backups } = await readCatalog(openStore(lab.storeDir), { label: "pitr" });
    return backups[0];
  };
  const chainNow = async () => {
    const b = await backupFolder();
    if (!b) return undefined;
    return { backup: b, chain: await readChain(openStore(lab.storeDir), b.folder, b.manifest.snapshot.revision) };
  };
  const committedTo = (revision: number) =>
    waitFor(
      `a committed segment up to revision ${revision}`,
      async () => {
        const c = await chainNow();
        return c && c.chain.contiguousTo >= revision ? c : undefined;
      },
      30_000,
    );

  let cut = 0;
  let markerTime = "";
  let markerA = 0;
  let markerB = 0;

  it("follows the watch, survives SIGKILL, and commits what it holds on SIGTERM", async () => {
    await lab.client.put("before/backup", "1");
    const load = startLoad(lab.client);
    try {
      const first = follow();
      await waitFor(
        "two committed segments",
        async () => {
          const c = await chainNow();
          return c && c.chain.records.length >= 2 ? c : undefined;
        },
        30_000,
      );
      first.child.kill("SIGKILL");
      await first.exited;
      cut = (await chainNow())?.chain.contiguousTo ?? 0;
      const second = follow();
      await committedTo(cut + 200);
      assert.match(second.stdout(), /resuming the chain of .* at revision \d+/);
      const writes = await load.stop();
      assert.ok(writes > 200, `the load made ${writes} writes`);
      markerA = await lab.client.put("marker/a", "written before the time");
      await committedTo(markerA);
      markerTime = new Date().toISOString();
      markerB = await lab.client.put("marker/b", "written after the time");
      await committedTo(markerB - 1);
      second.child.kill("SIGTERM");
      const { code } = await second.exited;
      assert.equal(code, 143, second.stderr());
    } finally {
      await load.stop();
    }
    const c = (await chainNow()) as NonNullable<Awaited<ReturnType<typeof chainNow>>>;
    // SIGTERM committed marker/b's revision: held, then written before the exit.
    assert.equal(c.chain.contiguousTo, markerB);
    assert.deepEqual(c.chain.problems, []);
    assert.deepEqual(c.chain.uncommitted, []);
    let next = c.backup.manifest.snapshot.revision + 1;
    for (const r of c.chain.records) {
      assert.equal(r.fromRevision, next, "segments' ranges are contiguous: no revision lost or replayed twice");
      next = r.toRevision + 1;
    }
    const verified = await runCli(["verify", c.backup.ref]);
    assert.equal(verified.code, 0, verified.stderr + verified.stdout);
    assert.match(verified.stdout, /delta chain: OK/);
  });

  it("restores exactly the state etcd had at several revisions", async () => {
    const c = (await chainNow()) as NonNullable<Awaited<ReturnType<typeof chainNow>>>;
    const base = c.backup.manifest.snapshot.revision;
    for (const [n, revision] of [base + 1, cut, cut + 1, markerB].entries()) {
      const dataDir = join(lab.work, `at-${n}`);
      // Every other one with everything on disk (--scratch-dir), the rest with the scratch etcd in RAM.
      const onDisk = n % 2 === 1;
      const scratch = join(lab.work, `scratch-${n}`);
      if (onDisk) await mkdir(scratch);
      const out = await restoreAtRevision(c.backup.ref, revision, dataDir, [
        "--log-level",
        "info",
        ...(onDisk ? ["--scratch-dir", scratch] : []),
      ]);
      const place = out.stderr.split("\n").find((l) => l.includes("scratch etcd's place")) ?? "";
      if (onDisk) assert.match(place, /inMemory=nothing/);
      else assert.match(place, /inMemory=database and WAL/, "a small chain's scratch etcd fits in /dev/shm");
      assert.deepEqual(
        readdirSync("/dev/shm").filter((d) => d.startsWith("hcpeb-pitr-")),
        [],
        "what was in RAM is removed with the scratch etcd",
      );
      const expected = await liveAt(lab.cluster, revision);
      const got = restoredState((out.members[0] as { dataDir: string }).dataDir);
      assert.equal(out.liveKeys, expected.size);
      assert.deepEqual(got, expected, `state at revision ${revision}`);
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it("a replay that compacts its scratch etcd as it goes (here every 50 revisions) restores the same state", async () => {
    const c = (await chainNow()) as NonNullable<Awaited<ReturnType<typeof chainNow>>>;
    const lines: string[] = [];
    const logger = createLogger({
      format: "json",
      level: "debug",
      stream: new Writable({
        write(chunk, _encoding, done) {
          lines.push(String(chunk));
          done();
        },
      }),
    });
    const facts = await replayChain(
      {
        source: { kind: "backup", store: openStore(c.backup.ref) },
        point: { revision: markerB },
        compactEvery: { revisions: 50, bytes: 2 ** 40 },
        logger,
      },
      async (p) => replayFactsOf(p),
    );
    assert.ok(lines.filter((l) => l.includes("scratch etcd compacted")).length >= 2, "it compacted as it went");
    assert.equal(facts.revisionsAligned, true);
    assert.equal(facts.replayedRevision, markerB);
    assert.equal(facts.liveKeys, (await liveAt(lab.cluster, markerB)).size);
    const whole = await restoreAtRevision(c.backup.ref, markerB, join(lab.work, "uncompacted"));
    assert.equal(facts.stateSha256, whole.stateSha256, "the live keys hash as the replay without compaction");
    await rm(join(lab.work, "uncompacted"), { recursive: true, force: true });
  });

  it("--at-time restores every change received by then, and none after", async () => {
    const c = (await chainNow()) as NonNullable<Awaited<ReturnType<typeof chainNow>>>;
    const dataDir = join(lab.work, "at-time");
    const r = await runCli([
      "restore",
      "local",
      c.backup.ref,
      "--data-dir",
      dataDir,
      "--at-time",
      markerTime,
      "-o",
      "json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { replayedRevision: number; members: Array<{ dataDir: string }> };
    assert.ok(out.replayedRevision >= markerA && out.replayedRevision < markerB, `replayed to ${out.replayedRevision}`);
    const got = restoredState((out.members[0] as { dataDir: string }).dataDir);
    assert.match(got.get("marker/a") ?? "", new RegExp(`^${sha256(Buffer.from("written before the time"))} `));
    assert.equal(got.has("marker/b"), false);
    assert.deepEqual(got, await liveAt(lab.cluster, out.replayedRevision));
  });

  it("a tampered segment fails verify (exit 3) and restore refuses to go past it", async () => {
    const c = (await chainNow()) as NonNullable<Awaited<ReturnType<typeof chainNow>>>;
    const damaged = c.chain.records[1] as (typeof c.chain.records)[number];
    const file = join(lab.storeDir, segmentKey(c.backup.folder, damaged.fromRevision, damaged.toRevision));
    const bytes = await readFile(file);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 0xff;
    await writeFile(file, bytes);
    const verified = await runCli(["verify", c.backup.ref]);
    assert.equal(verified.code, 3, verified.stderr);
    assert.match(verified.stdout, /delta chain: FAILED/);
    // Recorded as failed: list and the fleet view must not call this backup verified.
    const manifest = JSON.parse(await readFile(join(lab.storeDir, c.backup.folder, "manifest.json"), "utf8")) as {
      verifications: Array<{ ok: boolean; checks: string[]; detail?: string }>;
    };
    const last = manifest.verifications.at(-1);
    assert.equal(last?.ok, false);
    assert.ok(last?.checks.includes("delta-chain"));
    assert.match(last?.detail ?? "", /delta chain: /);
    const drilled = await runCli(["verify", c.backup.ref, "--restore-drill"]);
    assert.equal(drilled.code, 3, drilled.stderr + drilled.stdout);
    assert.match(drilled.stdout + drilled.stderr, /delta chain/);
    const past = await runCli([
      "restore",
      "local",
      c.backup.ref,
      "--data-dir",
      join(lab.work, "past"),
      "--at-revision",
      String(damaged.toRevision),
    ]);
    assert.equal(past.code, 3, past.stderr);
    assert.match(past.stderr, new RegExp(`cannot restore past revision ${damaged.fromRevision - 1}`));
    assert.doesNotMatch(past.stderr, /\n\s+at /, "one line, no stack trace");
    const before = await runCli([
      "restore",
      "local",
      c.backup.ref,
      "--data-dir",
      join(lab.work, "before"),
      "--at-revision",
      String(damaged.fromRevision - 1),
      "-o",
      "json",
    ]);
    assert.equal(before.code, 0, before.stderr);
    // A time before the damage restores too: what comes after the point is no reason to refuse it.
    const early = c.chain.records[0] as (typeof c.chain.records)[number];
    const byTime = await runCli([
      "restore",
      "local",
      c.backup.ref,
      "--data-dir",
      join(lab.work, "early-time"),
      "--at-time",
      early.lastEventAt ?? early.closedAt,
      "-o",
      "json",
    ]);
    assert.equal(byTime.code, 0, byTime.stderr);
    assert.equal((JSON.parse(byTime.stdout) as { replayedRevision: number }).replayedRevision, early.toRevision);
  });

  it("with the first endpoint's member down, it backs up and follows through another member", async () => {
    await lab.cluster.stopMember(0);
    const other = await lab.cluster.client(1);
    try {
      const run = follow("pitr-m0");
      const store = openStore(lab.storeDir);
      const b = await waitFor(
        "the full backup",
        async () => (await readCatalog(store, { label: "pitr-m0" })).backups[0],
        30_000,
      );
      const marker = await other.put("m0/marker", "followed without member 0");
      await waitFor(
        "a segment past the marker",
        async () => {
          const chain = await readChain(store, b.folder, b.manifest.snapshot.revision);
          return chain.contiguousTo >= marker ? chain : undefined;
        },
        30_000,
      );
      run.child.kill("SIGTERM");
      assert.equal((await run.exited).code, 143, run.stderr());
    } finally {
      other.close();
      await lab.cluster.restart(0);
    }
  });
});
