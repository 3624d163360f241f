import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectRetentionCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { generateIdentity, identityToRecipient } from "age-encryption";
import type { Manifest } from "../../src/store/manifest.js";
import { runCli } from "../support/cli.js";
import { EtcdCluster, loadCluster } from "../support/etcd-cluster.js";
import { type HostedLab, startHostedLab } from "../support/hosted.js";
import { S3FaultProxy } from "../support/s3-fault-proxy.js";
import { S3Server } from "../support/s3-server.js";

const LOCKED = "locked-backups";
const DAY = 86_400_000;

describe("backup --object-lock on Ceph RGW (a bucket created with Object Lock enabled)", () => {
  let etcd: EtcdCluster;
  let s3: S3Server;
  let client: S3Client;
  let work: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    [etcd, s3] = await Promise.all([EtcdCluster.start({ members: 1 }), S3Server.start()]);
    client = s3.client();
    work = await mkdtemp(join(tmpdir(), "hcpeb-test-"));
    // Over one 8 MiB part: the snapshot goes up as a multipart upload, whose lock headers RGW 16 ignores.
    await loadCluster(etcd, { targetBytes: 12 * 1024 * 1024, valueSize: [65536, 262144] });
    await client.send(new CreateBucketCommand({ Bucket: LOCKED, ObjectLockEnabledForBucket: true }));
    env = { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_REGION: s3.region };
  });
  after(async () => {
    client?.destroy();
    // The memstore bucket, compliance-locked objects included, goes with the daemons.
    await Promise.all([etcd?.stop(), s3?.stop()]);
    if (work) await rm(work, { recursive: true, force: true });
  });

  const cli = (args: string[]) => runCli([...args, "--s3-endpoint", s3.endpoint], { env });
  const backup = (to: string, extra: string[] = []) =>
    cli([
      "backup",
      "--endpoints",
      etcd.endpoints.join(","),
      ...etcd.tlsFlags,
      "--to",
      to,
      "--name",
      "lab",
      "-o",
      "json",
      ...extra,
    ]);
  /** Runs a backup that must succeed; returns its folder key in the bucket and its manifest. */
  async function lockedBackup(extra: string[]): Promise<{ folder: string; manifest: Manifest; ref: string }> {
    const r = await backup(`s3://${LOCKED}/fleet`, extra);
    assert.equal(r.code, 0, r.stderr);
    const ref = (JSON.parse(r.stdout) as { ref: string }).ref;
    const folder = ref.slice(`s3://${LOCKED}/`.length);
    const body = await client.send(new GetObjectCommand({ Bucket: LOCKED, Key: `${folder}/manifest.json` }));
    return {
      folder,
      ref,
      manifest: JSON.parse(await (body.Body as { transformToString(): Promise<string> }).transformToString()),
    };
  }
  const versionOf = async (Key: string) =>
    (await client.send(new HeadObjectCommand({ Bucket: LOCKED, Key }))).VersionId as string;
  const objectsUnder = async (Bucket: string, Prefix: string) =>
    (await client.send(new ListObjectsV2Command({ Bucket, Prefix }))).Contents ?? [];

  it("governance: snapshot and manifest are locked until the date the manifest records; a versioned delete is refused and the bytes survive a plain delete", async () => {
    const startedAt = Date.now();
    const { folder, manifest } = await lockedBackup(["--object-lock", "governance:2"]);
    assert.equal(manifest.objectLock?.mode, "governance");
    const until = Date.parse(manifest.objectLock?.retainUntil ?? "");
    assert.ok(until >= startedAt + 2 * DAY && until <= Date.now() + 2 * DAY + 1000, manifest.objectLock?.retainUntil);
    for (const object of ["snapshot.db", "manifest.json"]) {
      const Key = `${folder}/${object}`;
      const r = await client.send(new GetObjectRetentionCommand({ Bucket: LOCKED, Key }));
      assert.equal(r.Retention?.Mode, "GOVERNANCE", object);
      assert.equal(r.Retention?.RetainUntilDate?.getTime(), until, object);
    }

    const Key = `${folder}/snapshot.db`;
    const head = await client.send(new HeadObjectCommand({ Bucket: LOCKED, Key }));
    assert.match(head.ETag ?? "", /-\d+"$/, "a multipart upload: locked after completion, RGW ignored its headers");
    const VersionId = head.VersionId;
    await assert.rejects(client.send(new DeleteObjectCommand({ Bucket: LOCKED, Key, VersionId })), (e: Error) => {
      assert.equal(e.name, "AccessDenied");
      return true;
    });
    // On a versioned bucket a plain delete "succeeds": it only stacks a delete marker on the locked version.
    const marker = await client.send(new DeleteObjectCommand({ Bucket: LOCKED, Key }));
    assert.equal(marker.DeleteMarker, true);
    const hidden = await cli(["list", "--from", `s3://${LOCKED}/fleet`, "-o", "json"]);
    assert.doesNotMatch(hidden.stdout, new RegExp(manifest.backupId), "a backup without its snapshot is not listed");
    const kept = await client.send(new GetObjectCommand({ Bucket: LOCKED, Key, VersionId }));
    const bytes = Buffer.from(
      await (kept.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
    );
    assert.equal(bytes.length, manifest.snapshot.objectSize);
    assert.equal(
      createHash("sha256")
        .update(bytes.subarray(0, bytes.length - 32))
        .digest("hex"),
      manifest.snapshot.sha256,
    );
    // Removing the marker brings the backup back whole (markers are not locked), and verify proves it.
    await client.send(new DeleteObjectCommand({ Bucket: LOCKED, Key, VersionId: marker.VersionId }));
    const before = await versionOf(`${folder}/manifest.json`);
    const verified = await cli(["verify", `s3://${LOCKED}/${folder}`, "--no-structure"]);
    assert.equal(verified.code, 0, verified.stderr);
    // verify's rewrite is a new manifest version, locked like the one it follows.
    const rewritten = await client.send(new HeadObjectCommand({ Bucket: LOCKED, Key: `${folder}/manifest.json` }));
    assert.notEqual(rewritten.VersionId, before);
    assert.equal(rewritten.ObjectLockMode, "GOVERNANCE");
    assert.equal(rewritten.ObjectLockRetainUntilDate?.getTime(), until);
  });

  it("prune keeps a locked backup whole and says until when; an unlocked one in the same bucket goes", async () => {
    const old = await lockedBackup(["--object-lock", "governance:1"]);
    const unlocked = await lockedBackup([]);
    assert.equal(unlocked.manifest.objectLock, undefined, "no --object-lock: the manifest records none");
    const newest = await lockedBackup(["--object-lock", "governance:1"]);

    const r = await cli(["prune", "--from", `s3://${LOCKED}/fleet`, "--keep-last", "1"]);
    assert.equal(r.code, 0, r.stderr);
    const line = (ref: string) => r.stdout.split("\n").find((l) => l.includes(ref)) ?? "";
    assert.match(line(newest.ref), /^keep +\S+ \(last/);
    assert.match(
      line(old.ref),
      new RegExp(
        `^kept +\\S+ \\(locked until ${old.manifest.objectLock?.retainUntil.replace(/\./g, "\\.")} \\(governance\\): S3 Object Lock refuses its deletion\\)$`,
      ),
    );
    assert.match(line(unlocked.ref), /^deleted /);

    // The locked backup got no delete marker (it would have vanished from list) and is still listed.
    const versions = await client.send(new ListObjectVersionsCommand({ Bucket: LOCKED, Prefix: `${old.folder}/` }));
    assert.deepEqual(versions.DeleteMarkers ?? [], []);
    const listed = await cli(["list", "--from", `s3://${LOCKED}/fleet`, "-o", "json"]);
    assert.match(listed.stdout, new RegExp(old.manifest.backupId));
    assert.doesNotMatch(listed.stdout, new RegExp(unlocked.manifest.backupId));
    assert.deepEqual(await objectsUnder(LOCKED, `${unlocked.folder}/`), [], "the unlocked backup is gone from view");
  });

  it("credentials that may not read the bucket's lock configuration: prune asks each object; backup --object-lock refuses", async () => {
    const proxy = await S3FaultProxy.start(s3.endpoint);
    // What a policy without s3:GetBucketObjectLockConfiguration gets.
    proxy.rule = (req) =>
      req.method === "GET" && /[?&]object-lock/.test(req.url ?? "") ? { status: 403, code: "AccessDenied" } : "pass";
    try {
      const old = await lockedBackup(["--object-lock", "governance:1"]);
      await lockedBackup(["--object-lock", "governance:1"]);
      const via = (args: string[]) => runCli([...args, "--s3-endpoint", proxy.endpoint], { env });
      const r = await via(["prune", "--from", `s3://${LOCKED}/fleet`, "--keep-last", "1"]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(
        proxy.seen.some((q) => /object-lock/.test(q.url)),
        "the configuration was asked for",
      );
      assert.match(r.stdout, new RegExp(`^kept +${old.ref.replace(/[/.]/g, "\\$&")} \\(locked until`, "m"));
      const refused = await via([
        "backup",
        "--endpoints",
        etcd.endpoints.join(","),
        ...etcd.tlsFlags,
        "--to",
        `s3://${LOCKED}/fleet`,
        "--name",
        "lab",
        "--object-lock",
        "governance:1",
      ]);
      assert.equal(refused.code, 1, refused.stderr);
      assert.match(
        refused.stderr.trim(),
        /^hcp-etcd-backup: --object-lock needs the bucket's Object Lock configuration: S3 refused to read the bucket's Object Lock configuration in bucket "locked-backups" .*\(403 AccessDenied\)/,
      );
    } finally {
      await proxy.stop();
    }
  });

  it("compliance: not even BypassGovernanceRetention deletes the version", async () => {
    const { folder, manifest } = await lockedBackup(["--object-lock", "compliance:1"]);
    assert.equal(manifest.objectLock?.mode, "compliance");
    const Key = `${folder}/snapshot.db`;
    const r = await client.send(new GetObjectRetentionCommand({ Bucket: LOCKED, Key }));
    assert.equal(r.Retention?.Mode, "COMPLIANCE");
    const VersionId = await versionOf(Key);
    await assert.rejects(
      client.send(new DeleteObjectCommand({ Bucket: LOCKED, Key, VersionId, BypassGovernanceRetention: true })),
      (e: Error) => e.name === "AccessDenied",
    );
  });

  it("a bucket without Object Lock is refused in one line before anything is uploaded (exit 2)", async () => {
    const r = await backup(`s3://${s3.bucket}/nolock`, ["--object-lock", "governance:1"]);
    assert.equal(r.code, 2, r.stderr);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0] as string,
      /--object-lock: bucket "backups" at http:\/\/127\.0\.0\.1:\d+ does not have S3 Object Lock enabled, so nothing was uploaded; create the bucket with it \(.*--object-lock-enabled-for-bucket\) or enable it .*put-object-lock-configuration/,
    );
    assert.deepEqual(await objectsUnder(s3.bucket, "nolock/"), []);
    const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: s3.bucket }));
    assert.deepEqual(uploads.Uploads ?? [], []);
  });

  it("a local store or a malformed lock is refused (exit 2), and nothing is created", async () => {
    const dir = join(work, "local");
    const local = await backup(dir, ["--object-lock", "governance:1"]);
    assert.equal(local.code, 2, local.stderr);
    assert.match(local.stderr, /--object-lock needs an S3 store .* is a local directory, which nothing can lock/);
    assert.equal(existsSync(dir), false);
    for (const spec of ["forever", "governance:0", "legal:3", "compliance:-1"]) {
      const bad = await backup(`s3://${LOCKED}/fleet`, ["--object-lock", spec]);
      assert.equal(bad.code, 2, spec);
      assert.match(bad.stderr, /--object-lock must be governance:<days> or compliance:<days>/);
    }
  });
});

describe("a hosted cluster's backup with --object-lock on Ceph RGW: snapshot, sealed key and manifest locked", () => {
  let lab: HostedLab;
  let s3: S3Server;
  let client: S3Client;

  before(async () => {
    [lab, s3] = await Promise.all([startHostedLab(), S3Server.start()]);
    client = s3.client();
    await client.send(new CreateBucketCommand({ Bucket: LOCKED, ObjectLockEnabledForBucket: true }));
  });
  after(async () => {
    client?.destroy();
    await Promise.all([lab?.stop(), s3?.stop()]);
  });

  it("every object of the backup folder carries the manifest's retention", async () => {
    const recipient = await identityToRecipient(await generateIdentity());
    const kube = ["-n", "clusters", "--kubeconfig", lab.kubeconfig];
    const r = await runCli(
      [
        "backup",
        "example",
        ...kube,
        "--mode",
        "online",
        "--to",
        `s3://${LOCKED}/hcp`,
        "--key-recipient",
        recipient,
        "--object-lock",
        "governance:1",
        "--s3-endpoint",
        s3.endpoint,
        "-o",
        "json",
      ],
      { env: { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey } },
    );
    assert.equal(r.code, 0, r.stderr);
    const folder = (JSON.parse(r.stdout) as { ref: string }).ref.slice(`s3://${LOCKED}/`.length);
    const objects =
      (await client.send(new ListObjectsV2Command({ Bucket: LOCKED, Prefix: `${folder}/` }))).Contents ?? [];
    const names = objects.map((o) => o.Key?.slice(folder.length + 1)).sort();
    assert.deepEqual(names, ["encryption-key.age", "manifest.json", "snapshot.db"]);
    const body = await client.send(new GetObjectCommand({ Bucket: LOCKED, Key: `${folder}/manifest.json` }));
    const manifest = JSON.parse(
      await (body.Body as { transformToString(): Promise<string> }).transformToString(),
    ) as Manifest;
    assert.equal(manifest.objectLock?.mode, "governance");
    for (const name of names) {
      const ret = await client.send(new GetObjectRetentionCommand({ Bucket: LOCKED, Key: `${folder}/${name}` }));
      assert.equal(ret.Retention?.Mode, "GOVERNANCE", name);
      assert.equal(ret.Retention?.RetainUntilDate?.toISOString(), manifest.objectLock?.retainUntil, name);
    }
  });
});
