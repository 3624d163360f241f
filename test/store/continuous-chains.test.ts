import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { prune } from "../../src/backup/prune.js";
import type { SegmentRecord } from "../../src/continuous/segment.js";
import { MANIFEST_FILE, type Manifest, SNAPSHOT_FILE } from "../../src/store/manifest.js";
import { openStore } from "../../src/store/open-store.js";
import type { Store } from "../../src/store/store.js";
import { putChain, putSegment } from "../support/chains.js";
import { type CliResult, runCli } from "../support/cli.js";
import { putBackups } from "../support/fleet-manifests.js";
import { S3Server } from "../support/s3-server.js";

const M = 60_000;
const H = 60 * M;

interface Target {
  readonly store: Store;
  readonly url: string;
  cli(args: string[]): Promise<CliResult>;
  stop(): Promise<void>;
}

const TARGETS: ReadonlyArray<[string, () => Promise<Target>]> = [
  [
    "a local store",
    async () => {
      const dir = await mkdtemp(join(tmpdir(), "hcpeb-chains-"));
      return {
        store: openStore(dir),
        url: dir,
        cli: (args) => runCli([...args, "--from", dir]),
        stop: () => rm(dir, { recursive: true, force: true }),
      };
    },
  ],
  [
    "S3 (Ceph RGW)",
    async () => {
      const s3 = await S3Server.start();
      const url = `s3://${s3.bucket}/chains`;
      const env = {
        AWS_ACCESS_KEY_ID: s3.accessKeyId,
        AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
        AWS_REGION: s3.region,
      };
      return {
        store: openStore(url, {
          endpoint: s3.endpoint,
          region: s3.region,
          credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
        }),
        url,
        cli: (args) => runCli([...args, "--from", url, "--s3-endpoint", s3.endpoint], { env }),
        stop: () => s3.stop(),
      };
    },
  ],
];

const folderOf = (m: Manifest) => `${m.label}/${m.backupId}`;

async function keysUnder(store: Store, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of store.list(prefix)) keys.push(o.key);
  return keys.sort();
}

/** Every delta object's backup folder still has its snapshot: what prune must hold at every moment. */
async function orphanedDeltas(store: Store): Promise<string[]> {
  const keys = new Set(await keysUnder(store, ""));
  return [...keys].filter((k) => {
    const at = k.indexOf("/deltas/");
    return at >= 0 && !keys.has(`${k.slice(0, at)}/${SNAPSHOT_FILE}`);
  });
}

for (const [kind, start] of TARGETS) {
  describe(`continuous backups in ${kind}: list window, fleet RPO, prune keeps whole chains`, () => {
    let t: Target;
    const now = Date.now();
    const at = (ms: number) => new Date(now - ms);
    let a1: Manifest;
    let a2: Manifest;
    let chainA: SegmentRecord[];
    let c1: Manifest;
    let orphanFolder: string;

    before(async () => {
      t = await start();
      const put = async (name: string, ago: number) => {
        const [m] = await putBackups(t.store, [{ namespace: "clusters", name, createdAt: at(ago), size: 8192 }]);
        if (!m) throw new Error("no manifest");
        return m;
      };
      // clusters/a: an older plain backup, then a continuous one whose newest segment closed 4 min ago,
      // with a half-written segment after it (a writer killed between its two writes).
      a1 = await put("a", 3 * H);
      a2 = await put("a", 2 * H);
      chainA = await putChain(t.store, a2, 4, { size: 10, stepMs: 29 * M });
      const base = a2.snapshot.revision;
      await putSegment(
        t.store,
        folderOf(a2),
        { backupId: a2.backupId, revision: base },
        { from: base + 41, to: base + 50, closedAt: at(M) },
        { commit: false },
      );
      // clusters/b: plain backups only, the newest an hour old.
      await put("b", H);
      // clusters/c: an old chain, then a newer plain backup.
      c1 = await put("c", 5 * H);
      await putChain(t.store, c1, 2, { stepMs: M });
      await put("c", 10 * M);
      // clusters/d: a chain whose base was removed (a prune stopped half way): segments alone.
      const d = await put("d", 4 * H);
      await putChain(t.store, d, 2);
      orphanFolder = folderOf(d);
      await t.store.delete([`${orphanFolder}/${MANIFEST_FILE}`, `${orphanFolder}/${SNAPSHOT_FILE}`]);
    });
    after(async () => {
      await t?.stop();
    });

    it("list -o json: a continuous backup's window; uncommitted segments not counted; plain backups have none", async () => {
      const r = await t.cli(["list", "--cluster", "clusters/a", "-o", "json"]);
      assert.equal(r.code, 0, r.stderr);
      const rows = JSON.parse(r.stdout) as Array<{ backupId: string; chain?: unknown }>;
      assert.deepEqual(
        rows.map((x) => x.backupId),
        [a2.backupId, a1.backupId],
      );
      assert.deepEqual(rows[0]?.chain, {
        fromRevision: a2.snapshot.revision,
        toRevision: a2.snapshot.revision + 40,
        fromTime: a2.createdAt,
        toTime: chainA[3]?.closedAt,
        segments: 4,
        uncommitted: 1,
        problems: [],
      });
      assert.equal(rows[1]?.chain, undefined);
    });

    it("list (table): RESTORABLE TO, TO REVISION and SEGMENTS columns, '-' for a plain backup", async () => {
      const r = await t.cli(["list", "--cluster", "clusters/a"]);
      assert.equal(r.code, 0, r.stderr);
      const [header, first, second] = r.stdout.trimEnd().split("\n");
      assert.match(header ?? "", /VERIFIED\s+RESTORABLE TO\s+TO REVISION\s+SEGMENTS$/);
      assert.match(first ?? "", new RegExp(`${chainA[3]?.closedAt}\\s+${a2.snapshot.revision + 40}\\s+4$`));
      assert.match(second ?? "", /yes\s+-\s+-\s+-$/);
    });

    it("list --fleet: the RPO is the newest committed segment's age for a continuous backup, the backup's otherwise", async () => {
      const r = await t.cli(["list", "--fleet", "--max-age", "30m", "-o", "json"]);
      // clusters/b's newest backup is an hour old: stale, exit 1. clusters/a is fresh by its segments,
      // although its newest full backup is two hours old.
      assert.equal(r.code, 1, r.stderr);
      const rows = JSON.parse(r.stdout) as Array<{
        label: string;
        status: string;
        rpo: { at: string; revision: number; from: string; ageSeconds: number };
        lastBackup: { at: string };
      }>;
      const a = rows.find((x) => x.label === "clusters/a");
      const b = rows.find((x) => x.label === "clusters/b");
      assert.equal(a?.status, "ok");
      assert.deepEqual(
        { at: a?.rpo.at, revision: a?.rpo.revision, from: a?.rpo.from },
        { at: chainA[3]?.closedAt, revision: a2.snapshot.revision + 40, from: "segment" },
      );
      assert.ok((a?.rpo.ageSeconds ?? 0) >= 4 * 60, "the age is measured from the segment's close");
      assert.equal(b?.status, "stale");
      assert.equal(b?.rpo.from, "backup");
      assert.equal(b?.rpo.at, b?.lastBackup.at);
      const table = await t.cli(["list", "--fleet", "--max-age", "30m"]);
      assert.match(table.stdout, /^CLUSTER\s+STATUS\s+LAST BACKUP\s+RPO\s+VERIFIED\s/);
      assert.match(table.stdout, /^clusters\/a\s+OK\s+2h ago\s+4m \(continuous\)\s/m);
      assert.match(table.stdout, /^clusters\/b\s+STALE\s+1h ago\s+1h\s+never\s/m);
    });

    it("a gap in the newest chain: the window stops before it, list warns, list --fleet says failing (exit 3)", async () => {
      const base = a2.snapshot.revision;
      await putSegment(
        t.store,
        folderOf(a2),
        { backupId: a2.backupId, revision: base },
        { from: base + 61, to: base + 70, closedAt: at(30_000) },
      );
      const listed = await t.cli(["list", "--cluster", "clusters/a", "-o", "json"]);
      assert.equal(listed.code, 0, listed.stderr);
      const chain = (JSON.parse(listed.stdout) as Array<{ chain?: { toRevision: number; problems: string[] } }>)[0]
        ?.chain;
      assert.equal(chain?.toRevision, base + 40);
      assert.deepEqual(chain?.problems, [
        `revisions ${base + 41}..${base + 60} are missing from the chain (gap before segment ${base + 61}-${base + 70})`,
      ]);
      // The table says it on stderr too (the JSON carries it in the chain's problems).
      const table = await t.cli(["list", "--cluster", "clusters/a"]);
      assert.match(
        table.stderr,
        new RegExp(`warning: clusters/a/${a2.backupId}: the chain stops at revision ${base + 40}: revisions`),
      );
      const fleet = await t.cli(["list", "--fleet", "--max-age", "30m", "-o", "json"]);
      assert.equal(fleet.code, 3, fleet.stderr);
      const a = (JSON.parse(fleet.stdout) as Array<{ label: string; status: string; problems: string[] }>).find(
        (x) => x.label === "clusters/a",
      );
      assert.equal(a?.status, "failing");
      assert.match(a?.problems[0] ?? "", /chain stops at revision \d+: revisions \d+\.\.\d+ are missing/);
    });

    it("prune: a chain written within --min-age is kept whatever the policy says", async () => {
      const r = await t.cli(["prune", "--keep-last", "1", "--dry-run", "-o", "json"]);
      assert.equal(r.code, 0, r.stderr);
      const plan = JSON.parse(r.stdout) as { keep: Array<{ ref: string; reasons: string[] }>; remove: string[] };
      const c = plan.keep.find((k) => k.ref.endsWith(folderOf(c1)));
      assert.deepEqual(c?.reasons, ["chain being written"]);
      assert.ok(!plan.remove.some((ref) => ref.endsWith(folderOf(c1))));
      assert.ok(
        plan.remove.some((ref) => ref.endsWith(folderOf(a1))),
        "a plain backup is not held back",
      );
    });

    it("prune: deletes a chain's segments with its base, the orphaned segments too, and never leaves a segment without its base", async () => {
      const before = await keysUnder(t.store, "");
      const c1Deltas = before.filter((k) => k.startsWith(`${folderOf(c1)}/deltas/`));
      assert.equal(c1Deltas.length, 4, "two segments and their records");
      // Between every delete prune makes, no delta object may be without its snapshot.
      const checks: string[][] = [];
      const watched: Store = Object.assign(Object.create(t.store) as Store, {
        async delete(keys: readonly string[], options?: { signal?: AbortSignal }) {
          await t.store.delete(keys, options);
          checks.push(await orphanedDeltas(t.store));
        },
      });
      // The orphan is a leftover from before this prune: it goes once older than --min-age (0 here).
      assert.notDeepEqual(await orphanedDeltas(t.store), []);
      const r = await prune({ store: watched, keepLast: 1, minAgeSeconds: 0 });
      assert.deepEqual(r.removed.map((b) => b.folder).sort(), [folderOf(a1), folderOf(c1)].sort());
      assert.deepEqual(
        r.leftovers.map((l) => l.folder),
        [orphanFolder],
      );
      assert.ok(checks.length >= 3, `${checks.length} delete calls`);
      // The leftover's own delete is the one call allowed to start from orphans: it removes them.
      assert.deepEqual(checks.at(-1), []);
      for (const [i, orphans] of checks.entries())
        assert.deepEqual(
          orphans.filter((k) => !k.startsWith(`${orphanFolder}/`)),
          [],
          `after delete call ${i + 1}: segments without their base`,
        );
      assert.deepEqual(await keysUnder(t.store, folderOf(c1)), []);
      assert.deepEqual(await keysUnder(t.store, orphanFolder), []);
      const a2Keys = await keysUnder(t.store, folderOf(a2));
      assert.equal(
        a2Keys.filter((k) => k.includes("/deltas/")).length,
        11,
        "the kept chain is whole: 5 committed segments, 1 not",
      );
      assert.equal(r.deletedObjects, before.length - (await keysUnder(t.store, "")).length);
    });
  });
}
