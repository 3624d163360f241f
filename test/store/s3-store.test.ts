import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { CancelledError, StoreError, UsageError } from "../../src/errors.js";
import { openStore } from "../../src/store/open-store.js";
import type { S3Store } from "../../src/store/s3-store.js";
import { generatedBody, stallingBody } from "../support/bodies.js";
import {
  isAbortMultipartUpload,
  isCreateMultipartUpload,
  isUploadPart,
  S3FaultProxy,
} from "../support/s3-fault-proxy.js";
import { S3Server } from "../support/s3-server.js";

const MiB = 1024 * 1024;

describe("S3Store on Ceph RGW, through a fault proxy", () => {
  let s3: S3Server;
  let proxy: S3FaultProxy;

  before(async () => {
    s3 = await S3Server.start();
    proxy = await S3FaultProxy.start(s3.endpoint);
  });
  after(async () => {
    await proxy?.stop();
    await s3?.stop();
  });

  const store = (prefix: string, endpoint = proxy.endpoint) =>
    openStore(`s3://${s3.bucket}/${prefix}`, {
      endpoint,
      region: s3.region,
      maxAttempts: 2,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    }) as S3Store;

  async function keys(prefix: string): Promise<string[]> {
    const client = s3.client();
    try {
      const res = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix }));
      return (res.Contents ?? []).map((o) => o.Key ?? "");
    } finally {
      client.destroy();
    }
  }
  async function uploads(prefix: string): Promise<number> {
    const client = s3.client();
    try {
      const res = await client.send(new ListMultipartUploadsCommand({ Bucket: s3.bucket, Prefix: prefix }));
      return res.Uploads?.length ?? 0;
    } finally {
      client.destroy();
    }
  }
  const partNumber = (url: string) => Number(/[?&]partNumber=(\d+)/.exec(url)?.[1]);

  it("a part answered 200 without an ETag fails the upload in one line, aborts it, and leaves nothing", async () => {
    proxy.rule = (req) => (isUploadPart(req) && partNumber(req.url ?? "") === 2 ? "strip-etag" : "pass");
    try {
      // 20 MiB in 8 MiB parts: three parts, several in flight at once.
      await assert.rejects(store("etag").put("x.bin", generatedBody(20 * MiB).body), (err: unknown) => {
        assert.ok(err instanceof StoreError, String(err));
        assert.match(err.message, /^S3 answered part 2 of etag\/x\.bin without an ETag/);
        assert.doesNotMatch(err.message, /\n/);
        return true;
      });
    } finally {
      proxy.rule = () => "pass";
    }
    assert.ok(
      proxy.seen.some((r) => r.action === "strip-etag"),
      "the fault was injected",
    );
    assert.deepEqual(await keys("etag/"), []);
    assert.equal(await uploads("etag/"), 0, "the upload was aborted");
  });

  it("a failed AbortMultipartUpload rides along with the part's error, which stays the one reported", async () => {
    proxy.seen.length = 0;
    proxy.rule = (req) => {
      if (isUploadPart(req) && partNumber(req.url ?? "") === 2) return { status: 403, code: "AccessDenied" };
      if (isAbortMultipartUpload(req)) return { status: 405, code: "MethodNotAllowed" };
      return "pass";
    };
    let caught: unknown;
    try {
      await store("abortfail").put("x.bin", generatedBody(20 * MiB).body);
    } catch (err) {
      caught = err;
    } finally {
      proxy.rule = () => "pass";
    }
    assert.ok(caught instanceof StoreError, String(caught));
    assert.match(caught.message, /^S3 refused to upload abortfail\/x\.bin .*\(403 AccessDenied\)/);
    assert.match(caught.message, /aborting the upload failed too: .*MethodNotAllowed|aborting the upload failed too/);
    assert.doesNotMatch(caught.message, /\n/);
    assert.equal((caught.cause as { name?: string }).name, "AccessDenied", "the cause is the part's failure");
    const abortError = (caught as { abortError?: { name?: string } }).abortError;
    assert.equal(abortError?.name, "MethodNotAllowed", "the abort's own failure is attached");
    assert.ok(
      proxy.seen.some((r) => r.method === "DELETE"),
      "an abort was attempted",
    );
    assert.deepEqual(await keys("abortfail/"), []);
    // The truth: S3 still holds the upload; the cleanup path prune uses removes it.
    assert.equal(await uploads("abortfail/"), 1);
    assert.equal(await store("abortfail", s3.endpoint).abortIncomplete("", new Date(Date.now() + 60_000)), 1);
    assert.equal(await uploads("abortfail/"), 0);
  });

  it("cancelling mid-upload stops sending parts, awaits those in flight, aborts the upload, and says so", async () => {
    proxy.seen.length = 0;
    const controller = new AbortController();
    proxy.rule = (req) => {
      if (isUploadPart(req) && partNumber(req.url ?? "") === 2) controller.abort(new Error("operator pressed ^C"));
      return "pass";
    };
    try {
      await assert.rejects(
        store("cancel").put("x.bin", generatedBody(64 * MiB).body, { signal: controller.signal }),
        (err: unknown) => {
          assert.ok(err instanceof CancelledError, String(err));
          assert.equal(err.name, "CancelledError");
          assert.match(err.message, /^the upload of cancel\/x\.bin was cancelled$/);
          return true;
        },
      );
    } finally {
      proxy.rule = () => "pass";
    }
    const parts = proxy.seen
      .filter((r) => r.method === "PUT" && /partNumber=/.test(r.url))
      .map((r) => partNumber(r.url));
    assert.ok(Math.max(...parts) < 8, `stopped early: parts ${parts.join(",")} of 8`);
    const abortAt = proxy.seen.findIndex((r) => r.method === "DELETE");
    assert.ok(abortAt > 0, "AbortMultipartUpload was sent although the signal had fired");
    assert.ok(
      proxy.seen.slice(abortAt + 1).every((r) => !(r.method === "PUT" && /partNumber=/.test(r.url))),
      "no part was sent after the abort",
    );
    assert.deepEqual(await keys("cancel/"), []);
    assert.equal(await uploads("cancel/"), 0);
  });

  it("a signal that lands while CreateMultipartUpload is in flight still aborts the upload S3 created", async () => {
    proxy.seen.length = 0;
    const controller = new AbortController();
    // S3 has created the upload; the signal fires before its answer reaches us.
    proxy.onAnswer = (req) => {
      if (isCreateMultipartUpload(req)) controller.abort(new Error("SIGTERM"));
    };
    try {
      await assert.rejects(
        store("created").put("x.bin", generatedBody(20 * MiB).body, { signal: controller.signal }),
        CancelledError,
      );
    } finally {
      proxy.onAnswer = () => {};
    }
    assert.ok(
      proxy.seen.some((r) => r.method === "POST" && /uploads/.test(r.url)),
      "CreateMultipartUpload reached S3",
    );
    assert.ok(
      proxy.seen.every((r) => !(r.method === "PUT" && /partNumber=/.test(r.url))),
      "no part was sent once cancelled",
    );
    assert.equal(await uploads("created/"), 0, "the upload S3 created was aborted");
    assert.deepEqual(await keys("created/"), []);
  });

  it("cancelling while the body is stuck still returns promptly and aborts the upload", async () => {
    const controller = new AbortController();
    // 9 MiB: one 8 MiB part goes out, then the source stops sending.
    const put = store("stuck").put(
      "x.bin",
      stallingBody(9 * MiB, () => setImmediate(() => controller.abort())),
      { signal: controller.signal },
    );
    await assert.rejects(put, CancelledError);
    assert.deepEqual(await keys("stuck/"), []);
    assert.equal(await uploads("stuck/"), 0);
  });

  it("presignGet gives a URL a plain fetch can GET; a tampered one is refused", async () => {
    const direct = store("presign", s3.endpoint);
    const body = Buffer.from("presigned bytes\n");
    await direct.put("obj.txt", body);
    const url = await direct.presignGet("obj.txt", 60);
    assert.match(url, /X-Amz-Signature=[0-9a-f]{64}/);
    assert.doesNotMatch(url, /x-amz-checksum/i, "no checksum parameters RGW or AWS would enforce");
    const ok = await fetch(url);
    assert.equal(ok.status, 200);
    assert.deepEqual(Buffer.from(await ok.arrayBuffer()), body);
    const sig = /X-Amz-Signature=([0-9a-f]+)/.exec(url)?.[1] as string;
    const flipped = sig.slice(0, -1) + (sig.endsWith("0") ? "1" : "0");
    const tampered = await fetch(url.replace(sig, flipped));
    assert.equal(tampered.status, 403);
    assert.match(await tampered.text(), /SignatureDoesNotMatch/);
    const otherKey = await fetch(url.replace("obj.txt", "obj2.txt"));
    assert.equal(otherKey.status, 403, "the signature covers the key");
  });

  it("presignGet URLs stop working once they expire", async () => {
    const direct = store("presign", s3.endpoint);
    const issued = Date.now();
    const url = await direct.presignGet("obj.txt", 1);
    const first = await fetch(url);
    const firstAt = Date.now();
    await first.arrayBuffer();
    // Only meaningful if the first fetch happened while the URL was valid.
    if (firstAt - issued < 900) assert.equal(first.status, 200);
    // Poll (not a fixed sleep) until RGW refuses it; it must within a few seconds of the expiry.
    let status = first.status;
    let text = "";
    while (status === 200 && Date.now() - issued < 10_000) {
      await new Promise((r) => setTimeout(r, 250));
      const res = await fetch(url);
      status = res.status;
      text = await res.text();
    }
    assert.equal(status, 403);
    assert.match(text, /AccessDenied|Request has expired/);
  });

  it("presignGet refuses an expiry S3 would not accept", async () => {
    const direct = store("presign", s3.endpoint);
    await assert.rejects(direct.presignGet("obj.txt", 0), UsageError);
    await assert.rejects(direct.presignGet("obj.txt", 604801), UsageError);
    await assert.rejects(direct.presignGet("../obj.txt", 60), StoreError);
  });

  it("a cancelled exists/list/read rejects with CancelledError before touching S3", async () => {
    const direct = store("presign", s3.endpoint);
    const signal = AbortSignal.abort();
    await assert.rejects(direct.exists("obj.txt", { signal }), CancelledError);
    await assert.rejects(direct.read("obj.txt", { signal }), CancelledError);
    await assert.rejects(direct.check({ signal }), CancelledError);
    await assert.rejects(direct.delete(["obj.txt"], { signal }), CancelledError);
    await assert.rejects(direct.abortIncomplete("", new Date(), { signal }), CancelledError);
    await assert.rejects(
      (async () => {
        for await (const _ of direct.list("", { signal })) {
          // nothing: the first page is refused
        }
      })(),
      CancelledError,
    );
    const head = s3.client();
    try {
      await head.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: "presign/obj.txt" }));
    } finally {
      head.destroy();
    }
  });
});
