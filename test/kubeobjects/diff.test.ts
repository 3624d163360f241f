import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { aescbcKeyName } from "../../src/hostedcluster/encryption-key.js";
import { runCli } from "../support/cli.js";
import { EtcdCluster } from "../support/etcd-cluster.js";
import { etcdctl } from "../support/etcdctl.js";
import { encrypted, protobufValue } from "../support/kube-values.js";

const time = { seconds: 1767225600, nanos: 0 };
const meta = (namespace: string, name: string) => ({ name, namespace, uid: `uid-${name}`, creationTimestamp: time });

const secret = (name: string, value: string) =>
  protobufValue("v1", "Secret", {
    metadata: meta("clusters", name),
    data: { password: Buffer.from(value) },
    type: "Opaque",
  });
const configMap = (name: string, mode: string, namespace = "clusters") =>
  protobufValue("v1", "ConfigMap", { metadata: meta(namespace, name), data: { mode } });
const deployment = (replicas: number) =>
  protobufValue("apps/v1", "Deployment", {
    metadata: meta("clusters", "web"),
    spec: {
      replicas,
      selector: { matchLabels: { app: "web" } },
      template: {
        metadata: { labels: { app: "web" } },
        spec: { containers: [{ name: "web", image: "registry.example/web:1" }] },
      },
    },
  });

// Values that must never appear in output without --show-secrets, in plain text or base64.
const OLD_PASSWORD = "hunter2-before";
const NEW_PASSWORD = "correct-horse-after";
const forms = (v: string) => [v, Buffer.from(v).toString("base64")];

describe("diff: objects added, removed and changed between two snapshots, decoded and decrypted", () => {
  let etcd: EtcdCluster;
  let dir: string;
  let a: string;
  let b: string;
  let keyFile: string;
  const key = randomBytes(32);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "hcpeb-diff-"));
    etcd = await EtcdCluster.start({ members: 3 });
    const client = await etcd.client(0);
    try {
      await client.put("/kubernetes.io/secrets/clusters/pull", encrypted(key, secret("pull", OLD_PASSWORD)));
      await client.put("/kubernetes.io/secrets/clusters/stay", encrypted(key, secret("stay", "never-changes")));
      await client.put("/kubernetes.io/configmaps/clusters/settings", configMap("settings", "fast"));
      await client.put("/kubernetes.io/configmaps/clusters/retired", configMap("retired", "x"));
      await client.put("/kubernetes.io/configmaps/other/elsewhere", configMap("elsewhere", "y", "other"));
      await client.put("/kubernetes.io/deployments/clusters/web", deployment(1));
      a = join(dir, "a.db");
      await etcdctl(etcd, ["snapshot", "save", a]);
      await client.put("/kubernetes.io/secrets/clusters/pull", encrypted(key, secret("pull", NEW_PASSWORD)));
      // Rewritten with the same content (a new IV, so new bytes): not a change of the object.
      await client.put("/kubernetes.io/secrets/clusters/stay", encrypted(key, secret("stay", "never-changes")));
      await client.put("/kubernetes.io/configmaps/clusters/settings", configMap("settings", "slow"));
      await client.delete("/kubernetes.io/configmaps/clusters/retired");
      await client.put("/kubernetes.io/configmaps/clusters/fresh", configMap("fresh", "new"));
      await client.put("/kubernetes.io/deployments/clusters/web", deployment(3));
      b = join(dir, "b.db");
      await etcdctl(etcd, ["snapshot", "save", b]);
    } finally {
      client.close();
    }
    keyFile = join(dir, "key");
    await writeFile(keyFile, key, { mode: 0o600 });
  });
  after(async () => {
    await etcd?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("lists added, removed and changed objects with field paths; a Secret's value only as changed (exit 1)", async () => {
    const r = await runCli(["diff", a, b, "-n", "clusters", "--key-file", keyFile]);
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stdout.trim().split("\n");
    assert.ok(lines.includes("+ ConfigMap clusters/fresh"), r.stdout);
    assert.ok(lines.includes("- ConfigMap clusters/retired"), r.stdout);
    assert.ok(lines.includes("~ ConfigMap clusters/settings"), r.stdout);
    assert.ok(lines.includes('    data.mode: "fast" -> "slow"'), r.stdout);
    assert.ok(lines.includes("~ Deployment clusters/web"), r.stdout);
    assert.ok(lines.includes("    spec.replicas: 1 -> 3"), r.stdout);
    assert.ok(lines.includes("~ Secret clusters/pull"), r.stdout);
    assert.ok(
      lines.some((l) => /^ {4}data\.password: changed/.test(l)),
      r.stdout,
    );
    assert.ok(!r.stdout.includes("clusters/stay"), r.stdout);
    assert.ok(!r.stdout.includes("elsewhere"), r.stdout);
    assert.equal(lines.at(-1), "1 added, 1 removed, 3 changed, 1 unchanged");
    for (const v of [...forms(OLD_PASSWORD), ...forms(NEW_PASSWORD)]) {
      assert.ok(!r.stdout.includes(v), `secret value in stdout: ${r.stdout}`);
      assert.ok(!r.stderr.includes(v), `secret value in stderr: ${r.stderr}`);
    }
  });

  it("-o json holds the same, the Secret's field hidden; --show-secrets shows its values", async () => {
    const r = await runCli(["diff", a, b, "secrets", "-n", "clusters", "--key-file", keyFile, "-o", "json"]);
    assert.equal(r.code, 1, r.stderr);
    const d = JSON.parse(r.stdout);
    assert.deepEqual(d.added, []);
    assert.deepEqual(d.removed, []);
    assert.equal(d.unchanged, 1);
    assert.deepEqual(d.changed[0].fields, [{ path: "data.password", hidden: true }]);
    for (const v of [...forms(OLD_PASSWORD), ...forms(NEW_PASSWORD)]) assert.ok(!r.stdout.includes(v));
    const s = await runCli([
      "diff",
      a,
      b,
      "secrets",
      "-n",
      "clusters",
      "--key-file",
      keyFile,
      "--show-secrets",
      "-o",
      "json",
    ]);
    assert.equal(s.code, 1, s.stderr);
    assert.deepEqual(JSON.parse(s.stdout).changed[0].fields, [
      {
        path: "data.password",
        before: Buffer.from(OLD_PASSWORD).toString("base64"),
        after: Buffer.from(NEW_PASSWORD).toString("base64"),
      },
    ]);
  });

  it("a resource narrows it; the same snapshot twice is exit 0", async () => {
    const r = await runCli(["diff", a, b, "deployments.apps", "-A"]);
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(r.stdout.trim().split("\n"), [
      "~ Deployment clusters/web",
      "    spec.replicas: 1 -> 3",
      "0 added, 0 removed, 1 changed, 0 unchanged",
    ]);
    const same = await runCli(["diff", a, a, "-n", "clusters", "--key-file", keyFile]);
    assert.equal(same.code, 0, same.stderr);
    assert.match(same.stdout, /0 added, 0 removed, 0 changed, 5 unchanged/);
  });

  it("trouble is exit 2 and one line: a Secret with no key given names the key; a file that is not a snapshot", async () => {
    const r = await runCli(["diff", a, b, "secrets", "-n", "clusters"]);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, "");
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, new RegExp(aescbcKeyName(key)));
    const notBolt = join(dir, "not-bolt.db");
    await writeFile(notBolt, "hello");
    const bad = await runCli(["diff", a, notBolt, "configmaps"]);
    assert.equal(bad.code, 2);
    assert.equal(bad.stdout, "");
    assert.equal(bad.stderr.trim().split("\n").length, 1, bad.stderr);
  });
});
