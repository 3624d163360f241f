import { createHash } from "node:crypto";
import { OperationError, VerificationError } from "../errors.js";
import { SnapshotFileError } from "../snapshot/errors.js";
import type { SnapshotStatus } from "../snapshot/status.js";
import { StreamingStatus } from "../snapshot/stream-status.js";

const TRAILER = 32;

/** What the bytes of a snapshot proved while they streamed past: etcd's trailer and the byte count. */
export interface ProvenBytes {
  /** Bytes of the object: the bbolt image plus etcd's 32-byte SHA-256 trailer (restore-ready). */
  readonly objectSize: number;
  /** Bytes of the bbolt image. */
  readonly dbSize: number;
  /** SHA-256 (hex) of the bbolt image; equal to the trailer, or the stream failed. */
  readonly sha256: string;
}

/** The proven bytes and their status (hash, revision, keys), computed on the way. */
export interface VerifiedSnapshot extends ProvenBytes {
  readonly status: SnapshotStatus;
  readonly pageSize: number;
}

export interface StreamChunk {
  readonly blob: Buffer;
  readonly remaining: number;
}

export interface VerifierOptions<T> {
  readonly onProgress?: (bytes: number, total: number) => void;
  /**
   * Called once every check passed, before the generator ends: the consumer has not yet committed
   * (completed the upload, renamed the file). For a quiesced hosted cluster this is the moment
   * the writers may come back: the snapshot's bytes are all here and proven.
   */
  readonly onVerified?: (snapshot: T) => void;
}

/** What both verifiers share: the result once the stream ended, told to `onVerified` too. */
abstract class StreamVerifier<T> {
  private value: T | undefined;
  protected readonly onProgress: VerifierOptions<T>["onProgress"];
  private readonly onVerified: VerifierOptions<T>["onVerified"];

  constructor(options: VerifierOptions<T> = {}) {
    this.onProgress = options.onProgress;
    this.onVerified = options.onVerified;
  }

  get result(): T {
    if (this.value === undefined) throw new Error(`${this.constructor.name}: stream not finished`);
    return this.value;
  }

  protected verified(value: T): void {
    this.value = value;
    this.onVerified?.(value);
  }
}

/**
 * Passes a snapshot's bytes through unchanged while proving them: the SHA-256 of the image is
 * compared with etcd's trailer and the byte count with what the server announced. The generator
 * throws instead of ending when a check fails, so a consumer that commits on end-of-stream (a
 * multipart upload, a rename) never commits bad bytes. `result` is set once the generator has ended
 * normally. For bytes whose structure is walked from disk afterwards (which computes the status):
 * nothing here grows with the database.
 */
export class TrailerVerifier extends StreamVerifier<ProvenBytes> {
  async *pipe(source: AsyncIterable<StreamChunk | Buffer>, origin: string): AsyncGenerator<Buffer> {
    this.verified(yield* proveTrailer(source, origin, undefined, this.onProgress));
  }
}

/** The trailer's and the byte count's proof, and the status computed from the same bytes as they pass. */
export class SnapshotVerifier extends StreamVerifier<VerifiedSnapshot> {
  async *pipe(source: AsyncIterable<StreamChunk | Buffer>, origin: string): AsyncGenerator<Buffer> {
    const status = new StreamingStatus();
    const feed = (data: Buffer) => {
      try {
        status.update(data);
      } catch (err) {
        throw unsound(err, origin);
      }
    };
    const proven = yield* proveTrailer(source, origin, feed, this.onProgress);
    let computed: SnapshotStatus;
    try {
      computed = status.finish();
    } catch (err) {
      throw unsound(err, origin);
    }
    if (computed.totalSize !== proven.dbSize) {
      throw new VerificationError(
        `snapshot from ${origin} is ${proven.dbSize} bytes, but its meta page says ${computed.totalSize}`,
      );
    }
    this.verified({ ...proven, status: computed, pageSize: status.pageSizeBytes });
  }
}

async function* proveTrailer(
  source: AsyncIterable<StreamChunk | Buffer>,
  origin: string,
  feed: ((image: Buffer) => void) | undefined,
  onProgress: ((bytes: number, total: number) => void) | undefined,
): AsyncGenerator<Buffer, ProvenBytes> {
  const hash = createHash("sha256");
  let tail = Buffer.alloc(0);
  let total = 0;
  let announced: number | undefined;
  for await (const item of source) {
    const chunk = Buffer.isBuffer(item) ? item : item.blob;
    if (!Buffer.isBuffer(item) && announced === undefined) announced = item.remaining + chunk.length;
    if (chunk.length === 0) continue;
    total += chunk.length;
    // Hold back the last 32 bytes seen: they may be the trailer, which is not part of the image.
    // Pieces are fed separately rather than concatenated: no copy of every chunk.
    const pieces: Buffer[] = [];
    if (chunk.length >= TRAILER) {
      if (tail.length > 0) pieces.push(tail);
      pieces.push(chunk.subarray(0, chunk.length - TRAILER));
      tail = Buffer.from(chunk.subarray(chunk.length - TRAILER));
    } else {
      const both = Buffer.concat([tail, chunk]);
      pieces.push(both.subarray(0, Math.max(0, both.length - TRAILER)));
      tail = both.subarray(both.length - Math.min(TRAILER, both.length));
    }
    for (const data of pieces) {
      if (data.length === 0) continue;
      hash.update(data);
      feed?.(data);
    }
    onProgress?.(total, announced === undefined ? 0 : announced + TRAILER);
    yield chunk;
  }
  const dbSize = total - TRAILER;
  if (tail.length < TRAILER || dbSize <= 0) {
    throw new VerificationError(`snapshot from ${origin} ended after ${total} bytes, before its SHA-256 trailer`);
  }
  if (announced !== undefined && dbSize !== announced) {
    throw new VerificationError(
      `snapshot from ${origin} is ${dbSize} bytes, but the server announced ${announced}: stream cut short`,
    );
  }
  const actual = hash.digest("hex");
  const expected = tail.toString("hex");
  if (actual !== expected) {
    throw new VerificationError(
      `snapshot from ${origin} failed its SHA-256 check: trailer ${expected}, bytes hash to ${actual}`,
    );
  }
  return { objectSize: total, dbSize, sha256: actual };
}

function unsound(err: unknown, origin: string): Error {
  if (err instanceof SnapshotFileError)
    return new VerificationError(`snapshot from ${origin} is not a sound etcd database: ${err.message}`);
  return new OperationError(`snapshot from ${origin}: ${String(err)}`);
}
