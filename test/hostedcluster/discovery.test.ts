import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { openKey } from "../../src/hostedcluster/key-envelope.js";
import { resourceByKind } from "../../src/kubesim/resources.js";
import { runCli } from "../support/cli.js";
import { clusterState, duringKeyRotation, type HostedLab, ORIGINAL_STATE, startHostedLab } from "../support/hosted.js";

describe("hosted-cluster backup: discovery errors, key destinations, members, endpoints, secrets", () => {
  let lab: HostedLab;
  let kube: string[];
  let recipient: string;
  const transcripts: Array<{ what: string; stdout: string; stderr: string }> = [];

  before(async () => {
    lab = await startHostedLab();
    kube = ["-n", "clusters", "--kubeconfig", lab.kubeconfig];
    recipient = await identityToRecipient(await generateIdentity());
  });
  after(async () => {
    await lab?.stop();
  });
  afterEach(async () => {
    await runCli(["resume", "example", ...kube]);
  });

  const run = async (what: string, args: string[]) => {
    const r = await runCli([...args, "--log-level", "debug"]);
    transcripts.push({ what, stdout: r.stdout, stderr: r.stderr });
    return r;
  };

  /** Takes an object out of (or changes it in) the simulator's store for one test, then puts it back. */
  async function without(
    kind: string,
    ns: string,
    name: string,
    change: "delete" | ((o: Record<string, unknown>) => void),
    body: () => Promise<void>,
  ) {
    const rt = resourceByKind(kind);
    const saved = lab.sim.store.mustGet(rt, ns, name);
    if (change === "delete") lab.sim.store.delete(rt, ns, name);
    else {
      const copy = structuredClone(saved);
      change(copy);
      lab.sim.store.update(rt, copy);
    }
    try {
      await body();
    } finally {
      if (change === "delete") lab.sim.store.create(rt, saved, new Date());
      else {
        // Without a resourceVersion the update is unconditional: the test's change is undone whatever happened since.
        const back = structuredClone(saved);
        delete (back.metadata as Record<string, unknown>).resourceVersion;
        lab.sim.store.update(rt, back);
      }
    }
  }

  const expectRefused = async (
    what: string,
    code: number,
    re: RegExp,
    extra: string[] = ["--key-recipient", recipient],
  ) => {
    const r = await run(what, ["backup", "example", ...kube, "--to", join(lab.work, "refused"), ...extra]);
    assert.equal(r.code, code, r.stderr);
    const lines = r.stderr
      .trimEnd()
      .split("\n")
      .filter((l) => l.startsWith("hcp-etcd-backup:"));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0] ?? "", re);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    assert.deepEqual(await clusterState(lab), ORIGINAL_STATE, "nothing changed");
  };

  it("one line for each missing piece, before any change", async () => {
    const nf = await run("not found", ["backup", "nope", ...kube, "--to", join(lab.work, "x"), "--no-key"]);
    assert.equal(nf.code, 2);
    assert.match(
      nf.stderr,
      /hosted cluster clusters\/nope not found \(kubectl get hostedclusters -n clusters lists them\)/,
    );
    await without(
      "HostedCluster",
      "clusters",
      "example",
      (o) => {
        (o.spec as { etcd: { managementType: string } }).etcd.managementType = "Unmanaged";
      },
      () => expectRefused("unmanaged", 2, /etcd of clusters\/example is Unmanaged/),
    );
    await without(
      "StatefulSet",
      "clusters-example",
      "etcd",
      (o) => {
        (o.status as { readyReplicas: number }).readyReplicas = 2;
      },
      () =>
        expectRefused(
          "not ready",
          1,
          /etcd of clusters\/example is not ready \(2\/3 members ready in clusters-example\)/,
        ),
    );
    await without("ConfigMap", "clusters-example", "etcd-ca", "delete", () =>
      expectRefused("no ca", 1, /no ConfigMap clusters-example\/etcd-ca \(etcd's CA\)/),
    );
    await without("Secret", "clusters-example", "etcd-client-tls", "delete", () =>
      expectRefused("no client cert", 1, /no Secret clusters-example\/etcd-client-tls \(etcd's client certificate\)/),
    );
    await without("Secret", "clusters", "example-etcd-encryption-key", "delete", () =>
      expectRefused(
        "no key",
        1,
        /active encryption key Secret clusters\/example-etcd-encryption-key is missing or unreadable.*--no-key/,
      ),
    );
    const badKube = await run("bad kubeconfig", [
      "backup",
      "example",
      "-n",
      "clusters",
      "--kubeconfig",
      "/nope",
      "--to",
      "x",
      "--no-key",
    ]);
    assert.equal(badKube.code, 2);
    assert.match(badKube.stderr, /cannot load the kubeconfig \/nope/);
  });

  it("--key-to DIR saves the raw key 0600 beside nothing else; --all-members keeps one snapshot per member", async () => {
    const keys = join(lab.work, "keys");
    const store = join(lab.work, "members");
    const r = await run("key-to", [
      "backup",
      "example",
      ...kube,
      "--to",
      store,
      "--key-to",
      keys,
      "--all-members",
      "-o",
      "json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { ref: string; backupId: string };
    const keyFile = join(keys, "clusters", "example", out.backupId, "encryption-key");
    assert.deepEqual(readFileSync(keyFile), lab.sim.hostedCluster.encryptionKey);
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    const manifest = JSON.parse(readFileSync(join(out.ref, "manifest.json"), "utf8"));
    assert.equal(manifest.memberSnapshots.length, 2);
    assert.equal(
      new Set([
        manifest.snapshot.revision,
        ...manifest.memberSnapshots.map((m: { snapshot: { revision: number } }) => m.snapshot.revision),
      ]).size,
      1,
    );
    assert.equal(readdirSync(out.ref).filter((f) => f.endsWith(".db")).length, 3);
    assert.equal(manifest.encryption.object, undefined, "the key is not in the backup folder");
    assert.deepEqual(await clusterState(lab), ORIGINAL_STATE);
  });

  it("a backup key (key rotation) is saved and fingerprinted beside the active one", async () => {
    const backupKey = Buffer.alloc(32, 7);
    await duringKeyRotation(lab, "example-etcd-encryption-key-old", backupKey, async () => {
      const identity = await generateIdentity();
      const r = await run("backup key", [
        "backup",
        "example",
        ...kube,
        "--to",
        join(lab.work, "rotated"),
        "--key-recipient",
        await identityToRecipient(identity),
        "--mode",
        "online",
        "-o",
        "json",
      ]);
      assert.equal(r.code, 0, r.stderr);
      const ref = (JSON.parse(r.stdout) as { ref: string }).ref;
      const manifest = JSON.parse(readFileSync(join(ref, "manifest.json"), "utf8"));
      assert.deepEqual(manifest.encryption.secretNames, [
        "clusters/example-etcd-encryption-key",
        "clusters/example-etcd-encryption-key-old",
      ]);
      assert.equal(manifest.encryption.keys.length, 2);
      assert.deepEqual(
        Buffer.from(await openKey(readFileSync(join(ref, "encryption-key-backup.age")), identity)),
        backupKey,
      );
      assert.deepEqual(
        Buffer.from(await openKey(readFileSync(join(ref, "encryption-key.age")), identity)),
        lab.sim.hostedCluster.encryptionKey,
      );
    });
  });

  it("kms: the manifest records the KMS key (ARN, region); no key file is written", async () => {
    await without(
      "HostedCluster",
      "clusters",
      "example",
      (o) => {
        (o.spec as Record<string, unknown>).secretEncryption = {
          type: "kms",
          kms: {
            provider: "AWS",
            aws: {
              activeKey: { arn: "arn:aws:kms:us-east-1:123456789012:key/abcd" },
              region: "us-east-1",
              auth: { awsKms: "arn:aws:iam::123456789012:role/kms" },
            },
          },
        };
      },
      async () => {
        const r = await run("kms", [
          "backup",
          "example",
          ...kube,
          "--to",
          join(lab.work, "kms"),
          "--mode",
          "online",
          "-o",
          "json",
        ]);
        assert.equal(r.code, 0, r.stderr);
        const ref = (JSON.parse(r.stdout) as { ref: string }).ref;
        const manifest = JSON.parse(readFileSync(join(ref, "manifest.json"), "utf8"));
        assert.deepEqual(manifest.encryption, {
          type: "kms",
          secretNames: [],
          keys: [],
          kms: { arn: "arn:aws:kms:us-east-1:123456789012:key/abcd", region: "us-east-1" },
        });
        assert.deepEqual(readdirSync(ref).sort(), ["manifest.json", "snapshot.db"]);
      },
    );
  });

  it("two backups started together: one takes the lock, the other is refused before changing anything", async () => {
    const [a, b] = await Promise.all([
      run("race a", ["backup", "example", ...kube, "--to", join(lab.work, "race"), "--key-recipient", recipient]),
      run("race b", ["backup", "example", ...kube, "--to", join(lab.work, "race"), "--key-recipient", recipient]),
    ]);
    const codes = [a.code, b.code].sort();
    assert.deepEqual(codes, [0, 1], `${a.stderr}\n${b.stderr}`);
    const loser = a.code === 1 ? a : b;
    assert.match(loser.stderr, /another backup of clusters\/example is running/);
    assert.deepEqual(await clusterState(lab), ORIGINAL_STATE);
    const listed = await runCli(["list", "--from", join(lab.work, "race"), "-o", "json"]);
    assert.equal((JSON.parse(listed.stdout) as unknown[]).length, 1);
  });

  it("credentials like kubectl: KUBECONFIG without --kubeconfig; a missing --context is one line", async () => {
    const viaEnv = await runCli(
      ["backup", "example", "-n", "clusters", "--to", join(lab.work, "env"), "--no-key", "--dry-run"],
      {
        env: { KUBECONFIG: lab.kubeconfig },
      },
    );
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    assert.match(viaEnv.stdout, /plan for clusters\/example/);
    const badContext = await run("bad context", [
      "backup",
      "example",
      ...kube,
      "--context",
      "nope",
      "--to",
      "x",
      "--no-key",
    ]);
    assert.equal(badContext.code, 2);
    assert.match(badContext.stderr, /no context "nope" in the kubeconfig; it has: /);
    const nothing = await runCli(["resume", "example", "-n", "clusters"], { env: { KUBECONFIG: "", HOME: lab.work } });
    assert.equal(nothing.code, 2);
    assert.match(nothing.stderr, /no Kubernetes credentials: pass --kubeconfig FILE, set KUBECONFIG, or run in a pod/);
  });

  it("--endpoints reaches etcd directly, TLS still from the cluster's Secrets", async () => {
    const r = await run("endpoints", [
      "backup",
      "example",
      ...kube,
      "--to",
      join(lab.work, "direct"),
      "--key-recipient",
      recipient,
      "--endpoints",
      lab.etcd.endpoints.join(","),
      "-o",
      "json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { etcdAccess: string }).etcdAccess, "endpoints");
  });

  it("no key bytes (raw or base64) and no bearer token in any output above", () => {
    assert.ok(transcripts.length >= 9);
    const key = lab.sim.hostedCluster.encryptionKey;
    const secrets = [key.toString("base64"), key.toString("hex"), key.toString("latin1"), lab.sim.token];
    for (const t of transcripts)
      for (const s of secrets) assert.ok(!t.stdout.includes(s) && !t.stderr.includes(s), `${t.what} leaked a secret`);
  });
});
