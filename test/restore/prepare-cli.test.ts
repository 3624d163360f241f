import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { KubernetesObjectApi } from "@kubernetes/client-node";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { sealKey } from "../../src/hostedcluster/key-envelope.js";
import { loadKubeConfig } from "../../src/hostedcluster/kube.js";
import { MANIFEST_FILE, type Manifest, SNAPSHOT_FILE } from "../../src/store/manifest.js";
import { openStore } from "../../src/store/open-store.js";
import type { S3Store } from "../../src/store/s3-store.js";
import { runCli } from "../support/cli.js";
import { duringKeyRotation, type HostedLab, startHostedLab } from "../support/hosted.js";
import { download } from "../support/https-get.js";
import { assertOnlyChanged, docsOf, get, type Obj } from "../support/rendered-docs.js";
import { S3Server } from "../support/s3-server.js";

const FIXTURE = new URL("../fixtures/rendered/example-aescbc.yaml", import.meta.url).pathname;
const KMS_FIXTURE = new URL("../fixtures/rendered/example-kms.yaml", import.meta.url).pathname;
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

const urlIn = (yamlText: string) =>
  (
    get(
      docsOf(yamlText).find((d) => d.kind === "HostedCluster"),
      "spec.etcd.managed.storage.restoreSnapshotURL",
    ) as string[]
  )[0] as string;

describe("restore prepare (real Ceph RGW over HTTPS, Kubernetes API simulator, real 3-member etcd)", () => {
  let lab: HostedLab;
  let s3: S3Server;
  let env: NodeJS.ProcessEnv;
  let s3Flags: string[];
  let ref: string;
  let identityFile: string;
  let recipient: string;
  let ca: Buffer;

  /** An online backup of the lab's cluster into `s3://<bucket>/<prefix>`, its key saved as `keyFlags` say: its ref. */
  async function backupTo(prefix: string, keyFlags: string[]): Promise<string> {
    const b = await runCli(
      [
        "backup",
        "example",
        "-n",
        "clusters",
        "--kubeconfig",
        lab.kubeconfig,
        "--mode",
        "online",
        "--to",
        `s3://${s3.bucket}/${prefix}`,
        ...keyFlags,
        "-o",
        "json",
        ...s3Flags,
      ],
      { env },
    );
    assert.equal(b.code, 0, b.stderr);
    return (JSON.parse(b.stdout) as { ref: string }).ref;
  }

  before(async () => {
    [lab, s3] = await Promise.all([startHostedLab(), S3Server.start({ tls: true })]);
    env = { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_REGION: s3.region };
    s3Flags = ["--s3-endpoint", s3.endpoint, "--s3-ca-bundle", s3.caBundle as string];
    ca = readFileSync(s3.caBundle as string);
    const identity = await generateIdentity();
    recipient = await identityToRecipient(identity);
    identityFile = join(lab.work, "identity.txt");
    writeFileSync(identityFile, `# created for the test\n${identity}\n`, { mode: 0o600 });
    ref = await backupTo("clusters", ["--key-recipient", recipient]);
  });
  after(async () => {
    await Promise.all([lab?.stop(), s3?.stop()]);
  });

  const store = (r = ref) =>
    openStore(r, {
      endpoint: s3.endpoint,
      caBundle: s3.caBundle,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    }) as S3Store;
  const prepare = (args: string[], r = ref) =>
    runCli(["restore", "prepare", r, "--rendered", FIXTURE, ...s3Flags, ...args], { env });

  /** A copy of the backup under another prefix, with objects left out or replaced. */
  async function copyBackup(prefix: string, change: Record<string, Buffer | null> = {}): Promise<string> {
    const from = store();
    const to = store(`s3://${s3.bucket}/${prefix}`);
    for (const key of [SNAPSHOT_FILE, MANIFEST_FILE, "encryption-key.age"]) {
      const replaced = change[key];
      if (replaced === null) continue;
      await to.put(key, replaced ?? (await from.read(key)));
    }
    return to.url;
  }

  it("writes the patched manifests 0600 with the saved key; the URL fetches the exact snapshot with a plain GET and is never printed", async () => {
    const out = join(lab.work, "restore.yaml");
    const r = await prepare(["-o", out, "--key-identity", identityFile]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(statSync(out).mode & 0o777, 0o600);
    const text = readFileSync(out, "utf8");
    const url = urlIn(text);
    assert.ok(url.startsWith(`${s3.endpoint}/${s3.bucket}/`), "a path-style HTTPS URL to the snapshot");
    for (const printed of [r.stdout, r.stderr]) {
      assert.ok(!printed.includes("X-Amz-Signature"), "the URL is a secret");
      assert.ok(!printed.includes(lab.sim.hostedCluster.encryptionKey.toString("base64")), "so is the key");
    }
    assert.match(r.stdout, /PASS {2}backup-verified/);
    assert.match(r.stdout, /- {5}cluster +no --kubeconfig or --context/);
    assert.match(r.stdout, /WARN {2}availability-policy +the source ran 3 etcd member\(s\) \(HighlyAvailable\)/);
    assert.match(r.stdout, /wrote .*restore\.yaml \(mode 0600/);
    // The rendered 8Gi holds this small database: the URL and the key are all that change.
    assertOnlyChanged(readFileSync(FIXTURE, "utf8"), text, {
      "Secret/example-etcd-encryption-key": ["data.key"],
      "HostedCluster/example": ["spec.etcd.managed.storage.restoreSnapshotURL"],
    });
    const secret = docsOf(text).find((d) => get(d, "metadata.name") === "example-etcd-encryption-key");
    assert.deepEqual(Buffer.from(get(secret, "data.key") as string, "base64"), lab.sim.hostedCluster.encryptionKey);
    assert.ok(text.includes("# Reviewed by the on-call SRE before the restore; keep these notes."));

    const got = await download(url, ca);
    assert.equal(got.status, 200);
    const stored = await store().read(SNAPSHOT_FILE);
    assert.equal(sha256(got.body), sha256(stored), "the exact object");
    const manifest = JSON.parse((await store().read(MANIFEST_FILE)).toString()) as Manifest;
    assert.equal(sha256(got.body.subarray(0, manifest.snapshot.dbSize)), manifest.snapshot.sha256);

    // One changed character of the signature: RGW refuses it.
    const sig = /X-Amz-Signature=([0-9a-f]+)/.exec(url)?.[1] as string;
    const flipped = `${sig.slice(0, -1)}${sig.endsWith("0") ? "1" : "0"}`;
    const tampered = await download(url.replace(`X-Amz-Signature=${sig}`, `X-Amz-Signature=${flipped}`), ca);
    assert.equal(tampered.status, 403);
    assert.match(tampered.body.toString(), /SignatureDoesNotMatch/);
  });

  it("an expired URL (signed an hour ago for a minute) is refused by RGW; the report goes to stderr when the YAML goes to stdout, the URL only with --show-url", async () => {
    const expired = await store().presignGet(SNAPSHOT_FILE, 60, { signingDate: new Date(Date.now() - 3600_000) });
    const res = await download(expired, ca);
    assert.equal(res.status, 403);
    assert.match(res.body.toString(), /AccessDenied|expired/i);

    const plain = await prepare(["--key-identity", identityFile]);
    assert.equal(plain.code, 0, plain.stderr);
    assert.equal(docsOf(plain.stdout).length, 6, "stdout is the manifests alone");
    assert.match(plain.stderr, /PASS {2}url-length/);
    assert.ok(!plain.stderr.includes("X-Amz-Signature"));
    const asJson = await prepare(["--key-identity", identityFile, "--report", "json", "-o", join(lab.work, "j.yaml")]);
    assert.equal(asJson.code, 0, asJson.stderr);
    const report = JSON.parse(asJson.stdout) as { blocked: boolean; checks: Array<{ id: string; status: string }> };
    assert.equal(report.blocked, false);
    assert.deepEqual(
      report.checks.filter((c) => c.status !== "pass").map((c) => `${c.id}=${c.status}`),
      ["availability-policy=warn", "trap-restore-in-place=warn", "cluster=not-run"],
    );
    assert.ok(!asJson.stdout.includes("X-Amz-Signature"));
    // With JSON logs, stderr stays one JSON object a line: the report is one of them.
    const jsonLogs = await runCli(
      [
        "--log-format",
        "json",
        "restore",
        "prepare",
        ref,
        "--rendered",
        FIXTURE,
        "--key-identity",
        identityFile,
        ...s3Flags,
      ],
      { env },
    );
    assert.equal(jsonLogs.code, 0, jsonLogs.stderr);
    const events = jsonLogs.stderr
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { checks?: unknown[]; msg?: string });
    assert.ok(events.some((e) => Array.isArray(e.checks)));
    assert.ok(events.some((e) => e.msg === "snapshot presigned"));
    assert.ok(!jsonLogs.stderr.includes("X-Amz-Signature"));

    // A backup taken with --key-to: the raw key file instead of the identity.
    const keyFile = join(lab.work, "encryption-key");
    writeFileSync(keyFile, lab.sim.hostedCluster.encryptionKey, { mode: 0o600 });
    const raw = await prepare(["--key-file", keyFile]);
    assert.equal(raw.code, 0, raw.stderr);
    assert.match(raw.stderr, /PASS {2}key-fingerprint/);
    const both = await prepare(["--key-file", keyFile, "--key-identity", identityFile]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /choose one of --key-identity and --key-file/);
    const shown = await prepare(["--key-identity", identityFile, "--show-url"]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.ok(shown.stderr.includes(`url: ${urlIn(shown.stdout)}`));
  });

  it("the saved key and its type: kms rendered for an aescbc source, a wrong identity, no identity, a missing key object, a fingerprint mismatch each block with one line, nothing written", async () => {
    const other = join(lab.work, "other-identity.txt");
    writeFileSync(other, `${await generateIdentity()}\n`, { mode: 0o600 });
    const missing = await copyBackup("missing-key", { "encryption-key.age": null });
    const forged = await copyBackup("forged-key", {
      "encryption-key.age": Buffer.from(await sealKey(randomBytes(32), [recipient])),
    });
    const cases: Array<{ args: string[]; ref?: string; want: RegExp }> = [
      {
        // The last --rendered wins: a render with --kms-key-arn for a source that used aescbc.
        args: ["--key-identity", identityFile, "--rendered", KMS_FIXTURE],
        want: /encryption-type: the source encrypted secrets with aescbc, the rendered HostedCluster uses kms/,
      },
      {
        args: ["--key-identity", other],
        want: /key-material: cannot decrypt the saved encryption key with this identity/,
      },
      { args: [], want: /key-material: the backup's key is sealed in encryption-key\.age: pass --key-identity/ },
      {
        args: ["--key-identity", identityFile],
        ref: missing,
        want: /key-material: s3:\/\/.*encryption-key\.age is missing/,
      },
      {
        args: ["--key-identity", identityFile],
        ref: forged,
        want: /key-fingerprint: the key in encryption-key\.age has fingerprint [0-9a-f]{16}…, the manifest records/,
      },
    ];
    for (const c of cases) {
      const out = join(lab.work, `blocked-${randomBytes(3).toString("hex")}.yaml`);
      const r = await prepare(["-o", out, ...c.args], c.ref);
      assert.equal(r.code, 1, r.stderr);
      const last = r.stderr.trim().split("\n").at(-1) as string;
      assert.match(last, /^hcp-etcd-backup: restore prepare blocked by \d check\(s\), nothing written or applied: /);
      assert.match(last, c.want);
      assert.match(r.stdout, /BLOCK/);
      assert.equal(existsSync(out), false);
    }
  });

  it("refusals are one line: a URL over 1024 characters, --expires over 7 days, a missing local store, wrong flags", async () => {
    // A key prefix long enough to push the URL past what HyperShift's CRD accepts.
    const longRef = await copyBackup(`clusters/${"a".repeat(400)}/${"b".repeat(400)}`);
    const long = await prepare(["--key-identity", identityFile], longRef);
    assert.equal(long.code, 1);
    assert.match(
      long.stderr.trim().split("\n").at(-1) as string,
      /url-length: the presigned URL is \d{4} characters, over the 1024/,
    );
    assert.equal(long.stdout, "", "no YAML on stdout");

    // A snapshot damaged in the store: verification fails, exit 3, nothing presigned.
    const snapshot = await store().read(SNAPSHOT_FILE);
    snapshot[4096 + 100] = (snapshot[4096 + 100] as number) ^ 0xff;
    const damaged = await prepare(
      ["--key-identity", identityFile],
      await copyBackup("damaged", { [SNAPSHOT_FILE]: snapshot }),
    );
    assert.equal(damaged.code, 3, damaged.stderr);
    assert.match(
      damaged.stderr.trim().split("\n").at(-1) as string,
      /backup-verified: the backup failed verification: /,
    );
    assert.ok(!damaged.stderr.includes("url-length"), "no URL for a backup that failed verification");

    const oneLine = (r: { stderr: string }) => {
      const lines = r.stderr.trim().split("\n");
      assert.equal(lines.length, 1, r.stderr);
      return lines[0] as string;
    };
    const week = await prepare(["--expires", "8d"]);
    assert.equal(week.code, 2);
    assert.match(oneLine(week), /--expires 8d is over 7 days/);
    const local = await runCli([
      "restore",
      "prepare",
      join(lab.work, "backups/clusters/example/x"),
      "--rendered",
      FIXTURE,
    ]);
    // A local store is read and checked before it is refused (test/restore/prepare-local.test.ts); one
    // that does not exist ends there.
    assert.equal(local.code, 1);
    assert.match(oneLine(local), /no store at .*backups\/clusters\/example\/x: the directory does not exist/);
    const noRendered = await runCli(["restore", "prepare", ref]);
    assert.equal(noRendered.code, 2);
    assert.match(oneLine(noRendered), /required option '--rendered <file>' not specified/);
    const badRendered = await prepare([], ref).then(() =>
      runCli(["restore", "prepare", ref, "--rendered", join(lab.work, "nope.yaml"), ...s3Flags], { env }),
    );
    assert.equal(badRendered.code, 2);
    assert.match(oneLine(badRendered), /cannot read --rendered .*nope\.yaml/);
    const badReport = await prepare(["--report", "xml"]);
    assert.equal(badReport.code, 2);
    assert.match(oneLine(badReport), /option '--report <format>' argument 'xml' is invalid/);
    const badExpiry = await prepare(["--expires", "soon"]);
    assert.equal(badExpiry.code, 2);
    assert.match(oneLine(badExpiry), /--expires "soon" is not a duration/);
  });

  it("a source with a backup key (a rotation in progress): that key goes into the HostedCluster's backupKey, its Secret before the HostedCluster", async () => {
    const oldKey = randomBytes(32);
    await duringKeyRotation(lab, "example-etcd-encryption-key-old", oldKey, async () => {
      const rotatingRef = await backupTo("rotating", ["--key-recipient", recipient]);

      const out = join(lab.work, "restore-rotating.yaml");
      const r = await prepare(["-o", out, "--key-identity", identityFile], rotatingRef);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(
        r.stdout,
        /PASS {2}backup-key +key-\d+ restored as the HostedCluster's backupKey \(Secret clusters\/example-etcd-encryption-key-backup\)/,
      );
      for (const printed of [r.stdout, r.stderr]) assert.ok(!printed.includes(oldKey.toString("base64")));
      const text = readFileSync(out, "utf8");
      assertOnlyChanged(readFileSync(FIXTURE, "utf8"), text, {
        "Secret/example-etcd-encryption-key": ["data.key"],
        "HostedCluster/example": [
          "spec.etcd.managed.storage.restoreSnapshotURL",
          "spec.secretEncryption.aescbc.backupKey",
        ],
        "Secret/example-etcd-encryption-key-backup": ["(added)"],
      });
      const docs = docsOf(text);
      const names = docs.map((d) => `${d.kind}/${get(d, "metadata.name")}`);
      const at = names.indexOf("Secret/example-etcd-encryption-key-backup");
      assert.ok(at !== -1 && at < names.indexOf("HostedCluster/example"), names.join(", "));
      assert.deepEqual(Buffer.from(get(docs[at], "data.key") as string, "base64"), oldKey);
      assert.equal(
        get(
          docs.find((d) => d.kind === "HostedCluster"),
          "spec.secretEncryption.aescbc.backupKey.name",
        ),
        "example-etcd-encryption-key-backup",
      );

      // Once verify's decryption proof has counted the values by key, a key no value uses is left out.
      const v = await runCli(["verify", rotatingRef, "--key-identity", identityFile, ...s3Flags], { env });
      assert.equal(v.code, 0, v.stdout + v.stderr);
      const proven = await prepare(
        ["-o", join(lab.work, "restore-proven.yaml"), "--key-identity", identityFile],
        rotatingRef,
      );
      assert.equal(proven.code, 0, proven.stdout + proven.stderr);
      assert.match(proven.stdout, /PASS {2}backup-key +key-\d+ not restored: no value in the snapshot uses it/);
      const provenDocs = docsOf(readFileSync(join(lab.work, "restore-proven.yaml"), "utf8"));
      assert.equal(
        get(
          provenDocs.find((d) => d.kind === "HostedCluster"),
          "spec.secretEncryption.aescbc.backupKey",
        ),
        undefined,
      );

      // --key-to: the raw files of one backup sit together; --key-file names the active one.
      const keyDir = join(lab.work, "raw-keys");
      const rawRef = await backupTo("rotating-raw", ["--key-to", keyDir]);
      const rawId = rawRef.split("/").at(-1) as string;
      const rawOut = join(lab.work, "restore-raw.yaml");
      const fromRaw = await prepare(
        ["-o", rawOut, "--key-file", join(keyDir, "clusters", "example", rawId, "encryption-key")],
        rawRef,
      );
      assert.equal(fromRaw.code, 0, fromRaw.stdout + fromRaw.stderr);
      assert.match(fromRaw.stdout, /PASS {2}backup-key +key-\d+ restored as the HostedCluster's backupKey/);
      const rawDocs = docsOf(readFileSync(rawOut, "utf8"));
      const rawSecret = rawDocs.find((d) => get(d, "metadata.name") === "example-etcd-encryption-key-backup");
      assert.deepEqual(Buffer.from(get(rawSecret, "data.key") as string, "base64"), oldKey);
    });
  });

  describe("on the management cluster (--kubeconfig)", () => {
    const kubeApi = () => KubernetesObjectApi.makeApiClient(loadKubeConfig({ kubeconfig: lab.kubeconfig }));
    const del = (apiVersion: string, kind: string, name: string, namespace?: string) =>
      kubeApi().delete({ apiVersion, kind, metadata: { name, ...(namespace ? { namespace } : {}) } });

    it("the source cluster still there blocks: HostedCluster and HCP namespace exist (the key Secret holds the same key: pass)", async () => {
      // No -o: the manifests would go to stdout, so the report is on stderr.
      const r = await prepare(["--key-identity", identityFile, "--kubeconfig", lab.kubeconfig]);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stdout, "");
      assert.match(r.stderr, /BLOCK hostedcluster-absent +HostedCluster clusters\/example already exists/);
      assert.match(
        r.stderr,
        /BLOCK hcp-namespace-absent +the hosted control plane namespace clusters-example already exists/,
      );
      assert.match(
        r.stderr,
        /PASS {2}key-secret +Secret clusters\/example-etcd-encryption-key already holds the saved key/,
      );
    });

    it("after the cluster is destroyed: leftover data-etcd-* PVCs block, another key in the Secret blocks; then --apply creates Secrets before the HostedCluster and the simulator accepts them", async () => {
      // What `hcp destroy` leaves when the PVCs are retained: the HCP namespace with etcd's claims.
      await del("hypershift.openshift.io/v1beta1", "HostedCluster", "example", "clusters");
      await del("hypershift.openshift.io/v1beta1", "HostedControlPlane", "example", "clusters-example");
      await del("v1", "Secret", "example-pull-secret", "clusters");
      await del("v1", "Namespace", "clusters-example");
      await kubeApi().create({ apiVersion: "v1", kind: "Namespace", metadata: { name: "clusters-example" } });
      for (const i of [0, 1, 2]) {
        await kubeApi().create({
          apiVersion: "v1",
          kind: "PersistentVolumeClaim",
          metadata: { name: `data-etcd-${i}`, namespace: "clusters-example" },
          spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "8Gi" } } },
        } as never);
      }
      // The key Secret of another cluster generation: not the saved key.
      await del("v1", "Secret", "example-etcd-encryption-key", "clusters");
      await kubeApi().create({
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "example-etcd-encryption-key", namespace: "clusters" },
        data: { key: randomBytes(32).toString("base64") },
      } as never);

      const out = join(lab.work, "applied.yaml");
      const blocked = await prepare([
        "--key-identity",
        identityFile,
        "--kubeconfig",
        lab.kubeconfig,
        "--apply",
        "-o",
        out,
      ]);
      assert.equal(blocked.code, 1);
      assert.match(
        blocked.stdout,
        /BLOCK etcd-pvcs-absent +clusters-example still has data-etcd-0, data-etcd-1, data-etcd-2: etcd-init restores only into an empty data directory and would silently skip the restore/,
      );
      assert.match(
        blocked.stdout,
        /BLOCK key-secret +Secret clusters\/example-etcd-encryption-key already exists with another key/,
      );
      assert.equal(existsSync(out), false);
      await assert.rejects(
        kubeApi().read({
          apiVersion: "hypershift.openshift.io/v1beta1",
          kind: "HostedCluster",
          metadata: { name: "example", namespace: "clusters" },
        }),
        "nothing applied",
      );

      await del("v1", "Namespace", "clusters-example");
      await del("v1", "Secret", "example-etcd-encryption-key", "clusters");
      const r = await prepare(["--key-identity", identityFile, "--kubeconfig", lab.kubeconfig, "--apply", "-o", out]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /PASS {2}etcd-pvcs-absent/);
      assert.match(r.stdout, /exists: Namespace clusters\n/);
      const created = [...r.stdout.matchAll(/^created: (.*)$/gm)].map((m) => m[1]);
      assert.deepEqual(created, [
        "Secret clusters/example-pull-secret",
        "Secret clusters/example-ssh-key",
        "Secret clusters/example-etcd-encryption-key",
        "HostedCluster clusters/example",
        "NodePool clusters/example-us-east-1a",
      ]);
      const api = kubeApi();
      const read = (apiVersion: string, kind: string, name: string) =>
        api.read({ apiVersion, kind, metadata: { name, namespace: "clusters" } }) as Promise<Obj>;
      const hc = await read("hypershift.openshift.io/v1beta1", "HostedCluster", "example");
      const key = await read("v1", "Secret", "example-etcd-encryption-key");
      const np = await read("hypershift.openshift.io/v1beta1", "NodePool", "example-us-east-1a");
      const rv = (o: Obj) => Number(get(o, "metadata.resourceVersion"));
      // The creation order is the printed list above; resourceVersions can only show that the Secret came
      // first: the simulator's controllers update the HostedCluster's status after the NodePool may exist.
      assert.ok(rv(key) < rv(hc), "the key Secret exists before the HostedCluster");
      assert.ok(rv(key) < rv(np));
      assert.deepEqual(Buffer.from(get(key, "data.key") as string, "base64"), lab.sim.hostedCluster.encryptionKey);
      assert.deepEqual(get(hc, "spec.etcd.managed.storage.restoreSnapshotURL"), [urlIn(readFileSync(out, "utf8"))]);
      assert.equal(get(hc, "spec.etcd.managed.storage.type"), "PersistentVolume");
    });
  });
});
