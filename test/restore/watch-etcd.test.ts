// `restore watch` proves the restore over etcd itself. A hosted cluster on the simulator, backed
// by a real 3-member etcd, is backed up by the built CLI; its snapshot is then restored with the
// real `etcdctl snapshot restore` into fresh data directories and served by real etcd processes
// behind the hosted cluster's three etcd pods (each pod's port-forward points at its member):
// once as HyperShift should (one cluster), once as the split-brain bug does (each member alone),
// once from an older snapshot. etcdctl is the oracle for the cluster IDs.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { EtcdRestoreScenario } from "../../src/kubesim/etcd-restore.js";
import { LocalEtcdCluster } from "../../src/localetcd/cluster.js";
import { runCli } from "../support/cli.js";
import { EtcdCluster } from "../support/etcd-cluster.js";
import { etcdctl } from "../support/etcdctl.js";
import { type HostedLab, startHostedLab } from "../support/hosted.js";

const run = promisify(execFile);
const URL =
  "https://hcpeb-backups.s3.us-east-1.amazonaws.com/clusters/example/snapshot.db?X-Amz-Expires=3600&X-Amz-Signature=00ff";
const RESTORED_LOG = "| 5f2a6b1c |     1200 |       1340 |     4.2 MB |\n";

interface Restored {
  /** One cluster of 3 members, or 3 clusters of one member each. */
  readonly clusters: EtcdCluster[];
  /** Client port of each pod's member, etcd-0 first. */
  readonly ports: number[];
  stop(): Promise<void>;
}

describe("restore watch: the proof over etcd (real etcd processes, built CLI)", () => {
  let lab: HostedLab;
  let restore: EtcdRestoreScenario;
  let olderSnapshot: string;
  let olderRevision: number;
  let ref: string;
  let backupRevision: number;
  let kube: string[];
  let runs = 0;

  before(async () => {
    lab = await startHostedLab({ dataBytes: 512 * 1024 });
    kube = ["-n", "clusters", "--kubeconfig", lab.kubeconfig];
    restore = new EtcdRestoreScenario(lab.sim.api);
    olderSnapshot = join(lab.work, "older.db");
    await etcdctl(lab.etcd, ["snapshot", "save", olderSnapshot]);
    const c = await lab.etcd.client(0);
    try {
      olderRevision = (await c.status()).revision;
      for (let i = 0; i < 10; i++) await c.put(`/kubernetes.io/configmaps/default/after-${i}`, `v${i}`);
    } finally {
      c.close();
    }
    const b = await runCli([
      "backup",
      "example",
      ...kube,
      "--to",
      join(lab.work, "store"),
      "--mode",
      "online",
      "--no-key",
      "-o",
      "json",
    ]);
    assert.equal(b.code, 0, b.stderr);
    ref = (JSON.parse(b.stdout) as { ref: string }).ref;
    backupRevision = (
      JSON.parse(await readFile(join(ref, "manifest.json"), "utf8")) as { snapshot: { revision: number } }
    ).snapshot.revision;
    assert.ok(backupRevision > olderRevision);
  });
  after(async () => {
    await lab?.stop();
  });

  /**
   * `etcdctl snapshot restore` of `snapshot` for etcd-0..2: together (one cluster), each alone
   * (three clusters), or with etcdctl's defaults as HyperShift's etcd-init runs it (three clusters
   * that all carry the same IDs: member "default" at http://localhost:2380).
   */
  async function restoreMembers(snapshot: string, how: "together" | "alone" | "defaults"): Promise<Restored> {
    const dir = join(lab.work, `restore-${++runs}`);
    await mkdir(dir);
    const plan = (await LocalEtcdCluster.plan(3)).map((p, i) => ({
      ...p,
      name: how === "defaults" ? "default" : `etcd-${i}`,
    }));
    const all = plan.map((p) => `${p.name}=${p.peerURL}`).join(",");
    for (const [i, p] of plan.entries()) {
      const membership =
        how === "defaults"
          ? []
          : [
              "--name",
              p.name,
              "--initial-cluster",
              how === "together" ? all : `${p.name}=${p.peerURL}`,
              "--initial-advertise-peer-urls",
              p.peerURL,
            ];
      await run("etcdctl", ["snapshot", "restore", snapshot, ...membership, "--data-dir", join(dir, `etcd-${i}`)], {
        env: { ...process.env, ETCDCTL_API: "3" },
      });
    }
    // A single member never talks to peers: one restored with the defaults serves on any peer port.
    const existing = plan.map((p, i) => ({
      name: p.name,
      dataDir: join(dir, `etcd-${i}`),
      peerPort: p.peerPort,
      clientPort: p.clientPort,
    }));
    const clusters: EtcdCluster[] = [];
    const stop = async () => {
      for (const c of clusters) await c.stop();
      await rm(dir, { recursive: true, force: true });
    };
    try {
      // The hosted cluster's Secrets carry the lab's CA and client certificate: the restored members serve with them.
      if (how === "together") clusters.push(await EtcdCluster.start({ existing, pki: lab.etcd.pki }));
      else for (const e of existing) clusters.push(await EtcdCluster.start({ existing: [e], pki: lab.etcd.pki }));
    } catch (err) {
      await stop();
      throw err;
    }
    return { clusters, ports: plan.map((p) => p.clientPort), stop };
  }

  /** HyperShift's side of a restore that went through: each pod's etcd-init restored, every member ready. */
  function podsServe(r: Restored): void {
    restore.begin(URL);
    for (const [i, port] of r.ports.entries()) {
      restore.forward(`etcd-${i}`, port);
      restore.succeeded(`etcd-${i}`, RESTORED_LOG);
    }
  }

  const clusterIdOf = async (cluster: EtcdCluster, member = 0): Promise<string> => {
    const fields = await etcdctl(cluster, ["endpoint", "status", "-w", "fields"], member);
    const id = /"ClusterID" : (\d+)/.exec(fields)?.[1];
    assert.ok(id, fields);
    return BigInt(id).toString(16);
  };

  const watch = (...extra: string[]) =>
    runCli(["restore", "watch", "example", ...kube, "--poll-interval", "200ms", "--timeout", "60s", ...extra]);

  it("a hosted cluster that restores nothing (no restoreSnapshotURL): only etcd is proven; the source itself passes", async () => {
    const w = await watch("--backup", ref);
    assert.equal(w.code, 0, w.stderr + w.stdout);
    assert.match(w.stderr, /no restoreSnapshotURL: checking etcd only/);
    assert.match(
      w.stdout,
      /^etcd of clusters\/example proven sound in [\d.]+s \(no restoreSnapshotURL: HyperShift restored no snapshot here\)$/m,
    );
    assert.match(w.stdout, /^ {2}members {5}3 of 3 answered \(reached by port-forward\)$/m);
    assert.doesNotMatch(w.stdout, /condition|from /, "no restore, no condition to report");
  });

  it("a 3-member cluster restored from the backup: 3 members, one cluster ID, one leader, revision >= the backup's; exit 0", async () => {
    const r = await restoreMembers(join(ref, "snapshot.db"), "together");
    try {
      podsServe(r);
      const text = await watch("--backup", ref);
      assert.equal(text.code, 0, text.stderr + text.stdout);
      const lines = text.stdout.trim().split("\n");
      assert.match(lines[0] ?? "", /^restore of clusters\/example proven in \d+\.\d+s$/);
      const cluster = r.clusters[0] as EtcdCluster;
      const id = await clusterIdOf(cluster);
      assert.deepEqual(lines.slice(2, 4), [
        "  condition   EtcdSnapshotRestored=True (AsExpected)",
        "  members     3 of 3 answered (reached by port-forward)",
      ]);
      assert.equal(lines[4], `  cluster ID  ${id}`);
      const revision = Number(/revision {4}(\d+) \(backup's (\d+)\)/.exec(text.stdout)?.[1]);
      assert.ok(revision >= backupRevision, `${revision} >= ${backupRevision}`);

      // The same proof through --endpoints, as JSON: every member's answer.
      const json = await watch("--backup", ref, "--endpoints", cluster.endpoints.join(","), "-o", "json");
      assert.equal(json.code, 0, json.stderr);
      const out = JSON.parse(json.stdout) as {
        verdict: string;
        etcd: {
          reachedBy: string;
          members: Array<{ clusterId: string; isLeader: boolean; memberList: string[]; revision: number }>;
        };
      };
      assert.equal(out.verdict, "proven");
      assert.equal(out.etcd.reachedBy, "endpoints");
      assert.deepEqual(
        out.etcd.members.map((m) => m.clusterId),
        [id, id, id],
      );
      assert.equal(out.etcd.members.filter((m) => m.isLeader).length, 1);
      for (const m of out.etcd.members) assert.deepEqual([...m.memberList].sort(), ["etcd-0", "etcd-1", "etcd-2"]);

      // One endpoint of three proves nothing about the other two: said at once, exit 1 (not a verdict on etcd).
      const one = await watch("--backup", ref, "--endpoints", cluster.endpoint(0));
      assert.equal(one.code, 1, one.stderr);
      assert.deepEqual(one.stdout.trim().split("\n").slice(1), [
        "  members etcd-1, etcd-2 of the member list were not asked: pass every member's endpoint",
      ]);
    } finally {
      await r.stop();
    }
  });

  it("split brain: each member restored alone is its own cluster behind one hosted cluster; named with the three cluster IDs, exit 3", async () => {
    const r = await restoreMembers(join(ref, "snapshot.db"), "alone");
    try {
      podsServe(r);
      const ids = await Promise.all(r.clusters.map((c) => clusterIdOf(c)));
      assert.equal(new Set(ids).size, 3, "etcdctl sees three clusters");
      const w = await watch("--backup", ref);
      assert.equal(w.code, 3, w.stderr + w.stdout);
      const lines = w.stdout.trim().split("\n");
      assert.equal(lines[0], "restore of clusters/example: FAILED");
      assert.equal(
        lines[1],
        `  split brain: 3 members report 3 different cluster IDs (etcd-0: ${ids[0]}, etcd-1: ${ids[1]}, etcd-2: ${ids[2]}), 3 of them leaders — each restored the snapshot as its own cluster; restore again with one --initial-cluster for all members`,
      );
      assert.equal(
        lines[2],
        "  member list does not have the StatefulSet's 3 members: etcd-0 lists 1 (etcd-0); etcd-1 lists 1 (etcd-1); etcd-2 lists 1 (etcd-2)",
      );
      assert.equal(lines.length, 3, "the revisions agree (same snapshot, no writes): that is why nothing else notices");
      assert.match(w.stderr, /hcp-etcd-backup: restore of clusters\/example is not sound: 2 findings \(split brain/);
    } finally {
      await r.stop();
    }
  });

  it("split brain as HyperShift's etcd-init makes it (etcdctl's defaults): one cluster ID, one member ID, three leaders; exit 3", async () => {
    const r = await restoreMembers(join(ref, "snapshot.db"), "defaults");
    try {
      podsServe(r);
      const ids = await Promise.all(r.clusters.map((c) => clusterIdOf(c)));
      assert.equal(new Set(ids).size, 1, "etcdctl sees the same cluster ID three times");
      const w = await watch("--backup", ref);
      assert.equal(w.code, 3, w.stderr + w.stdout);
      const lines = w.stdout.trim().split("\n");
      assert.match(
        lines[1] ?? "",
        new RegExp(
          `^ {2}split brain: 3 members \\(etcd-0, etcd-1, etcd-2\\) each lead a cluster of their own under the same cluster ID ${ids[0]} as the same member [0-9a-f]+ — `,
        ),
      );
      assert.equal(
        lines[2],
        "  member list does not have the StatefulSet's 3 members: etcd-0 lists 1 (default); etcd-1 lists 1 (default); etcd-2 lists 1 (default)",
      );
    } finally {
      await r.stop();
    }
  });

  it("restored from an older snapshot than the backup named: the revision below the backup's is reported, exit 3", async () => {
    const r = await restoreMembers(olderSnapshot, "together");
    try {
      podsServe(r);
      const w = await watch("--backup", ref);
      assert.equal(w.code, 3, w.stderr + w.stdout);
      const lines = w.stdout.trim().split("\n");
      assert.equal(lines.length, 2, w.stdout);
      assert.match(
        lines[1] ?? "",
        new RegExp(
          `^ {2}revision below the backup's ${backupRevision}: etcd-0 at (\\d+), etcd-1 at \\1, etcd-2 at \\1 — etcd does not hold the backup's data`,
        ),
      );
      const at = Number(/etcd-0 at (\d+)/.exec(lines[1] ?? "")?.[1]);
      assert.ok(at >= olderRevision && at < backupRevision, `${olderRevision} <= ${at} < ${backupRevision}`);
    } finally {
      await r.stop();
    }
  });

  it("a member that does not answer keeps the watch waiting; at the timeout it is named (each survey waits 5 s for it)", async () => {
    const r = await restoreMembers(join(ref, "snapshot.db"), "together");
    try {
      podsServe(r);
      await (r.clusters[0] as EtcdCluster).kill(2);
      const w = await runCli(["restore", "watch", "example", ...kube, "--poll-interval", "300ms", "--timeout", "12s"]);
      assert.equal(w.code, 1, w.stderr + w.stdout);
      const lines = w.stdout.trim().split("\n");
      assert.equal(lines[0], "restore of clusters/example: TIMED OUT");
      assert.ok(
        lines.some((l) =>
          /^ {2}still missing after 12s: etcd-2 did not answer \(https:\/\/127\.0\.0\.1:\d+\): /.test(l),
        ),
        w.stdout,
      );
    } finally {
      await r.stop();
    }
  });
});
