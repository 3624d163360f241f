import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { LocalEtcdCluster } from "../../src/localetcd/cluster.js";
import { EtcdCluster } from "../support/etcd-cluster.js";
import { etcdctl } from "../support/etcdctl.js";

const run = promisify(execFile);

describe("LocalEtcdCluster on existing data directories (how a restore is brought up)", () => {
  let source: EtcdCluster;
  let work: string;

  before(async () => {
    source = await EtcdCluster.start({ members: 1 });
    work = await mkdtemp(join(tmpdir(), "hcpeb-test-"));
  });
  after(async () => {
    await source?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("serves a snapshot restored into three data directories as one 3-member cluster, and leaves them in place", async () => {
    const client = await source.client(0);
    let revision: number;
    try {
      for (let i = 0; i < 20; i++) await client.put(`/kubernetes.io/configmaps/default/cm-${i}`, `v${i}`);
      revision = await client.put("/kubernetes.io/configmaps/default/last", "x");
    } finally {
      client.close();
    }
    const file = join(work, "snap.db");
    await etcdctl(source, ["snapshot", "save", file]);

    const plan = await LocalEtcdCluster.plan(3);
    const initialCluster = plan.map((p) => `${p.name}=${p.peerURL}`).join(",");
    for (const p of plan) {
      await run(
        "etcdctl",
        [
          "snapshot",
          "restore",
          file,
          "--name",
          p.name,
          "--initial-cluster",
          initialCluster,
          "--initial-advertise-peer-urls",
          p.peerURL,
          "--data-dir",
          join(work, p.name),
        ],
        { env: { ...process.env, ETCDCTL_API: "3" } },
      );
    }
    const restored = await LocalEtcdCluster.start({
      existing: plan.map((p) => ({
        name: p.name,
        dataDir: join(work, p.name),
        peerPort: p.peerPort,
        clientPort: p.clientPort,
      })),
    });
    try {
      assert.deepEqual(
        restored.endpoints,
        plan.map((p) => `https://127.0.0.1:${p.clientPort}`),
      );
      const statuses = await restored.statuses();
      assert.equal(statuses.length, 3);
      assert.equal(new Set(statuses.map((s) => s.clusterId)).size, 1, "one cluster, not three");
      assert.equal(statuses.filter((s) => s.isLeader).length, 1);
      for (const s of statuses) assert.ok(s.revision >= revision, "a restore keeps the MVCC revision");
      const c = await restored.client(2);
      try {
        const members = await c.memberList();
        assert.deepEqual(members.map((m) => m.name).sort(), ["member-0", "member-1", "member-2"]);
        assert.equal(await c.count("/kubernetes.io/configmaps/"), 21);
      } finally {
        c.close();
      }
    } finally {
      await restored.stop();
    }
    assert.equal(existsSync(restored.dir), false, "its own temp directory is gone");
    for (const p of plan) assert.ok(existsSync(join(work, p.name, "member")), `${p.name}'s data directory is kept`);
  });
});
