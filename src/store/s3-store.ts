import { createHash } from "node:crypto";
import type { Readable } from "node:stream";
import type {
  HeadObjectCommandOutput,
  ListObjectsV2CommandOutput,
  S3Client,
  ServerSideEncryption,
} from "@aws-sdk/client-s3";
import { CancelledError, describe, HcpError, StoreError, UsageError } from "../errors.js";
import { abortable, cancelled, throwIfCancelled } from "./cancel.js";
import { abortErrorOf, BodyError, uploadStream, type WithAbortError } from "./multipart.js";
import type { LockMode, ObjectLockRetention, ObjectLockState } from "./object-lock.js";
import { mapS3Error } from "./s3-errors.js";
import { loadS3Sdk, type S3ClientSource, type S3Sdk } from "./s3-sdk.js";
import type { OperationOptions, PutOptions, Store, StoredObject } from "./store.js";
import { checkKey, joinKey } from "./store.js";

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
  /** A client, or a function that makes one on first use (so that merely opening the store loads no SDK). */
  readonly client: S3ClientSource;
  /** Shown in messages and refs. */
  readonly endpoint: string;
  readonly sse?: { readonly type: "AES256" | "aws:kms"; readonly kmsKeyId?: string };
  /** Lock every object written (the bucket must have Object Lock enabled; `check` proves it). */
  readonly objectLock?: ObjectLockRetention;
}

export interface PresignOptions {
  /** The signature's start time (default now): the URL expires `expiresInSeconds` after it. */
  readonly signingDate?: Date;
}

export interface SigningCredentials {
  /** Session credentials (a session token): they end, and every URL signed with them ends too. */
  readonly temporary: boolean;
  /** When the credentials expire, when the provider says. */
  readonly expiration?: Date;
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
  private readonly clientSource: S3ClientSource;
  private ready: Promise<{ client: S3Client; sdk: S3Sdk }> | undefined;
  private readonly endpoint: string;
  private readonly sse: S3StoreOptions["sse"];
  private readonly shape: (typeof SHAPE)[keyof typeof SHAPE];
  readonly objectLock: ObjectLockRetention | undefined;
  /** Whether the bucket has Object Lock enabled, once asked, or why that could not be found out. */
  private lockEnabled: Promise<boolean | HcpError> | undefined;

  constructor(options: S3StoreOptions) {
    this.bucket = options.bucket;
    this.prefix = joinKey(options.prefix);
    this.clientSource = options.client;
    this.endpoint = options.endpoint;
    this.sse = options.sse;
    this.objectLock = options.objectLock;
    this.shape = this.endpoint.startsWith("http://") ? SHAPE.plain : SHAPE.tls;
    this.url = `s3://${this.bucket}${this.prefix ? `/${this.prefix}` : ""}`;
  }

  /** The client and the SDK's command classes, loaded once, on the first request. */
  private s3(): Promise<{ client: S3Client; sdk: S3Sdk }> {
    const source = this.clientSource;
    this.ready ??= Promise.all([typeof source === "function" ? source() : source, loadS3Sdk()]).then(
      ([client, sdk]) => ({ client, sdk }),
    );
    return this.ready;
  }

  private key(k: string): string {
    return joinKey(this.prefix, checkKey(k, this.url));
  }

  urlOf(key: string): string {
    return `s3://${this.bucket}/${joinKey(this.prefix, checkKey(key, this.url, "prefix"))}`;
  }

  localPath(_key: string): undefined {
    return undefined;
  }

  /**
   * A plain HTTPS (or HTTP) GET URL for one object, signed with SigV4 query parameters, valid for
   * `expiresInSeconds` (1 s to 7 days, S3's limit): lets a tool without credentials fetch a backup.
   * The URL is a bearer credential for that object until it expires: never log it.
   */
  async presignGet(key: string, expiresInSeconds: number, options: PresignOptions = {}): Promise<string> {
    if (!Number.isInteger(expiresInSeconds) || expiresInSeconds < 1 || expiresInSeconds > 604800) {
      throw new UsageError(`a presigned URL must expire in 1 to 604800 seconds (7 days), got ${expiresInSeconds}`);
    }
    const Key = this.key(key);
    try {
      const [{ client, sdk }, { getSignedUrl }] = await Promise.all([
        this.s3(),
        import("@aws-sdk/s3-request-presigner"),
      ]);
      return await getSignedUrl(client, new sdk.GetObjectCommand({ Bucket: this.bucket, Key }), {
        expiresIn: expiresInSeconds,
        ...(options.signingDate ? { signingDate: options.signingDate } : {}),
      });
    } catch (err) {
      throw this.fail(err, `presign a GET of ${Key}`);
    }
  }

  /**
   * What the presigned URLs' signing credentials are, never the credentials themselves: a URL signed
   * with temporary credentials (STS, IRSA, SSO) stops working when they expire, whatever its expiry says.
   */
  async signingCredentials(): Promise<SigningCredentials> {
    try {
      const { client } = await this.s3();
      const c = await client.config.credentials();
      return { temporary: c.sessionToken !== undefined && c.sessionToken !== "", expiration: c.expiration };
    } catch (err) {
      throw this.fail(err, "resolve the S3 credentials");
    }
  }

  /** Our own errors pass through; a cancelled request becomes a CancelledError; the rest are mapped to one line. */
  private fail(err: unknown, what: string, signal?: AbortSignal): HcpError {
    if (err instanceof HcpError) return err;
    if (signal?.aborted) return cancelled(what, signal, err);
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
    throwIfCancelled(options.signal, `write ${Key}`);
    const lock = options.retention ?? this.objectLock;
    const { client, sdk } = await this.s3();
    if (Buffer.isBuffer(body)) {
      let versionId: string | undefined;
      try {
        const res = await client.send(
          new sdk.PutObjectCommand({
            Bucket: this.bucket,
            Key,
            Body: body,
            ContentType: options.contentType,
            ...this.encryption(),
            ...lockHeaders(lock, body),
          }),
          { abortSignal: options.signal },
        );
        versionId = res.VersionId;
      } catch (err) {
        throw this.fail(err, `write ${Key}`, options.signal);
      }
      await this.ensureLocked(lock, Key, versionId, options.signal);
      return;
    }
    let versionId: string | undefined;
    try {
      ({ versionId } = await uploadStream({
        client,
        params: { Bucket: this.bucket, Key, ContentType: options.contentType, ...this.encryption() },
        body,
        partSize: partSizeFor(options.sizeHint, this.shape.minPart),
        queue: this.shape.queue,
        signal: options.signal,
      }));
    } catch (err) {
      const abortError = abortErrorOf(err);
      // The body's own failure (e.g. a failed SHA-256 check) is what the caller must see.
      const primary = err instanceof BodyError ? err.original : this.fail(err, `upload ${Key}`, options.signal);
      if (abortError === undefined) throw primary;
      if (primary instanceof StoreError) {
        throw withAbortError(
          new StoreError(
            `${primary.message} (aborting the upload failed too: ${describe(abortError).split("\n")[0]}; prune removes it later)`,
            { cause: primary.cause },
          ),
          abortError,
        );
      }
      throw withAbortError(primary, abortError);
    }
    // Streamed objects get their retention once complete: RGW 16 ignores Object Lock headers on multipart uploads.
    await this.ensureLocked(lock, Key, versionId, options.signal);
  }

  /**
   * Proves the version just written carries the run's retention, setting it when the server did not
   * (PutObjectRetention on that version): a backup is never called locked on the strength of a header.
   */
  private async ensureLocked(
    lock: ObjectLockRetention | undefined,
    Key: string,
    versionId: string | undefined,
    signal?: AbortSignal,
  ): Promise<void> {
    if (!lock) return;
    if (!versionId)
      throw new StoreError(
        `S3 stored ${Key} in bucket "${this.bucket}" without a version id, so it cannot be locked: is Object Lock (and so versioning) enabled?`,
      );
    // At least what was asked: a bucket's default compliance retention is stronger than a governance request.
    const holds = (h: HeadObjectCommandOutput) =>
      (h.ObjectLockMode === s3Mode(lock.mode) || h.ObjectLockMode === "COMPLIANCE") &&
      h.ObjectLockRetainUntilDate !== undefined &&
      h.ObjectLockRetainUntilDate.getTime() >= lock.retainUntil.getTime() - 1000;
    const { client, sdk } = await this.s3();
    const head = () =>
      client.send(new sdk.HeadObjectCommand({ Bucket: this.bucket, Key, VersionId: versionId }), {
        abortSignal: signal,
      });
    try {
      if (holds(await head())) return;
      await client.send(
        new sdk.PutObjectRetentionCommand({
          Bucket: this.bucket,
          Key,
          VersionId: versionId,
          Retention: { Mode: s3Mode(lock.mode), RetainUntilDate: lock.retainUntil },
        }),
        { abortSignal: signal },
      );
      if (holds(await head())) return;
    } catch (err) {
      throw this.fail(err, `lock ${Key} (version ${versionId})`, signal);
    }
    throw new StoreError(
      `S3 accepted the Object Lock retention of ${Key} in bucket "${this.bucket}" but does not report it on the object: the backup is not immutable`,
    );
  }

  /**
   * Whether the bucket has Object Lock enabled (asked once), or the error that kept us from knowing
   * (a policy without s3:GetBucketObjectLockConfiguration, a store without the API).
   */
  private bucketLocks(signal?: AbortSignal): Promise<boolean | HcpError> {
    this.lockEnabled ??= this.s3()
      .then(({ client, sdk }) =>
        client.send(new sdk.GetObjectLockConfigurationCommand({ Bucket: this.bucket }), { abortSignal: signal }),
      )
      .then(
        (res) => res.ObjectLockConfiguration?.ObjectLockEnabled === "Enabled",
        (err: unknown) => {
          if ((err as { name?: string }).name === "ObjectLockConfigurationNotFoundError") return false;
          const failure = this.fail(err, "read the bucket's Object Lock configuration", signal);
          if (signal?.aborted) this.lockEnabled = undefined;
          return failure;
        },
      );
    return this.lockEnabled;
  }

  async lockOf(key: string, options: OperationOptions = {}): Promise<ObjectLockState | undefined> {
    const enabled = await this.bucketLocks(options.signal);
    if (enabled instanceof CancelledError) throw enabled;
    // When the configuration cannot be read, each object is asked (HEAD shows a lock where permitted).
    if (enabled === false) return undefined;
    const Key = this.key(key);
    let head: HeadObjectCommandOutput;
    const { client, sdk } = await this.s3();
    try {
      head = await client.send(new sdk.HeadObjectCommand({ Bucket: this.bucket, Key }), {
        abortSignal: options.signal,
      });
    } catch (err) {
      // Gone meanwhile (another prune): nothing left to protect.
      if (
        !options.signal?.aborted &&
        (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404
      )
        return undefined;
      throw this.fail(err, `look up the lock of ${Key}`, options.signal);
    }
    const legalHold = head.ObjectLockLegalHoldStatus === "ON";
    if (!head.ObjectLockMode && !legalHold) return undefined;
    return {
      ...(head.ObjectLockMode ? { mode: head.ObjectLockMode.toLowerCase() as LockMode } : {}),
      ...(head.ObjectLockRetainUntilDate ? { retainUntil: head.ObjectLockRetainUntilDate } : {}),
      legalHold,
    };
  }

  async check(options: OperationOptions = {}): Promise<void> {
    const { client, sdk } = await this.s3();
    try {
      await client.send(
        new sdk.ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: this.prefix ? `${this.prefix}/` : undefined,
          MaxKeys: 1,
        }),
        { abortSignal: options.signal },
      );
    } catch (err) {
      throw this.fail(err, "list objects", options.signal);
    }
    const locks = this.objectLock ? await this.bucketLocks(options.signal) : true;
    if (locks instanceof CancelledError) throw locks;
    if (locks instanceof HcpError) {
      throw new StoreError(`--object-lock needs the bucket's Object Lock configuration: ${locks.message}`, {
        cause: locks,
      });
    }
    if (!locks) {
      throw new UsageError(
        `--object-lock: bucket "${this.bucket}" at ${this.endpoint} does not have S3 Object Lock enabled, so nothing was uploaded; create the bucket with it (aws s3api create-bucket --object-lock-enabled-for-bucket) or enable it on the versioned bucket (aws s3api put-object-lock-configuration --bucket ${this.bucket} --object-lock-configuration ObjectLockEnabled=Enabled)`,
      );
    }
  }

  async *get(key: string, options: OperationOptions = {}): AsyncIterable<Buffer> {
    const Key = this.key(key);
    const { client, sdk } = await this.s3();
    let body: Readable;
    try {
      const res = await client.send(new sdk.GetObjectCommand({ Bucket: this.bucket, Key }), {
        abortSignal: options.signal,
      });
      body = res.Body as Readable;
    } catch (err) {
      throw this.fail(err, `read ${Key}`, options.signal);
    }
    try {
      yield* abortable(body as AsyncIterable<Buffer>, options.signal, `reading ${Key}`);
    } catch (err) {
      throw this.fail(err, `read ${Key}`, options.signal);
    } finally {
      // A reader that stops early (or is cancelled) must not leave the response socket half-read.
      body.destroy();
    }
  }

  async read(key: string, options: OperationOptions = {}): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const chunk of this.get(key, options)) parts.push(chunk);
    return Buffer.concat(parts);
  }

  async exists(key: string, options: OperationOptions = {}): Promise<boolean> {
    const Key = this.key(key);
    const { client, sdk } = await this.s3();
    try {
      await client.send(new sdk.HeadObjectCommand({ Bucket: this.bucket, Key }), { abortSignal: options.signal });
      return true;
    } catch (err) {
      if (
        !options.signal?.aborted &&
        (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404
      )
        return false;
      throw this.fail(err, `look up ${Key}`, options.signal);
    }
  }

  async *list(prefix: string, options: OperationOptions = {}): AsyncIterable<StoredObject> {
    const full = joinKey(this.prefix, checkKey(prefix, this.url, "prefix"));
    const Prefix = full ? `${full}/` : undefined;
    const { client, sdk } = await this.s3();
    let token: string | undefined;
    do {
      let res: ListObjectsV2CommandOutput;
      try {
        res = await client.send(
          new sdk.ListObjectsV2Command({ Bucket: this.bucket, Prefix, ContinuationToken: token }),
          { abortSignal: options.signal },
        );
      } catch (err) {
        throw this.fail(err, `list ${Prefix ?? "/"}`, options.signal);
      }
      for (const o of res.Contents ?? []) {
        if (!o.Key) continue;
        const rel = this.prefix ? o.Key.slice(this.prefix.length + 1) : o.Key;
        yield { key: rel, size: o.Size ?? 0, lastModified: o.LastModified ?? new Date(0) };
      }
      token = res.NextContinuationToken;
    } while (token);
  }

  async delete(keys: readonly string[], options: OperationOptions = {}): Promise<void> {
    const { client, sdk } = await this.s3();
    const all = keys.map((k) => ({ Key: this.key(k) }));
    for (let i = 0; i < all.length; i += 1000) {
      const batch = all.slice(i, i + 1000);
      try {
        const res = await client.send(
          new sdk.DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch, Quiet: true } }),
          { abortSignal: options.signal },
        );
        const failed = res.Errors?.[0];
        if (failed) throw Object.assign(new Error(failed.Message ?? "delete failed"), { Code: failed.Code });
      } catch (err) {
        throw this.fail(err, `delete ${batch.length} objects`, options.signal);
      }
    }
  }

  async abortIncomplete(prefix: string, olderThan: Date, options: OperationOptions = {}): Promise<number> {
    const Prefix = joinKey(this.prefix, checkKey(prefix, this.url, "prefix"));
    const { client, sdk } = await this.s3();
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
        res = await client.send(
          new sdk.ListMultipartUploadsCommand({
            Bucket: this.bucket,
            Prefix: Prefix || undefined,
            KeyMarker: keyMarker,
            UploadIdMarker: uploadMarker,
          }),
          { abortSignal: options.signal },
        );
      } catch (err) {
        throw this.fail(err, "list incomplete uploads", options.signal);
      }
      for (const u of res.Uploads ?? []) {
        if (!u.Key || !u.UploadId || (u.Initiated && u.Initiated >= olderThan)) continue;
        try {
          await client.send(
            new sdk.AbortMultipartUploadCommand({ Bucket: this.bucket, Key: u.Key, UploadId: u.UploadId }),
            { abortSignal: options.signal },
          );
          n++;
        } catch (err) {
          throw this.fail(err, `abort the incomplete upload of ${u.Key}`, options.signal);
        }
      }
      if (!res.IsTruncated) return n;
      keyMarker = res.NextKeyMarker;
      uploadMarker = res.NextUploadIdMarker;
    }
  }
}

/**
 * Object Lock headers for a single PUT, created locked. AWS demands a Content-MD5 (or checksum) on
 * such a PUT; the body is small (a manifest, a key), so the MD5 costs nothing.
 */
function lockHeaders(lock: ObjectLockRetention | undefined, body: Buffer) {
  if (!lock) return {};
  return {
    ObjectLockMode: s3Mode(lock.mode),
    ObjectLockRetainUntilDate: lock.retainUntil,
    ContentMD5: createHash("md5").update(body).digest("base64"),
  };
}

const s3Mode = (mode: LockMode): "GOVERNANCE" | "COMPLIANCE" => (mode === "governance" ? "GOVERNANCE" : "COMPLIANCE");

function withAbortError<E>(err: E, abortError: unknown): E {
  if (typeof err === "object" && err !== null) (err as WithAbortError).abortError = abortError;
  return err;
}
