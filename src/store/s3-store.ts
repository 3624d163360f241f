import type { Readable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  type S3Client,
  type ServerSideEncryption,
} from "@aws-sdk/client-s3";
import { BodyError, uploadStream } from "./multipart.js";
import { mapS3Error } from "./s3-errors.js";
import type { PutOptions, Store, StoredObject } from "./store.js";
import { joinKey } from "./store.js";

const MAX_PARTS = 9000; // S3 allows 10,000; keep headroom for a size hint that is a little low

/**
 * Smallest part and parts in flight; memory is about (queue + 1) x part size. Over HTTPS the TLS
 * layer holds each in-flight part a second time, as ciphertext: 8 MiB x 4 took peak RSS to 224 MiB
 * for a 4 GiB snapshot, 6 MiB x 3 to 196 MiB. Over plain HTTP the larger shape is kept: it was
 * about 5% faster, at 150-174 MiB.
 */
const SHAPE = {
  tls: { minPart: 6 * 1024 * 1024, queue: 3 },
  plain: { minPart: 8 * 1024 * 1024, queue: 4 },
} as const;

export interface S3StoreOptions {
  readonly bucket: string;
  readonly prefix: string;
  readonly client: S3Client;
  /** Shown in messages and refs. */
  readonly endpoint: string;
  readonly sse?: { readonly type: "AES256" | "aws:kms"; readonly kmsKeyId?: string };
}

/** Part size that keeps an object of `size` bytes under the part limit, in whole MiB. */
export function partSizeFor(size: number | undefined, minPart: number = SHAPE.plain.minPart): number {
  if (size === undefined) return 16 * 1024 * 1024;
  const needed = Math.ceil(size / MAX_PARTS / (1024 * 1024)) * 1024 * 1024;
  return Math.max(minPart, needed);
}

/**
 * AWS S3 or any S3-compatible store. Uploads stream through multipart uploads with bounded
 * concurrency; a body that fails makes the upload abort, so no partial object is ever visible.
 */
export class S3Store implements Store {
  readonly url: string;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly client: S3Client;
  private readonly endpoint: string;
  private readonly sse: S3StoreOptions["sse"];
  private readonly shape: (typeof SHAPE)[keyof typeof SHAPE];

  constructor(options: S3StoreOptions) {
    this.bucket = options.bucket;
    this.prefix = joinKey(options.prefix);
    this.client = options.client;
    this.endpoint = options.endpoint;
    this.sse = options.sse;
    this.shape = this.endpoint.startsWith("http://") ? SHAPE.plain : SHAPE.tls;
    this.url = `s3://${this.bucket}${this.prefix ? `/${this.prefix}` : ""}`;
  }

  private key(k: string): string {
    return joinKey(this.prefix, k);
  }

  urlOf(key: string): string {
    return `s3://${this.bucket}/${this.key(key)}`;
  }

  private fail(err: unknown, what: string) {
    return mapS3Error(err, what, this.bucket, this.endpoint);
  }

  private encryption(): { ServerSideEncryption?: ServerSideEncryption; SSEKMSKeyId?: string } {
    if (!this.sse) return {};
    return this.sse.type === "aws:kms"
      ? { ServerSideEncryption: "aws:kms", ...(this.sse.kmsKeyId ? { SSEKMSKeyId: this.sse.kmsKeyId } : {}) }
      : { ServerSideEncryption: "AES256" };
  }

  async put(key: string, body: AsyncIterable<Buffer> | Buffer, options: PutOptions = {}): Promise<void> {
    const Key = this.key(key);
    if (Buffer.isBuffer(body)) {
      try {
        await this.client.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key,
            Body: body,
            ContentType: options.contentType,
            ...this.encryption(),
          }),
        );
      } catch (err) {
        throw this.fail(err, `write ${Key}`);
      }
      return;
    }
    try {
      await uploadStream({
        client: this.client,
        params: { Bucket: this.bucket, Key, ContentType: options.contentType, ...this.encryption() },
        body,
        partSize: partSizeFor(options.sizeHint, this.shape.minPart),
        queue: this.shape.queue,
        signal: options.signal,
      });
    } catch (err) {
      // The body's own failure (e.g. a failed SHA-256 check) is what the caller must see.
      if (err instanceof BodyError) throw err.original;
      throw this.fail(err, `upload ${Key}`);
    }
  }

  async check(): Promise<void> {
    try {
      await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: this.prefix ? `${this.prefix}/` : undefined,
          MaxKeys: 1,
        }),
      );
    } catch (err) {
      throw this.fail(err, "list objects");
    }
  }

  async *get(key: string): AsyncIterable<Buffer> {
    const Key = this.key(key);
    let body: Readable;
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key }));
      body = res.Body as Readable;
    } catch (err) {
      throw this.fail(err, `read ${Key}`);
    }
    yield* body as AsyncIterable<Buffer>;
  }

  async read(key: string): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const chunk of this.get(key)) parts.push(chunk);
    return Buffer.concat(parts);
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
      return true;
    } catch (err) {
      if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
      throw this.fail(err, `look up ${this.key(key)}`);
    }
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    const full = joinKey(this.prefix, prefix);
    const Prefix = full ? `${full}/` : undefined;
    let token: string | undefined;
    do {
      let res: ListObjectsV2CommandOutput;
      try {
        res = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix, ContinuationToken: token }),
        );
      } catch (err) {
        throw this.fail(err, `list ${Prefix ?? "/"}`);
      }
      for (const o of res.Contents ?? []) {
        if (!o.Key) continue;
        const rel = this.prefix ? o.Key.slice(this.prefix.length + 1) : o.Key;
        yield { key: rel, size: o.Size ?? 0, lastModified: o.LastModified ?? new Date(0) };
      }
      token = res.NextContinuationToken;
    } while (token);
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000).map((k) => ({ Key: this.key(k) }));
      try {
        const res = await this.client.send(
          new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch, Quiet: true } }),
        );
        const failed = res.Errors?.[0];
        if (failed) throw Object.assign(new Error(failed.Message ?? "delete failed"), { Code: failed.Code });
      } catch (err) {
        throw this.fail(err, `delete ${batch.length} objects`);
      }
    }
  }

  async abortIncomplete(prefix: string, olderThan: Date): Promise<number> {
    const Prefix = joinKey(this.prefix, prefix);
    let n = 0;
    let keyMarker: string | undefined;
    let uploadMarker: string | undefined;
    for (;;) {
      let res: {
        Uploads?: Array<{ Key?: string; UploadId?: string; Initiated?: Date }>;
        IsTruncated?: boolean;
        NextKeyMarker?: string;
        NextUploadIdMarker?: string;
      };
      try {
        res = await this.client.send(
          new ListMultipartUploadsCommand({
            Bucket: this.bucket,
            Prefix: Prefix || undefined,
            KeyMarker: keyMarker,
            UploadIdMarker: uploadMarker,
          }),
        );
      } catch (err) {
        throw this.fail(err, "list incomplete uploads");
      }
      for (const u of res.Uploads ?? []) {
        if (!u.Key || !u.UploadId || (u.Initiated && u.Initiated >= olderThan)) continue;
        try {
          await this.client.send(
            new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: u.Key, UploadId: u.UploadId }),
          );
          n++;
        } catch (err) {
          throw this.fail(err, `abort the incomplete upload of ${u.Key}`);
        }
      }
      if (!res.IsTruncated) return n;
      keyMarker = res.NextKeyMarker;
      uploadMarker = res.NextUploadIdMarker;
    }
  }
}
