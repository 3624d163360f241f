import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { discoverHostedCluster } from "../../src/hostedcluster/discovery.js";
import { JOURNAL_ANNOTATION } from "../../src/hostedcluster/journal.js";
import { openKey } from "../../src/hostedcluster/key-envelope.js";
import { DEFAULT_WRITERS } from "../../src/hostedcluster/names.js";
import {
  lockAndJournal,
  pause,
  resumeFromJournal,
  scaleWritersDown,
  waitForPause,
} from "../../src/hostedcluster/quiesce.js";
import { createLogger } from "../../src/logging.js";
import { runCli, spawnCli } from "../support/cli.js";
import { clusterState, type HostedLab, ORIGINAL_STATE, startHostedLab, writersBack } from "../support/hosted.js";

describe("backup of a hosted cluster (Kubernetes API simulator, real 3-member etcd)", () => {
  let lab: HostedLab;
  let identity: string;
  let recipient: string;
  let kube: string[];

  before(async () => {
    lab = await startHostedLab();
    identity = await generateIdentity();
    recipient = await identityToRecipient(identity);
    kube = ["-n", "clusters", "--kubeconfig", lab.kubeconfig];
  });
  after(async () => {
    await lab?.stop();
  });
  // A failed test must not leave the next one a paused cluster or a journal (it would refuse to run).
  afterEach(async () => {
    lab.sim.faults.clear();
    await runCli(["resume", "example", ...kube]);
  });

  const backup = (store: string, extra: string[] = []) =>
    runCli(["backup", "example", ...kube, "--to", store, "--key-recipient", recipient, ...extra]);

  it("quiesced (default): manifest v2, key saved and decryptable, writers down only while the snapshot streamed, cluster back exactly", async () => {
    const store = join(lab.work, "quiesced");
    const r = await backup(store, ["-o", "json", "--log-format", "json"]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { ref: string; etcdAccess: string };
    assert.equal(out.etcdAccess, "port-forward", "from a laptop etcd is reached through the API server");
    const manifest = JSON.parse(readFileSync(join(out.ref, "manifest.json"), "utf8"));
    assert.equal(manifest.schemaVersion, 2);
    assert.equal(manifest.mode, "quiesced");
    assert.equal(manifest.label, "clusters/example");
    assert.equal(manifest.source.kind, "hosted-cluster");
    assert.equal(manifest.source.hcpNamespace, "clusters-example");
    assert.match(manifest.source.uid, /^[0-9a-f-]{36}$/);
    assert.equal(manifest.members.length, 3);
    assert.equal(new Set(manifest.members.map((m: { revision: number }) => m.revision)).size, 1, "writes had stopped");
    assert.ok(manifest.writerDowntime.seconds > 0);
    const key = lab.sim.hostedCluster.encryptionKey;
    assert.deepEqual(manifest.encryption.keys, [
      {
        fingerprint: createHash("sha256").update(key).digest("hex"),
        keyName: manifest.encryption.keys[0].keyName,
      },
    ]);
    assert.match(manifest.encryption.keys[0].keyName, /^key-\d+$/);
    const sealed = readFileSync(join(out.ref, "encryption-key.age"));
    assert.deepEqual(Buffer.from(await openKey(sealed, identity)), key);
    const events = r.stderr
      .trim()
      .split("\n")
      .map((l) => (JSON.parse(l) as { msg: string }).msg);
    for (const m of [
      "locked and journaled",
      "reconciliation paused",
      "writers scaled to zero",
      "writer pods gone",
      "snapshot verified",
      "cluster resumed",
      "manifest committed",
    ])
      assert.ok(events.includes(m), `missing "${m}"`);
    assert.ok(events.indexOf("cluster resumed") < events.indexOf("manifest committed"), "resumed before the commit");
    assert.deepEqual(await clusterState(lab), ORIGINAL_STATE);
    const v = await runCli(["verify", out.ref]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    const listed = await runCli(["list", "--from", store, "--cluster", "clusters/example", "-o", "json"]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(
      (JSON.parse(listed.stdout) as Array<{ ref: string; source: string; mode: string }>).map((b) => [
        b.ref,
        b.source,
        b.mode,
      ]),
      [[out.ref, "hosted-cluster", "quiesced"]],
    );
    const none = await runCli(["list", "--from", store, "--cluster", "clusters/other", "-o", "json"]);
    assert.deepEqual(JSON.parse(none.stdout), []);
  });

  it("online: no pause, no scaling, no journal; the writers keep running", async () => {
    const r = await backup(join(lab.work, "online"), ["--mode", "online", "-o", "json", "--log-format", "json"]);
    assert.equal(r.code, 0, r.stderr);
    const manifest = JSON.parse(
      readFileSync(join((JSON.parse(r.stdout) as { ref: string }).ref, "manifest.json"), "utf8"),
    );
    assert.equal(manifest.mode, "online");
    assert.equal(manifest.writerDowntime, undefined);
    assert.ok(!r.stderr.includes("reconciliation paused") && !r.stderr.includes("writers scaled to zero"));
    assert.deepEqual(await clusterState(lab), ORIGINAL_STATE);
  });

  it("a cluster paused by someone else for longer is never touched; a pause about to expire is extended, then put back", async () => {
    const soon = new Date(Date.now() + 60_000).toISOString().replace(/\.\d{3}Z$/, "Z");
    for (const [value, touched] of [
      ["true", false],
      ["2099-01-01T00:00:00Z", false],
      [soon, true],
    ] as const) {
      await lab.api.patchHostedCluster("clusters", "example", { spec: { pausedUntil: value } });
      try {
        const r = await backup(join(lab.work, "prepaused"), ["--log-format", "json"]);
        assert.equal(r.code, 0, r.stderr);
        const msgs = r.stderr
          .trim()
          .split("\n")
          .map((l) => (JSON.parse(l) as { msg: string }).msg);
        assert.equal(msgs.includes("reconciliation paused"), touched, `${value}: ${msgs.join(", ")}`);
        assert.equal(msgs.includes("reconciliation already paused; left as it is"), !touched);
        const s = await clusterState(lab);
        assert.equal(s.pausedUntil, value, "the original value is back");
        assert.equal(s.journal, false);
      } finally {
        await lab.api.patchHostedCluster("clusters", "example", { spec: { pausedUntil: null } });
      }
    }
    assert.deepEqual(await clusterState(lab), ORIGINAL_STATE);
  });

  it("Ctrl-C while the resume is refused: the user hears that the resume failed and how to finish it", async () => {
    const run = spawnCli([
      "backup",
      "example",
      ...kube,
      "--to",
      join(lab.work, "sigint-403"),
      "--key-recipient",
      recipient,
      "--log-level",
      "info",
    ]);
    await run.waitForLine(/ writer pods gone/);
    lab.sim.faults.forbid({ verb: "patch", resource: "deployments/scale", name: "kube-apiserver", times: 50 });
    run.child.kill("SIGINT");
    const exit = await run.exited;
    assert.equal(exit.code, 130, run.stderr());
    assert.match(
      run.stderr(),
      /resuming clusters\/example failed: not allowed to patch deployments\/scale "kube-apiserver"/,
    );
    assert.match(run.stderr(), /run hcp-etcd-backup resume example -n clusters/);
    lab.sim.faults.clear();
    const resumed = await runCli(["resume", "example", ...kube]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual(await writersBack(lab, "writers back"), ORIGINAL_STATE);
  });

  it("refuses before any change: a running backup's lock, an aescbc key with nowhere to go, a dry run", async () => {
    const noKey = await runCli(["backup", "example", ...kube, "--to", join(lab.work, "x")]);
    assert.equal(noKey.code, 2);
    assert.match(
      noKey.stderr,
      /encrypts its secrets with aescbc: say where its key goes \(--key-recipient age1\.\.\. or --key-to DIR\), or --no-key/,
    );
    const dry = await backup(join(lab.work, "dry"), ["--dry-run"]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /plan for clusters\/example \(quiesced; nothing was changed\)/);
    assert.match(
      dry.stdout,
      /scale kube-apiserver \(3\), openshift-apiserver \(3\), openshift-oauth-apiserver \(3\) to 0/,
    );
    assert.equal(existsSync(join(lab.work, "dry")), false);
    // Another run's fresh journal is its lock.
    const journal = {
      version: 1,
      runId: "other",
      holder: { user: "alice", host: "ops-1", pid: 99 },
      startedAt: new Date().toISOString(),
      lockExpiresAt: new Date(Date.now() + 3_600_000).toISOString(),
      mode: "quiesced",
      original: { pausedUntil: null, writers: [] },
      changed: { scaledWriters: [] },
    };
    await lab.api.patchHostedCluster("clusters", "example", {
      metadata: { annotations: { [JOURNAL_ANNOTATION]: JSON.stringify(journal) } },
    });
    try {
      const locked = await backup(join(lab.work, "locked"));
      assert.equal(locked.code, 1);
      assert.match(locked.stderr, /another backup of clusters\/example is running: alice@ops-1 \(pid 99/);
      // resume must not undo a run that may still be streaming its snapshot on another host.
      const refused = await runCli(["resume", "example", ...kube]);
      assert.equal(refused.code, 1);
      assert.match(
        refused.stderr,
        /backup run other by alice@ops-1 \(pid 99\) holds the lock until .* may still be running: .* if it is dead, run again with --force/,
      );
    } finally {
      const resumed = await runCli(["resume", "example", ...kube, "--force"]);
      assert.equal(resumed.code, 0, resumed.stderr);
    }
    assert.deepEqual(await clusterState(lab), ORIGINAL_STATE);
    const nothing = await runCli(["resume", "example", ...kube]);
    assert.match(nothing.stdout, /nothing to resume: clusters\/example has no backup journal/);
  });

  it("a writer refused half-way through the scale-down: the ones already scaled are put back (from the stored journal)", async () => {
    lab.sim.faults.forbid({ verb: "patch", resource: "deployments/scale", name: "openshift-apiserver", times: 1 });
    const r = await backup(join(lab.work, "halfway"), ["--log-format", "json"]);
    assert.equal(r.code, 1, r.stderr);
    const events = r.stderr
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { msg: string; restoredWriters?: string[] });
    assert.match(events.at(-1)?.msg ?? "", /not allowed to patch deployments\/scale "openshift-apiserver"/);
    assert.deepEqual(events.find((e) => e.msg === "cluster resumed")?.restoredWriters, [
      "kube-apiserver",
      "openshift-apiserver",
    ]);
    assert.deepEqual(await writersBack(lab, "writers back"), ORIGINAL_STATE);
  });

  it("the journal keeps each writer's replicas as they were when it was scaled down, not as discovery saw them", async () => {
    const found = await discoverHostedCluster(lab.api, "clusters", "example", { writers: DEFAULT_WRITERS });
    // Discovery read kube-apiserver in the middle of a change (the control-plane operator had not yet
    // put its third replica back); by the time the pause holds, it is at 3 again.
    const target = {
      ...found,
      writers: found.writers.map((w) => (w.name === "kube-apiserver" ? { ...w, replicas: 1 } : w)),
    };
    const ctx = { cluster: lab.api, target, logger: createLogger({ format: "json", level: "silent" }) };
    let journal = await lockAndJournal(ctx, { runId: "replicas-test", mode: "quiesced", lockMs: 60_000 });
    try {
      const paused = await pause(ctx, journal, 60_000);
      journal = paused.journal;
      await waitForPause(ctx, paused.pausedUntil, 15_000);
      journal = await scaleWritersDown(ctx, journal);
      assert.deepEqual(
        journal.original.writers.map((w) => [w.name, w.replicas]),
        DEFAULT_WRITERS.map((w) => [w, 3]),
      );
    } finally {
      await resumeFromJournal(ctx, journal, { availableTimeoutMs: 15_000 });
    }
    assert.deepEqual(await writersBack(lab, "writers back"), ORIGINAL_STATE);
  });

  it("a 500 on the scale-up while resuming is retried; a 403 is reported with verb and resource, and resume completes later", async () => {
    const store = join(lab.work, "faults");
    const ok = await runBackupWithFaultOnScaleUp(lab, kube, recipient, store, { code: 500, times: 2 });
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(await clusterState(lab), ORIGINAL_STATE);

    const denied = await runBackupWithFaultOnScaleUp(lab, kube, recipient, store, { code: 403, times: 10 });
    assert.equal(denied.code, 1);
    const failure = JSON.parse(denied.stderr.trim().split("\n").at(-1) ?? "{}") as { msg?: string };
    assert.match(
      failure.msg ?? "",
      /not allowed to patch deployments\/scale "kube-apiserver" in namespace clusters-example/,
    );
    assert.match(failure.msg ?? "", /run hcp-etcd-backup resume example -n clusters/);
    lab.sim.faults.clear();
    const resumed = await runCli(["resume", "example", ...kube]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual(await writersBack(lab, "writers back"), ORIGINAL_STATE);
    const listed = await runCli(["list", "--from", store, "-o", "json"]);
    assert.equal((JSON.parse(listed.stdout) as unknown[]).length, 1, "the failed run left no backup");
  });
});

/**
 * Runs a backup and arms `fault` on the scale subresource once the writers are down (the
 * "writer pods gone" event), so it hits the scale-up of the resume, not the scale-down.
 */
async function runBackupWithFaultOnScaleUp(
  lab: HostedLab,
  kube: string[],
  recipient: string,
  store: string,
  fault: { code: number; times: number },
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const run = spawnCli([
    "backup",
    "example",
    ...kube,
    "--to",
    store,
    "--key-recipient",
    recipient,
    "--log-format",
    "json",
  ]);
  await run.waitForLine(/"msg":"writer pods gone"/);
  lab.sim.faults.clear();
  const match = { verb: "patch", resource: "deployments/scale", name: "kube-apiserver", times: fault.times } as const;
  if (fault.code === 403) lab.sim.faults.forbid(match);
  else lab.sim.faults.inject({ ...match, code: fault.code });
  const { code } = await run.exited;
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}
