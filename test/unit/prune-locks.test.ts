import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { prune } from "../../src/backup/prune.js";
import { LocalStore } from "../../src/store/local-store.js";
import {
  describeLock,
  isLocked,
  type ObjectLockState,
  parseObjectLock,
  retentionFrom,
} from "../../src/store/object-lock.js";

/**
 * A directory store whose objects can carry locks, as S3 Object Lock reports them. Deleting a locked
 * key fails the test: prune must leave such a folder alone rather than try (on a versioned bucket the
 * delete would "succeed" as a delete marker and hide a backup that still exists).
 */
class LockingStore extends LocalStore {
  readonly locks = new Map<string, ObjectLockState>();
  readonly deleted: string[] = [];
  constructor(
    root: string,
    private readonly now: Date,
  ) {
    super(root);
  }
  override async lockOf(key: string): Promise<ObjectLockState | undefined> {
    return this.locks.get(key);
  }
  override async delete(keys: readonly string[]): Promise<void> {
    for (const k of keys) assert.ok(!isLocked(this.locks.get(k), this.now), `prune tried to delete locked ${k}`);
    this.deleted.push(...keys);
    await super.delete(keys);
  }
}

// After the files' mtimes, so the manifest-less folder counts as an old leftover.
const NOW = new Date(Date.now() + 3_600_000);
const later = (days: number) => new Date(NOW.getTime() + days * 86_400_000);

/** A schema-1 manifest (still read): all a catalog needs to see a committed backup. */
function manifest(id: string, createdAt: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 1,
      tool: { name: "hcp-etcd-backup", version: "0.1.0" },
      backupId: id,
      label: "lab",
      createdAt,
      mode: "online",
      source: {
        kind: "etcd",
        endpoints: ["https://10.0.0.1:2379"],
        clusterId: "c1",
        etcdVersion: "3.4.23",
        member: { name: "m0", id: "1a", endpoint: "https://10.0.0.1:2379", isLeader: true },
      },
      snapshot: {
        object: "snapshot.db",
        objectSize: 8224,
        dbSize: 8192,
        sha256: "a".repeat(64),
        statusHash: 1,
        revision: 5,
        totalKeys: 5,
        totalSize: 8192,
        pageSize: 4096,
      },
      timings: { startedAt: createdAt, finishedAt: createdAt, snapshotSeconds: 1, totalSeconds: 1 },
      verifications: [{ at: createdAt, toolVersion: "0.1.0", checks: ["sha256-trailer"], ok: true }],
    }),
  );
}

describe("prune and S3 Object Lock (decisions only: a directory store that reports locks)", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "hcpeb-prune-unit-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Three backups of one label, oldest first, plus a manifest-less leftover. */
  async function storeWith(name: string): Promise<{ store: LockingStore; folders: string[]; leftover: string }> {
    const store = new LockingStore(join(dir, name), NOW);
    const ids = ["20261128T000000Z-r5-000001", "20261129T000000Z-r5-000002", "20261130T000000Z-r5-000003"];
    const folders = ids.map((id) => `lab/${id}`);
    for (const [i, f] of folders.entries()) {
      await store.put(`${f}/snapshot.db`, Buffer.alloc(16));
      await store.put(`${f}/encryption-key.age`, Buffer.alloc(16));
      await store.put(`${f}/manifest.json`, manifest(ids[i] as string, `2026-11-${28 + i}T00:00:00.000Z`));
    }
    const leftover = "lab/20261127T000000Z-r4-000004";
    await store.put(`${leftover}/snapshot.db`, Buffer.alloc(16));
    return { store, folders, leftover };
  }
  const run = (store: LockingStore, dryRun = false) =>
    prune({ store, keepLast: 1, now: NOW, minAgeSeconds: 0, dryRun });

  it("a locked backup is kept whole and reported with its date; unlocked and expired ones go", async () => {
    const { store, folders } = await storeWith("mixed");
    const [oldest, middle, newest] = folders as [string, string, string];
    store.locks.set(`${oldest}/snapshot.db`, { mode: "governance", retainUntil: later(3), legalHold: false });
    store.locks.set(`${middle}/snapshot.db`, { mode: "compliance", retainUntil: later(-1), legalHold: false });
    const r = await run(store);
    assert.deepEqual(
      r.locked.map((l) => [l.folder, describeLock(l.lock)]),
      [[oldest, `locked until ${later(3).toISOString()} (governance)`]],
    );
    assert.deepEqual(
      r.removed.map((b) => b.folder),
      [middle],
      "an expired lock does not protect",
    );
    assert.ok(existsSync(join(store.root, oldest, "manifest.json")), "the locked backup keeps its manifest");
    assert.ok(!store.deleted.some((k) => k.startsWith(oldest)), "nothing of it was even tried");
    assert.ok(!existsSync(join(store.root, middle)));
    assert.ok(existsSync(join(store.root, newest, "snapshot.db")));
  });

  it("one locked object keeps the folder; the lock reported is the one that lasts longest (legal hold first)", async () => {
    const { store, folders, leftover } = await storeWith("strongest");
    const [oldest, middle] = folders as [string, string, string];
    store.locks.set(`${oldest}/manifest.json`, { mode: "governance", retainUntil: later(1), legalHold: false });
    store.locks.set(`${oldest}/snapshot.db`, { mode: "governance", retainUntil: later(5), legalHold: false });
    store.locks.set(`${middle}/encryption-key.age`, { legalHold: true });
    store.locks.set(`${middle}/snapshot.db`, { mode: "governance", retainUntil: later(9), legalHold: false });
    const r = await run(store);
    const byFolder = new Map(r.locked.map((l) => [l.folder, describeLock(l.lock)]));
    assert.equal(byFolder.get(oldest), `locked until ${later(5).toISOString()} (governance)`);
    assert.equal(byFolder.get(middle), "under legal hold");
    assert.deepEqual(r.removed, []);
    assert.deepEqual(store.deleted, [`${leftover}/snapshot.db`], "only the unlocked leftover went");
  });

  it("a leftover with a locked object stays; a dry run reports locks and deletes nothing", async () => {
    const { store, leftover, folders } = await storeWith("leftover");
    store.locks.set(`${leftover}/snapshot.db`, { mode: "compliance", retainUntil: later(2), legalHold: false });
    const dry = await run(store, true);
    assert.deepEqual(
      dry.locked.map((l) => l.folder),
      [leftover],
    );
    assert.deepEqual(dry.removed.map((b) => b.folder).sort(), folders.slice(0, 2));
    assert.deepEqual(store.deleted, []);
    const r = await run(store);
    assert.deepEqual(
      r.leftovers.map((l) => l.folder),
      [],
    );
    assert.ok(existsSync(join(store.root, leftover, "snapshot.db")));
    assert.equal(r.deletedObjects, 6, "two unlocked backups of three objects each");
  });
});

describe("--object-lock values", () => {
  it("parses mode:days and fixes one date, rounded up to a second", () => {
    assert.deepEqual(parseObjectLock("governance:30"), { mode: "governance", days: 30 });
    assert.deepEqual(parseObjectLock("COMPLIANCE:1"), { mode: "compliance", days: 1 });
    assert.deepEqual(retentionFrom({ mode: "governance", days: 2 }, new Date("2026-12-01T00:00:00.250Z")), {
      mode: "governance",
      retainUntil: new Date("2026-12-03T00:00:01.000Z"),
    });
    for (const bad of ["30", "governance", "governance:0", "governance:1.5", "legal:3", "governance:36501"])
      assert.throws(() => parseObjectLock(bad), /--object-lock must be governance:<days> or compliance:<days>/, bad);
  });
});
