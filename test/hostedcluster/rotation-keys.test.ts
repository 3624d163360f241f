// A hosted cluster in the middle of an aescbc key rotation: some values are still encrypted with an
// old key that the HostedCluster no longer names, only kube-apiserver's EncryptionConfiguration
// (HyperShift's `kas-secret-encryption-config` Secret) still lists. The backup must save that key
// too, or the decryption proof (and a restore) fails on those values.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { aescbcKeyName, keyFingerprint } from "../../src/hostedcluster/encryption-key.js";
import { openKey } from "../../src/hostedcluster/key-envelope.js";
import { resourceByKind } from "../../src/kubesim/resources.js";
import { encryptionConfiguration } from "../../src/kubesim/seed.js";
import { runCli } from "../support/cli.js";
import { type HostedLab, startHostedLab } from "../support/hosted.js";
import { encrypted, protobufValue } from "../support/kube-values.js";

const CONFIG_SECRET = "kas-secret-encryption-config";

interface Manifest {
  encryption: { secretNames: string[]; keys: Array<{ fingerprint: string; keyName: string }> };
  verifications: Array<{ ok: boolean; decryption?: { ok: boolean; opened: Record<string, number> } }>;
}

describe("backup of a cluster mid-rotation: keys only the EncryptionConfiguration lists are saved and used", () => {
  let lab: HostedLab;
  let kube: string[];
  let identity: string;
  let identityFile: string;
  const old = randomBytes(32);
  let active: Buffer;

  const secretValue = (name: string) =>
    protobufValue("v1", "Secret", {
      metadata: { name, namespace: "app", uid: `uid-${name}` },
      data: { token: Buffer.from(`value-of-${name}`) },
      type: "Opaque",
    });

  /** Sets the control plane's EncryptionConfiguration Secret to list these keys (write key first). */
  const listKeys = (keys: Buffer[]) => {
    const rt = resourceByKind("Secret");
    const s = structuredClone(lab.sim.store.mustGet(rt, "clusters-example", CONFIG_SECRET));
    s.data = { "config.yaml": Buffer.from(encryptionConfiguration(keys)).toString("base64") };
    delete (s.metadata as Record<string, unknown>).resourceVersion;
    lab.sim.store.update(rt, s);
  };

  const backup = async (to: string) => {
    const r = await runCli([
      "backup",
      "example",
      ...kube,
      "--to",
      join(lab.work, to),
      "--key-recipient",
      await identityToRecipient(identity),
      "--mode",
      "online",
      "-o",
      "json",
      "--log-level",
      "debug",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const ref = (JSON.parse(r.stdout) as { ref: string }).ref;
    return {
      ref,
      stderr: r.stderr,
      manifest: JSON.parse(readFileSync(join(ref, "manifest.json"), "utf8")) as Manifest,
    };
  };

  before(async () => {
    lab = await startHostedLab({ dataBytes: 256 * 1024, etcd: { members: 1 } });
    kube = ["-n", "clusters", "--kubeconfig", lab.kubeconfig];
    active = lab.sim.hostedCluster.encryptionKey;
    identity = await generateIdentity();
    identityFile = join(lab.work, "identity.txt");
    await writeFile(identityFile, `${identity}\n`, { mode: 0o600 });
    const client = await lab.etcd.client(0);
    try {
      // Written before the rotation began: still under the old key, which the HostedCluster no longer names.
      await client.put("/kubernetes.io/secrets/app/before", encrypted(old, secretValue("before")));
      await client.put("/kubernetes.io/secrets/app/after", encrypted(active, secretValue("after")));
    } finally {
      client.close();
    }
  });
  after(async () => {
    await lab?.stop();
  });

  it("the seeded control plane lists the active key, as HyperShift renders it", () => {
    const s = lab.sim.store.mustGet(resourceByKind("Secret"), "clusters-example", CONFIG_SECRET);
    const config = Buffer.from((s.data as Record<string, string>)["config.yaml"] ?? "", "base64").toString();
    assert.match(config, new RegExp(`name: ${aescbcKeyName(active)}`));
    assert.match(config, /kind: EncryptionConfiguration/);
  });

  it("saves the listed old key, records it, and verify --key-identity opens every value (and fails without it)", async () => {
    listKeys([active, old]);
    const { ref, manifest } = await backup("rotating");
    const listedFile = `encryption-key-listed-${aescbcKeyName(old)}.age`;
    assert.ok(readdirSync(ref).includes(listedFile), readdirSync(ref).join(", "));
    assert.deepEqual(Buffer.from(await openKey(readFileSync(join(ref, listedFile)), identity)), old);
    assert.deepEqual(manifest.encryption.secretNames, [
      "clusters/example-etcd-encryption-key",
      `clusters-example/${CONFIG_SECRET}`,
    ]);
    assert.deepEqual(manifest.encryption.keys, [
      { fingerprint: keyFingerprint(active), keyName: aescbcKeyName(active) },
      { fingerprint: keyFingerprint(old), keyName: aescbcKeyName(old) },
    ]);

    const v = await runCli(["verify", ref, "--key-identity", identityFile]);
    assert.equal(v.code, 0, v.stderr);
    const proof = (JSON.parse(readFileSync(join(ref, "manifest.json"), "utf8")) as Manifest).verifications.at(-1);
    assert.equal(proof?.decryption?.ok, true);
    assert.equal(proof?.decryption?.opened[aescbcKeyName(old)], 1);
    assert.equal(proof?.decryption?.opened[aescbcKeyName(active)], 1);

    // The restore drill opens the values with the same saved keys.
    const d = await runCli(["verify", ref, "--restore-drill", "--key-identity", identityFile, "-o", "json"]);
    assert.equal(d.code, 0, d.stderr);
    const drilled = (JSON.parse(readFileSync(join(ref, "manifest.json"), "utf8")) as Manifest).verifications.at(-1);
    assert.equal(drilled?.decryption?.opened[aescbcKeyName(old)], 1);

    // What a backup without the listed key is: the proof names the old key and the value it cannot open.
    await rm(join(ref, listedFile));
    const without = await runCli(["verify", ref, "--key-identity", identityFile]);
    assert.equal(without.code, 3, without.stderr);
    assert.match(without.stderr, new RegExp(`1 value\\(s\\) encrypted with aescbc key ${aescbcKeyName(old)}`));
    assert.match(without.stderr, /\/kubernetes.io\/secrets\/app\/before/);
  });

  it("--key-to: each key a raw file (the listed one under its name); verify takes them all as repeated --key-file", async () => {
    listKeys([active, old]);
    const keys = join(lab.work, "raw-keys");
    const r = await runCli([
      "backup",
      "example",
      ...kube,
      "--to",
      join(lab.work, "rotating-raw"),
      "--key-to",
      keys,
      "--mode",
      "online",
      "-o",
      "json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { ref: string; backupId: string };
    const dir = join(keys, "clusters", "example", out.backupId);
    const listed = join(dir, `encryption-key-listed-${aescbcKeyName(old)}`);
    assert.deepEqual(readFileSync(listed), old);
    const both = await runCli(["verify", out.ref, "--key-file", join(dir, "encryption-key"), "--key-file", listed]);
    assert.equal(both.code, 0, both.stderr);
    const one = await runCli(["verify", out.ref, "--key-file", join(dir, "encryption-key")]);
    assert.equal(one.code, 3, one.stderr);
    assert.match(one.stderr, new RegExp(`encrypted with aescbc key ${aescbcKeyName(old)}`));
  });

  it("a key both the HostedCluster and the configuration name is saved once", async () => {
    listKeys([active]);
    const { ref, manifest } = await backup("steady");
    assert.deepEqual(
      readdirSync(ref).filter((f) => f.startsWith("encryption-key")),
      ["encryption-key.age"],
    );
    assert.deepEqual(manifest.encryption.secretNames, ["clusters/example-etcd-encryption-key"]);
    assert.equal(manifest.encryption.keys.length, 1);
  });

  it("no EncryptionConfiguration Secret (older HyperShift): not an error, said at debug, the named keys saved", async () => {
    const rt = resourceByKind("Secret");
    const saved = lab.sim.store.mustGet(rt, "clusters-example", CONFIG_SECRET);
    lab.sim.store.delete(rt, "clusters-example", CONFIG_SECRET);
    try {
      const { ref, stderr, manifest } = await backup("older");
      assert.match(stderr, /no EncryptionConfiguration Secret \(older HyperShift\)/);
      assert.doesNotMatch(stderr, /^\S+ (warn|error) /m);
      assert.equal(manifest.encryption.keys.length, 1);
      assert.ok(readdirSync(ref).includes("encryption-key.age"));
    } finally {
      const back = structuredClone(saved);
      delete (back.metadata as Record<string, unknown>).resourceVersion;
      lab.sim.store.create(rt, back, new Date());
    }
  });
});
