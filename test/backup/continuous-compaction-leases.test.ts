import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type Chain, readChain } from "../../src/continuous/chain.js";
import type { EtcdClient } from "../../src/etcd/client.js";
import { type BackupEntry, readCatalog } from "../../src/store/catalog.js";
import { openStore } from "../../src/store/open-store.js";
import { type RunningCli, runCli } from "../support/cli.js";
import { EtcdCluster } from "../support/etcd-cluster.js";
import { etcdctl } from "../support/etcdctl.js";
import { liveAt, restoreAtRevision, restoredState, spawnFollower, startLoad, storedLeases } from "../support/pitr.js";
import { waitFor } from "../support/wait.js";

/** Where one chain ends and a new one starts: a compaction, or --full-every. */
describe("continuous backup: new chains", () => {
  let cluster: EtcdCluster;
  let client: EtcdClient;
  let work: string;
  const running: RunningCli[] = [];

  before(async () => {
    cluster = await EtcdCluster.start({ members: 1 });
    client = await cluster.client(0);
    work = await mkdtemp(join(tmpdir(), "hcpeb-test-"));
  });
  after(async () => {
    for (const r of running) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill("SIGKILL");
    await Promise.all(running.map((r) => r.exited));
    client?.close();
    await cluster?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const follow = (storeDir: string, label: string, extra: string[] = []) => {
    const run = spawnFollower(cluster, storeDir, label, { extra });
    running.push(run);
    return run;
  };
  /** The label's backups, oldest first, each with its chain. */
  const chains = async (storeDir: string, label: string) => {
    const store = openStore(storeDir);
    const { backups } = await readCatalog(store, { label });
    const out: Array<{ backup: BackupEntry; chain: Chain }> = [];
    for (const b of [...backups].reverse())
      out.push({ backup: b, chain: await readChain(store, b.folder, b.manifest.snapshot.revision) });
    return out;
  };
  const restoreAt = async (ref: string, revision: number, dataDir: string, withLease = false) => {
    const out = await restoreAtRevision(ref, revision, dataDir);
    const member = (out.members[0] as { dataDir: string }).dataDir;
    const state = restoredState(member, withLease);
    const leases = storedLeases(member);
    await rm(dataDir, { recursive: true, force: true });
    return { state, leases };
  };

  it("a compaction while the follower is stopped starts a new full backup; the old chain ends where it ended", async () => {
    const storeDir = join(work, "compacted");
    await mkdir(storeDir);
    const first = follow(storeDir, "cmp");
    await waitFor(
      "the first full backup",
      async () => ((await chains(storeDir, "cmp")).length === 1 ? true : undefined),
      30_000,
    );
    const before = await client.put("cmp/before", "1");
    const [{ chain: old }] = (await waitFor(
      "the first chain past the first write",
      async () => {
        const c = await chains(storeDir, "cmp");
        return c.length === 1 && (c[0]?.chain.contiguousTo ?? 0) >= before ? c : undefined;
      },
      30_000,
    )) as [{ backup: BackupEntry; chain: Chain }];
    first.child.kill("SIGTERM");
    assert.equal((await first.exited).code, 143, first.stderr());
    const [{ backup: oldBackup, chain: oldChain }] = (await chains(storeDir, "cmp")) as [
      { backup: BackupEntry; chain: Chain },
    ];
    assert.ok(oldChain.contiguousTo >= old.contiguousTo);
    const oldEnd = oldChain.contiguousTo;
    // What etcd held at the chain's end, read before the compaction takes that revision away.
    const atOldEnd = await liveAt(cluster, oldEnd);

    for (let i = 0; i < 20; i++) await client.put(`cmp/while-stopped/${i}`, `v${i}`);
    const head = await client.put("cmp/head", "compacted up to here");
    await etcdctl(cluster, ["compact", String(head)]);

    const second = follow(storeDir, "cmp");
    const after = await waitFor(
      "a second chain",
      async () => {
        const c = await chains(storeDir, "cmp");
        return c.length === 2 ? c : undefined;
      },
      30_000,
    );
    const [o, n] = after as [{ backup: BackupEntry; chain: Chain }, { backup: BackupEntry; chain: Chain }];
    const said = second.stdout().match(/^full backup \S+ at revision (\d+) \((.*)\): /m);
    assert.ok(said, second.stdout());
    assert.equal(
      said[2],
      `etcd compacted up to revision ${head} before the chain got there: the chain ${oldBackup.folder} ends at revision ${oldEnd}`,
    );
    assert.equal(Number(said[1]), n.backup.manifest.snapshot.revision);
    assert.ok(
      n.backup.manifest.snapshot.revision >= head,
      "the new chain's base has every change up to the compaction",
    );
    const warned = second
      .stderr()
      .split("\n")
      .filter((l) => l.includes("compacted"));
    assert.equal(warned.length, 1, `one log line says so:\n${second.stderr()}`);
    // The gap is never papered over: the old chain is as it was, the new one starts at its own base.
    assert.equal(o.backup.folder, oldBackup.folder);
    assert.equal(o.chain.contiguousTo, oldEnd);
    assert.deepEqual(o.chain.problems, []);

    const marker = await client.put("cmp/after", "in the new chain");
    await waitFor(
      "the new chain past the marker",
      async () => {
        const c = await chains(storeDir, "cmp");
        return (c[1]?.chain.contiguousTo ?? 0) >= marker ? c : undefined;
      },
      30_000,
    );
    second.child.kill("SIGTERM");
    assert.equal((await second.exited).code, 143, second.stderr());
    const [, newest] = (await chains(storeDir, "cmp")) as [unknown, { backup: BackupEntry; chain: Chain }];
    assert.equal(newest.chain.records[0]?.fromRevision, newest.backup.manifest.snapshot.revision + 1);
    assert.deepEqual(newest.chain.problems, []);

    // Both chains stay restorable: the old one to its end, the new one past the marker.
    assert.deepEqual((await restoreAt(o.backup.ref, oldEnd, join(work, "cmp-old"))).state, atOldEnd);
    assert.deepEqual(
      (await restoreAt(newest.backup.ref, marker, join(work, "cmp-new"))).state,
      await liveAt(cluster, marker),
    );
    for (const ref of [o.backup.ref, newest.backup.ref]) {
      const v = await runCli(["verify", ref]);
      assert.equal(v.code, 0, v.stderr + v.stdout);
      assert.match(v.stdout, /delta chain: OK/);
    }
    // The drill restores the base and replays the whole chain too.
    const drill = await runCli(["verify", newest.backup.ref, "--restore-drill", "-o", "json"]);
    assert.equal(drill.code, 0, drill.stderr + drill.stdout);
    assert.match(drill.stdout, /"chain-replayed"/);
    assert.match(drill.stdout, new RegExp(`its delta chain replayed to revision ${newest.chain.contiguousTo}`));
  });

  it("a base backup removed under a running follower (a prune while etcd was idle) starts a new chain; no segment is written without its base", async () => {
    const storeDir = join(work, "base-gone");
    await mkdir(storeDir);
    const run = follow(storeDir, "gone");
    const first = await client.put("gone/first", "1");
    const [{ backup: old }] = (await waitFor(
      "the first chain past the first write",
      async () => {
        const c = await chains(storeDir, "gone");
        return c.length === 1 && (c[0]?.chain.contiguousTo ?? 0) >= first ? c : undefined;
      },
      30_000,
    )) as [{ backup: BackupEntry; chain: Chain }];
    // What prune does to a chain: manifest first, then the segments, then the snapshot.
    await rm(join(storeDir, old.folder), { recursive: true, force: true });
    const marker = await client.put("gone/after", "2");
    const [fresh] = (await waitFor(
      "a new chain past the marker",
      async () => {
        const c = await chains(storeDir, "gone");
        return c.length === 1 && c[0]?.backup.folder !== old.folder && (c[0]?.chain.contiguousTo ?? 0) >= marker
          ? c
          : undefined;
      },
      30_000,
    )) as [{ backup: BackupEntry; chain: Chain }];
    run.child.kill("SIGTERM");
    assert.equal((await run.exited).code, 143, run.stderr());
    assert.match(
      run.stdout(),
      /full backup \S+ at revision \d+ \(the base backup of the chain \S+ is gone \(pruned\?\)/,
    );
    assert.deepEqual(
      await readdir(join(storeDir, old.folder)).catch(() => []),
      [],
      "nothing written where the base was",
    );
    assert.deepEqual(fresh.chain.problems, []);
  });

  it("an etcd behind the chain's end (restored from an older snapshot, or another cluster) starts a new chain instead of appending to it", async () => {
    const storeDir = join(work, "behind");
    await mkdir(storeDir);
    for (let i = 0; i < 30; i++) await client.put(`behind/${i}`, `v${i}`);
    const first = follow(storeDir, "behind");
    const end = await client.put("behind/end", "1");
    await waitFor(
      "the chain past the last write",
      async () => {
        const c = await chains(storeDir, "behind");
        return (c[0]?.chain.contiguousTo ?? 0) >= end ? c : undefined;
      },
      30_000,
    );
    first.child.kill("SIGTERM");
    assert.equal((await first.exited).code, 143, first.stderr());
    const [{ backup: old, chain: oldChain }] = (await chains(storeDir, "behind")) as [
      { backup: BackupEntry; chain: Chain },
    ];
    // A fresh etcd: its revisions start again far below the chain's end.
    const other = await EtcdCluster.start({ members: 1 });
    try {
      const run = spawnFollower(other, storeDir, "behind");
      running.push(run);
      const after = (await waitFor(
        "a second chain",
        async () => {
          const c = await chains(storeDir, "behind");
          return c.length === 2 ? c : undefined;
        },
        30_000,
      )) as [{ backup: BackupEntry; chain: Chain }, { backup: BackupEntry; chain: Chain }];
      run.child.kill("SIGTERM");
      assert.equal((await run.exited).code, 143, run.stderr());
      assert.match(
        run.stdout(),
        /\(etcd is at revision \d+, behind the end of the chain \S+ \(\d+\): restored from an older snapshot\?/,
      );
      const [o] = after;
      assert.equal(o.backup.folder, old.folder);
      assert.equal(o.chain.contiguousTo, oldChain.contiguousTo, "the old chain got nothing of the other history");
    } finally {
      await other.stop();
    }
  });

  it("a compaction while the follower lags (stopped with SIGSTOP mid-watch) ends the chain at what it received", async () => {
    const storeDir = join(work, "lagging");
    await mkdir(storeDir);
    const run = follow(storeDir, "lag");
    await waitFor(
      "the full backup",
      async () => ((await chains(storeDir, "lag")).length === 1 ? true : undefined),
      30_000,
    );
    const first = await client.put("lag/first", "received");
    await waitFor(
      "the chain past the first write",
      async () => {
        const c = await chains(storeDir, "lag");
        return (c[0]?.chain.contiguousTo ?? 0) >= first ? c : undefined;
      },
      30_000,
    );
    let head = 0;
    run.child.kill("SIGSTOP");
    try {
      // More than the watch's buffers and flow-control windows hold: etcd has to stop sending, and
      // the compaction then passes revisions the follower never received.
      const value = "x".repeat(4096);
      for (let i = 0; i < 3000; i++) head = await client.put(`lag/k${i % 500}`, value);
      await etcdctl(cluster, ["compact", String(head)]);
    } finally {
      run.child.kill("SIGCONT");
    }
    const [o, n] = (await waitFor(
      "a second chain",
      async () => {
        const c = await chains(storeDir, "lag");
        return c.length === 2 ? c : undefined;
      },
      60_000,
    )) as [{ backup: BackupEntry; chain: Chain }, { backup: BackupEntry; chain: Chain }];
    const said = run.stdout().match(/^full backup \S+ at revision \d+ \((.*)\): /gm) ?? [];
    assert.equal(said.length, 2, run.stdout());
    const reason =
      /etcd compacted up to revision (\d+) before the chain got there: the chain (\S+) ends at revision (\d+)/.exec(
        said[1] as string,
      );
    assert.ok(reason, said[1]);
    assert.equal(Number(reason[1]), head);
    assert.equal(reason[2], o.backup.folder);
    // The old chain holds exactly what was received before the compaction, contiguous, and ends there.
    assert.equal(Number(reason[3]), o.chain.contiguousTo);
    assert.ok(
      o.chain.contiguousTo >= first && o.chain.contiguousTo < head,
      `old chain ends at ${o.chain.contiguousTo}`,
    );
    assert.deepEqual(o.chain.problems, []);
    assert.ok(n.backup.manifest.snapshot.revision >= head);
    run.child.kill("SIGTERM");
    assert.equal((await run.exited).code, 143, run.stderr());
  });

  it("--full-every starts a new chain at that interval; the old chains stay restorable", async () => {
    const storeDir = join(work, "every");
    await mkdir(storeDir);
    const load = startLoad(client, "every/");
    let run: RunningCli | undefined;
    try {
      run = follow(storeDir, "every", ["--full-every", "2s"]);
      await waitFor(
        "three chains",
        async () => {
          const c = await chains(storeDir, "every");
          return c.length >= 3 ? c : undefined;
        },
        60_000,
      );
      await load.stop();
      run.child.kill("SIGTERM");
      assert.equal((await run.exited).code, 143, run.stderr());
    } finally {
      await load.stop();
    }
    const all = await chains(storeDir, "every");
    const renewed = [
      ...run
        .stdout()
        .matchAll(
          /^full backup \S+ at revision \d+ \(the chain (\S+) was \d+s old \(--full-every\): it ends at revision (\d+)\)/gm,
        ),
    ];
    assert.ok(renewed.length >= 2, run.stdout());
    for (const [i, c] of all.entries()) {
      assert.deepEqual(c.chain.problems, [], `chain ${i}`);
      assert.deepEqual(c.chain.uncommitted, [], `chain ${i}`);
      const next = all[i + 1];
      if (!next) continue;
      // Each chain ends where the follower said, and goes on through the next one's base (taken while
      // it followed): no revision between the two chains is left without a point to restore.
      const said = renewed.find((m) => m[1] === c.backup.folder);
      assert.ok(said, `the stdout names the end of ${c.backup.folder}`);
      assert.equal(Number(said[2]), c.chain.contiguousTo);
      assert.ok(
        c.chain.contiguousTo >= next.backup.manifest.snapshot.revision,
        `chain ${i} ends at ${c.chain.contiguousTo}, the next base is at ${next.backup.manifest.snapshot.revision}`,
      );
    }
    const firstChain = all[0] as (typeof all)[number];
    assert.ok(firstChain.chain.records.length >= 1, "the first chain holds segments");
    const end = firstChain.chain.contiguousTo;
    assert.deepEqual(
      (await restoreAt(firstChain.backup.ref, end, join(work, "every-first"))).state,
      await liveAt(cluster, end),
    );
  });

  it("keys with leases replay as etcd had them: the same lease IDs, granted again with the source's TTL", async () => {
    const storeDir = join(work, "leases");
    await mkdir(storeDir);
    const hex = (id: string) => BigInt(id).toString(16);
    const baseLease = await client.leaseGrant(600);
    await client.put("lease/base", "in the base", baseLease);
    const run = follow(storeDir, "lease");
    await waitFor(
      "the full backup",
      async () => ((await chains(storeDir, "lease")).length === 1 ? true : undefined),
      30_000,
    );
    const long = await client.leaseGrant(3600);
    const revoked = await client.leaseGrant(600);
    const short = await client.leaseGrant(2);
    await client.put("lease/a", "a", long);
    await client.put("lease/b", "b", long);
    await client.put("lease/base", "moved to the long lease", long);
    await client.put("lease/c", "c", revoked);
    await client.put("lease/plain", "no lease");
    const allPut = await client.put("lease/d", "d", short);
    // A revoke and an expiry: etcd deletes the keys, and the watch carries those deletes.
    await etcdctl(cluster, ["lease", "revoke", hex(revoked)]);
    const revokedAt = (await client.status()).revision;
    assert.ok(revokedAt > allPut);
    await waitFor(
      "the 2 s lease to expire",
      async () => ((await client.count("lease/d")) === 0 ? true : undefined),
      30_000,
    );
    await client.put("lease/a", "detached: put without a lease");
    const marker = await client.put("lease/marker", "end");
    await waitFor(
      "the chain past the marker",
      async () => {
        const c = await chains(storeDir, "lease");
        return (c[0]?.chain.contiguousTo ?? 0) >= marker ? c : undefined;
      },
      30_000,
    );
    run.child.kill("SIGTERM");
    assert.equal((await run.exited).code, 143, run.stderr());
    const backup = (await chains(storeDir, "lease"))[0]?.backup;
    assert.ok(backup);

    for (const revision of [allPut, revokedAt, marker]) {
      const got = await restoreAt(backup.ref, revision, join(work, `lease-${revision}`), true);
      assert.deepEqual(
        got.state,
        await liveAt(cluster, revision, true),
        `keys, values and leases at revision ${revision}`,
      );
      assert.equal(got.leases.get(hex(long)), 3600, "a lease granted after the base comes back with its TTL");
      assert.equal(got.leases.get(hex(baseLease)), 600, "the base's lease stays");
    }
    const atAllPut = await liveAt(cluster, allPut, true);
    assert.match(atAllPut.get("lease/c") ?? "", new RegExp(` l${hex(revoked)}$`), "the oracle saw the lease");
  });
});
