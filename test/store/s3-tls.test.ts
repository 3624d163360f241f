import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { uploadStream } from "../../src/store/multipart.js";
import { runCli } from "../support/cli.js";
import { EtcdCluster, loadCluster } from "../support/etcd-cluster.js";
import { S3Server } from "../support/s3-server.js";

/** Records the x-amz-content-sha256 header of every UploadPart/PutObject as it went out, after signing. */
function recordPayloadHashes(client: S3Client): string[] {
  const seen: string[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const headers = (args.request as { headers?: Record<string, string> }).headers ?? {};
      if (context.commandName === "UploadPartCommand" || context.commandName === "PutObjectCommand") {
        seen.push(headers["x-amz-content-sha256"] ?? "");
      }
      return next(args);
    },
    { step: "deserialize", name: "recordPayloadHashes" },
  );
  return seen;
}

async function download(client: S3Client, bucket: string, key: string): Promise<Buffer> {
  const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const chunks: Buffer[] = [];
  for await (const chunk of got.Body as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

describe("S3 over HTTPS and plain HTTP (Ceph RGW)", () => {
  let https: S3Server;
  let http: S3Server;
  let cluster: EtcdCluster;
  const data = randomBytes(11 * 1024 * 1024 + 777); // two 5 MiB parts and a short one

  before(async () => {
    [https, http, cluster] = await Promise.all([
      S3Server.start({ tls: true }),
      S3Server.start(),
      EtcdCluster.start({ members: 1 }),
    ]);
    await loadCluster(cluster, { targetBytes: 12 * 1024 * 1024, valueSize: [65536, 262144] });
  });
  after(async () => {
    await Promise.all([https?.stop(), http?.stop(), cluster?.stop()]);
  });

  async function upload(server: S3Server, key: string): Promise<string[]> {
    const client = server.client();
    const seen = recordPayloadHashes(client);
    try {
      await uploadStream({
        client,
        params: { Bucket: server.bucket, Key: key },
        body: (async function* () {
          for (let off = 0; off < data.length; off += 300_000) yield data.subarray(off, off + 300_000);
        })(),
        partSize: 5 * 1024 * 1024,
        queue: 2,
      });
      assert.ok((await download(client, server.bucket, key)).equals(data), "stored bytes equal the sent bytes");
    } finally {
      client.destroy();
    }
    return seen;
  }

  it("sends parts as UNSIGNED-PAYLOAD over HTTPS, where TLS protects them, and RGW stores them intact", async () => {
    assert.match(https.endpoint, /^https:/);
    const seen = await upload(https, "tls/parts.bin");
    assert.deepEqual(seen, ["UNSIGNED-PAYLOAD", "UNSIGNED-PAYLOAD", "UNSIGNED-PAYLOAD"]);
  });

  it("signs every part's SHA-256 over plain HTTP, where the signature is the only integrity check", async () => {
    const seen = await upload(http, "plain/parts.bin");
    assert.equal(seen.length, 3);
    for (const h of seen) assert.match(h, /^[0-9a-f]{64}$/);
  });

  const backupArgs = (server: S3Server, extra: string[]) => [
    "backup",
    "--endpoints",
    cluster.endpoint(0),
    ...cluster.tlsFlags,
    "--to",
    `s3://${server.bucket}/tls`,
    "--name",
    "secure",
    "--s3-endpoint",
    server.endpoint,
    "-o",
    "json",
    ...extra,
  ];
  const env = () => ({
    AWS_ACCESS_KEY_ID: https.accessKeyId,
    AWS_SECRET_ACCESS_KEY: https.secretAccessKey,
    AWS_REGION: https.region,
  });

  it("backs up over HTTPS with --s3-ca-bundle, and the stored object verifies", async () => {
    const r = await runCli(backupArgs(https, ["--s3-ca-bundle", https.caBundle as string]), { env: env() });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { ref: string; snapshot: { sha256: string } };
    const client = https.client();
    try {
      const key = `${out.ref.slice(`s3://${https.bucket}/`.length)}/snapshot.db`;
      // The object is the bbolt image followed by etcd's SHA-256 trailer, which the manifest records.
      const object = await download(client, https.bucket, key);
      assert.equal(sha256(object.subarray(0, -32)), out.snapshot.sha256);
      assert.equal(object.subarray(-32).toString("hex"), out.snapshot.sha256);
    } finally {
      client.destroy();
    }
    const v = await runCli(
      ["verify", out.ref, "--s3-endpoint", https.endpoint, "--s3-ca-bundle", https.caBundle as string, "-o", "json"],
      { env: env() },
    );
    assert.equal(v.code, 0, v.stderr);
    assert.equal((JSON.parse(v.stdout) as { ok: boolean }).ok, true);
  });

  it("without the CA bundle, fails in one line that says to pass --s3-ca-bundle", async () => {
    const r = await runCli(backupArgs(https, []), { env: env() });
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^hcp-etcd-backup: cannot verify the TLS certificate of S3 endpoint https:.*--s3-ca-bundle.*\n$/,
    );
    assert.equal(r.stderr.trimEnd().split("\n").length, 1);
  });
});
