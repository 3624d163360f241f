/**
 * One storage interface for backups, with one implementation per provider (local directory, S3).
 * Keys are '/'-separated paths relative to the store's root (its URL's prefix).
 */
export interface StoredObject {
  readonly key: string;
  readonly size: number;
  readonly lastModified: Date;
}

export interface PutOptions {
  /** Expected size, when known: lets S3 choose a part size that stays under 10,000 parts. */
  readonly sizeHint?: number;
  readonly contentType?: string;
  readonly signal?: AbortSignal;
}

export interface Store {
  /** The store's URL, for messages and backup refs (never carries credentials). */
  readonly url: string;
  /**
   * Writes `body` to `key` so that the object appears whole or not at all: if the body throws,
   * the partial object (temp file, multipart upload) is removed and the error re-thrown.
   */
  put(key: string, body: AsyncIterable<Buffer> | Buffer, options?: PutOptions): Promise<void>;
  /** Reads an object as a stream of chunks; rejects with a clear error when missing. */
  get(key: string): AsyncIterable<Buffer>;
  /** The whole object, for small ones (manifests). */
  read(key: string): Promise<Buffer>;
  exists(key: string): Promise<boolean>;
  /** Every object under `prefix`, recursively. */
  list(prefix: string): AsyncIterable<StoredObject>;
  delete(keys: readonly string[]): Promise<void>;
  /** Aborts multipart uploads (or removes temp files) under `prefix` started before `olderThan`; returns how many. */
  abortIncomplete(prefix: string, olderThan: Date): Promise<number>;
  /** Fails fast, with a clear error, when the store cannot be written (missing bucket, bad credentials). */
  check(): Promise<void>;
  /** URL of a key (or folder) in this store, as users pass it back. */
  urlOf(key: string): string;
}

/** Joins key parts with single slashes. */
export function joinKey(...parts: string[]): string {
  return parts
    .flatMap((p) => p.split("/"))
    .filter((p) => p !== "")
    .join("/");
}
