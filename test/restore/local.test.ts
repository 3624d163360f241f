import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { LocalEtcdCluster } from "../../src/localetcd/cluster.js";
import { runCli, spawnCli } from "../support/cli.js";
import { EtcdCluster, loadCluster } from "../support/etcd-cluster.js";
import { etcdctl } from "../support/etcdctl.js";
import { flipByte } from "../support/files.js";
import {
  backupToLocalStore,
  fillSource,
  PrintedMembers,
  type RestoreOutput,
  servedContents,
  snapshotContents,
} from "./helpers.js";

/** Nothing but `keep` in `dir`: no data directory, no temp sibling. */
function onlyEntries(dir: string, keep: string[]): void {
  assert.deepEqual(readdirSync(dir).sort(), [...keep].sort(), `left in ${dir}`);
}

describe("restore local (real etcd 3.4, etcdctl snapshot restore)", () => {
  let source: EtcdCluster;
  let work: string;
  let file: string;
  let backupRef: string;
  let revision: number;
  let bigFile: string;

  before(async () => {
    source = await EtcdCluster.start({ members: 1 });
    work = await mkdtemp(join(tmpdir(), "hcpeb-test-"));
    const client = await source.client(0);
    try {
      revision = await fillSource(client);
    } finally {
      client.close();
    }
    file = join(work, "snap.db");
    await etcdctl(source, ["snapshot", "save", file]);
    backupRef = await backupToLocalStore(source, join(work, "store"));
    // A larger snapshot, whose restores take long enough to be interrupted half-way.
    await loadCluster(source, { targetBytes: 48 * 1024 * 1024, valueSize: [65536, 262144] });
    bigFile = join(work, "big.db");
    await etcdctl(source, ["snapshot", "save", bigFile]);
  });
  after(async () => {
    await source?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("--members 3 from a file: the printed commands start one healthy 3-member cluster serving the snapshot's keys", async () => {
    const dataDir = join(work, "three");
    const r = await runCli(["restore", "local", file, "--data-dir", dataDir, "--members", "3", "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as RestoreOutput;
    assert.equal(out.revision, revision);
    assert.deepEqual(
      out.members.map((m) => m.dataDir),
      out.members.map((m) => join(dataDir, m.name)),
    );
    assert.deepEqual(readdirSync(dataDir).sort(), [...out.members.map((m) => m.name), "pki"].sort());
    const members = await PrintedMembers.start(out);
    try {
      const statuses = await members.statuses();
      assert.equal(new Set(statuses.map((s) => s.clusterId)).size, 1, "one cluster ID");
      assert.equal(statuses.filter((s) => s.isLeader).length, 1, "one leader");
      const c = await members.client(1);
      try {
        assert.deepEqual((await c.memberList()).map((m) => m.name).sort(), out.members.map((m) => m.name).sort());
        assert.deepEqual(await servedContents(c, revision), snapshotContents(file));
      } finally {
        c.close();
      }
    } finally {
      await members.stop();
    }
  });

  it("--members 3 from a backup ref (local store): verified against its manifest, then the same", async () => {
    const dataDir = join(work, "from-ref");
    const r = await runCli(["restore", "local", backupRef, "--data-dir", dataDir, "--members", "3", "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as RestoreOutput;
    assert.ok(out.checks.includes("manifest") && out.checks.includes("structure"), out.checks.join());
    onlyEntries(join(backupRef), ["manifest.json", "snapshot.db"]);
    const restored = await LocalEtcdCluster.start({
      existing: out.members.map((m) => ({
        name: m.name,
        dataDir: m.dataDir,
        peerPort: Number(new URL(m.peerURLs[0] as string).port),
        clientPort: Number(new URL(m.clientURL as string).port),
      })),
    });
    try {
      const statuses = await restored.statuses();
      assert.equal(statuses.length, 3);
      assert.equal(new Set(statuses.map((s) => s.clusterId)).size, 1);
      assert.equal(statuses.filter((s) => s.isLeader).length, 1);
      const c = await restored.client(0);
      try {
        assert.deepEqual(await servedContents(c, revision), snapshotContents(join(backupRef, "snapshot.db")));
      } finally {
        c.close();
      }
    } finally {
      await restored.stop();
    }
  });

  it("--at-time after a plain backup was taken: one line, exit 2, nothing restored (it has no delta chain)", async () => {
    const dataDir = join(work, "plain-at-time");
    const r = await runCli([
      "restore",
      "local",
      backupRef,
      "--data-dir",
      dataDir,
      "--at-time",
      new Date(Date.now() + 60_000).toISOString(),
    ]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /has no delta chain .*restore it without --at-time/);
    assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
    assert.equal(existsSync(dataDir), false);
  });

  it("--name/--initial-cluster: one restore per member of a real cluster's layout, each with its own identity", async () => {
    const plan = await LocalEtcdCluster.plan(3);
    const initialCluster = plan.map((p) => `${p.name}=${p.peerURL}`).join(",");
    const dirs = plan.map((p) => join(work, "named", p.name));
    for (const [i, p] of plan.entries()) {
      const r = await runCli([
        "restore",
        "local",
        file,
        "--data-dir",
        dirs[i] as string,
        "--name",
        p.name,
        "--initial-cluster",
        initialCluster,
        "--initial-cluster-token",
        "named-test",
        "-o",
        "json",
      ]);
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as RestoreOutput;
      assert.equal(out.members.length, 1);
      assert.deepEqual(out.members[0]?.peerURLs, [p.peerURL], "--initial-advertise-peer-urls from its entry");
      assert.ok(out.members[0]?.command.includes(`--initial-advertise-peer-urls=${p.peerURL}`));
      assert.ok(out.members[0]?.command.includes("--initial-cluster-token=named-test"));
      assert.ok(existsSync(join(dirs[i] as string, "member", "snap", "db")), "the data directory is the member's");
    }
    const restored = await LocalEtcdCluster.start({
      existing: plan.map((p, i) => ({
        name: p.name,
        dataDir: dirs[i] as string,
        peerPort: p.peerPort,
        clientPort: p.clientPort,
      })),
    });
    try {
      const statuses = await restored.statuses();
      assert.equal(new Set(statuses.map((s) => s.clusterId)).size, 1, "three restores, one cluster");
      assert.equal(statuses.filter((s) => s.isLeader).length, 1);
    } finally {
      await restored.stop();
    }
  });

  it("a corrupted snapshot: exit 3, one line, and no data directory (nor temp sibling, nor parent made for it) left behind", async () => {
    const parent = join(work, "corrupt");
    await mkdir(parent);
    const bad = join(parent, "bad.db");
    await copyFile(file, bad);
    await flipByte(bad, 9000);
    // Under parents that do not exist yet: they are made for the temp sibling, and removed again.
    const r = await runCli([
      "restore",
      "local",
      bad,
      "--data-dir",
      join(parent, "new", "parents", "data"),
      "--members",
      "3",
    ]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /^hcp-etcd-backup: snapshot .*bad\.db failed verification, nothing was restored: /);
    assert.equal(r.stderr.trimEnd().split("\n").length, 1);
    onlyEntries(parent, ["bad.db"]);
  });

  it("a tampered backup (its bytes differ from the manifest): exit 3, nothing left", async () => {
    const parent = join(work, "tampered");
    await mkdir(parent);
    const ref = join(parent, "backup");
    await mkdir(ref);
    await copyFile(join(backupRef, "manifest.json"), join(ref, "manifest.json"));
    await copyFile(join(backupRef, "snapshot.db"), join(ref, "snapshot.db"));
    await flipByte(join(ref, "snapshot.db"), 9000);
    const r = await runCli(["restore", "local", ref, "--data-dir", join(parent, "data")]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /failed verification, nothing was restored: .*SHA-256/);
    onlyEntries(parent, ["backup"]);
  });

  it("refuses an existing non-empty data directory in one line and leaves it as it was; an empty one is used", async () => {
    const dataDir = join(work, "occupied");
    await mkdir(dataDir);
    await writeFile(join(dataDir, "keep-me"), "precious");
    const r = await runCli(["restore", "local", file, "--data-dir", dataDir]);
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      `hcp-etcd-backup: data directory ${dataDir} is not empty: restore never writes over existing data; pass a new or empty --data-dir\n`,
    );
    assert.deepEqual(await readdir(dataDir), ["keep-me"]);
    onlyEntries(
      work,
      readdirSync(work).filter((n) => !n.includes("hcpeb-restore")),
    );

    const empty = join(work, "empty");
    await mkdir(empty);
    const ok = await runCli(["restore", "local", file, "--data-dir", empty]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual((await readdir(empty)).sort(), ["member-0", "pki"]);
  });

  it("SIGINT while members are being restored: exit 130, and neither the data directory nor its temp sibling remains", async () => {
    const parent = join(work, "interrupted");
    await mkdir(parent);
    const cli = spawnCli([
      "--log-format",
      "json",
      "restore",
      "local",
      bigFile,
      "--data-dir",
      join(parent, "data"),
      "--members",
      "3",
    ]);
    await cli.waitForLine(/"msg":"restoring member"/);
    cli.child.kill("SIGINT");
    const exit = await cli.exited;
    assert.equal(exit.code, 130, cli.stderr());
    onlyEntries(parent, []);
  });
});
