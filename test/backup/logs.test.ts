import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { runCli } from "../support/cli.js";
import { EtcdCluster, loadCluster } from "../support/etcd-cluster.js";
import { etcdctl } from "../support/etcdctl.js";
import { S3Server } from "../support/s3-server.js";

const MILESTONES = [
  "store checked",
  "members surveyed",
  "member chosen",
  "snapshot stream started",
  "snapshot verified",
  "snapshot stored",
  "manifest committed",
];

describe("structured logs of a backup (etcd with auth and mutual TLS, Ceph RGW)", () => {
  let cluster: EtcdCluster;
  let s3: S3Server;
  const password = `pw-${randomBytes(12).toString("hex")}`;
  let secrets: string[];
  let env: NodeJS.ProcessEnv;
  let base: string[];
  const transcripts: Array<{ what: string; stdout: string; stderr: string }> = [];

  before(async () => {
    [cluster, s3] = await Promise.all([EtcdCluster.start(), S3Server.start()]);
    await loadCluster(cluster, { targetBytes: 12 * 1024 * 1024, valueSize: [65536, 524288] });
    await etcdctl(cluster, ["user", "add", "root", `--new-user-password=${password}`]);
    await etcdctl(cluster, ["auth", "enable"]);
    const keyPem = readFileSync(cluster.tlsFiles.key, "utf8");
    // Every secret the runs below handle: none may appear in any log line or output.
    secrets = [
      password,
      s3.secretAccessKey,
      ...keyPem.split("\n").filter((l) => l.length > 40 && !l.startsWith("-----")),
    ];
    env = {
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      AWS_REGION: s3.region,
      HCPEB_ETCD_PASSWORD: password,
    };
    base = [
      "backup",
      "--endpoints",
      cluster.endpoints.join(","),
      ...cluster.tlsFlags,
      "--user",
      "root",
      "--to",
      `s3://${s3.bucket}/logs`,
      "--s3-endpoint",
      s3.endpoint,
      "--name",
      "logged",
    ];
  });
  after(async () => {
    await Promise.all([cluster?.stop(), s3?.stop()]);
  });

  it("--log-format json: one JSON object a line on stderr with every milestone; stdout holds only the result", async () => {
    const r = await runCli([...base, "--log-format", "json", "--log-level", "debug", "-o", "json"], { env });
    transcripts.push({ what: "backup json", ...r });
    assert.equal(r.code, 0, r.stderr);
    const events = r.stderr
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line) as { msg: string; level: number; time: string; [k: string]: unknown });
    const messages = events.map((e) => e.msg);
    for (const m of MILESTONES) assert.ok(messages.includes(m), `missing "${m}" in ${messages.join(", ")}`);
    assert.deepEqual(
      MILESTONES.map((m) => messages.indexOf(m)),
      [...MILESTONES.map((m) => messages.indexOf(m))].sort((a, b) => a - b),
      "milestones in pipeline order",
    );
    const surveyed = events.find((e) => e.msg === "members surveyed") as unknown as {
      members: Array<{ name: string; revision: number; isLeader: boolean }>;
    };
    assert.equal(surveyed.members.length, 3);
    assert.equal(surveyed.members.filter((m) => m.isLeader).length, 1);
    const stored = events.find((e) => e.msg === "snapshot stored") as unknown as { bytes: number; ms: number };
    const result = JSON.parse(r.stdout) as { ref: string; snapshot: { objectSize: number } };
    assert.equal(stored.bytes, result.snapshot.objectSize);
    const committed = events.find((e) => e.msg === "manifest committed") as unknown as { ref: string };
    assert.equal(committed.ref, result.ref);
  });

  it("text logs at info are short lines on stderr; without log flags a good run prints nothing on stderr", async () => {
    const text = await runCli([...base, "--log-level", "info"], { env });
    transcripts.push({ what: "backup text", ...text });
    assert.equal(text.code, 0, text.stderr);
    for (const m of MILESTONES) assert.match(text.stderr, new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} info  ${m}`, "m"));
    const quiet = await runCli(base, { env });
    transcripts.push({ what: "backup quiet", ...quiet });
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.equal(quiet.stderr, "");
  });

  it("a failed run logs its error without secrets (wrong etcd password, wrong S3 secret)", async () => {
    const badEtcd = await runCli([...base, "--log-format", "json", "--password", `${password}-wrong`], { env });
    transcripts.push({ what: "bad etcd password", ...badEtcd });
    assert.equal(badEtcd.code, 1);
    const failure = badEtcd.stderr
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as { level: number; msg: string; exitCode?: number })
      .at(-1);
    assert.equal(failure?.level, 50, "the failure is an error event");
    assert.equal(failure?.exitCode, 1);
    assert.match(failure?.msg ?? "", /refused the credentials/);
    const badS3 = await runCli([...base, "--log-format", "json"], {
      env: { ...env, AWS_SECRET_ACCESS_KEY: `${s3.secretAccessKey}x` },
    });
    transcripts.push({ what: "bad S3 secret", ...badS3 });
    assert.equal(badS3.code, 1);
    secrets.push(`${password}-wrong`, `${s3.secretAccessKey}x`);
  });

  it("no secret appears in any log line or output of the runs above", () => {
    assert.ok(transcripts.length >= 5, "the runs above happened");
    for (const t of transcripts) {
      for (const s of secrets) {
        assert.ok(!t.stderr.includes(s), `${t.what}: stderr holds a secret`);
        assert.ok(!t.stdout.includes(s), `${t.what}: stdout holds a secret`);
      }
    }
  });
});
