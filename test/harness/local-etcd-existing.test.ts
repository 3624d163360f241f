import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { LocalEtcdCluster, PortInUseError, type RestoredData } from "../../src/localetcd/cluster.js";
import { restoreLocal } from "../../src/restore/local.js";
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

  describe("a port another process takes between the restore and the start (a busy machine)", () => {
    let snapshot: string;
    const squatters: Server[] = [];
    let restores = 0;
    before(async () => {
      snapshot = join(work, "busy.db");
      const client = await source.client(0);
      try {
        for (let i = 0; i < 5; i++) await client.put(`/kubernetes.io/secrets/default/s-${i}`, `v${i}`);
      } finally {
        client.close();
      }
      await etcdctl(source, ["snapshot", "save", snapshot]);
    });
    after(async () => {
      await Promise.all(squatters.map((s) => new Promise((r) => s.close(r))));
    });

    /** What the demo does: `restore local` for three loopback members; then a listener takes member-1's peer port. */
    const restoreThenSquat =
      (squatOn: (attempt: number) => boolean, seen: { taken: number[]; dirs: string[] }) =>
      async (attempt: number): Promise<RestoredData> => {
        const dataDir = join(work, `busy-${++restores}`);
        seen.dirs.push(dataDir);
        const r = await restoreLocal({
          source: { kind: "file", path: snapshot },
          dataDir,
          layout: { kind: "loopback", members: 3 },
        });
        const members = r.members.map((m) => ({
          name: m.name,
          dataDir: m.dataDir,
          peerPort: Number(new URL(m.peerURLs[0] as string).port),
        }));
        const taken = (members[1] as { peerPort: number }).peerPort;
        if (squatOn(attempt)) {
          squatters.push(await listen(taken));
          seen.taken.push(taken);
        }
        return { members, discard: () => rm(dataDir, { recursive: true, force: true }) };
      };

    it("restores again for new ports and starts the cluster there", async () => {
      const seen = { taken: [] as number[], dirs: [] as string[] };
      const { taken } = seen;
      const cluster = await LocalEtcdCluster.startRestored(restoreThenSquat((attempt) => attempt === 1, seen));
      try {
        assert.equal(taken.length, 1);
        const c = await cluster.client(0);
        try {
          const peerPorts = (await c.memberList()).flatMap((m) => m.peerURLs.map((u) => Number(new URL(u).port)));
          assert.equal(peerPorts.length, 3);
          assert.ok(
            !peerPorts.includes(taken[0] as number),
            `the squatted port ${taken[0]} is not one of ${peerPorts}`,
          );
          assert.equal(await c.count("/kubernetes.io/secrets/"), 5, "the restored keys are served");
        } finally {
          c.close();
        }
        assert.equal(existsSync(seen.dirs[0] as string), false, "the data restored for the lost port is removed");
      } finally {
        await cluster.stop();
      }
    });

    it("gives up after three restores with a message that names the member, the port and what to do", async () => {
      const seen = { taken: [] as number[], dirs: [] as string[] };
      const { taken } = seen;
      await assert.rejects(LocalEtcdCluster.startRestored(restoreThenSquat(() => true, seen)), (err: unknown) => {
        assert.ok(err instanceof PortInUseError, String(err));
        assert.equal(taken.length, 3, "three restores, each for new ports");
        const last = taken[2] as number;
        assert.match(
          err.message,
          new RegExp(
            `^etcd member-1 cannot listen on 127\\.0\\.0\\.1:${last} \\(its peer port\\).*3 restores with new ports tried.*ss -ltnp 'sport = :${last}'.*run again`,
          ),
        );
        assert.ok(!err.message.includes("\n"), "one line");
        return true;
      });
    });
  });
});

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    // Holds the port and hangs up on whoever connects (etcd's peers dialling the member that is not there).
    const srv = createServer((socket) => socket.destroy());
    srv.once("error", reject);
    srv.listen({ port, host: "127.0.0.1", exclusive: true }, () => resolve(srv));
  });
}
