import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import {
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import { SnapshotVerifier } from "../../src/backup/verified-stream.js";
import { VerificationError } from "../../src/errors.js";
import { StreamingStatus } from "../../src/snapshot/stream-status.js";
import { openStore } from "../../src/store/open-store.js";
import { probe } from "../support/bolt-probe.js";
import { runCli } from "../support/cli.js";
import { EtcdCluster, loadCluster } from "../support/etcd-cluster.js";
import { etcdctlStatus } from "../support/etcdctl.js";
import { isUploadPart, S3FaultProxy } from "../support/s3-fault-proxy.js";
import { S3Server } from "../support/s3-server.js";

const run = promisify(execFile);

describe("backup into S3 (3-member etcd with mutual TLS, Ceph RGW)", () => {
  let cluster: EtcdCluster;
  let s3: S3Server;
  let proxy: S3FaultProxy;
  let work: string;
  let etcdArgs: string[];
  let env: NodeJS.ProcessEnv;

  before(async () => {
    [cluster, s3] = await Promise.all([EtcdCluster.start(), S3Server.start()]);
    proxy = await S3FaultProxy.start(s3.endpoint);
    work = await mkdtemp(join(tmpdir(), "hcpeb-test-"));
    // Over 16 MiB, so the upload takes several 6 MiB parts.
    await loadCluster(cluster, { targetBytes: 20 * 1024 * 1024, valueSize: [65536, 524288] });
    etcdArgs = ["--endpoints", cluster.endpoints.join(","), ...cluster.tlsFlags];
    env = { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_REGION: s3.region };
  });
  after(async () => {
    await proxy?.stop();
    await Promise.all([cluster?.stop(), s3?.stop()]);
    if (work) await rm(work, { recursive: true, force: true });
  });

  const backup = (endpoint: string, extra: string[] = [], extraEnv: NodeJS.ProcessEnv = {}) =>
    runCli(
      [
        "backup",
        ...etcdArgs,
        "--to",
        `s3://${s3.bucket}/clusters`,
        "--name",
        "prod",
        "--s3-endpoint",
        endpoint,
        "-o",
        "json",
        ...extra,
      ],
      {
        env: { ...env, ...extraEnv },
      },
    );

  async function download(key: string, file: string): Promise<void> {
    const client = s3.client();
    try {
      const res = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
      await pipeline(res.Body as Readable, (await import("node:fs")).createWriteStream(file));
    } finally {
      client.destroy();
    }
  }

  async function incompleteUploads(prefix?: string): Promise<number> {
    const client = s3.client();
    try {
      const res = await client.send(new ListMultipartUploadsCommand({ Bucket: s3.bucket, Prefix: prefix }));
      return res.Uploads?.length ?? 0;
    } finally {
      client.destroy();
    }
  }

  it("stores a restore-ready snapshot whose etcdctl status equals the manifest", async () => {
    const r = await backup(s3.endpoint);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as {
      ref: string;
      backupId: string;
      snapshot: { revision: number; totalKeys: number; statusHash: number; totalSize: number; sha256: string };
    };
    assert.match(out.ref, new RegExp(`^s3://${s3.bucket}/clusters/prod/\\d{8}T\\d{6}Z-r\\d+-[0-9a-f]{6}$`));
    const key = `${out.ref.slice(`s3://${s3.bucket}/`.length)}/snapshot.db`;
    const file = join(work, "downloaded.db");
    await download(key, file);
    const status = JSON.parse(await etcdctlStatus(file, "json")) as {
      hash: number;
      revision: number;
      totalKey: number;
      totalSize: number;
    };
    assert.deepEqual(status, {
      hash: out.snapshot.statusHash,
      revision: out.snapshot.revision,
      totalKey: out.snapshot.totalKeys,
      totalSize: out.snapshot.totalSize,
    });
    // etcdctl's restore checks the SHA-256 trailer itself.
    await run("etcdctl", ["snapshot", "restore", file, "--data-dir", join(work, "restored")], {
      env: { ...process.env, ETCDCTL_API: "3" },
    });
    const listed = await runCli(
      ["list", "--from", `s3://${s3.bucket}/clusters`, "--s3-endpoint", s3.endpoint, "-o", "json"],
      { env },
    );
    assert.equal(listed.code, 0, listed.stderr);
    const rows = JSON.parse(listed.stdout) as Array<{ ref: string; verified: boolean }>;
    assert.ok(rows.some((row) => row.ref === out.ref && row.verified));
    const verified = await runCli(["verify", out.ref, "--s3-endpoint", s3.endpoint, "-o", "json"], { env });
    assert.equal(verified.code, 0, verified.stderr);
    const report = JSON.parse(verified.stdout) as { ok: boolean; verification: { checks: string[] } };
    assert.equal(report.ok, true);
    assert.ok(report.verification.checks.includes("structure"), "the S3 object got the full structural walk");
    assert.deepEqual(await stagedLeftovers(), [], "the staged copy is removed");
  });

  it("verify finds a structural fault that a matching SHA-256 and status cannot show", async () => {
    const r = await backup(s3.endpoint, ["--name", "forged"]);
    assert.equal(r.code, 0, r.stderr);
    const ref = (JSON.parse(r.stdout) as { ref: string }).ref;
    const prefix = ref.slice(`s3://${s3.bucket}/`.length);
    const file = join(work, "forged.db");
    await download(`${prefix}/snapshot.db`, file);
    // Two keys of a leaf swapped, then a fresh trailer and manifest: bytes that etcd never wrote but
    // whose SHA-256 and status agree with their manifest. Only the structural walk sees the order.
    const bytes = readFileSync(file);
    const p = probe(file);
    const leaf = p.leafPages.find((l) => l.count >= 3);
    assert.ok(leaf);
    const keyAt = (i: number) => {
      const e = leaf.id * p.pageSize + 16 + 16 * i;
      return e + bytes.readUInt32LE(e + 4);
    };
    const k1 = Buffer.from(bytes.subarray(keyAt(1), keyAt(1) + 17));
    bytes.copy(bytes, keyAt(1), keyAt(2), keyAt(2) + 17);
    k1.copy(bytes, keyAt(2));
    const image = bytes.subarray(0, bytes.length - 32);
    createHash("sha256")
      .update(image)
      .digest()
      .copy(bytes, bytes.length - 32);
    const status = new StreamingStatus();
    status.update(image);
    const st = status.finish();
    const client = s3.client();
    try {
      const manifest = JSON.parse(
        (await (
          await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: `${prefix}/manifest.json` }))
        ).Body?.transformToString()) ?? "{}",
      ) as { snapshot: Record<string, unknown> };
      manifest.snapshot.sha256 = createHash("sha256").update(image).digest("hex");
      manifest.snapshot.statusHash = st.hash;
      await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: `${prefix}/snapshot.db`, Body: bytes }));
      await client.send(
        new PutObjectCommand({ Bucket: s3.bucket, Key: `${prefix}/manifest.json`, Body: JSON.stringify(manifest) }),
      );
    } finally {
      client.destroy();
    }
    const v = await runCli(["verify", ref, "--s3-endpoint", s3.endpoint, "-o", "json"], { env });
    assert.equal(v.code, 3, v.stderr);
    const out = JSON.parse(v.stdout) as { ok: boolean; problems: string[] };
    assert.equal(out.ok, false);
    assert.ok(
      out.problems.some((x) => x.includes("[key-order]")),
      out.problems.join("; "),
    );
    assert.ok(!out.problems.some((x) => /sha256|status hash/.test(x)), "SHA-256 and status agreed");
    // Without the structural walk the forgery passes: the check is what catches it.
    const shallow = await runCli(["verify", ref, "--s3-endpoint", s3.endpoint, "--no-structure"], { env });
    assert.equal(shallow.code, 0, shallow.stdout + shallow.stderr);
    assert.deepEqual(await stagedLeftovers(), []);
  });

  async function stagedLeftovers(): Promise<string[]> {
    return (await readdir(tmpdir())).filter((n) => n.startsWith("hcpeb-verify-"));
  }

  it("refuses wrong credentials with one line naming the bucket, never the secret", async () => {
    const secret = "definitely-not-the-secret-123";
    const r = await backup(s3.endpoint, [], { AWS_SECRET_ACCESS_KEY: secret });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^hcp-etcd-backup: S3 refused .*bucket "backups".*403 SignatureDoesNotMatch.*\n$/);
    assert.ok(!r.stderr.includes(secret) && !r.stdout.includes(secret));
    assert.ok(!r.stderr.includes(s3.secretAccessKey));
  });

  it("names a missing bucket", async () => {
    const r = await runCli(
      ["backup", ...etcdArgs, "--to", "s3://no-such-bucket/x", "--name", "prod", "--s3-endpoint", s3.endpoint],
      { env },
    );
    assert.equal(r.code, 1);
    assert.match(r.stderr, /bucket "no-such-bucket".*NoSuchBucket.*does not exist/);
    assert.equal(r.stderr.trimEnd().split("\n").length, 1);
  });

  it("rejects a malformed store URL as a usage error", async () => {
    const r = await runCli(["backup", ...etcdArgs, "--to", "s3://A_b/x", "--name", "prod"], { env });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /invalid S3 bucket name "A_b"/);
  });

  it("retries S3 5xx and throttling on parts and still stores a verified backup", async () => {
    let injected = 0;
    proxy.rule = (req) => {
      if (isUploadPart(req) && injected < 3) {
        injected++;
        return injected === 2 ? { status: 500, code: "InternalError" } : { status: 503, code: "SlowDown" };
      }
      return "pass";
    };
    try {
      const r = await backup(proxy.endpoint);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(injected, 3);
      const parts = proxy.seen.filter((s) => s.method === "PUT" && /partNumber=/.test(s.url));
      assert.ok(parts.length >= 3 + 3, "every failed part was sent again");
      const ref = (JSON.parse(r.stdout) as { ref: string }).ref;
      const v = await runCli(["verify", ref, "--s3-endpoint", s3.endpoint], { env });
      assert.equal(v.code, 0, v.stdout + v.stderr);
    } finally {
      proxy.rule = () => "pass";
    }
  });

  it("fails cleanly when S3 becomes unreachable mid-upload: nothing listed, nothing left after prune", async () => {
    const before = await listKeys();
    let parts = 0;
    proxy.rule = (req) => {
      if (isUploadPart(req)) parts++;
      return parts > 1 || (req.method === "DELETE" && /uploadId=/.test(req.url ?? "")) ? "drop" : "pass";
    };
    let r: Awaited<ReturnType<typeof backup>>;
    try {
      r = await backup(proxy.endpoint);
    } finally {
      proxy.rule = () => "pass";
    }
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, /cannot reach S3 endpoint|S3 refused/);
    assert.deepEqual(await listKeys(), before, "no object appeared");
    assert.ok((await incompleteUploads()) >= 1, "the dropped upload could not even be aborted");
    const pruned = await runCli(
      [
        "prune",
        "--from",
        `s3://${s3.bucket}/clusters`,
        "--s3-endpoint",
        s3.endpoint,
        "--keep-last",
        "10",
        "--min-age",
        "0",
      ],
      { env },
    );
    assert.equal(pruned.code, 0, pruned.stderr);
    assert.match(pruned.stdout, /removed [1-9]\d* unfinished upload/);
    assert.equal(await incompleteUploads(), 0);
  });

  it("gives up on a store that stops reading mid-upload (as a full Ceph does): one line, upload aborted", async () => {
    const before = await listKeys();
    let parts = 0;
    proxy.rule = (req) => {
      if (isUploadPart(req)) parts++;
      return isUploadPart(req) && parts > 1 ? "stall" : "pass";
    };
    let r: Awaited<ReturnType<typeof backup>>;
    try {
      r = await backup(proxy.endpoint, ["--s3-timeout", "0.5"]);
    } finally {
      proxy.rule = () => "pass";
    }
    assert.equal(r.code, 1, r.stdout);
    assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
    assert.match(
      r.stderr,
      /S3 endpoint http:\/\/127\.0\.0\.1:\d+ stopped answering while trying to upload .*full or overloaded/,
    );
    const stalled = proxy.seen.filter((s) => s.action === "stall").length;
    assert.ok(stalled >= 5, `the stalled part was retried (${stalled} stalled requests)`);
    assert.deepEqual(await listKeys(), before, "no object appeared");
    assert.equal(await incompleteUploads(), 0, "the upload was aborted");
  });

  it("rejects a non-positive --s3-timeout as a usage error", async () => {
    const r = await backup(s3.endpoint, ["--s3-timeout", "0"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--s3-timeout must be a positive number of seconds/);
  });

  it("aborts the upload when the stream fails its SHA-256 check: no object, no parts", async () => {
    // A real snapshot of this cluster with one bit flipped in the data: what a corrupting network would deliver.
    const file = join(work, "for-tamper.db");
    await run(
      "etcdctl",
      ["snapshot", "save", file, ...etcdArgs.slice(0, 1), cluster.endpoint(0), ...etcdArgs.slice(2)],
      {
        env: { ...process.env, ETCDCTL_API: "3" },
      },
    );
    const bytes = readFileSync(file);
    bytes[bytes.length - 4096] = (bytes[bytes.length - 4096] as number) ^ 0x10;
    writeFileSync(file, bytes);
    const store = openStore(`s3://${s3.bucket}/tamper`, {
      endpoint: s3.endpoint,
      region: s3.region,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
    const verifier = new SnapshotVerifier();
    const chunks = (async function* () {
      for (let off = 0; off < bytes.length; off += 32 * 1024) yield bytes.subarray(off, off + 32 * 1024);
    })();
    await assert.rejects(
      store.put("x/snapshot.db", verifier.pipe(chunks, "test"), { sizeHint: bytes.length }),
      (err: unknown) => {
        assert.ok(err instanceof VerificationError);
        assert.match(err.message, /failed its SHA-256 check/);
        return true;
      },
    );
    assert.deepEqual(await listKeys("tamper/"), []);
    assert.equal(await incompleteUploads("tamper/"), 0);
  });

  async function listKeys(prefix = "clusters/"): Promise<string[]> {
    const client = s3.client();
    try {
      const res = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix }));
      return (res.Contents ?? []).map((o) => o.Key ?? "").sort();
    } finally {
      client.destroy();
    }
  }
});
