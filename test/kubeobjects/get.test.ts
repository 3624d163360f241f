import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { generateIdentity, identityToRecipient } from "age-encryption";
import yaml from "js-yaml";
import { aescbcKeyName } from "../../src/hostedcluster/encryption-key.js";
import { sealKey } from "../../src/hostedcluster/key-envelope.js";
import { KubeSim } from "../../src/kubesim/simulator.js";
import { backupToLocalStore } from "../restore/helpers.js";
import { runCli } from "../support/cli.js";
import { EtcdCluster } from "../support/etcd-cluster.js";
import { etcdctl } from "../support/etcdctl.js";
import { encrypted, protobufValue } from "../support/kube-values.js";

const run = promisify(execFile);
const KUBECTL = process.env.HCPEB_KUBECTL ?? "kubectl";

const time = { seconds: 1767225600, nanos: 0 }; // 2026-01-01T00:00:00Z
const meta = (namespace: string, name: string) => ({
  name,
  namespace,
  uid: `uid-${name}`,
  resourceVersion: "",
  creationTimestamp: time,
  labels: { app: "orion" },
  managedFields: [{ manager: "kubectl", operation: "Update", apiVersion: "v1", time }],
});

describe("get: objects out of a snapshot, decrypted and decoded as kube-apiserver stored them", () => {
  let etcd: EtcdCluster;
  let dir: string;
  let snapshot: string;
  const active = randomBytes(32);
  const backup = randomBytes(32);
  let keyFile: string;
  let config: string;
  let ref: string;
  let identityFile: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "hcpeb-get-"));
    etcd = await EtcdCluster.start({ members: 3 });
    const client = await etcd.client(0);
    try {
      const secret = (name: string, value: string) =>
        protobufValue("v1", "Secret", {
          metadata: meta("clusters", name),
          data: { password: Buffer.from(value) },
          type: "Opaque",
        });
      await client.put("/kubernetes.io/secrets/clusters/pull", encrypted(active, secret("pull", "first")));
      // Rewritten: the newest revision is the one printed.
      await client.put("/kubernetes.io/secrets/clusters/pull", encrypted(active, secret("pull", "hunter2")));
      // Written before a key rotation: still under the backup key.
      await client.put("/kubernetes.io/secrets/clusters/old", encrypted(backup, secret("old", "from-the-old-key")));
      await client.put("/kubernetes.io/secrets/clusters/gone", encrypted(active, secret("gone", "x")));
      await client.delete("/kubernetes.io/secrets/clusters/gone");
      await client.put("/kubernetes.io/secrets/other/elsewhere", encrypted(active, secret("elsewhere", "y")));
      // A value only a KMS plugin can open: named, never a failure of the offline check.
      await client.put(
        "/kubernetes.io/secrets/kms-ns/sealed",
        Buffer.concat([Buffer.from("k8s:enc:kms:v2:aws-kms:"), randomBytes(64)]),
      );
      await client.put(
        "/kubernetes.io/configmaps/clusters/settings",
        protobufValue("v1", "ConfigMap", { metadata: meta("clusters", "settings"), data: { mode: "fast" } }),
      );
      await client.put(
        "/kubernetes.io/deployments/clusters/web",
        protobufValue("apps/v1", "Deployment", {
          metadata: meta("clusters", "web"),
          spec: {
            replicas: 0,
            selector: { matchLabels: { app: "web" } },
            template: {
              metadata: { labels: { app: "web" } },
              spec: {
                containers: [
                  {
                    name: "web",
                    image: "registry.example/web:1",
                    resources: { limits: { memory: { string: "128Mi" } } },
                    ports: [{ containerPort: 8080, protocol: "TCP" }],
                  },
                ],
                volumes: [{ name: "tmp", volumeSource: { emptyDir: {} } }],
              },
            },
            strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: { type: 1, strVal: "25%" } } },
          },
        }),
      );
      await client.put(
        "/kubernetes.io/monitoring.coreos.com/prometheusrules/clusters/alerts",
        JSON.stringify({
          apiVersion: "monitoring.coreos.com/v1",
          kind: "PrometheusRule",
          metadata: { name: "alerts", namespace: "clusters", uid: "u-1", creationTimestamp: "2026-01-01T00:00:00Z" },
          spec: { groups: [{ name: "g", rules: [{ alert: "Down", expr: "up == 0" }] }] },
        }),
      );
    } finally {
      client.close();
    }
    snapshot = join(dir, "snap.db");
    await etcdctl(etcd, ["snapshot", "save", snapshot]);
    // A backup of the same data with both keys sealed beside it, as `backup hosted --key-recipient` leaves them.
    ref = await backupToLocalStore(etcd, join(dir, "store"));
    const identity = await generateIdentity();
    const recipient = await identityToRecipient(identity);
    await writeFile(join(ref, "encryption-key.age"), await sealKey(active, [recipient]));
    await writeFile(join(ref, "encryption-key-backup.age"), await sealKey(backup, [recipient]));
    identityFile = join(dir, "identity.txt");
    await writeFile(identityFile, `${identity}\n`, { mode: 0o600 });
    keyFile = join(dir, "active.key");
    await writeFile(keyFile, active, { mode: 0o600 });
    config = join(dir, "encryption-config.yaml");
    await writeFile(
      config,
      yaml.dump({
        apiVersion: "apiserver.config.k8s.io/v1",
        kind: "EncryptionConfiguration",
        resources: [
          {
            resources: ["secrets"],
            providers: [
              {
                aescbc: {
                  keys: [
                    { name: aescbcKeyName(active), secret: active.toString("base64") },
                    { name: aescbcKeyName(backup), secret: backup.toString("base64") },
                  ],
                },
              },
              { identity: {} },
            ],
          },
        ],
      }),
      { mode: 0o600 },
    );
  });
  after(async () => {
    await etcd?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("prints one Secret decrypted with the raw key, ready to apply (no server-set fields)", async () => {
    const r = await runCli(["get", snapshot, "secrets", "pull", "-n", "clusters", "--key-file", keyFile, "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "pull", namespace: "clusters", labels: { app: "orion" } },
      data: { password: Buffer.from("hunter2").toString("base64") },
      type: "Opaque",
    });
  });

  it("--raw keeps uid, creationTimestamp and managedFields and reports the key's mod revision", async () => {
    const r = await runCli([
      "get",
      snapshot,
      "secrets",
      "pull",
      "-n",
      "clusters",
      "--key-file",
      keyFile,
      "-o",
      "json",
      "--raw",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const m = JSON.parse(r.stdout).metadata;
    assert.equal(m.uid, "uid-pull");
    assert.equal(m.creationTimestamp, "2026-01-01T00:00:00Z");
    assert.equal(m.managedFields[0].manager, "kubectl");
    const revision = JSON.parse(await etcdctl(etcd, ["get", "/kubernetes.io/secrets/clusters/pull", "-w", "json"]))
      .kvs[0].mod_revision;
    assert.equal(m.resourceVersion, String(revision));
  });

  it("lists a namespace's Secrets under both keys with the EncryptionConfiguration; deleted ones are gone", async () => {
    const r = await runCli(["get", snapshot, "secrets", "-n", "clusters", "--encryption-config", config, "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    const list = JSON.parse(r.stdout);
    assert.equal(list.kind, "List");
    assert.deepEqual(
      list.items.map((i: { metadata: { name: string }; data: { password: string } }) => [
        i.metadata.name,
        Buffer.from(i.data.password, "base64").toString(),
      ]),
      [
        ["old", "from-the-old-key"],
        ["pull", "hunter2"],
      ],
    );
  });

  it("a Secret under a key not given names that key and exits 1, printing nothing", async () => {
    const r = await runCli(["get", snapshot, "secrets", "old", "-n", "clusters", "--key-file", keyFile]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, new RegExp(`aescbc key ${aescbcKeyName(backup)}`));
    assert.doesNotMatch(r.stderr, /at .*\.js/);
  });

  it("decodes a Deployment (quantities, int-or-string, empty volume sources) and a JSON custom resource", async () => {
    const d = await runCli(["get", snapshot, "deployments.apps", "web", "-n", "clusters", "-o", "json"]);
    assert.equal(d.code, 0, d.stderr);
    const dep = JSON.parse(d.stdout);
    assert.equal(dep.apiVersion, "apps/v1");
    assert.equal(dep.spec.replicas, 0);
    assert.equal(dep.spec.template.spec.containers[0].resources.limits.memory, "128Mi");
    assert.equal(dep.spec.strategy.rollingUpdate.maxSurge, "25%");
    assert.deepEqual(dep.spec.template.spec.volumes, [{ name: "tmp", emptyDir: {} }]);
    const c = await runCli(["get", snapshot, "prometheusrules.monitoring.coreos.com", "-n", "clusters", "-o", "json"]);
    assert.equal(c.code, 0, c.stderr);
    const items = JSON.parse(c.stdout).items;
    assert.equal(items.length, 1);
    assert.equal(items[0].metadata.uid, undefined);
    assert.equal(items[0].spec.groups[0].rules[0].expr, "up == 0");
  });

  it("an empty namespace is an empty List (exit 0); a missing object or unknown resource is one line, non-zero", async () => {
    const empty = await runCli(["get", snapshot, "configmaps", "-n", "nothing-here", "-o", "json"]);
    assert.equal(empty.code, 0, empty.stderr);
    assert.deepEqual(JSON.parse(empty.stdout).items, []);
    const missing = await runCli(["get", snapshot, "configmaps", "nope", "-n", "clusters"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /not found/);
    const unknown = await runCli(["get", snapshot, "widgets", "-n", "clusters"]);
    assert.equal(unknown.code, 2);
    assert.equal(unknown.stderr.trim().split("\n").length, 1);
    const notBolt = join(dir, "not-bolt.db");
    await writeFile(notBolt, "hello");
    const bad = await runCli(["get", notBolt, "secrets"]);
    assert.notEqual(bad.code, 0);
    assert.equal(bad.stdout, "");
    assert.equal(bad.stderr.trim().split("\n").length, 1);
  });

  it("real kubectl creates what get printed (YAML) on the API simulator", async () => {
    const sim = await KubeSim.start(etcd);
    const home = await mkdtemp(join(tmpdir(), "hcpeb-get-kubectl-"));
    try {
      const out = join(home, "out.yaml");
      const r = await runCli(["get", snapshot, "configmaps", "settings", "-n", "clusters"]);
      assert.equal(r.code, 0, r.stderr);
      const s = await runCli(["get", snapshot, "secrets", "pull", "-n", "clusters", "--key-file", keyFile]);
      assert.equal(s.code, 0, s.stderr);
      await writeFile(out, `${r.stdout}---\n${s.stdout}`);
      const env = { ...process.env, HOME: home, KUBECONFIG: await sim.kubeconfig() };
      const kubectl = (...args: string[]) => run(KUBECTL, [`--cache-dir=${join(home, "cache")}`, ...args], { env });
      await kubectl("create", "namespace", "clusters").catch(() => undefined);
      // The simulator serves no OpenAPI document for kubectl to validate against; the server checks the objects.
      await kubectl("create", "--validate=false", "-f", out);
      const got = JSON.parse((await kubectl("get", "secret", "pull", "-n", "clusters", "-o", "json")).stdout);
      assert.equal(Buffer.from(got.data.password, "base64").toString(), "hunter2");
      const cm = JSON.parse((await kubectl("get", "configmap", "settings", "-n", "clusters", "-o", "json")).stdout);
      assert.deepEqual(cm.data, { mode: "fast" });
    } finally {
      await sim.stop();
      await rm(home, { recursive: true, force: true });
    }
  });

  it("get reads a backup ref with the keys it saved (--key-identity); a KMS value says it needs its provider", async () => {
    const r = await runCli([
      "get",
      ref,
      "secrets",
      "old",
      "-n",
      "clusters",
      "--key-identity",
      identityFile,
      "-o",
      "json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(Buffer.from(JSON.parse(r.stdout).data.password, "base64").toString(), "from-the-old-key");
    const k = await runCli(["get", ref, "secrets", "-n", "kms-ns", "--key-identity", identityFile]);
    assert.equal(k.code, 1);
    assert.match(k.stderr, /KMS provider aws-kms/);
  });

  it("verify --key-identity proves every aescbc value opens, counts forms, and records it in the manifest", async () => {
    const r = await runCli(["verify", ref, "--key-identity", identityFile]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /decryption/);
    assert.match(r.stdout, /1 under KMS provider aws-kms \(kms-v2\), not checkable offline/);
    const manifest = JSON.parse(await readFile(join(ref, "manifest.json"), "utf8"));
    const d = manifest.verifications.at(-1).decryption;
    assert.equal(d.ok, true);
    // pull twice, old, gone, elsewhere: every stored revision of every encrypted key.
    assert.equal(d.forms.aescbc, 5);
    assert.deepEqual(d.opened, { [aescbcKeyName(active)]: 4, [aescbcKeyName(backup)]: 1 });
    assert.equal(d.kms["aws-kms (kms-v2)"], 1);
  });

  it("verify with a key that does not open everything fails (exit 3), naming the missing key, count and an etcd key", async () => {
    const r = await runCli(["verify", ref, "--key-file", keyFile]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, new RegExp(`1 value\\(s\\) encrypted with aescbc key ${aescbcKeyName(backup)}`));
    assert.match(r.stderr, /\/kubernetes.io\/secrets\/clusters\/old/);
    const manifest = JSON.parse(await readFile(join(ref, "manifest.json"), "utf8"));
    assert.equal(manifest.verifications.at(-1).ok, false);
  });

  it("verify --restore-drill with a key runs the same proof and records it in the drill's verification", async () => {
    const r = await runCli(["verify", ref, "--restore-drill", "--key-identity", identityFile, "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.ok(out.verification.checks.includes("decryption"), out.verification.checks.join(","));
    assert.ok(out.verification.checks.includes("live-keys"), out.verification.checks.join(","));
    const manifest = JSON.parse(await readFile(join(ref, "manifest.json"), "utf8"));
    const last = manifest.verifications.at(-1);
    assert.match(last.detail, /restore drill/);
    assert.deepEqual(last.decryption.opened, { [aescbcKeyName(active)]: 4, [aescbcKeyName(backup)]: 1 });
    // Only the active key: the drill fails (exit 3) on the value under the backup key, and says which.
    const partial = await runCli(["verify", ref, "--restore-drill", "--key-file", keyFile]);
    assert.equal(partial.code, 3, partial.stderr);
    assert.match(partial.stderr, new RegExp(`encrypted with aescbc key ${aescbcKeyName(backup)}`));
    const after = JSON.parse(await readFile(join(ref, "manifest.json"), "utf8")).verifications.at(-1);
    assert.equal(after.ok, false);
    assert.equal(after.decryption.ok, false);
  });

  it("a wrong identity is one line, exit 3, nothing printed", async () => {
    const other = join(dir, "other.txt");
    await writeFile(other, `${await generateIdentity()}\n`, { mode: 0o600 });
    const r = await runCli(["get", ref, "secrets", "-n", "clusters", "--key-identity", other]);
    assert.equal(r.code, 3);
    assert.equal(r.stdout, "");
    assert.equal(r.stderr.trim().split("\n").length, 1);
  });
});
