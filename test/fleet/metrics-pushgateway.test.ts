import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { freePorts } from "../../src/localetcd/ports.js";
import type { Manifest } from "../../src/store/manifest.js";
import { runCli } from "../support/cli.js";
import { EtcdCluster } from "../support/etcd-cluster.js";
import { flipByte } from "../support/files.js";
import { clusterState, type HostedLab, ORIGINAL_STATE, startHostedLab } from "../support/hosted.js";
import { PushgatewayServer, sampleValue } from "../support/pushgateway.js";

const readManifest = async (ref: string) => JSON.parse(await readFile(join(ref, "manifest.json"), "utf8")) as Manifest;
const seconds = (iso: string) => Date.parse(iso) / 1000;

/** `promtool check metrics` reads the exposition on stdin and lints it (exit 0: acceptable). */
function promtoolCheckMetrics(text: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = execFile("promtool", ["check", "metrics"], (err, stdout, stderr) => {
      const code = err ? Number((err as { code?: number }).code ?? 1) : 0;
      resolve({ code, output: `${stdout}${stderr}` });
    });
    child.stdin?.end(text);
  });
}

describe("metrics of plain etcd backups: a real Pushgateway and a node-exporter textfile", () => {
  let etcd: EtcdCluster;
  let gateway: PushgatewayServer;
  let work: string;
  let store: string;
  let textfile: string;
  let firstRef: string;

  before(async () => {
    etcd = await EtcdCluster.start({ members: 1 });
    gateway = await PushgatewayServer.start();
    work = await mkdtemp(join(tmpdir(), "hcpeb-test-"));
    store = join(work, "store");
    textfile = join(work, "hcp-etcd-backup.prom");
  });
  after(async () => {
    await gateway?.stop();
    await etcd?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const backup = (endpoints: string, extra: string[] = []) =>
    runCli([
      "backup",
      "--endpoints",
      endpoints,
      ...etcd.tlsFlags,
      "--to",
      store,
      "--name",
      "lab",
      "--pushgateway",
      gateway.url,
      "--metrics-file",
      textfile,
      "-o",
      "json",
      ...extra,
    ]);
  const labels = () => ({ job: "hcp-etcd-backup", cluster: "lab", store });

  it("a good backup: the scraped series carry the manifest's facts; promtool accepts the textfile", async () => {
    const r = await backup(etcd.endpoints.join(","));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "", "nothing to warn about");
    firstRef = (JSON.parse(r.stdout) as { ref: string }).ref;
    const m = await readManifest(firstRef);
    for (const text of [await gateway.scrape(), await readFile(textfile, "utf8")]) {
      const v = (name: string) => sampleValue(text, `hcp_etcd_backup_${name}`, { cluster: "lab", store });
      assert.equal(v("last_success_timestamp_seconds"), seconds(m.createdAt));
      assert.equal(v("duration_seconds"), m.timings.totalSeconds);
      assert.equal(v("size_bytes"), m.snapshot.objectSize);
      assert.equal(v("revision"), m.snapshot.revision);
      assert.equal(v("writer_downtime_seconds"), 0, "online: the writers were never down");
      assert.equal(v("verification_success"), 1);
      assert.equal(v("last_verification_timestamp_seconds"), seconds(m.verifications[0]?.at ?? ""));
      assert.equal(v("last_failure_timestamp_seconds"), undefined, "no failure yet");
    }
    assert.ok(
      sampleValue(await gateway.scrape(), "hcp_etcd_backup_size_bytes", labels()),
      "the group is the tool's job",
    );
    const lint = await promtoolCheckMetrics(await readFile(textfile, "utf8"));
    assert.equal(lint.code, 0, lint.output);
    assert.equal(lint.output.trim(), "", "no lint findings");
  });

  it("a failed backup: its failure time is pushed and the last success stays (POST per group, textfile merged)", async () => {
    const [closed] = (await freePorts(1)) as [number];
    const startedAt = Math.floor(Date.now() / 1000);
    const r = await backup(`https://127.0.0.1:${closed}`);
    assert.equal(r.code, 1, r.stderr);
    const m = await readManifest(firstRef);
    for (const text of [await gateway.scrape(), await readFile(textfile, "utf8")]) {
      const v = (name: string) => sampleValue(text, `hcp_etcd_backup_${name}`, { cluster: "lab", store });
      const failedAt = v("last_failure_timestamp_seconds") as number;
      assert.ok(failedAt >= startedAt && failedAt > seconds(m.createdAt), `failure time ${failedAt}`);
      assert.equal(v("last_success_timestamp_seconds"), seconds(m.createdAt), "the last success is kept");
      assert.equal(v("size_bytes"), m.snapshot.objectSize);
    }
    assert.equal((await promtoolCheckMetrics(await readFile(textfile, "utf8"))).code, 0);
  });

  it("verify pushes its result: 1 for an intact backup, 0 (exit 3) once its snapshot is damaged", async () => {
    const ok = await runCli(["verify", firstRef, "--pushgateway", gateway.url, "--metrics-file", textfile]);
    assert.equal(ok.code, 0, ok.stderr);
    const verified = (await readManifest(firstRef)).verifications.at(-1);
    let text = await gateway.scrape();
    assert.equal(sampleValue(text, "hcp_etcd_backup_verification_success", labels()), 1);
    assert.equal(
      sampleValue(text, "hcp_etcd_backup_last_verification_timestamp_seconds", labels()),
      seconds(verified?.at ?? ""),
    );

    await flipByte(join(firstRef, "snapshot.db"), 5000);
    const bad = await runCli(["verify", firstRef, "--pushgateway", gateway.url, "--metrics-file", textfile]);
    assert.equal(bad.code, 3, bad.stderr);
    text = await gateway.scrape();
    assert.equal(sampleValue(text, "hcp_etcd_backup_verification_success", labels()), 0);
    const file = await readFile(textfile, "utf8");
    assert.equal(sampleValue(file, "hcp_etcd_backup_verification_success", { cluster: "lab" }), 0);
    assert.ok(sampleValue(text, "hcp_etcd_backup_last_success_timestamp_seconds", labels()), "backup series kept");

    // Once a newer backup exists, the old one's result is its own (in its manifest), not the cluster's.
    const newer = await backup(etcd.endpoints.join(","));
    assert.equal(newer.code, 0, newer.stderr);
    assert.equal(sampleValue(await gateway.scrape(), "hcp_etcd_backup_verification_success", labels()), 1);
    const old = await runCli(["verify", firstRef, "--pushgateway", gateway.url, "--metrics-file", textfile]);
    assert.equal(old.code, 3, old.stderr);
    assert.match(old.stderr, /not the newest backup of lab: its result is recorded in its manifest/);
    assert.equal(sampleValue(await gateway.scrape(), "hcp_etcd_backup_verification_success", labels()), 1);
    assert.equal((await readManifest(firstRef)).verifications.at(-1)?.ok, false);
  });

  it("a Pushgateway that is down: the backup still succeeds (exit 0) with one warning line", async () => {
    const [closed] = (await freePorts(1)) as [number];
    const r = await runCli([
      "backup",
      "--endpoints",
      etcd.endpoints.join(","),
      ...etcd.tlsFlags,
      "--to",
      store,
      "--name",
      "lab",
      "--pushgateway",
      `http://user:s3cret@127.0.0.1:${closed}`,
      "-o",
      "json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok((JSON.parse(r.stdout) as { ref: string }).ref, "the result is printed");
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0] as string,
      /warn +metrics not pushed to http:\/\/\*\*\*@127\.0\.0\.1:\d+ \(1 of 1 group\(s\)\): .*ECONNREFUSED.*; the backup's own result stands/,
    );
    assert.doesNotMatch(r.stderr, /s3cret/);
  });

  it("refuses bad metrics flags before any work (exit 2)", async () => {
    const notProm = await backup(etcd.endpoints.join(","), ["--metrics-file", join(work, "m.txt")]);
    assert.equal(notProm.code, 2);
    assert.match(notProm.stderr, /--metrics-file must end in \.prom/);
    const badUrl = await runCli(["verify", firstRef, "--pushgateway", "pushgateway:9091"]);
    assert.equal(badUrl.code, 2);
    assert.match(badUrl.stderr, /--pushgateway must be an http\(s\) URL/);
  });
});

describe("metrics of a hosted cluster's quiesced backup (Kubernetes API simulator, real etcd, real Pushgateway)", () => {
  let lab: HostedLab;
  let gateway: PushgatewayServer;

  before(async () => {
    lab = await startHostedLab();
    gateway = await PushgatewayServer.start();
  });
  after(async () => {
    await gateway?.stop();
    await lab?.stop();
  });

  it("pushes the writers' downtime and the backup's facts under cluster=<namespace>/<name>", async () => {
    const store = join(lab.work, "store");
    const kube = ["-n", "clusters", "--kubeconfig", lab.kubeconfig];
    try {
      const r = await runCli([
        "backup",
        "example",
        ...kube,
        "--to",
        store,
        "--no-key",
        "--pushgateway",
        gateway.url,
        "-o",
        "json",
      ]);
      assert.equal(r.code, 0, r.stderr);
      const m = await readManifest((JSON.parse(r.stdout) as { ref: string }).ref);
      const text = await gateway.scrape();
      const l = { job: "hcp-etcd-backup", cluster: "clusters/example", store };
      const downtime = sampleValue(text, "hcp_etcd_backup_writer_downtime_seconds", l) as number;
      assert.ok(downtime > 0, "quiesced: the writers were down");
      assert.equal(downtime, m.writerDowntime?.seconds);
      assert.equal(sampleValue(text, "hcp_etcd_backup_revision", l), m.snapshot.revision);
      assert.equal(sampleValue(text, "hcp_etcd_backup_last_success_timestamp_seconds", l), seconds(m.createdAt));
      assert.deepEqual(await clusterState(lab), ORIGINAL_STATE);
    } finally {
      await runCli(["resume", "example", ...kube]);
    }
  });
});
