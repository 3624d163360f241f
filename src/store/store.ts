import { StoreError } from "../errors.js";
import type { ObjectLockRetention, ObjectLockState } from "./object-lock.js";

/**
 * One storage interface for backups, with one implementation per provider (local directory, S3).
 * Keys are '/'-separated paths relative to the store's root (its URL's prefix).
 */
export interface StoredObject {
  readonly key: string;
  readonly size: number;
  readonly lastModified: Date;
}

/**
 * Every operation can be cancelled: when `signal` fires, requests in flight are aborted, whatever the
 * operation started (a `.part` file, a multipart upload) is removed, and it rejects with a CancelledError.
 */
export interface OperationOptions {
  readonly signal?: AbortSignal;
}

export interface PutOptions extends OperationOptions {
  /** Expected size, when known: lets S3 choose a part size that stays under 10,000 parts. */
  readonly sizeHint?: number;
  readonly contentType?: string;
  /** S3 Object Lock retention for this object, instead of the store's own; stores that cannot lock refuse it. */
  readonly retention?: ObjectLockRetention;
  /**
   * The key is this writer's own object, rewritten in place (a segment record's coverage): a local
   * store writes it under a temp name of its own, so one left by a rewrite killed earlier is not in the
   * way (an exclusive `<key>.part` would refuse every later rewrite). S3 overwrites anyway.
   */
  readonly replace?: boolean;
}

export interface Store {
  /** The store's URL (S3) or absolute path (local), for messages and backup refs (never carries credentials). */
  readonly url: string;
  /** S3 Object Lock retention that every object this store writes gets (`backup --object-lock`); S3 only. */
  readonly objectLock?: ObjectLockRetention;
  /**
   * Writes `body` to `key` so that the object appears whole or not at all: if the body throws,
   * the partial object (temp file, multipart upload) is removed and the error re-thrown.
   */
  put(key: string, body: AsyncIterable<Buffer> | Buffer, options?: PutOptions): Promise<void>;
  /** Reads an object as a stream of chunks; rejects with a clear error when missing. */
  get(key: string, options?: OperationOptions): AsyncIterable<Buffer>;
  /** The whole object, for small ones (manifests). */
  read(key: string, options?: OperationOptions): Promise<Buffer>;
  exists(key: string, options?: OperationOptions): Promise<boolean>;
  /** Every object under `prefix`, recursively. */
  list(prefix: string, options?: OperationOptions): AsyncIterable<StoredObject>;
  delete(keys: readonly string[], options?: OperationOptions): Promise<void>;
  /**
   * The lock on the object's current version (S3 Object Lock retention or legal hold), undefined when
   * it has none: such a version cannot be deleted before its date, whatever prune decides.
   */
  lockOf(key: string, options?: OperationOptions): Promise<ObjectLockState | undefined>;
  /** Aborts multipart uploads (or removes temp files) under `prefix` started before `olderThan`; returns how many. */
  abortIncomplete(prefix: string, olderThan: Date, options?: OperationOptions): Promise<number>;
  /** Fails fast, with a clear error, when the store cannot be written (missing bucket, bad credentials). */
  check(options?: OperationOptions): Promise<void>;
  /** URL of a key (or folder) in this store, as users pass it back. */
  urlOf(key: string): string;
  /**
   * A filesystem path holding the key's bytes, when the store has one (local stores), so callers that
   * need random access read in place; undefined when the bytes are remote and must be staged.
   */
  localPath(key: string): string | undefined;
}

/** Joins key parts with single slashes. */
export function joinKey(...parts: string[]): string {
  return parts
    .flatMap((p) => p.split("/"))
    .filter((p) => p !== "")
    .join("/");
}

/**
 * The same key rules for every store, so a key that works on a local disk also works in S3 and back:
 * no empty key, no '.' or '..' parts (which would escape the root of a local store and mean
 * something else entirely in S3), no NUL. A prefix may be empty (the whole store).
 */
export function checkKey(key: string, store: string, kind: "key" | "prefix" = "key"): string {
  const parts = key.split("/").filter((p) => p !== "");
  if (kind === "key" && parts.length === 0) throw new StoreError(`empty key given to the store ${store}`);
  if (parts.some((p) => p === "." || p === "..") || key.includes("\0")) {
    throw new StoreError(
      `invalid ${kind} "${key.replace(/\0/g, "\\0")}" for the store ${store}: '.', '..' and NUL are not allowed in keys`,
    );
  }
  return parts.join("/");
}
