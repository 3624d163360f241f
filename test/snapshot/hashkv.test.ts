import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { EtcdClient } from "../../src/etcd/client.js";
import type { SnapshotHashKv } from "../../src/snapshot/hashkv.js";
import { verifySnapshot } from "../../src/snapshot/verify.js";
import { EtcdCluster } from "../support/etcd-cluster.js";
import { etcdctl } from "../support/etcdctl.js";

/**
 * The snapshot-side HashKV against the real thing: etcd 3.4.23's own Maintenance.HashKV at the
 * snapshot's revision, on the member the snapshot was saved from. One etcd goes through the cases
 * in turn (compaction cannot be undone), a snapshot saved after each.
 */
describe("HashKV computed from a snapshot equals etcd 3.4's at the snapshot's revision", () => {
  let etcd: EtcdCluster;
  let client: EtcdClient;
  let work: string;
  let n = 0;

  before(async () => {
    etcd = await EtcdCluster.start({ members: 1 });
    client = await etcd.client(0);
    work = await mkdtemp(join(tmpdir(), "hcpeb-test-"));
  });
  after(async () => {
    client?.close();
    await etcd?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** Saves a snapshot, computes its hash and checks it, its live keys and compacted revision against etcd's. */
  async function snapshotAgrees(): Promise<SnapshotHashKv> {
    const file = join(work, `s${n++}.db`);
    await etcdctl(etcd, ["snapshot", "save", file]);
    const report = await verifySnapshot(file, { hashKv: {} });
    assert.equal(report.ok, true, JSON.stringify(report.findings));
    const outcome = report.hashKv;
    assert.ok(outcome && "hashKv" in outcome, JSON.stringify(outcome));
    const ours = outcome.hashKv;
    const theirs = await client.hashKv(ours.revision);
    assert.equal(ours.hash.toString(16), theirs.hash.toString(16), "HashKV");
    assert.equal(ours.compactRevision, theirs.compactRevision, "compacted revision");
    assert.equal(ours.liveKeys, await client.count(Buffer.from([0]), ours.revision), "live keys");
    // Only the last revision is a hash the restored member can be asked for: an earlier one is someone else's.
    if (ours.revision > ours.compactRevision + 1) {
      const earlier = await client.hashKv(ours.revision - 1);
      assert.notEqual(earlier.hash, ours.hash, "the hash depends on the revision");
    }
    return ours;
  }

  it("(a) no compaction: puts, overwrites and deletes, every entry hashed", async () => {
    for (let i = 0; i < 50; i++) await client.put(`/registry/a/k${i}`, `v${i}`);
    for (let i = 0; i < 10; i++) await client.put(`/registry/a/k${i}`, `again ${i}`);
    for (let i = 40; i < 50; i++) await client.delete(`/registry/a/k${i}`);
    const h = await snapshotAgrees();
    assert.equal(h.compactRevision, -1, "never compacted, as etcd says it");
    assert.equal(h.liveKeys, 40);
  });

  it("(b) after a compaction, keys overwritten and deleted after it", async () => {
    const at = await client.put("/registry/b/marker", "m");
    await client.compact(at);
    for (let i = 0; i < 5; i++) await client.put(`/registry/a/k${i}`, `after compaction ${i}`);
    for (let i = 20; i < 25; i++) await client.delete(`/registry/a/k${i}`);
    await client.put("/registry/b/new", "created after the compaction");
    const h = await snapshotAgrees();
    assert.equal(h.compactRevision, at);
    assert.equal(h.tailRevisions, 11);
    assert.equal(h.liveKeys, 41 - 5 + 1);
  });

  it("(c) deletes and tombstones across the compaction boundary, keys recreated after it", async () => {
    await client.delete("/registry/a/k30"); // tombstone below the next compaction: gone with it
    await client.put("/registry/a/k31", "overwritten before the compaction");
    const at = await client.put("/registry/c/last-before", "x");
    await client.compact(at);
    await client.put("/registry/a/k30", "recreated after its tombstone was compacted");
    await client.delete("/registry/a/k31"); // live at the compaction, deleted after
    await client.put("/registry/a/k32", "one");
    await client.delete("/registry/a/k32");
    await client.put("/registry/a/k32", "deleted and recreated after the compaction");
    await client.delete("/registry/a/k33");
    const h = await snapshotAgrees();
    assert.equal(h.compactRevision, at);
    // And compacted again at the last revision but one: the tail is a single revision.
    const last = await client.put("/registry/c/one-more", "y");
    await client.compact(last - 1);
    await snapshotAgrees();
    // Compacted at the snapshot's revision itself: nothing after it, no entry skipped.
    await client.compact(last);
    const file = join(work, "compacted-at-head.db");
    await etcdctl(etcd, ["snapshot", "save", file]);
    const outcome = (await verifySnapshot(file, { hashKv: {} })).hashKv;
    assert.ok(outcome && "hashKv" in outcome, JSON.stringify(outcome));
    assert.equal(outcome.hashKv.compactRevision, outcome.hashKv.revision);
    assert.equal(outcome.hashKv.tailRevisions, 0);
    assert.equal(outcome.hashKv.hash, (await client.hashKv(0)).hash, "HashKV at the current revision");
  });

  it("(d) keys with leases, before and after a compaction, one lease revoked", async () => {
    const lease = await client.leaseGrant(3600);
    const other = await client.leaseGrant(3600);
    for (let i = 0; i < 10; i++) await client.put(`/registry/events/e${i}`, `event ${i}`, lease);
    for (let i = 0; i < 5; i++) await client.put(`/registry/leases/l${i}`, `lease ${i}`, other);
    const at = await client.put("/registry/d/marker", "m");
    await client.compact(at);
    for (let i = 0; i < 3; i++) await client.put(`/registry/events/e${i}`, `event ${i} again`, lease);
    await client.put("/registry/leases/l0", "moved to no lease");
    await etcdctl(etcd, ["lease", "revoke", BigInt(other).toString(16)]); // its keys deleted: tombstones
    const h = await snapshotAgrees();
    assert.equal(h.compactRevision, at);
  });

  it("(e) every key deleted after a compaction: none live, so etcd hashes the compacted entries too", async () => {
    for (let i = 0; i < 5; i++) await client.put(`/registry/e/k${i}`, `v${i}`);
    const at = await client.put("/registry/e/marker", "m");
    await client.compact(at);
    await client.put("/registry/e/k0", "overwritten after the compaction");
    await etcdctl(etcd, ["del", "", "--from-key"]);
    assert.equal(await client.count(), 0, "no key left");
    const h = await snapshotAgrees();
    assert.equal(h.compactRevision, at);
    assert.equal(h.liveKeys, 0);
    assert.ok(h.tailRevisions > 0);
  });

  it("says why when it cannot decide: more tail keys than allowed", async () => {
    const file = join(work, `s${n - 1}.db`);
    const outcome = (await verifySnapshot(file, { hashKv: { tailKeys: 0 } })).hashKv;
    assert.ok(outcome && "undecided" in outcome, JSON.stringify(outcome));
    assert.match(outcome.undecided, /more than 0 keys were written after the compacted revision \d+/);
  });

  it("says why when it cannot decide: more bytes of tail keys than allowed, however few keys", async () => {
    const file = join(work, `s${n - 1}.db`);
    const within = (await verifySnapshot(file, { hashKv: { tailBytes: 8 * 1024 * 1024 } })).hashKv;
    assert.ok(within && "hashKv" in within && within.hashKv.tailRevisions > 0, JSON.stringify(within));
    const outcome = (await verifySnapshot(file, { hashKv: { tailBytes: 10 } })).hashKv;
    assert.ok(outcome && "undecided" in outcome, JSON.stringify(outcome));
    assert.match(outcome.undecided, /the keys written after the compacted revision \d+ take more than 10 bytes/);
  });
});
