// `restore watch` while HyperShift restores: the etcd pods' etcd-init containers and the
// EtcdSnapshotRestored condition as the simulator plays them, read through the real client-node
// (pod status, pods/log), with the built CLI run as a user runs it.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { etcdCertificateNames } from "../../src/hostedcluster/names.js";
import { EtcdRestoreScenario } from "../../src/kubesim/etcd-restore.js";
import { KubeSim } from "../../src/kubesim/simulator.js";
import { runCli, spawnCli } from "../support/cli.js";
import { EtcdCluster } from "../support/etcd-cluster.js";
import { TcpRelay } from "../support/tcp-relay.js";

const SIGNATURE = "5f0e4c2b9d1a8e7f6c3b2a1908f7e6d5c4b3a29180f7e6d5c4b3a2918f7e6d5c";
const TOKEN = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD";
const URL = `https://hcpeb-backups.s3.us-east-1.amazonaws.com/clusters/example/20261130T100000Z-r1200-a1b2c3/snapshot.db?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F20261130%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261130T100000Z&X-Amz-Expires=3600&X-Amz-Security-Token=${encodeURIComponent(TOKEN)}&X-Amz-Signature=${SIGNATURE}&X-Amz-SignedHeaders=host`;
const CURL = `  % Total    % Received % Xferd  Average Speed   Time    Time     Time  Current
                                 Dload  Upload   Total   Spent    Left  Speed
100   447    0   447    0     0   3412      0 --:--:-- --:--:-- --:--:--  3438
`;
const s3Error = (code: string, message: string, extra = "") =>
  `${CURL}<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message>${extra}<RequestId>0N4B1V</RequestId><HostId>aG9zdA==</HostId></Error>`;
const RESTORED_LOG = `${CURL}+----------+----------+------------+------------+
|   HASH   | REVISION | TOTAL KEYS | TOTAL SIZE |
+----------+----------+------------+------------+
| 5f2a6b1c |     1200 |       1340 |     4.2 MB |
+----------+----------+------------+------------+
`;

describe("restore watch: etcd-init and EtcdSnapshotRestored (simulator, built CLI)", () => {
  let etcd: EtcdCluster;
  let sim: KubeSim;
  let work: string;
  let restore: EtcdRestoreScenario;
  let kube: string[];

  before(async () => {
    etcd = await EtcdCluster.start({ members: 3, serverNames: etcdCertificateNames("clusters-example") });
    sim = await KubeSim.start(etcd);
    work = await mkdtemp(join(tmpdir(), "hcpeb-test-"));
    kube = ["-n", "clusters", "--kubeconfig", await sim.kubeconfig(join(work, "kubeconfig"))];
    restore = new EtcdRestoreScenario(sim.api);
  });
  after(async () => {
    await sim?.stop();
    await etcd?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const watch = (...extra: string[]) =>
    runCli(["restore", "watch", "example", ...kube, "--poll-interval", "100ms", "--timeout", "30s", ...extra]);

  /** No line of output may carry the URL's signature or session token. */
  const assertRedacted = (r: { stdout: string; stderr: string }) => {
    for (const text of [r.stdout, r.stderr]) {
      assert.equal(text.includes(SIGNATURE), false, "the URL signature leaked");
      assert.equal(text.includes(TOKEN), false, "the session token leaked");
      assert.equal(text.includes(encodeURIComponent(TOKEN)), false, "the session token leaked");
    }
  };

  it("an expired URL: etcd-0 crash-loops on S3's error body; one line says so and what to do, exit 1", async () => {
    restore.begin(URL);
    restore.crashLooping(
      "etcd-0",
      s3Error("AccessDenied", "Request has expired", "<X-Amz-Expires>3600</X-Amz-Expires>"),
    );
    restore.running("etcd-1");
    restore.running("etcd-2");
    const r = await watch();
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(r.stdout.trim().split("\n"), [
      "restore of clusters/example: FAILED",
      "  etcd-0 init container etcd-init: S3 refused the snapshot URL: Request has expired — run restore prepare again for a fresh URL (CrashLoopBackOff, 1 restarts)",
    ]);
    assert.match(
      r.stderr,
      /restoring from https:\/\/hcpeb-backups\.s3\.us-east-1\.amazonaws\.com\/.*X-Amz-Signature=\*\*\*/,
    );
    assert.match(
      r.stderr,
      /hcp-etcd-backup: restore of clusters\/example is not sound: 1 finding \(etcd-0 init container/,
    );
    assertRedacted(r);
  });

  it("access denied on two members: one line each; JSON names every pod's state", async () => {
    restore.begin(URL);
    restore.crashLooping("etcd-0", s3Error("AccessDenied", "Access Denied"));
    restore.crashLooping("etcd-1", s3Error("AccessDenied", "Access Denied"));
    restore.running("etcd-2", CURL);
    const r = await watch("-o", "json");
    assert.equal(r.code, 1, r.stderr);
    const out = JSON.parse(r.stdout) as {
      verdict: string;
      restoreUrl: string;
      findings: Array<{ source: string; line: string }>;
      pods: Array<{ pod: string; etcdInit: string }>;
    };
    assert.equal(out.verdict, "failed");
    assert.deepEqual(
      out.findings.map((f) => f.line.replace(/ — .*/, "")),
      [
        "etcd-0 init container etcd-init: S3 refused the snapshot URL: AccessDenied: Access Denied",
        "etcd-1 init container etcd-init: S3 refused the snapshot URL: AccessDenied: Access Denied",
      ],
    );
    assert.equal(out.pods[2]?.etcdInit, "etcd-init is still running (downloading or restoring)");
    assert.match(out.restoreUrl, /X-Amz-Security-Token=\*\*\*&X-Amz-Signature=\*\*\*/);
    assertRedacted(r);
  });

  it("the skip: every etcd-init exited 0 and HyperShift says restored, but etcd-2 kept its old data", async () => {
    restore.begin(URL);
    restore.succeeded("etcd-0", RESTORED_LOG);
    restore.succeeded("etcd-1", RESTORED_LOG);
    restore.succeeded("etcd-2", "/var/lib/data not empty, not restoring snapshot\n");
    const hcp = (await runCli(["restore", "watch", "example", ...kube, "--timeout", "1s", "-o", "json"])).stdout;
    const out = JSON.parse(hcp) as { verdict: string; controlPlaneCondition: { status: string }; findings: unknown[] };
    assert.equal(out.controlPlaneCondition.status, "True", "the control-plane operator set EtcdSnapshotRestored=True");
    assert.equal(out.verdict, "failed");
    assert.deepEqual(out.findings, [
      {
        source: "etcd-init",
        line: "etcd-2 init container etcd-init: skipped the restore: /var/lib/data was not empty, so this member runs on the data its volume already held, not the backup's — delete the HostedCluster and its data-etcd-* PVCs, then restore again",
      },
    ]);
  });

  it("EtcdSnapshotRestored=False on the HostedControlPlane and the HostedCluster: a finding each, redacted", async () => {
    restore.begin(URL);
    restore.crashLooping(
      "etcd-1",
      `${CURL}curl: (7) Failed to connect to hcpeb-backups.s3.us-east-1.amazonaws.com port 443\n`,
      7,
    );
    restore.setCondition("HostedControlPlane", "False", "EtcdRestoreFailed", "etcd-init of etcd-1 exited 7");
    restore.setCondition("HostedCluster", "False", "EtcdRestoreFailed", `restore from ${URL} failed`);
    const r = await watch();
    assert.equal(r.code, 1);
    assert.deepEqual(r.stdout.trim().split("\n").slice(1), [
      "  HostedControlPlane clusters-example/example reports EtcdSnapshotRestored=False (EtcdRestoreFailed): etcd-init of etcd-1 exited 7",
      `  HostedCluster clusters/example reports EtcdSnapshotRestored=False (EtcdRestoreFailed): restore from ${URL.replace(`X-Amz-Security-Token=${encodeURIComponent(TOKEN)}`, "X-Amz-Security-Token=***").replace(SIGNATURE, "***")} failed`,
    ]);
    assertRedacted(r);
  });

  it("a timeout says what was still missing: the condition, the running etcd-init, a member not ready, a curl error", async () => {
    restore.begin(URL);
    restore.succeeded("etcd-0", RESTORED_LOG);
    restore.running("etcd-1", CURL);
    restore.crashLooping(
      "etcd-2",
      `${CURL}curl: (6) Could not resolve host: hcpeb-backups.s3.us-east-1.amazonaws.com\n`,
      6,
    );
    const r = await runCli(["restore", "watch", "example", ...kube, "--timeout", "1500ms", "--poll-interval", "200ms"]);
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(r.stdout.trim().split("\n"), [
      "restore of clusters/example: TIMED OUT",
      "  still missing after 1.5s: etcd-1: etcd-init is still running (downloading or restoring)",
      "  still missing after 1.5s: etcd-2 init container etcd-init: could not download the snapshot: curl: (6) Could not resolve host: hcpeb-backups.s3.us-east-1.amazonaws.com — the etcd pod must reach the S3 endpoint (egress NetworkPolicy, proxy, DNS, CA) (CrashLoopBackOff, 1 restarts)",
      "  still missing after 1.5s: HostedControlPlane clusters-example/example has no EtcdSnapshotRestored=True condition yet",
      "  still missing after 1.5s: etcd has 1/3 members ready",
    ]);
    assert.match(r.stderr, /restore of clusters\/example not finished after 1500ms: 4 findings/);
  });

  it("etcd-init restored, but etcd-2's etcd keeps exiting: its last fatal log entry, final after 3 restarts", async () => {
    restore.begin(URL);
    restore.succeeded("etcd-0", RESTORED_LOG);
    restore.succeeded("etcd-1", RESTORED_LOG);
    restore.etcdCrashLooping(
      "etcd-2",
      [
        '{"level":"info","ts":"2026-11-30T10:00:00.000Z","caller":"etcdmain/etcd.go:116","msg":"server has been already initialized","data-dir":"/var/lib/data"}',
        '{"level":"fatal","ts":"2026-11-30T10:00:01.000Z","caller":"etcdmain/etcd.go:271","msg":"discovery failed","error":"the member has been permanently removed from the cluster"}',
        "",
      ].join("\n"),
      3,
    );
    const r = await watch();
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(r.stdout.trim().split("\n").slice(1), [
      "  etcd-2 container etcd: CrashLoopBackOff (3 restarts, exit 1): discovery failed: the member has been permanently removed from the cluster — this member's data does not fit the cluster (a member removed and re-added with a new ID after the restore, OCPBUGS-99310): restore again",
    ]);
  });

  it("follows a restore as it happens: waits while etcd-init runs, then proves etcd (exit 0)", async () => {
    restore.begin(URL);
    for (const pod of ["etcd-0", "etcd-1", "etcd-2"]) restore.running(pod, CURL);
    const cli = spawnCli(["restore", "watch", "example", ...kube, "--timeout", "60s", "--poll-interval", "100ms"]);
    try {
      await cli.waitForLine(/etcd-2: etcd-init is still running/);
      restore.succeeded("etcd-0", RESTORED_LOG);
      await cli.waitForLine(/etcd-0: restored the snapshot \(ready\)/);
      restore.succeeded("etcd-1", RESTORED_LOG);
      restore.succeeded("etcd-2", RESTORED_LOG);
      const exit = await cli.exited;
      assert.equal(exit.code, 0, cli.stderr() + cli.stdout());
      assert.match(cli.stderr(), /EtcdSnapshotRestored: not set\n[\s\S]*EtcdSnapshotRestored: True \(AsExpected\)/);
      assert.match(cli.stderr(), /etcd members ready: 0\/3\n[\s\S]*etcd members ready: 3\/3/);
      const out = cli.stdout().split("\n");
      assert.match(out[0] ?? "", /^restore of clusters\/example proven in /);
      assert.equal(out[3], "  members     3 of 3 answered (reached by port-forward)");
    } finally {
      if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill("SIGKILL");
    }
  });

  it("the API server gone after it answered is waited out until --timeout (a restart, not a wrong kubeconfig)", async () => {
    restore.begin(URL);
    for (const pod of ["etcd-0", "etcd-1", "etcd-2"]) restore.running(pod, CURL);
    // The simulator behind a relay: once the relay stops, connections to that address are refused.
    const relay = await TcpRelay.start(Number(new globalThis.URL(sim.url).port), Number.POSITIVE_INFINITY);
    const relayed = join(work, "relayed.kubeconfig");
    await writeFile(relayed, (await readFile(kube[3] as string, "utf8")).replace(sim.url, relay.endpoint), {
      mode: 0o600,
    });
    const cli = spawnCli([
      "restore",
      "watch",
      "example",
      "-n",
      "clusters",
      "--kubeconfig",
      relayed,
      "--timeout",
      "5s",
      "--poll-interval",
      "100ms",
    ]);
    try {
      await cli.waitForLine(/etcd-2: etcd-init is still running/);
      await relay.stop();
      const exit = await cli.exited;
      assert.equal(exit.code, 1, cli.stderr());
      const out = cli.stdout().trim().split("\n");
      assert.equal(out[0], "restore of clusters/example: TIMED OUT", cli.stdout());
      assert.match(
        out[1] ?? "",
        new RegExp(`^ {2}still missing after 5s: .*Kubernetes API at ${relay.endpoint.replace(/\./g, "\\.")} `),
      );
    } finally {
      if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill("SIGKILL");
      await relay.stop().catch(() => {});
    }
  });

  it("RBAC refuses pods/log: said at once (without the log the failure cannot be named), exit 1", async () => {
    restore.begin(URL);
    restore.crashLooping("etcd-0", s3Error("AccessDenied", "Request has expired"));
    sim.faults.forbid({ verb: "get", resource: "pods/log", times: 100 });
    try {
      const r = await watch();
      assert.equal(r.code, 1, r.stderr);
      const lines = r.stdout.trim().split("\n");
      assert.match(
        lines[1] ?? "",
        /^ {2}cannot read the etcd-init log of etcd-0: not allowed to get pods\/log "etcd-0" in namespace clusters-example: pods "etcd-0" is forbidden/,
      );
    } finally {
      sim.faults.clear();
    }
  });

  it("SIGINT while waiting ends the watch at once (130), whatever the timeout", async () => {
    restore.begin(URL);
    const cli = spawnCli(["restore", "watch", "example", ...kube, "--timeout", "1h", "--poll-interval", "30s"]);
    try {
      await cli.waitForLine(/restoring from /);
      cli.child.kill("SIGINT");
      const exit = await cli.exited;
      assert.equal(exit.code, 130, cli.stderr());
      assert.match(cli.stderr(), /received SIGINT: stopping and cleaning up/);
      // The interrupt waits 10 s for work that ignores the signal, then says so: the wait must have ended by itself.
      assert.doesNotMatch(cli.stderr(), /has not stopped yet/);
    } finally {
      if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill("SIGKILL");
    }
  });

  it("bad flags and a missing cluster are one line and exit 2", async () => {
    const noNs = await runCli(["restore", "watch", "example", "--kubeconfig", kube[3] as string]);
    assert.equal(noNs.code, 2);
    assert.equal(noNs.stderr, "hcp-etcd-backup: missing -n/--namespace: the namespace of the HostedCluster example\n");
    const badTimeout = await watch("--timeout", "soon");
    assert.equal(badTimeout.code, 2);
    assert.match(badTimeout.stderr, /--timeout must be a duration like 90s, 15m or 1h, got "soon"/);
    const missing = await runCli(["restore", "watch", "nope", ...kube]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /hosted cluster clusters\/nope not found/);
    const noBackup = await watch("--backup", join(work, "no-such-backup"));
    assert.equal(noBackup.code, 1);
    assert.equal(noBackup.stderr.trim().split("\n").length, 1, noBackup.stderr);
    assert.match(noBackup.stderr, /no-such-backup/);
  });
});
