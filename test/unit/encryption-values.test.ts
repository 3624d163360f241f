import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { aescbcDecrypt, aescbcEncrypt } from "../../src/encryption/aescbc.js";
import { keyringFromEncryptionConfig, keyringFromKeyFiles } from "../../src/encryption/key-files.js";
import { hypershiftKey, Keyring } from "../../src/encryption/keyring.js";
import { openValue } from "../../src/encryption/open-value.js";
import { storageForm } from "../../src/encryption/storage-form.js";
import { UsageError } from "../../src/errors.js";
import { aescbcKeyName } from "../../src/hostedcluster/encryption-key.js";
import { decodeValue } from "../../src/kubeobjects/decode.js";
import { resolveResource } from "../../src/kubeobjects/resources.js";
import { messageType, unknownType } from "../../src/kubeobjects/schemas.js";
import { protobufValue } from "../support/kube-values.js";

const plain = protobufValue("v1", "ConfigMap", { metadata: { name: "c", namespace: "n" }, data: { a: "b" } });

describe("stored values: storage forms, aescbc, keyrings, decoding", () => {
  it("classifies every storage form kube-apiserver writes", () => {
    assert.equal(storageForm(plain).form, "protobuf");
    assert.equal(storageForm(Buffer.from(' {"kind":"X"}')).form, "json");
    const enc = storageForm(Buffer.from("k8s:enc:aescbc:v1:key-123:0123456789abcdef"));
    assert.equal(enc.form, "aescbc");
    assert.equal(enc.form === "aescbc" && enc.keyName, "key-123");
    assert.equal(enc.form === "aescbc" && enc.payload.toString(), "0123456789abcdef");
    assert.deepEqual(storageForm(Buffer.from("k8s:enc:kms:v2:aws:xxx")), { form: "kms-v2", provider: "aws" });
    assert.deepEqual(storageForm(Buffer.from("k8s:enc:kms:v1:vault:xxx")), { form: "kms-v1", provider: "vault" });
    assert.deepEqual(storageForm(Buffer.from("k8s:enc:secretbox:v1:k1:xxx")), { form: "secretbox", keyName: "k1" });
    assert.equal(storageForm(Buffer.from([0x01, 0x02])).form, "unknown");
  });

  it("names keys as HyperShift does: FNV-1 (not FNV-1a) 32-bit in decimal", () => {
    // Go: fnv.New32() of "" is the offset basis; of "a" it is 0x050c5d7e (FNV-1a would give 0xe40c292c).
    assert.equal(aescbcKeyName(Buffer.alloc(0)), "key-2166136261");
    assert.equal(aescbcKeyName(Buffer.from("a")), `key-${0x050c5d7e}`);
  });

  for (const size of [16, 24, 32]) {
    it(`aescbc with a ${size}-byte key round-trips; another key does not open it`, () => {
      const key = randomBytes(size);
      const value = aescbcEncrypt(key, aescbcKeyName(key), plain);
      const form = storageForm(value);
      assert.equal(form.form, "aescbc");
      if (form.form !== "aescbc") return;
      assert.deepEqual(aescbcDecrypt(key, form.payload), plain);
      const opened = openValue(value, new Keyring([hypershiftKey(key, "t")]));
      assert.equal(opened.ok && opened.plain.equals(plain), true);
      // The right name with the wrong bytes: damaged, never garbage handed on.
      const wrong = openValue(value, new Keyring([{ name: aescbcKeyName(key), key: randomBytes(size), source: "t" }]));
      assert.equal(wrong.ok, false);
      assert.equal(!wrong.ok && wrong.why, "damaged");
    });
  }

  it("names the key it lacks, and KMS as needing its provider", () => {
    const key = randomBytes(32);
    const r = openValue(aescbcEncrypt(key, "key-42", plain), new Keyring());
    assert.equal(!r.ok && r.why, "no-key");
    assert.match(!r.ok ? r.message : "", /key-42/);
    const k = openValue(Buffer.from("k8s:enc:kms:v2:aws-kms:abc"), undefined);
    assert.equal(!k.ok && k.why, "kms");
    assert.match(!k.ok ? k.message : "", /KMS provider aws-kms/);
  });

  it("reads raw and base64 key files and kube-apiserver's EncryptionConfiguration; rejects bad ones", async () => {
    const dir = await mkdtemp(join(tmpdir(), "hcpeb-keys-"));
    try {
      const key = randomBytes(32);
      await writeFile(join(dir, "raw"), key);
      await writeFile(join(dir, "b64"), `${key.toString("base64")}\n`);
      for (const f of ["raw", "b64"])
        assert.deepEqual((await keyringFromKeyFiles([join(dir, f)])).names, [aescbcKeyName(key)]);
      await writeFile(join(dir, "short"), "abc");
      await assert.rejects(keyringFromKeyFiles([join(dir, "short")]), UsageError);
      await writeFile(
        join(dir, "ec.yaml"),
        `apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - aescbc:\n      keys:\n      - name: key1\n        secret: ${key.toString("base64")}\n  - identity: {}\n`,
      );
      const ring = await keyringFromEncryptionConfig(join(dir, "ec.yaml"));
      assert.deepEqual(ring.get("key1")?.key, key);
      await writeFile(join(dir, "not-yaml"), "a: [b\n");
      await assert.rejects(keyringFromEncryptionConfig(join(dir, "not-yaml")), /not YAML/);
      await writeFile(
        join(dir, "identity-only"),
        "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - identity: {}\n",
      );
      await assert.rejects(keyringFromEncryptionConfig(join(dir, "identity-only")), /no aescbc provider/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a kind without a schema keeps apiVersion, kind and metadata, with a note", () => {
    // policy/v1 PodDisruptionBudget is not among the vendored schemas; its ObjectMeta is field 1 all the same.
    const cm = messageType("v1", "ConfigMap");
    assert.ok(cm);
    const raw = cm.encode(cm.fromObject({ metadata: { name: "pdb", namespace: "n" }, data: { x: "y" } })).finish();
    const u = unknownType();
    const envelope = u
      .encode(u.fromObject({ typeMeta: { apiVersion: "policy/v1", kind: "PodDisruptionBudget" }, raw }))
      .finish();
    const d = decodeValue(Buffer.concat([Buffer.from("k8s\0", "latin1"), envelope]));
    assert.equal(d.ok, true);
    if (!d.ok) return;
    assert.deepEqual(d.object, {
      apiVersion: "policy/v1",
      kind: "PodDisruptionBudget",
      metadata: { name: "pdb", namespace: "n" },
    });
    assert.match(d.note ?? "", /no schema/);
  });

  it("refuses values that are neither protobuf nor JSON, and resource names it cannot place", () => {
    assert.equal(decodeValue(Buffer.from("plain text")).ok, false);
    assert.equal(resolveResource("deployments.apps").path, "deployments");
    assert.equal(resolveResource("services").path, "services/specs");
    assert.equal(resolveResource("routes.route.openshift.io").etcdPrefix, "/openshift.io");
    assert.equal(
      resolveResource("prometheusrules.monitoring.coreos.com").path,
      "monitoring.coreos.com/prometheusrules",
    );
    assert.throws(() => resolveResource("widgets"), UsageError);
  });
});
