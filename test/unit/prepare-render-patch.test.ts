import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { UsageError } from "../../src/errors.js";
import { admit } from "../../src/kubesim/admission.js";
import type { JsonObject } from "../../src/kubesim/json.js";
import { resourceByKind } from "../../src/kubesim/resources.js";
import { patchRendered } from "../../src/restore/prepare/render-patch.js";
import { parseRendered } from "../../src/restore/prepare/rendered.js";
import { assertOnlyChanged, docsOf, get, type Obj } from "../support/rendered-docs.js";

const fixture = (name: string) => readFileSync(new URL(`../fixtures/rendered/${name}`, import.meta.url), "utf8");
const URL_ =
  "https://s3.us-east-1.amazonaws.com/backups/clusters/example/20261130T120000Z-r42-abcdef/snapshot.db?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F20261130%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261130T120000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=0123456789abcdef";

describe("restore prepare: patching the rendered manifests", () => {
  it("unpatched, the documents print back byte for byte (Go's sequence style kept)", () => {
    for (const f of ["example-aescbc.yaml", "example-kms.yaml"]) {
      const text = fixture(f);
      const r = parseRendered(text, f);
      assert.equal(r.format.indentSeq, false);
      assert.equal(patchRendered(r, { restoreSnapshotURL: URL_ }).text.includes("# Reviewed by the on-call SRE"), true);
    }
  });

  it("changes only the intended fields of an aescbc render; every other document and field and every comment survive", () => {
    const text = fixture("example-aescbc.yaml");
    const key = randomBytes(32);
    const out = patchRendered(parseRendered(text, "f"), { restoreSnapshotURL: URL_, pvSize: "12Gi", key });
    const after = assertOnlyChanged(text, out.text, {
      "Secret/example-etcd-encryption-key": ["data.key"],
      "HostedCluster/example": [
        "spec.etcd.managed.storage.restoreSnapshotURL",
        "spec.etcd.managed.storage.persistentVolume.size",
      ],
    });
    assert.deepEqual(
      after.map((d) => d.kind),
      ["Namespace", "Secret", "Secret", "Secret", "HostedCluster", "NodePool"],
    );
    const hc = after[4] as Obj;
    assert.deepEqual(get(hc, "spec.etcd.managed.storage.restoreSnapshotURL"), [URL_]);
    assert.equal(get(hc, "spec.etcd.managed.storage.persistentVolume.size"), "12Gi");
    assert.equal(get(hc, "spec.etcd.managementType"), "Managed");
    assert.equal(get(hc, "spec.etcd.managed.storage.type"), "PersistentVolume");
    assert.equal(Buffer.from(get(after[3], "data.key") as string, "base64").equals(key), true);
    // Comments: the header, one before a key, one after a value.
    for (const c of [
      "# Reviewed by the on-call SRE before the restore; keep these notes.",
      "  # etcd: the restore adds restoreSnapshotURL below",
      "# fresh random key from the render: must become the saved one",
    ])
      assert.ok(out.text.includes(c), `comment lost: ${c}`);
    assert.ok(out.text.startsWith("# Rendered with:\n"));
    assert.ok(out.text.endsWith("---\n"));
    // The report names what changed and never shows the URL or the key.
    assert.deepEqual(
      out.changes.map((c) => c.path),
      ["spec.etcd.managed.storage.persistentVolume.size", "spec.etcd.managed.storage.restoreSnapshotURL", "data.key"],
    );
    const shown = JSON.stringify(out.changes);
    assert.ok(!shown.includes("X-Amz-Signature") && !shown.includes(key.toString("base64")));
    // Outside the patched lines the text is as rendered: the diff is the URL lines, the size and the key.
    const diff = lineDiff(text, out.text);
    assert.deepEqual(
      diff.removed.map((l) => l.trim().split(":")[0]),
      ["key", "size"],
    );
    assert.deepEqual(
      diff.added.map((l) => l.trim().split(":")[0]),
      ["key", "size", "restoreSnapshotURL", `- https`],
    );
  });

  it("the patched HostedCluster and NodePool pass the real CRDs' schema and the CEL rules (strict, as kube-apiserver with fieldValidation=Strict)", () => {
    const out = patchRendered(parseRendered(fixture("example-aescbc.yaml"), "f"), {
      restoreSnapshotURL: URL_,
      key: randomBytes(32),
      backupKey: { key: randomBytes(32), secretName: "example-etcd-encryption-key-backup" },
    });
    for (const d of docsOf(out.text)) {
      if (d.kind !== "HostedCluster" && d.kind !== "NodePool" && d.kind !== "Secret") continue;
      const obj = structuredClone(d) as JsonObject;
      delete obj.status;
      assert.doesNotThrow(() => admit(resourceByKind(String(d.kind)), obj, undefined, { strict: true }));
    }
    // And the simulator would refuse a URL over the CRD's 1024 characters: the check is real.
    const long = patchRendered(parseRendered(fixture("example-aescbc.yaml"), "f"), {
      restoreSnapshotURL: `${URL_}&x=${"a".repeat(1024)}`,
    });
    const hc = docsOf(long.text).find((d) => d.kind === "HostedCluster") as JsonObject;
    delete hc.status;
    assert.throws(() => admit(resourceByKind("HostedCluster"), hc, undefined, { strict: true }), /1024/);
  });

  it("a second key: backupKey set on the HostedCluster, its Secret added before it (or the rendered one patched)", () => {
    const text = fixture("example-aescbc.yaml");
    const backup = randomBytes(32);
    const added = patchRendered(parseRendered(text, "f"), {
      restoreSnapshotURL: URL_,
      key: randomBytes(32),
      backupKey: { key: backup, secretName: "example-etcd-encryption-key-backup" },
    });
    const after = assertOnlyChanged(text, added.text, {
      "Secret/example-etcd-encryption-key": ["data.key"],
      "HostedCluster/example": [
        "spec.etcd.managed.storage.restoreSnapshotURL",
        "spec.secretEncryption.aescbc.backupKey",
      ],
      "Secret/example-etcd-encryption-key-backup": ["(added)"],
    });
    const names = after.map((d) => `${d.kind}/${get(d, "metadata.name")}`);
    const at = names.indexOf("Secret/example-etcd-encryption-key-backup");
    assert.equal(names[at + 1], "HostedCluster/example");
    assert.deepEqual(after[at], {
      apiVersion: "v1",
      data: { key: backup.toString("base64") },
      kind: "Secret",
      metadata: { name: "example-etcd-encryption-key-backup", namespace: "clusters" },
      type: "Opaque",
    });
    assert.ok(!JSON.stringify(added.changes).includes(backup.toString("base64")), "the report never shows the key");

    // A render that already names a backup key: its Secret is patched in place, nothing added.
    const named = text
      .replace(
        "      activeKey:\n        name: example-etcd-encryption-key\n",
        (m) => `${m}      backupKey:\n        name: example-old-key\n`,
      )
      .replace(
        /---\napiVersion: hypershift.openshift.io\/v1beta1\nkind: HostedCluster/,
        (m) =>
          `---\napiVersion: v1\ndata:\n  key: ${randomBytes(32).toString("base64")}\nkind: Secret\nmetadata:\n  name: example-old-key\n  namespace: clusters\ntype: Opaque\n${m}`,
      );
    assert.notEqual(named, text);
    const patched = patchRendered(parseRendered(named, "f"), {
      restoreSnapshotURL: URL_,
      backupKey: { key: backup, secretName: "example-old-key" },
    });
    const docs = assertOnlyChanged(named, patched.text, {
      "Secret/example-old-key": ["data.key"],
      "HostedCluster/example": ["spec.etcd.managed.storage.restoreSnapshotURL"],
    });
    const old = docs.find((d) => get(d, "metadata.name") === "example-old-key");
    assert.deepEqual(Buffer.from(get(old, "data.key") as string, "base64"), backup);
  });

  it("kms render: the URL only, no Secret touched; an existing URL is replaced, a stringData key removed", () => {
    const r = parseRendered(fixture("example-kms.yaml"), "kms");
    assert.equal(r.hostedCluster.encryption.type, "kms");
    assert.equal(r.keySecret, undefined);
    const out = patchRendered(r, { restoreSnapshotURL: URL_ });
    assert.deepEqual(
      out.changes.map((c) => c.path),
      ["spec.etcd.managed.storage.restoreSnapshotURL"],
    );
    const again = patchRendered(parseRendered(out.text, "again"), { restoreSnapshotURL: `${URL_}x` });
    assert.deepEqual(
      get(
        docsOf(again.text).find((d) => d.kind === "HostedCluster"),
        "spec.etcd.managed.storage.restoreSnapshotURL",
      ),
      [`${URL_}x`],
    );
    const withStringData = fixture("example-aescbc.yaml").replace(
      "type: Opaque\n",
      "stringData:\n  key: not-the-saved-key\ntype: Opaque\n",
    );
    const key = randomBytes(32);
    const patched = patchRendered(parseRendered(withStringData, "sd"), { restoreSnapshotURL: URL_, key });
    const secret = docsOf(patched.text).find((d) => get(d, "metadata.name") === "example-etcd-encryption-key");
    assert.equal(get(secret, "stringData"), undefined, "stringData.key would override data.key on the server");
    assert.equal(Buffer.from(get(secret, "data.key") as string, "base64").equals(key), true);
  });

  it("reads the facts the checks need, and refuses what it cannot patch with one line", () => {
    const r = parseRendered(fixture("example-aescbc.yaml"), "f");
    assert.deepEqual(
      {
        ns: r.hostedCluster.namespace,
        name: r.hostedCluster.name,
        policy: r.hostedCluster.availabilityPolicy,
        size: r.hostedCluster.pvSize,
        enc: r.hostedCluster.encryption,
        secret: r.keySecret?.name,
      },
      {
        ns: "clusters",
        name: "example",
        policy: "SingleReplica",
        size: "8Gi",
        enc: { type: "aescbc", activeKeySecret: "example-etcd-encryption-key" },
        secret: "example-etcd-encryption-key",
      },
    );
    assert.throws(
      () => parseRendered("kind: Namespace\nmetadata:\n  name: clusters\n", "ns.yaml"),
      (e: Error) => e instanceof UsageError && /0 HostedClusters/.test(e.message),
    );
    assert.throws(
      () => parseRendered("a: [\n", "bad.yaml"),
      (e: Error) => e instanceof UsageError && /bad.yaml is not valid YAML/.test(e.message),
    );
    assert.throws(
      () => parseRendered(`${fixture("example-kms.yaml")}just: a map\n`, "extra.yaml"),
      /document 6 of extra.yaml is not a Kubernetes object/,
    );
    const two = `${fixture("example-kms.yaml")}${fixture("example-kms.yaml")}`;
    assert.throws(() => parseRendered(two, "two.yaml"), /2 HostedClusters/);
  });
});

function lineDiff(a: string, b: string): { removed: string[]; added: string[] } {
  const left = a.split("\n");
  const right = b.split("\n");
  const count = (xs: string[]) => xs.reduce((m, x) => m.set(x, (m.get(x) ?? 0) + 1), new Map<string, number>());
  const l = count(left);
  const r = count(right);
  return {
    removed: left.filter((x) => (r.get(x) ?? 0) < (l.get(x) ?? 0)),
    added: right.filter((x) => (l.get(x) ?? 0) < (r.get(x) ?? 0)),
  };
}
