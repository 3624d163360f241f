import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { uploadStream } from "../../src/store/multipart.js";
import { S3Server } from "../support/s3-server.js";

describe("S3Server (Ceph RGW on loopback)", () => {
  let s3: S3Server;
  const key = "probe/object.bin";
  const body = randomBytes(64 * 1024);

  before(async () => {
    s3 = await S3Server.start();
    const client = s3.client();
    try {
      await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: body }));
    } finally {
      client.destroy();
    }
  });
  after(async () => {
    await s3?.stop();
  });

  async function presign(options: { secret?: string; expiresIn?: number; signingDate?: Date } = {}): Promise<string> {
    const client = s3.client(options.secret ? { secretAccessKey: options.secret } : {});
    try {
      return await getSignedUrl(client, new GetObjectCommand({ Bucket: s3.bucket, Key: key }), {
        expiresIn: options.expiresIn ?? 300,
        ...(options.signingDate ? { signingDate: options.signingDate } : {}),
      });
    } finally {
      client.destroy();
    }
  }

  async function fetchCode(url: string): Promise<{ status: number; code: string; bytes: Buffer }> {
    const res = await fetch(url);
    const bytes = Buffer.from(await res.arrayBuffer());
    const code = /<Code>([^<]+)<\/Code>/.exec(bytes.toString("latin1"))?.[1] ?? "";
    return { status: res.status, code, bytes };
  }

  it("serves a valid presigned URL over plain HTTP", async () => {
    const res = await fetchCode(await presign());
    assert.equal(res.status, 200);
    assert.ok(res.bytes.equals(body));
  });

  it("refuses a presigned URL with a tampered signature", async () => {
    const url = new URL(await presign());
    const sig = url.searchParams.get("X-Amz-Signature") ?? "";
    assert.equal(sig.length, 64);
    const flipped = sig.slice(0, 10) + (sig[10] === "0" ? "1" : "0") + sig.slice(11);
    url.searchParams.set("X-Amz-Signature", flipped);
    const res = await fetchCode(url.toString());
    assert.equal(res.status, 403);
    assert.equal(res.code, "SignatureDoesNotMatch");
  });

  it("refuses a presigned URL whose other key was swapped in", async () => {
    const url = new URL(await presign());
    url.pathname = url.pathname.replace("object.bin", "other.bin");
    const res = await fetchCode(url.toString());
    assert.equal(res.status, 403);
  });

  it("refuses an expired presigned URL", async () => {
    // Signed ten minutes ago, valid for one minute: expired without waiting.
    const url = await presign({ expiresIn: 60, signingDate: new Date(Date.now() - 10 * 60_000) });
    const res = await fetchCode(url);
    assert.equal(res.status, 403);
    assert.equal(res.code, "AccessDenied");
  });

  it("refuses a presigned URL made with a wrong secret", async () => {
    const res = await fetchCode(await presign({ secret: "not-the-secret" }));
    assert.equal(res.status, 403);
    assert.equal(res.code, "SignatureDoesNotMatch");
  });

  it("refuses anonymous requests", async () => {
    const get = await fetchCode(`${s3.endpoint}/${s3.bucket}/${key}`);
    assert.equal(get.status, 403);
    const list = await fetchCode(`${s3.endpoint}/${s3.bucket}?list-type=2`);
    assert.equal(list.status, 403);
  });

  it("refuses a header-signed request with a wrong secret, through the SDK", async () => {
    const bad = s3.client({ secretAccessKey: "wrong-secret" });
    try {
      await assert.rejects(bad.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key })), (err: unknown) => {
        const e = err as { $metadata?: { httpStatusCode?: number } };
        assert.equal(e.$metadata?.httpStatusCode, 403);
        return true;
      });
      await assert.rejects(bad.send(new ListObjectsV2Command({ Bucket: s3.bucket })), /SignatureDoesNotMatch/);
    } finally {
      bad.destroy();
    }
  });

  it("refuses an unknown access key", async () => {
    const bad = s3.client({ accessKeyId: "AKNOBODY" });
    try {
      await assert.rejects(bad.send(new ListObjectsV2Command({ Bucket: s3.bucket })), /InvalidAccessKeyId/);
    } finally {
      bad.destroy();
    }
  });

  it("stores a streamed multipart upload made with the product's client and uploader byte for byte", async () => {
    const size = 23 * 1024 * 1024 + 12345; // five parts of 5 MiB, the last one short
    const data = randomBytes(size);
    const client = s3.client();
    try {
      // A Readable of unknown length, like an etcd snapshot stream.
      const source = Readable.from(
        (function* () {
          for (let off = 0; off < size; off += 256 * 1024) yield data.subarray(off, Math.min(size, off + 256 * 1024));
        })(),
      );
      await uploadStream({
        client,
        params: { Bucket: s3.bucket, Key: "probe/stream.bin" },
        body: source,
        partSize: 5 * 1024 * 1024,
        queue: 4,
      });
      const head = await client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: "probe/stream.bin" }));
      assert.match(head.ETag ?? "", /-5"?$/, `multipart ETag names five parts: ${head.ETag}`);
      const got = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: "probe/stream.bin" }));
      assert.equal(got.ContentLength, size);
      const hash = createHash("sha256");
      for await (const chunk of got.Body as Readable) hash.update(chunk as Buffer);
      assert.equal(hash.digest("hex"), createHash("sha256").update(data).digest("hex"));
    } finally {
      client.destroy();
    }
  });

  it("stores a body smaller than one part with a single PutObject, no multipart upload", async () => {
    const client = s3.client();
    try {
      const data = randomBytes(3000);
      await uploadStream({
        client,
        params: { Bucket: s3.bucket, Key: "probe/small.bin" },
        body: (async function* () {
          yield data.subarray(0, 1000);
          yield data.subarray(1000);
        })(),
        partSize: 5 * 1024 * 1024,
        queue: 4,
      });
      const head = await client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: "probe/small.bin" }));
      assert.equal(head.ContentLength, 3000);
      assert.doesNotMatch(head.ETag ?? "", /-\d+"?$/, "not a multipart ETag");
      const got = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: "probe/small.bin" }));
      assert.ok(
        Buffer.from(await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray()).equals(
          data,
        ),
      );
    } finally {
      client.destroy();
    }
  });
});
